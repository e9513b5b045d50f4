-- The bots of an account, for "did you mean" hints.
SELECT bot_name FROM bot WHERE account_id = $1 ORDER BY bot_name LIMIT 20
