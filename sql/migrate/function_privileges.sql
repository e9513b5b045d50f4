-- Who may call the tool's functions: run after every install of them (the compatibility
-- layer, the legacy interface, the enrolment functions, the change log), in the same
-- transaction, so that no function is ever callable by more roles than below.
--
-- * Every function of profochat_saas and profochat_legacy: EXECUTE revoked from PUBLIC
--   (PostgreSQL grants it to PUBLIC on creation; CREATE OR REPLACE keeps whatever ACL
--   the function had) and from every role a grant or ALTER DEFAULT PRIVILEGES gave it
--   to. The triggers' functions need no grant: PostgreSQL checks EXECUTE when a trigger
--   is created, not when it fires; those of the compatibility layer and the legacy
--   interface run as their owner (SECURITY DEFINER, a fixed search_path).
-- * The enrolment functions (enrol.sql), which run with the caller's rights: EXECUTE
--   for every role that may already do by hand what `enrol` does (read bots and
--   deployments, read and update enrollment tokens, read, insert and update runs), and
--   grants made to a role by name are kept (GRANT EXECUTE ON FUNCTION
--   profochat_saas.enrol(text, int8, text, int4) TO app_role).
DO $$
DECLARE
    f record;
    g record;
    enrolment constant text[] := ARRAY['enrol', 'enrolment_token', 'enrolment_run', 'enrolment_check',
                                       'enrolment_bot', 'enrolment_bot_id', 'enrolment_bot_label', 'start_payload'];
BEGIN
    FOR f IN SELECT p.oid::regprocedure AS sig, p.proname, p.proowner, p.proacl,
                    n.nspname = 'profochat_saas' AND p.proname = ANY (enrolment) AS is_enrolment
               FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
              WHERE n.nspname IN ('profochat_saas', 'profochat_legacy') LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f.sig);
        CONTINUE WHEN f.is_enrolment;
        FOR g IN SELECT DISTINCT x.grantee FROM aclexplode(f.proacl) x
                  WHERE x.grantee <> 0 AND x.grantee <> f.proowner LOOP
            EXECUTE format('REVOKE ALL ON FUNCTION %s FROM %s', f.sig, g.grantee::regrole);
        END LOOP;
    END LOOP;
    IF to_regclass('enrollment_token') IS NULL OR to_regclass('course_deployment') IS NULL OR to_regclass('bot') IS NULL THEN
        RETURN;
    END IF;
    FOR g IN SELECT r.oid::regrole AS role FROM pg_roles r
              WHERE NOT r.rolsuper AND r.rolname !~ '^pg_'
                AND has_table_privilege(r.oid, to_regclass('bot'), 'SELECT')
                AND has_table_privilege(r.oid, to_regclass('course_deployment'), 'SELECT')
                AND has_table_privilege(r.oid, to_regclass('enrollment_token'), 'SELECT')
                AND has_table_privilege(r.oid, to_regclass('enrollment_token'), 'UPDATE')
                AND has_table_privilege(r.oid, to_regclass('run'), 'SELECT')
                AND has_table_privilege(r.oid, to_regclass('run'), 'INSERT')
                AND has_table_privilege(r.oid, to_regclass('run'), 'UPDATE') LOOP
        FOR f IN SELECT p.oid::regprocedure AS sig FROM pg_proc p
                  WHERE p.pronamespace = 'profochat_saas'::regnamespace AND p.proname = ANY (enrolment) LOOP
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %s', f.sig, g.role);
        END LOOP;
    END LOOP;
END $$;
