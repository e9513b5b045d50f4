-- Every table and column that validation may touch: of the current schema (named
-- bare) and of the tool's state schema $1 (named schema-qualified). A check whose
-- tables or columns are missing is reported as not checked instead of failing.
SELECT CASE WHEN n.nspname = current_schema() THEN '' ELSE n.nspname || '.' END || c.relname AS table_name,
       a.attname::text AS column_name
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE (n.nspname = current_schema() OR n.nspname = $1::text)
   AND c.relkind IN ('r', 'p', 'v')
