-- Runs with no course: they keep deployment_id NULL (reported, not a failure).
SELECT (SELECT count(*) FROM run WHERE course_id IS NULL)::int8 AS offending,
       ARRAY(SELECT format('run_id %s (chat %s)', run_id, coalesce(chat_id::text, 'NULL'))
               FROM run WHERE course_id IS NULL ORDER BY run_id LIMIT 10) AS examples;
