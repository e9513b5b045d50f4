-- Enrolment for the application, in any language: one call when a bot receives
-- `/start <payload>`:
--
--     SELECT * FROM profochat_saas.enrol(payload, chat_id, username, bot);
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
-- `bot` is the bot's name in the bot table (the legacy BOT_NAME), as in run.botname.

-- A /start payload: `cd_<deployment_id>_<token>` (deployment_id a positive int4 without
-- leading zeros, token of A-Z a-z 0-9 _ -), or a bare token (tokens never start with
-- `cd_`); deployment_id is NULL for a bare token.
CREATE OR REPLACE FUNCTION profochat_saas.start_payload(payload text, OUT deployment_id int4, OUT token text)
LANGUAGE plpgsql IMMUTABLE AS $$
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

-- The token a payload carries, checked for an enrolment on `bot` now, with its
-- deployment; raises the refusal otherwise. Reads only: `enrol` locks the token row
-- before it calls this, so that the uses it sees are the latest.
CREATE OR REPLACE FUNCTION profochat_saas.enrolment_token(payload text, bot text)
RETURNS TABLE (token_id int4, deployment_id int4, course_id text, account_id int4, bot_id int4, bot_name text,
               token_type text, environment text, max_uses int4, current_uses int4, expires_at timestamp)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
    p record;
    t record;
BEGIN
    IF bot IS NULL OR btrim(bot) = '' THEN
        RAISE EXCEPTION USING ERRCODE = 'PC009',
            MESSAGE = 'no bot named: enrolment needs the name of the bot that received /start',
            HINT = 'Pass the bot''s name as in the bot table (the BOT_NAME the bot runs with).';
    END IF;
    SELECT * INTO p FROM profochat_saas.start_payload(payload);
    SELECT et.token_id, et.deployment_id, et.token_type, et.max_uses, coalesce(et.current_uses, 0) AS current_uses,
           et.expires_at, et.is_active IS NOT FALSE AS token_active,
           et.expires_at IS NOT NULL AND et.expires_at <= now() AS expired,
           d.course_id, d.account_id, d.bot_id, d.environment, d.is_active IS NOT FALSE AS deployment_active,
           b.bot_name
      INTO t
      FROM enrollment_token et
      JOIN course_deployment d ON d.deployment_id = et.deployment_id
      JOIN bot b ON b.bot_id = d.bot_id
     WHERE et.token = p.token;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'PC002',
            MESSAGE = 'unknown enrollment token: no such token',
            HINT = 'The link may be mistyped or the token deleted; `profochat-saas token list` shows the tokens.';
    END IF;
    IF p.deployment_id IS NOT NULL AND p.deployment_id <> t.deployment_id THEN
        RAISE EXCEPTION USING ERRCODE = 'PC007',
            MESSAGE = format('enrollment token #%s belongs to deployment %s, but the payload names deployment %s',
                             t.token_id, t.deployment_id, p.deployment_id),
            HINT = 'Use the link printed for the token: it names its own deployment.';
    END IF;
    IF t.bot_name <> btrim(enrolment_token.bot) THEN
        RAISE EXCEPTION USING ERRCODE = 'PC006',
            MESSAGE = format('enrollment token #%s is for bot %L (deployment %s), not for bot %L that received /start',
                             t.token_id, t.bot_name, t.deployment_id, btrim(enrolment_token.bot)),
            HINT = format('Share the link of a token of a deployment on bot %L (`profochat-saas token create --deployment ID`).',
                          btrim(enrolment_token.bot));
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

-- Enrols a chat: checks the token, ends the chat's active run on that bot, starts the
-- run with every new-schema value set (account, bot, deployment, token, active; the
-- legacy botname and course_id too, so that the legacy bot reads it as its own) and
-- counts the use. Returns the run.
CREATE OR REPLACE FUNCTION profochat_saas.enrol(payload text, chat_id int8, username text, bot text)
RETURNS TABLE (run_id int4, deployment_id int4, course_id text, account_id int4, bot_id int4, bot_name text,
               token_id int4, ended_previous_run int4)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
    p record;
    t record;
    new_run int4;
    previous int4;
    attempt int := 0;
    violated text;
BEGIN
    IF enrol.chat_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'PC009',
            MESSAGE = 'no chat id: enrolment needs the Telegram chat that sent /start',
            HINT = 'Pass message.chat.id as chat_id.';
    END IF;
    SELECT * INTO p FROM profochat_saas.start_payload(payload);
    -- Concurrent enrolments through one token wait here, one after the other; each then
    -- sees the uses the previous ones counted.
    PERFORM 1 FROM enrollment_token et WHERE et.token = p.token FOR UPDATE;
    SELECT * INTO t FROM profochat_saas.enrolment_token(payload, bot);
    -- Enrolments of one chat on one bot take turns too (the same key as the legacy bot's
    -- run inserts), so that each ends the run the one before it started.
    PERFORM pg_advisory_xact_lock(t.bot_id, hashint8(enrol.chat_id));
    LOOP
        BEGIN
            WITH ended AS (
                UPDATE run r SET is_active = false, ended_at = now()
                 WHERE r.bot_id = t.bot_id AND r.chat_id = enrol.chat_id AND r.is_active
                RETURNING r.run_id
            )
            SELECT max(e.run_id) INTO previous FROM ended e;
            INSERT INTO run (chat_id, username, botname, course_id, account_id, bot_id, deployment_id, token_id, is_active)
            VALUES (enrol.chat_id, enrol.username, t.bot_name, t.course_id, t.account_id, t.bot_id, t.deployment_id,
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
    UPDATE enrollment_token et SET current_uses = coalesce(et.current_uses, 0) + 1 WHERE et.token_id = t.token_id;
    RETURN QUERY SELECT new_run, t.deployment_id, t.course_id, t.account_id, t.bot_id, t.bot_name, t.token_id, previous;
END $$;
