-- Phase 7: the running legacy bot keeps working. Its statements (SPEC §1) still
-- succeed after the migration, and what they write gets its account, bot,
-- deployment and run links. Rows written through the new columns get their legacy
-- bot name filled. All of it lives in the profochat_saas schema, so `rollback`
-- removes it in one go.

-- The bot for a legacy bot name (NULL: the default bot), created if new.
CREATE OR REPLACE FUNCTION profochat_saas.bot_id_for(p_name text) RETURNS int4
LANGUAGE plpgsql AS $$
DECLARE
    resolved text := coalesce(p_name, (SELECT settings ->> 'default_bot' FROM account WHERE account_id = 1));
    found_id int4;
BEGIN
    IF resolved IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT bot_id INTO found_id FROM bot WHERE account_id = 1 AND bot_name = resolved;
    IF found_id IS NULL THEN
        INSERT INTO bot (account_id, bot_name, bot_token, display_name, description)
        VALUES (1, resolved,
                'profochat-saas-placeholder-' || md5(random()::text || clock_timestamp()::text || resolved),
                resolved, 'created when the legacy bot first wrote under this name')
        ON CONFLICT (account_id, bot_name) DO NOTHING
        RETURNING bot_id INTO found_id;
        IF found_id IS NULL THEN
            SELECT bot_id INTO found_id FROM bot WHERE account_id = 1 AND bot_name = resolved;
        END IF;
    END IF;
    RETURN found_id;
END $$;

-- The course a bot uses for a legacy course id: its renamed copy if it has one.
CREATE OR REPLACE FUNCTION profochat_saas.course_for(p_legacy_course_id text, p_bot int4) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT c.course_id FROM course c JOIN bot b ON b.bot_id = p_bot
          WHERE c.account_id = 1
            AND c.metadata ->> 'legacy_course_id' = p_legacy_course_id
            AND c.metadata ->> 'legacy_bot_name' = b.bot_name
          LIMIT 1),
        p_legacy_course_id)
$$;

-- A course row for an id that rows reference (as the migration does for YAML courses).
CREATE OR REPLACE FUNCTION profochat_saas.ensure_course(p_course text, p_bot int4) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_course IS NOT NULL AND NOT EXISTS (SELECT 1 FROM course WHERE course_id = p_course AND account_id = 1) THEN
        INSERT INTO course (course_id, bot_name, account_id, title, metadata)
        VALUES (p_course, coalesce((SELECT bot_name FROM bot WHERE bot_id = p_bot), ''), 1, p_course,
                jsonb_build_object('created_from', 'references'))
        ON CONFLICT DO NOTHING;
    END IF;
END $$;

-- The prod deployment of a course to a bot, created if new.
CREATE OR REPLACE FUNCTION profochat_saas.deployment_for(p_course text, p_bot int4) RETURNS int4
LANGUAGE plpgsql AS $$
DECLARE
    found_id int4;
BEGIN
    IF p_course IS NULL OR p_bot IS NULL THEN
        RETURN NULL;
    END IF;
    PERFORM profochat_saas.ensure_course(p_course, p_bot);
    SELECT deployment_id INTO found_id FROM course_deployment
     WHERE course_id = p_course AND account_id = 1 AND bot_id = p_bot AND environment = 'prod';
    IF found_id IS NULL THEN
        INSERT INTO course_deployment (course_id, account_id, bot_id, environment)
        VALUES (p_course, 1, p_bot, 'prod')
        ON CONFLICT (bot_id, course_id, account_id, environment) DO NOTHING
        RETURNING deployment_id INTO found_id;
        IF found_id IS NULL THEN
            SELECT deployment_id INTO found_id FROM course_deployment
             WHERE course_id = p_course AND account_id = 1 AND bot_id = p_bot AND environment = 'prod';
        END IF;
    END IF;
    RETURN found_id;
END $$;

