-- The sequences that feed the columns of the given tables, found through the
-- columns' defaults rather than by name ($1: table names).
SELECT DISTINCT c.relname::text AS table_name,
       a.attname::text AS column_name,
       s.oid::regclass::text AS sequence_name
  FROM pg_attrdef d
  JOIN pg_class c ON c.oid = d.adrelid
  JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
  JOIN pg_depend dep ON dep.classid = 'pg_attrdef'::regclass AND dep.objid = d.oid
                    AND dep.refclassid = 'pg_class'::regclass
  JOIN pg_class s ON s.oid = dep.refobjid AND s.relkind = 'S'
 WHERE c.relnamespace = current_schema()::regnamespace
   AND c.relname = ANY ($1::text[])
 ORDER BY 1, 2
