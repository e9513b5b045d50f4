SELECT account_member_id, account_id, telegram_user_id, telegram_username, role,
       is_active IS NOT FALSE AS is_active, created_at, last_login_at
  FROM account_member
 WHERE account_id = $1
 ORDER BY CASE role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 WHEN 'member' THEN 2 WHEN 'viewer' THEN 3 ELSE 4 END,
          telegram_user_id
