-- What the legacy schema cannot hold, one row per kind: (what, count, examples).
-- `rollback --dry-run` lists them; `rollback` saves the database to a file beside the
-- backups first when any count is not zero. Bot tokens are named by their bot only.
-- Deployments the migration made are older than its end (an online migration makes
-- them over several transactions; one still in progress made every one there is, also
-- those its compatibility triggers made for the bot's writes a moment ago: the clock,
-- not the start of this transaction). Rows of other accounts are counted through each
-- table's index on account_id (`< 1 OR > 1`, which an index can answer; `<> 1` reads the
-- whole table): the online way back runs this in its last transaction, under its locks,
-- so `run` is read once (r) for its three kinds rather than three times.
WITH m AS (SELECT coalesce((SELECT coalesce(finished_at, clock_timestamp()) FROM profochat_saas.migration ORDER BY migration_id DESC LIMIT 1),
                           '-infinity') AS migrated_at),
-- run, the biggest table checked, read once for its three kinds.
r AS MATERIALIZED (
    SELECT count(*) FILTER (WHERE token_id IS NOT NULL)::int8 AS through_tokens,
           count(*) FILTER (WHERE utm_medium IS NOT NULL OR utm_term IS NOT NULL OR utm_content IS NOT NULL OR metadata IS NOT NULL) AS new_values,
           count(*) FILTER (WHERE account_id < 1 OR account_id > 1) AS other_accounts
      FROM run)
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
SELECT 'real bot tokens (set with bot set-token or BOT_API_TOKEN)', count(*)::int8, string_agg(bot_name, ', ' ORDER BY bot_name)
  FROM bot WHERE NOT starts_with(bot_token, 'profochat-saas-placeholder-')
UNION ALL
SELECT 'deployments created after the migration or outside the prod environment', count(*)::int8,
       string_agg(format('#%s %s (%s)', deployment_id, course_id, environment), ', ')
  FROM course_deployment, m WHERE environment IS DISTINCT FROM 'prod' OR created_at > m.migrated_at
UNION ALL
SELECT 'runs started through enrollment tokens', r.through_tokens, NULL FROM r
UNION ALL
SELECT 'values in the new columns (UTM medium/term/content, metadata, descriptions, participants'' chat ids)', (
        (SELECT new_values FROM r)
      + (SELECT count(*) FROM course WHERE description IS NOT NULL
            OR (metadata IS NOT NULL AND NOT metadata ?| ARRAY['created_from', 'legacy_course_id', 'merged_copies_of_bots']))
      + (SELECT count(*) FROM bannedparticipants WHERE metadata IS NOT NULL)
      + (SELECT count(*) FROM courseparticipants WHERE chat_id IS NOT NULL OR added_by IS NOT NULL)
      + (SELECT count(*) FROM bot WHERE description IS NOT NULL AND description <> 'created when the legacy bot first wrote under this name'))::int8, NULL
UNION ALL
SELECT 'legacy rows of other accounts', (
        (SELECT other_accounts FROM r) + (SELECT count(*) FROM course WHERE account_id < 1 OR account_id > 1)
      + (SELECT count(*) FROM course_element WHERE account_id < 1 OR account_id > 1) + (SELECT count(*) FROM waiting_element WHERE account_id < 1 OR account_id > 1)
      + (SELECT count(*) FROM bannedparticipants WHERE account_id < 1 OR account_id > 1) + (SELECT count(*) FROM courseparticipants WHERE account_id < 1 OR account_id > 1)
      + (SELECT count(*) FROM gen_settings WHERE account_id < 1 OR account_id > 1))::int8, NULL
