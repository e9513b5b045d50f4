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

const UNDO_PROGRESS: &str = include_str!("../../../sql/rollback/undo_progress.sql");
const UNDO_PROGRESS_WRITE: &str = include_str!("../../../sql/rollback/undo_progress_write.sql");
const UNDO_PROGRESS_READ: &str = include_str!("../../../sql/rollback/undo_progress_read.sql");
use super::UNDO_KEYS;
const UNDO_ARCHIVE: &str = include_str!("../../../sql/rollback/undo_archive.sql");
const UNDO_APP_ROWS: &str = include_str!("../../../sql/rollback/undo_app_rows.sql");
const UNDO_APP_ROWS_FROM: &str = include_str!("../../../sql/rollback/undo_app_rows_from.sql");
const UNDO_COURSES: &str = include_str!("../../../sql/rollback/undo_courses.sql");
const UNDO_LINKS: &str = include_str!("../../../sql/rollback/undo_links.sql");
mod passes;
mod switch_back;

pub use passes::{archive_sql, links_sql, BATCH_PLAN};
use passes::*;
use switch_back::switch_back;

const RECORD_STATUS: &str = include_str!("../../../sql/migrate/run/record_status.sql");

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
