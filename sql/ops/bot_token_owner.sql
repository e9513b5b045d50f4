-- Another bot that already has this token.
SELECT account_id, bot_name FROM bot WHERE bot_token = $1 AND bot_id <> $2
