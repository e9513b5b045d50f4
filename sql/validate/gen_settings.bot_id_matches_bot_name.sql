-- gen_settings.bot_id is the bot that bot_name names; a NULL bot_name (a setting for
-- every bot) keeps a NULL bot_id.
WITH bad AS (
    SELECT g.id, g.bot_name, g.bot_id, b.bot_name AS bot_id_name
      FROM gen_settings g
      LEFT JOIN bot b ON b.bot_id = g.bot_id
     WHERE (g.bot_name IS NULL AND g.bot_id IS NOT NULL)
        OR (g.bot_name IS NOT NULL
            AND (b.bot_id IS NULL OR b.bot_name <> g.bot_name OR b.account_id <> coalesce(g.account_id, 1)))
)
SELECT (SELECT count(*) FROM bad)::int8 AS offending,
       ARRAY(SELECT CASE WHEN bot_name IS NULL
                         THEN format('id %s: bot_name is NULL (every bot), but bot_id is %s', id, bot_id)
                         WHEN bot_id IS NULL
                         THEN format('id %s: bot_name %L, but bot_id is NULL', id, bot_name)
                         WHEN bot_id_name IS NULL
                         THEN format('id %s: bot_name %L, but bot_id %s names no bot', id, bot_name, bot_id)
                         ELSE format('id %s: bot_name %L, but bot_id %s is %L', id, bot_name, bot_id, bot_id_name)
                    END
               FROM bad ORDER BY id LIMIT 10) AS examples;
