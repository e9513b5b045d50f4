//! `migrate --abort` of an online migration that has not switched, run online: the way
//! forward's steps undone in reverse order, each in short transactions, while the
//! legacy bot keeps reading and writing through the legacy interface or the public
//! tables, which stay correct for it until the last transaction.
//!
//! The steps ([`UndoStep`], in order):
//! 1. the keys step's keys, checks and unique indexes, and the foreign keys of the
//!    legacy tables, in one short transaction ([`short_lock::own_transaction`]), so
//!    that every row given back afterwards holds;
//! 2. the backfills, in reverse step order: the archive read downwards in archive_id
//!    batches of about [`BATCH_TARGET`], each its own short transaction that gives the
//!    archived values and rows of the six big legacy tables back;
//! 3. the rows the application wrote since the migration began (the change log, in
//!    change_id batches): the compatibility layer gave them a renamed copy's course id
//!    or a detached run_id, and they get the legacy values back;
//! 4. the no-loss proof of the way back for the six big tables, in one snapshot (reads
//!    only): each table equal to its before-image, the rows the application wrote left
//!    out on both sides and counted;
//! 5. the switch back, one short transaction (its locks taken in short attempts): what
//!    the change log holds that the pass of step 3 could not see, the course tables
//!    (small), their proof, and the legacy interface, the compatibility layer, the new
//!    columns and tables and the tool's schema go.
//!
//! `rollback` after a completed migration runs the same steps, with two differences:
//! it installs the change log first (the migration's cleanup removed it), and between
//! steps 2 and 3 it gives every row of the six big tables its legacy values back in
//! primary-key batches ([`UndoStep::Links`]): the rows the bot wrote between the
//! migration and the rollback got theirs from the compatibility layer, and neither the
//! archive nor a change log names them. It has no proof (those rows are not logged).
//!
//! Where the abort stands is recorded (`profochat_saas.undo_progress`, the migration's
//! status `aborting`) in the transaction of the work it records: killed anywhere, the
//! next `migrate --abort` resumes there, and `status` names it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio_postgres::{Client, GenericClient};

use super::{q, Loss, RollbackOptions, RollbackReport, TableRollback};
use crate::conn::short_lock::{self, Attempts, Prologue};
use crate::conn::snapshot::{snapshot, Access};
use crate::conn::Db;
use crate::error::{pg_error_text, Error, Result};
use crate::fingerprint;
use crate::migrate::changes::{self, Before};
use crate::migrate::work::split_statements;
use crate::migrate::TableProof;
use crate::report::Reporter;
use crate::sql::{ident, legacy_columns, literal, LEGACY_TABLES};
use crate::state::MigrationStatus;
use crate::target;

const UNDO_PROGRESS: &str = include_str!("../../sql/rollback/undo_progress.sql");
const UNDO_PROGRESS_WRITE: &str = include_str!("../../sql/rollback/undo_progress_write.sql");
const UNDO_PROGRESS_READ: &str = include_str!("../../sql/rollback/undo_progress_read.sql");
const UNDO_KEYS: &str = include_str!("../../sql/rollback/undo_keys.sql");
const UNDO_ARCHIVE: &str = include_str!("../../sql/rollback/undo_archive.sql");
const UNDO_APP_ROWS: &str = include_str!("../../sql/rollback/undo_app_rows.sql");
const UNDO_APP_ROWS_FROM: &str = include_str!("../../sql/rollback/undo_app_rows_from.sql");
const UNDO_COURSES: &str = include_str!("../../sql/rollback/undo_courses.sql");
const UNDO_LINKS: &str = include_str!("../../sql/rollback/undo_links.sql");
const RECORD_STATUS: &str = include_str!("../../sql/migrate/run/record_status.sql");

/// How long a batch should take (as the way forward's backfill).
pub const BATCH_TARGET: Duration = Duration::from_millis(100);
const BATCH_MIN: i64 = 50;
const BATCH_MAX: i64 = 50_000;
/// The first batch's size: small, the next ones follow the time it took.
const BATCH_FIRST: i64 = 100;

/// The legacy tables the backfills change, batched by the abort; the course tables are
/// small, and given back by its last transaction.
pub const BATCHED_TABLES: [&str; 6] = ["run", "waiting_element", "conversation", "bannedparticipants", "courseparticipants", "gen_settings"];
const COURSE_TABLES: [&str; 2] = ["course", "course_element"];

