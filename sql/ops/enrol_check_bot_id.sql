-- The token a payload carries, checked as profochat_saas.enrol checks it for the bot of
-- that id, without using it.
-- $1 payload, $2 bot_id.
SELECT token_id, deployment_id, course_id, account_id, bot_id, bot_name, token_type, environment,
       max_uses, current_uses, expires_at
  FROM profochat_saas.enrolment_token($1::text, $2::int4)
