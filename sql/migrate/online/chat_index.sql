-- Online step "chat index": a temporary index on run (chat_id), built concurrently
-- (writes go on). The legacy schema has none, so the legacy bot's course end
-- (UPDATE run … WHERE chat_id = $1 AND botname = $2 AND course_id = $3), its reads of a
-- chat's runs and the compatibility layer's lookups of a chat's runs would each read
-- the whole table while the backfill competes for the same disks and cores. Not part
-- of the target schema: the switch drops it (chat_index_drop.sql), and so do
-- `migrate --abort`, `rollback` and `finish` when it is left.
-- One statement: CREATE INDEX CONCURRENTLY cannot run inside a transaction.
CREATE INDEX CONCURRENTLY IF NOT EXISTS profochat_saas_run_chat ON run USING btree (chat_id)