/// The steps of an online abort, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UndoStep {
    /// The keys, checks and unique indexes the migration added (one short transaction).
    Keys,
    /// The backfills' archived changes given back, newest first, in archive_id batches.
    Archive,
    /// `rollback` only: every row of the six big tables, in primary-key batches, given
    /// the legacy values of what the compatibility layer linked since the migration.
    Links,
    /// The application's rows (the change log) given their legacy values back.
    AppRows,
    /// The no-loss proof of the six big tables (reads only).
    Proof,
    /// The last short transaction: the course tables, the legacy interface, the
    /// compatibility layer, the new columns and tables, the tool's schema.
    SwitchBack,
}

impl UndoStep {
    pub const ALL: [UndoStep; 6] = [UndoStep::Keys, UndoStep::Archive, UndoStep::Links, UndoStep::AppRows, UndoStep::Proof, UndoStep::SwitchBack];

    /// As `undo_progress.step` records it (and `--crash-at` names it).
    pub fn name(self) -> &'static str {
        match self {
            UndoStep::Keys => "undo keys",
            UndoStep::Archive => "undo backfills",
            UndoStep::Links => "undo links",
            UndoStep::AppRows => "undo application rows",
            UndoStep::Proof => "undo proof",
            UndoStep::SwitchBack => "switch back",
        }
    }

    pub fn parse(s: &str) -> Option<UndoStep> {
        Self::ALL.into_iter().find(|u| u.name() == s)
    }
}

/// Where an online abort stands, as `profochat_saas.undo_progress` records it.
#[derive(Debug, Clone, Serialize)]
pub struct UndoProgress {
    pub migration_id: i32,
    /// The step under way (None: a step this version does not know).
    pub step: Option<UndoStep>,
    pub next_key: Option<i64>,
    pub end_key: Option<i64>,
    #[serde(skip)]
    pub log_snapshot: Option<String>,
    pub batches: i64,
    pub rows: i64,
    #[serde(skip)]
    pub done: Done,
}

/// What the abort did so far, kept across resumes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Done {
    #[serde(default)]
    pub tables: BTreeMap<String, TableRollback>,
    /// The proof of the six big tables, once taken.
    #[serde(default)]
    pub proof: Vec<TableProof>,
    /// A `rollback` after a completed migration (rather than `migrate --abort`).
    #[serde(default)]
    pub rollback: bool,
    /// The pass over the links: the table under way (of [`BATCHED_TABLES`]).
    #[serde(default)]
    pub links_table: usize,
}

impl UndoProgress {
    /// "step undo backfills: 3 batches done, down to archive entry 1200 (of 1..5000)".
    pub fn describe(&self) -> String {
        let name = self.step.map(UndoStep::name).unwrap_or("unknown");
        match self.step {
            Some(UndoStep::Archive) => format!(
                "{} under way: step {name}, {} batches done, archive entries {}..{} left",
                self.way(),
                self.batches,
                self.end_key.unwrap_or(0),
                self.next_key.unwrap_or(0) - 1
            ),
            Some(UndoStep::Links) => format!(
                "{} under way: step {name}, table {}, {} batches done, keys {}..{} left",
                self.way(),
                BATCHED_TABLES.get(self.done.links_table).copied().unwrap_or("-"),
                self.batches,
                self.next_key.unwrap_or(0),
                self.end_key.unwrap_or(0) - 1
            ),
            Some(UndoStep::AppRows) => format!(
                "{} under way: step {name}, {} batches done, change-log entries {}..{} left",
                self.way(),
                self.batches,
                self.next_key.unwrap_or(0),
                self.end_key.unwrap_or(0) - 1
            ),
            _ => format!("{} under way: step {name}", self.way()),
        }
    }

