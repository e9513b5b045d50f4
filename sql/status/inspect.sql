-- What the current schema holds: every table, and every column of the tables the
-- tool knows. One row per (table, column); column is NULL for a table with no columns.
SELECT c.relname::text AS table_name,
       a.attname::text AS column_name
  FROM pg_class c
  LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE c.relnamespace = current_schema()::regnamespace
   AND c.relkind IN ('r', 'p', 'v')
 ORDER BY 1, a.attnum
