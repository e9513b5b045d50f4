-- Phase 7 (after the compatibility layer): the legacy interface. Schema
-- profochat_legacy shows the eight legacy tables as the legacy bot knows them: its
-- columns, its course ids (a renamed copy under its old id), one course and element
-- row per bot for a merged course, its run_ids (a detached orphan's old value), and
-- none of the rows the migration made only so that references resolve. The legacy
-- bot uses it by connecting with `options=-c search_path=profochat_legacy,public`.
--
-- Reads the legacy-memory tables of profochat_saas (sql/state/schema.sql) and the
-- compatibility functions (7_compat.sql). Writes through these views go to the public
-- tables as legacy-shaped writes, so the compatibility layer gives them their links
-- exactly as it does for a bot that has not switched.
--
-- Account 1's rows only, for reads and writes: the views are security barriers (a
-- caller's function in a WHERE clause sees only the rows the view shows), and the write
-- functions change account 1's rows only and link a write to account 1's runs only.
-- They run as their owner with a search_path of pg_catalog and pg_temp (last) alone,
-- naming every table with its schema ({{schema}}, filled in at install).

CREATE SCHEMA IF NOT EXISTS profochat_legacy;
COMMENT ON SCHEMA profochat_legacy IS
    'The legacy ProfoChatBot tables as the legacy bot knows them (profochat-saas); removed by `profochat-saas finish`.';

-- A course id in public shows as its legacy id: the few renamed courses are looked up
-- (a hashed set, then one key), every other id shows as it is. Written as a CASE
-- rather than a join, so that the legacy bot's statements plan as fast as before.
CREATE OR REPLACE VIEW profochat_legacy.conversation WITH (security_barrier) AS
SELECT c.conversation_id, c.chat_id, c.username,
       CASE WHEN c.course_id IN (SELECT n.course_id FROM profochat_saas.legacy_course_name n)
            THEN (SELECT n.legacy_course_id FROM profochat_saas.legacy_course_name n WHERE n.course_id = c.course_id)
            ELSE c.course_id END AS course_id,
       c.element_id, c.element_type, c.role, c.json, c.report, c.score, c.maxscore, c.date_inserted,
       CASE WHEN c.run_id IS NULL
            THEN (SELECT o.run_id FROM profochat_saas.legacy_conversation_run o WHERE o.conversation_id = c.conversation_id)
            ELSE c.run_id END AS run_id
  FROM {{schema}}.conversation c
 WHERE c.account_id = 1;

CREATE OR REPLACE VIEW profochat_legacy.run WITH (security_barrier) AS
SELECT r.run_id, r.chat_id, r.username, r.botname,
       CASE WHEN r.course_id IN (SELECT n.course_id FROM profochat_saas.legacy_course_name n)
            THEN (SELECT n.legacy_course_id FROM profochat_saas.legacy_course_name n WHERE n.course_id = r.course_id)
            ELSE r.course_id END AS course_id,
       r.date_inserted, r.utm_source, r.utm_campaign, r.is_ended
  FROM {{schema}}.run r
 WHERE r.account_id = 1;

CREATE OR REPLACE VIEW profochat_legacy.waiting_element WITH (security_barrier) AS
SELECT w.waiting_element_id, w.chat_id, w.waiting_till_date, w.is_waiting, w.element_id,
       CASE WHEN w.course_id IN (SELECT n.course_id FROM profochat_saas.legacy_course_name n)
            THEN (SELECT n.legacy_course_id FROM profochat_saas.legacy_course_name n WHERE n.course_id = w.course_id)
            ELSE w.course_id END AS course_id,
       w.botname
  FROM {{schema}}.waiting_element w
 WHERE w.account_id = 1;

-- (The two views below read a UNION ALL inside the view's own query: a view that is a
-- UNION ALL itself would be flattened into its branches, and a caller's function in a
-- WHERE clause could run before a branch's account filter.)
CREATE OR REPLACE VIEW profochat_legacy.course WITH (security_barrier) AS
SELECT u.course_id, u.bot_name, u.creator_id, u.date_created, u.yaml FROM (
SELECT CASE WHEN c.course_id IN (SELECT n.course_id FROM profochat_saas.legacy_course_name n)
            THEN (SELECT n.legacy_course_id FROM profochat_saas.legacy_course_name n WHERE n.course_id = c.course_id)
            ELSE c.course_id END AS course_id,
       c.bot_name, c.creator_id, c.date_created, c.yaml
  FROM {{schema}}.course c
 WHERE c.account_id = 1
   AND c.course_id NOT IN (SELECT h.course_id FROM profochat_saas.legacy_hidden_course h)
UNION ALL
SELECT k.course_id, k.bot_name, k.creator_id, k.date_created, k.yaml
  FROM profochat_saas.legacy_course_copy k) u;

CREATE OR REPLACE VIEW profochat_legacy.course_element WITH (security_barrier) AS
SELECT u.course_element_id, u.element_id, u.json, u.element_type, u.course_id, u.bot_name FROM (
SELECT e.course_element_id, e.element_id, e.json, e.element_type,
       CASE WHEN e.course_id IN (SELECT n.course_id FROM profochat_saas.legacy_course_name n)
            THEN (SELECT n.legacy_course_id FROM profochat_saas.legacy_course_name n WHERE n.course_id = e.course_id)
            ELSE e.course_id END AS course_id,
       e.bot_name
  FROM {{schema}}.course_element e
 WHERE e.account_id = 1
   AND e.course_element_id NOT IN (SELECT x.course_element_id FROM profochat_saas.legacy_hidden_element x)
UNION ALL
SELECT k.course_element_id, k.element_id, k.json, k.element_type, k.course_id, k.bot_name
  FROM profochat_saas.legacy_element_copy k) u;

-- These three hold the legacy values as they are: plain views, written through directly.
CREATE OR REPLACE VIEW profochat_legacy.courseparticipants WITH (security_barrier) AS
SELECT courseparticipant_id, course_id, username FROM {{schema}}.courseparticipants WHERE account_id = 1;

CREATE OR REPLACE VIEW profochat_legacy.bannedparticipants WITH (security_barrier) AS
SELECT bannedparticipant_id, botname, chat_id, banned_at, ban_reason, excluded
  FROM {{schema}}.bannedparticipants WHERE account_id = 1;

CREATE OR REPLACE VIEW profochat_legacy.gen_settings WITH (security_barrier) AS
SELECT id, bot_name, s_key, s_value FROM {{schema}}.gen_settings WHERE account_id = 1;

-- Writes.

CREATE OR REPLACE FUNCTION profochat_saas.legacy_run_write() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        -- A course id that is the public id of a copy shown under another id gets its own
        -- course first (course_for_write); the compatibility layer then maps it.
        PERFORM profochat_saas.course_for_write(NEW.course_id, NEW.botname);
        INSERT INTO {{schema}}.run (run_id, chat_id, username, botname, course_id, date_inserted, utm_source, utm_campaign, is_ended)
        VALUES (NEW.run_id, NEW.chat_id, NEW.username, NEW.botname, NEW.course_id, NEW.date_inserted,
                NEW.utm_source, NEW.utm_campaign, NEW.is_ended);
        RETURN NEW;
    ELSIF TG_OP = 'UPDATE' THEN
        UPDATE {{schema}}.run SET run_id = NEW.run_id, chat_id = NEW.chat_id, username = NEW.username, botname = NEW.botname,
                       course_id = CASE WHEN NEW.course_id IS NOT DISTINCT FROM OLD.course_id THEN course_id
                                        ELSE profochat_saas.course_for_write(NEW.course_id, NEW.botname) END,
                       date_inserted = NEW.date_inserted, utm_source = NEW.utm_source,
                       utm_campaign = NEW.utm_campaign, is_ended = NEW.is_ended
         WHERE run_id = OLD.run_id AND account_id = 1;
        RETURN NEW;
    END IF;
    DELETE FROM {{schema}}.run WHERE run_id = OLD.run_id AND account_id = 1;
    RETURN OLD;
END $$;

CREATE OR REPLACE FUNCTION profochat_saas.legacy_conversation_write() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_run int4;
    v_course text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM {{schema}}.conversation WHERE conversation_id = OLD.conversation_id AND account_id = 1;
        DELETE FROM profochat_saas.legacy_conversation_run WHERE conversation_id = OLD.conversation_id;
        RETURN OLD;
    END IF;
    -- A run_id that names no run (a run deleted long ago) is kept here, not in public; so
    -- is one of another account's run (not one of the legacy bot's: never linked to it).
    v_run := NEW.run_id;
    IF v_run IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {{schema}}.run WHERE run_id = v_run AND account_id = 1) THEN
        v_run := NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        -- A course id that is the public id of a copy shown under another id (see
        -- course_for_write): the course of that id of the run's bot (or the default bot's).
        v_course := NEW.course_id;
        IF EXISTS (SELECT 1 FROM profochat_saas.legacy_course_name WHERE course_id = v_course AND legacy_course_id <> v_course) THEN
            v_course := profochat_saas.course_for_write(v_course,
                (SELECT b.bot_name FROM {{schema}}.run r JOIN {{schema}}.bot b ON b.bot_id = r.bot_id WHERE r.run_id = v_run AND r.account_id = 1));
        END IF;
        INSERT INTO {{schema}}.conversation (conversation_id, chat_id, username, course_id, element_id, element_type, role,
                                  json, report, score, maxscore, date_inserted, run_id)
        VALUES (NEW.conversation_id, NEW.chat_id, NEW.username, v_course, NEW.element_id, NEW.element_type,
                NEW.role, NEW.json, NEW.report, NEW.score, NEW.maxscore, NEW.date_inserted, v_run);
    ELSE
        UPDATE {{schema}}.conversation SET conversation_id = NEW.conversation_id, chat_id = NEW.chat_id, username = NEW.username,
                                course_id = CASE WHEN NEW.course_id IS NOT DISTINCT FROM OLD.course_id THEN course_id
                                                 ELSE NEW.course_id END,
                                element_id = NEW.element_id, element_type = NEW.element_type, role = NEW.role,
                                json = NEW.json, report = NEW.report, score = NEW.score, maxscore = NEW.maxscore,
                                date_inserted = NEW.date_inserted, run_id = v_run
         WHERE conversation_id = OLD.conversation_id AND account_id = 1;
        DELETE FROM profochat_saas.legacy_conversation_run WHERE conversation_id = OLD.conversation_id;
    END IF;
    IF v_run IS DISTINCT FROM NEW.run_id THEN
        INSERT INTO profochat_saas.legacy_conversation_run (conversation_id, run_id) VALUES (NEW.conversation_id, NEW.run_id)
        ON CONFLICT (conversation_id) DO UPDATE SET run_id = EXCLUDED.run_id;
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION profochat_saas.legacy_waiting_element_write() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM profochat_saas.course_for_write(NEW.course_id, NEW.botname);
        INSERT INTO {{schema}}.waiting_element (waiting_element_id, chat_id, waiting_till_date, is_waiting, element_id, course_id, botname)
        VALUES (NEW.waiting_element_id, NEW.chat_id, NEW.waiting_till_date, NEW.is_waiting, NEW.element_id,
                NEW.course_id, NEW.botname);
        RETURN NEW;
    ELSIF TG_OP = 'UPDATE' THEN
        UPDATE {{schema}}.waiting_element
           SET waiting_element_id = NEW.waiting_element_id, chat_id = NEW.chat_id,
               waiting_till_date = NEW.waiting_till_date, is_waiting = NEW.is_waiting, element_id = NEW.element_id,
               course_id = CASE WHEN NEW.course_id IS NOT DISTINCT FROM OLD.course_id THEN course_id
                                ELSE profochat_saas.course_for_write(NEW.course_id, NEW.botname) END,
               botname = NEW.botname
         WHERE waiting_element_id = OLD.waiting_element_id AND account_id = 1;
        RETURN NEW;
    END IF;
    DELETE FROM {{schema}}.waiting_element WHERE waiting_element_id = OLD.waiting_element_id AND account_id = 1;
    RETURN OLD;
