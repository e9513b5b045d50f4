-- The change log of an online migration: one row per legacy row that the application
-- (the running bot, or anything but the migration itself) inserts, updates or deletes
-- while `migrate` works on a live database. Installed by src/migrate/changes.rs
-- (`install`) before the before-image is taken, together with one trigger per legacy
-- table built from change_log_trigger.sql; read by the online no-loss proof
-- (`changes::prove`), which leaves the rows named here out of the before-image and out
-- of the reconstruction after the migration and counts them; dropped by
-- change_log_remove.sql.
--
-- key:      the row's legacy primary key as a JSON object ({"run_id": 7};
--           {"course_id": "c1", "bot_name": "b"} for course). For an UPDATE or DELETE
--           the OLD key; an UPDATE that changes the key logs the old key as 'updated'
--           and the new key as 'inserted'.
-- txid:     the writing transaction: the proof counts only the entries of transactions
--           that the before-image's snapshot does not see.
-- old_hash: the hash of the row's legacy columns before the change, computed exactly as
--           the fingerprint hashes a row (src/fingerprint.rs), so that it can be
--           subtracted from the before-image; NULL when no row held the key. Key and
--           hash are those of the row as the proof's reconstruction holds it (the
--           migration's archived changes reverted, see change_log_trigger.sql), so that
--           a row the migration changed first and the application after is counted
--           once, as it was.
-- The migration's own writes set profochat_saas.backfill = on and are not logged: the
-- archive (profochat_saas.archive) accounts for them.

CREATE SCHEMA IF NOT EXISTS profochat_saas;

CREATE TABLE IF NOT EXISTS profochat_saas.change_log (
    change_id  bigserial PRIMARY KEY,
    table_name text NOT NULL,
    key        jsonb NOT NULL,
    txid       xid8 NOT NULL DEFAULT pg_current_xact_id(),
    action     text NOT NULL CHECK (action IN ('inserted', 'updated', 'deleted')),
    old_hash   numeric
);

-- The triggers look up the archive by key on every write of the application (and the
-- proof for every key in the log): by the key alone, which names its table's columns.
CREATE INDEX IF NOT EXISTS archive_change_log_key ON profochat_saas.archive (key);
