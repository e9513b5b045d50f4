-- For `validate`: each isolated role ($1) has its restrictive policy, as the tool
-- writes it, on every table of the migrated schema with account_id, whose row-level
-- security is on (not forced, so that the tool's role is not subject to it); the
-- role is not the table's owner, a superuser or BYPASSRLS. One line per problem.
WITH tables AS (
    SELECT c.oid, c.relname, c.relrowsecurity, c.relforcerowsecurity, c.relowner
      FROM pg_class c
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'account_id' AND NOT a.attisdropped
     WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
), roles AS (
    SELECT r.rolname::text AS role_name, r.oid, r.rolsuper OR r.rolbypassrls AS exempt
      FROM unnest($1::text[]) AS x(role_name) LEFT JOIN pg_roles r ON r.rolname = x.role_name
)
SELECT format('role %s does not exist', x.role_name)
  FROM unnest($1::text[]) AS x(role_name) WHERE NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = x.role_name)
UNION ALL
SELECT format('role %s is a superuser or BYPASSRLS: row-level security does not apply to it', r.role_name)
  FROM roles r WHERE r.exempt
UNION ALL
SELECT format('%s: row-level security is off', t.relname) FROM tables t WHERE NOT t.relrowsecurity
UNION ALL
SELECT format('%s: role %s owns it, so row-level security does not apply to it', t.relname, r.role_name)
  FROM tables t JOIN roles r ON r.oid = t.relowner
UNION ALL
SELECT format('%s: no restrictive account policy for role %s', t.relname, r.role_name)
  FROM tables t CROSS JOIN roles r
 WHERE r.oid IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM pg_policy p
         WHERE p.polrelid = t.oid AND p.polname = 'profochat_tenant_' || r.oid::text
           AND NOT p.polpermissive AND p.polcmd = '*' AND p.polroles = ARRAY[r.oid]
           AND pg_get_expr(p.polqual, p.polrelid) = pg_get_expr(p.polwithcheck, p.polrelid)
           AND pg_get_expr(p.polqual, p.polrelid) LIKE '%account_id = (NULLIF(current_setting(''profochat.account_id''::text, true), ''''::text))::integer%')
ORDER BY 1;