-- run: links for legacy inserts; a new active run ends the chat's previous active
-- run on that bot; a legacy "course end" deactivates the run.
CREATE OR REPLACE FUNCTION profochat_saas.compat_run() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.is_ended IS TRUE AND OLD.is_ended IS DISTINCT FROM TRUE THEN
            NEW.is_active := false;
            NEW.ended_at := coalesce(NEW.ended_at, now());
        END IF;
        RETURN NEW;
    END IF;
    NEW.account_id := coalesce(NEW.account_id, 1);
    IF NEW.bot_id IS NULL THEN
        NEW.bot_id := profochat_saas.bot_id_for(NEW.botname);
    ELSIF NEW.botname IS NULL THEN
        NEW.botname := (SELECT bot_name FROM bot WHERE bot_id = NEW.bot_id);
    END IF;
    IF NEW.course_id IS NOT NULL AND NEW.deployment_id IS NULL THEN
        NEW.course_id := profochat_saas.course_for(NEW.course_id, NEW.bot_id);
        NEW.deployment_id := profochat_saas.deployment_for(NEW.course_id, NEW.bot_id);
    END IF;
    NEW.is_active := coalesce(NEW.is_active, true) AND NEW.is_ended IS NOT TRUE;
    IF NEW.is_active AND NEW.chat_id IS NOT NULL THEN
        -- Serialise enrolments of one chat on one bot, so two never both stay active.
        PERFORM pg_advisory_xact_lock(NEW.bot_id, hashint8(NEW.chat_id));
        UPDATE run SET is_active = false, ended_at = coalesce(ended_at, now())
         WHERE bot_id = NEW.bot_id AND chat_id = NEW.chat_id AND is_active;
    END IF;
    RETURN NEW;
END $$;

-- conversation: a message of a run on a renamed course copy follows the run's course.
CREATE OR REPLACE FUNCTION profochat_saas.compat_conversation() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    run_course text;
BEGIN
    NEW.account_id := coalesce(NEW.account_id, 1);
    IF NEW.run_id IS NOT NULL AND NEW.course_id IS NOT NULL THEN
        SELECT course_id INTO run_course FROM run WHERE run_id = NEW.run_id;
        IF run_course IS DISTINCT FROM NEW.course_id AND EXISTS (
               SELECT 1 FROM course WHERE course_id = run_course AND account_id = 1
                  AND metadata ->> 'legacy_course_id' = NEW.course_id) THEN
            NEW.course_id := run_course;
        END IF;
    END IF;
    RETURN NEW;
END $$;

-- waiting_element: bot, the course copy of that bot, and the newest run of the same
-- chat, course and bot.
CREATE OR REPLACE FUNCTION profochat_saas.compat_waiting_element() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.account_id := coalesce(NEW.account_id, 1);
    IF NEW.bot_id IS NULL THEN
        NEW.bot_id := profochat_saas.bot_id_for(NEW.botname);
    ELSIF NEW.botname IS NULL THEN
        NEW.botname := (SELECT bot_name FROM bot WHERE bot_id = NEW.bot_id);
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF NEW.course_id IS NOT NULL THEN
            NEW.course_id := profochat_saas.course_for(NEW.course_id, NEW.bot_id);
            PERFORM profochat_saas.deployment_for(NEW.course_id, NEW.bot_id);
        END IF;
        IF NEW.run_id IS NULL THEN
            NEW.run_id := (SELECT run_id FROM run
                            WHERE chat_id = NEW.chat_id AND bot_id = NEW.bot_id
                              AND course_id IS NOT DISTINCT FROM NEW.course_id
                            ORDER BY run_id DESC LIMIT 1);
        END IF;
    END IF;
    RETURN NEW;
END $$;

-- bannedparticipants: bot; a ban that already exists is not written twice.
CREATE OR REPLACE FUNCTION profochat_saas.compat_bannedparticipants() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.account_id := coalesce(NEW.account_id, 1);
    IF NEW.bot_id IS NULL THEN
        NEW.bot_id := profochat_saas.bot_id_for(NEW.botname);
    ELSIF NEW.botname IS NULL THEN
        NEW.botname := (SELECT bot_name FROM bot WHERE bot_id = NEW.bot_id);
    END IF;
    IF TG_OP = 'INSERT' AND EXISTS (
           SELECT 1 FROM bannedparticipants
            WHERE bot_id = NEW.bot_id AND chat_id = NEW.chat_id AND excluded = NEW.excluded) THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END $$;

