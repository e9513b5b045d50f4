-- Online keys: NOT NULL on bot_id as a check added NOT VALID (a short lock, no scan);
-- the driver validates each while the bot writes, and keys_not_null_done.sql turns
-- them into NOT NULL.
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
