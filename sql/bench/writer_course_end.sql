-- The legacy bot ends a course (SPEC §1): $1 chat_id, $2 botname, $3 course_id.
UPDATE run SET is_ended = TRUE WHERE chat_id = $1 AND botname = $2 AND course_id = $3
