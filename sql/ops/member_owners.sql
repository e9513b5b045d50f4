SELECT count(*) FROM account_member WHERE account_id = $1 AND role = 'owner' AND is_active IS NOT FALSE
