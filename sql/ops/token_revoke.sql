-- Returns whether the token was active before.
UPDATE enrollment_token AS t
   SET is_active = false
  FROM (SELECT token_id, is_active IS NOT FALSE AS was_active FROM enrollment_token WHERE token_id = $1 FOR UPDATE) AS before
 WHERE t.token_id = before.token_id
RETURNING t.deployment_id, before.was_active
