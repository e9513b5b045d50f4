-- Every bot with its token, for classification (placeholder, Telegram-shaped, other).
-- The tokens never leave the process: results name bots only.
SELECT account_id, bot_name, bot_token FROM bot ORDER BY account_id, bot_name
