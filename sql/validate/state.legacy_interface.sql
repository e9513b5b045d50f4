-- Until `finish`, the legacy interface is whole: schema profochat_legacy holds a view
-- for each of the eight legacy tables, each with its write trigger where it needs one.
-- After `finish` ($1), the schema is gone.
WITH expected(view_name, needs_trigger) AS (
    VALUES ('conversation', true), ('run', true), ('waiting_element', true), ('course', true),
           ('course_element', true), ('courseparticipants', false), ('bannedparticipants', false), ('gen_settings', false)
), missing AS (
    SELECT e.view_name,
           CASE WHEN to_regclass('profochat_legacy.' || quote_ident(e.view_name)) IS NULL
                THEN format('profochat_legacy.%s is missing', e.view_name)
                ELSE format('profochat_legacy.%s has no enabled write trigger', e.view_name) END AS problem
      FROM expected e
     WHERE to_regclass('profochat_legacy.' || quote_ident(e.view_name)) IS NULL
        OR (e.needs_trigger AND NOT EXISTS (
               SELECT 1 FROM pg_trigger g
                WHERE g.tgrelid = to_regclass('profochat_legacy.' || quote_ident(e.view_name))
                  AND g.tgname = 'profochat_legacy_write' AND g.tgenabled <> 'D'))
), bad AS (
    SELECT view_name, problem FROM missing WHERE NOT $1::bool
    UNION ALL
    SELECT 'profochat_legacy', 'schema profochat_legacy is still there' WHERE $1::bool AND to_regnamespace('profochat_legacy') IS NOT NULL
)
SELECT (SELECT count(*) FROM bad)::int8 AS offending,
       ARRAY(SELECT problem FROM bad ORDER BY view_name LIMIT 10) AS examples;
