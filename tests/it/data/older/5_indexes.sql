-- Phase 5: secondary (non-unique) indexes, one statement a line.
-- The tool reads this file line by line: it builds them inside the migration
-- transaction with --single-transaction, else after the commit, several at a time
-- on separate connections. Indexes that a unique key already provides
-- (account.slug, enrollment_token.token) are not built twice.
CREATE INDEX IF NOT EXISTS idx_account_is_active ON account (is_active);
CREATE INDEX IF NOT EXISTS idx_account_member_account_id ON account_member (account_id);
CREATE INDEX IF NOT EXISTS idx_account_member_telegram_user_id ON account_member (telegram_user_id);
CREATE INDEX IF NOT EXISTS idx_account_member_account_active ON account_member (account_id, is_active);
CREATE INDEX IF NOT EXISTS idx_bot_account_id ON bot (account_id);
CREATE INDEX IF NOT EXISTS idx_bot_bot_name ON bot (bot_name);
CREATE INDEX IF NOT EXISTS idx_bot_account_active ON bot (account_id, is_active);
CREATE INDEX IF NOT EXISTS idx_course_account_id ON course (account_id);
CREATE INDEX IF NOT EXISTS idx_course_account_active ON course (account_id, is_active);
CREATE INDEX IF NOT EXISTS idx_course_account_date_created ON course (account_id, date_created DESC);
CREATE INDEX IF NOT EXISTS idx_course_element_course_account ON course_element (course_id, account_id);
CREATE INDEX IF NOT EXISTS idx_course_element_course_account_type ON course_element (course_id, account_id, element_type);
CREATE INDEX IF NOT EXISTS idx_course_element_course_account_order ON course_element (course_id, account_id, course_element_id);
CREATE INDEX IF NOT EXISTS idx_course_deployment_course_account ON course_deployment (course_id, account_id);
CREATE INDEX IF NOT EXISTS idx_course_deployment_bot_id ON course_deployment (bot_id);
CREATE INDEX IF NOT EXISTS idx_course_deployment_bot_active ON course_deployment (bot_id, is_active);
CREATE INDEX IF NOT EXISTS idx_enrollment_token_deployment_id ON enrollment_token (deployment_id);
CREATE INDEX IF NOT EXISTS idx_enrollment_token_deployment_active ON enrollment_token (deployment_id, is_active);
CREATE INDEX IF NOT EXISTS idx_enrollment_token_expires_at ON enrollment_token (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_run_account_id ON run (account_id);
CREATE INDEX IF NOT EXISTS idx_run_bot_id ON run (bot_id);
CREATE INDEX IF NOT EXISTS idx_run_deployment_id ON run (deployment_id);
CREATE INDEX IF NOT EXISTS idx_run_bot_chat ON run (bot_id, chat_id);
CREATE INDEX IF NOT EXISTS idx_run_course_account ON run (course_id, account_id);
CREATE INDEX IF NOT EXISTS idx_run_bot_active ON run (bot_id, is_active);
CREATE INDEX IF NOT EXISTS idx_run_ended ON run (is_ended, ended_at);
CREATE INDEX IF NOT EXISTS idx_conversation_account_id ON conversation (account_id);
CREATE INDEX IF NOT EXISTS idx_conversation_run_id ON conversation (run_id);
CREATE INDEX IF NOT EXISTS idx_conversation_chat_id ON conversation (chat_id);
CREATE INDEX IF NOT EXISTS idx_conversation_course_account ON conversation (course_id, account_id);
CREATE INDEX IF NOT EXISTS idx_conversation_course_account_element ON conversation (course_id, account_id, element_id);
CREATE INDEX IF NOT EXISTS idx_conversation_date_inserted ON conversation (date_inserted DESC);
CREATE INDEX IF NOT EXISTS idx_conversation_run_role ON conversation (run_id, role);
CREATE INDEX IF NOT EXISTS idx_waiting_element_account_id ON waiting_element (account_id);
CREATE INDEX IF NOT EXISTS idx_waiting_element_bot_id ON waiting_element (bot_id);
CREATE INDEX IF NOT EXISTS idx_waiting_element_run_id ON waiting_element (run_id);
CREATE INDEX IF NOT EXISTS idx_waiting_element_waiting ON waiting_element (is_waiting, waiting_till_date) WHERE is_waiting;
CREATE INDEX IF NOT EXISTS idx_waiting_element_till ON waiting_element (waiting_till_date);
CREATE INDEX IF NOT EXISTS idx_bannedparticipants_account_id ON bannedparticipants (account_id);
CREATE INDEX IF NOT EXISTS idx_bannedparticipants_bot_id ON bannedparticipants (bot_id);
CREATE INDEX IF NOT EXISTS idx_bannedparticipants_bot_not_excluded ON bannedparticipants (bot_id, excluded) WHERE excluded = 0;
CREATE INDEX IF NOT EXISTS idx_courseparticipants_account_id ON courseparticipants (account_id);
CREATE INDEX IF NOT EXISTS idx_courseparticipants_course_account ON courseparticipants (course_id, account_id);
CREATE INDEX IF NOT EXISTS idx_courseparticipants_chat_id ON courseparticipants (chat_id);
CREATE INDEX IF NOT EXISTS idx_courseparticipants_username ON courseparticipants (username);
CREATE INDEX IF NOT EXISTS idx_gen_settings_account_id ON gen_settings (account_id);
CREATE INDEX IF NOT EXISTS idx_gen_settings_bot_id ON gen_settings (bot_id);
CREATE INDEX IF NOT EXISTS idx_gen_settings_account_bot_key ON gen_settings (account_id, bot_id, s_key);
