-- Every bot name in the six legacy bot columns has a bot row in the row's account.
-- Renamed course copies keep their bot_name, so course.bot_name still names its bot.
WITH names AS (
    SELECT account_id, botname AS bot_name, 'run' AS tbl FROM run WHERE botname IS NOT NULL GROUP BY 1, 2
    UNION ALL
    SELECT account_id, botname, 'waiting_element' FROM waiting_element WHERE botname IS NOT NULL GROUP BY 1, 2
    UNION ALL
    SELECT account_id, botname, 'bannedparticipants' FROM bannedparticipants WHERE botname IS NOT NULL GROUP BY 1, 2
    UNION ALL
    SELECT account_id, bot_name, 'course' FROM course WHERE bot_name IS NOT NULL GROUP BY 1, 2
    UNION ALL
    SELECT account_id, bot_name, 'course_element' FROM course_element WHERE bot_name IS NOT NULL GROUP BY 1, 2
    UNION ALL
    -- gen_settings.account_id may be NULL; legacy settings belong to account 1.
    SELECT coalesce(account_id, 1), bot_name, 'gen_settings' FROM gen_settings WHERE bot_name IS NOT NULL GROUP BY 1, 2
), bad AS (
    SELECT n.account_id, n.bot_name, string_agg(n.tbl, ', ' ORDER BY n.tbl) AS tables
      FROM names n
     WHERE NOT EXISTS (SELECT 1 FROM bot b WHERE b.account_id = n.account_id AND b.bot_name = n.bot_name)
     GROUP BY n.account_id, n.bot_name
)
SELECT (SELECT count(*) FROM bad)::int8 AS offending,
       ARRAY(SELECT format('%L (account %s), named in %s', bot_name, account_id, tables)
               FROM bad ORDER BY account_id, bot_name LIMIT 10) AS examples;
