-- Rollback, step 3: rows written after the migration on a renamed (or split) course
-- copy go back to the legacy course id, as the legacy bot wrote them.
UPDATE run t SET course_id = c.metadata ->> 'legacy_course_id'
  FROM course c WHERE t.course_id = c.course_id AND c.account_id = 1 AND c.metadata ? 'legacy_course_id';
UPDATE waiting_element t SET course_id = c.metadata ->> 'legacy_course_id'
  FROM course c WHERE t.course_id = c.course_id AND c.account_id = 1 AND c.metadata ? 'legacy_course_id';
UPDATE conversation t SET course_id = c.metadata ->> 'legacy_course_id'
  FROM course c WHERE t.course_id = c.course_id AND c.account_id = 1 AND c.metadata ? 'legacy_course_id';
UPDATE course_element t SET course_id = c.metadata ->> 'legacy_course_id'
  FROM course c WHERE t.course_id = c.course_id AND c.account_id = 1 AND c.metadata ? 'legacy_course_id';
UPDATE course SET course_id = metadata ->> 'legacy_course_id' WHERE account_id = 1 AND metadata ? 'legacy_course_id';
