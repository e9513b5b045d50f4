-- The analysis's parameters, for the statements of sql/migrate/analysis.sql and the
-- phases: $1 the default bot (or NULL), $2 the migration id (NULL until recorded).
-- A temporary table of this transaction (dropped at its end).
-- creates: mig_params
CREATE TEMP TABLE mig_params ON COMMIT DROP AS SELECT $1::text AS default_bot, $2::int4 AS migration_id
