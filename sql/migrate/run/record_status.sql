-- Sets the status of migration $1 to $2 ('completed', or 'indexes_pending' while the
-- secondary indexes are still to be built after the commit). Validation reads it.
UPDATE profochat_saas.migration SET status = $2 WHERE migration_id = $1
