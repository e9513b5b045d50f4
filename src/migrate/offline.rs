//! The offline migration (`--offline`, a dry run), in the order the driver
//! ([`super::migrate`]) runs it in one transaction: preflight, phases, no-loss proof,
//! validation, record, commit, indexes. Each stage reports itself to the [`Reporter`]
//! and returns what the next ones need.

use std::collections::BTreeMap;
use std::time::Instant;

use tokio_postgres::types::Json;
use tokio_postgres::{GenericClient, Transaction};

use super::analysis::Analysis;
use super::phases::{self, PHASES};
use super::steps::Whole;
use super::{steps, MigrateOptions, MigrationReport, Orphans, Outcome, PhaseReport, TableProof};
use crate::conn::{short_lock, Db};
use crate::error::{pg_error_text, Error, Result};
use crate::fingerprint::{self, Fingerprints, TableFingerprint};
use crate::report::Reporter;
use crate::sql::LEGACY_TABLES;
use crate::state::MigrationStatus;
use crate::target;
use crate::validate;

const LOCK_LEGACY: &str = include_str!("../../sql/migrate/run/lock_legacy.sql");
const RECORD_START: &str = include_str!("../../sql/migrate/run/record_start.sql");
const RECORD_STATUS: &str = include_str!("../../sql/migrate/run/record_status.sql");
const RECORD_FINISH: &str = include_str!("../../sql/migrate/run/record_finish.sql");
const ARCHIVE_COUNTS: &str = include_str!("../../sql/migrate/run/archive_counts.sql");
const DEPLOYMENTS: &str = include_str!("../../sql/migrate/run/deployments_count.sql");

pub(crate) fn q(context: &'static str) -> impl Fn(tokio_postgres::Error) -> Error {
    move |e| Error::query(context, &e, "The transaction was rolled back: nothing was changed.")
}

/// Migrated already: nothing changes.
pub(crate) async fn already_migrated(db: &Db, target: String, migration_id: Option<i32>) -> Result<MigrationReport> {
    let mut r = MigrationReport::unchanged(target, Outcome::AlreadyMigrated);
    r.legacy_url = crate::legacy::legacy_url(&db.settings);
    r.migration_id = migration_id;
    r.bots_waiting_for_token = super::bots_waiting_for_token(&db.client).await?;
    Ok(r)
}

/// The data was migrated before: build the secondary indexes still missing or invalid
/// and record the migration as completed (nothing with `dry_run`).
pub(crate) async fn finish_indexes(
    db: &Db,
    target: String,
    migration_id: Option<i32>,
    opts: &MigrateOptions,
    reporter: &dyn Reporter,
    started: Instant,
) -> Result<MigrationReport> {
    let mut r = MigrationReport::unchanged(target, Outcome::IndexesFinished);
    r.legacy_url = crate::legacy::legacy_url(&db.settings);
    r.migration_id = migration_id;
    if !opts.dry_run {
        r.indexes = steps::indexes::secondary(db, migration_id, opts, reporter).await?;
    }
    r.bots_waiting_for_token = super::bots_waiting_for_token(&db.client).await?;
    r.total_ms = started.elapsed().as_millis() as u64;
    Ok(r.settled())
}

/// What the preflight found and decided.
pub(crate) struct Preflight {
    pub migration_id: i32,
    pub before: Fingerprints,
    pub default_bot: Option<String>,
    pub analysis: Analysis,
}

/// Locks the legacy tables (the bot waits, nothing can change under us), fingerprints
/// them, analyses, refuses before any change if a decision is missing, and records the
/// migration.
pub(crate) async fn preflight(tx: &Transaction<'_>, opts: &MigrateOptions, reporter: &dyn Reporter) -> Result<Preflight> {
    reporter.started("preflight: lock, fingerprint, analyse", None);
    let t = Instant::now();
    lock_legacy(tx, opts, reporter).await?;
    let before = fingerprint::take(tx).await?;
    let (default_bot, a) = super::prepare::analyse_decided(tx, opts, None).await?;
    tx.batch_execute(target::sql::STATE).await.map_err(q("creating the state tables"))?;
    tx.batch_execute(target::sql::HELPERS).await.map_err(q("creating helpers"))?;
    let migration_id: i32 = tx
        .query_one(
            RECORD_START,
            &[
                &target::SCHEMA_VERSION,
                &env!("CARGO_PKG_VERSION"),
                &Json(&opts.recorded()),
                &serde_json::to_value(&before).unwrap_or_default(),
                &MigrationStatus::Running.as_str(),
            ],
        )
        .await
        .map_err(q("recording the migration"))?
        .get(0);
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
    Ok(Preflight { migration_id, before, default_bot, analysis: a })
}

