-- New tables missing from the current schema. $1: table names.
WITH bad AS (
    SELECT t.name
      FROM unnest($1::text[]) AS t(name)
     WHERE NOT EXISTS (
           SELECT 1
             FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relname = t.name AND c.relkind IN ('r', 'p'))
)
SELECT (SELECT count(*) FROM bad)::int8 AS offending,
       ARRAY(SELECT format('table %s is missing', name) FROM bad ORDER BY name LIMIT 10) AS examples;
