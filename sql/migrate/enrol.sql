-- Enrolment for the application, in any language: one call when a bot receives
-- `/start <payload>`:
--
--     SELECT * FROM profochat_saas.enrol(payload, chat_id, username, bot_id);  -- the bot's id
--     SELECT * FROM profochat_saas.enrol(payload, chat_id, username, bot);     -- or its name
--
-- It checks the token (known, of the payload's deployment, of a deployment on that very
-- bot, not revoked, not expired, uses left, deployment active), ends the chat's active
-- run on that bot, starts the new run with its account, bot, deployment and token, and
-- counts the use — all in the caller's statement, so all or nothing. Concurrent calls
-- through one token take turns on the token's row: a token of N uses enrols N chats.
-- The Rust library (src/ops/enrol.rs) calls these same functions.
--
-- Refusals raise an error with a SQLSTATE of class PC (documented in the README) and
-- a message that never contains the token:
--   PC001  malformed payload: not cd_<deployment_id>_<token> (or a bare token), or
--          longer than Telegram's 64 characters
--   PC002  unknown token
--   PC003  revoked token
--   PC004  expired token
--   PC005  used-up token (it reached max_uses)
--   PC006  wrong bot: the token's deployment is on another bot
--   PC007  wrong deployment: the payload names another deployment than the token's
--   PC008  the token's deployment is not active
--   PC009  a required argument (chat_id, bot) is missing
--   PC010  the bot name is not unique: bots of several accounts have it (pass bot_id)
-- `bot_id` is the bot's id in the bot table; `bot` its name there (the legacy BOT_NAME, as
-- in run.botname), which identifies it only while no other account names a bot alike.
-- A refusal never names another account's bot, deployment or token: a token of another
-- account's deployment is refused as not for this bot, and nothing more is said of it.
--
-- The functions run with the caller's rights (the application's role needs its rights on
-- the tables, and EXECUTE on these functions, see function_privileges.sql) and with a
-- fixed search_path: the caller's (the legacy interface's, say) changes nothing. {{schema}}
-- is the schema of the tables, filled in when they are installed.

-- A /start payload: `cd_<deployment_id>_<token>` (deployment_id a positive int4 without
-- leading zeros, token of A-Z a-z 0-9 _ -), or a bare token (tokens never start with
-- `cd_`); deployment_id is NULL for a bare token.
CREATE OR REPLACE FUNCTION profochat_saas.start_payload(payload text, OUT deployment_id int4, OUT token text)
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    text_in text := btrim(payload);
    m text[];
BEGIN
    IF text_in IS NULL OR text_in = '' OR octet_length(text_in) > 64 THEN
        RAISE EXCEPTION USING ERRCODE = 'PC001',
            MESSAGE = 'malformed start payload: empty, or longer than the 64 characters Telegram passes',
            HINT = 'Pass the text after /start as the bot received it: cd_<deployment_id>_<token>.';
    END IF;
    IF left(text_in, 3) <> 'cd_' THEN
        deployment_id := NULL;
        token := text_in;
        RETURN;
    END IF;
    m := regexp_match(text_in, '^cd_([1-9][0-9]{0,9})_([A-Za-z0-9_-]+)$');
    IF m IS NULL OR m[1]::int8 > 2147483647 THEN
        RAISE EXCEPTION USING ERRCODE = 'PC001',
            MESSAGE = 'malformed start payload: not of the form cd_<deployment_id>_<token>',
            HINT = 'Pass the text after /start as the bot received it; links made by `profochat-saas token create` carry such payloads.';
    END IF;
    deployment_id := m[1]::int4;
    token := m[2];
END $$;