-- courseparticipants: the course must exist; a participant already listed is not written twice.
CREATE OR REPLACE FUNCTION profochat_saas.compat_courseparticipants() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.account_id := coalesce(NEW.account_id, 1);
    PERFORM profochat_saas.ensure_course(NEW.course_id, NULL);
    IF TG_OP = 'INSERT' AND EXISTS (
           SELECT 1 FROM courseparticipants
            WHERE course_id = NEW.course_id AND account_id = NEW.account_id
              AND coalesce(chat_id, 0) = coalesce(NEW.chat_id, 0)
              AND coalesce(username, '') = coalesce(NEW.username, '')) THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END $$;

-- course: legacy publishing is "delete the (course_id, bot_name) row, insert it again".
-- A course with deployments or participants is never deleted by it (that would
-- cascade to deployments, tokens and participants, and runs restrict it); the insert then updates the bot's
-- own copy in place. A bot publishing a course it shared with other bots (a merged
-- copy) gets its own copy, and its deployment moves to it.
CREATE OR REPLACE FUNCTION profochat_saas.compat_course_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM course_deployment WHERE course_id = OLD.course_id AND account_id = OLD.account_id)
       OR EXISTS (SELECT 1 FROM courseparticipants WHERE course_id = OLD.course_id AND account_id = OLD.account_id) THEN
        RETURN NULL;
    END IF;
    RETURN OLD;
END $$;

CREATE OR REPLACE FUNCTION profochat_saas.compat_course() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_bot int4;
    v_target text;
    v_owner text;
    candidate text;
    n int := 1;
BEGIN
    NEW.account_id := coalesce(NEW.account_id, 1);
    IF TG_OP = 'UPDATE' OR coalesce(NEW.bot_name, '') = '' THEN
        NEW.title := coalesce(NEW.title, NEW.course_id);
        RETURN NEW;
    END IF;
    v_bot := profochat_saas.bot_id_for(NEW.bot_name);
    v_target := profochat_saas.course_for(NEW.course_id, v_bot);
    SELECT bot_name INTO v_owner FROM course WHERE course_id = v_target AND account_id = NEW.account_id;
    IF NOT FOUND THEN
        NEW.course_id := v_target;
        NEW.title := coalesce(NEW.title, NEW.course_id);
        RETURN NEW;
    END IF;
    IF v_owner = NEW.bot_name THEN
        -- Republishing: the elements are written again right after.
        DELETE FROM course_element WHERE course_id = v_target AND account_id = NEW.account_id
           AND coalesce(bot_name, NEW.bot_name) = NEW.bot_name;
        UPDATE course SET yaml = NEW.yaml, creator_id = NEW.creator_id, date_created = NEW.date_created,
                          is_active = true, updated_at = now()
         WHERE course_id = v_target AND account_id = NEW.account_id;
        RETURN NULL;
    END IF;
    candidate := NEW.course_id || '__' || NEW.bot_name;
    WHILE EXISTS (SELECT 1 FROM course WHERE course_id = candidate) LOOP
        n := n + 1;
        candidate := NEW.course_id || '__' || NEW.bot_name || '__' || n;
    END LOOP;
    NEW.title := coalesce(NEW.title, NEW.course_id);
    NEW.metadata := coalesce(NEW.metadata, '{}'::jsonb)
                    || jsonb_build_object('legacy_course_id', NEW.course_id, 'legacy_bot_name', NEW.bot_name,
                                          'split_from', v_target);
    NEW.course_id := candidate;
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION profochat_saas.compat_course_split() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.metadata ? 'split_from' THEN
        UPDATE course_deployment d SET course_id = NEW.course_id, updated_at = now()
          FROM bot b
         WHERE b.bot_id = d.bot_id AND b.bot_name = NEW.bot_name
           AND d.course_id = NEW.metadata ->> 'split_from' AND d.account_id = NEW.account_id;
    END IF;
    RETURN NULL;
END $$;

