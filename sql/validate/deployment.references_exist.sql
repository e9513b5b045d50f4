-- Every deployment names an existing course (of its account) and an existing bot.
-- Both tests are anti-joins in WHERE (never EXISTS in a select list), so each is one
-- hashed or merged pass however many deployments there are.
WITH missing AS (
    SELECT d.deployment_id, 'course' AS what
      FROM course_deployment d
     WHERE NOT EXISTS (SELECT 1 FROM course c WHERE c.course_id = d.course_id AND c.account_id = d.account_id)
    UNION ALL
    SELECT d.deployment_id, 'bot'
      FROM course_deployment d
     WHERE NOT EXISTS (SELECT 1 FROM bot b WHERE b.bot_id = d.bot_id)
), bad AS (
    SELECT d.deployment_id, d.course_id, d.account_id, d.bot_id,
           bool_or(m.what = 'course') AS no_course,
           bool_or(m.what = 'bot') AS no_bot
      FROM missing m
      JOIN course_deployment d ON d.deployment_id = m.deployment_id
     GROUP BY d.deployment_id, d.course_id, d.account_id, d.bot_id
)
SELECT (SELECT count(*) FROM bad)::int8 AS offending,
       ARRAY(SELECT format('deployment %s: %s', deployment_id,
                           concat_ws(' and ',
                                     CASE WHEN no_course THEN format('course %L (account %s) does not exist', course_id, account_id) END,
                                     CASE WHEN no_bot THEN format('bot_id %s does not exist', bot_id) END))
               FROM bad ORDER BY deployment_id LIMIT 10) AS examples;
