//! The application's changes during an online migration, and the no-loss proof that
//! accounts for them.
//!
//! Online, the legacy bot keeps writing to the eight legacy tables while `migrate`
//! changes them in short batches. [`install`] puts a log (`profochat_saas.change_log`,
//! sql/migrate/online/change_log.sql) and a row trigger on each legacy table, which
//! records the key of every row the application inserts, updates or deletes and the
//! fingerprint hash of the row that held the key before (none for a new key). The
//! migration's own writes set [`short_lock::BACKFILL_SETTING`] (`SET LOCAL profochat_saas.backfill =
//! on`): they are not logged, the archive accounts for them. Key and hash are logged as
//! the reconstruction holds the row (the archived changes of the latest recorded
//! migration reverted, looked up by key when the application writes), so a row that the
//! migration changed (renamed, inserted, deleted) before the application changes it is
//! left out once, as it was before.
//!
//! [`before`] then takes the before-image in one snapshot: the fingerprints and the
//! snapshot itself. [`prove`] compares it with the reconstruction after the migration
//! (the tables now, the archived changes reverted, [`crate::fingerprint::reconstruct`])
//! with, on both sides, the rows whose key the application wrote after that snapshot
//! left out: before, each such row as the snapshot saw it (the `old_hash` of its first
//! logged change; none if no row held the key); after, each row the reconstruction
//! holds under such a key. Every other row must be equal, exactly as offline, and the
//! application's rows are counted.
//!
//! Order: record the migration (`profochat_saas.migration`, whose archive the triggers
//! read), [`install`], then [`before`], then the migration's changes (with the setting
//! on, archived), then [`prove`] in one snapshot (a REPEATABLE READ transaction, or
//! [`prove_in_snapshot`]), then [`remove`]. Every change the migration makes must come
//! after [`before`] and be archived in the transaction that makes it; the archive keys
//! are `jsonb_build_object` of the typed key columns, as the migration's SQL writes
//! them. An application transaction running at REPEATABLE READ that inserts a key the
//! migration deleted after that transaction's snapshot is logged without the deleted
//! row: the proof then fails (it never passes by mistake); the legacy bot's statements
//! commit one by one at READ COMMITTED.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tokio_postgres::{Client, GenericClient};

use super::TableProof;
use crate::conn::short_lock;
use crate::conn::snapshot::{snapshot, Access};
use crate::error::{Error, Result};
use crate::fingerprint::{self, key_cast, row_expr, Fingerprints, RowHash, TableFingerprint};
use crate::sql::{ident, legacy_columns, legacy_key, literal, LEGACY_TABLES};

const CHANGE_LOG: &str = include_str!("../../sql/migrate/online/change_log.sql");
const TRIGGER_FUNCTION: &str = include_str!("../../sql/migrate/online/change_log_trigger.sql");
const ATTACH: &str = include_str!("../../sql/migrate/online/change_log_attach.sql");
const REMOVE: &str = include_str!("../../sql/migrate/online/change_log_remove.sql");
const PROOF_BEFORE: &str = include_str!("../../sql/migrate/online/proof_before.sql");
const PROOF_AFTER: &str = include_str!("../../sql/migrate/online/proof_after.sql");
const ARCHIVE_COUNTS: &str = include_str!("../../sql/migrate/run/archive_counts.sql");
const PROOF_BACK_AFTER: &str = include_str!("../../sql/rollback/undo_proof_after.sql");

/// The name of the change-log trigger on each legacy table.
pub const TRIGGER_NAME: &str = "profochat_saas_change_log";
/// `xid8`, `pg_current_xact_id()` and `pg_visible_in_snapshot()` came with PostgreSQL 13.
pub const MIN_SERVER_VERSION_NUM: i32 = 130000;

/// The before-image of an online migration: the legacy tables' fingerprints and the
/// snapshot they were taken in (`pg_current_snapshot()` as text). Persisted as JSON in
/// the migration record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Before {
    pub fingerprints: Fingerprints,
    pub snapshot: String,
}

/// The tables whose proof failed, in report order.
pub fn unequal(proof: &[TableProof]) -> Vec<String> {
    proof.iter().filter(|p| !p.equal).map(|p| p.table.clone()).collect()
}