-- The bot of a name: NULL when no bot has it; refused when none is given (PC009) or
-- when bots of several accounts have it (PC010).
CREATE OR REPLACE FUNCTION profochat_saas.enrolment_bot(bot text) RETURNS int4
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    ids int4[];
BEGIN
    IF bot IS NULL OR btrim(bot) = '' THEN
        RAISE EXCEPTION USING ERRCODE = 'PC009',
            MESSAGE = 'no bot named: enrolment needs the name of the bot that received /start',
            HINT = 'Pass the bot''s name as in the bot table (the BOT_NAME the bot runs with), or its bot_id.';
    END IF;
    SELECT array_agg(b.bot_id) INTO ids FROM {{schema}}.bot b WHERE b.bot_name = btrim(enrolment_bot.bot);
    IF cardinality(ids) > 1 THEN
        RAISE EXCEPTION USING ERRCODE = 'PC010',
            MESSAGE = format('bot name %L is not unique: bots of several accounts are named so, and the name does not say which one received /start',
                             btrim(enrolment_bot.bot)),
            HINT = 'Enrol by the bot''s id: profochat_saas.enrol(payload, chat_id, username, bot_id => <bot.bot_id of this bot>).';
    END IF;
    RETURN ids[1];
END $$;

-- The token a payload carries, checked for an enrolment now on the bot `p_bot` (NULL: a
-- name no bot has; `p_label` names it in refusals), with its deployment; raises the
-- refusal otherwise. Reads only: `enrol` locks the token row before it calls this, so
-- that the uses it sees are the latest.
CREATE OR REPLACE FUNCTION profochat_saas.enrolment_check(payload text, p_bot int4, p_label text)
RETURNS TABLE (token_id int4, deployment_id int4, course_id text, account_id int4, bot_id int4, bot_name text,
               token_type text, environment text, max_uses int4, current_uses int4, expires_at timestamp)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    p record;
    t record;
