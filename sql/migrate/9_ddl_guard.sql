-- Phase 7 (last): until `finish`, a schema change to a table the compatibility layer
-- reads (the 8 legacy tables, account, bot, course_deployment) would break the legacy
-- bot's writes silently. Event triggers refuse it, naming `finish`; an upstream
-- migration run too early stops cleanly. Index builds stay allowed. The tool's own
-- schema changes set profochat_saas.allow_ddl for their transaction.
-- Event triggers need a superuser: without one, this step is skipped (and said so).

CREATE OR REPLACE FUNCTION profochat_saas.guard_ddl() RETURNS event_trigger
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    IF current_setting('profochat_saas.allow_ddl', true) = 'on' THEN
        RETURN;
    END IF;
    IF TG_EVENT = 'ddl_command_start' THEN
        -- Before PostgreSQL's own checks (a column type used by the legacy interface's
        -- views would be refused with a message that does not say why): the statement
        -- names a guarded table. ddl_command_end and sql_drop below check the objects.
        IF current_query() ~* ('\m(alter|drop)\s+table\s+(if\s+exists\s+)?(only\s+)?("?[^\s".]+"?\.)?"?('
                               || (SELECT string_agg(guarded, '|') FROM profochat_saas.guarded_tables()) || ')"?(\s|;|,|$)') THEN
            RAISE EXCEPTION '% on a table the legacy bot''s compatibility layer reads is refused until `profochat-saas finish`', TG_TAG
                USING ERRCODE = 'object_in_use',
                      HINT = 'Run `profochat-saas finish` once the application uses the new schema and the legacy bot is stopped, then change the schema.';
        END IF;
        RETURN;
    END IF;
    IF TG_EVENT = 'sql_drop' THEN
        FOR r IN SELECT * FROM pg_event_trigger_dropped_objects()
                  WHERE object_type = 'table' AND object_name IN (SELECT guarded FROM profochat_saas.guarded_tables())
                    AND schema_name = (SELECT nspname FROM pg_namespace WHERE oid = profochat_saas.guarded_schema()) LOOP
            RAISE EXCEPTION 'DROP TABLE % is refused until `profochat-saas finish`: the legacy bot''s compatibility layer reads it', r.object_identity
                USING ERRCODE = 'object_in_use',
                      HINT = 'Run `profochat-saas finish` once the application uses the new schema and the legacy bot is stopped, then change the schema.';
        END LOOP;
        RETURN;
    END IF;
    FOR r IN SELECT * FROM pg_event_trigger_ddl_commands() LOOP
        IF r.classid = 'pg_class'::regclass AND r.objid IN (
               SELECT c.oid FROM pg_class c
                WHERE c.relnamespace = profochat_saas.guarded_schema()
                  AND c.relname IN (SELECT guarded FROM profochat_saas.guarded_tables())) THEN
            RAISE EXCEPTION '% on % is refused until `profochat-saas finish`: the legacy bot''s compatibility layer depends on this table', r.command_tag, r.object_identity
                USING ERRCODE = 'object_in_use',
                      HINT = 'Run `profochat-saas finish` once the application uses the new schema and the legacy bot is stopped, then change the schema.';
        END IF;
    END LOOP;
END $$;

CREATE OR REPLACE FUNCTION profochat_saas.guarded_tables() RETURNS TABLE (guarded text)
LANGUAGE sql IMMUTABLE AS $$
    SELECT unnest(ARRAY['conversation', 'run', 'waiting_element', 'course', 'course_element', 'courseparticipants',
                        'bannedparticipants', 'gen_settings', 'account', 'bot', 'course_deployment'])
$$;

DO $$
BEGIN
    EXECUTE format('CREATE OR REPLACE FUNCTION profochat_saas.guarded_schema() RETURNS oid LANGUAGE sql IMMUTABLE AS %L',
                   format('SELECT %s::oid', current_schema()::regnamespace::oid));
    IF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'profochat_saas_guard_ddl') THEN
        CREATE EVENT TRIGGER profochat_saas_guard_ddl ON ddl_command_end
            WHEN TAG IN ('ALTER TABLE')
            EXECUTE FUNCTION profochat_saas.guard_ddl();
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'profochat_saas_guard_start') THEN
        CREATE EVENT TRIGGER profochat_saas_guard_start ON ddl_command_start
            WHEN TAG IN ('ALTER TABLE', 'DROP TABLE')
            EXECUTE FUNCTION profochat_saas.guard_ddl();
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'profochat_saas_guard_drop') THEN
        CREATE EVENT TRIGGER profochat_saas_guard_drop ON sql_drop
            WHEN TAG IN ('DROP TABLE')
            EXECUTE FUNCTION profochat_saas.guard_ddl();
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'not a superuser: schema changes before finish are not refused by an event trigger';
END $$;