    /// "abort" or "rollback".
    pub fn way(&self) -> &'static str {
        if self.done.rollback {
            "rollback"
        } else {
            "abort"
        }
    }

    /// The command that resumes it.
    pub fn resumed_by(&self) -> &'static str {
        if self.done.rollback {
            "profochat-saas rollback"
        } else {
            "profochat-saas migrate --abort"
        }
    }

    async fn record<C: GenericClient + Sync>(&self, client: &C) -> Result<()> {
        let counts = serde_json::to_value(&self.done).unwrap_or_default();
        client
            .execute(
                UNDO_PROGRESS_WRITE,
                &[
                    &self.migration_id,
                    &self.step.map(UndoStep::name).unwrap_or("unknown"),
                    &self.next_key,
                    &self.end_key,
                    &self.log_snapshot,
                    &self.batches,
                    &self.rows,
                    &counts,
                ],
            )
            .await
            .map_err(stopped_q("recording the abort's progress"))?;
        Ok(())
    }

    fn at(&mut self, step: UndoStep) {
        self.step = Some(step);
        self.next_key = None;
        self.end_key = None;
        self.batches = 0;
        self.rows = 0;
    }
}

/// The progress of the abort of migration `migration_id`, if one was started.
pub async fn progress<C: GenericClient + Sync>(client: &C, migration_id: i32) -> Result<Option<UndoProgress>> {
    let exists: bool = client
        .query_one("SELECT to_regclass('profochat_saas.undo_progress') IS NOT NULL", &[])
        .await
        .map_err(q("reading the abort's progress"))?
        .get(0);
    if !exists {
        return Ok(None);
    }
    let row = client.query_opt(UNDO_PROGRESS_READ, &[&migration_id]).await.map_err(q("reading the abort's progress"))?;
    Ok(row.map(|r| UndoProgress {
        migration_id,
        step: UndoStep::parse(r.get::<_, &str>(0)),
        next_key: r.get(1),
        end_key: r.get(2),
        log_snapshot: r.get(3),
        batches: r.get(4),
        rows: r.get(5),
        done: serde_json::from_value(r.get::<_, serde_json::Value>(6)).unwrap_or_default(),
    }))
}

/// What an online abort that stops leaves.
pub const STOPPED_HINT: &str = "The abort stops here; what its committed batches did stays, and the legacy bot keeps working (the legacy interface \
     and the compatibility layer are in place). `profochat-saas status` shows where it stopped; the same command (`profochat-saas migrate --abort`, or `profochat-saas rollback`) resumes it.";

fn stopped_q(context: &'static str) -> impl Fn(tokio_postgres::Error) -> Error {
    move |e| Error::query(context, &e, STOPPED_HINT)
}

fn stopped(what: String) -> Error {
    Error::Query { context: "the online abort".into(), cause: what, unchanged: STOPPED_HINT.into() }
}

/// Test hook (`--crash-at`): ends the process at once, as kill -9 would, after a step
/// ("after:undo keys") or inside a batch before its commit ("inside:undo backfills:N",
/// "inside:undo links:TABLE:N", "inside:undo application rows:N"), or inside the
/// switch back before its commit ("inside:switch back").
fn crash_point(opts: &RollbackOptions, here: &str) {
    if opts.crash_at.as_deref() == Some(here) {
        std::process::abort();
    }
}

