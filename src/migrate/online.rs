//! The online migration (SPEC §4, the default): expand, backfill, contract.
//!
//! The legacy bot keeps reading and writing throughout. Every step is a short
//! transaction, or many of them: schema changes take their locks in short attempts
//! ([`crate::conn::short_lock`]), the data is changed in primary-key batches of about
//! 100 ms each, indexes and constraint checks are built without blocking writes, and
//! the final switch only records the migration. The steps ([`OnlineStep`], in order,
//! each a value of [`super::steps`]) and, for a backfill, the last key done are
//! recorded in `profochat_saas.online_progress` in the same transaction as the work, so
//! an interrupted migration resumes where it stopped, redoing at most one batch, and
//! `migrate --abort` undoes it from any step. This is the driver.

use std::time::Instant;

use tokio_postgres::types::Json;
use tokio_postgres::Client;

use super::steps::chat_index;
use super::steps::prepare::Preflight;
use super::steps::{progress::record, with_step, Online, Step};
use super::{IndexReport, MigrateOptions, MigrationReport, Outcome, PhaseReport};
use crate::conn::snapshot::{snapshot, Access};
use crate::conn::Db;
use crate::error::{Error, Result};
use crate::report::Reporter;
use crate::state::{MigrationStatus, OnlineProgress, OnlineStep, RecordedOptions};
use crate::target;

pub use super::steps::cleanup::{cleanup, DROP};
pub use crate::state::{ADVISORY_KEY, CHAT_INDEX};
pub use super::steps::progress::progress;
pub use super::steps::STOPPED_HINT;
use super::steps::q;

/// The session's helpers (the backfill calls them), then its views of the analysis.
const RESTORE: &str = concat!(include_str!("../../sql/migrate/helpers.sql"), "\n", include_str!("../../sql/migrate/online/restore.sql"));
const RECORD_START: &str = include_str!("../../sql/migrate/online/record_start.sql");

/// Before the migration is recorded, nothing has changed.
fn q_start(context: &'static str) -> impl Fn(tokio_postgres::Error) -> Error {
    move |e| Error::query(context, &e, "Nothing was changed.")
}

/// The online migration, from its first step or from where an earlier run stopped.
/// `relink`: a new migration links every row again (recorded; a resumed one goes on as
/// it started).
pub async fn run(db: &mut Db, opts: &MigrateOptions, relink: bool, reporter: &dyn Reporter, started: Instant) -> Result<MigrationReport> {
    let result = run_steps(db, opts, relink, reporter, started).await;
    // The session's copies of the analysis (restore.sql) and the migration lock go,
    // whatever happened: the connection may serve other commands (`plan`, a test).
    let _ = db
        .batch_execute("DROP VIEW IF EXISTS pg_temp.mig_course_map, pg_temp.mig_ban_dups, pg_temp.mig_participant_dups, pg_temp.mig_orphans; DROP TABLE IF EXISTS pg_temp.mig_params, pg_temp.mig_batch; SELECT pg_advisory_unlock_all()")
        .await;
    let _ = db.batch_execute(super::steps::prepare::ANALYSIS_KEPT_DROP).await;
    result
}

