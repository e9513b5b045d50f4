-- The active deployment of a course on a bot: 'prod' first, then the oldest.
SELECT d.deployment_id, d.course_id, d.account_id, d.bot_id, b.bot_name, d.environment,
       d.is_active IS NOT FALSE AS is_active, d.created_at
  FROM course_deployment d JOIN bot b ON b.bot_id = d.bot_id
 WHERE d.course_id = $1 AND d.bot_id = $2 AND d.account_id = $3 AND d.is_active IS NOT FALSE
 ORDER BY d.environment = 'prod' DESC, d.deployment_id
 LIMIT 1