/// The online abort of migration `migration_id` (its advisory lock held by the caller),
/// from its start or from where an earlier abort stopped. `found` and `saved_to`: what
/// the legacy schema cannot hold, saved before the abort began.
#[allow(clippy::too_many_arguments)]
pub(super) async fn abort(
    db: &mut Db,
    migration_id: i32,
    rollback: bool,
    opts: &RollbackOptions,
    reporter: &dyn Reporter,
    found: Vec<Loss>,
    saved_to: Option<std::path::PathBuf>,
    started: Instant,
) -> Result<RollbackReport> {
    let target = db.settings.display_target();
    let mut p = match progress(&db.client, migration_id).await? {
        Some(p) if p.step.is_some() => {
            reporter.info(&format!("resuming the abort of the online migration {migration_id} ({})", p.describe()));
            p
        }
        _ => begin(&mut db.client, migration_id, rollback).await?,
    };
    let rollback = p.done.rollback;
    let before = before_image(&db.client, migration_id).await?;
    let logged = change_log_exists(&db.client).await?;
    loop {
        let step = p.step.ok_or_else(|| stopped("its recorded step is unknown to this version".into()))?;
        let label = format!("abort: {}", step.name());
        reporter.started(&label, None);
        let t = Instant::now();
        let summary = match step {
            UndoStep::Keys => {
                undo_keys(&db.client, opts, reporter).await?;
                p.at(UndoStep::Archive);
                let (lo, hi) = archive_range(&db.client, migration_id).await?;
                p.end_key = Some(lo);
                p.next_key = Some(hi);
                p.record(&db.client).await?;
                "keys, checks and unique indexes dropped".to_string()
            }
            UndoStep::Archive => {
                undo_archive(&mut db.client, &mut p, opts, reporter).await?;
                let batches = p.batches;
                if rollback {
                    p.at(UndoStep::Links);
                    p.done.links_table = 0;
                    p.record(&db.client).await?;
                } else {
                    start_app_rows(&db.client, &mut p, logged).await?;
                }
                format!("{batches} batches")
            }
            UndoStep::Links => {
                let batches = undo_links(&mut db.client, &mut p, opts, reporter).await?;
                start_app_rows(&db.client, &mut p, logged).await?;
                format!("{batches} batches")
            }
            UndoStep::AppRows => {
                if logged {
                    undo_app_rows(&mut db.client, &mut p, opts, reporter).await?;
                }
                let batches = p.batches;
                p.at(UndoStep::Proof);
                p.record(&db.client).await?;
                format!("{batches} batches")
            }
            UndoStep::Proof => {
                let proof = match (&before, logged) {
                    // (A rollback's change log began with it: the rows written between the
                    // migration and the rollback are not in it, so there is no proof.)
                    (Some(b), true) if !rollback => {
                        let tx = snapshot(&mut db.client, Access::ReadOnly).await.map_err(stopped_q("starting the proof"))?;
                        let proof = changes::prove_back(&tx, &BATCHED_TABLES, b).await?;
                        tx.commit().await.map_err(stopped_q("ending the proof"))?;
                        proof
                    }
                    _ => vec![],
                };
                let bad = changes::unequal(&proof);
                if !bad.is_empty() {
                    return Err(stopped(format!(
                        "the no-loss proof of the way back failed for {}: their rows differ from before the migration beyond the rows written meanwhile",
                        bad.join(", ")
                    )));
                }
                p.done.proof = proof;
                p.at(UndoStep::SwitchBack);
                p.record(&db.client).await?;
                format!("{} tables equal to before", p.done.proof.len())
            }
            UndoStep::SwitchBack => {
                let report = switch_back(db, &mut p, before.as_ref(), logged && !rollback, opts, reporter).await?;
                reporter.finished(&label, t.elapsed(), "the legacy database is back");
                let _ = db.batch_execute("SELECT pg_advisory_unlock_all()").await;
                let fp = fingerprint::take(&db.client).await?;
                let changed = report.fingerprint_before_migration.as_ref().map(|b| b.differences(&fp)).unwrap_or_default();
                return Ok(RollbackReport {
                    target,
                    losses: found,
                    saved_to,
                    fingerprint: fp,
                    changed_since_migration: changed,
                    elapsed_ms: started.elapsed().as_millis() as u64,
                    ..report
                });
            }
        };
        reporter.finished(&label, t.elapsed(), &summary);
        crash_point(opts, &format!("after:{}", step.name()));
    }
}

/// The pass over the application's rows begins: the snapshot it starts in and the
/// change log's range, recorded.
async fn start_app_rows(client: &Client, p: &mut UndoProgress, logged: bool) -> Result<()> {
    p.at(UndoStep::AppRows);
    if logged {
        let r = client
            .query_one(
                "SELECT pg_current_snapshot()::text, coalesce(min(change_id), 1), coalesce(max(change_id), 0) + 1 FROM profochat_saas.change_log",
                &[],
            )
            .await
            .map_err(stopped_q("reading the change log"))?;
        p.log_snapshot = Some(r.get(0));
        p.next_key = Some(r.get(1));
        p.end_key = Some(r.get(2));
    }
    p.record(client).await
}

