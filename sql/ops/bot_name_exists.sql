SELECT 1 FROM bot WHERE bot_name = $1 LIMIT 1
