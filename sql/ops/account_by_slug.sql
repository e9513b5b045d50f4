SELECT account_id, name FROM account WHERE slug = $1
