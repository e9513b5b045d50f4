-- Phase 7, before the compatibility layer: when did the legacy bot last write, and
-- from which session? `finish` refuses while a legacy-shaped write is recent or its
-- session still connected.
--
-- The compatibility triggers call note_legacy_write() on every legacy-shaped write
-- (a course start or end, a waiting element, a ban, a course published). It costs a
-- setting read per call: each session writes its own row here at most once every 10
-- seconds (remembered in the session setting profochat_saas.legacy_write_noted), so
-- the bot's writes never wait on each other for it. The time recorded is therefore
-- up to 10 seconds older than the newest legacy-shaped write.

CREATE TABLE IF NOT EXISTS profochat_saas.legacy_write (
    pid              int4 PRIMARY KEY,     -- the writing session (pg_stat_activity.pid)
    usename          text NOT NULL,        -- its login role
    application_name text NOT NULL,
    at               timestamptz NOT NULL  -- its last legacy-shaped write noted
);

CREATE OR REPLACE FUNCTION profochat_saas.note_legacy_write() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_now int8 := extract(epoch FROM now())::int8;
    v_noted text := current_setting('profochat_saas.legacy_write_noted', true);
    v_at int8;
BEGIN
    -- Any role may set the setting, to anything (also through its role's or the
    -- database's defaults): a value that is not a time noted here, or one in the
    -- future, counts as never noted, and nothing here ever fails the write that calls it.
    IF v_noted ~ '^[0-9]{1,15}$' THEN
        v_at := v_noted::int8;
    END IF;
    IF v_at > v_now - 10 AND v_at <= v_now THEN
        RETURN;
    END IF;
    BEGIN
        IF v_at IS NULL THEN
            -- A session's first note: rows of sessions silent for a day go (never waiting).
            DELETE FROM profochat_saas.legacy_write
             WHERE pid IN (SELECT pid FROM profochat_saas.legacy_write
                            WHERE at < now() - interval '1 day' FOR UPDATE SKIP LOCKED);
        END IF;
        PERFORM set_config('profochat_saas.legacy_write_noted', v_now::text, false);
        INSERT INTO profochat_saas.legacy_write AS w (pid, usename, application_name, at)
        VALUES (pg_backend_pid(), session_user, coalesce(current_setting('application_name', true), ''), now())
        ON CONFLICT (pid) DO UPDATE
           SET usename = EXCLUDED.usename, application_name = EXCLUDED.application_name, at = EXCLUDED.at;
    EXCEPTION WHEN OTHERS THEN
        -- The note is advice for `finish`; the legacy bot's write goes on without it.
        NULL;
    END;
END $$;