/// Locks the legacy tables in short attempts with pauses between them, so that the bot's
/// statements never queue long behind a waiting lock request, up to `opts.lock_wait`.
async fn lock_legacy(tx: &Transaction<'_>, opts: &MigrateOptions, reporter: &dyn Reporter) -> Result<()> {
    // The migration's own schema changes pass the guard of 9_ddl_guard.sql (a re-run).
    let allow = short_lock::Prologue { allow_ddl: true, ..Default::default() };
    tx.batch_execute(&allow.sql()).await.map_err(q("preflight"))?;
    let bound = opts.lock_wait.unwrap_or(short_lock::DEFAULT_BOUND);
    let warn = |_| reporter.warn("the legacy tables are in use (the running bot, a long query): retrying the lock in short attempts");
    match short_lock::in_transaction(tx, &short_lock::one_attempt(LOCK_LEGACY), bound, |n| if n == 1 { warn(n) }).await {
        Ok(_) => Ok(()),
        Err(f) if f.lock_not_granted() => Err(Error::RolledBack {
            context: "locking the legacy tables".into(),
            cause: format!("they were {}", f.cause()),
            hint: "Another session (the running bot, a long query) holds them. Stop the bot or wait, then run `profochat-saas migrate` again.".into(),
        }),
        Err(f) => Err(Error::query("preflight", &f.error, "The transaction was rolled back: nothing was changed.")),
    }
}

/// The phases, in order, each timed and reported: the steps over the whole key range.
pub(crate) async fn phases(tx: &Transaction<'_>, a: &Analysis, opts: &MigrateOptions, reporter: &dyn Reporter) -> Result<Vec<PhaseReport>> {
    let whole = Whole { tx, analysis: a, opts };
    let mut out = vec![];
    for phase in &PHASES {
        let label = phase.label();
        reporter.started(&label, None);
        let t = Instant::now();
        let counts = phase.apply(&whole).await?;
        let elapsed = t.elapsed();
        reporter.finished(&label, elapsed, &steps::summarize(&counts));
        out.push(PhaseReport {
            number: phase.number(),
            name: phase.name(),
            elapsed_ms: elapsed.as_millis() as u64,
            counts,
        });
    }
    Ok(out)
}

/// Upstream's migration ledger (0001 and 0003 recorded) and the enrolment function.
pub(crate) async fn upstream(tx: &Transaction<'_>, started: Instant, reporter: &dyn Reporter) -> Result<()> {
    const STEP: &str = "upstream ledger and enrolment function";
    reporter.started(STEP, None);
    let t = Instant::now();
    let installed = super::upstream::install(tx, started.elapsed().as_millis() as i32, STEP).await?;
    reporter.finished(
        STEP,
        t.elapsed(),
        &format!("{} migrations recorded in schema_migrations, profochat_saas.enrol installed", installed.ledger_rows),
    );
    Ok(())
}

/// The no-loss proof, inside the transaction: a mismatch rolls everything back.
/// Returns the proof per table, the fingerprint after, and the milliseconds it took.
pub(crate) async fn prove_no_loss(tx: &Transaction<'_>, pre: &Preflight, reporter: &dyn Reporter) -> Result<(Vec<TableProof>, Fingerprints, u64)> {
    reporter.started("no-loss proof", None);
    let t = Instant::now();
    let after = fingerprint::take(tx).await?;
    let proof = prove(tx, pre.migration_id, &pre.before, &after).await?;
    let bad: Vec<String> = proof.iter().filter(|p| !p.equal).map(|p| p.table.clone()).collect();
    if !bad.is_empty() {
        return Err(phases::FINALIZE.failed(format!(
            "the no-loss proof failed for {}: their rows differ from before the migration beyond the archived changes",
            bad.join(", ")
        )));
    }
    let archived: i64 = proof.iter().map(|p| p.archived_deleted + p.archived_updated + p.archived_inserted).sum();
    reporter.finished("no-loss proof", t.elapsed(), &format!("8 tables equal to before, {archived} archived changes"));
    Ok((proof, after, t.elapsed().as_millis() as u64))
}

