-- `migrate --abort` of an online migration, run online: where the abort stands, one row
-- per migration, written in the transaction of the work it records (src/rollback/online.rs),
-- so that an abort killed anywhere is resumed by the next `migrate --abort` where it
-- stopped. The migration's status is 'aborting' meanwhile. Dropped with the tool's
-- schema by the abort's last transaction.
--   step:     the undo step under way (src/rollback/online.rs, UndoStep)
--   next_key: the archive pass: the archive_id below which every entry is undone;
--             the pass over the application's rows: the change_id from which the log is
--             still to be read
--   end_key:  the bound captured when the pass started (the archive's first entry; the
--             change log's last entry)
--   log_snapshot: the snapshot taken when the pass over the application's rows started:
--             what it may not have seen is read again by the last transaction
CREATE TABLE IF NOT EXISTS profochat_saas.undo_progress (
    migration_id int4 PRIMARY KEY,
    step         text NOT NULL,
    next_key     int8,
    end_key      int8,
    log_snapshot text,
    batches      int8 NOT NULL DEFAULT 0,
    rows         int8 NOT NULL DEFAULT 0,
    counts       jsonb NOT NULL DEFAULT '{}'
);
