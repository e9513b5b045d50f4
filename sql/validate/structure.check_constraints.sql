-- Check constraints, by upstream's names: missing, of another definition than upstream's,
-- or NOT VALID. $1: tables, $2: names, $3: upstream's definitions as
-- pg_get_constraintdef writes them (parallel arrays).
WITH checked AS (
    SELECT w.tbl, w.name, w.ord,
           CASE WHEN x.convalidated IS NULL THEN 'is missing'
                WHEN x.definition <> w.definition THEN format('is %s instead of upstream''s %s', x.definition, w.definition)
                WHEN NOT x.convalidated THEN 'is NOT VALID (existing rows were never checked)'
           END AS problem
      FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS w(tbl, name, definition, ord)
      LEFT JOIN LATERAL (
           SELECT con.convalidated, regexp_replace(pg_get_constraintdef(con.oid), ' NOT VALID$', '') AS definition
             FROM pg_constraint con
             JOIN pg_class c ON c.oid = con.conrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relname = w.tbl
              AND con.conname = w.name AND con.contype = 'c') x ON true
), bad AS (
    SELECT * FROM checked WHERE problem IS NOT NULL
)
SELECT (SELECT count(*) FROM bad)::int8 AS offending,
       ARRAY(SELECT format('%s.%s %s', tbl, name, problem) FROM bad ORDER BY ord LIMIT 10) AS examples;
