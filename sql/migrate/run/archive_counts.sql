-- The no-loss proof: archived changes of migration $1 per legacy table and action
-- (deleted, updated, inserted). Reads profochat_saas.archive.
SELECT table_name, action, count(*)::int8 FROM profochat_saas.archive WHERE migration_id = $1 GROUP BY 1, 2