END $$;

-- course: a merged copy is a row of legacy_course_copy; any other row is the bot's
-- course in public (the compatibility layer decides what a delete or insert does there).
CREATE OR REPLACE FUNCTION profochat_saas.legacy_course_write() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        IF EXISTS (SELECT 1 FROM profochat_saas.legacy_course_copy WHERE course_id = OLD.course_id AND bot_name = OLD.bot_name) THEN
            IF TG_OP = 'DELETE' THEN
                DELETE FROM profochat_saas.legacy_course_copy WHERE course_id = OLD.course_id AND bot_name = OLD.bot_name;
                RETURN OLD;
            END IF;
            UPDATE profochat_saas.legacy_course_copy
               SET course_id = NEW.course_id, bot_name = NEW.bot_name, creator_id = NEW.creator_id,
                   date_created = NEW.date_created, yaml = NEW.yaml
             WHERE course_id = OLD.course_id AND bot_name = OLD.bot_name;
            RETURN NEW;
        END IF;
        IF TG_OP = 'DELETE' THEN
            DELETE FROM {{schema}}.course
             WHERE course_id = profochat_saas.course_for(OLD.course_id, OLD.bot_name)
               AND bot_name = OLD.bot_name AND account_id = 1;
            RETURN OLD;
        END IF;
        UPDATE {{schema}}.course SET creator_id = NEW.creator_id, date_created = NEW.date_created, yaml = NEW.yaml
         WHERE course_id = profochat_saas.course_for(OLD.course_id, OLD.bot_name)
           AND bot_name = OLD.bot_name AND account_id = 1;
        RETURN NEW;
    END IF;
    IF EXISTS (SELECT 1 FROM profochat_legacy.course WHERE course_id = NEW.course_id AND bot_name = NEW.bot_name) THEN
        RAISE unique_violation USING
            MESSAGE = 'duplicate key value violates unique constraint "course_pkey"',
            DETAIL = format('Key (course_id, bot_name)=(%s, %s) already exists.', NEW.course_id, NEW.bot_name);
    END IF;
    PERFORM profochat_saas.course_for_write(NEW.course_id, NEW.bot_name);
    INSERT INTO {{schema}}.course (course_id, bot_name, creator_id, date_created, yaml)
    VALUES (NEW.course_id, NEW.bot_name, NEW.creator_id, NEW.date_created, NEW.yaml);
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION profochat_saas.legacy_course_element_write() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_course text;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        IF EXISTS (SELECT 1 FROM profochat_saas.legacy_element_copy WHERE course_element_id = OLD.course_element_id) THEN
            IF TG_OP = 'DELETE' THEN
                DELETE FROM profochat_saas.legacy_element_copy WHERE course_element_id = OLD.course_element_id;
                RETURN OLD;
            END IF;
            UPDATE profochat_saas.legacy_element_copy
               SET course_element_id = NEW.course_element_id, element_id = NEW.element_id, json = NEW.json,
                   element_type = NEW.element_type, course_id = NEW.course_id, bot_name = NEW.bot_name
             WHERE course_element_id = OLD.course_element_id;
            RETURN NEW;
        END IF;
        IF TG_OP = 'DELETE' THEN
            DELETE FROM {{schema}}.course_element WHERE course_element_id = OLD.course_element_id AND account_id = 1;
            RETURN OLD;
        END IF;
        UPDATE {{schema}}.course_element
           SET course_element_id = NEW.course_element_id, element_id = NEW.element_id, json = NEW.json,
               element_type = NEW.element_type, bot_name = NEW.bot_name,
               course_id = CASE WHEN NEW.course_id IS NOT DISTINCT FROM OLD.course_id THEN course_id
                                ELSE profochat_saas.course_for_write(NEW.course_id, NEW.bot_name) END
         WHERE course_element_id = OLD.course_element_id AND account_id = 1;
        RETURN NEW;
    END IF;
    v_course := NEW.course_id;
    IF NEW.bot_name IS NULL THEN
        -- (No bot name: the compatibility layer leaves the course id as it is given, so a
        -- course id that is the public id of a copy shown under another id is mapped here.)
        IF EXISTS (SELECT 1 FROM profochat_saas.legacy_course_name WHERE course_id = v_course AND legacy_course_id <> v_course) THEN
            v_course := profochat_saas.course_for_write(v_course, NULL);
        END IF;
        PERFORM profochat_saas.ensure_course(v_course, NULL);
    ELSE
        PERFORM profochat_saas.course_for_write(NEW.course_id, NEW.bot_name);
    END IF;
    INSERT INTO {{schema}}.course_element (course_element_id, element_id, json, element_type, course_id, bot_name)
    VALUES (NEW.course_element_id, NEW.element_id, NEW.json, NEW.element_type, v_course, NEW.bot_name);
    RETURN NEW;
