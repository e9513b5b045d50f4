-- Until `finish`, each legacy table has an enabled trigger whose name starts with $2:
-- the migration installs them so that the running legacy bot's writes get their new
-- links. After `finish` ($3), none is left.
-- $1: the legacy tables.
WITH present AS (
    SELECT t.tbl, t.ord,
           EXISTS (SELECT 1
                     FROM pg_trigger g
                     JOIN pg_class c ON c.oid = g.tgrelid
                     JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = current_schema() AND c.relname = t.tbl
                      AND NOT g.tgisinternal AND (g.tgenabled <> 'D' OR $3::bool)
                      AND starts_with(g.tgname::text, $2::text)) AS has
      FROM unnest($1::text[]) WITH ORDINALITY AS t(tbl, ord)
), bad AS (
    SELECT tbl, ord FROM present WHERE has = $3::bool
)
SELECT (SELECT count(*) FROM bad)::int8 AS offending,
       ARRAY(SELECT CASE WHEN $3::bool THEN format('%s still has a %s* trigger', tbl, $2::text)
                         ELSE format('%s has no enabled %s* trigger', tbl, $2::text) END
               FROM bad ORDER BY ord LIMIT 10) AS examples;
