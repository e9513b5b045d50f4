SELECT name FROM account WHERE account_id = $1
