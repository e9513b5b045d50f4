-- Check after phase 0 (inside the migration transaction): 0 when the default account
-- (1, slug 'default') exists. Reads account.
SELECT 1 - count(*) FROM account WHERE account_id = 1 AND slug = 'default'
