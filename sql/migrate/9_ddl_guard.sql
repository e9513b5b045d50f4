-- Phase 7 (last): until `finish`, a schema change to an object the compatibility layer
-- or the legacy interface depends on would break the legacy bot's writes silently.
-- Event triggers refuse it, naming `finish`; an upstream migration run too early stops
-- cleanly (the exception rolls the statement back).
--
-- What is guarded is a list of object identities (catalog, oid), taken here from the
-- catalog once the layer is installed (this file runs after 7_compat.sql and
-- 8_legacy_interface.sql):
--   * the 8 legacy tables and the new tables the layer reads (account, bot,
--     course_deployment) in the migrated schema, with their columns;
--   * the sequences those tables own or take defaults from;
--   * every relation (views, the tool's tables, sequences) and function of the schemas
--     profochat_saas and profochat_legacy, and those two schemas;
--   * every trigger that runs a function of those schemas (the compatibility triggers,
--     the legacy interface's INSTEAD OF triggers).
-- Refused on them: ALTER (including RENAME, OWNER, DISABLE TRIGGER), DROP (directly or
-- by CASCADE), CREATE OR REPLACE, and CREATE RULE or CREATE TRIGGER on a guarded table
-- or view (a role with the TRIGGER right would otherwise have its own function run by
-- the layer's writes, as their definer; foreign keys' internal triggers pass). Any other
-- object's DDL passes: index builds, the application's own tables, temporary tables,
-- another schema's tables of the same names, GRANT, REVOKE and COMMENT.
--
-- The owner's override, for the tool's own schema changes (finish, rollback, abort, the
-- online steps): `SET LOCAL profochat_saas.allow_ddl = on` counts only in a session
-- whose login role (session_user) is a member of the role that owns the schema
-- profochat_saas (the role that migrated) or a superuser. Any role may set the
-- setting; for every other role it changes nothing.
--
-- The guard function runs as its owner (it reads the list, which no other role may
-- read or write), with a search_path of pg_catalog and pg_temp only and every name
-- qualified; no role needs EXECUTE on it (event triggers do not check it).
-- Event triggers need a superuser: without one, they are not installed (and said so).

CREATE TABLE IF NOT EXISTS profochat_saas.guarded_object (
    classid  oid  NOT NULL,
    objid    oid  NOT NULL,
    identity text NOT NULL,
    PRIMARY KEY (classid, objid)
);
REVOKE ALL ON profochat_saas.guarded_object FROM PUBLIC;

DELETE FROM profochat_saas.guarded_object;
WITH tables AS (
    SELECT c.oid
      FROM pg_catalog.pg_class c
     WHERE c.relnamespace = pg_catalog.current_schema()::regnamespace
       AND c.relkind IN ('r', 'p')
       AND c.relname IN ('conversation', 'run', 'waiting_element', 'course', 'course_element', 'courseparticipants',
                         'bannedparticipants', 'gen_settings', 'account', 'bot', 'course_deployment')
), own_relations AS (
    SELECT c.oid
      FROM pg_catalog.pg_class c
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname IN ('profochat_saas', 'profochat_legacy')
       AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
), sequences AS (
    -- Owned by a guarded table's column (serial, identity) ...
    SELECT d.objid AS oid
      FROM pg_catalog.pg_depend d
      JOIN pg_catalog.pg_class s ON s.oid = d.objid AND s.relkind = 'S'
     WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
       AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
       AND d.refobjid IN (SELECT oid FROM tables)
       AND d.deptype IN ('a', 'i')
    UNION
    -- ... or named in one's column default.
    SELECT d.refobjid
      FROM pg_catalog.pg_attrdef ad
      JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass AND d.objid = ad.oid
      JOIN pg_catalog.pg_class s ON s.oid = d.refobjid AND s.relkind = 'S'
     WHERE d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
       AND ad.adrelid IN (SELECT oid FROM tables)
), functions AS (
    SELECT p.oid
      FROM pg_catalog.pg_proc p
      JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname IN ('profochat_saas', 'profochat_legacy')
), triggers AS (
    SELECT t.oid FROM pg_catalog.pg_trigger t WHERE NOT t.tgisinternal AND t.tgfoid IN (SELECT oid FROM functions)
), schemas AS (
    SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname IN ('profochat_saas', 'profochat_legacy')
), guarded (classid, objid) AS (
              SELECT 'pg_catalog.pg_class'::pg_catalog.regclass::oid, oid FROM tables
    UNION     SELECT 'pg_catalog.pg_class'::pg_catalog.regclass::oid, oid FROM own_relations
    UNION     SELECT 'pg_catalog.pg_class'::pg_catalog.regclass::oid, oid FROM sequences
    UNION     SELECT 'pg_catalog.pg_proc'::pg_catalog.regclass::oid, oid FROM functions
    UNION     SELECT 'pg_catalog.pg_trigger'::pg_catalog.regclass::oid, oid FROM triggers
    UNION     SELECT 'pg_catalog.pg_namespace'::pg_catalog.regclass::oid, oid FROM schemas
)
INSERT INTO profochat_saas.guarded_object (classid, objid, identity)
SELECT g.classid, g.objid, (pg_catalog.pg_identify_object(g.classid, g.objid, 0)).identity
  FROM guarded g;

CREATE OR REPLACE FUNCTION profochat_saas.guard_ddl() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r record;
BEGIN
    -- The owner's override (see the head of sql/migrate/9_ddl_guard.sql).
    IF pg_catalog.current_setting('profochat_saas.allow_ddl', true) = 'on'
       AND EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n
                    WHERE n.nspname = 'profochat_saas'
                      AND pg_catalog.pg_has_role(session_user, n.nspowner, 'MEMBER')) THEN
        RETURN;
    END IF;
    IF TG_EVENT = 'sql_drop' THEN
        SELECT d.object_type, d.object_identity INTO r
          FROM pg_catalog.pg_event_trigger_dropped_objects() d
          JOIN profochat_saas.guarded_object g ON g.classid = d.classid AND g.objid = d.objid
         LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION '% drops % %, which the legacy bot''s compatibility layer depends on: refused until `profochat-saas finish`',
                            TG_TAG, r.object_type, r.object_identity
                USING ERRCODE = 'object_in_use',
                      HINT = 'Run `profochat-saas finish` once the application uses the new schema and the legacy bot is stopped, then change the schema.';
        END IF;
        RETURN;
    END IF;
    SELECT c.command_tag, c.object_type, c.object_identity INTO r
      FROM pg_catalog.pg_event_trigger_ddl_commands() c
     WHERE c.command_tag NOT IN ('COMMENT', 'SECURITY LABEL')
       AND (EXISTS (SELECT 1 FROM profochat_saas.guarded_object g WHERE g.classid = c.classid AND g.objid = c.objid)
            OR (c.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass
                AND EXISTS (SELECT 1
                              FROM pg_catalog.pg_rewrite w
                              JOIN profochat_saas.guarded_object g
                                ON g.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND g.objid = w.ev_class
                             WHERE w.oid = c.objid))
            OR (c.classid = 'pg_catalog.pg_trigger'::pg_catalog.regclass
                AND EXISTS (SELECT 1
                              FROM pg_catalog.pg_trigger t
                              JOIN profochat_saas.guarded_object g
                                ON g.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND g.objid = t.tgrelid
                             WHERE t.oid = c.objid AND NOT t.tgisinternal)))
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION '% on % % is refused until `profochat-saas finish`: the legacy bot''s compatibility layer depends on it',
                        r.command_tag, r.object_type, r.object_identity
            USING ERRCODE = 'object_in_use',
                  HINT = 'Run `profochat-saas finish` once the application uses the new schema and the legacy bot is stopped, then change the schema.';
    END IF;
END $$;
REVOKE ALL ON FUNCTION profochat_saas.guard_ddl() FROM PUBLIC;

-- The earlier guard's helpers and its pre-check on the query text.
DROP FUNCTION IF EXISTS profochat_saas.guarded_tables(), profochat_saas.guarded_schema();

DO $$
BEGIN
    DROP EVENT TRIGGER IF EXISTS profochat_saas_guard_start;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_event_trigger WHERE evtname = 'profochat_saas_guard_ddl' AND evtevent = 'ddl_command_end' AND evttags IS NULL) THEN
        DROP EVENT TRIGGER IF EXISTS profochat_saas_guard_ddl;
        CREATE EVENT TRIGGER profochat_saas_guard_ddl ON ddl_command_end
            EXECUTE FUNCTION profochat_saas.guard_ddl();
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_event_trigger WHERE evtname = 'profochat_saas_guard_drop' AND evtevent = 'sql_drop' AND evttags IS NULL) THEN
        DROP EVENT TRIGGER IF EXISTS profochat_saas_guard_drop;
        CREATE EVENT TRIGGER profochat_saas_guard_drop ON sql_drop
            EXECUTE FUNCTION profochat_saas.guard_ddl();
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'not a superuser: schema changes before finish are not refused by an event trigger';
END $$;
