-- After the commit, once every secondary index is built: migration $1 is completed
-- ($2, MigrationStatus::Completed).
UPDATE profochat_saas.migration SET status = $2, finished_at = clock_timestamp() WHERE migration_id = $1
