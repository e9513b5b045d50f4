-- Phase 4: keys, checks, unique indexes, foreign keys and NOT NULL, once phases 2 and 3
-- filled the data (after 4_names.sql gave older names upstream's).
--
-- Every key has the name and the definition of upstream's own SaaS migration (its
-- 0003), written as PostgreSQL shows it (pg_get_constraintdef, pg_get_indexdef), so
-- that what exists is compared with what is wanted: one of another shape is replaced.
-- `course` keeps its legacy primary key (course_id, bot_name); the foreign keys
-- reference the unique key (course_id, account_id).
-- The tool reads this file too (src/target.rs): one statement a line; keys and checks
-- before the foreign keys that need them.

-- Primary keys: those of the legacy schema and of the tables phases 0 and 1 created.
SELECT pg_temp.ensure_constraint('account', 'account_pkey', 'PRIMARY KEY (account_id)');
SELECT pg_temp.ensure_constraint('account_member', 'account_member_pkey', 'PRIMARY KEY (account_member_id)');
SELECT pg_temp.ensure_constraint('bot', 'bot_pkey', 'PRIMARY KEY (bot_id)');
SELECT pg_temp.ensure_constraint('course_deployment', 'course_deployment_pkey', 'PRIMARY KEY (deployment_id)');
SELECT pg_temp.ensure_constraint('enrollment_token', 'enrollment_token_pkey', 'PRIMARY KEY (token_id)');
SELECT pg_temp.ensure_constraint('conversation', 'conversation_pkey', 'PRIMARY KEY (conversation_id)');
SELECT pg_temp.ensure_constraint('run', 'run_pkey', 'PRIMARY KEY (run_id)');
SELECT pg_temp.ensure_constraint('waiting_element', 'waiting_element_pkey', 'PRIMARY KEY (waiting_element_id)');
SELECT pg_temp.ensure_constraint('course_element', 'course_element_pkey', 'PRIMARY KEY (course_element_id)');
SELECT pg_temp.ensure_constraint('courseparticipants', 'courseparticipants_pkey', 'PRIMARY KEY (courseparticipant_id)');
SELECT pg_temp.ensure_constraint('bannedparticipants', 'bannedparticipants_pkey', 'PRIMARY KEY (bannedparticipant_id)');
SELECT pg_temp.ensure_constraint('gen_settings', 'gen_settings_pkey', 'PRIMARY KEY (id)');

-- course: (course_id, account_id) is unique (the foreign keys reference it), and the
-- primary key stays the legacy (course_id, bot_name). Older profochat-saas versions made
-- (course_id, account_id) the primary key: it is replaced, with the foreign keys that
-- referenced it (made again below).
SELECT pg_temp.ensure_constraint('course', 'course_course_id_account_id_key', 'UNIQUE (course_id, account_id)');
SELECT pg_temp.ensure_constraint('course', 'course_pkey', 'PRIMARY KEY (course_id, bot_name)');

-- Unique keys and checks.
SELECT pg_temp.ensure_constraint('account', 'account_slug_key', 'UNIQUE (slug)');
SELECT pg_temp.ensure_constraint('account_member', 'account_member_account_id_telegram_user_id_key', 'UNIQUE (account_id, telegram_user_id)');
SELECT pg_temp.ensure_constraint('account_member', 'account_member_role_check', 'CHECK ((role = ANY (ARRAY[''owner''::text, ''admin''::text, ''member''::text, ''viewer''::text])))');
ALTER TABLE bot ALTER COLUMN bot_token SET NOT NULL;
SELECT pg_temp.ensure_constraint('bot', 'bot_account_id_bot_name_key', 'UNIQUE (account_id, bot_name)');
SELECT pg_temp.ensure_constraint('bot', 'bot_bot_token_key', 'UNIQUE (bot_token)');
SELECT pg_temp.ensure_constraint('course_deployment', 'course_deployment_bot_id_course_id_account_id_environment_key', 'UNIQUE (bot_id, course_id, account_id, environment)');
SELECT pg_temp.ensure_constraint('enrollment_token', 'enrollment_token_token_key', 'UNIQUE (token)');
SELECT pg_temp.ensure_constraint('enrollment_token', 'enrollment_token_token_type_check', 'CHECK ((token_type = ANY (ARRAY[''public''::text, ''group''::text, ''personal''::text, ''external''::text])))');