BEGIN
    SELECT * INTO p FROM profochat_saas.start_payload(payload);
    SELECT et.token_id, et.deployment_id, et.token_type, et.max_uses, coalesce(et.current_uses, 0) AS current_uses,
           et.expires_at, et.is_active IS NOT FALSE AS token_active,
           et.expires_at IS NOT NULL AND et.expires_at <= now() AS expired,
           d.course_id, d.account_id, d.bot_id, d.environment, d.is_active IS NOT FALSE AS deployment_active,
           b.bot_name, b.account_id = d.account_id
                       AND b.account_id = (SELECT r.account_id FROM {{schema}}.bot r WHERE r.bot_id = p_bot) AS same_account
      INTO t
      FROM {{schema}}.enrollment_token et
      JOIN {{schema}}.course_deployment d ON d.deployment_id = et.deployment_id
      JOIN {{schema}}.bot b ON b.bot_id = d.bot_id
     WHERE et.token = p.token;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'PC002',
            MESSAGE = 'unknown enrollment token: no such token',
            HINT = 'The link may be mistyped or the token deleted; `profochat-saas token list` shows the tokens.';
    END IF;
    -- (A token of another account's deployment: nothing of it is named.)
    IF t.bot_id IS DISTINCT FROM p_bot AND t.same_account IS NOT TRUE THEN
        RAISE EXCEPTION USING ERRCODE = 'PC006',
            MESSAGE = format('this enrollment token is not for bot %s that received /start', p_label),
            HINT = format('Share the link of a token of a deployment on bot %s (`profochat-saas token create --deployment ID`).', p_label);
    END IF;
    IF t.bot_id IS DISTINCT FROM p_bot THEN
        RAISE EXCEPTION USING ERRCODE = 'PC006',
            MESSAGE = format('enrollment token #%s is for bot %L (deployment %s), not for bot %s that received /start',
                             t.token_id, t.bot_name, t.deployment_id, p_label),
            HINT = format('Share the link of a token of a deployment on bot %s (`profochat-saas token create --deployment ID`).', p_label);
    END IF;
    IF p.deployment_id IS NOT NULL AND p.deployment_id <> t.deployment_id THEN
        RAISE EXCEPTION USING ERRCODE = 'PC007',
            MESSAGE = format('enrollment token #%s belongs to deployment %s, but the payload names deployment %s',
                             t.token_id, t.deployment_id, p.deployment_id),
            HINT = 'Use the link printed for the token: it names its own deployment.';
    END IF;
    IF NOT t.token_active THEN
        RAISE EXCEPTION USING ERRCODE = 'PC003',
            MESSAGE = format('enrollment token #%s was revoked', t.token_id),
            HINT = format('Create a new token: `profochat-saas token create --deployment %s`.', t.deployment_id);
    END IF;
    IF t.expired THEN
        RAISE EXCEPTION USING ERRCODE = 'PC004',
            MESSAGE = format('enrollment token #%s expired at %s', t.token_id, t.expires_at),
            HINT = format('Create a new token: `profochat-saas token create --deployment %s --expires-in 7d`.', t.deployment_id);
    END IF;
    IF t.max_uses IS NOT NULL AND t.current_uses >= t.max_uses THEN
        RAISE EXCEPTION USING ERRCODE = 'PC005',
            MESSAGE = format('enrollment token #%s is used up: it reached its maximum of %s use(s)', t.token_id, t.max_uses),
            HINT = format('Create a new token: `profochat-saas token create --deployment %s --max-uses N`.', t.deployment_id);
    END IF;
    IF NOT t.deployment_active THEN
        RAISE EXCEPTION USING ERRCODE = 'PC008',
            MESSAGE = format('deployment %s of enrollment token #%s is not active', t.deployment_id, t.token_id),
            HINT = 'Activate the deployment (course_deployment.is_active) or share a token of an active one.';
    END IF;
    RETURN QUERY SELECT t.token_id, t.deployment_id, t.course_id, t.account_id, t.bot_id, t.bot_name,
                        t.token_type, t.environment, t.max_uses, t.current_uses, t.expires_at;
END $$;

-- A bot_id given: refused when missing (PC009).
CREATE OR REPLACE FUNCTION profochat_saas.enrolment_bot_id(bot_id int4) RETURNS int4
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF bot_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'PC009',
            MESSAGE = 'no bot given: enrolment needs the bot_id of the bot that received /start',
            HINT = 'Pass the bot''s id as in the bot table (bot.bot_id).';
    END IF;
    RETURN bot_id;
END $$;

-- How refusals name the bot of an id: its name, or the id when no bot has it.
CREATE OR REPLACE FUNCTION profochat_saas.enrolment_bot_label(bot_id int4) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce((SELECT format('%L', b.bot_name) FROM {{schema}}.bot b WHERE b.bot_id = enrolment_bot_label.bot_id),
                    format('#%s', bot_id))
$$;

-- The check by the bot's name (`enrol`'s), or by its id.
CREATE OR REPLACE FUNCTION profochat_saas.enrolment_token(payload text, bot text)
RETURNS TABLE (token_id int4, deployment_id int4, course_id text, account_id int4, bot_id int4, bot_name text,
               token_type text, environment text, max_uses int4, current_uses int4, expires_at timestamp)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM profochat_saas.enrolment_check(payload, profochat_saas.enrolment_bot(bot), format('%L', btrim(bot)))
$$;

CREATE OR REPLACE FUNCTION profochat_saas.enrolment_token(payload text, bot_id int4)
RETURNS TABLE (token_id int4, deployment_id int4, course_id text, account_id int4, bot_id int4, bot_name text,
               token_type text, environment text, max_uses int4, current_uses int4, expires_at timestamp)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM profochat_saas.enrolment_check(payload, profochat_saas.enrolment_bot_id(bot_id), profochat_saas.enrolment_bot_label(bot_id))
$$;

