-- Records where online migration $1 stands, inside the transaction of the work it
-- records: $2 the last step done, $3 the step under way, $4 the last key whose batch
-- committed, $5 the key the backfill goes up to, $6 batches and $7 keys done.
INSERT INTO profochat_saas.online_progress (migration_id, done, current, last_key, max_key, batches, rows, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, now())
ON CONFLICT (migration_id) DO UPDATE
   SET done = EXCLUDED.done, current = EXCLUDED.current, last_key = EXCLUDED.last_key,
       max_key = EXCLUDED.max_key, batches = EXCLUDED.batches, rows = EXCLUDED.rows, updated_at = now()
