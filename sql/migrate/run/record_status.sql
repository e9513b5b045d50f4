-- Sets the status of migration $1 to $2 (a MigrationStatus: completed, indexes
-- pending while the secondary indexes are still to be built after the commit,
-- finished). Validation reads it.
UPDATE profochat_saas.migration SET status = $2 WHERE migration_id = $1