/// The abort begins: the migration recorded as aborting, its progress at the first step.
/// A rollback first installs the change log (a completed migration removed it), so
/// that every row the application writes from here on is given back too.
async fn begin(client: &mut Client, migration_id: i32, rollback: bool) -> Result<UndoProgress> {
    if rollback {
        changes::install(client).await?;
    }
    let mut p = UndoProgress {
        migration_id,
        step: Some(UndoStep::Keys),
        next_key: None,
        end_key: None,
        log_snapshot: None,
        batches: 0,
        rows: 0,
        done: Done::default(),
    };
    p.done.rollback = rollback;
    let tx = client.transaction().await.map_err(q("starting the abort"))?;
    tx.batch_execute(&format!("{}\n{UNDO_PROGRESS}", Prologue { allow_ddl: true, ..Default::default() }.sql()))
        .await
        .map_err(q("starting the abort"))?;
    tx.execute(RECORD_STATUS, &[&migration_id, &MigrationStatus::Aborting.as_str()]).await.map_err(q("recording the abort"))?;
    p.record(&tx).await?;
    tx.commit().await.map_err(q("recording the abort"))?;
    Ok(p)
}

async fn before_image(client: &Client, migration_id: i32) -> Result<Option<Before>> {
    let row = client
        .query_one("SELECT fingerprint_before, summary ->> 'before_snapshot' FROM profochat_saas.migration WHERE migration_id = $1", &[&migration_id])
        .await
        .map_err(stopped_q("reading the fingerprint before"))?;
    let fingerprints = row.get::<_, Option<serde_json::Value>>(0).and_then(|v| serde_json::from_value(v).ok());
    Ok(match (fingerprints, row.get::<_, Option<String>>(1)) {
        (Some(fingerprints), Some(snapshot)) => Some(Before { fingerprints, snapshot }),
        _ => None,
    })
}

async fn change_log_exists(client: &Client) -> Result<bool> {
    Ok(client
        .query_one("SELECT to_regclass('profochat_saas.change_log') IS NOT NULL", &[])
        .await
        .map_err(stopped_q("reading the schema"))?
        .get(0))
}

/// Step 1: one short transaction of schema changes, its locks in short attempts.
async fn undo_keys(client: &Client, opts: &RollbackOptions, reporter: &dyn Reporter) -> Result<()> {
    let warn = |n: u32| {
        if n == 1 {
            reporter.warn("dropping the keys: the tables are in use (the running bot, a long query): retrying in short attempts")
        }
    };
    short_lock::own_transaction(client, Prologue::DDL, UNDO_KEYS, opts.lock_wait.unwrap_or(short_lock::DEFAULT_BOUND), warn)
        .await
        .map(|_| ())
        .map_err(|f| stopped(format!("dropping the keys: {}", f.cause())))
}

/// The archive entries the backfills made ([lo, hi) of archive_id), for step 2.
async fn archive_range(client: &Client, migration_id: i32) -> Result<(i64, i64)> {
    let tables: Vec<&str> = BATCHED_TABLES.to_vec();
    let r = client
        .query_one(
            "SELECT coalesce(min(archive_id), 0), coalesce(max(archive_id), -1) + 1 FROM profochat_saas.archive WHERE migration_id = $1 AND table_name = ANY ($2)",
            &[&migration_id, &tables],
        )
        .await
        .map_err(stopped_q("reading the archive"))?;
    Ok((r.get(0), r.get(1)))
}

/// The archive template (undo_archive.sql) filled in for `table`.
pub fn archive_sql(table: &str) -> String {
    let cols = legacy_columns(table);
    UNDO_ARCHIVE
        .replace("{{table}}", &ident(table))
        .replace("{{name}}", &literal(table))
        .replace("{{list}}", &cols.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", "))
        .replace("{{picks}}", &cols.iter().map(|c| format!("p.{}", ident(c))).collect::<Vec<_>>().join(", "))
        .replace("{{names}}", &cols.iter().map(|c| literal(c)).collect::<Vec<_>>().join(", "))
        .replace("{{km}}", &super::key_match(table))
}