async fn run_steps(db: &mut Db, opts: &MigrateOptions, relink: bool, reporter: &dyn Reporter, started: Instant) -> Result<MigrationReport> {
    let target = db.settings.display_target();
    let got: bool = db
        .query_one("SELECT pg_try_advisory_lock($1)", &[&ADVISORY_KEY])
        .await
        .map_err(q("taking the migration lock"))?
        .get(0);
    if !got {
        return Err(Error::refused(
            format!("another `profochat-saas migrate` is running on {target}"),
            "Wait for it to end (`profochat-saas status` shows its progress).",
        ));
    }
    let (state, preflight) = match progress(&db.client).await? {
        Some(p) if aborting(&db.client, p.migration_id).await? => {
            return Err(Error::state(
                format!("{target} has an abort of its online migration under way"),
                "An abort is finished, not resumed forward: run `profochat-saas migrate --abort` again.",
            ))
        }
        Some(p) if in_progress(&db.client, p.migration_id).await? => {
            reporter.info(&format!("resuming the online migration {} ({})", p.migration_id, p.describe()));
            (p, None)
        }
        _ => {
            let (p, kept) = start(db, opts, relink, reporter).await?;
            (p, Some(kept))
        }
    };
    let Json(recorded): Json<RecordedOptions> = db
        .query_one("SELECT options FROM profochat_saas.migration WHERE migration_id = $1", &[&state.migration_id])
        .await
        .map_err(q("reading the migration's options"))?
        .try_get(0)
        .map_err(q("reading the migration's options"))?;
    // A resumed migration goes on with the decisions it started with: a plain
    // `migrate` resumes it, and its steps never mix two policies.
    let opts = &opts.with_recorded_decisions(&recorded);
    let mut run = Online {
        db,
        state,
        opts,
        reporter,
        relink: recorded.relink_all.unwrap_or(false),
        started,
        analysis: None,
        preflight,
        indexes: IndexReport::default(),
    };
    let mut phases = vec![];
    let mut restored = false;
    let mut next = match run.state.current.or(run.state.done.and_then(|d| d.next())) {
        Some(s) => Some(s),
        None if run.state.done.is_none() => Some(OnlineStep::Expand),
        None => None,
    };
    while let Some(step) = next {
        if !restored && !matches!(step, OnlineStep::Expand | OnlineStep::ChatIndex | OnlineStep::Prepare) {
            super::work::run(&run.db.client, RESTORE)
                .await
                .map_err(|e| e.into_query("reading the analysis kept by the prepare step", STOPPED_HINT))?;
            restored = true;
        }
        if matches!(step, OnlineStep::Switch | OnlineStep::Cleanup) {
            // Its proof, validation and switch are reported as they happen.
            break;
        }
        let label = format!("online: {}", step.name());
        reporter.started(&label, None);
        let t = Instant::now();
        let counts = with_step!(step, s => apply(&s, &mut run).await)?;
        let elapsed = t.elapsed();
        reporter.finished(&label, elapsed, &super::steps::summarize(&counts));
        phases.push(PhaseReport { number: step.number(), name: step.name(), elapsed_ms: elapsed.as_millis() as u64, counts });
        run.crash_point(&format!("after:{}", step.name()));
        next = step.next();
    }
    let (proof, proof_ms, validation) = super::steps::switch::run(&mut run).await?;
    let Online { db, state, analysis, indexes, .. } = run;
    Ok(MigrationReport {
        target,
        outcome: Outcome::Migrated,
        migration_id: Some(state.migration_id),
        default_bot: default_bot(&db.client).await?,
        phases,
        proof,
        proof_ms,
        indexes,
        bots_waiting_for_token: super::bots_waiting_for_token(&db.client).await?,
        legacy_url: crate::legacy::legacy_url(&db.settings),
        deployments: db
            .query_one("SELECT count(*) FROM course_deployment", &[])
            .await
            .map_err(q("counting deployments"))?
            .get(0),
        analysis,
        validation: Some(validation),
        upgraded: vec![],
        cleaned_up: vec![],
        legacy_role: None,
        total_ms: started.elapsed().as_millis() as u64,
    })
}

/// One step: its work, its check, then recorded as done (unless its work recorded it
/// in its own transaction).
async fn apply(step: &impl Step, run: &mut Online<'_>) -> Result<super::steps::Counts> {
    let counts = step.apply(run).await?;
    step.check(run).await?;
    if run.state.done != Some(step.id()) {
        run.done(step.id()).await?;
    }
    Ok(counts)
}