fn qerr(context: impl Into<String>, unchanged: &'static str) -> impl FnOnce(tokio_postgres::Error) -> Error {
    let context = context.into();
    move |e| Error::query(context, &e, unchanged)
}

const NOTHING: &str = "Nothing was changed.";

/// `jsonb_build_object` of the key columns of `table` in `alias` (`OLD`, `NEW`, a row).
fn key_json(table: &str, alias: &str) -> String {
    let parts: Vec<String> = legacy_key(table)
        .iter()
        .map(|k| format!("{}, {alias}.{}", literal(k), ident(k)))
        .collect();
    format!("jsonb_build_object({})", parts.join(", "))
}

/// `ROW(...)` of the legacy columns of `table` in `alias`.
fn legacy_row(table: &str, alias: &str) -> String {
    let cols: Vec<String> = legacy_columns(table).iter().map(|c| format!("{alias}.{}", ident(c))).collect();
    format!("ROW({})", cols.join(", "))
}

/// Matches the key of row `row` (an alias or a `(c.r)` expression) with the JSON key
/// `key` (as the log or the archive writes it).
fn key_match(table: &str, row: &str, key: &str) -> String {
    legacy_key(table)
        .iter()
        .map(|k| format!("{row}.{} = ({key} ->> {})::{}", ident(k), literal(k), key_cast(table, k)))
        .collect::<Vec<_>>()
        .join(" AND ")
}

fn function_name(table: &str) -> String {
    format!("profochat_saas.{}", ident(&format!("change_log_{table}")))
}

fn literals(names: &[&str]) -> String {
    names.iter().map(|c| literal(c)).collect::<Vec<_>>().join(", ")
}

/// The change-log trigger function of `table` (sql/migrate/online/change_log_trigger.sql
/// filled in), hashing rows as the fingerprint does on a server whose hash is `how`.
pub fn trigger_function_sql(table: &str, how: RowHash, schema: &str) -> String {
    TRIGGER_FUNCTION
        .replace("{{schema}}", &ident(schema))
        .replace("{{function}}", &function_name(table))
        .replace("{{name}}", &literal(table))
        .replace("{{old_key}}", &key_json(table, "OLD"))
        .replace("{{new_key}}", &key_json(table, "NEW"))
        .replace("{{p_key}}", &key_json(table, "p"))
        .replace("{{old_hash}}", &row_expr(table, "OLD", how))
        .replace("{{p_hash}}", &row_expr(table, "p", how))
        .replace("{{table}}", &ident(table))
        .replace("{{names}}", &literals(legacy_columns(table)))
        .replace("{{old_legacy}}", &legacy_row(table, "OLD"))
        .replace("{{new_legacy}}", &legacy_row(table, "NEW"))
}

/// The statement that attaches the change-log trigger to `table`.
pub fn attach_sql(table: &str) -> String {
    ATTACH.replace("{{table}}", &ident(table)).replace("{{function}}", &function_name(table))
}

/// The after side of the proof for `table` (sql/migrate/online/proof_after.sql filled in).
pub fn proof_after_sql(table: &str, how: RowHash) -> String {
    let moved_key = {
        let parts: Vec<String> = legacy_key(table)
            .iter()
            .map(|k| {
                format!(
                    "{l}, coalesce(m.row ->> {l}, m.key ->> {l})::{}",
                    key_cast(table, k),
                    l = literal(k)
                )
            })
            .collect();
        format!("jsonb_build_object({})", parts.join(", "))
    };
    PROOF_AFTER
        .replace("{{name}}", &literal(table))
        .replace("{{table}}", &ident(table))
        .replace("{{names}}", &literals(legacy_columns(table)))
        .replace("{{key_names}}", &literals(legacy_key(table)))
        .replace("{{t_in_k}}", &key_match(table, "t", "k.key"))
        .replace("{{t_is_m}}", &key_match(table, "t", "m.key"))
        .replace("{{r_key}}", &key_json(table, "(c.r)"))
        .replace("{{moved_key}}", &moved_key)
        .replace("{{p_key}}", &key_json(table, "(x.p)"))
        .replace("{{hash}}", &row_expr(table, "(x.p)", how))
}

