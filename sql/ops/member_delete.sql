DELETE FROM account_member WHERE account_id = $1 AND telegram_user_id = $2
