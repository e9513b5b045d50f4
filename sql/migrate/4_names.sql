-- Phase 4, first: the keys and indexes that older profochat-saas versions named in
-- PostgreSQL's or their own style get the names of upstream's own SaaS migration
-- (its 0003), which its later migrations refer to. Renaming is a catalog change: no
-- table is read. On a legacy database none of these exist and nothing happens.
-- Where an older shape differs from upstream's (course's primary key, the partial
-- unique index on run, a unique constraint that upstream keeps as a unique index),
-- 4_constraints.sql and the index builds of phase 5 replace it after the rename.

-- Keys.
SELECT pg_temp.rename_key('course_element', 'course_element_course_id_account_id_fkey', 'course_element_course_fkey');
SELECT pg_temp.rename_key('course_deployment', 'course_deployment_course_id_account_id_fkey', 'course_deployment_course_fkey');
SELECT pg_temp.rename_key('course_deployment', 'course_deployment_bot_id_fkey', 'course_deployment_bot_fkey');
SELECT pg_temp.rename_key('enrollment_token', 'enrollment_token_deployment_id_fkey', 'enrollment_token_deployment_fkey');
SELECT pg_temp.rename_key('courseparticipants', 'courseparticipants_course_id_account_id_fkey', 'courseparticipants_course_fkey');
SELECT pg_temp.rename_key('bannedparticipants', 'bannedparticipants_bot_id_chat_id_excluded_key', 'bannedparticipants_unique');
SELECT pg_temp.rename_key('run', 'uq_run_active_bot_chat', 'run_one_active_per_bot_chat');
SELECT pg_temp.rename_key('courseparticipants', 'uq_courseparticipants_member', 'courseparticipants_unique');

-- Secondary indexes (built by phase 5 under these names).
SELECT pg_temp.rename_key('account', 'idx_account_is_active', 'idx_account_active');
SELECT pg_temp.rename_key('account_member', 'idx_account_member_account_id', 'idx_account_member_account');
SELECT pg_temp.rename_key('account_member', 'idx_account_member_telegram_user_id', 'idx_account_member_telegram');
SELECT pg_temp.rename_key('account_member', 'idx_account_member_account_active', 'idx_account_member_active');
SELECT pg_temp.rename_key('bot', 'idx_bot_account_id', 'idx_bot_account');
SELECT pg_temp.rename_key('bot', 'idx_bot_bot_name', 'idx_bot_name');
SELECT pg_temp.rename_key('bot', 'idx_bot_account_active', 'idx_bot_active');
SELECT pg_temp.rename_key('course', 'idx_course_account_id', 'idx_course_account');
SELECT pg_temp.rename_key('course', 'idx_course_account_active', 'idx_course_active');
SELECT pg_temp.rename_key('course', 'idx_course_account_date_created', 'idx_course_created');
SELECT pg_temp.rename_key('course_element', 'idx_course_element_course_account', 'idx_course_element_course');
SELECT pg_temp.rename_key('course_element', 'idx_course_element_course_account_type', 'idx_course_element_type');
SELECT pg_temp.rename_key('course_element', 'idx_course_element_course_account_order', 'idx_course_element_order');
SELECT pg_temp.rename_key('course_deployment', 'idx_course_deployment_course_account', 'idx_deployment_course');
SELECT pg_temp.rename_key('course_deployment', 'idx_course_deployment_bot_id', 'idx_deployment_bot');
SELECT pg_temp.rename_key('course_deployment', 'idx_course_deployment_bot_active', 'idx_deployment_active');
SELECT pg_temp.rename_key('enrollment_token', 'idx_enrollment_token_deployment_id', 'idx_token_deployment');
SELECT pg_temp.rename_key('enrollment_token', 'idx_enrollment_token_deployment_active', 'idx_token_active');
SELECT pg_temp.rename_key('enrollment_token', 'idx_enrollment_token_expires_at', 'idx_token_expires');
SELECT pg_temp.rename_key('run', 'idx_run_account_id', 'idx_run_account');
SELECT pg_temp.rename_key('run', 'idx_run_bot_id', 'idx_run_bot');
SELECT pg_temp.rename_key('run', 'idx_run_deployment_id', 'idx_run_deployment');
SELECT pg_temp.rename_key('run', 'idx_run_bot_chat', 'idx_run_chat');
SELECT pg_temp.rename_key('run', 'idx_run_course_account', 'idx_run_course');
SELECT pg_temp.rename_key('run', 'idx_run_bot_active', 'idx_run_active');
SELECT pg_temp.rename_key('conversation', 'idx_conversation_account_id', 'idx_conversation_account');
SELECT pg_temp.rename_key('conversation', 'idx_conversation_run_id', 'idx_conversation_run');
SELECT pg_temp.rename_key('conversation', 'idx_conversation_chat_id', 'idx_conversation_chat');
SELECT pg_temp.rename_key('conversation', 'idx_conversation_course_account', 'idx_conversation_course');
SELECT pg_temp.rename_key('conversation', 'idx_conversation_course_account_element', 'idx_conversation_element');
SELECT pg_temp.rename_key('conversation', 'idx_conversation_date_inserted', 'idx_conversation_date');
SELECT pg_temp.rename_key('conversation', 'idx_conversation_run_role', 'idx_conversation_role');
SELECT pg_temp.rename_key('waiting_element', 'idx_waiting_element_account_id', 'idx_waiting_account');
SELECT pg_temp.rename_key('waiting_element', 'idx_waiting_element_bot_id', 'idx_waiting_bot');
SELECT pg_temp.rename_key('waiting_element', 'idx_waiting_element_run_id', 'idx_waiting_run');
SELECT pg_temp.rename_key('waiting_element', 'idx_waiting_element_waiting', 'idx_waiting_active');
SELECT pg_temp.rename_key('waiting_element', 'idx_waiting_element_till', 'idx_waiting_date');
SELECT pg_temp.rename_key('bannedparticipants', 'idx_bannedparticipants_account_id', 'idx_banned_account');
SELECT pg_temp.rename_key('bannedparticipants', 'idx_bannedparticipants_bot_id', 'idx_banned_bot');
SELECT pg_temp.rename_key('bannedparticipants', 'idx_bannedparticipants_bot_not_excluded', 'idx_banned_active');
SELECT pg_temp.rename_key('courseparticipants', 'idx_courseparticipants_account_id', 'idx_courseparticipants_account');
SELECT pg_temp.rename_key('courseparticipants', 'idx_courseparticipants_course_account', 'idx_courseparticipants_course');
SELECT pg_temp.rename_key('courseparticipants', 'idx_courseparticipants_chat_id', 'idx_courseparticipants_chat');
SELECT pg_temp.rename_key('gen_settings', 'idx_gen_settings_account_id', 'idx_gen_settings_account');
SELECT pg_temp.rename_key('gen_settings', 'idx_gen_settings_bot_id', 'idx_gen_settings_bot');
SELECT pg_temp.rename_key('gen_settings', 'idx_gen_settings_account_bot_key', 'idx_gen_settings_key');
