-- Rows without a bot name, per table. Reads mig_null_bot (temporary, sql/migrate/analysis.sql).
-- reads: mig_null_bot
SELECT table_name, n FROM mig_null_bot WHERE n > 0
