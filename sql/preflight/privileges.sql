-- What the connected user may do, checked by `migrate` before it changes anything.
-- $1: the legacy table names. One row:
--   user_name, superuser,
--   tables_not_owned  legacy tables the user cannot ALTER (not the owner, nor a member
--                     of the owning role), and table_owners, their owners,
--   create_schema     CREATE on the database (the state schema is created),
--   create_in_schema  CREATE on the schema of the legacy tables (new tables go there),
--   unreadable        tables and sequences pg_dump could not read for the backup.
SELECT current_user::text AS user_name,
       coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false) AS superuser,
       ARRAY(SELECT c.relname::text
               FROM pg_class c
              WHERE c.relnamespace = current_schema()::regnamespace
                AND c.relname = ANY ($1::text[])
                AND c.relkind IN ('r', 'p')
                AND NOT pg_has_role(c.relowner, 'USAGE')
              ORDER BY c.relname) AS tables_not_owned,
       ARRAY(SELECT DISTINCT pg_get_userbyid(c.relowner)::text
               FROM pg_class c
              WHERE c.relnamespace = current_schema()::regnamespace
                AND c.relname = ANY ($1::text[])
                AND c.relkind IN ('r', 'p')
                AND NOT pg_has_role(c.relowner, 'USAGE')
              ORDER BY 1) AS table_owners,
       has_database_privilege(current_database(), 'CREATE') AS create_schema,
       has_schema_privilege(current_schema(), 'CREATE') AS create_in_schema,
       ARRAY(SELECT format('%s.%s', n.nspname, c.relname)
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
                AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'
                AND ((c.relkind = 'S' AND NOT has_sequence_privilege(c.oid, 'SELECT'))
                     OR (c.relkind IN ('r', 'p', 'm') AND NOT has_table_privilege(c.oid, 'SELECT')))
              ORDER BY 1) AS unreadable,
       current_database()::text AS database,
       current_schema()::text AS schema