/// The after side of the way back's proof for `table` (sql/rollback/undo_proof_after.sql
/// filled in): the table now, without the rows under a key the application wrote.
pub fn proof_back_after_sql(table: &str, how: RowHash) -> String {
    PROOF_BACK_AFTER
        .replace("{{name}}", &literal(table))
        .replace("{{table}}", &ident(table))
        .replace("{{t_in_k}}", &key_match(table, "t", "k.key"))
        .replace("{{hash}}", &row_expr(table, "t", how))
}

/// The no-loss proof of the way back (`migrate --abort` online), for `tables`: once
/// every archived change is given back, each table must equal its before-image with,
/// on both sides, the rows under a key the application wrote after the before-image's
/// snapshot left out (counted as [`prove`] counts them). `client` must see one snapshot
/// throughout (a REPEATABLE READ transaction, or the abort's last transaction with the
/// tables locked); the change log must still be there.
pub async fn prove_back<C: GenericClient + Sync>(client: &C, tables: &[&str], before: &Before) -> Result<Vec<TableProof>> {
    let how = require_server(client).await?;
    let zero = || TableFingerprint { rows: 0, hash: "0".into() };
    let mut out = vec![];
    for t in tables {
        let now = fingerprint::take_table(client, t).await?;
        let b = before.fingerprints.tables.get(*t).cloned().unwrap_or_else(zero);
        let row = client
            .query_one(PROOF_BEFORE, &[t, &before.snapshot, &b.rows, &b.hash])
            .await
            .map_err(qerr(format!("reading the application's changes to {t}"), NOTHING))?;
        let before_excluded = TableFingerprint { rows: row.get(0), hash: row.get(1) };
        let (app_inserted, app_updated, app_deleted, app_inserted_then_deleted) = (row.get(2), row.get(3), row.get(4), row.get(5));
        let row = client
            .query_one(&proof_back_after_sql(t, how), &[&before.snapshot, &now.rows, &now.hash])
            .await
            .map_err(qerr(format!("leaving the application's rows out of {t}"), NOTHING))?;
        let after_excluded = TableFingerprint { rows: row.get(0), hash: row.get(1) };
        out.push(TableProof {
            table: t.to_string(),
            equal: before_excluded == after_excluded,
            before: before_excluded,
            after: after_excluded,
            rows_now: now.rows,
            archived_deleted: 0,
            archived_updated: 0,
            archived_inserted: 0,
            written_meanwhile: Some([app_inserted, app_updated, app_deleted]),
            written_then_gone: Some(app_inserted_then_deleted),
        });
    }
    Ok(out)
}

async fn require_server<C: GenericClient + Sync>(client: &C) -> Result<RowHash> {
    let row = client
        .query_one("SELECT current_setting('server_version_num')::int4, current_setting('server_version')", &[])
        .await
        .map_err(qerr("reading the server version", NOTHING))?;
    let (num, text): (i32, String) = (row.get(0), row.get(1));
    if num < MIN_SERVER_VERSION_NUM {
        return Err(Error::ServerVersion {
            found: text,
            minimum: "13".into(),
            why: "an online migration logs the application's writes by transaction id (xid8, pg_visible_in_snapshot)".into(),
        });
    }
    Ok(RowHash::for_server(num))
}

/// The state of the change-log trigger on `table`: `None` if it has none (or the table
/// does not exist), else whether it is enabled.
async fn trigger_state(client: &Client, table: &str) -> Result<Option<bool>> {
    let row = client
        .query_opt(
            "SELECT tgenabled::text <> 'D' FROM pg_catalog.pg_trigger WHERE tgrelid = to_regclass($1) AND tgname = $2",
            &[&ident(table), &TRIGGER_NAME],
        )
        .await
        .map_err(qerr(format!("reading the triggers of {table}"), NOTHING))?;
    Ok(row.map(|r| r.get(0)))
}

