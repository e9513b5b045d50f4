-- Phase 7: the compatibility layer on the public tables. A legacy bot that has not
-- switched to the legacy interface (8_legacy_interface.sql) still writes through the
-- public tables; what it writes gets its account, bot, deployment and run links here.
--
-- Only legacy-shaped writes are touched: a row that carries none of the new-schema
-- values (bot_id, deployment_id, token_id, another account, a title …). A write that
-- carries them is the application's own: never rewritten, nothing created for it,
-- nothing moved between accounts.
--
-- Reads pg_temp: nothing. Reads the legacy-memory tables of profochat_saas
-- (sql/state/schema.sql). Everything lives in profochat_saas, so `finish` and
-- `rollback` remove it in one go. Functions run as their owner (the migrating role),
-- with a search_path of pg_catalog and pg_temp (last) alone and every table named with
-- its schema ({{schema}}: the schema of the tables, filled in at install), so they act
-- the same whichever role or search_path calls them, and nothing a caller creates (a
-- temporary table, view or function) stands in for what they read or call. No role but
-- the owner may call them (function_privileges.sql).
--
-- Only account 1 (the legacy bot's) is ever read or written for a legacy-shaped write:
-- a bot, deployment, run or course of another account is never linked to, and another
-- account's course of the same id and bot name makes account 1's its own copy under a
-- new id (course_claim), shown under the legacy id by the legacy interface.

-- Signatures of earlier versions of this layer.
DROP FUNCTION IF EXISTS profochat_saas.course_for(text, int4);
DROP FUNCTION IF EXISTS profochat_saas.ensure_course(text, int4);

-- The default bot: the bot of rows written without a bot name.
CREATE OR REPLACE FUNCTION profochat_saas.default_bot() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT settings ->> 'default_bot' FROM {{schema}}.account WHERE account_id = 1
$$;

-- The bot for a legacy bot name (NULL: the default bot). A legacy write under a name
-- no bot has is a new bot really started: it is created, and `validate` lists it.
CREATE OR REPLACE FUNCTION profochat_saas.bot_id_for(p_name text) RETURNS int4
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    resolved text := coalesce(p_name, profochat_saas.default_bot());
    found_id int4;
BEGIN
    IF resolved IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT bot_id INTO found_id FROM {{schema}}.bot WHERE account_id = 1 AND bot_name = resolved;
    IF found_id IS NULL THEN
        INSERT INTO {{schema}}.bot (account_id, bot_name, bot_token, display_name, description, settings)
        VALUES (1, resolved,
                'profochat-saas-placeholder-' || md5(random()::text || clock_timestamp()::text || resolved),
                resolved, 'created when the legacy bot first wrote under this name',
                jsonb_build_object('created_by', 'legacy write'))
        ON CONFLICT (account_id, bot_name) DO NOTHING
        RETURNING bot_id INTO found_id;
        IF found_id IS NULL THEN
            SELECT bot_id INTO found_id FROM {{schema}}.bot WHERE account_id = 1 AND bot_name = resolved;
        END IF;
    END IF;
    RETURN found_id;
END $$;

-- The public course (account 1) that a bot's copy of a legacy course id is: its
-- renamed or split copy if it has one, else the id itself.
CREATE OR REPLACE FUNCTION profochat_saas.course_for(p_legacy_course_id text, p_bot_name text) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(
        (SELECT m.course_id FROM profochat_saas.legacy_course_map m
          WHERE m.legacy_course_id = p_legacy_course_id
            AND m.bot_name = coalesce(p_bot_name, profochat_saas.default_bot())),
        p_legacy_course_id)
$$;

-- A readable public id for a copy of legacy course p_legacy_course_id of bot p_bot that
-- no course, message or mapping uses yet: `<course>__<bot>`, else `<course>__<bot>__<n>`.
-- Called by the definer functions below, as their owner.
CREATE OR REPLACE FUNCTION profochat_saas.free_course_id(p_legacy_course_id text, p_bot text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    candidate text := p_legacy_course_id || '__' || p_bot;
    n int := 1;
BEGIN
    WHILE EXISTS (SELECT 1 FROM {{schema}}.course WHERE course_id = candidate)
       OR EXISTS (SELECT 1 FROM {{schema}}.conversation WHERE course_id = candidate)
       OR EXISTS (SELECT 1 FROM profochat_saas.legacy_course_map WHERE course_id = candidate)
       OR EXISTS (SELECT 1 FROM profochat_saas.legacy_course_name WHERE course_id = candidate) LOOP
        n := n + 1;
        candidate := p_legacy_course_id || '__' || p_bot || '__' || n;
    END LOOP;
    RETURN candidate;
END $$;

-- course_for for a write through the legacy interface (8_legacy_interface.sql). A legacy
-- course id that is itself the public id of a renamed or split copy shown under another
-- legacy id (`<course_id>__<bot_name>`, say a YAML course of that name) is a course of
-- its own for the legacy bot: written as it is, its rows would show under the other id.
-- It gets its own public id, mapped, so that the legacy interface shows it as the bot
-- wrote it. (Not for writes to the public tables: a bot that has not switched reads the
-- public ids, and writes them back meaning that very copy.)
CREATE OR REPLACE FUNCTION profochat_saas.course_for_write(p_legacy_course_id text, p_bot_name text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_bot text := coalesce(p_bot_name, profochat_saas.default_bot());
    v_target text := profochat_saas.course_for(p_legacy_course_id, p_bot_name);
    candidate text;
BEGIN
    IF v_target IS NULL OR v_bot IS NULL
       OR NOT EXISTS (SELECT 1 FROM profochat_saas.legacy_course_name
                       WHERE course_id = v_target AND legacy_course_id <> p_legacy_course_id) THEN
        RETURN v_target;
    END IF;
    candidate := profochat_saas.free_course_id(p_legacy_course_id, v_bot);
    INSERT INTO profochat_saas.legacy_course_map (legacy_course_id, bot_name, course_id)
    VALUES (p_legacy_course_id, v_bot, candidate)
    ON CONFLICT (legacy_course_id, bot_name) DO NOTHING;
    -- (A concurrent write of the same bot may have mapped it first: its id is the one.)
    SELECT course_id INTO candidate FROM profochat_saas.legacy_course_map
     WHERE legacy_course_id = p_legacy_course_id AND bot_name = v_bot;
    INSERT INTO profochat_saas.legacy_course_name (course_id, legacy_course_id) VALUES (candidate, p_legacy_course_id)
    ON CONFLICT (course_id) DO NOTHING;
    RETURN candidate;
END $$;

-- course_for for a legacy-shaped write that may create account 1's course: when the
-- public id it gives is free in account 1 but another account has a course of that id
-- under the same bot name (the key (course_id, bot_name) is shared by every account),
-- account 1's copy gets an id of its own, mapped, so that the legacy interface shows it
-- under the legacy id and the other account's rows change nothing of what the legacy
-- bot's statements do.
CREATE OR REPLACE FUNCTION profochat_saas.course_claim(p_legacy_course_id text, p_bot_name text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_bot text := coalesce(p_bot_name, profochat_saas.default_bot());
    v_target text := profochat_saas.course_for(p_legacy_course_id, p_bot_name);
    candidate text;
BEGIN
    IF v_target IS NULL OR v_bot IS NULL
       OR EXISTS (SELECT 1 FROM {{schema}}.course WHERE course_id = v_target AND account_id = 1)
       OR NOT EXISTS (SELECT 1 FROM {{schema}}.course WHERE course_id = v_target AND bot_name = v_bot AND account_id <> 1) THEN
        RETURN v_target;
    END IF;
    candidate := profochat_saas.free_course_id(p_legacy_course_id, v_bot);
    INSERT INTO profochat_saas.legacy_course_map (legacy_course_id, bot_name, course_id)
    VALUES (p_legacy_course_id, v_bot, candidate)
    ON CONFLICT (legacy_course_id, bot_name) DO UPDATE SET course_id = EXCLUDED.course_id;
    INSERT INTO profochat_saas.legacy_course_name (course_id, legacy_course_id) VALUES (candidate, p_legacy_course_id)
    ON CONFLICT (course_id) DO UPDATE SET legacy_course_id = EXCLUDED.legacy_course_id;
    RETURN candidate;
END $$;

-- A course row for an id that legacy rows reference (a course that lives in a YAML
-- file), as the migration makes them: hidden from the legacy interface.
CREATE OR REPLACE FUNCTION profochat_saas.ensure_course(p_course text, p_bot_name text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF p_course IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {{schema}}.course WHERE course_id = p_course AND account_id = 1) THEN
        INSERT INTO {{schema}}.course (course_id, bot_name, account_id, title, metadata, date_created)
        VALUES (p_course, coalesce(p_bot_name, profochat_saas.default_bot(), ''), 1, p_course,
                jsonb_build_object('created_from', 'references'), NULL)
        ON CONFLICT DO NOTHING;
        INSERT INTO profochat_saas.legacy_hidden_course (course_id, reason) VALUES (p_course, 'references')
        ON CONFLICT DO NOTHING;
    END IF;
END $$;

-- The prod deployment of a course to a bot, created if new.
CREATE OR REPLACE FUNCTION profochat_saas.deployment_for(p_course text, p_bot int4) RETURNS int4
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    found_id int4;
BEGIN
    -- (Account 1's bots only: the deployment is account 1's.)
    IF p_course IS NULL OR p_bot IS NULL
       OR NOT EXISTS (SELECT 1 FROM {{schema}}.bot WHERE bot_id = p_bot AND account_id = 1) THEN
        RETURN NULL;
    END IF;
    PERFORM profochat_saas.ensure_course(p_course, (SELECT bot_name FROM {{schema}}.bot WHERE bot_id = p_bot));
    SELECT deployment_id INTO found_id FROM {{schema}}.course_deployment
     WHERE course_id = p_course AND account_id = 1 AND bot_id = p_bot AND environment = 'prod';
    IF found_id IS NULL THEN
        INSERT INTO {{schema}}.course_deployment (course_id, account_id, bot_id, environment)
        VALUES (p_course, 1, p_bot, 'prod')
        ON CONFLICT (bot_id, course_id, account_id, environment) DO NOTHING
        RETURNING deployment_id INTO found_id;
        IF found_id IS NULL THEN
            SELECT deployment_id INTO found_id FROM {{schema}}.course_deployment
             WHERE course_id = p_course AND account_id = 1 AND bot_id = p_bot AND environment = 'prod';
        END IF;
    END IF;
    RETURN found_id;
END $$;

-- run. Start a course (legacy insert): bot, the bot's copy of the course, its
-- deployment; the chat's previous active run on that bot is superseded (the legacy
-- bot never ends it). Course end (legacy update of is_ended alone): the run is no
-- longer active.
CREATE OR REPLACE FUNCTION profochat_saas.compat_run() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_name text;
BEGIN
    -- The online migration's own batches (their changes are archived).
    IF current_setting('profochat_saas.backfill', true) = 'on' THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        -- (A run of another account is the application's own: its is_active and
        -- ended_at are the application's to set.)
        IF NEW.account_id IS NOT DISTINCT FROM 1
           AND NEW.is_ended IS TRUE AND OLD.is_ended IS DISTINCT FROM TRUE
           AND NEW.is_active IS NOT DISTINCT FROM OLD.is_active
           AND NEW.ended_at IS NOT DISTINCT FROM OLD.ended_at THEN
            PERFORM profochat_saas.note_legacy_write();
            NEW.is_active := false;
            NEW.ended_at := now();
        END IF;
        RETURN NEW;
    END IF;
    IF NEW.bot_id IS NOT NULL OR NEW.deployment_id IS NOT NULL OR NEW.token_id IS NOT NULL
       OR NEW.account_id IS DISTINCT FROM 1 THEN
        RETURN NEW;
    END IF;
    PERFORM profochat_saas.note_legacy_write();
    v_name := coalesce(NEW.botname, profochat_saas.default_bot());
    NEW.bot_id := profochat_saas.bot_id_for(v_name);
    IF NEW.bot_id IS NULL THEN
        RETURN NEW;
    END IF;
    IF NEW.course_id IS NOT NULL THEN
        NEW.course_id := profochat_saas.course_claim(NEW.course_id, v_name);
        NEW.deployment_id := profochat_saas.deployment_for(NEW.course_id, NEW.bot_id);
    END IF;
    NEW.is_active := NEW.is_ended IS NOT TRUE;
    IF NEW.is_active AND NEW.chat_id IS NOT NULL THEN
        -- Serialise starts of one chat on one bot, so two never both stay active.
        PERFORM pg_advisory_xact_lock(NEW.bot_id, hashint8(NEW.chat_id));
        UPDATE {{schema}}.run SET is_active = false, ended_at = coalesce(ended_at, now())
         WHERE bot_id = NEW.bot_id AND chat_id = NEW.chat_id AND is_active;
    END IF;
    RETURN NEW;
END $$;

-- conversation (legacy: account 1, the default): a message of a run on a renamed
-- course copy goes to that copy; a run_id that names no run of account 1 (the legacy
-- schema had no foreign key; another account's run is none of the legacy bot's) is
-- kept for the legacy interface, and public holds NULL.
CREATE OR REPLACE FUNCTION profochat_saas.compat_conversation() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_name text;
BEGIN
    -- The online migration's own batches (their changes are archived).
    IF current_setting('profochat_saas.backfill', true) = 'on' THEN
        RETURN NEW;
    END IF;
    IF NEW.account_id IS DISTINCT FROM 1 OR NEW.run_id IS NULL THEN
        RETURN NEW;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM {{schema}}.run WHERE run_id = NEW.run_id AND account_id = 1) THEN
        INSERT INTO profochat_saas.legacy_conversation_run (conversation_id, run_id) VALUES (NEW.conversation_id, NEW.run_id)
        ON CONFLICT (conversation_id) DO UPDATE SET run_id = EXCLUDED.run_id;
        NEW.run_id := NULL;
        RETURN NEW;
    END IF;
    IF NEW.course_id IS NULL
       OR NOT EXISTS (SELECT 1 FROM profochat_saas.legacy_course_map WHERE legacy_course_id = NEW.course_id) THEN
        RETURN NEW;
    END IF;
    SELECT b.bot_name INTO v_name FROM {{schema}}.run r JOIN {{schema}}.bot b ON b.bot_id = r.bot_id
     WHERE r.run_id = NEW.run_id AND r.account_id = 1;
    IF FOUND THEN
        NEW.course_id := profochat_saas.course_for(NEW.course_id, v_name);
    END IF;
    RETURN NEW;
END $$;

-- waiting_element (legacy: no bot_id, no run_id): bot, the bot's copy of the course,
-- and the newest run of the same chat, course and bot.
CREATE OR REPLACE FUNCTION profochat_saas.compat_waiting_element() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_name text;
    v_legacy_course text := NEW.course_id;
BEGIN
    -- The online migration's own batches (their changes are archived).
    IF current_setting('profochat_saas.backfill', true) = 'on' THEN
        RETURN NEW;
    END IF;
    IF NEW.bot_id IS NOT NULL OR NEW.run_id IS NOT NULL OR NEW.account_id IS DISTINCT FROM 1 THEN
        RETURN NEW;
    END IF;
    PERFORM profochat_saas.note_legacy_write();
    v_name := coalesce(NEW.botname, profochat_saas.default_bot());
    NEW.bot_id := profochat_saas.bot_id_for(v_name);
    IF NEW.course_id IS NOT NULL AND NEW.bot_id IS NOT NULL THEN
        NEW.course_id := profochat_saas.course_claim(NEW.course_id, v_name);
        PERFORM profochat_saas.deployment_for(NEW.course_id, NEW.bot_id);
    END IF;
    -- A run of before an online migration that its backfill has not linked yet
    -- counts too, found by its legacy course id and bot name as the backfill links it.
    NEW.run_id := GREATEST(
        (SELECT max(run_id) FROM {{schema}}.run
          WHERE chat_id = NEW.chat_id AND bot_id = NEW.bot_id AND account_id = 1
            AND course_id IS NOT DISTINCT FROM NEW.course_id),
        (SELECT max(run_id) FROM {{schema}}.run
          WHERE chat_id = NEW.chat_id AND bot_id IS NULL AND account_id = 1 AND NEW.bot_id IS NOT NULL
            AND course_id IS NOT DISTINCT FROM v_legacy_course
            AND coalesce(botname, profochat_saas.default_bot()) = v_name));
    RETURN NEW;
END $$;

-- bannedparticipants (legacy: no bot_id): the bot; a ban already in place under the
-- unique key (bot, chat, excluded) is not written twice (the legacy reads answer alike).
CREATE OR REPLACE FUNCTION profochat_saas.compat_bannedparticipants() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- The online migration's own batches (their changes are archived).
    IF current_setting('profochat_saas.backfill', true) = 'on' THEN
        RETURN NEW;
    END IF;
    IF NEW.bot_id IS NOT NULL OR NEW.account_id IS DISTINCT FROM 1 THEN
        RETURN NEW;
    END IF;
    PERFORM profochat_saas.note_legacy_write();
    NEW.bot_id := profochat_saas.bot_id_for(NEW.botname);
    IF EXISTS (SELECT 1 FROM {{schema}}.bannedparticipants
                WHERE bot_id = NEW.bot_id AND chat_id = NEW.chat_id AND excluded = NEW.excluded) THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END $$;

-- courseparticipants (legacy: account 1, no chat_id, no added_by): the course must
-- exist for the foreign key; a participant already listed is not written twice.
CREATE OR REPLACE FUNCTION profochat_saas.compat_courseparticipants() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- The online migration's own batches (their changes are archived).
    IF current_setting('profochat_saas.backfill', true) = 'on' THEN
        RETURN NEW;
    END IF;
    IF NEW.account_id IS DISTINCT FROM 1 OR NEW.chat_id IS NOT NULL OR NEW.added_by IS NOT NULL THEN
        RETURN NEW;
    END IF;
    PERFORM profochat_saas.ensure_course(NEW.course_id, NULL);
    IF EXISTS (SELECT 1 FROM {{schema}}.courseparticipants
                WHERE course_id = NEW.course_id AND account_id = 1
                  AND coalesce(chat_id, 0) = 0
                  AND coalesce(username, '') = coalesce(NEW.username, '')) THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END $$;

-- course, publishing (legacy: account 1, no title, description, metadata or
-- updated_at). The legacy bot deletes its (course_id, bot_name) row and inserts it
-- again; a course with deployments, participants or elements is never deleted by
-- that (it would cascade to deployments and tokens, and runs restrict it): it is
-- hidden from the legacy interface instead, and the insert that follows brings it
-- back in place with the new content. A bot publishing a course whose row is another
-- bot's (an identical copy merged into it) gets its own course, and only its own
-- deployment, runs and rows move to it.
CREATE OR REPLACE FUNCTION profochat_saas.compat_course_delete() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- The online migration's own batches (their changes are archived).
    IF current_setting('profochat_saas.backfill', true) = 'on' THEN
        RETURN OLD;
    END IF;
    IF OLD.account_id IS DISTINCT FROM 1 THEN
        RETURN OLD;
    END IF;
    IF EXISTS (SELECT 1 FROM {{schema}}.course_deployment WHERE course_id = OLD.course_id AND account_id = 1)
       OR EXISTS (SELECT 1 FROM {{schema}}.courseparticipants WHERE course_id = OLD.course_id AND account_id = 1)
       OR EXISTS (SELECT 1 FROM {{schema}}.course_element WHERE course_id = OLD.course_id AND account_id = 1)
       OR EXISTS (SELECT 1 FROM profochat_saas.legacy_course_copy c
                   WHERE profochat_saas.course_for(c.course_id, c.bot_name) = OLD.course_id) THEN
        INSERT INTO profochat_saas.legacy_hidden_course (course_id, reason) VALUES (OLD.course_id, 'removed')
        ON CONFLICT (course_id) DO NOTHING;
        RETURN NULL;
    END IF;
    DELETE FROM profochat_saas.legacy_hidden_course WHERE course_id = OLD.course_id;
    RETURN OLD;
END $$;

CREATE OR REPLACE FUNCTION profochat_saas.compat_course() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_legacy text := NEW.course_id;
    v_target text;
    v_bot int4;
    v_owner text;
    v_hidden text;
    candidate text;
    n int := 1;
BEGIN
    -- The online migration's own batches (their changes are archived).
    IF current_setting('profochat_saas.backfill', true) = 'on' THEN
        RETURN NEW;
    END IF;
    IF NEW.account_id IS DISTINCT FROM 1 OR NEW.title IS NOT NULL OR NEW.description IS NOT NULL
       OR NEW.metadata IS NOT NULL OR NEW.updated_at IS NOT NULL OR NEW.bot_name IS NULL THEN
        RETURN NEW;
    END IF;
    PERFORM profochat_saas.note_legacy_write();
    -- (The legacy interface refuses a (course_id, bot_name) that is there already, as the
    -- legacy key did. A bot writing to the public tables cannot reach its merged copy or
    -- its renamed course under the legacy id to delete them first: its insert replaces them.)
    DELETE FROM profochat_saas.legacy_element_copy WHERE course_id = v_legacy AND bot_name = NEW.bot_name;
    DELETE FROM profochat_saas.legacy_course_copy WHERE course_id = v_legacy AND bot_name = NEW.bot_name;
    v_target := profochat_saas.course_claim(v_legacy, NEW.bot_name);
    v_bot := profochat_saas.bot_id_for(NEW.bot_name);
    SELECT c.bot_name, h.reason INTO v_owner, v_hidden
      FROM {{schema}}.course c LEFT JOIN profochat_saas.legacy_hidden_course h ON h.course_id = c.course_id
     WHERE c.course_id = v_target AND c.account_id = 1;
    IF NOT FOUND THEN
        -- A new course (or the bot's own renamed copy, published again after it went).
        INSERT INTO {{schema}}.course (course_id, bot_name, account_id, creator_id, date_created, yaml, title, metadata)
        VALUES (v_target, NEW.bot_name, 1, NEW.creator_id, NEW.date_created, NEW.yaml, v_legacy,
                CASE WHEN v_target <> v_legacy
                     THEN jsonb_build_object('legacy_course_id', v_legacy, 'legacy_bot_name', NEW.bot_name) END);
        PERFORM profochat_saas.deployment_for(v_target, v_bot);
        RETURN NULL;
    END IF;
    IF v_hidden = 'references' OR v_owner = NEW.bot_name THEN
        -- The bot publishes again its own course (removed before, or not reachable under
        -- its legacy id), or a course known so far only from references: the row takes
        -- the content, deployments and tokens stay.
        IF v_owner = NEW.bot_name THEN
            DELETE FROM {{schema}}.course_element WHERE course_id = v_target AND account_id = 1 AND bot_name = NEW.bot_name;
        END IF;
        UPDATE {{schema}}.course SET bot_name = NEW.bot_name, creator_id = NEW.creator_id, date_created = NEW.date_created,
                          yaml = NEW.yaml, is_active = true, updated_at = now(),
                          metadata = CASE WHEN v_hidden = 'references' THEN metadata - 'created_from' ELSE metadata END
         WHERE course_id = v_target AND account_id = 1;
        DELETE FROM profochat_saas.legacy_hidden_course WHERE course_id = v_target;
        PERFORM profochat_saas.deployment_for(v_target, v_bot);
        RETURN NULL;
    END IF;
    -- Another bot's course: this bot gets its own, under a new readable id.
    candidate := v_legacy || '__' || NEW.bot_name;
    -- (Not an id that messages name either: they would show under the legacy id.)
    WHILE EXISTS (SELECT 1 FROM {{schema}}.course WHERE course_id = candidate)
       OR EXISTS (SELECT 1 FROM {{schema}}.conversation WHERE course_id = candidate)
       OR EXISTS (SELECT 1 FROM profochat_saas.legacy_course_map WHERE course_id = candidate) LOOP
        n := n + 1;
        candidate := v_legacy || '__' || NEW.bot_name || '__' || n;
    END LOOP;
    INSERT INTO {{schema}}.course (course_id, bot_name, account_id, creator_id, date_created, yaml, title, metadata)
    VALUES (candidate, NEW.bot_name, 1, NEW.creator_id, NEW.date_created, NEW.yaml, v_legacy,
            jsonb_build_object('legacy_course_id', v_legacy, 'legacy_bot_name', NEW.bot_name, 'split_from', v_target));
    INSERT INTO profochat_saas.legacy_course_map (legacy_course_id, bot_name, course_id)
    VALUES (v_legacy, NEW.bot_name, candidate)
    ON CONFLICT (legacy_course_id, bot_name) DO UPDATE SET course_id = EXCLUDED.course_id;
    INSERT INTO profochat_saas.legacy_course_name (course_id, legacy_course_id) VALUES (candidate, v_legacy)
    ON CONFLICT (course_id) DO UPDATE SET legacy_course_id = EXCLUDED.legacy_course_id;
    -- Only this bot's deployment, runs, delays, messages and elements follow.
    UPDATE {{schema}}.course_deployment SET course_id = candidate, updated_at = now()
     WHERE course_id = v_target AND account_id = 1 AND bot_id = v_bot;
    IF NOT FOUND THEN
        PERFORM profochat_saas.deployment_for(candidate, v_bot);
    END IF;
    UPDATE {{schema}}.conversation c SET course_id = candidate
      FROM {{schema}}.run r
     WHERE c.run_id = r.run_id AND r.bot_id = v_bot AND r.account_id = 1 AND r.course_id = v_target
       AND c.course_id = v_target AND c.account_id = 1;
    UPDATE {{schema}}.run SET course_id = candidate WHERE course_id = v_target AND account_id = 1 AND bot_id = v_bot;
    UPDATE {{schema}}.waiting_element SET course_id = candidate WHERE course_id = v_target AND account_id = 1 AND bot_id = v_bot;
    UPDATE {{schema}}.course_element SET course_id = candidate
     WHERE course_id = v_target AND account_id = 1 AND bot_name = NEW.bot_name;
    RETURN NULL;
END $$;

-- course_element (legacy: account 1 and a bot name): the element goes to the bot's
-- copy of the course; a course known only from references is made for the foreign key.
CREATE OR REPLACE FUNCTION profochat_saas.compat_course_element() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- The online migration's own batches (their changes are archived).
    IF current_setting('profochat_saas.backfill', true) = 'on' THEN
        RETURN NEW;
    END IF;
    IF NEW.account_id IS DISTINCT FROM 1 OR NEW.bot_name IS NULL OR NEW.course_id IS NULL THEN
        RETURN NEW;
    END IF;
    NEW.course_id := profochat_saas.course_claim(NEW.course_id, NEW.bot_name);
    PERFORM profochat_saas.ensure_course(NEW.course_id, NEW.bot_name);
    RETURN NEW;
END $$;

-- gen_settings (legacy: no bot_id): bot_id from bot_name; NULL stays a setting for every bot.
CREATE OR REPLACE FUNCTION profochat_saas.compat_gen_settings() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- The online migration's own batches (their changes are archived).
    IF current_setting('profochat_saas.backfill', true) = 'on' THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        IF NEW.bot_id IS NOT DISTINCT FROM OLD.bot_id AND NEW.bot_name IS DISTINCT FROM OLD.bot_name
           AND NEW.account_id IS NOT DISTINCT FROM 1 THEN
            NEW.bot_id := CASE WHEN NEW.bot_name IS NULL THEN NULL ELSE profochat_saas.bot_id_for(NEW.bot_name) END;
        END IF;
        RETURN NEW;
    END IF;
    IF NEW.bot_id IS NOT NULL OR NEW.account_id IS DISTINCT FROM 1 OR NEW.bot_name IS NULL THEN
        RETURN NEW;
    END IF;
    NEW.bot_id := profochat_saas.bot_id_for(NEW.bot_name);
    RETURN NEW;
END $$;

DROP TRIGGER IF EXISTS profochat_saas_compat ON run;
-- (Not called at all for the online migration's own batches: they update every row.)
CREATE TRIGGER profochat_saas_compat BEFORE INSERT OR UPDATE ON run
    FOR EACH ROW WHEN (current_setting('profochat_saas.backfill', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION profochat_saas.compat_run();
DROP TRIGGER IF EXISTS profochat_saas_compat ON conversation;
CREATE TRIGGER profochat_saas_compat BEFORE INSERT ON conversation
    FOR EACH ROW EXECUTE FUNCTION profochat_saas.compat_conversation();
DROP TRIGGER IF EXISTS profochat_saas_compat ON waiting_element;
CREATE TRIGGER profochat_saas_compat BEFORE INSERT ON waiting_element
    FOR EACH ROW EXECUTE FUNCTION profochat_saas.compat_waiting_element();
DROP TRIGGER IF EXISTS profochat_saas_compat ON bannedparticipants;
CREATE TRIGGER profochat_saas_compat BEFORE INSERT ON bannedparticipants
    FOR EACH ROW EXECUTE FUNCTION profochat_saas.compat_bannedparticipants();
DROP TRIGGER IF EXISTS profochat_saas_compat ON courseparticipants;
CREATE TRIGGER profochat_saas_compat BEFORE INSERT ON courseparticipants
    FOR EACH ROW EXECUTE FUNCTION profochat_saas.compat_courseparticipants();
DROP TRIGGER IF EXISTS profochat_saas_compat ON course;
CREATE TRIGGER profochat_saas_compat BEFORE INSERT ON course
    FOR EACH ROW EXECUTE FUNCTION profochat_saas.compat_course();
DROP TRIGGER IF EXISTS profochat_saas_compat_delete ON course;
CREATE TRIGGER profochat_saas_compat_delete BEFORE DELETE ON course
    FOR EACH ROW EXECUTE FUNCTION profochat_saas.compat_course_delete();
DROP TRIGGER IF EXISTS profochat_saas_compat_split ON course;
DROP FUNCTION IF EXISTS profochat_saas.compat_course_split();
DROP TRIGGER IF EXISTS profochat_saas_compat ON course_element;
CREATE TRIGGER profochat_saas_compat BEFORE INSERT ON course_element
    FOR EACH ROW EXECUTE FUNCTION profochat_saas.compat_course_element();
DROP TRIGGER IF EXISTS profochat_saas_compat ON gen_settings;
-- (Not called at all for the online migration's own batches: they update every row.)
CREATE TRIGGER profochat_saas_compat BEFORE INSERT OR UPDATE ON gen_settings
    FOR EACH ROW WHEN (current_setting('profochat_saas.backfill', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION profochat_saas.compat_gen_settings();
