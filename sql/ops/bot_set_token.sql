-- Returns whether the stored token was already this one.
UPDATE bot AS b
   SET bot_token = $2, updated_at = now()
  FROM (SELECT bot_id, bot_token = $2 AS same FROM bot WHERE bot_id = $1 FOR UPDATE) AS before
 WHERE b.bot_id = before.bot_id
RETURNING before.same
