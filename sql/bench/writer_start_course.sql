-- The legacy bot starts a course (SPEC §1): $1 course_id, $2 username, $3 chat_id, $4 botname, $5 utm_source, $6 utm_campaign.
INSERT INTO run (course_id, username, chat_id, botname, utm_source, utm_campaign) VALUES ($1, $2, $3, $4, $5, $6) RETURNING run_id
