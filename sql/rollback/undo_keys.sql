-- `migrate --abort` online, its first step (the keys step undone first, in reverse step
-- order): in one short transaction, the foreign keys the migration added to the legacy
-- tables, the NOT NULL checks of the keys step, bot_id's NOT NULL and the unique
-- indexes under which duplicates were archived, so that every row and value given back
-- afterwards holds (a detached run_id names no run; a duplicate ban has no bot). The
-- legacy interface and the compatibility layer need none of them (course's keys stay
-- until the last transaction, which gives the course tables back).
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT conrelid::regclass AS tbl, conname
          FROM pg_constraint
         WHERE connamespace = current_schema()::regnamespace
           AND conrelid IN ('conversation'::regclass, 'run'::regclass, 'waiting_element'::regclass,
                            'course'::regclass, 'course_element'::regclass, 'courseparticipants'::regclass,
                            'bannedparticipants'::regclass, 'gen_settings'::regclass)
           AND contype = 'f'
    LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT IF EXISTS %I', r.tbl, r.conname);
    END LOOP;
END $$;
ALTER TABLE run DROP CONSTRAINT IF EXISTS run_bot_id_not_null;
ALTER TABLE waiting_element DROP CONSTRAINT IF EXISTS waiting_element_bot_id_not_null;
ALTER TABLE bannedparticipants DROP CONSTRAINT IF EXISTS bannedparticipants_bot_id_not_null;
ALTER TABLE run ALTER COLUMN bot_id DROP NOT NULL;
ALTER TABLE waiting_element ALTER COLUMN bot_id DROP NOT NULL;
ALTER TABLE bannedparticipants ALTER COLUMN bot_id DROP NOT NULL;
DROP INDEX IF EXISTS bannedparticipants_unique;
DROP INDEX IF EXISTS courseparticipants_unique;
