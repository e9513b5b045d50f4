-- The distinct non-NULL bot names of the six legacy bot columns (to choose a default bot).
SELECT botname FROM run WHERE botname IS NOT NULL
UNION SELECT botname FROM waiting_element WHERE botname IS NOT NULL
UNION SELECT botname FROM bannedparticipants WHERE botname IS NOT NULL
UNION SELECT bot_name FROM course WHERE bot_name IS NOT NULL
UNION SELECT bot_name FROM course_element WHERE bot_name IS NOT NULL
UNION SELECT bot_name FROM gen_settings WHERE bot_name IS NOT NULL
