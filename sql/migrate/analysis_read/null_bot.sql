-- Rows without a bot name, per table. Reads mig_null_bot (temporary, sql/migrate/analysis.sql).
SELECT table_name, n FROM mig_null_bot WHERE n > 0
