-- Phase 2: the token from BOT_API_TOKEN ($1) for the bot named by BOT_NAME ($2), in
-- place of its placeholder. The token is a parameter, never part of the text.
UPDATE bot SET bot_token = $1, updated_at = now() WHERE account_id = 1 AND bot_name = $2
