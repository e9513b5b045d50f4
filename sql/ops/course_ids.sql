-- The courses of an account, for "did you mean" hints.
SELECT course_id FROM course WHERE account_id = $1 ORDER BY course_id LIMIT 20
