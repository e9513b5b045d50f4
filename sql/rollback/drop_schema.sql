-- Rollback, last step: the columns and tables the migration added, and the tool's own schema.
ALTER TABLE course DROP COLUMN IF EXISTS account_id, DROP COLUMN IF EXISTS title, DROP COLUMN IF EXISTS description,
                   DROP COLUMN IF EXISTS updated_at, DROP COLUMN IF EXISTS metadata, DROP COLUMN IF EXISTS is_active;
ALTER TABLE course_element DROP COLUMN IF EXISTS account_id;
-- The online migration's temporary index (built before its preflight), if it is left.
DROP INDEX IF EXISTS profochat_saas_run_chat;
ALTER TABLE run DROP COLUMN IF EXISTS account_id, DROP COLUMN IF EXISTS bot_id, DROP COLUMN IF EXISTS deployment_id,
                DROP COLUMN IF EXISTS token_id, DROP COLUMN IF EXISTS is_active, DROP COLUMN IF EXISTS ended_at,
                DROP COLUMN IF EXISTS utm_medium, DROP COLUMN IF EXISTS utm_term, DROP COLUMN IF EXISTS utm_content,
                DROP COLUMN IF EXISTS metadata;
ALTER TABLE conversation DROP COLUMN IF EXISTS account_id;
ALTER TABLE waiting_element DROP COLUMN IF EXISTS account_id, DROP COLUMN IF EXISTS bot_id, DROP COLUMN IF EXISTS run_id,
                            DROP COLUMN IF EXISTS created_at;
ALTER TABLE bannedparticipants DROP COLUMN IF EXISTS account_id, DROP COLUMN IF EXISTS bot_id, DROP COLUMN IF EXISTS metadata;
ALTER TABLE courseparticipants DROP COLUMN IF EXISTS account_id, DROP COLUMN IF EXISTS chat_id, DROP COLUMN IF EXISTS added_at,
                               DROP COLUMN IF EXISTS added_by;
ALTER TABLE gen_settings DROP COLUMN IF EXISTS account_id, DROP COLUMN IF EXISTS bot_id, DROP COLUMN IF EXISTS created_at,
                         DROP COLUMN IF EXISTS updated_at;
DROP TABLE IF EXISTS enrollment_token, course_deployment, account_member, bot, account CASCADE;
-- Upstream's migration ledger: the rows this tool recorded go; the table too if the tool
-- created it and nothing else was recorded since.
DO $$
BEGIN
    IF to_regclass('schema_migrations') IS NOT NULL THEN
        DELETE FROM schema_migrations WHERE applied_by LIKE 'profochat-saas %';
        IF to_regclass('profochat_saas.created_object') IS NOT NULL
           AND EXISTS (SELECT 1 FROM profochat_saas.created_object WHERE object = 'table schema_migrations')
           AND NOT EXISTS (SELECT 1 FROM schema_migrations) THEN
            DROP TABLE schema_migrations;
        END IF;
    END IF;
END $$;
DROP SCHEMA IF EXISTS profochat_saas CASCADE;
