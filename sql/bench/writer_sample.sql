-- `bench --writer`: the runs whose chat, course and bot the writer's statements use
-- (the newest $1 runs that name all three), read once before the migration starts.
SELECT run_id, chat_id, course_id, botname, coalesce(username, '')
  FROM run
 WHERE chat_id IS NOT NULL AND course_id IS NOT NULL AND botname IS NOT NULL
 ORDER BY run_id DESC
 LIMIT $1