/// One short transaction of `statements` (each taking the parameters it names of
/// `params`), with its progress; a lock not granted within one attempt is tried again
/// (smaller) by the caller. Returns the rows each statement changed.
async fn batch(
    client: &mut Client,
    statements: &[String],
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    next: &UndoProgress,
    opts: &RollbackOptions,
    crash_at: &str,
) -> std::result::Result<Vec<u64>, tokio_postgres::Error> {
    let tx = client.transaction().await?;
    tx.batch_execute(&Prologue::BATCH.sql()).await?;
    let mut counts = vec![];
    for s in statements {
        let n = (1..=params.len()).rev().find(|i| s.contains(&format!("${i}"))).unwrap_or(0);
        counts.push(tx.execute(s.as_str(), &params[..n]).await?);
    }
    let counts_json = serde_json::to_value(&next.done).unwrap_or_default();
    tx.execute(
        UNDO_PROGRESS_WRITE,
        &[
            &next.migration_id,
            &next.step.map(UndoStep::name).unwrap_or("unknown"),
            &next.next_key,
            &next.end_key,
            &next.log_snapshot,
            &next.batches,
            &next.rows,
            &counts_json,
        ],
    )
    .await?;
    crash_point(opts, crash_at);
    tx.commit().await?;
    Ok(counts)
}

/// The next batch's size from this one's time (as the backfill's).
fn next_size(size: i64, took: Duration) -> i64 {
    let ms = took.as_millis().max(1) as i64;
    (size * BATCH_TARGET.as_millis() as i64 / ms).clamp(BATCH_MIN, BATCH_MAX).min(size * 4)
}

/// Step 2: the archive downwards, [end_key, next_key) left, in batches.
async fn undo_archive(client: &mut Client, p: &mut UndoProgress, opts: &RollbackOptions, reporter: &dyn Reporter) -> Result<()> {
    let mut statements = vec![];
    let mut what = vec![];
    for t in BATCHED_TABLES {
        for (i, s) in split_statements(&archive_sql(t)).into_iter().enumerate() {
            statements.push(s);
            what.push((t, i));
        }
    }
    let bound = opts.lock_wait.unwrap_or(short_lock::DEFAULT_BOUND);
    let mut size = BATCH_FIRST;
    let mut retries: Option<Attempts> = None;
    let mut n = 0u64;
    let migration_id = p.migration_id;
    while let (Some(hi), Some(end)) = (p.next_key, p.end_key) {
        if hi <= end {
            break;
        }
        let lo = (hi - size).max(end);
        let mut next = p.clone();
        next.next_key = Some(lo);
        next.batches += 1;
        next.rows += hi - lo;
        let t0 = Instant::now();
        let here = format!("inside:{}:{}", UndoStep::Archive.name(), n + 1);
        match batch(client, &statements, &[&migration_id, &lo, &hi], &next, opts, &here).await {
            Ok(counts) => {
                n += 1;
                for ((t, i), c) in what.iter().zip(counts) {
                    let e = next.done.tables.entry(t.to_string()).or_default();
                    match i {
                        0 => e.values_restored += c,
                        1 => e.rows_restored += c,
                        _ => e.rows_removed += c,
                    }
                }
                // The counts are recorded with the next batch (or the step's end).
                *p = next;
                retries = None;
                reporter.progress(p.batches as u64);
                size = next_size(size, t0.elapsed());
            }
            Err(e) => {
                if retries.get_or_insert_with(|| Attempts::new(bound)).again(&e).await {
                    size = (size / 2).max(BATCH_MIN);
                    continue;
                }
                return Err(stopped(format!("the batch of archive entries {lo}..{hi}: {}", pg_error_text(&e))));
            }
        }
    }
    Ok(())
}

/// Step 3: the change log upwards, [next_key, end_key) left, in batches.
async fn undo_app_rows(client: &mut Client, p: &mut UndoProgress, opts: &RollbackOptions, reporter: &dyn Reporter) -> Result<()> {
    let statements = split_statements(UNDO_APP_ROWS);
    key_batches(client, p, &statements, BATCH_FIRST, opts, reporter, &|n| format!("inside:{}:{n}", UndoStep::AppRows.name()), &|lo, hi| {
        format!("the batch of change-log entries {lo}..{hi}")
    })
    .await?;
    Ok(())
}

