-- Who may reach the tool's tables: run after every creation of them (the state tables,
-- the change log, the record of legacy-shaped writes, the guard's list, the record of
-- moved rights, the record of tenant isolation), in the same transaction.
--
-- Every table, view and sequence of profochat_saas belongs to the tool's role alone:
-- every privilege on it is revoked from PUBLIC and from every role a grant or ALTER
-- DEFAULT PRIVILEGES gave it to. A role with USAGE on the schema (which enrol needs)
-- reaches none of them: it could otherwise empty the DDL guard's list, hide the legacy
-- bot's course elements, or record rights for `rollback` and `finish` to "give back".
DO $$
DECLARE
    r record;
    g record;
BEGIN
    FOR r IN SELECT c.oid, c.relkind, c.relowner, c.relacl, pg_catalog.format('%I.%I', n.nspname, c.relname) AS name
               FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'profochat_saas' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') LOOP
        CONTINUE WHEN r.relacl IS NULL;
        FOR g IN SELECT DISTINCT x.grantee FROM pg_catalog.aclexplode(r.relacl) x WHERE x.grantee <> r.relowner LOOP
            EXECUTE pg_catalog.format('REVOKE ALL ON %s %s FROM %s',
                                      CASE WHEN r.relkind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, r.name,
                                      CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE g.grantee::regrole::text END);
        END LOOP;
    END LOOP;
END $$;
