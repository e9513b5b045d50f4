-- Serialises membership changes of one account (so two sessions cannot both remove
-- "one of two" owners) without blocking inserts that reference the account.
SELECT account_id FROM account WHERE account_id = $1 FOR NO KEY UPDATE