/// Runs `statement` (DDL on a legacy table) in its own transaction in short lock
/// attempts ([`short_lock::own_transaction`], up to [`short_lock::DEFAULT_BOUND`]): the
/// bot never waits long behind it.
async fn with_short_lock(client: &Client, what: &str, statement: &str) -> Result<()> {
    let prologue = short_lock::Prologue { allow_ddl: true, attempt: true, backfill: false };
    match short_lock::own_transaction(client, prologue, statement, short_lock::DEFAULT_BOUND, |_| {}).await {
        Ok(_) => Ok(()),
        Err(f) => Err(Error::Query {
            context: what.to_string(),
            cause: if f.lock_not_granted() { format!("the lock was {}", f.cause()) } else { f.cause() },
            unchanged: "The triggers attached or dropped before it stay so; running the same command again finishes the rest. \
                        Another session (the running bot, a long query) may hold the table."
                .into(),
        }),
    }
}

/// Installs the change log: the tool's state schema if missing (the triggers read the
/// archive), the log, an index on the archive by key, the trigger functions and a
/// trigger on each legacy table, each attached in its own short transaction.
/// Idempotent: what exists stays (a disabled trigger is enabled again; the functions are
/// replaced). Refused on servers older than PostgreSQL 13.
pub async fn install(client: &Client) -> Result<()> {
    let how = require_server(client).await?;
    // The triggers read the tool's own state (the archive, the migration record).
    let schema: String = client
        .query_one(crate::target::sql::TABLES_SCHEMA, &[])
        .await
        .map_err(|e| Error::query("reading the schema of the tables", &e, NOTHING))?
        .get(0);
    let mut ddl = format!("{};\n{CHANGE_LOG}", crate::target::sql::STATE);
    for t in LEGACY_TABLES {
        ddl.push_str(";\n");
        ddl.push_str(&trigger_function_sql(t, how, &schema));
    }
    ddl.push_str(";\n");
    ddl.push_str(crate::target::sql::FUNCTION_PRIVILEGES);
    ddl.push_str(";\n");
    ddl.push_str(crate::target::sql::STATE_PRIVILEGES);
    client
        .batch_execute(&format!("BEGIN;\n{ddl};\nCOMMIT"))
        .await
        .map_err(|e| Error::query("creating the change log and its trigger functions", &e, NOTHING))?;
    for t in LEGACY_TABLES {
        match trigger_state(client, t).await? {
            Some(true) => {}
            Some(false) => {
                let sql = format!("ALTER TABLE {} ENABLE TRIGGER {}", ident(t), ident(TRIGGER_NAME));
                with_short_lock(client, &format!("enabling the change-log trigger of {t}"), &sql).await?;
            }
            None => with_short_lock(client, &format!("attaching the change-log trigger to {t}"), &attach_sql(t)).await?,
        }
    }
    Ok(())
}

/// Whether the change log is installed: the log exists and every legacy table has its
/// trigger, enabled.
pub async fn installed<C: GenericClient + Sync>(client: &C) -> Result<bool> {
    let tables: Vec<String> = LEGACY_TABLES.iter().map(|t| ident(t)).collect();
    let row = client
        .query_one(
            "SELECT to_regclass('profochat_saas.change_log') IS NOT NULL,
                    (SELECT count(DISTINCT tgrelid) FROM pg_catalog.pg_trigger
                      WHERE tgname = $2 AND tgenabled <> 'D'
                        AND tgrelid IN (SELECT to_regclass(t) FROM unnest($1::text[]) t))",
            &[&tables, &TRIGGER_NAME],
        )
        .await
        .map_err(qerr("looking for the change log", NOTHING))?;
    let (log, triggers): (bool, i64) = (row.get(0), row.get(1));
    Ok(log && triggers == LEGACY_TABLES.len() as i64)
}

/// Takes the before-image: in one REPEATABLE READ READ ONLY transaction, the snapshot
/// and the fingerprints of the legacy tables as that snapshot sees them, while the bot
/// writes. The change log must be installed first ([`install`]): refused otherwise.
pub async fn before(client: &mut Client) -> Result<Before> {
    let tx = snapshot(client, Access::ReadOnly).await.map_err(qerr("starting the before-image transaction", NOTHING))?;
    // The first statement takes the transaction's snapshot: this is it.
    let snapshot: String = tx
        .query_one("SELECT pg_current_snapshot()::text", &[])
        .await
        .map_err(qerr("reading the before-image snapshot", NOTHING))?
        .get(0);
    require_server(&tx).await?;
    if !installed(&tx).await? {
        return Err(Error::state(
            "the change log is not installed on every legacy table, so the application's writes during an online migration could not be accounted for",
            "Install it first (changes::install), then take the before-image.",
        ));
    }
    let fingerprints = fingerprint::take(&tx).await?;
    tx.commit().await.map_err(qerr("ending the before-image transaction", NOTHING))?;
    Ok(Before { fingerprints, snapshot })
}

