-- A member added again gets the new role, is active again, and keeps a known
-- username unless a new one is given.
INSERT INTO account_member (account_id, telegram_user_id, telegram_username, role, is_active)
VALUES ($1, $2, $3, $4, true)
ON CONFLICT (account_id, telegram_user_id) DO UPDATE
   SET role = EXCLUDED.role,
       telegram_username = coalesce(EXCLUDED.telegram_username, account_member.telegram_username),
       is_active = true
RETURNING account_member_id, account_id, telegram_user_id, telegram_username, role,
          is_active IS NOT FALSE AS is_active, created_at, last_login_at
