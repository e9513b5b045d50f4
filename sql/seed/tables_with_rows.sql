-- The legacy tables that hold at least one row.
SELECT t FROM (
          SELECT 'conversation' AS t, EXISTS (SELECT 1 FROM conversation) AS has_rows
UNION ALL SELECT 'run', EXISTS (SELECT 1 FROM run)
UNION ALL SELECT 'waiting_element', EXISTS (SELECT 1 FROM waiting_element)
UNION ALL SELECT 'course', EXISTS (SELECT 1 FROM course)
UNION ALL SELECT 'course_element', EXISTS (SELECT 1 FROM course_element)
UNION ALL SELECT 'courseparticipants', EXISTS (SELECT 1 FROM courseparticipants)
UNION ALL SELECT 'bannedparticipants', EXISTS (SELECT 1 FROM bannedparticipants)
UNION ALL SELECT 'gen_settings', EXISTS (SELECT 1 FROM gen_settings)
) found
WHERE has_rows
