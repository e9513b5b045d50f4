-- Online keys, last: NOT NULL is set (4_constraints.sql) from the validated checks
-- without a scan; the checks go.
ALTER TABLE run DROP CONSTRAINT IF EXISTS run_bot_id_not_null;
ALTER TABLE waiting_element DROP CONSTRAINT IF EXISTS waiting_element_bot_id_not_null;
ALTER TABLE bannedparticipants DROP CONSTRAINT IF EXISTS bannedparticipants_bot_id_not_null;
