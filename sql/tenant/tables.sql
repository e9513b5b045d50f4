-- Every table of the migrated schema with a column account_id, and whether its
-- row-level security is on.
SELECT c.relname::text AS table_name, c.relrowsecurity AS rls
  FROM pg_class c
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'account_id' AND NOT a.attisdropped
 WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
 ORDER BY 1;