-- Enrols a chat: checks the token, ends the chat's active run on that bot, starts the
-- run with every new-schema value set (account, bot, deployment, token, active; the
-- legacy botname and course_id too, so that the legacy bot reads it as its own) and
-- counts the use. Returns the run.
-- (enrolment_run does it for the bot `p_bot`, named `p_label` in refusals; `enrol` takes
-- the bot's id or its name.)
CREATE OR REPLACE FUNCTION profochat_saas.enrolment_run(payload text, chat_id int8, username text, p_bot int4, p_label text)
RETURNS TABLE (run_id int4, deployment_id int4, course_id text, account_id int4, bot_id int4, bot_name text,
               token_id int4, ended_previous_run int4)
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    p record;
    t record;
    new_run int4;
    previous int4;
    attempt int := 0;
    violated text;
BEGIN
    IF enrolment_run.chat_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'PC009',
            MESSAGE = 'no chat id: enrolment needs the Telegram chat that sent /start',
            HINT = 'Pass message.chat.id as chat_id.';
    END IF;
    SELECT * INTO p FROM profochat_saas.start_payload(payload);
    -- Concurrent enrolments through one token wait here, one after the other; each then
    -- sees the uses the previous ones counted.
    PERFORM 1 FROM {{schema}}.enrollment_token et WHERE et.token = p.token FOR UPDATE;
    SELECT * INTO t FROM profochat_saas.enrolment_check(payload, p_bot, p_label);
    -- Enrolments of one chat on one bot take turns too (the same key as the legacy bot's
    -- run inserts), so that each ends the run the one before it started.
    PERFORM pg_advisory_xact_lock(t.bot_id, hashint8(enrolment_run.chat_id));
    LOOP
        BEGIN
            WITH ended AS (
                UPDATE {{schema}}.run r SET is_active = false, ended_at = now()
                 WHERE r.bot_id = t.bot_id AND r.chat_id = enrolment_run.chat_id AND r.is_active
                RETURNING r.run_id
            )
            SELECT max(e.run_id) INTO previous FROM ended e;
            INSERT INTO {{schema}}.run (chat_id, username, botname, course_id, account_id, bot_id, deployment_id, token_id, is_active)
            VALUES (enrolment_run.chat_id, enrolment_run.username, t.bot_name, t.course_id, t.account_id, t.bot_id, t.deployment_id,
                    t.token_id, true)
            RETURNING run.run_id INTO new_run;
            EXIT;
        EXCEPTION WHEN unique_violation THEN
            -- A writer that does not take the chat's turn started an active run of this chat
            -- meanwhile: it is ended like any other, and the run inserted again.
            GET STACKED DIAGNOSTICS violated = CONSTRAINT_NAME;
            attempt := attempt + 1;
            IF violated IS DISTINCT FROM 'run_one_active_per_bot_chat' OR attempt >= 5 THEN
                RAISE;
            END IF;
        END;
    END LOOP;
    UPDATE {{schema}}.enrollment_token et SET current_uses = coalesce(et.current_uses, 0) + 1 WHERE et.token_id = t.token_id;
    RETURN QUERY SELECT new_run, t.deployment_id, t.course_id, t.account_id, t.bot_id, t.bot_name, t.token_id, previous;
END $$;

CREATE OR REPLACE FUNCTION profochat_saas.enrol(payload text, chat_id int8, username text, bot_id int4)
RETURNS TABLE (run_id int4, deployment_id int4, course_id text, account_id int4, bot_id int4, bot_name text,
               token_id int4, ended_previous_run int4)
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM profochat_saas.enrolment_run(payload, chat_id, username, profochat_saas.enrolment_bot_id(bot_id),
                                               profochat_saas.enrolment_bot_label(bot_id))
$$;

CREATE OR REPLACE FUNCTION profochat_saas.enrol(payload text, chat_id int8, username text, bot text)
RETURNS TABLE (run_id int4, deployment_id int4, course_id text, account_id int4, bot_id int4, bot_name text,
               token_id int4, ended_previous_run int4)
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM profochat_saas.enrolment_run(payload, chat_id, username, profochat_saas.enrolment_bot(bot),
                                               format('%L', btrim(bot)))
$$;
