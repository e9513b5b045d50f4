-- Online expand: the fingerprint of the legacy tables before the migration changes any
-- of their values ($2, jsonb), and the snapshot it was taken in ($3, pg_snapshot as
-- text): the no-loss proof at the switch leaves out the rows written after it.
UPDATE profochat_saas.migration
   SET fingerprint_before = $2,
       summary = coalesce(summary, '{}'::jsonb) || jsonb_build_object('before_snapshot', $3::text)
 WHERE migration_id = $1
