-- A run with a course has the deployment of that course on its bot, in its account;
-- a run with no course has no deployment.
WITH bad AS (
    SELECT r.run_id, r.course_id, r.account_id, r.bot_id, r.deployment_id,
           d.deployment_id AS found, d.course_id AS d_course, d.account_id AS d_account, d.bot_id AS d_bot
      FROM run r
      LEFT JOIN course_deployment d ON d.deployment_id = r.deployment_id
     WHERE (r.course_id IS NOT NULL AND r.bot_id IS NOT NULL -- without bot_id: links.without_bot_id
            AND (d.deployment_id IS NULL OR d.course_id <> r.course_id
                 OR d.account_id <> r.account_id OR d.bot_id <> r.bot_id))
        OR (r.course_id IS NULL AND r.deployment_id IS NOT NULL)
)
SELECT (SELECT count(*) FROM bad)::int8 AS offending,
       ARRAY(SELECT CASE WHEN course_id IS NULL
                         THEN format('run_id %s: no course, but deployment_id %s', run_id, deployment_id)
                         WHEN deployment_id IS NULL
                         THEN format('run_id %s: course %L on bot_id %s, but deployment_id is NULL', run_id, course_id, bot_id)
                         WHEN found IS NULL
                         THEN format('run_id %s: deployment_id %s does not exist', run_id, deployment_id)
                         ELSE format('run_id %s: course %L, account %s, bot_id %s, but deployment %s is course %L, account %s, bot_id %s',
                                     run_id, course_id, account_id, bot_id, deployment_id, d_course, d_account, d_bot)
                    END
               FROM bad ORDER BY run_id LIMIT 10) AS examples;
