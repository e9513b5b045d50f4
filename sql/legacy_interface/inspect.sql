-- Whether the legacy interface is in place: its views, the compatibility triggers on
-- the public tables, and whether the table of roles set to it exists (read next).
SELECT (SELECT count(*) FROM pg_views WHERE schemaname = 'profochat_legacy')::int8 AS views,
       (SELECT count(*) FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
         WHERE c.relnamespace = current_schema()::regnamespace AND NOT g.tgisinternal AND g.tgenabled <> 'D'
           AND starts_with(g.tgname::text, 'profochat_saas_compat'))::int8 AS compat_triggers,
       to_regclass('profochat_saas.legacy_role') IS NOT NULL AS roles_recorded
