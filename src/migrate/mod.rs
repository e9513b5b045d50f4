//! `migrate`: the whole legacy → SaaS migration, atomic, idempotent and lossless.
//!
//! Everything from the first new column to the compatibility triggers happens in
//! one transaction, after the legacy tables are locked: it commits whole or not at
//! all. Before committing, the no-loss proof compares the legacy tables'
//! fingerprints with those taken at the start (archived changes reverted). Secondary
//! indexes are built after the commit on several connections, unless
//! `single_transaction` keeps them inside.

pub mod analysis;
pub mod indexes;
pub mod options;
pub mod phases;
pub mod upgrade;
pub mod upstream;
pub mod privileges;

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Serialize;
use tokio_postgres::GenericClient;

pub use options::{CourseConflicts, MigrateOptions, Orphans};
use phases::{Counts, PHASES};

use crate::conn::Db;
use crate::error::{pg_error_text, Error, Result};
use crate::fingerprint::{self, Fingerprints, TableFingerprint};
use crate::plan::{self, resolve_default_bot};
use crate::report::Reporter;
use crate::schema::{self, SchemaState};
use crate::sql::{ident, LEGACY_TABLES};
use crate::target;
use crate::validate;

const BOT_NAMES: &str = include_str!("../../sql/migrate/bot_names.sql");

/// How a `migrate` call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The migration ran and was committed.
    Migrated,
    /// The migration ran and was rolled back (`--dry-run`).
    DryRun,
    /// The database was migrated already: nothing changed.
    AlreadyMigrated,
    /// The data was migrated before; the missing secondary indexes were built now.
    IndexesFinished,
    /// An older profochat-saas migrated the database; its keys, indexes, ledger and
    /// enrolment function were brought to the current target now (the data unchanged).
    Upgraded,
}

/// One phase as it ran.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseReport {
    pub number: u8,
    pub name: &'static str,
    pub elapsed_ms: u64,
    pub counts: Counts,
}

/// The no-loss proof for one legacy table.
#[derive(Debug, Clone, Serialize)]
pub struct TableProof {
    pub table: String,
    pub before: TableFingerprint,
    /// The table now, with the archived changes reverted: must equal `before`.
    pub after: TableFingerprint,
    /// Rows in the table now.
    pub rows_now: i64,
    pub archived_deleted: i64,
    pub archived_updated: i64,
    pub archived_inserted: i64,
    pub equal: bool,
}

/// The secondary indexes built after the commit.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IndexReport {
    pub built: Vec<String>,
    /// Index name and why it failed; `migrate` again finishes them.
    pub failed: Vec<(String, String)>,
    pub elapsed_ms: u64,
}

/// What `migrate` did.
#[derive(Debug, Clone, Serialize)]
pub struct MigrationReport {
    pub target: String,
    pub outcome: Outcome,
    pub migration_id: Option<i32>,
    pub default_bot: Option<String>,
    pub phases: Vec<PhaseReport>,
    pub proof: Vec<TableProof>,
    pub proof_ms: u64,
    pub indexes: IndexReport,
    /// Bots whose token is still a placeholder.
    pub bots_waiting_for_token: Vec<String>,
    /// The URL the legacy bot connects with to use the legacy interface (password masked).
    pub legacy_url: String,
    pub deployments: i64,
    pub analysis: Option<analysis::Analysis>,
    /// Validation inside the migration transaction (secondary indexes built after the
    /// commit show as pending there).
    pub validation: Option<validate::ValidationReport>,
    /// For [`Outcome::Upgraded`]: what differed from the current target, as `status` said.
    pub upgraded: Vec<String>,
    pub total_ms: u64,
}

impl MigrationReport {
    pub(crate) fn unchanged(target: String, outcome: Outcome) -> Self {
        MigrationReport {
            target,
            outcome,
            migration_id: None,
            default_bot: None,
            phases: vec![],
            proof: vec![],
            proof_ms: 0,
            indexes: IndexReport::default(),
            bots_waiting_for_token: vec![],
            legacy_url: String::new(),
            deployments: 0,
            analysis: None,
            validation: None,
            upgraded: vec![],
            total_ms: 0,
        }
    }

    /// Archived changes, summed over the tables.
    pub fn archived_total(&self) -> i64 {
        self.proof
            .iter()
            .map(|p| p.archived_deleted + p.archived_updated + p.archived_inserted)
            .sum()
    }
}

fn q(context: &'static str) -> impl Fn(tokio_postgres::Error) -> Error {
    move |e| Error::query(context, &e, "The transaction was rolled back: nothing was changed.")
}

/// The distinct bot names of the legacy tables.
pub async fn legacy_bot_names<C: GenericClient + Sync>(client: &C) -> Result<BTreeMap<String, Vec<String>>> {
    let rows = client.query(BOT_NAMES, &[]).await.map_err(q("reading bot names"))?;
    Ok(rows.iter().map(|r| (r.get::<_, String>(0), vec![])).collect())
}