END $$;

DO $$
DECLARE
    t text;
    r record;
BEGIN
    FOREACH t IN ARRAY ARRAY['run', 'conversation', 'waiting_element', 'course', 'course_element'] LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS profochat_legacy_write ON profochat_legacy.%I', t);
        EXECUTE format('CREATE TRIGGER profochat_legacy_write INSTEAD OF INSERT OR UPDATE OR DELETE ON profochat_legacy.%I
                        FOR EACH ROW EXECUTE FUNCTION profochat_saas.%I()', t, 'legacy_' || t || '_write');
    END LOOP;
    -- Column defaults as the legacy tables have them (sequences, CURRENT_TIMESTAMP).
    FOR r IN
        SELECT c.relname, a.attname, pg_get_expr(d.adbin, d.adrelid) AS def
          FROM pg_attrdef d
          JOIN pg_class c ON c.oid = d.adrelid
          JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
          JOIN pg_class v ON v.relname = c.relname AND v.relnamespace = 'profochat_legacy'::regnamespace
          JOIN pg_attribute va ON va.attrelid = v.oid AND va.attname = a.attname
         WHERE c.oid IN ('conversation'::regclass, 'run'::regclass, 'waiting_element'::regclass, 'course'::regclass,
                         'course_element'::regclass, 'courseparticipants'::regclass,
                         'bannedparticipants'::regclass, 'gen_settings'::regclass)
    LOOP
        EXECUTE format('ALTER VIEW profochat_legacy.%I ALTER COLUMN %I SET DEFAULT %s', r.relname, r.attname, r.def);
    END LOOP;
    -- Whoever may use a legacy table may use its view, in the same way; nobody else may
    -- even look up names in the schema (earlier versions gave USAGE to PUBLIC: taken back
    -- here unless PUBLIC itself holds rights on a legacy table).
    EXECUTE 'REVOKE USAGE ON SCHEMA profochat_legacy FROM PUBLIC';
    FOR r IN
        SELECT c.relname, x.privilege_type, x.grantee
          FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) x
         WHERE c.oid IN ('conversation'::regclass, 'run'::regclass, 'waiting_element'::regclass, 'course'::regclass,
                         'course_element'::regclass, 'courseparticipants'::regclass,
                         'bannedparticipants'::regclass, 'gen_settings'::regclass)
           AND x.privilege_type IN ('SELECT', 'INSERT', 'UPDATE', 'DELETE')
           AND x.grantee <> c.relowner
    LOOP
        EXECUTE format('GRANT USAGE ON SCHEMA profochat_legacy TO %s',
                       CASE WHEN r.grantee = 0 THEN 'PUBLIC' ELSE r.grantee::regrole::text END);
        EXECUTE format('GRANT %s ON profochat_legacy.%I TO %s', r.privilege_type, r.relname,
                       CASE WHEN r.grantee = 0 THEN 'PUBLIC' ELSE r.grantee::regrole::text END);
    END LOOP;
END $$;
