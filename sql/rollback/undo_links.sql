-- `rollback` online (after a completed migration), one batch of its pass over the links:
-- the rows of one legacy table with its primary key in [$1, $2). Rows written since the
-- migration went through the compatibility layer, which gave them what the backfills
-- gave the migrated rows (a renamed course copy's id, a detached run_id) without an
-- archive entry: as unrename.sql does for the whole table, they get the legacy values
-- back, as the legacy interface shows them. Rows of other accounts are kept: the online
-- way back runs only when there were none as it began, and its last transaction refuses
-- to switch back if the application wrote any since (one transaction saves them first).
-- src/rollback/online.rs runs the statements of the table batched
-- (each names its table first); each reads a range of the table's primary key.
-- Settings (SET LOCAL, by the batch's transaction: src/rollback/online/passes.rs
-- BATCH_PLAN): enable_hashjoin and enable_mergejoin off, so that the batch's rows find
-- the rows they join by primary key (every table joined has it), never by reading it whole.
UPDATE run t SET course_id = n.legacy_course_id
  FROM profochat_saas.legacy_course_name n
 WHERE t.run_id >= $1::int8 AND t.run_id < $2::int8 AND t.course_id = n.course_id AND t.account_id = 1;
UPDATE waiting_element t SET course_id = n.legacy_course_id
  FROM profochat_saas.legacy_course_name n
 WHERE t.waiting_element_id >= $1::int8 AND t.waiting_element_id < $2::int8 AND t.course_id = n.course_id AND t.account_id = 1;
UPDATE conversation t SET course_id = n.legacy_course_id
  FROM profochat_saas.legacy_course_name n
 WHERE t.conversation_id >= $1::int8 AND t.conversation_id < $2::int8 AND t.course_id = n.course_id AND t.account_id = 1;
UPDATE conversation t SET run_id = o.run_id
  FROM profochat_saas.legacy_conversation_run o
 WHERE t.conversation_id >= $1::int8 AND t.conversation_id < $2::int8 AND o.conversation_id = t.conversation_id AND t.run_id IS NULL;
