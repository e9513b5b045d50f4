-- Concurrent enrolments through one token wait here, so each sees the uses the
-- previous one counted and max_uses holds.
SELECT t.token_id, t.deployment_id, t.token_type,
       t.is_active IS NOT FALSE AS token_active,
       t.expires_at IS NOT NULL AND t.expires_at <= now() AS expired,
       t.max_uses, coalesce(t.current_uses, 0) AS current_uses, t.expires_at,
       d.is_active IS NOT FALSE AS deployment_active,
       d.course_id, d.account_id, d.bot_id, d.environment, b.bot_name
  FROM enrollment_token t
  JOIN course_deployment d ON d.deployment_id = t.deployment_id
  JOIN bot b ON b.bot_id = d.bot_id
 WHERE t.token = $1
   FOR UPDATE OF t
