-- Every deployment names an existing course (of its account) and an existing bot.
WITH checked AS (
    SELECT d.deployment_id, d.course_id, d.account_id, d.bot_id,
           NOT EXISTS (SELECT 1 FROM course c WHERE c.course_id = d.course_id AND c.account_id = d.account_id) AS no_course,
           NOT EXISTS (SELECT 1 FROM bot b WHERE b.bot_id = d.bot_id) AS no_bot
      FROM course_deployment d
), bad AS (
    SELECT * FROM checked WHERE no_course OR no_bot
)
SELECT (SELECT count(*) FROM bad)::int8 AS offending,
       ARRAY(SELECT format('deployment %s: %s', deployment_id,
                           concat_ws(' and ',
                                     CASE WHEN no_course THEN format('course %L (account %s) does not exist', course_id, account_id) END,
                                     CASE WHEN no_bot THEN format('bot_id %s does not exist', bot_id) END))
               FROM bad ORDER BY deployment_id LIMIT 10) AS examples;
