-- The options (e.g. {"orphans": "keep"}) and the status of the newest recorded migration.
SELECT options, status FROM profochat_saas.migration ORDER BY migration_id DESC LIMIT 1
