-- Phase 4: whether conversation's foreign key to run exists already (an earlier,
-- partial migration). Reads pg_constraint.
SELECT count(*) FROM pg_constraint WHERE conrelid = 'conversation'::regclass AND conname = 'conversation_run_id_fkey'
