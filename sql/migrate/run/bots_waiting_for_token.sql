-- Bots whose token is still the placeholder the migration gave them ($1: its prefix).
-- Only the names: tokens are never read out.
SELECT bot_name FROM bot WHERE starts_with(bot_token, $1) ORDER BY bot_name
