-- Every member's role is owner, admin, member or viewer.
WITH bad AS (
    SELECT account_id, telegram_user_id, role
      FROM account_member
     WHERE role IS NULL OR role NOT IN ('owner', 'admin', 'member', 'viewer')
)
SELECT (SELECT count(*) FROM bad)::int8 AS offending,
       ARRAY(SELECT format('account %s, telegram user %s: role %L', account_id, telegram_user_id, role)
               FROM bad ORDER BY account_id, telegram_user_id LIMIT 10) AS examples;