async fn in_progress(client: &Client, migration_id: i32) -> Result<bool> {
    Ok(client
        .query_opt("SELECT 1 FROM profochat_saas.migration WHERE migration_id = $1 AND status = $2", &[&migration_id, &MigrationStatus::InProgress.as_str()])
        .await
        .map_err(q("reading the migration state"))?
        .is_some())
}

async fn aborting(client: &Client, migration_id: i32) -> Result<bool> {
    Ok(client
        .query_opt("SELECT 1 FROM profochat_saas.migration WHERE migration_id = $1 AND status = $2", &[&migration_id, &MigrationStatus::Aborting.as_str()])
        .await
        .map_err(q("reading the migration state"))?
        .is_some())
}

async fn default_bot(client: &Client) -> Result<Option<String>> {
    Ok(client
        .query_opt("SELECT settings ->> 'default_bot' FROM account WHERE account_id = 1", &[])
        .await
        .map_err(q("reading the default bot"))?
        .and_then(|r| r.get(0)))
}

/// The preflight's analysis in a snapshot, kept for the prepare step.
async fn analyse(db: &mut Db, opts: &MigrateOptions) -> Result<Preflight> {
    let tx = snapshot(&mut db.client, Access::TempTables).await.map_err(q_start("preflight"))?;
    let (default_bot, a) = super::prepare::analyse_decided(&tx, opts, None).await?;
    let kept = Preflight::keep(&tx, default_bot, a).await.map_err(q_start("keeping the preflight's analysis"))?;
    tx.commit().await.map_err(q_start("preflight"))?;
    Ok(kept)
}

/// Before any change: the analysis in a snapshot, and the refusals when a decision is
/// missing; the analysis is kept for the prepare step (session temporary tables, the
/// only thing its transaction creates). Then the migration is recorded, in progress.
async fn start(db: &mut Db, opts: &MigrateOptions, relink: bool, reporter: &dyn Reporter) -> Result<(OnlineProgress, Preflight)> {
    reporter.started("preflight: analyse", None);
    let t = Instant::now();
    // The temporary chat index first (concurrently: writes go on), so that the bot's
    // course ends find their run through it while the analysis reads every table. It is
    // the tool's own, not the target's: a refusal below drops it again.
    let had_index = chat_index::exists(&db.client).await.map_err(q_start("reading the catalog"))?;
    chat_index::build(&db.client).await.map_err(q_start("building the temporary index on run (chat_id)"))?;
    let kept = match analyse(db, opts).await {
        Err(e) if !had_index => {
            let bound = opts.lock_wait.unwrap_or(crate::conn::short_lock::DEFAULT_BOUND);
            return Err(match chat_index::drop_bounded(&db.client, bound).await {
                Ok(true) => e,
                _ => e.with_note(&chat_index::left_note()),
            });
        }
        other => other?,
    };
    let a = &kept.analysis;
    reporter.finished(
        "preflight: analyse",
        t.elapsed(),
        &format!("{} rows in 8 legacy tables, {} bots", a.rows.values().sum::<i64>(), a.bots.len()),
    );
    let recorded = RecordedOptions { online: true, relink_all: Some(relink), ..opts.recorded() };
    let tx = db.client.transaction().await.map_err(q_start("recording the migration"))?;
    tx.batch_execute(target::sql::STATE).await.map_err(q_start("creating the state tables"))?;
    let id: i32 = tx
        .query_one(RECORD_START, &[&target::SCHEMA_VERSION, &env!("CARGO_PKG_VERSION"), &Json(&recorded), &MigrationStatus::InProgress.as_str()])
        .await
        .map_err(q_start("recording the migration"))?
        .get(0);
    let p = OnlineProgress { migration_id: id, done: None, current: Some(OnlineStep::Expand), last_key: None, max_key: None, batches: 0, rows: 0 };
    record(&tx, &p).await?;
    tx.commit().await.map_err(q_start("recording the migration"))?;
    Ok((p, kept))
}

