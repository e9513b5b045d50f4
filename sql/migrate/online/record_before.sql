-- Online expand: the fingerprint of the legacy tables before the migration changes any
-- of their values ($2, jsonb), for the no-loss proof at the switch.
UPDATE profochat_saas.migration SET fingerprint_before = $2 WHERE migration_id = $1