/// Runs `statements` on the keys [next_key, end_key) of `p` in batches of about 100 ms
/// (starting at `first` keys), each its own short transaction that records the next
/// key; a batch that fails for a lock or a conflict is retried smaller within the
/// short-lock bound. `here(n)`: the crash point inside the n-th batch; `what(lo, hi)`:
/// the batch, for an error. Returns the batches run.
#[allow(clippy::too_many_arguments)]
async fn key_batches(
    client: &mut Client,
    p: &mut UndoProgress,
    statements: &[String],
    first: i64,
    opts: &RollbackOptions,
    reporter: &dyn Reporter,
    here: &(dyn Fn(u64) -> String + Sync),
    what: &(dyn Fn(i64, i64) -> String + Sync),
) -> Result<u64> {
    let bound = opts.lock_wait.unwrap_or(short_lock::DEFAULT_BOUND);
    let mut size = first;
    let mut retries: Option<Attempts> = None;
    let mut n = 0u64;
    while let (Some(lo), Some(end)) = (p.next_key, p.end_key) {
        if lo >= end {
            break;
        }
        let hi = (lo + size).min(end);
        let mut next = p.clone();
        next.next_key = Some(hi);
        next.batches += 1;
        next.rows += hi - lo;
        let t0 = Instant::now();
        match batch(client, statements, &[&lo, &hi], &next, opts, &here(n + 1)).await {
            Ok(_) => {
                n += 1;
                *p = next;
                retries = None;
                reporter.progress(p.batches as u64);
                size = next_size(size, t0.elapsed());
            }
            Err(e) => {
                if retries.get_or_insert_with(|| Attempts::new(bound)).again(&e).await {
                    size = (size / 2).max(BATCH_MIN);
                    continue;
                }
                return Err(stopped(format!("{}: {}", what(lo, hi), pg_error_text(&e))));
            }
        }
    }
    Ok(n)
}

/// The statements of undo_links.sql that change `table`.
pub fn links_sql(table: &str) -> Vec<String> {
    split_statements(UNDO_LINKS)
        .into_iter()
        .filter(|s| {
            let code = crate::migrate::work::code_only(s, false);
            let code = code.trim_start();
            code.starts_with(&format!("UPDATE {table} ")) || code.starts_with(&format!("DELETE FROM {table} "))
        })
        .collect()
}

/// `rollback` only: each of the six big tables in primary-key batches, ascending, up to
/// the key captured when its pass began (rows written later are in the change log).
/// Returns the batches.
async fn undo_links(client: &mut Client, p: &mut UndoProgress, opts: &RollbackOptions, reporter: &dyn Reporter) -> Result<i64> {
    let mut total = 0;
    while let Some(table) = BATCHED_TABLES.get(p.done.links_table).copied() {
        let key = crate::sql::legacy_key(table)[0];
        if p.next_key.is_none() {
            let r = client
                .query_one(&format!("SELECT coalesce(min({k})::int8, 0), coalesce(max({k})::int8, -1) + 1 FROM {}", ident(table), k = ident(key)), &[])
                .await
                .map_err(stopped_q("reading a key range"))?;
            p.next_key = Some(r.get(0));
            p.end_key = Some(r.get(1));
            p.batches = 0;
            p.record(&*client).await?;
        }
        let statements = links_sql(table);
        let here = |n: u64| format!("inside:{}:{table}:{n}", UndoStep::Links.name());
        total += key_batches(client, p, &statements, BATCH_FIRST * 10, opts, reporter, &here, &|lo, hi| format!("the batch of {table} {lo}..{hi}")).await?
            as i64;
        p.done.links_table += 1;
        p.next_key = None;
        p.end_key = None;
        p.record(&*client).await?;
    }
    Ok(total)
}

