-- Secondary indexes, by name: missing, on the wrong table, or left invalid by an
-- interrupted CREATE INDEX CONCURRENTLY. $1: tables, $2: index names (parallel arrays).
WITH checked AS (
    SELECT w.tbl, w.name, w.ord,
           CASE WHEN x.on_table IS NULL THEN 'is missing'
                WHEN x.on_table <> w.tbl THEN format('is on table %s', x.on_table)
                WHEN NOT x.indisvalid THEN 'is invalid (an interrupted build)'
           END AS problem
      FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS w(tbl, name, ord)
      LEFT JOIN LATERAL (
           SELECT c.relname::text AS on_table, i.indisvalid
             FROM pg_class ic
             JOIN pg_namespace n ON n.oid = ic.relnamespace
             JOIN pg_index i ON i.indexrelid = ic.oid
             JOIN pg_class c ON c.oid = i.indrelid
            WHERE n.nspname = current_schema() AND ic.relname = w.name) x ON true
), bad AS (
    SELECT * FROM checked WHERE problem IS NOT NULL
)
SELECT (SELECT count(*) FROM bad)::int8 AS offending,
       ARRAY(SELECT format('%s.%s %s', tbl, name, problem) FROM bad ORDER BY ord LIMIT 10) AS examples;
