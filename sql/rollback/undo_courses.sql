-- `migrate --abort` online, its last transaction: unrename.sql for the course tables
-- only (the abort's batches gave the other tables' rows their legacy course ids and
-- run_ids back). Courses renamed (or split) get their legacy id back, and their rows
-- of course_element with them; reads profochat_saas.legacy_course_name
-- (sql/state/schema.sql). The course tables are small.
UPDATE course_element t SET course_id = n.legacy_course_id
  FROM profochat_saas.legacy_course_name n WHERE t.course_id = n.course_id AND t.account_id = 1;
UPDATE course t SET course_id = n.legacy_course_id
  FROM profochat_saas.legacy_course_name n WHERE t.course_id = n.course_id AND t.account_id = 1;
-- Renamed courses got their legacy id back just above: their archive entries are done
-- (see unrename.sql).
DELETE FROM profochat_saas.archive
 WHERE table_name = 'course' AND action = 'updated' AND row = jsonb_build_object('course_id', row ->> 'course_id');