/// The online no-loss proof of migration `migration_id`, per legacy table (see the
/// module documentation). `client` must see one snapshot throughout while the bot
/// writes: a REPEATABLE READ transaction (as [`prove_in_snapshot`] opens), or the
/// migration's final transaction with the legacy tables locked.
///
/// Per table: `before` is the before-image without the rows whose key the application
/// wrote after it; `after` the table now with the archived changes reverted, without
/// the rows held under a key the application wrote (it must equal `before`). The keys
/// the application wrote, by their first logged change (did a row hold the key
/// before?) and their last (does one now?), are `written_meanwhile`: inserted (no,
/// yes), updated (yes, yes), deleted (yes, no); and `written_then_gone`: inserted then
/// deleted again (no, no). A key the application changed counts as its old key updated
/// and its new key inserted.
pub async fn prove<C: GenericClient + Sync>(client: &C, migration_id: i32, before: &Before) -> Result<Vec<TableProof>> {
    Ok(prove_and_fingerprint(client, migration_id, before).await?.0)
}

/// [`prove`], and the fingerprints of the legacy tables as they are, which it takes
/// anyway (in its snapshot): the migration records them as its fingerprint after
/// without reading every table once more.
pub async fn prove_and_fingerprint<C: GenericClient + Sync>(client: &C, migration_id: i32, before: &Before) -> Result<(Vec<TableProof>, Fingerprints)> {
    let how = require_server(client).await?;
    let now = fingerprint::take(client).await?;
    let reconstructed = fingerprint::reconstruct(client, migration_id, &now).await?;
    let rows = client
        .query(ARCHIVE_COUNTS, &[&migration_id])
        .await
        .map_err(qerr("counting archived changes", NOTHING))?;
    let archived: BTreeMap<(String, String), i64> = rows.iter().map(|r| ((r.get(0), r.get(1)), r.get(2))).collect();
    let zero = || TableFingerprint { rows: 0, hash: "0".into() };
    let mut out = vec![];
    for t in LEGACY_TABLES {
        let b = before.fingerprints.tables.get(t).cloned().unwrap_or_else(zero);
        let r = reconstructed.tables.get(t).cloned().unwrap_or_else(zero);
        let row = client
            .query_one(PROOF_BEFORE, &[&t, &before.snapshot, &b.rows, &b.hash])
            .await
            .map_err(qerr(format!("reading the application's changes to {t}"), NOTHING))?;
        let before_excluded = TableFingerprint { rows: row.get(0), hash: row.get(1) };
        let (app_inserted, app_updated, app_deleted, app_inserted_then_deleted) = (row.get(2), row.get(3), row.get(4), row.get(5));
        let row = client
            .query_one(&proof_after_sql(t, how), &[&migration_id, &before.snapshot, &r.rows, &r.hash])
            .await
            .map_err(qerr(format!("leaving the application's rows out of the reconstruction of {t}"), NOTHING))?;
        let after_excluded = TableFingerprint { rows: row.get(0), hash: row.get(1) };
        let get = |a: &str| archived.get(&(t.to_string(), a.to_string())).copied().unwrap_or(0);
        out.push(TableProof {
            table: t.to_string(),
            equal: before_excluded == after_excluded,
            before: before_excluded,
            after: after_excluded,
            rows_now: now.tables.get(t).map(|f| f.rows).unwrap_or(0),
            archived_deleted: get("deleted"),
            archived_updated: get("updated"),
            archived_inserted: get("inserted"),
            written_meanwhile: Some([app_inserted, app_updated, app_deleted]),
            written_then_gone: Some(app_inserted_then_deleted),
        });
    }
    Ok((out, now))
}

