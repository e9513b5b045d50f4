//! `rollback`: turns a migrated database back into the legacy schema in place,
//! without a backup. The archive and the legacy interface give back every legacy row
//! and value as the legacy bot knows it; legacy rows written since the migration are
//! kept. What the legacy schema cannot hold (accounts, members, tokens, the new
//! columns' values) is first saved to a file beside the backups, restorable with
//! `restore`: never a dead end, nothing dropped silently.

pub mod online;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tokio_postgres::Transaction;

use crate::conn::{short_lock, Db};
use crate::error::{pg_error_text, Error, Result};
use crate::fingerprint::{self, Fingerprints};
use crate::migrate::{changes, TableProof};
use crate::report::Reporter;
use crate::schema::{self, SchemaState};
use crate::sql::{ident, legacy_columns, legacy_key, literal, LEGACY_TABLES};
use crate::target;

const LOSSES: &str = include_str!("../../sql/rollback/losses.sql");
const DROP_KEYS: &str = include_str!("../../sql/rollback/drop_keys.sql");
const UNDO_KEYS: &str = include_str!("../../sql/rollback/undo_keys.sql");
const UNRENAME: &str = include_str!("../../sql/rollback/unrename.sql");
/// The eight legacy tables, for the one-transaction undo.
const ALL_TABLES: [&str; 8] = LEGACY_TABLES;
const DROP_SCHEMA: &str = include_str!("../../sql/rollback/drop_schema.sql");

/// What one table got back.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TableRollback {
    pub values_restored: u64,
    pub rows_restored: u64,
    pub rows_removed: u64,
}

/// Something the legacy schema cannot hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Loss {
    pub what: String,
    pub count: i64,
    pub examples: Option<String>,
}

/// How `rollback` runs.
#[derive(Debug, Clone)]
pub struct RollbackOptions {
    /// Only list what the legacy schema cannot hold; change nothing.
    pub dry_run: bool,
    /// Where what the legacy schema cannot hold is saved (the backup directory).
    pub save_dir: std::path::PathBuf,
    /// `migrate --abort`: undo an online migration that has not switched (and only that).
    pub abort: bool,
    /// `migrate --abort --offline`: the abort in one transaction that holds the legacy
    /// tables (faster; the bot waits for all of it). Without it the abort runs online
    /// ([`online`]): short transactions, batches, one short switch back.
    pub offline: bool,
    /// How long each short lock of an online abort keeps trying (default
    /// [`short_lock::DEFAULT_BOUND`]).
    pub lock_wait: Option<std::time::Duration>,
    /// Test hook: end the process at this point of an online abort, as kill -9 would
    /// (see [`online`]).
    pub crash_at: Option<String>,
}

impl Default for RollbackOptions {
    fn default() -> Self {
        RollbackOptions { dry_run: false, save_dir: "backups".into(), abort: false, offline: false, lock_wait: None, crash_at: None }
    }
}

/// What `rollback` did.
#[derive(Debug, Clone, Serialize)]
pub struct RollbackReport {
    pub target: String,
    pub migration_id: i32,
    /// `--dry-run`: nothing was changed.
    pub dry_run: bool,
    /// What the legacy schema cannot hold.
    pub losses: Vec<Loss>,
    /// The file that holds it, saved before anything changed (None when nothing needed saving).
    pub saved_to: Option<std::path::PathBuf>,
    pub tables: BTreeMap<String, TableRollback>,
    /// The legacy tables now.
    pub fingerprint: Fingerprints,
    /// The fingerprint recorded before the migration.
    pub fingerprint_before_migration: Option<Fingerprints>,
    /// Tables whose fingerprint differs from before the migration (rows written since).
    pub changed_since_migration: Vec<String>,
    /// Bots that had a real token in the bot table (the legacy bot reads BOT_API_TOKEN).
    pub bot_tokens_dropped: Vec<String>,
    /// Roles whose search_path pointed at the legacy interface, set back to the default.
    pub legacy_roles_reset: Vec<String>,
    /// The no-loss proof of the way back (an online abort): each legacy table equal to
    /// its before-image, the rows written since left out on both sides and counted.
    pub proof: Vec<TableProof>,
    /// Undone online (short transactions and batches) rather than in one transaction.
    pub online: bool,
    pub elapsed_ms: u64,
}

fn q(context: &'static str) -> impl Fn(tokio_postgres::Error) -> Error {
    move |e| Error::query(context, &e, "The rollback transaction was rolled back: nothing was changed.")
}

