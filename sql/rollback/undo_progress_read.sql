-- `migrate --abort` online: where the abort of migration $1 stands (undo_progress.sql).
SELECT step, next_key, end_key, log_snapshot, batches, rows, counts
  FROM profochat_saas.undo_progress WHERE migration_id = $1