/// [`prove`] in a REPEATABLE READ READ ONLY transaction of its own: one snapshot while
/// the bot writes.
pub async fn prove_in_snapshot(client: &mut Client, migration_id: i32, before: &Before) -> Result<Vec<TableProof>> {
    Ok(prove_in_snapshot_and_fingerprint(client, migration_id, before).await?.0)
}

/// [`prove_and_fingerprint`] in a REPEATABLE READ READ ONLY transaction of its own.
pub async fn prove_in_snapshot_and_fingerprint(client: &mut Client, migration_id: i32, before: &Before) -> Result<(Vec<TableProof>, Fingerprints)> {
    let tx = snapshot(client, Access::ReadOnly).await.map_err(qerr("starting the proof transaction", NOTHING))?;
    let proved = prove_and_fingerprint(&tx, migration_id, before).await?;
    tx.commit().await.map_err(qerr("ending the proof transaction", NOTHING))?;
    Ok(proved)
}

/// Removes the change log: each legacy table's trigger (in its own short transaction,
/// retried like [`install`]), then the functions, the log and its index on the archive.
/// The state schema stays. Safe to run when any of it is missing.
pub async fn remove(client: &Client) -> Result<()> {
    for t in LEGACY_TABLES {
        if trigger_state(client, t).await?.is_some() {
            let sql = format!("DROP TRIGGER IF EXISTS {} ON {}", ident(TRIGGER_NAME), ident(t));
            with_short_lock(client, &format!("dropping the change-log trigger of {t}"), &sql).await?;
        }
    }
    // The tool's own schema change: past the DDL guard (sql/migrate/9_ddl_guard.sql).
    let allow = short_lock::Prologue { allow_ddl: true, ..Default::default() };
    let r = client.batch_execute(&format!("BEGIN;\n{}\n{REMOVE};\nCOMMIT", allow.sql())).await;
    if r.is_err() {
        let _ = client.batch_execute("ROLLBACK").await;
    }
    r.map_err(|e| Error::query("dropping the change log", &e, "The triggers are dropped; the log and its functions stay."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_statement_says_what_it_does_in_a_header() {
        for text in [CHANGE_LOG, TRIGGER_FUNCTION, ATTACH, REMOVE, PROOF_BEFORE, PROOF_AFTER] {
            assert!(text.starts_with("-- "), "{}", &text[..40.min(text.len())]);
        }
    }

    #[test]
    fn templates_are_filled_in_completely() {
        for t in LEGACY_TABLES {
            for how in [RowHash::Record, RowHash::Text] {
                for sql in [trigger_function_sql(t, how, "public"), proof_after_sql(t, how), proof_back_after_sql(t, how), attach_sql(t)] {
                    let body: String = sql.lines().filter(|l| !l.trim_start().starts_with("--")).collect();
                    assert!(!body.contains("{{"), "{t}: {body}");
                }
            }
        }
    }

    #[test]
    fn the_trigger_hashes_old_as_the_fingerprint_does() {
        let f = trigger_function_sql("course", RowHash::Record, "public");
        assert!(f.contains(&row_expr("course", "OLD", RowHash::Record)), "{f}");
        assert!(f.contains(r#"jsonb_build_object('course_id', OLD."course_id", 'bot_name', OLD."bot_name")"#), "{f}");
        assert!(f.contains(short_lock::BACKFILL_SETTING), "{f}");
    }

    #[test]
    fn remove_drops_every_function_install_creates() {
        for t in LEGACY_TABLES {
            assert!(REMOVE.contains(&format!("DROP FUNCTION IF EXISTS profochat_saas.change_log_{t}();")), "{t}");
        }
    }

    #[test]
    fn before_round_trips_as_json() {
        let mut fingerprints = Fingerprints::default();
        fingerprints.tables.insert("run".into(), TableFingerprint { rows: 3, hash: "-12".into() });
        let b = Before { fingerprints, snapshot: "10:12:10,11".into() };
        let json = serde_json::to_string(&b).unwrap();
        assert_eq!(serde_json::from_str::<Before>(&json).unwrap(), b);
    }
}
