-- Whether the legacy interface is in place: its views, the compatibility triggers on
-- the public tables, and the roles whose search_path points at it.
SELECT (SELECT count(*) FROM pg_views WHERE schemaname = 'profochat_legacy')::int8 AS views,
       (SELECT count(*) FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
         WHERE c.relnamespace = current_schema()::regnamespace AND NOT g.tgisinternal AND g.tgenabled <> 'D'
           AND starts_with(g.tgname::text, 'profochat_saas_compat'))::int8 AS compat_triggers,
       CASE WHEN to_regclass('profochat_saas.legacy_role') IS NULL THEN ARRAY[]::text[]
            ELSE ARRAY(SELECT role_name FROM profochat_saas.legacy_role ORDER BY 1) END AS roles
