SELECT t.token_id, t.deployment_id, d.course_id, d.account_id, b.bot_name, d.environment,
       t.token, t.token_type, t.max_uses, coalesce(t.current_uses, 0) AS current_uses,
       t.expires_at, t.created_at, t.created_by,
       CASE WHEN t.is_active IS FALSE THEN 'revoked'
            WHEN t.expires_at IS NOT NULL AND t.expires_at <= now() THEN 'expired'
            WHEN t.max_uses IS NOT NULL AND coalesce(t.current_uses, 0) >= t.max_uses THEN 'used_up'
            WHEN d.is_active IS FALSE THEN 'deployment_inactive'
            ELSE 'active' END AS state
  FROM enrollment_token t
  JOIN course_deployment d ON d.deployment_id = t.deployment_id
  JOIN bot b ON b.bot_id = d.bot_id
 WHERE ($1::int4 IS NULL OR t.deployment_id = $1)
   AND ($2::int4 IS NULL OR t.token_id = $2)
 ORDER BY t.deployment_id, t.token_id
