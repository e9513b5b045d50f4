-- conversation.run_id, when set, names an existing run.
WITH bad AS (
    SELECT c.run_id, count(*) AS n
      FROM conversation c
     WHERE c.run_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM run r WHERE r.run_id = c.run_id)
     GROUP BY c.run_id
)
SELECT coalesce((SELECT sum(n) FROM bad), 0)::int8 AS offending,
       ARRAY(SELECT format('run_id %s (no such run): %s conversation row(s)', run_id, n)
               FROM bad ORDER BY run_id LIMIT 10) AS examples;
