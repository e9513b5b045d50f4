-- Every deployment, with its usable public token that fits a deep link (if any) and
-- the usable public tokens that are too short or too long for one (guessable
-- tokens such as 'public_' || deployment_id written by older scripts).
SELECT d.deployment_id, d.course_id, d.account_id, d.bot_id, b.bot_name, d.environment,
       d.is_active IS NOT FALSE AS is_active, d.created_at,
       (SELECT min(t.token_id) FROM enrollment_token t
         WHERE t.deployment_id = d.deployment_id AND t.token_type = 'public'
           AND t.is_active IS NOT FALSE
           AND (t.expires_at IS NULL OR t.expires_at > now())
           AND (t.max_uses IS NULL OR coalesce(t.current_uses, 0) < t.max_uses)
           AND t.token ~ $1
           AND length('cd_' || t.deployment_id || '_' || t.token) <= $2) AS public_token_id,
       (SELECT array_agg(t.token_id ORDER BY t.token_id) FROM enrollment_token t
         WHERE t.deployment_id = d.deployment_id AND t.token_type = 'public'
           AND t.is_active IS NOT FALSE
           AND (t.expires_at IS NULL OR t.expires_at > now())
           AND (t.max_uses IS NULL OR coalesce(t.current_uses, 0) < t.max_uses)
           AND NOT (t.token ~ $1 AND length('cd_' || t.deployment_id || '_' || t.token) <= $2)) AS weak_token_ids
  FROM course_deployment d JOIN bot b ON b.bot_id = d.bot_id
 ORDER BY d.deployment_id