/// Validation inside the transaction: a critical problem rolls everything back.
pub(crate) async fn validate_inside(
    tx: &Transaction<'_>,
    migration_id: i32,
    opts: &MigrateOptions,
    reporter: &dyn Reporter,
) -> Result<validate::ValidationReport> {
    tx.execute(RECORD_STATUS, &[&migration_id, &status_at_commit(opts).as_str()])
        .await
        .map_err(q("recording the migration"))?;
    reporter.started("validation", None);
    let t = Instant::now();
    let validation = validate::validate(
        tx,
        &validate::ValidateOptions {
            orphans_kept: opts.orphans == Orphans::Keep,
            keys_just_validated: true,
            finished: false,
            switching: false,
        },
    )
    .await?;
    if validation.critical_failures() > 0 {
        return Err(phases::FINALIZE.failed(format!("validation found critical problems: {}", validation.critical_list())));
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
    Ok(validation)
}

/// The status recorded at the commit: completed, or indexes pending when the secondary
/// indexes are built after it.
fn status_at_commit(opts: &MigrateOptions) -> MigrationStatus {
    if opts.single_transaction {
        MigrationStatus::Completed
    } else {
        MigrationStatus::IndexesPending
    }
}

/// Records what the migration did; returns the bots waiting for a token and the
/// number of deployments, for the report.
pub(crate) async fn record(
    tx: &Transaction<'_>,
    pre: &Preflight,
    phases: &[PhaseReport],
    after: &Fingerprints,
    proof: &[TableProof],
    opts: &MigrateOptions,
) -> Result<(Vec<String>, i64)> {
    let waiting = super::bots_waiting_for_token(tx).await?;
    let deployments: i64 = tx.query_one(DEPLOYMENTS, &[]).await.map_err(q("counting deployments"))?.get(0);
    tx.execute(
        RECORD_FINISH,
        &[
            &pre.migration_id,
            &status_at_commit(opts).as_str(),
            &serde_json::to_value(phases).unwrap_or_default(),
            &serde_json::to_value(after).unwrap_or_default(),
            &serde_json::json!({
                "proof": proof,
                "default_bot": pre.default_bot,
                "deployments": deployments,
                "bots_waiting_for_token": waiting.len(),
            }),
        ],
    )
    .await
    .map_err(q("recording the migration"))?;
    Ok((waiting, deployments))
}

/// Commits (or, with `dry_run`, rolls back).
pub(crate) async fn commit(tx: Transaction<'_>, opts: &MigrateOptions) -> Result<Outcome> {
    if opts.dry_run {
        tx.rollback().await.map_err(q("rolling back the dry run"))?;
        return Ok(Outcome::DryRun);
    }
    tx.commit().await.map_err(|e| Error::PhaseFailed {
        phase: "the commit".into(),
        cause: pg_error_text(&e),
        hint: "Run `profochat-saas status` to see the state, then `profochat-saas migrate` again.".into(),
    })?;
    Ok(Outcome::Migrated)
}

/// Per-table proof: the fingerprint before, the reconstruction after (from `now`, the
/// tables as they are, and the archive), and the archive counts.
pub async fn prove<C: GenericClient + Sync>(client: &C, migration_id: i32, before: &Fingerprints, now: &Fingerprints) -> Result<Vec<TableProof>> {
    let after = fingerprint::reconstruct(client, migration_id, now).await?;
    let rows = client.query(ARCHIVE_COUNTS, &[&migration_id]).await.map_err(q("counting archived changes"))?;
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
            written_meanwhile: None,
            written_then_gone: None,
        });
    }
    Ok(out)
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_statement_of_the_migration_says_what_it_does_in_a_header() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sql/migrate");
        for dir in ["run", "checks", "analysis_read"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                let path = entry.unwrap().path();
                let text = std::fs::read_to_string(&path).unwrap();
                assert!(text.starts_with("-- "), "{} has no header", path.display());
            }
        }
    }

    #[test]
    fn the_lock_takes_the_legacy_tables_in_their_fixed_order() {
        let lock = LOCK_LEGACY.lines().find(|l| l.starts_with("LOCK TABLE ")).unwrap();
        assert_eq!(lock.trim_start_matches("LOCK TABLE ").trim_end().trim_end_matches(','), LEGACY_TABLES.join(", "));
    }
}
