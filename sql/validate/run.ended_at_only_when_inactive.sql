-- ended_at is set only on inactive runs.
WITH bad AS (
    SELECT run_id, chat_id, ended_at FROM run WHERE ended_at IS NOT NULL AND is_active IS NOT FALSE
)
SELECT (SELECT count(*) FROM bad)::int8 AS offending,
       ARRAY(SELECT format('run_id %s (chat %s) is active but ended at %s', run_id, coalesce(chat_id::text, 'NULL'), ended_at)
               FROM bad ORDER BY run_id LIMIT 10) AS examples;
