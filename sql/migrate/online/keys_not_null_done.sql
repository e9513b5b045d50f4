-- Online keys, last: the validated checks proved every row of the three tables has
-- its bot_id; they go (bot_id stays nullable, as upstream's 0003 has it).
ALTER TABLE run DROP CONSTRAINT IF EXISTS run_bot_id_not_null;
ALTER TABLE waiting_element DROP CONSTRAINT IF EXISTS waiting_element_bot_id_not_null;
ALTER TABLE bannedparticipants DROP CONSTRAINT IF EXISTS bannedparticipants_bot_id_not_null;
