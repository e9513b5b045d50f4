-- What role $1 may do now on each of the tool's tables $2 in the migrated schema and
-- on the matching view of the legacy interface, whichever way it holds the right (its
-- own grant, PUBLIC, a membership, ownership): for `status` and `legacy-role`.
SELECT t.relname::text AS name,
       pg_get_userbyid(t.relowner) = $1 AS owner,
       array_remove(ARRAY[
           CASE WHEN has_table_privilege($1, t.oid, 'SELECT') THEN 'SELECT' END,
           CASE WHEN has_table_privilege($1, t.oid, 'INSERT') THEN 'INSERT' END,
           CASE WHEN has_table_privilege($1, t.oid, 'UPDATE') THEN 'UPDATE' END,
           CASE WHEN has_table_privilege($1, t.oid, 'DELETE') THEN 'DELETE' END], NULL) AS public_rights,
       coalesce((SELECT array_remove(ARRAY[
                    CASE WHEN has_table_privilege($1, v.oid, 'SELECT') THEN 'SELECT' END,
                    CASE WHEN has_table_privilege($1, v.oid, 'INSERT') THEN 'INSERT' END,
                    CASE WHEN has_table_privilege($1, v.oid, 'UPDATE') THEN 'UPDATE' END,
                    CASE WHEN has_table_privilege($1, v.oid, 'DELETE') THEN 'DELETE' END], NULL)
                   FROM pg_class v JOIN pg_namespace vn ON vn.oid = v.relnamespace
                  WHERE vn.nspname = 'profochat_legacy' AND v.relname = t.relname AND v.relkind = 'v'),
                '{}') AS interface_rights
  FROM pg_class t
 WHERE t.relnamespace = current_schema()::regnamespace AND t.relkind IN ('r', 'p') AND t.relname = ANY($2)
 ORDER BY 1;
