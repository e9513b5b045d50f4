SELECT account_member_id, account_id, telegram_user_id, telegram_username, role,
       is_active IS NOT FALSE AS is_active, created_at, last_login_at
  FROM account_member
 WHERE account_id = $1 AND telegram_user_id = $2
   FOR UPDATE
