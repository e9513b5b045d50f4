-- Online preflight: records the migration in profochat_saas.migration, status
-- 'in_progress' until its switch. $1 schema version, $2 tool version, $3 options (jsonb).
INSERT INTO profochat_saas.migration (schema_version, tool_version, options, status)
VALUES ($1, $2, $3 || '{"online": true}'::jsonb, 'in_progress')
RETURNING migration_id
