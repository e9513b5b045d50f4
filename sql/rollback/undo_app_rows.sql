-- `migrate --abort` online, one batch of the pass over the application's rows: the rows
-- whose key the change log names with change_id in [$1, $2) (the last transaction: from
-- the first entry the pass's snapshot did not see, undo_app_rows_from.sql, to the end).
-- The compatibility layer gave them what the backfills give the migrated rows: a renamed
-- course copy's id, a detached run_id; they get the legacy values back, as the legacy
-- interface shows them. Rows of other accounts are kept (see undo_links.sql: the last
-- transaction refuses to switch back over them). Each row is found by its primary key, the log's entries by change_id.
-- Settings (SET LOCAL, by the batch's transaction: src/rollback/online/passes.rs
-- BATCH_PLAN): enable_hashjoin and enable_mergejoin off, so that the batch's rows find
-- the rows they join by primary key (every table joined has it), never by reading it whole.
WITH k AS (SELECT DISTINCT l.key FROM profochat_saas.change_log l WHERE l.change_id >= $1 AND l.change_id < $2 AND l.table_name = 'run')
UPDATE run t SET course_id = n.legacy_course_id
  FROM k, profochat_saas.legacy_course_name n
 WHERE t.run_id = (k.key ->> 'run_id')::int4 AND t.course_id = n.course_id AND t.account_id = 1;
WITH k AS (SELECT DISTINCT l.key FROM profochat_saas.change_log l WHERE l.change_id >= $1 AND l.change_id < $2 AND l.table_name = 'waiting_element')
UPDATE waiting_element t SET course_id = n.legacy_course_id
  FROM k, profochat_saas.legacy_course_name n
 WHERE t.waiting_element_id = (k.key ->> 'waiting_element_id')::int4 AND t.course_id = n.course_id AND t.account_id = 1;
WITH k AS (SELECT DISTINCT l.key FROM profochat_saas.change_log l WHERE l.change_id >= $1 AND l.change_id < $2 AND l.table_name = 'conversation')
UPDATE conversation t SET course_id = n.legacy_course_id
  FROM k, profochat_saas.legacy_course_name n
 WHERE t.conversation_id = (k.key ->> 'conversation_id')::int4 AND t.course_id = n.course_id AND t.account_id = 1;
WITH k AS (SELECT DISTINCT l.key FROM profochat_saas.change_log l WHERE l.change_id >= $1 AND l.change_id < $2 AND l.table_name = 'conversation')
UPDATE conversation t SET run_id = o.run_id
  FROM k, profochat_saas.legacy_conversation_run o
 WHERE t.conversation_id = (k.key ->> 'conversation_id')::int4 AND o.conversation_id = t.conversation_id AND t.run_id IS NULL;
