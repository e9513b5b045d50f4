SELECT 1 FROM course WHERE course_id = $1 AND account_id = $2
