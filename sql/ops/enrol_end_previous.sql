-- The chat's active run on this bot ends; the legacy is_ended stays as the bot left it.
UPDATE run SET is_active = false, ended_at = now()
 WHERE bot_id = $1 AND chat_id = $2 AND is_active
RETURNING run_id
