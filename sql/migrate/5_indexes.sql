-- Phase 5: secondary (non-unique) indexes, one statement a line, with the names and
-- definitions of upstream's own SaaS migration (its 0003). The tool reads this file
-- line by line: it builds them inside the migration transaction with
-- --single-transaction, else after the commit, several at a time on separate
-- connections. Upstream's catalog is the authority here: it keeps three plain indexes
-- beside unique keys of the same columns (idx_account_slug, idx_token_token,
-- idx_banned_chat), and its later migrations refer to them by name, so they are built
-- too. Three more indexes of upstream's catalog come from the legacy schema itself
-- (idx_course_courseid_botname, idx_courseparticipants_2, idx_bannedparticipants_3).
CREATE INDEX IF NOT EXISTS idx_account_active ON account USING btree (is_active);
CREATE INDEX IF NOT EXISTS idx_account_slug ON account USING btree (slug);
CREATE INDEX IF NOT EXISTS idx_account_member_account ON account_member USING btree (account_id);
CREATE INDEX IF NOT EXISTS idx_account_member_active ON account_member USING btree (account_id, is_active);
CREATE INDEX IF NOT EXISTS idx_account_member_telegram ON account_member USING btree (telegram_user_id);
CREATE INDEX IF NOT EXISTS idx_bot_account ON bot USING btree (account_id);
CREATE INDEX IF NOT EXISTS idx_bot_active ON bot USING btree (account_id, is_active);
CREATE INDEX IF NOT EXISTS idx_bot_name ON bot USING btree (bot_name);
CREATE INDEX IF NOT EXISTS idx_course_account ON course USING btree (account_id);
CREATE INDEX IF NOT EXISTS idx_course_created ON course USING btree (account_id, date_created DESC);
CREATE INDEX IF NOT EXISTS idx_course_active ON course USING btree (account_id, is_active);
CREATE INDEX IF NOT EXISTS idx_course_element_course ON course_element USING btree (course_id, account_id);
CREATE INDEX IF NOT EXISTS idx_course_element_order ON course_element USING btree (course_id, account_id, course_element_id);
CREATE INDEX IF NOT EXISTS idx_course_element_type ON course_element USING btree (course_id, account_id, element_type);
CREATE INDEX IF NOT EXISTS idx_deployment_bot ON course_deployment USING btree (bot_id);
CREATE INDEX IF NOT EXISTS idx_deployment_active ON course_deployment USING btree (bot_id, is_active);
CREATE INDEX IF NOT EXISTS idx_deployment_course ON course_deployment USING btree (course_id, account_id);
CREATE INDEX IF NOT EXISTS idx_token_deployment ON enrollment_token USING btree (deployment_id);
CREATE INDEX IF NOT EXISTS idx_token_active ON enrollment_token USING btree (deployment_id, is_active);
CREATE INDEX IF NOT EXISTS idx_token_expires ON enrollment_token USING btree (expires_at) WHERE (expires_at IS NOT NULL);
CREATE INDEX IF NOT EXISTS idx_token_token ON enrollment_token USING btree (token);
CREATE INDEX IF NOT EXISTS idx_run_account ON run USING btree (account_id);
CREATE INDEX IF NOT EXISTS idx_run_bot ON run USING btree (bot_id);
CREATE INDEX IF NOT EXISTS idx_run_chat ON run USING btree (bot_id, chat_id);
CREATE INDEX IF NOT EXISTS idx_run_active ON run USING btree (bot_id, is_active);
CREATE INDEX IF NOT EXISTS idx_run_course ON run USING btree (course_id, account_id);
CREATE INDEX IF NOT EXISTS idx_run_deployment ON run USING btree (deployment_id);
CREATE INDEX IF NOT EXISTS idx_run_ended ON run USING btree (is_ended, ended_at);
CREATE INDEX IF NOT EXISTS idx_conversation_account ON conversation USING btree (account_id);
CREATE INDEX IF NOT EXISTS idx_conversation_chat ON conversation USING btree (chat_id);
CREATE INDEX IF NOT EXISTS idx_conversation_course ON conversation USING btree (course_id, account_id);
CREATE INDEX IF NOT EXISTS idx_conversation_element ON conversation USING btree (course_id, account_id, element_id);
CREATE INDEX IF NOT EXISTS idx_conversation_date ON conversation USING btree (date_inserted DESC);
CREATE INDEX IF NOT EXISTS idx_conversation_run ON conversation USING btree (run_id);
CREATE INDEX IF NOT EXISTS idx_conversation_role ON conversation USING btree (run_id, role);
CREATE INDEX IF NOT EXISTS idx_waiting_account ON waiting_element USING btree (account_id);
CREATE INDEX IF NOT EXISTS idx_waiting_bot ON waiting_element USING btree (bot_id);
CREATE INDEX IF NOT EXISTS idx_waiting_active ON waiting_element USING btree (is_waiting, waiting_till_date) WHERE (is_waiting = true);
CREATE INDEX IF NOT EXISTS idx_waiting_run ON waiting_element USING btree (run_id);
CREATE INDEX IF NOT EXISTS idx_waiting_date ON waiting_element USING btree (waiting_till_date);
CREATE INDEX IF NOT EXISTS idx_banned_account ON bannedparticipants USING btree (account_id);
CREATE INDEX IF NOT EXISTS idx_banned_bot ON bannedparticipants USING btree (bot_id);
CREATE INDEX IF NOT EXISTS idx_banned_chat ON bannedparticipants USING btree (bot_id, chat_id, excluded);
CREATE INDEX IF NOT EXISTS idx_banned_active ON bannedparticipants USING btree (bot_id, excluded) WHERE (excluded = 0);
CREATE INDEX IF NOT EXISTS idx_courseparticipants_account ON courseparticipants USING btree (account_id);
CREATE INDEX IF NOT EXISTS idx_courseparticipants_chat ON courseparticipants USING btree (chat_id);
CREATE INDEX IF NOT EXISTS idx_courseparticipants_course ON courseparticipants USING btree (course_id, account_id);
CREATE INDEX IF NOT EXISTS idx_courseparticipants_username ON courseparticipants USING btree (username);
CREATE INDEX IF NOT EXISTS idx_gen_settings_account ON gen_settings USING btree (account_id);
CREATE INDEX IF NOT EXISTS idx_gen_settings_key ON gen_settings USING btree (account_id, bot_id, s_key);
CREATE INDEX IF NOT EXISTS idx_gen_settings_bot ON gen_settings USING btree (bot_id);