/// Step 5: the last transaction. Its locks are taken in short attempts; what it does
/// does not grow with the big tables: what the change log holds that step 3 could not
/// see, the course tables, the schema.
/// `prove`: the course tables' proof (an abort: the change log holds every row the
/// application wrote since the before-image).
async fn switch_back(
    db: &mut Db,
    p: &mut UndoProgress,
    before: Option<&Before>,
    prove: bool,
    opts: &RollbackOptions,
    reporter: &dyn Reporter,
) -> Result<RollbackReport> {
    let logged = change_log_exists(&db.client).await?;
    let migration_id = p.migration_id;
    let tx = db.client.transaction().await.map_err(q("starting the switch back"))?;
    tx.batch_execute(&Prologue { allow_ddl: true, backfill: true, attempt: false }.sql()).await.map_err(q("starting the switch back"))?;
    let mut all = LEGACY_TABLES.iter().map(|t| ident(t)).collect::<Vec<_>>();
    all.extend(target::NEW_TABLES.iter().map(|t| ident(t)));
    super::lock_in_short_attempts(&tx, &all).await?;
    // It ran online because the legacy schema lost nothing as it began: what the
    // application wrote since that the legacy schema cannot hold stays, and nothing
    // switches back over it.
    let now = super::losses(&tx).await?;
    if !now.is_empty() {
        return Err(Error::refused(
            format!(
                "the application wrote what the legacy schema cannot hold during the way back ({})",
                now.iter().map(|l| format!("{} {}", l.count, l.what)).collect::<Vec<_>>().join(", ")
            ),
            "Nothing was switched back and those rows are kept; the legacy bot works as before. Stop the application's writes, then run the same command again: it saves them to a file first and finishes in one transaction.",
        ));
    }
    // The application's rows the pass could not see (committed after its snapshot).
    if logged {
        let from: Option<i64> = tx
            .query_one(UNDO_APP_ROWS_FROM, &[&p.log_snapshot.clone().unwrap_or_else(|| "1:1:".into())])
            .await
            .map_err(q("reading the change log"))?
            .get(0);
        let from = from.into_iter().chain(p.end_key).min();
        if let Some(from) = from {
            for s in split_statements(UNDO_APP_ROWS) {
                tx.execute(s.as_str(), &[&from, &i64::MAX]).await.map_err(q("giving the application's last rows their legacy values"))?;
            }
        }
    }
    let fingerprint_before = before.map(|b| b.fingerprints.clone());
    let bot_tokens_dropped: Vec<String> = tx
        .query("SELECT bot_name FROM bot WHERE NOT starts_with(bot_token, $1) ORDER BY bot_name", &[&target::PLACEHOLDER_TOKEN_PREFIX])
        .await
        .map_err(q("listing bot tokens"))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let legacy_roles_reset = crate::legacy::reset_roles(&tx).await?;
    crate::tenant::remove_all(&tx).await?;
    let mut tables = p.done.tables.clone();
    for (t, r) in super::restore(&tx, migration_id, &COURSE_TABLES, UNDO_COURSES).await? {
        let e = tables.entry(t).or_default();
        e.values_restored += r.values_restored;
        e.rows_restored += r.rows_restored;
        e.rows_removed += r.rows_removed;
    }
    let mut proof = p.done.proof.clone();
    if let (Some(b), true) = (before, prove) {
        let courses = changes::prove_back(&tx, &COURSE_TABLES, b).await?;
        let bad = changes::unequal(&courses);
        if !bad.is_empty() {
            return Err(stopped(format!(
                "the no-loss proof of the way back failed for {}: their rows differ from before the migration beyond the rows written meanwhile",
                bad.join(", ")
            )));
        }
        proof.extend(courses);
        proof.sort_by_key(|t| LEGACY_TABLES.iter().position(|l| *l == t.table));
    }
    tx.batch_execute(super::DROP_SCHEMA).await.map_err(q("dropping the SaaS tables and columns"))?;
    crash_point(opts, &format!("inside:{}", UndoStep::SwitchBack.name()));
    tx.commit().await.map_err(q("committing the switch back"))?;
    reporter.committed(if p.done.rollback { "rolled back: the legacy database is back" } else { "the online migration is aborted: the legacy database is back" });
    Ok(RollbackReport {
        target: String::new(),
        migration_id,
        dry_run: false,
        losses: vec![],
        saved_to: None,
        tables,
        fingerprint: Default::default(),
        fingerprint_before_migration: fingerprint_before,
        changed_since_migration: vec![],
        bot_tokens_dropped,
        legacy_roles_reset,
        proof,
        online: true,
        elapsed_ms: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_undo_step_parses_back() {
        for s in UndoStep::ALL {
            assert_eq!(UndoStep::parse(s.name()), Some(s));
        }
        assert_eq!(UndoStep::parse("undo nothing"), None);
    }

    #[test]
    fn the_archive_template_is_filled_in_for_every_batched_table() {
        for t in BATCHED_TABLES {
            let sql = archive_sql(t);
            let body: String = sql.lines().filter(|l| !l.trim_start().starts_with("--")).collect();
            assert!(!body.contains("{{"), "{t}: {body}");
            assert_eq!(split_statements(&sql).len(), 3, "{t}");
        }
    }
}
