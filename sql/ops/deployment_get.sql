SELECT d.deployment_id, d.course_id, d.account_id, d.bot_id, b.bot_name, d.environment,
       d.is_active IS NOT FALSE AS is_active, d.created_at
  FROM course_deployment d JOIN bot b ON b.bot_id = d.bot_id
 WHERE d.deployment_id = $1