-- course_element: the element goes to the bot's copy of the course.
CREATE OR REPLACE FUNCTION profochat_saas.compat_course_element() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_bot int4;
BEGIN
    NEW.account_id := coalesce(NEW.account_id, 1);
    IF TG_OP = 'INSERT' AND NEW.course_id IS NOT NULL THEN
        v_bot := profochat_saas.bot_id_for(NEW.bot_name);
        IF v_bot IS NOT NULL THEN
            NEW.course_id := profochat_saas.course_for(NEW.course_id, v_bot);
            PERFORM profochat_saas.deployment_for(NEW.course_id, v_bot);
        ELSE
            PERFORM profochat_saas.ensure_course(NEW.course_id, NULL);
        END IF;
    END IF;
    RETURN NEW;
END $$;

-- gen_settings: account 1 and bot_id from bot_name (NULL stays a setting for every bot).
CREATE OR REPLACE FUNCTION profochat_saas.compat_gen_settings() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.account_id := coalesce(NEW.account_id, 1);
    IF NEW.bot_name IS NOT NULL THEN
        NEW.bot_id := profochat_saas.bot_id_for(NEW.bot_name);
    ELSIF NEW.bot_id IS NOT NULL THEN
        NEW.bot_name := (SELECT bot_name FROM bot WHERE bot_id = NEW.bot_id);
    END IF;
    IF TG_OP = 'UPDATE' THEN
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END $$;

DROP TRIGGER IF EXISTS profochat_saas_compat ON run;
CREATE TRIGGER profochat_saas_compat BEFORE INSERT OR UPDATE ON run
    FOR EACH ROW EXECUTE FUNCTION profochat_saas.compat_run();
DROP TRIGGER IF EXISTS profochat_saas_compat ON conversation;
CREATE TRIGGER profochat_saas_compat BEFORE INSERT ON conversation
    FOR EACH ROW EXECUTE FUNCTION profochat_saas.compat_conversation();
DROP TRIGGER IF EXISTS profochat_saas_compat ON waiting_element;
CREATE TRIGGER profochat_saas_compat BEFORE INSERT OR UPDATE ON waiting_element
    FOR EACH ROW EXECUTE FUNCTION profochat_saas.compat_waiting_element();
DROP TRIGGER IF EXISTS profochat_saas_compat ON bannedparticipants;
CREATE TRIGGER profochat_saas_compat BEFORE INSERT OR UPDATE ON bannedparticipants
    FOR EACH ROW EXECUTE FUNCTION profochat_saas.compat_bannedparticipants();
DROP TRIGGER IF EXISTS profochat_saas_compat ON courseparticipants;
CREATE TRIGGER profochat_saas_compat BEFORE INSERT ON courseparticipants
    FOR EACH ROW EXECUTE FUNCTION profochat_saas.compat_courseparticipants();
DROP TRIGGER IF EXISTS profochat_saas_compat ON course;
CREATE TRIGGER profochat_saas_compat BEFORE INSERT OR UPDATE ON course
    FOR EACH ROW EXECUTE FUNCTION profochat_saas.compat_course();
DROP TRIGGER IF EXISTS profochat_saas_compat_delete ON course;
CREATE TRIGGER profochat_saas_compat_delete BEFORE DELETE ON course
    FOR EACH ROW EXECUTE FUNCTION profochat_saas.compat_course_delete();
DROP TRIGGER IF EXISTS profochat_saas_compat_split ON course;
CREATE TRIGGER profochat_saas_compat_split AFTER INSERT ON course
    FOR EACH ROW EXECUTE FUNCTION profochat_saas.compat_course_split();
DROP TRIGGER IF EXISTS profochat_saas_compat ON course_element;
CREATE TRIGGER profochat_saas_compat BEFORE INSERT ON course_element
    FOR EACH ROW EXECUTE FUNCTION profochat_saas.compat_course_element();
DROP TRIGGER IF EXISTS profochat_saas_compat ON gen_settings;
CREATE TRIGGER profochat_saas_compat BEFORE INSERT OR UPDATE ON gen_settings
    FOR EACH ROW EXECUTE FUNCTION profochat_saas.compat_gen_settings();
