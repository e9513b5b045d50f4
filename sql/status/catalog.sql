-- The keys and indexes of the application's tables ($1: their names), in the form of
-- upstream's catalog listing: a constraint as pg_get_constraintdef writes it (without
-- " NOT VALID": `valid` says that), an index as "[UNIQUE ]table USING method (keys)
-- [WHERE …]" (pg_get_indexdef without "CREATE", the name and the schema; the
-- migration's own helper pg_temp.index_shape writes it the same way). `backs` names
-- the constraint an index belongs to.
SELECT 'constraint' AS kind, c.relname::text AS table_name, con.conname::text AS name,
       regexp_replace(pg_get_constraintdef(con.oid), ' NOT VALID$', '') AS definition,
       con.convalidated AS valid, NULL::text AS backs
  FROM pg_constraint con
  JOIN pg_class c ON c.oid = con.conrelid
 WHERE c.relnamespace = current_schema()::regnamespace
   AND c.relname = ANY ($1::text[])
   AND con.contype IN ('p', 'u', 'f', 'c', 'x')
UNION ALL
SELECT 'index', c.relname::text, ic.relname::text,
       regexp_replace(pg_get_indexdef(i.indexrelid), '^CREATE (UNIQUE )?INDEX \S+ ON (ONLY )?(\S+\.)?', '\1'),
       i.indisvalid,
       (SELECT con.conname::text FROM pg_constraint con
         WHERE con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
         LIMIT 1)
  FROM pg_index i
  JOIN pg_class ic ON ic.oid = i.indexrelid
  JOIN pg_class c ON c.oid = i.indrelid
 WHERE c.relnamespace = current_schema()::regnamespace
   AND c.relname = ANY ($1::text[])
 ORDER BY 1, 2, 3
