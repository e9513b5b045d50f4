-- The legacy interface is whole: schema profochat_legacy holds a view for each of the
-- eight legacy tables, each with its write trigger where it needs one. (`finish`
-- removes it on purpose; a database finished has no compatibility triggers either.)
WITH expected(view_name, needs_trigger) AS (
    VALUES ('conversation', true), ('run', true), ('waiting_element', true), ('course', true),
           ('course_element', true), ('courseparticipants', false), ('bannedparticipants', false), ('gen_settings', false)
), bad AS (
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
)
SELECT (SELECT count(*) FROM bad)::int8 AS offending,
       ARRAY(SELECT problem FROM bad ORDER BY view_name LIMIT 10) AS examples;
