-- Phase 4: keys, checks, foreign keys and NOT NULL, once phases 2 and 3 filled the data.
-- Names follow PostgreSQL's own defaults, so constraints made by hand with inline
-- syntax are recognised instead of duplicated.

-- course: (course_id, account_id) replaces the legacy (course_id, bot_name) key.
DO $$
DECLARE
    pk_cols text[];
BEGIN
    SELECT array_agg(a.attname::text ORDER BY a.attname)
      INTO pk_cols
      FROM pg_constraint c
      JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
     WHERE c.conrelid = 'course'::regclass AND c.contype = 'p';
    IF pk_cols IS DISTINCT FROM ARRAY['account_id', 'course_id'] THEN
        IF pk_cols IS NOT NULL THEN
            EXECUTE format('ALTER TABLE course DROP CONSTRAINT %I',
                           (SELECT conname FROM pg_constraint WHERE conrelid = 'course'::regclass AND contype = 'p'));
        END IF;
        ALTER TABLE course ADD CONSTRAINT course_pkey PRIMARY KEY (course_id, account_id);
    END IF;
END $$;

SELECT pg_temp.ensure_constraint('account_member', 'account_member_account_id_telegram_user_id_key', 'UNIQUE (account_id, telegram_user_id)');
SELECT pg_temp.ensure_constraint('account_member', 'account_member_role_check', $$CHECK (role IN ('owner', 'admin', 'member', 'viewer'))$$);
SELECT pg_temp.ensure_constraint('account_member', 'account_member_account_id_fkey', 'FOREIGN KEY (account_id) REFERENCES account (account_id) ON DELETE CASCADE');

ALTER TABLE bot ALTER COLUMN bot_token SET NOT NULL;
SELECT pg_temp.ensure_constraint('bot', 'bot_account_id_bot_name_key', 'UNIQUE (account_id, bot_name)');
SELECT pg_temp.ensure_constraint('bot', 'bot_bot_token_key', 'UNIQUE (bot_token)');
SELECT pg_temp.ensure_constraint('bot', 'bot_account_id_fkey', 'FOREIGN KEY (account_id) REFERENCES account (account_id) ON DELETE CASCADE');

SELECT pg_temp.ensure_constraint('course', 'course_account_id_fkey', 'FOREIGN KEY (account_id) REFERENCES account (account_id) ON DELETE CASCADE');
SELECT pg_temp.ensure_constraint('course_element', 'course_element_course_id_account_id_fkey', 'FOREIGN KEY (course_id, account_id) REFERENCES course (course_id, account_id) ON DELETE CASCADE');

SELECT pg_temp.ensure_constraint('course_deployment', 'course_deployment_bot_id_course_id_account_id_environment_key', 'UNIQUE (bot_id, course_id, account_id, environment)');
SELECT pg_temp.ensure_constraint('course_deployment', 'course_deployment_course_id_account_id_fkey', 'FOREIGN KEY (course_id, account_id) REFERENCES course (course_id, account_id) ON DELETE CASCADE');
SELECT pg_temp.ensure_constraint('course_deployment', 'course_deployment_bot_id_fkey', 'FOREIGN KEY (bot_id) REFERENCES bot (bot_id) ON DELETE CASCADE');

SELECT pg_temp.ensure_constraint('enrollment_token', 'enrollment_token_token_key', 'UNIQUE (token)');
SELECT pg_temp.ensure_constraint('enrollment_token', 'enrollment_token_token_type_check', $$CHECK (token_type IN ('public', 'group', 'personal', 'external'))$$);
SELECT pg_temp.ensure_constraint('enrollment_token', 'enrollment_token_deployment_id_fkey', 'FOREIGN KEY (deployment_id) REFERENCES course_deployment (deployment_id) ON DELETE CASCADE');

ALTER TABLE run ALTER COLUMN bot_id SET NOT NULL;
SELECT pg_temp.ensure_constraint('run', 'run_account_id_fkey', 'FOREIGN KEY (account_id) REFERENCES account (account_id) ON DELETE CASCADE');
SELECT pg_temp.ensure_constraint('run', 'run_bot_id_fkey', 'FOREIGN KEY (bot_id) REFERENCES bot (bot_id) ON DELETE CASCADE');
SELECT pg_temp.ensure_constraint('run', 'run_deployment_id_fkey', 'FOREIGN KEY (deployment_id) REFERENCES course_deployment (deployment_id) ON DELETE RESTRICT');
SELECT pg_temp.ensure_constraint('run', 'run_token_id_fkey', 'FOREIGN KEY (token_id) REFERENCES enrollment_token (token_id)');
-- One active run per chat and bot: a partial unique index (a constraint cannot be partial).
CREATE UNIQUE INDEX IF NOT EXISTS uq_run_active_bot_chat ON run (bot_id, chat_id) WHERE is_active;

SELECT pg_temp.ensure_constraint('conversation', 'conversation_account_id_fkey', 'FOREIGN KEY (account_id) REFERENCES account (account_id) ON DELETE CASCADE');
-- conversation_run_id_fkey is added by the migration itself: VALID after orphans are
-- detached (the default), NOT VALID with --orphans keep.

ALTER TABLE waiting_element ALTER COLUMN bot_id SET NOT NULL;
SELECT pg_temp.ensure_constraint('waiting_element', 'waiting_element_account_id_fkey', 'FOREIGN KEY (account_id) REFERENCES account (account_id) ON DELETE CASCADE');
SELECT pg_temp.ensure_constraint('waiting_element', 'waiting_element_bot_id_fkey', 'FOREIGN KEY (bot_id) REFERENCES bot (bot_id) ON DELETE CASCADE');
SELECT pg_temp.ensure_constraint('waiting_element', 'waiting_element_run_id_fkey', 'FOREIGN KEY (run_id) REFERENCES run (run_id) ON DELETE CASCADE');

ALTER TABLE bannedparticipants ALTER COLUMN bot_id SET NOT NULL;
SELECT pg_temp.ensure_constraint('bannedparticipants', 'bannedparticipants_bot_id_chat_id_excluded_key', 'UNIQUE (bot_id, chat_id, excluded)');
SELECT pg_temp.ensure_constraint('bannedparticipants', 'bannedparticipants_account_id_fkey', 'FOREIGN KEY (account_id) REFERENCES account (account_id) ON DELETE CASCADE');
SELECT pg_temp.ensure_constraint('bannedparticipants', 'bannedparticipants_bot_id_fkey', 'FOREIGN KEY (bot_id) REFERENCES bot (bot_id) ON DELETE CASCADE');

CREATE UNIQUE INDEX IF NOT EXISTS uq_courseparticipants_member
    ON courseparticipants (course_id, account_id, coalesce(chat_id, 0), coalesce(username, ''));
SELECT pg_temp.ensure_constraint('courseparticipants', 'courseparticipants_course_id_account_id_fkey', 'FOREIGN KEY (course_id, account_id) REFERENCES course (course_id, account_id) ON DELETE CASCADE');

SELECT pg_temp.ensure_constraint('gen_settings', 'gen_settings_account_id_fkey', 'FOREIGN KEY (account_id) REFERENCES account (account_id) ON DELETE CASCADE');
-- A NULL bot_id is a setting for every bot.
SELECT pg_temp.ensure_constraint('gen_settings', 'gen_settings_bot_id_fkey', 'FOREIGN KEY (bot_id) REFERENCES bot (bot_id) ON DELETE CASCADE');
