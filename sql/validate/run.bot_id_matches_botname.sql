-- run.bot_id is the bot that run.botname names (in the row's account), where botname is set.
WITH bad AS (
    SELECT x.run_id AS id, x.botname, x.bot_id, b.bot_name AS bot_id_name, b.account_id AS bot_account
      FROM run x
      LEFT JOIN bot b ON b.bot_id = x.bot_id
     WHERE x.botname IS NOT NULL AND x.bot_id IS NOT NULL -- without bot_id: links.without_bot_id
       AND (b.bot_id IS NULL OR b.bot_name <> x.botname OR b.account_id <> x.account_id)
)
SELECT (SELECT count(*) FROM bad)::int8 AS offending,
       ARRAY(SELECT CASE WHEN bot_id_name IS NULL
                         THEN format('run_id %s: botname %L, but bot_id %s names no bot', id, botname, coalesce(bot_id::text, 'NULL'))
                         ELSE format('run_id %s: botname %L, but bot_id %s is %L (account %s)', id, botname, bot_id, bot_id_name, bot_account)
                    END
               FROM bad ORDER BY id LIMIT 10) AS examples;
