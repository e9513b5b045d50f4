-- The sequences the column defaults of legacy table $1 (in the migrated schema) call:
-- the legacy interface's view of it has the same defaults, and an INSERT through the
-- view calls them with the inserting role's rights.
SELECT DISTINCT format('%I.%I', n.nspname, s.relname) AS object
  FROM pg_attrdef ad
  JOIN pg_depend d ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid AND d.refclassid = 'pg_class'::regclass
  JOIN pg_class s ON s.oid = d.refobjid AND s.relkind = 'S'
  JOIN pg_namespace n ON n.oid = s.relnamespace
 WHERE ad.adrelid = (SELECT c.oid FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace AND c.relname = $1 AND c.relkind IN ('r', 'p'))
 ORDER BY 1;