/// Migrates the database (or, with `dry_run`, runs the migration and rolls it back).
/// A failure while the migration transaction is open is [`Error::RolledBack`] (or
/// [`Error::PhaseFailed`]): exit status 7, whatever statement failed.
pub async fn migrate(db: &mut Db, opts: &MigrateOptions, reporter: &dyn Reporter) -> Result<MigrationReport> {
    let mut in_transaction = false;
    let result = migrate_in(db, opts, reporter, &mut in_transaction).await;
    result.map_err(|e| if in_transaction { e.rolled_back() } else { e })
}

async fn migrate_in(db: &mut Db, opts: &MigrateOptions, reporter: &dyn Reporter, in_transaction: &mut bool) -> Result<MigrationReport> {
    let started = Instant::now();
    let target = db.settings.display_target();
    let legacy_url = crate::legacy::legacy_url(&db.settings);
    let status = schema::inspect(db).await?;
    plan::require_migratable(&status, &target)?;
    privileges::require_unless_migrated(&db.client, status.state).await?;
    match status.state {
        SchemaState::Migrated => {
            let mut r = MigrationReport::unchanged(target, Outcome::AlreadyMigrated);
            r.legacy_url = legacy_url;
            r.migration_id = status.last_migration.as_ref().map(|m| m.migration_id);
            r.bots_waiting_for_token = bots_waiting_for_token(&db.client).await?;
            return Ok(r);
        }
        SchemaState::IndexesPending => {
            let mut r = MigrationReport::unchanged(target, Outcome::IndexesFinished);
            r.legacy_url = legacy_url;
            r.migration_id = status.last_migration.as_ref().map(|m| m.migration_id);
            if !opts.dry_run {
                r.indexes = indexes::build_missing(&db.settings, opts.index_jobs, reporter).await?;
                if r.indexes.failed.is_empty() {
                    mark_completed(&db.client, r.migration_id).await?;
                }
            }
            r.bots_waiting_for_token = bots_waiting_for_token(&db.client).await?;
            r.total_ms = started.elapsed().as_millis() as u64;
            return Ok(r);
        }
        SchemaState::Outdated => return upgrade::upgrade(db, &status, opts, reporter).await,
        _ => {}
    }

    let tx = db
        .client
        .transaction()
        .await
        .map_err(q("starting the migration transaction"))?;
    *in_transaction = true;

    // Preflight: lock the legacy tables (the bot waits, nothing can change under us),
    // fingerprint them, analyse, and refuse before any change if a decision is missing.
    reporter.started("preflight: lock, fingerprint, analyse", None);
    let t = Instant::now();
    let tables = LEGACY_TABLES.iter().map(|t| ident(t)).collect::<Vec<_>>().join(", ");
    tx.batch_execute(&format!(
        "SET LOCAL profochat_saas.allow_ddl = on; SET LOCAL lock_timeout = '15s'; LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE"
    ))
        .await
        .map_err(|e| Error::RolledBack {
            context: "locking the legacy tables".into(),
            cause: format!("they were not granted within 15 s: {}", pg_error_text(&e)),
            hint: "Another session (the running bot, a long query) holds them. Stop the bot or wait, then run `profochat-saas migrate` again.".into(),
        })?;
    tx.batch_execute("SET LOCAL lock_timeout = 0").await.map_err(q("preflight"))?;
    let before = fingerprint::take(&tx).await?;
    let bots = legacy_bot_names(&tx).await?;
    let (default_bot, _) = resolve_default_bot(opts, &bots);
    let a = analysis::run(&tx, default_bot.as_deref(), None).await?;
    if let Some(d) = plan::unknown_default_bot(opts.default_bot.as_deref(), &a) {
        return Err(Error::refused(d.problem, format!("Decide with {}.", d.flag)));
    }
    if a.total_null_bot_rows() > 0 && default_bot.is_none() {
        return Err(Error::refused(
            format!(
                "{} rows have no bot name ({}) and there are {} bots, so it is not clear which bot they belong to",
                a.total_null_bot_rows(),
                plan::fmt_counts(&a.null_bot_rows),
                a.bots.len()
            ),
            format!(
                "Name it with --default-bot NAME (or BOT_NAME in the environment or .env). Bots: {}.",
                a.bots.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    let differing = a.differing_copies();
    if !differing.is_empty() && opts.course_conflicts == CourseConflicts::Fail {
        return Err(Error::refused(
            format!(
                "{} course ids exist under several bots with different content ({}) and --course-conflicts fail was given",
                differing.len(),
                differing.join(", ")
            ),
            "Run `profochat-saas plan` to see the copies; --course-conflicts rename (the default) keeps one id and renames the others.",
        ));
    }
    tx.batch_execute(target::sql::STATE).await.map_err(q("creating the state tables"))?;
    tx.batch_execute(target::sql::HELPERS).await.map_err(q("creating helpers"))?;
    let migration_id: i32 = tx
        .query_one(
            "INSERT INTO profochat_saas.migration (schema_version, tool_version, options, status, fingerprint_before)
             VALUES ($1, $2, $3, 'running', $4) RETURNING migration_id",
            &[
                &target::SCHEMA_VERSION,
                &env!("CARGO_PKG_VERSION"),
                &opts.recorded(),
                &serde_json::to_value(&before).unwrap_or_default(),
            ],
        )
        .await
        .map_err(q("recording the migration"))?
        .get(0);
    tx.execute("UPDATE mig_params SET migration_id = $1", &[&migration_id])
        .await
        .map_err(q("preflight"))?;
    reporter.finished(
        "preflight",
        t.elapsed(),
        &format!(
            "{} rows in 8 legacy tables, {} bots{}",
            a.rows.values().sum::<i64>(),
            a.bots.len(),
            default_bot.as_ref().map(|d| format!(", default bot {d:?}")).unwrap_or_default()
        ),
    );

    let mut phase_reports = vec![];
    for phase in PHASES {
        let label = phase.label();
        reporter.started(&label, None);
        let t = Instant::now();
        let counts = phase.apply(&tx, &a, opts).await?;
        let elapsed = t.elapsed();
        reporter.finished(&label, elapsed, &summarize(&counts));
        phase_reports.push(PhaseReport {
            number: phase.number(),
            name: phase.name(),
            elapsed_ms: elapsed.as_millis() as u64,
            counts,
        });
    }

    // Upstream's migration ledger (0001 and 0003 recorded) and the enrolment function.
    reporter.started("upstream ledger and enrolment function", None);
    let t = Instant::now();
    let installed = upstream::install(&tx, started.elapsed().as_millis() as i32, "upstream ledger and enrolment function").await?;
    reporter.finished(
        "upstream ledger and enrolment function",
        t.elapsed(),
        &format!("{} migrations recorded in schema_migrations, profochat_saas.enrol installed", installed.ledger_rows),
    );

    // The no-loss proof, inside the transaction: a mismatch rolls everything back.
    reporter.started("no-loss proof", None);
    let t = Instant::now();
    let after_now = fingerprint::take(&tx).await?;
    let proof = prove(&tx, migration_id, &before, &after_now).await?;
    let proof_ms = t.elapsed().as_millis() as u64;
    let bad: Vec<String> = proof.iter().filter(|p| !p.equal).map(|p| p.table.clone()).collect();
    if !bad.is_empty() {
        return Err(phases::Phase::Finalize.failed(format!(
            "the no-loss proof failed for {}: their rows differ from before the migration beyond the archived changes",
            bad.join(", ")
        )));
    }
    reporter.finished(
        "no-loss proof",
        t.elapsed(),
        &format!("8 tables equal to before, {} archived changes", proof.iter().map(|p| p.archived_deleted + p.archived_updated + p.archived_inserted).sum::<i64>()),
    );

    // Validation inside the transaction: a critical problem rolls everything back.
    tx.execute(
        "UPDATE profochat_saas.migration SET status = $2 WHERE migration_id = $1",
        &[&migration_id, &if opts.single_transaction { "completed" } else { "indexes_pending" }],
    )
    .await
    .map_err(q("recording the migration"))?;
    reporter.started("validation", None);
    let t = Instant::now();
    let validation = validate::validate(
        &tx,
        &validate::ValidateOptions {
            orphans_kept: opts.orphans == Orphans::Keep,
            keys_just_validated: true,
            finished: false,
        },
    )
    .await?;
    if validation.critical_failures() > 0 {
        let failed: Vec<String> = validation
            .checks
            .iter()
            .filter(|c| !c.passed && c.severity == validate::Severity::Critical)
            .map(|c| format!("{} ({})", c.id, c.count))
            .collect();
        return Err(phases::Phase::Finalize.failed(format!("validation found critical problems: {}", failed.join(", "))));
    }
    // The secondary indexes are built after the commit: not a warning yet.
    let warnings = validation
        .checks
        .iter()
        .filter(|c| !c.passed && (c.id != "structure.secondary_indexes" || opts.single_transaction))
        .count();
    reporter.finished(
        "validation",
        t.elapsed(),
        &format!("{} checks, {warnings} warnings, no critical problem", validation.checks.len()),
    );

    let waiting = bots_waiting_for_token(&tx).await?;
    let deployments: i64 = tx
        .query_one("SELECT count(*) FROM course_deployment", &[])
        .await
        .map_err(q("counting deployments"))?
        .get(0);
    let status_text = if opts.single_transaction { "completed" } else { "indexes_pending" };
    tx.execute(
        "UPDATE profochat_saas.migration
            SET status = $2, finished_at = clock_timestamp(), phases = $3, fingerprint_after = $4, summary = $5
          WHERE migration_id = $1",
        &[
            &migration_id,
            &status_text,
            &serde_json::to_value(&phase_reports).unwrap_or_default(),
            &serde_json::to_value(&after_now).unwrap_or_default(),
            &serde_json::json!({
                "proof": proof,
                "default_bot": default_bot,
                "deployments": deployments,
                "bots_waiting_for_token": waiting.len(),
            }),
        ],
    )
    .await
    .map_err(q("recording the migration"))?;

    let outcome = if opts.dry_run {
        tx.rollback().await.map_err(q("rolling back the dry run"))?;
        Outcome::DryRun
    } else {
        tx.commit().await.map_err(|e| Error::PhaseFailed {
            phase: "commit".into(),
            cause: pg_error_text(&e),
            hint: "Run `profochat-saas status` to see the state, then `profochat-saas migrate` again.".into(),
        })?;
        Outcome::Migrated
    };
    *in_transaction = false;
    if outcome == Outcome::Migrated {
        reporter.committed("the migration is committed");
    }

    let mut index_report = IndexReport::default();
    if outcome == Outcome::Migrated && !opts.single_transaction {
        index_report = indexes::build_missing(&db.settings, opts.index_jobs, reporter).await?;
        if index_report.failed.is_empty() {
            mark_completed(&db.client, Some(migration_id)).await?;
        }
    }

    Ok(MigrationReport {
        target,
        outcome,
        migration_id: Some(migration_id),
        default_bot,
        phases: phase_reports,
        proof,
        proof_ms,
        indexes: index_report,
        bots_waiting_for_token: waiting,
        legacy_url,
        deployments,
        analysis: Some(a),
        validation: Some(validation),
        upgraded: vec![],
        total_ms: started.elapsed().as_millis() as u64,
    })
}

async fn mark_completed<C: GenericClient + Sync>(client: &C, migration_id: Option<i32>) -> Result<()> {
    if let Some(id) = migration_id {
        client
            .execute(
                "UPDATE profochat_saas.migration SET status = 'completed', finished_at = clock_timestamp() WHERE migration_id = $1",
                &[&id],
            )
            .await
            .map_err(|e| Error::query("recording the finished indexes", &e, "The migration itself is committed."))?;
    }
    Ok(())
}

/// Per-table proof: the fingerprint before, the reconstruction after (from `now`, the
/// tables as they are, and the archive), and the archive counts.
pub async fn prove<C: GenericClient + Sync>(
    client: &C,
    migration_id: i32,
    before: &Fingerprints,
    now: &Fingerprints,
) -> Result<Vec<TableProof>> {
    let after = fingerprint::reconstruct(client, migration_id, now).await?;
    let rows = client
        .query(
            "SELECT table_name, action, count(*)::int8 FROM profochat_saas.archive WHERE migration_id = $1 GROUP BY 1, 2",
            &[&migration_id],
        )
        .await
        .map_err(q("counting archived changes"))?;
    let mut archived: BTreeMap<(String, String), i64> = BTreeMap::new();
    for r in rows {
        archived.insert((r.get(0), r.get(1)), r.get(2));
    }
    let mut out = vec![];
    for t in LEGACY_TABLES {
        let get = |a: &str| archived.get(&(t.to_string(), a.to_string())).copied().unwrap_or(0);
        let rows_now = now.tables.get(t).map(|f| f.rows).unwrap_or(0);
        let b = before.tables.get(t).cloned().unwrap_or(TableFingerprint { rows: 0, hash: "0".into() });
        let a = after.tables.get(t).cloned().unwrap_or(TableFingerprint { rows: 0, hash: "0".into() });
        out.push(TableProof {
            table: t.to_string(),
            equal: a == b,
            before: b,
            after: a,
            rows_now,
            archived_deleted: get("deleted"),
            archived_updated: get("updated"),
            archived_inserted: get("inserted"),
        });
    }
    Ok(out)
}

/// Bots whose token is still a placeholder.
pub async fn bots_waiting_for_token<C: GenericClient + Sync>(client: &C) -> Result<Vec<String>> {
    let rows = client
        .query(
            "SELECT bot_name FROM bot WHERE starts_with(bot_token, $1) ORDER BY bot_name",
            &[&target::PLACEHOLDER_TOKEN_PREFIX],
        )
        .await
        .map_err(q("listing bots without a token"))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

fn summarize(counts: &Counts) -> String {
    counts
        .iter()
        .filter(|(_, v)| **v != 0)
        .map(|(k, v)| format!("{} {v}", k.replace('_', " ")))
        .collect::<Vec<_>>()
        .join(", ")
}
