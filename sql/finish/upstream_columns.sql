-- `finish`, last: the columns as upstream's 0003 leaves them. gen_settings.account_id
-- defaulted to the default account while the legacy bot could write settings; upstream
-- gives it no default. bot_id of run, waiting_element and bannedparticipants is
-- nullable upstream (its application starts runs by bot name alone); a database
-- migrated by an older profochat-saas had it NOT NULL.
ALTER TABLE gen_settings ALTER COLUMN account_id DROP DEFAULT;
ALTER TABLE run ALTER COLUMN bot_id DROP NOT NULL;
ALTER TABLE waiting_element ALTER COLUMN bot_id DROP NOT NULL;
ALTER TABLE bannedparticipants ALTER COLUMN bot_id DROP NOT NULL;
