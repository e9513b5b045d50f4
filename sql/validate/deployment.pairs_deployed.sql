-- Every (course, bot) pair that runs and waiting elements use has a 'prod' deployment.
WITH pairs AS (
    SELECT course_id, account_id, bot_id, 'run' AS tbl FROM run WHERE course_id IS NOT NULL AND bot_id IS NOT NULL GROUP BY 1, 2, 3
    UNION ALL
    SELECT course_id, account_id, bot_id, 'waiting_element' FROM waiting_element WHERE course_id IS NOT NULL AND bot_id IS NOT NULL GROUP BY 1, 2, 3
), bad AS (
    SELECT p.course_id, p.account_id, p.bot_id, string_agg(p.tbl, ', ' ORDER BY p.tbl) AS tables
      FROM pairs p
     WHERE NOT EXISTS (SELECT 1 FROM course_deployment d
                        WHERE d.course_id = p.course_id AND d.account_id = p.account_id
                          AND d.bot_id = p.bot_id AND d.environment = 'prod')
     GROUP BY p.course_id, p.account_id, p.bot_id
)
SELECT (SELECT count(*) FROM bad)::int8 AS offending,
       ARRAY(SELECT format('course %L (account %s) on bot %s has no prod deployment (used by %s)',
                           x.course_id, x.account_id, coalesce(quote_literal(b.bot_name), 'id ' || x.bot_id), x.tables)
               FROM bad x LEFT JOIN bot b ON b.bot_id = x.bot_id
              ORDER BY x.account_id, x.course_id, x.bot_id LIMIT 10) AS examples;
