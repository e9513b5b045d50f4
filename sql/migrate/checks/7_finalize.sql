-- Check after phase 7: compatibility triggers (9) and legacy interface views (8)
-- missing (0 expected). Reads pg_trigger and pg_views.
SELECT (9 - (SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal AND tgname LIKE 'profochat\_saas\_compat%'))
     + (8 - (SELECT count(*) FROM pg_views WHERE schemaname = 'profochat_legacy'))
