-- The options of the newest recorded migration (e.g. {"orphans": "keep"}).
SELECT options FROM profochat_saas.migration ORDER BY migration_id DESC LIMIT 1
