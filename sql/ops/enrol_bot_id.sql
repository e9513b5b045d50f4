-- Enrols through the one implementation, profochat_saas.enrol (sql/migrate/enrol.sql),
-- naming the bot that received /start by its id.
-- $1 payload, $2 chat_id, $3 username, $4 bot_id.
SELECT run_id, deployment_id, course_id, account_id, bot_id, bot_name, token_id, ended_previous_run
  FROM profochat_saas.enrol($1::text, $2::int8, $3::text, $4::int4)