-- Unique indexes (upstream keeps these as indexes, not constraints).
-- One active run per chat and bot: partial, so an index.
SELECT pg_temp.ensure_index('run_one_active_per_bot_chat', 'UNIQUE run USING btree (bot_id, chat_id) WHERE (is_active = true)');
SELECT pg_temp.ensure_index('bannedparticipants_unique', 'UNIQUE bannedparticipants USING btree (bot_id, chat_id, excluded)');
SELECT pg_temp.ensure_index('courseparticipants_unique', 'UNIQUE courseparticipants USING btree (course_id, account_id, COALESCE(chat_id, (0)::bigint), COALESCE(username, ''''::text))');

-- The foreign keys. bot_id of run, waiting_element and bannedparticipants stays
-- nullable, as in upstream's 0003 (its application writes runs by bot name alone).

SELECT pg_temp.ensure_constraint('account_member', 'account_member_account_id_fkey', 'FOREIGN KEY (account_id) REFERENCES account(account_id) ON DELETE CASCADE');
SELECT pg_temp.ensure_constraint('bot', 'bot_account_id_fkey', 'FOREIGN KEY (account_id) REFERENCES account(account_id) ON DELETE CASCADE');
SELECT pg_temp.ensure_constraint('course', 'course_account_id_fkey', 'FOREIGN KEY (account_id) REFERENCES account(account_id) ON DELETE CASCADE');
SELECT pg_temp.ensure_constraint('course_element', 'course_element_course_fkey', 'FOREIGN KEY (course_id, account_id) REFERENCES course(course_id, account_id) ON DELETE CASCADE');
SELECT pg_temp.ensure_constraint('course_deployment', 'course_deployment_course_fkey', 'FOREIGN KEY (course_id, account_id) REFERENCES course(course_id, account_id) ON DELETE CASCADE');
SELECT pg_temp.ensure_constraint('course_deployment', 'course_deployment_bot_fkey', 'FOREIGN KEY (bot_id) REFERENCES bot(bot_id) ON DELETE CASCADE');
SELECT pg_temp.ensure_constraint('enrollment_token', 'enrollment_token_deployment_fkey', 'FOREIGN KEY (deployment_id) REFERENCES course_deployment(deployment_id) ON DELETE CASCADE');
SELECT pg_temp.ensure_constraint('run', 'run_account_id_fkey', 'FOREIGN KEY (account_id) REFERENCES account(account_id) ON DELETE CASCADE');
SELECT pg_temp.ensure_constraint('run', 'run_bot_id_fkey', 'FOREIGN KEY (bot_id) REFERENCES bot(bot_id) ON DELETE CASCADE');
SELECT pg_temp.ensure_constraint('run', 'run_deployment_id_fkey', 'FOREIGN KEY (deployment_id) REFERENCES course_deployment(deployment_id) ON DELETE RESTRICT');
SELECT pg_temp.ensure_constraint('run', 'run_token_id_fkey', 'FOREIGN KEY (token_id) REFERENCES enrollment_token(token_id)');
SELECT pg_temp.ensure_constraint('conversation', 'conversation_account_id_fkey', 'FOREIGN KEY (account_id) REFERENCES account(account_id) ON DELETE CASCADE');
-- conversation_run_id_fkey (FOREIGN KEY (run_id) REFERENCES run(run_id) ON DELETE CASCADE) is
-- added by the migration itself: VALID after orphans are detached (the default), NOT VALID
-- with --orphans keep.
SELECT pg_temp.ensure_constraint('waiting_element', 'waiting_element_account_id_fkey', 'FOREIGN KEY (account_id) REFERENCES account(account_id) ON DELETE CASCADE');
SELECT pg_temp.ensure_constraint('waiting_element', 'waiting_element_bot_id_fkey', 'FOREIGN KEY (bot_id) REFERENCES bot(bot_id) ON DELETE CASCADE');
SELECT pg_temp.ensure_constraint('waiting_element', 'waiting_element_run_id_fkey', 'FOREIGN KEY (run_id) REFERENCES run(run_id) ON DELETE CASCADE');
SELECT pg_temp.ensure_constraint('bannedparticipants', 'bannedparticipants_account_id_fkey', 'FOREIGN KEY (account_id) REFERENCES account(account_id) ON DELETE CASCADE');
SELECT pg_temp.ensure_constraint('bannedparticipants', 'bannedparticipants_bot_id_fkey', 'FOREIGN KEY (bot_id) REFERENCES bot(bot_id) ON DELETE CASCADE');
SELECT pg_temp.ensure_constraint('courseparticipants', 'courseparticipants_account_id_fkey', 'FOREIGN KEY (account_id) REFERENCES account(account_id) ON DELETE CASCADE');
SELECT pg_temp.ensure_constraint('courseparticipants', 'courseparticipants_course_fkey', 'FOREIGN KEY (course_id, account_id) REFERENCES course(course_id, account_id) ON DELETE CASCADE');
SELECT pg_temp.ensure_constraint('gen_settings', 'gen_settings_account_id_fkey', 'FOREIGN KEY (account_id) REFERENCES account(account_id) ON DELETE CASCADE');
-- A NULL bot_id is a setting for every bot.
SELECT pg_temp.ensure_constraint('gen_settings', 'gen_settings_bot_id_fkey', 'FOREIGN KEY (bot_id) REFERENCES bot(bot_id) ON DELETE CASCADE');
