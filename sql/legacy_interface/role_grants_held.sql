-- The grants role $1 holds itself (not through PUBLIC, a membership or ownership) on
-- the tool's tables $2 in the migrated schema, and on the sequences those tables own
-- or take defaults from: what `legacy-role` moves to the legacy interface.
WITH tables AS (
    SELECT c.oid FROM pg_class c
     WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') AND c.relname = ANY($2)
), objects AS (
    SELECT oid FROM tables
    UNION
    SELECT d.objid FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
     WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
       AND d.refobjid IN (SELECT oid FROM tables) AND d.deptype IN ('a', 'i')
    UNION
    SELECT d.refobjid FROM pg_attrdef ad
      JOIN pg_depend d ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid AND d.refclassid = 'pg_class'::regclass
      JOIN pg_class s ON s.oid = d.refobjid AND s.relkind = 'S'
     WHERE ad.adrelid IN (SELECT oid FROM tables)
)
SELECT format('%I.%I', n.nspname, c.relname) AS object,
       c.relname::text AS name,
       CASE c.relkind WHEN 'S' THEN 'sequence' ELSE 'table' END AS kind,
       x.privilege_type AS privilege,
       x.is_grantable AS grantable
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 CROSS JOIN LATERAL aclexplode(c.relacl) x
 WHERE c.oid IN (SELECT oid FROM objects)
   AND x.grantee = (SELECT r.oid FROM pg_roles r WHERE r.rolname = $1)
   AND x.grantee <> c.relowner
 ORDER BY 1, 4;