/// What the legacy schema cannot hold, kinds with a count only.
pub async fn losses<C: tokio_postgres::GenericClient + Sync>(client: &C) -> Result<Vec<Loss>> {
    let rows = client
        .query(LOSSES, &[])
        .await
        .map_err(|e| Error::query("checking what the legacy schema cannot hold", &e, "Nothing was changed."))?;
    Ok(rows
        .iter()
        .map(|r| Loss { what: r.get(0), count: r.get(1), examples: r.get::<_, Option<String>>(2).map(|e| truncate(&e, 200)) })
        .filter(|l| l.count > 0)
        .collect())
}

/// Rolls the migration back.
pub async fn rollback(db: &mut Db, opts: &RollbackOptions, reporter: &dyn Reporter) -> Result<RollbackReport> {
    let started = std::time::Instant::now();
    let target = db.settings.display_target();
    let status = schema::inspect(db).await?;
    let migration = match (&status.last_migration, status.state) {
        (Some(m), SchemaState::MigrationInProgress) if opts.abort => m.clone(),
        // An online abort or rollback under way: either command finishes it.
        (Some(m), SchemaState::MigrationInProgress) if m.status() == Some(crate::state::MigrationStatus::Aborting) => m.clone(),
        (_, _) if opts.abort => {
            return Err(Error::state(
                format!("{target} has no online migration in progress: it is {}", status.state.describe()),
                if status.state.is_migrated() {
                    "The migration switched already: `profochat-saas rollback` returns it to the legacy schema."
                } else {
                    "Nothing to abort."
                },
            ))
        }
        (_, SchemaState::MigrationInProgress) => {
            return Err(Error::state(
                format!("{target} has an online migration in progress, not a completed one"),
                "`profochat-saas migrate --abort` undoes it (or `profochat-saas migrate` resumes it).",
            ))
        }
        (_, SchemaState::Legacy) => {
            return Err(Error::state(
                format!("{target} is in the legacy schema already: there is nothing to roll back"),
                "Nothing to do.",
            ))
        }
        (_, SchemaState::Migrated) if !status.upstream_since.is_empty() => {
            return Err(Error::state(
                format!(
                    "{target} has upstream's migrations {} applied since this migration: they changed the schema (0004 turns course ids into integers), \
                     so it cannot be rolled back in place",
                    status.upstream_since.join(", ")
                ),
                "Going back across them is a restore: `profochat-saas backups` lists the backups, `profochat-saas restore FILE` restores the one \
                 taken before them (or before the migration).",
            ))
        }
        (Some(_), SchemaState::Migrated) if status.finished() => {
            return Err(Error::state(
                format!("{target} was finished: the legacy interface and the compatibility layer are gone, so it cannot be rolled back in place"),
                "Restore the backup taken before the migration with `profochat-saas restore FILE` (`profochat-saas backups` lists them).",
            ))
        }
        (Some(m), SchemaState::Migrated | SchemaState::IndexesPending) => m.clone(),
        (_, SchemaState::Outdated) => {
            return Err(Error::state(
                format!("{target} is migrated, but its keys, indexes or functions differ from the current target's (an older profochat-saas migrated it, or they were changed by hand)"),
                "Run `profochat-saas migrate` first (it renames keys and indexes, no row changes), then `profochat-saas rollback`.",
            ))
        }
        (_, SchemaState::PartlyMigrated) => {
            return Err(Error::state(
                format!("{target} is partly migrated, not by a completed profochat-saas migration, so there is no archive to roll back from"),
                "Run `profochat-saas migrate` to finish the migration first, or restore a backup with `profochat-saas restore FILE`.",
            ))
        }
        _ => {
            return Err(Error::state(
                format!("{target} is {}: it is not a migrated ProfoChatBot database", status.state.describe()),
                "Check --database-url / DATABASE_URL.",
            ))
        }
    };

    // An abort before the expand step committed has no new tables or columns to look at.
    let expanded = expanded(&db.client).await?;
    let resuming = migration.status() == Some(crate::state::MigrationStatus::Aborting);
    let server: i32 = db
        .query_one("SELECT current_setting('server_version_num')::int4", &[])
        .await
        .map_err(q("reading the server version"))?
        .get(0);
    // Online unless --offline: an abort, a rollback of a completed migration, either
    // under way (a rollback needs the change log: PostgreSQL 13 or later).
    let online = expanded && !opts.offline && (opts.abort || server >= changes::MIN_SERVER_VERSION_NUM);
    if opts.abort || online {
        let got: bool = db
            .query_one("SELECT pg_try_advisory_lock($1)", &[&crate::state::ADVISORY_KEY])
            .await
            .map_err(q("taking the migration lock"))?
            .get(0);
        if !got {
            return Err(Error::refused(
                format!("a `profochat-saas migrate` is running on {target}"),
                if opts.abort {
                    "Stop it first (Ctrl-C), then run `profochat-saas migrate --abort` again."
                } else {
                    "Stop it first (Ctrl-C), then run `profochat-saas rollback` again."
                },
            ));
        }
    }
    let found = if expanded { losses(&db.client).await? } else { vec![] };
    if opts.dry_run {
        return Ok(RollbackReport {
            target,
            migration_id: migration.migration_id,
            dry_run: true,
            losses: found,
            saved_to: None,
            tables: BTreeMap::new(),
            fingerprint: Fingerprints::default(),
            fingerprint_before_migration: None,
            changed_since_migration: vec![],
            bot_tokens_dropped: vec![],
            legacy_roles_reset: vec![],
            proof: vec![],
            online: false,
            elapsed_ms: started.elapsed().as_millis() as u64,
        });
    }
    // Online only when the legacy schema loses nothing: the one transaction checks under
    // its locks that nothing it cannot hold was written after the save (the online switch
    // back refuses then: see online::switch_back), and an interrupted online way back is
    // finished by it too.
    let online = if online && !found.is_empty() {
        reporter.warn(&format!(
            "the database holds what the legacy schema cannot ({}): it is saved first, and the way back runs in one transaction that checks under its locks that nothing more was written (the bot waits for it)",
            found.iter().map(|l| format!("{} {}", l.count, l.what)).collect::<Vec<_>>().join(", ")
        ));
        false
    } else {
        online
    };
    // Saved before anything changes: the whole database, restorable with `restore`.
    // (An online way back under way began with nothing to save: what it finds now was
    // written since, and is saved like the rest.)
    let saved_to = if found.is_empty() {
        None
    } else {
        let info = crate::backup::create_named(&db.settings, &opts.save_dir, crate::backup::ROLLBACK_SAVE_PREFIX, reporter).await?;
        Some(info.path)
    };
    // (An online abort under way may be finished offline too: each part of the one
    // transaction's restore finds what the batches gave back already in place.)
    if online {
        let rollback = !opts.abort && !resuming;
        return online::abort(db, migration.migration_id, rollback, opts, reporter, found, saved_to, started).await;
    }

    let tx = db.client.transaction().await.map_err(q("starting the rollback"))?;
    reporter.started("rollback: lock and check", None);
    let t = std::time::Instant::now();
    let mut all = LEGACY_TABLES.iter().map(|t| ident(t)).collect::<Vec<_>>();
    if expanded {
        all.extend(target::NEW_TABLES.iter().map(|t| ident(t)));
    }
    tx.batch_execute(&short_lock::Prologue { allow_ddl: true, ..Default::default() }.sql()).await.map_err(q("starting the rollback"))?;
    lock_in_short_attempts(&tx, &all).await?;
    // Written between the save and the lock: the save would not hold it.
    let now = if expanded { losses(&tx).await? } else { vec![] };
    let counts = |l: &[Loss]| l.iter().map(|x| (x.what.clone(), x.count)).collect::<Vec<_>>();
    if counts(&now) != counts(&found) {
        return Err(Error::refused(
            "the application wrote data the legacy schema cannot hold while the rollback saved it".to_string(),
            format!(
                "Nothing was rolled back{}. Stop the application's writes and run `profochat-saas rollback` again.",
                saved_to.as_ref().map(|p| format!(" (the file {} is complete up to that moment)", p.display())).unwrap_or_default()
            ),
        ));
    }
    let before: Option<Fingerprints> = tx
        .query_one("SELECT fingerprint_before FROM profochat_saas.migration WHERE migration_id = $1", &[&migration.migration_id])
        .await
        .map_err(q("reading the migration record"))?
        .get::<_, Option<serde_json::Value>>(0)
        .and_then(|v| serde_json::from_value(v).ok());
    let bot_tokens_dropped: Vec<String> = if !expanded {
        vec![]
    } else {
        tx.query("SELECT bot_name FROM bot WHERE NOT starts_with(bot_token, $1) ORDER BY bot_name", &[&target::PLACEHOLDER_TOKEN_PREFIX])
            .await
            .map_err(q("listing bot tokens"))?
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    reporter.finished(
        "rollback: lock and check",
        t.elapsed(),
        &match &saved_to {
            Some(p) => format!("what the legacy schema cannot hold is saved in {}", p.display()),
            None => "nothing the legacy schema cannot hold".to_string(),
        },
    );

    let legacy_roles_reset = crate::legacy::reset_roles(&tx).await?;
    // Its policies name account_id, which the legacy schema has not.
    crate::tenant::remove_all(&tx).await?;
    reporter.started("rollback: restore legacy rows and values", None);
    let t = std::time::Instant::now();
    let tables = if expanded { restore(&tx, migration.migration_id, &ALL_TABLES, UNRENAME).await? } else { BTreeMap::new() };
    tx.batch_execute(DROP_SCHEMA).await.map_err(q("dropping the SaaS tables and columns"))?;
    reporter.finished("rollback: restore legacy rows and values", t.elapsed(), "");

    let fingerprint = fingerprint::take(&tx).await?;
    let changed = before.as_ref().map(|b| b.differences(&fingerprint)).unwrap_or_default();
    tx.commit().await.map_err(q("committing the rollback"))?;
    Ok(RollbackReport {
        target,
        migration_id: migration.migration_id,
        dry_run: false,
        losses: found,
        saved_to,
        tables,
        fingerprint,
        fingerprint_before_migration: before,
        changed_since_migration: changed,
        bot_tokens_dropped,
        legacy_roles_reset,
        proof: vec![],
        online: false,
        elapsed_ms: started.elapsed().as_millis() as u64,
    })
}

/// How long `rollback` keeps trying to lock the tables.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(15);

/// The tables, locked `ACCESS EXCLUSIVE` in short attempts ([`short_lock`]) for up to
/// [`LOCK_WAIT`] in all: a request queued behind a long query would make every statement
/// of the running bot wait behind it; an attempt makes them wait at most one attempt.
async fn lock_in_short_attempts(tx: &Transaction<'_>, tables: &[String]) -> Result<()> {
    let tables: Vec<&str> = tables.iter().map(String::as_str).collect();
    let sql = format!(
        "{}; {}; SET LOCAL lock_timeout = 0",
        short_lock::lock_timeout(short_lock::ATTEMPT),
        short_lock::lock_statement(&tables, "ACCESS EXCLUSIVE")
    );
    match short_lock::in_transaction(tx, &sql, LOCK_WAIT, |_| {}).await {
        Ok(_) => Ok(()),
        Err(f) if f.lock_not_granted() => Err(Error::refused(
            format!("could not lock the tables within {} s: {}", LOCK_WAIT.as_secs(), pg_error_text(&f.error)),
            "Nothing was changed. Another session (the running bot, a long query) holds them. Stop the bot or wait, then run `profochat-saas rollback` again.",
        )),
        Err(f) => Err(q("locking the tables")(f.error)),
    }
}

/// Whether the new tables and columns exist (an online migration's expand step committed).
async fn expanded<C: tokio_postgres::GenericClient + Sync>(client: &C) -> Result<bool> {
    Ok(client
        .query_one(
            "SELECT to_regclass('bot') IS NOT NULL AND EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('run') AND attname = 'account_id' AND NOT attisdropped)",
            &[],
        )
        .await
        .map_err(q("reading the schema"))?
        .get(0))
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}

fn key_match(table: &str) -> String {
    legacy_key(table)
        .iter()
        .map(|k| {
            let cast = match (table, *k) {
                ("course", _) => "text",
                ("course_element", _) => "int8",
                _ => "int4",
            };
            format!("t.{} = (a.key ->> {})::{cast}", ident(k), literal(k))
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// Gives `tables` back in the caller's transaction: the legacy interface, the
/// compatibility layer, the keys and indexes go; rows of other accounts and rows the
/// migration made go; `unrename` (unrename.sql, or the course tables' part of it for an
/// online abort) gives course ids back; archived values and deleted rows come back.
/// The caller drops the schema (drop_schema.sql) after.
async fn restore(tx: &Transaction<'_>, migration_id: i32, tables: &[&str], unrename: &str) -> Result<BTreeMap<String, TableRollback>> {
    let mut out: BTreeMap<String, TableRollback> = BTreeMap::new();
    tx.batch_execute(crate::target::sql::DROP_COMPAT).await.map_err(q("dropping the legacy interface"))?;
    tx.batch_execute(&format!("{UNDO_KEYS}\n{DROP_KEYS}")).await.map_err(q("dropping the SaaS keys"))?;
    for idx in target::secondary_indexes() {
        tx.batch_execute(&format!("DROP INDEX IF EXISTS {}", ident(&idx.name)))
            .await
            .map_err(q("dropping the SaaS indexes"))?;
    }

    // Rows of other accounts are the new application's, not the legacy bot's: they are
    // in the file saved before the rollback, and leave the legacy tables.
    for table in tables {
        let n = tx
            .execute(&format!("DELETE FROM {} WHERE account_id <> 1", ident(table)), &[])
            .await
            .map_err(q("removing the rows of other accounts"))?;
        out.entry(table.to_string()).or_default().rows_removed += n;
    }
    // Elements imported from the bots' YAML files are no legacy rows either (the
    // legacy bot read those courses from its files).
    let imported: bool = tx
        .query_one("SELECT to_regclass('profochat_saas.legacy_hidden_element') IS NOT NULL", &[])
        .await
        .map_err(q("removing the elements imported from YAML files"))?
        .get(0);
    if imported {
        let removed = tx
            .execute(
                "DELETE FROM course_element t USING profochat_saas.legacy_hidden_element h WHERE t.course_element_id = h.course_element_id",
                &[],
            )
            .await
            .map_err(q("removing the elements imported from YAML files"))?;
        out.entry("course_element".into()).or_default().rows_removed += removed;
    }
    // Courses that exist only so that references resolve, or that the legacy bot
    // removed, are not legacy rows: they go (the legacy interface hides them).
    let removed = tx
        .execute(
            "DELETE FROM course t USING profochat_saas.legacy_hidden_course h WHERE t.course_id = h.course_id AND t.account_id = 1",
            &[],
        )
        .await
        .map_err(q("removing courses the legacy bot never had"))?;
    out.entry("course".into()).or_default().rows_removed += removed;

    // Rows on renamed course copies (migrated ones and those written since) go back to
    // the legacy course id; then every changed legacy value gets its archived value back.
    tx.batch_execute(unrename).await.map_err(q("restoring course ids"))?;
    for table in tables {
        let cols = legacy_columns(table);
        let list = cols.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ");
        let picks = cols.iter().map(|c| format!("p.{}", ident(c))).collect::<Vec<_>>().join(", ");
        let names = cols.iter().map(|c| literal(c)).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "UPDATE {tbl} t SET ({list}) = (SELECT {picks} FROM jsonb_populate_record(NULL::{tbl}, to_jsonb(t) || a.row) p)
               FROM profochat_saas.archive a
              WHERE a.migration_id = $1 AND a.table_name = {lit} AND a.action = 'updated' AND {km}
                AND a.row ?| ARRAY[{names}]",
            tbl = ident(table),
            lit = literal(table),
            km = key_match(table),
        );
        let n = tx.execute(&sql, &[&migration_id]).await.map_err(q("restoring changed values"))?;
        out.entry(table.to_string()).or_default().values_restored = n;
    }
    tx.batch_execute("ALTER TABLE course ADD CONSTRAINT course_pkey PRIMARY KEY (course_id, bot_name)")
        .await
        .map_err(|e| Error::WouldLoseData {
            message: "rollback cannot restore the legacy course key (course_id, bot_name)".into(),
            items: vec![pg_error_text(&e)],
            hint: "Courses written since the migration repeat a (course_id, bot_name) pair; restore a backup instead.".into(),
        })?;

    // Deleted rows come back: merged course copies and their elements as the legacy
    // interface holds them now (published again or removed since, as the bot did),
    // the other tables' rows from the archive.
    for table in tables {
        let cols = legacy_columns(table);
        let list = cols.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ");
        let picks = cols.iter().map(|c| format!("p.{}", ident(c))).collect::<Vec<_>>().join(", ");
        let n = match *table {
            "course" => tx
                .execute(&format!("INSERT INTO course ({list}) SELECT {list} FROM profochat_saas.legacy_course_copy ON CONFLICT DO NOTHING"), &[])
                .await
                .map_err(q("restoring merged course copies"))?,
            "course_element" => tx
                .execute(
                    &format!("INSERT INTO course_element ({list}) SELECT {list} FROM profochat_saas.legacy_element_copy ON CONFLICT DO NOTHING"),
                    &[],
                )
                .await
                .map_err(q("restoring course elements"))?,
            _ => tx
                .execute(
                    &format!(
                        "INSERT INTO {tbl} ({list})
                         SELECT {picks} FROM profochat_saas.archive a CROSS JOIN LATERAL jsonb_populate_record(NULL::{tbl}, a.row) p
                          WHERE a.migration_id = $1 AND a.table_name = {lit} AND a.action = 'deleted'
                         ON CONFLICT DO NOTHING",
                        tbl = ident(table),
                        lit = literal(table)
                    ),
                    &[&migration_id],
                )
                .await
                .map_err(q("restoring deleted rows"))?,
        };
        out.entry(table.to_string()).or_default().rows_restored = n;
    }
    Ok(out)
}
