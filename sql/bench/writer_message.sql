-- The legacy bot records a message (SPEC §1): $1 chat_id, $2 course_id, $3 username, $4 element_id, $5 element_type,
-- $6 run_id, $7 json, $8 role, $9 report, $10 score, $11 maxscore.
INSERT INTO conversation (chat_id, course_id, username, element_id, element_type, run_id, json, role, report, score, maxscore)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING conversation_id
