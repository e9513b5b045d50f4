-- Rollback, step 1: the compatibility triggers and every key the migration added, so
-- that the legacy values can be written back (course ids may repeat under other bots).
-- (The legacy interface and the compatibility triggers went just before: drop_compat.sql.)
-- Runs after undo_keys.sql (the online abort's first step: the foreign keys, the NOT NULL
-- checks and bot_id's NOT NULL, the unique indexes of the archived duplicates), in the
-- same transaction: what follows is what the online way back leaves to its last one.

-- The unique key (course_id, account_id) goes with the foreign keys of the SaaS tables
-- that reference it (the tables follow in the last step).
ALTER TABLE course DROP CONSTRAINT IF EXISTS course_course_id_account_id_key CASCADE;

DO $$
DECLARE
    r record;
BEGIN
    -- Unique keys on the legacy tables that the legacy schema does not have.
    FOR r IN
        SELECT conrelid::regclass AS tbl, conname
          FROM pg_constraint
         WHERE connamespace = current_schema()::regnamespace
           AND conrelid IN ('conversation'::regclass, 'run'::regclass, 'waiting_element'::regclass,
                            'course'::regclass, 'course_element'::regclass, 'courseparticipants'::regclass,
                            'bannedparticipants'::regclass, 'gen_settings'::regclass)
           AND contype = 'u'
    LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT IF EXISTS %I', r.tbl, r.conname);
    END LOOP;
END $$;
DROP INDEX IF EXISTS run_one_active_per_bot_chat;
-- The online migration's temporary index (migrate/online/chat_index.sql), if it is left.
DROP INDEX IF EXISTS profochat_saas_run_chat;
-- CASCADE: the foreign keys of the SaaS tables that reference it go too (the tables follow).
ALTER TABLE course DROP CONSTRAINT IF EXISTS course_pkey CASCADE;
