-- conversation.run_id, when set, names an existing run.
-- $1: inside the migration transaction, which has just validated
-- conversation_run_id_fkey, the validated key is the proof and the table is not
-- scanned a second time. Everywhere else every row is checked.
WITH proven AS (
    SELECT $1::bool AND EXISTS (
               SELECT 1 FROM pg_constraint
                WHERE conrelid = 'conversation'::regclass AND conname = 'conversation_run_id_fkey'
                  AND contype = 'f' AND confrelid = 'run'::regclass AND convalidated) AS yes
), bad AS (
    SELECT c.run_id, count(*) AS n
      FROM conversation c
     WHERE NOT (SELECT yes FROM proven)
       AND c.run_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM run r WHERE r.run_id = c.run_id)
     GROUP BY c.run_id
)
SELECT coalesce((SELECT sum(n) FROM bad), 0)::int8 AS offending,
       ARRAY(SELECT format('run_id %s (no such run): %s conversation row(s)', run_id, n)
               FROM bad ORDER BY run_id LIMIT 10) AS examples;
