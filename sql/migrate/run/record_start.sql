-- Preflight: records this migration in profochat_saas.migration (status $5, running,
-- the options without secrets, the fingerprint of the legacy tables before) and
-- hands its id to the phases through the temporary table mig_params (made by the
-- analysis). Inside the migration transaction: a rollback leaves no record.
-- $1 schema version, $2 tool version, $3 options (jsonb), $4 fingerprint before (jsonb),
-- $5 the status (MigrationStatus::Running).
-- reads: mig_params
WITH m AS (
    INSERT INTO profochat_saas.migration (schema_version, tool_version, options, status, fingerprint_before)
    VALUES ($1, $2, $3, $5, $4)
    RETURNING migration_id
), p AS (
    UPDATE mig_params SET migration_id = (SELECT migration_id FROM m)
)
SELECT migration_id FROM m
