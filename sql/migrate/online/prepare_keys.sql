-- Online prepare, in its transaction: the unique keys of the new tables that the
-- compatibility triggers' ON CONFLICT clauses name (a legacy write under a new bot
-- name, or of a new course and bot pair, inserts through them). The tables are new and
-- small, so the keys are added at once, before the first legacy write goes through the
-- triggers; the keys step finds them in place.
SELECT pg_temp.ensure_constraint('bot', 'bot_account_id_bot_name_key', 'UNIQUE (account_id, bot_name)');
SELECT pg_temp.ensure_constraint('course_deployment', 'course_deployment_bot_id_course_id_account_id_environment_key', 'UNIQUE (bot_id, course_id, account_id, environment)');
