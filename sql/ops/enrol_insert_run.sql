-- botname and course_id too, so that the legacy bot reads the run as its own.
INSERT INTO run (chat_id, username, botname, course_id, account_id, bot_id, deployment_id, token_id, is_active)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, true)
RETURNING run_id
