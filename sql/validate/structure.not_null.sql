-- Columns that must be NOT NULL. $1: tables, $2: columns (parallel arrays).
WITH checked AS (
    SELECT w.tbl, w.col, w.ord,
           CASE WHEN x.attnotnull IS NULL THEN 'is missing'
                WHEN NOT x.attnotnull THEN 'allows NULL'
           END AS problem
      FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS w(tbl, col, ord)
      LEFT JOIN LATERAL (
           SELECT a.attnotnull
             FROM pg_attribute a
             JOIN pg_class c ON c.oid = a.attrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relname = w.tbl
              AND a.attname = w.col AND a.attnum > 0 AND NOT a.attisdropped) x ON true
), bad AS (
    SELECT * FROM checked WHERE problem IS NOT NULL
)
SELECT (SELECT count(*) FROM bad)::int8 AS offending,
       ARRAY(SELECT format('%s.%s %s', tbl, col, problem) FROM bad ORDER BY ord LIMIT 10) AS examples;
