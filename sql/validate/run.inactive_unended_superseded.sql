-- A run that is inactive but not ended was superseded: a newer run of the same
-- chat on the same bot exists.
WITH ranked AS (
    SELECT run_id, bot_id, chat_id, is_active, is_ended,
           max(run_id) OVER (PARTITION BY bot_id, chat_id) AS newest
      FROM run
), bad AS (
    SELECT run_id, bot_id, chat_id
      FROM ranked
     WHERE is_active IS FALSE AND is_ended IS NOT TRUE AND run_id = newest
)
SELECT (SELECT count(*) FROM bad)::int8 AS offending,
       ARRAY(SELECT format('run_id %s (bot_id %s, chat %s) is inactive, not ended, and the newest of its chat',
                           run_id, bot_id, coalesce(chat_id::text, 'NULL'))
               FROM bad ORDER BY run_id LIMIT 10) AS examples;
