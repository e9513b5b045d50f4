-- Rollback, step 1: the compatibility triggers and every key the migration added, so
-- that the legacy values can be written back (course ids may repeat under other bots).
-- (The legacy interface and the compatibility triggers went just before: drop_compat.sql.)

-- The unique key (course_id, account_id) goes with the foreign keys of the SaaS tables
-- that reference it (the tables follow in the last step).
ALTER TABLE course DROP CONSTRAINT IF EXISTS course_course_id_account_id_key CASCADE;

DO $$
DECLARE
    r record;
BEGIN
    -- Foreign keys and unique keys on the legacy tables that the legacy schema does not have.
    FOR r IN
        SELECT conrelid::regclass AS tbl, conname
          FROM pg_constraint
         WHERE connamespace = current_schema()::regnamespace
           AND conrelid IN ('conversation'::regclass, 'run'::regclass, 'waiting_element'::regclass,
                            'course'::regclass, 'course_element'::regclass, 'courseparticipants'::regclass,
                            'bannedparticipants'::regclass, 'gen_settings'::regclass)
           AND contype IN ('f', 'u')
    LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT IF EXISTS %I', r.tbl, r.conname);
    END LOOP;
END $$;
-- The checks the online keys step adds NOT VALID before it sets NOT NULL
-- (migrate/online/keys_not_null.sql): left by a keys step that was interrupted, they
-- hold for every row written from then on, the rows given back below too.
ALTER TABLE run DROP CONSTRAINT IF EXISTS run_bot_id_not_null;
ALTER TABLE waiting_element DROP CONSTRAINT IF EXISTS waiting_element_bot_id_not_null;
ALTER TABLE bannedparticipants DROP CONSTRAINT IF EXISTS bannedparticipants_bot_id_not_null;
DROP INDEX IF EXISTS run_one_active_per_bot_chat;
-- The online migration's temporary index (migrate/online/chat_index.sql), if it is left.
DROP INDEX IF EXISTS profochat_saas_run_chat;
DROP INDEX IF EXISTS bannedparticipants_unique;
DROP INDEX IF EXISTS courseparticipants_unique;
-- CASCADE: the foreign keys of the SaaS tables that reference it go too (the tables follow).
ALTER TABLE course DROP CONSTRAINT IF EXISTS course_pkey CASCADE;
ALTER TABLE run ALTER COLUMN bot_id DROP NOT NULL;
ALTER TABLE waiting_element ALTER COLUMN bot_id DROP NOT NULL;
ALTER TABLE bannedparticipants ALTER COLUMN bot_id DROP NOT NULL;
