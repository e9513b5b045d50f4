-- Each legacy table has an enabled trigger whose name starts with $2: the migration
-- installs them so that the running legacy bot's writes get their new links.
-- $1: the legacy tables.
WITH bad AS (
    SELECT t.tbl, t.ord
      FROM unnest($1::text[]) WITH ORDINALITY AS t(tbl, ord)
     WHERE NOT EXISTS (
           SELECT 1
             FROM pg_trigger g
             JOIN pg_class c ON c.oid = g.tgrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relname = t.tbl
              AND NOT g.tgisinternal AND g.tgenabled <> 'D' AND starts_with(g.tgname::text, $2::text))
)
SELECT (SELECT count(*) FROM bad)::int8 AS offending,
       ARRAY(SELECT format('%s has no enabled %s* trigger', tbl, $2::text) FROM bad ORDER BY ord LIMIT 10) AS examples;
