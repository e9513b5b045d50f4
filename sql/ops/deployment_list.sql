SELECT d.deployment_id, d.course_id, d.account_id, d.bot_id, b.bot_name, d.environment,
       d.is_active IS NOT FALSE AS is_active, d.created_at,
       (SELECT count(*) FROM run r WHERE r.deployment_id = d.deployment_id) AS runs,
       (SELECT count(*) FROM run r WHERE r.deployment_id = d.deployment_id AND r.is_active) AS active_runs,
       (SELECT count(*) FROM enrollment_token t
         WHERE t.deployment_id = d.deployment_id
           AND t.is_active IS NOT FALSE
           AND (t.expires_at IS NULL OR t.expires_at > now())
           AND (t.max_uses IS NULL OR coalesce(t.current_uses, 0) < t.max_uses)) AS active_tokens
  FROM course_deployment d JOIN bot b ON b.bot_id = d.bot_id
 WHERE ($1::int4 IS NULL OR d.account_id = $1)
   AND ($2::text IS NULL OR b.bot_name = $2)
 ORDER BY d.account_id, b.bot_name, d.course_id, d.environment
