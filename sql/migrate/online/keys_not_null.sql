-- Online keys: bot_id IS NOT NULL as a check added NOT VALID (a short lock, no scan);
-- the driver validates each while the bot writes (the proof that the backfill linked
-- every row), and keys_not_null_done.sql drops them: bot_id stays nullable.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['run', 'waiting_element', 'bannedparticipants'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = t::regclass AND attname = 'bot_id' AND attnotnull)
           AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = t::regclass AND conname = t || '_bot_id_not_null') THEN
            EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (bot_id IS NOT NULL) NOT VALID', t, t || '_bot_id_not_null');
        END IF;
    END LOOP;
END $$;
