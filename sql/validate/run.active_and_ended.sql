-- No run is both active and ended.
WITH bad AS (
    SELECT run_id, chat_id FROM run WHERE is_active AND is_ended
)
SELECT (SELECT count(*) FROM bad)::int8 AS offending,
       ARRAY(SELECT format('run_id %s (chat %s)', run_id, coalesce(chat_id::text, 'NULL'))
               FROM bad ORDER BY run_id LIMIT 10) AS examples;
