-- Rollback, step 3: the legacy values the legacy interface shows come back into the
-- tables. Rows on renamed (or split) course copies, migrated ones and those written
-- since, go back to the legacy course id; conversation rows whose run_id named no run
-- get that run_id back. Reads profochat_saas.legacy_course_name and
-- profochat_saas.legacy_conversation_run (sql/state/schema.sql).
UPDATE run t SET course_id = n.legacy_course_id
  FROM profochat_saas.legacy_course_name n WHERE t.course_id = n.course_id AND t.account_id = 1;
UPDATE waiting_element t SET course_id = n.legacy_course_id
  FROM profochat_saas.legacy_course_name n WHERE t.course_id = n.course_id AND t.account_id = 1;
UPDATE conversation t SET course_id = n.legacy_course_id
  FROM profochat_saas.legacy_course_name n WHERE t.course_id = n.course_id AND t.account_id = 1;
UPDATE course_element t SET course_id = n.legacy_course_id
  FROM profochat_saas.legacy_course_name n WHERE t.course_id = n.course_id AND t.account_id = 1;
UPDATE course t SET course_id = n.legacy_course_id
  FROM profochat_saas.legacy_course_name n WHERE t.course_id = n.course_id AND t.account_id = 1;
UPDATE conversation t SET run_id = o.run_id
  FROM profochat_saas.legacy_conversation_run o WHERE t.conversation_id = o.conversation_id AND t.run_id IS NULL;
-- Renamed courses got their legacy id back just above. Their archive entries (the old
-- course_id, keyed by the renamed id) are done: left, they would match the course that
-- now has the renamed id as its legacy id (a legacy course named like `<id>__<bot>`,
-- written since) and give it the other course's id.
DELETE FROM profochat_saas.archive
 WHERE table_name = 'course' AND action = 'updated' AND row = jsonb_build_object('course_id', row ->> 'course_id');
