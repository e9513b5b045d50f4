-- Phase 4 with --orphans detach: a foreign key from conversation to run left NOT
-- VALID by an earlier run with --orphans keep is validated now (the orphans are
-- detached). Reads pg_constraint.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'conversation_run_id_fkey' AND NOT convalidated) THEN
        ALTER TABLE conversation VALIDATE CONSTRAINT conversation_run_id_fkey;
    END IF;
END $$
