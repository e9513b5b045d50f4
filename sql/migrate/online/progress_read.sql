-- Where the newest online migration stands (src/state.rs, OnlineProgress).
SELECT migration_id, done, current, last_key, max_key, batches, rows
  FROM profochat_saas.online_progress
 ORDER BY migration_id DESC LIMIT 1
