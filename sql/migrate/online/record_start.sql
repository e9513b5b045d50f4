-- Online preflight: records the migration in profochat_saas.migration, in progress
-- until its switch. $1 schema version, $2 tool version, $3 options (jsonb), $4 the
-- status (MigrationStatus::InProgress).
INSERT INTO profochat_saas.migration (schema_version, tool_version, options, status)
VALUES ($1, $2, $3, $4)
RETURNING migration_id
