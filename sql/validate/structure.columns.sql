-- Columns missing from their table. $1: tables, $2: columns (parallel arrays).
-- A missing table is reported by structure.tables, not once per column here.
WITH wanted AS (
    SELECT t.tbl, t.col, t.ord, c.oid AS relid
      FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(tbl, col, ord)
      JOIN pg_class c ON c.relname = t.tbl AND c.relkind IN ('r', 'p')
      JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
), bad AS (
    SELECT w.tbl, w.col, w.ord
      FROM wanted w
     WHERE NOT EXISTS (SELECT 1 FROM pg_attribute a
                        WHERE a.attrelid = w.relid AND a.attname = w.col AND a.attnum > 0 AND NOT a.attisdropped)
)
SELECT (SELECT count(*) FROM bad)::int8 AS offending,
       ARRAY(SELECT format('column %s.%s is missing', tbl, col) FROM bad ORDER BY ord LIMIT 10) AS examples;
