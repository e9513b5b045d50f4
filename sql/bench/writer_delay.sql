-- The legacy bot schedules a delay (SPEC §1): $1 chat_id, $2 waiting_till_date, $3 is_waiting, $4 element_id, $5 course_id, $6 botname.
INSERT INTO waiting_element (chat_id, waiting_till_date, is_waiting, element_id, course_id, botname) VALUES ($1, $2, $3, $4, $5, $6) RETURNING waiting_element_id
