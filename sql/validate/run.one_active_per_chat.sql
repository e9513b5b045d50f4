-- At most one active run per bot and chat (what run_one_active_per_bot_chat enforces).
-- The count is of the surplus runs: all active runs of a chat but one.
WITH dup AS (
    SELECT bot_id, chat_id, count(*) AS n, array_agg(run_id ORDER BY run_id) AS run_ids
      FROM run
     WHERE is_active AND chat_id IS NOT NULL AND bot_id IS NOT NULL -- as the unique index: NULLs are distinct
     GROUP BY bot_id, chat_id
    HAVING count(*) > 1
)
SELECT coalesce((SELECT sum(n - 1) FROM dup), 0)::int8 AS offending,
       ARRAY(SELECT format('bot %s, chat %s: %s active runs (run_id %s)',
                           coalesce(quote_literal(b.bot_name), 'id ' || d.bot_id), d.chat_id, d.n,
                           array_to_string(d.run_ids[1:10], ', '))
               FROM dup d LEFT JOIN bot b ON b.bot_id = d.bot_id
              ORDER BY d.bot_id, d.chat_id LIMIT 10) AS examples;
