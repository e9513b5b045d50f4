-- Every course_id that a row names resolves to a course row of the row's account.
-- Each table's references are counted per course first: the check then looks up a
-- few dozen course ids instead of every row.
WITH refs AS (
              SELECT 'run' AS tbl, course_id, account_id, count(*) AS n FROM run
               WHERE course_id IS NOT NULL GROUP BY course_id, account_id
    UNION ALL SELECT 'waiting_element', course_id, account_id, count(*) FROM waiting_element
               WHERE course_id IS NOT NULL GROUP BY course_id, account_id
    UNION ALL SELECT 'course_element', course_id, account_id, count(*) FROM course_element
               WHERE course_id IS NOT NULL GROUP BY course_id, account_id
    UNION ALL SELECT 'courseparticipants', course_id, account_id, count(*) FROM courseparticipants
               WHERE course_id IS NOT NULL GROUP BY course_id, account_id
    UNION ALL SELECT 'conversation', course_id, account_id, count(*) FROM conversation
               WHERE course_id IS NOT NULL GROUP BY course_id, account_id
), bad AS (
    SELECT r.tbl, r.course_id, r.account_id, r.n
      FROM refs r
     WHERE NOT EXISTS (SELECT 1 FROM course c WHERE c.course_id = r.course_id AND c.account_id = r.account_id)
)
SELECT coalesce((SELECT sum(n) FROM bad), 0)::int8 AS offending,
       ARRAY(SELECT format('%s: course_id %L (account %s) has no course row, %s row(s)', tbl, course_id, account_id, n)
               FROM bad ORDER BY n DESC, tbl, course_id LIMIT 10) AS examples;
