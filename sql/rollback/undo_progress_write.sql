-- `migrate --abort` online: records where the abort stands (undo_progress.sql), in the
-- transaction of the work it records.
INSERT INTO profochat_saas.undo_progress (migration_id, step, next_key, end_key, log_snapshot, batches, rows, counts)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (migration_id) DO UPDATE
   SET step = EXCLUDED.step, next_key = EXCLUDED.next_key, end_key = EXCLUDED.end_key,
       log_snapshot = EXCLUDED.log_snapshot, batches = EXCLUDED.batches, rows = EXCLUDED.rows, counts = EXCLUDED.counts
