-- Every bot name of the legacy tables and the tables it appears in. Reads mig_bots
-- (temporary, sql/migrate/analysis.sql).
-- reads: mig_bots
SELECT bot_name, tables FROM mig_bots ORDER BY bot_name
