-- What the legacy schema cannot hold: if any of these counts is not zero, `rollback`
-- refuses and lists them. One row per kind: (what, count, examples).
SELECT 'accounts other than the default account' AS what, count(*)::int8 AS n,
       string_agg(format('%s (%s)', name, slug), ', ' ORDER BY account_id) AS examples
  FROM account WHERE account_id <> 1
UNION ALL
SELECT 'account members', count(*)::int8, string_agg(coalesce(telegram_username, telegram_user_id::text) || ' (' || role || ')', ', ')
  FROM account_member
UNION ALL
SELECT 'enrollment tokens', count(*)::int8, string_agg('token #' || token_id || ' of deployment ' || deployment_id, ', ')
  FROM enrollment_token
UNION ALL
SELECT 'deployments outside the prod environment', count(*)::int8, string_agg(format('#%s %s (%s)', deployment_id, course_id, environment), ', ')
  FROM course_deployment WHERE environment IS DISTINCT FROM 'prod'
UNION ALL
SELECT 'runs started through enrollment tokens', count(*)::int8, NULL FROM run WHERE token_id IS NOT NULL
UNION ALL
SELECT 'legacy rows of other accounts', (
        (SELECT count(*) FROM run WHERE account_id <> 1) + (SELECT count(*) FROM course WHERE account_id <> 1)
      + (SELECT count(*) FROM course_element WHERE account_id <> 1) + (SELECT count(*) FROM waiting_element WHERE account_id <> 1)
      + (SELECT count(*) FROM bannedparticipants WHERE account_id <> 1) + (SELECT count(*) FROM courseparticipants WHERE account_id <> 1)
      + (SELECT count(*) FROM gen_settings WHERE account_id <> 1))::int8, NULL
