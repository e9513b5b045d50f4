-- On a legacy database: course ids that rows name but no course row holds (courses
-- that live in the bots' YAML files).
SELECT x.course_id
  FROM (SELECT course_id FROM run
        UNION SELECT course_id FROM waiting_element
        UNION SELECT course_id FROM course_element
        UNION SELECT course_id FROM courseparticipants
        UNION SELECT course_id FROM conversation) x
 WHERE x.course_id IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM course c WHERE c.course_id = x.course_id)
 ORDER BY x.course_id
