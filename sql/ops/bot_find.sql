SELECT bot_id, account_id, bot_name, left(bot_token, length($3)) = $3 AS placeholder
  FROM bot
 WHERE account_id = $1 AND bot_name = $2
