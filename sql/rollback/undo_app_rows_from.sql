-- `migrate --abort` online, its last transaction: the first change-log entry that the
-- snapshot $1, taken when the pass over the application's rows began, did not see
-- (committed after it, or still running then): from there on the log is read again
-- (undo_app_rows.sql), so that no entry a batch of the pass could not see is left.
-- NULL: none. One pass over the log, which holds only the application's writes.
SELECT min(l.change_id) FROM profochat_saas.change_log l WHERE NOT pg_visible_in_snapshot(l.txid, $1::text::pg_snapshot)
