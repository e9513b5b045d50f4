-- No duplicate participants under (course_id, account_id, coalesce(chat_id, 0),
-- coalesce(username, '')). The count is of the surplus rows.
WITH dup AS (
    SELECT course_id, account_id, coalesce(chat_id, 0) AS chat_id, coalesce(username, '') AS username,
           count(*) AS n, array_agg(courseparticipant_id ORDER BY courseparticipant_id) AS ids
      FROM courseparticipants
     WHERE course_id IS NOT NULL
     GROUP BY 1, 2, 3, 4
    HAVING count(*) > 1
)
SELECT coalesce((SELECT sum(n - 1) FROM dup), 0)::int8 AS offending,
       ARRAY(SELECT format('course %L (account %s), chat %s, username %L: %s rows (courseparticipant_id %s)',
                           course_id, account_id, chat_id, username, n, array_to_string(ids[1:10], ', '))
               FROM dup ORDER BY account_id, course_id, chat_id, username LIMIT 10) AS examples;
