-- After the commit, once every secondary index is built: migration $1 is completed.
UPDATE profochat_saas.migration SET status = 'completed', finished_at = clock_timestamp() WHERE migration_id = $1
