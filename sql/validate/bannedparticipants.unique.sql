-- No duplicate bans under (bot_id, chat_id, excluded). Like the unique key, rows
-- with a NULL in the key are never duplicates. The count is of the surplus rows.
WITH dup AS (
    SELECT bot_id, chat_id, excluded, count(*) AS n,
           array_agg(bannedparticipant_id ORDER BY bannedparticipant_id) AS ids
      FROM bannedparticipants
     WHERE bot_id IS NOT NULL AND chat_id IS NOT NULL AND excluded IS NOT NULL
     GROUP BY bot_id, chat_id, excluded
    HAVING count(*) > 1
)
SELECT coalesce((SELECT sum(n - 1) FROM dup), 0)::int8 AS offending,
       ARRAY(SELECT format('bot %s, chat %s, excluded %s: %s rows (bannedparticipant_id %s)',
                           coalesce(quote_literal(b.bot_name), 'id ' || d.bot_id), d.chat_id, d.excluded, d.n,
                           array_to_string(d.ids[1:10], ', '))
               FROM dup d LEFT JOIN bot b ON b.bot_id = d.bot_id
              ORDER BY d.bot_id, d.chat_id, d.excluded LIMIT 10) AS examples;
