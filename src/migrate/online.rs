//! The online migration (SPEC §4, the default): expand, backfill, contract.
//!
//! The legacy bot keeps reading and writing throughout. Every step is a short
//! transaction, or many of them: schema changes take their locks in attempts of at most
//! 200 ms, the data is changed in primary-key batches of about 100 ms each, indexes and
//! constraint checks are built without blocking writes, and the final switch only
//! records the migration. The steps ([`OnlineStep`], in order) and, for a backfill, the
//! last key done are recorded in `profochat_saas.online_progress` in the same
//! transaction as the work, so an interrupted migration resumes where it stopped,
//! redoing at most one batch, and `migrate --abort` undoes it from any step.

use std::time::{Duration, Instant};

use tokio_postgres::error::SqlState;
use tokio_postgres::types::Json;
use tokio_postgres::{Client, GenericClient};

use super::analysis::Analysis;
use super::phases::{self, Phase};
use super::{steps, IndexReport, MigrateOptions, MigrationReport, Orphans, Outcome, PhaseReport, TableProof};
use crate::conn::Db;
use crate::error::{pg_error_text, Error, Result};
use crate::fingerprint;
use crate::report::Reporter;
use crate::sql::{ident, literal};
use crate::state::{BackfillTable, MigrationStatus, OnlineProgress, OnlineStep, RecordedOptions, ADVISORY_KEY, CHAT_INDEX};
use crate::target;
use crate::validate;

const PERSIST: &str = include_str!("../../sql/migrate/online/persist.sql");
const RESTORE: &str = include_str!("../../sql/migrate/online/restore.sql");
pub const DROP: &str = include_str!("../../sql/migrate/online/drop.sql");
const LOCK_SHARE: &str = include_str!("../../sql/migrate/online/lock_share.sql");
const SETTLE_RUNS: &str = include_str!("../../sql/migrate/online/settle_runs.sql");
const ORPHANS: &str = include_str!("../../sql/migrate/online/backfill_conversation_orphans.sql");
const PROGRESS_READ: &str = include_str!("../../sql/migrate/online/progress_read.sql");
const PROGRESS_WRITE: &str = include_str!("../../sql/migrate/online/progress_write.sql");
const RECORD_START: &str = include_str!("../../sql/migrate/online/record_start.sql");
const RECORD_BEFORE: &str = include_str!("../../sql/migrate/online/record_before.sql");
const KEYS_NOT_NULL: &str = include_str!("../../sql/migrate/online/keys_not_null.sql");
const KEYS_NOT_NULL_DONE: &str = include_str!("../../sql/migrate/online/keys_not_null_done.sql");

/// How long a batch should take: long enough to be efficient, short enough that a bot
/// statement waiting for one of its rows never waits long.
/// The indexes the backfills after the runs' look rows up with (the waiting elements'
/// run by bot and chat; the conversation rows of a run). The other indexes are built
/// after the backfills, so that the rows they change are not indexed twice.
const LOOKUP_INDEXES: [&str; 2] = ["idx_run_chat", "idx_conversation_run"];

const CHAT_INDEX_BUILD: &str = include_str!("../../sql/migrate/online/chat_index.sql");
const CHAT_INDEX_DROP: &str = include_str!("../../sql/migrate/online/chat_index_drop.sql");

/// The checks that run again inside the switch transaction: those it makes hold (the
/// migration recorded as completed, upstream's ledger and enrolment function) and those
/// that read only the catalog (structure, triggers, interface), so that a schema change
/// between the validation and the switch cannot slip through. Milliseconds, whatever
/// the size of the data; the checks that read rows run only before it.
fn at_switch(id: &str) -> bool {
    id.starts_with("structure.") || id.starts_with("state.")
}

const BATCH_TARGET: Duration = Duration::from_millis(100);
const BATCH_MIN: i64 = 100;
const BATCH_MAX: i64 = 50_000;

impl OnlineStep {
    /// What the step does (for `plan` and the progress lines).
    pub fn describe(self) -> &'static str {
        match self {
            OnlineStep::Expand => "new tables and columns (metadata only, short locks), the change log, the fingerprint before",
            OnlineStep::ChatIndex => "a temporary index on run (chat_id), built concurrently: the legacy bot's course ends and the compatibility layer find a chat's runs without reading the whole table; the switch drops it",
            OnlineStep::Prepare => "bots, course copies merged and renamed, deployments; the compatibility triggers and the legacy interface",
            OnlineStep::Backfill(BackfillTable::Run) => "runs: renamed copies, bot, deployment, one active run per chat and bot",
            OnlineStep::Backfill(BackfillTable::WaitingElement) => "waiting elements: renamed copies, bot, run",
            OnlineStep::Backfill(BackfillTable::Conversation) => "conversation rows: renamed copies, orphaned run_ids",
            OnlineStep::Backfill(BackfillTable::Bannedparticipants) => "bans: bot, duplicates archived",
            OnlineStep::Backfill(BackfillTable::Courseparticipants) => "participants: duplicates archived",
            OnlineStep::Backfill(BackfillTable::GenSettings) => "settings: bot",
            OnlineStep::LookupIndexes => "the indexes the next backfills look rows up with (run by bot and chat, conversation by run), built concurrently",
            OnlineStep::Indexes => "the other secondary indexes, built concurrently once the big tables are backfilled",
            OnlineStep::Keys => "unique keys (concurrent unique indexes), NOT NULL through validated checks, foreign keys NOT VALID then validated",
            OnlineStep::Switch => "no-loss proof and validation (reads only), then the switch: the migration recorded as completed",
            OnlineStep::Cleanup => "the change log's triggers (short locks), the temporary index (concurrently), the backfill's analysis and the progress record go; interrupted, the next `migrate` finishes it",
        }
    }

    /// Its place in the order, from 1.
    pub fn number(self) -> u8 {
        OnlineStep::all().iter().position(|s| *s == self).map(|i| i as u8 + 1).unwrap_or(0)
    }

    /// How `migrate --abort` undoes it.
    pub fn undo(self) -> &'static str {
        match self {
            OnlineStep::Expand => "drops the new tables and columns, the change log and the tool's schema",
            OnlineStep::Prepare => "gives merged and renamed course copies back from the archive and the legacy interface's memory; drops bots, deployments, triggers and the interface",
            OnlineStep::Backfill(_) => "puts every archived value and row back (renamed ids, deactivated runs, detached run_ids, collapsed duplicates)",
            OnlineStep::ChatIndex | OnlineStep::LookupIndexes | OnlineStep::Indexes | OnlineStep::Keys => "drops the indexes and keys",
            OnlineStep::Switch => "nothing of its own: the switch commits in one short transaction",
            OnlineStep::Cleanup => "nothing: the migration is completed (`profochat-saas rollback` returns to the legacy schema)",
        }
    }

    pub(super) fn table_sql(t: BackfillTable) -> &'static str {
        match t {
            BackfillTable::Run => include_str!("../../sql/migrate/online/backfill_run.sql"),
            BackfillTable::WaitingElement => include_str!("../../sql/migrate/online/backfill_waiting_element.sql"),
            BackfillTable::Conversation => include_str!("../../sql/migrate/online/backfill_conversation.sql"),
            BackfillTable::Bannedparticipants => include_str!("../../sql/migrate/online/backfill_bannedparticipants.sql"),
            BackfillTable::Courseparticipants => include_str!("../../sql/migrate/online/backfill_courseparticipants.sql"),
            BackfillTable::GenSettings => include_str!("../../sql/migrate/online/backfill_gen_settings.sql"),
        }
    }
}

fn q(context: &'static str) -> impl Fn(tokio_postgres::Error) -> Error {
    move |e| Error::query(context, &e, STOPPED_HINT)
}

/// What an online migration that stops before its switch leaves.
pub const STOPPED_HINT: &str = "The online migration stops here; what its committed steps did stays, and the legacy bot keeps working. \
     `profochat-saas status` shows where it stopped, `profochat-saas migrate` resumes it, `profochat-saas migrate --abort` returns to the legacy database.";

/// Before the migration is recorded, nothing has changed.
fn q_start(context: &'static str) -> impl Fn(tokio_postgres::Error) -> Error {
    move |e| Error::query(context, &e, "Nothing was changed.")
}

fn stopped(step: OnlineStep, cause: String) -> Error {
    Error::Stopped { step, cause, hint: STOPPED_HINT.into() }
}

/// The progress of the online migration in progress, if there is one.
pub async fn progress<C: GenericClient + Sync>(client: &C) -> Result<Option<OnlineProgress>> {
    if !crate::schema::state_table_exists(client).await? {
        return Ok(None);
    }
    let exists: bool = client
        .query_one("SELECT to_regclass('profochat_saas.online_progress') IS NOT NULL", &[])
        .await
        .map_err(q("reading the online migration's progress"))?
        .get(0);
    if !exists {
        return Ok(None);
    }
    let row = client.query_opt(PROGRESS_READ, &[]).await.map_err(q("reading the online migration's progress"))?;
    Ok(row.map(|r| OnlineProgress {
        migration_id: r.get(0),
        done: r.get::<_, Option<String>>(1).as_deref().and_then(OnlineStep::parse),
        current: r.get::<_, Option<String>>(2).as_deref().and_then(OnlineStep::parse),
        last_key: r.get(3),
        max_key: r.get(4),
        batches: r.get(5),
        rows: r.get(6),
    }))
}

/// Records progress (inside the transaction of the work it records).
async fn record<C: GenericClient + Sync>(client: &C, p: &OnlineProgress) -> Result<()> {
    client
        .execute(
            PROGRESS_WRITE,
            &[
                &p.migration_id,
                &p.done.map(|s| s.name()),
                &p.current.map(|s| s.name()),
                &p.last_key,
                &p.max_key,
                &p.batches,
                &p.rows,
            ],
        )
        .await
        .map_err(q("recording the online migration's progress"))?;
    Ok(())
}

/// Test hook (`--crash-at`): ends the process at once, as kill -9 would, at a step
/// boundary ("after:STEP"), inside a batch before its commit ("inside:TABLE:N"), or
/// inside the keys step once its NOT NULL checks ("inside:keys:1") or a foreign key
/// ("inside:keys:2") are added.
fn crash_point(opts: &MigrateOptions, here: &str) {
    if opts.crash_at.as_deref() == Some(here) {
        std::process::abort();
    }
}

/// Runs one short transaction of schema changes: each attempt waits at most 200 ms for
/// a lock (the bot's statements queue behind a waiting lock request no longer than
/// that); a refused attempt is retried after a random pause, up to `opts.lock_wait`.
async fn short_ddl(client: &mut Client, sql: &str, what: &str, step: OnlineStep, opts: &MigrateOptions, reporter: &dyn Reporter) -> Result<()> {
    let bound = opts.lock_wait.unwrap_or(super::options::DEFAULT_LOCK_WAIT);
    let started = Instant::now();
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let tx = client.transaction().await.map_err(q("starting a schema change"))?;
        let r = tx
            .batch_execute(&format!(
                "SET LOCAL profochat_saas.allow_ddl = on; SET LOCAL profochat_saas.backfill = on; SET LOCAL lock_timeout = '200ms';\n{sql}"
            ))
            .await;
        match r {
            Ok(()) => {
                tx.commit().await.map_err(|e| stopped(step, format!("{what}: {}", pg_error_text(&e))))?;
                return Ok(());
            }
            Err(e) if retryable(&e) && started.elapsed() < bound => {
                drop(tx);
                if attempts == 1 {
                    reporter.warn(&format!("{what}: the tables are in use (the running bot, a long query): retrying in short attempts"));
                }
                pause().await;
            }
            Err(e) => return Err(stopped(step, format!("{what}: {} (after {attempts} attempt(s))", pg_error_text(&e)))),
        }
    }
}

fn retryable(e: &tokio_postgres::Error) -> bool {
    e.code().is_some_and(|c| *c == SqlState::LOCK_NOT_AVAILABLE || *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE)
}

/// 100–400 ms, at random, so that retries do not fall into step with the bot.
async fn pause() {
    tokio::time::sleep(Duration::from_millis(100 + rand::random::<u64>() % 300)).await;
}

/// The online migration, from its first step or from where an earlier run stopped.
/// `relink`: a new migration links every row again (recorded; a resumed one goes on as
/// it started).
pub async fn run(db: &mut Db, opts: &MigrateOptions, relink: bool, reporter: &dyn Reporter, started: Instant) -> Result<MigrationReport> {
    let result = run_steps(db, opts, relink, reporter, started).await;
    // The session's copies of the analysis (restore.sql) and the migration lock go,
    // whatever happened: the connection may serve other commands (`plan`, a test).
    let _ = db
        .batch_execute("DROP VIEW IF EXISTS pg_temp.mig_course_map, pg_temp.mig_ban_dups, pg_temp.mig_participant_dups; DROP TABLE IF EXISTS pg_temp.mig_params, pg_temp.mig_batch; SELECT pg_advisory_unlock_all()")
        .await;
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
    let mut state = match progress(&db.client).await? {
        Some(p) if in_progress(&db.client, p.migration_id).await? => {
            reporter.info(&format!("resuming the online migration {} ({})", p.migration_id, p.describe()));
            p
        }
        _ => start(db, opts, relink, reporter).await?,
    };
    let Json(recorded): Json<RecordedOptions> = db
        .query_one("SELECT options FROM profochat_saas.migration WHERE migration_id = $1", &[&state.migration_id])
        .await
        .map_err(q("reading the migration's options"))?
        .try_get(0)
        .map_err(q("reading the migration's options"))?;
    let relink = recorded.relink_all.unwrap_or(false);
    // A resumed migration goes on with the decisions it started with: a plain
    // `migrate` resumes it, and its steps never mix two policies.
    let opts = &opts.with_recorded_decisions(&recorded);
    let mut phases = vec![];
    let mut analysis = None;
    let mut indexes = IndexReport::default();
    let mut restored = false;
    let mut next = match state.current.or(state.done.and_then(|d| d.next())) {
        Some(s) => Some(s),
        None if state.done.is_none() => Some(OnlineStep::Expand),
        None => None,
    };
    while let Some(step) = next {
        if !restored && !matches!(step, OnlineStep::Expand | OnlineStep::ChatIndex | OnlineStep::Prepare) {
            super::work::run(&db.client, RESTORE).await.map_err(|e| e.into_query("reading the analysis kept by the prepare step", STOPPED_HINT))?;
            restored = true;
        }
        if step == OnlineStep::Switch {
            // Its proof, validation and switch are reported as they happen.
            break;
        }
        let label = format!("online: {}", step.name());
        reporter.started(&label, None);
        let t = Instant::now();
        let counts = match step {
            OnlineStep::Expand => expand(db, &mut state, opts, reporter).await?,
            OnlineStep::ChatIndex => chat_index(db, &mut state).await?,
            OnlineStep::Prepare => {
                let (c, a) = prepare(db, &mut state, opts, reporter).await?;
                analysis = Some(a);
                c
            }
            OnlineStep::Backfill(t) => backfill(db, &mut state, t, relink, opts, reporter).await?,
            OnlineStep::LookupIndexes => {
                let built = super::indexes::build_missing_of(&db.settings, opts.index_jobs, Some(&LOOKUP_INDEXES), reporter).await?;
                if !built.failed.is_empty() {
                    let failures: Vec<String> = built.failed.iter().map(|(n, why)| format!("{n} ({why})")).collect();
                    return Err(stopped(step, format!("indexes could not be built: {}", failures.join("; "))));
                }
                done(db, &mut state, step).await?;
                phases::Counts::from([("indexes_built".to_string(), built.built.len() as i64)])
            }
            OnlineStep::Indexes => {
                indexes = steps::indexes(db, None, opts, reporter).await?;
                if !indexes.failed.is_empty() {
                    let failures: Vec<String> = indexes.failed.iter().map(|(n, why)| format!("{n} ({why})")).collect();
                    return Err(stopped(step, format!("secondary indexes could not be built: {}", failures.join("; "))));
                }
                done(db, &mut state, step).await?;
                phases::Counts::from([("indexes_built".to_string(), indexes.built.len() as i64)])
            }
            OnlineStep::Keys => keys(db, &mut state, opts, reporter).await?,
            OnlineStep::Switch | OnlineStep::Cleanup => break,
        };
        let elapsed = t.elapsed();
        reporter.finished(&label, elapsed, &summarize(&counts));
        phases.push(PhaseReport { number: step.number(), name: step.name(), elapsed_ms: elapsed.as_millis() as u64, counts });
        crash_point(opts, &format!("after:{}", step.name()));
        next = step.next();
    }
    let (proof, proof_ms, validation) = switch(db, &mut state, opts, reporter, started).await?;
    Ok(MigrationReport {
        target,
        outcome: Outcome::Migrated,
        migration_id: Some(state.migration_id),
        default_bot: default_bot(&db.client).await?,
        phases,
        proof,
        proof_ms,
        indexes,
        bots_waiting_for_token: steps::bots_waiting_for_token(&db.client).await?,
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

fn summarize(counts: &phases::Counts) -> String {
    counts
        .iter()
        .filter(|(_, v)| **v != 0)
        .map(|(k, v)| format!("{} {v}", k.replace('_', " ")))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn in_progress(client: &Client, migration_id: i32) -> Result<bool> {
    Ok(client
        .query_opt("SELECT 1 FROM profochat_saas.migration WHERE migration_id = $1 AND status = $2", &[&migration_id, &MigrationStatus::InProgress.as_str()])
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

/// Before any change: the analysis in a snapshot, and the refusals when a decision is
/// missing. Then the migration is recorded, in progress.
async fn start(db: &mut Db, opts: &MigrateOptions, relink: bool, reporter: &dyn Reporter) -> Result<OnlineProgress> {
    reporter.started("preflight: analyse", None);
    let t = Instant::now();
    let tx = db.client.build_transaction().isolation_level(tokio_postgres::IsolationLevel::RepeatableRead).start().await.map_err(q_start("preflight"))?;
    let (_, a) = super::prepare::analyse_decided(&tx, opts, None).await?;
    tx.rollback().await.map_err(q_start("preflight"))?;
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
    Ok(p)
}

async fn done(db: &Db, state: &mut OnlineProgress, step: OnlineStep) -> Result<()> {
    state.done = Some(step);
    state.current = step.next();
    state.last_key = None;
    state.max_key = None;
    state.batches = 0;
    state.rows = 0;
    record(&db.client, state).await
}

/// The temporary index on run (chat_id) (`chat_index.sql`); a build killed halfway left
/// it invalid, and it is dropped and built again.
async fn chat_index(db: &mut Db, state: &mut OnlineProgress) -> Result<phases::Counts> {
    let step = OnlineStep::ChatIndex;
    let invalid: bool = db
        .query_one("SELECT EXISTS (SELECT 1 FROM pg_index WHERE indexrelid = to_regclass($1) AND NOT indisvalid)", &[&CHAT_INDEX])
        .await
        .map_err(q("reading the catalog"))?
        .get(0);
    if invalid {
        db.batch_execute(CHAT_INDEX_DROP)
            .await
            .map_err(|e| stopped(step, format!("dropping the invalid leftover of {CHAT_INDEX}: {}", pg_error_text(&e))))?;
    }
    db.batch_execute(CHAT_INDEX_BUILD)
        .await
        .map_err(|e| stopped(step, format!("building {CHAT_INDEX}: {}", pg_error_text(&e))))?;
    done(db, state, step).await?;
    Ok(phases::Counts::from([("indexes_built".to_string(), 1)]))
}

/// Expand: the new tables and the new columns of the legacy tables (metadata only: no
/// table is rewritten or scanned), under the short lock, then the fingerprint before.
async fn expand(db: &mut Db, state: &mut OnlineProgress, opts: &MigrateOptions, reporter: &dyn Reporter) -> Result<phases::Counts> {
    let step = OnlineStep::Expand;
    let lock = include_str!("../../sql/migrate/run/lock_legacy.sql").replace("SET LOCAL lock_timeout = 0;", "");
    let sql = [lock.as_str(), target::sql::HELPERS, target::sql::ACCOUNT, target::sql::TABLES].join("\n");
    if let Err(e) = short_ddl(&mut db.client, &sql, "adding the new tables and columns", step, opts, reporter).await {
        // Nothing of the migration is in the legacy tables yet: its record goes too.
        if state.done.is_none() {
            db.batch_execute(&format!(
                "DELETE FROM profochat_saas.online_progress WHERE migration_id = {id};
                 DELETE FROM profochat_saas.migration WHERE migration_id = {id};
                 DO $$ BEGIN
                     IF NOT EXISTS (SELECT 1 FROM profochat_saas.migration) AND to_regclass('bot') IS NULL THEN
                         DROP SCHEMA profochat_saas CASCADE;
                     END IF;
                 END $$;",
                id = state.migration_id
            ))
            .await
            .map_err(q("removing the migration's record"))?;
            let cause = match e {
                Error::Stopped { cause, .. } => cause,
                other => other.to_string(),
            };
            return Err(Error::RolledBack {
                context: "the online migration's first step".into(),
                cause,
                hint: "Another session (the running bot, a long query) holds the legacy tables. Wait, or stop it, then run `profochat-saas migrate` again.".into(),
            });
        }
        return Err(e);
    }
    // From here on, every row the bot or the application writes is logged, so that the
    // no-loss proof can leave it out; then the fingerprint before, in one snapshot.
    super::changes::install(&db.client).await.map_err(|e| stopped(step, e.to_string()))?;
    let before = super::changes::before(&mut db.client).await?;
    db.execute(
        RECORD_BEFORE,
        &[&state.migration_id, &serde_json::to_value(&before.fingerprints).unwrap_or_default(), &before.snapshot],
    )
    .await
    .map_err(q("recording the fingerprint before"))?;
    done(db, state, step).await?;
    Ok(phases::Counts::from([("legacy_rows".to_string(), before.fingerprints.tables.values().map(|f| f.rows).sum::<i64>())]))
}

/// Prepare: the analysis again (the bot wrote since the preflight), kept for the
/// backfill; then, with the legacy tables' writes held for a moment, bots, course
/// copies, deployments, the legacy memory, the compatibility triggers and the legacy
/// interface, so that every write from then on is linked and the legacy bot sees its
/// courses as before.
async fn prepare(db: &mut Db, state: &mut OnlineProgress, opts: &MigrateOptions, reporter: &dyn Reporter) -> Result<(phases::Counts, Analysis)> {
    let step = OnlineStep::Prepare;
    let bound = opts.lock_wait.unwrap_or(super::options::DEFAULT_LOCK_WAIT);
    let started = Instant::now();
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let tx = db.client.transaction().await.map_err(q("starting the prepare step"))?;
        tx.batch_execute("SET LOCAL profochat_saas.allow_ddl = on; SET LOCAL profochat_saas.backfill = on")
            .await
            .map_err(q("starting the prepare step"))?;
        tx.batch_execute(target::sql::HELPERS).await.map_err(q("creating helpers"))?;
        let (_, a) = super::prepare::analyse_decided(&tx, opts, Some(state.migration_id)).await?;
        super::work::run(&tx, PERSIST).await.map_err(|e| e.into_query("keeping the analysis for the backfill", STOPPED_HINT))?;
        tx.batch_execute(target::sql::STATE_PRIVILEGES).await.map_err(q("keeping the analysis for the backfill"))?;
        match tx.batch_execute(LOCK_SHARE).await {
            Ok(()) => {}
            Err(e) if retryable(&e) && started.elapsed() < bound => {
                drop(tx);
                if attempts == 1 {
                    reporter.warn("the legacy tables are in use (the running bot, a long query): retrying the prepare step's lock in short attempts");
                }
                pause().await;
                continue;
            }
            Err(e) => return Err(stopped(step, format!("locking the legacy tables: {}", pg_error_text(&e)))),
        }
        let counts = Phase::Data.apply(&tx, &a, opts).await.map_err(|e| stopped(step, e.to_string()))?;
        // The small tables' keys: the compatibility layer's upserts name them.
        tx.batch_execute(&small_keys()).await.map_err(|e| stopped(step, format!("the keys of the new tables: {}", pg_error_text(&e))))?;
        phases::install_legacy_interface(&tx, false).await.map_err(|e| stopped(step, pg_error_text(&e)))?;
        state.done = Some(step);
        state.current = step.next();
        record(&tx, state).await?;
        tx.commit().await.map_err(|e| stopped(step, pg_error_text(&e)))?;
        reporter.info(&format!(
            "the legacy interface is in place: the legacy bot can switch to it now and sees its tables as before ({})",
            crate::legacy::legacy_url(&db.settings)
        ));
        return Ok((counts, a));
    }
}

/// One legacy table, in primary-key batches up to the key captured when its backfill
/// started (rows written later went through the compatibility triggers: linked
/// already). Each batch is one transaction with its progress; its size follows its
/// time, about [`BATCH_TARGET`].
async fn backfill(db: &mut Db, state: &mut OnlineProgress, t: BackfillTable, relink: bool, opts: &MigrateOptions, reporter: &dyn Reporter) -> Result<phases::Counts> {
    let step = OnlineStep::Backfill(t);
    let key = ident(t.key());
    if state.current != Some(step) || state.max_key.is_none() {
        let range = match t {
            BackfillTable::Conversation => "SELECT min(k)::int8, max(k)::int8 FROM (SELECT run_id AS k FROM run UNION ALL SELECT run_id FROM profochat_saas.online_orphans) x".to_string(),
            _ => format!("SELECT min({key})::int8, max({key})::int8 FROM {}", ident(t.table())),
        };
        let row = db
            .query_one(&range, &[])
            .await
            .map_err(q("reading the key range"))?;
        let (min, max): (Option<i64>, Option<i64>) = (row.get(0), row.get(1));
        state.current = Some(step);
        state.last_key = min.map(|m| m - 1);
        state.max_key = Some(max.unwrap_or(0));
        state.batches = 0;
        state.rows = 0;
        record(&db.client, state).await?;
    }
    let max = state.max_key.unwrap_or(0);
    let sql = match (t, opts.orphans) {
        (BackfillTable::Conversation, Orphans::Detach) => format!("{}\n{ORPHANS}", OnlineStep::table_sql(t)),
        _ => OnlineStep::table_sql(t).to_string(),
    };
    let bound = opts.lock_wait.unwrap_or(super::options::DEFAULT_LOCK_WAIT);
    let mut size: i64 = 1000;
    let mut retry_since: Option<Instant> = None;
    let mut batch_no = 0u64;
    while let Some(last) = state.last_key.filter(|l| *l < max) {
        let (lo, hi) = (last + 1, (last + 1).saturating_add(size).min(max + 1));
        let t0 = Instant::now();
        let tx = db.client.transaction().await.map_err(q("starting a batch"))?;
        tx.batch_execute(&format!(
            "SET LOCAL profochat_saas.backfill = on; SET LOCAL lock_timeout = '200ms'; SET LOCAL profochat_saas.relink = {}",
            if relink { "on" } else { "off" }
        ))
        .await
        .map_err(q("starting a batch"))?;
        tx.execute("UPDATE mig_batch SET lo = $1, hi = $2", &[&lo, &hi]).await.map_err(q("starting a batch"))?;
        match tx.batch_execute(&sql).await {
            Ok(()) => {}
            Err(e) if retryable(&e) && retry_since.get_or_insert_with(Instant::now).elapsed() < bound => {
                drop(tx);
                pause().await;
                size = (size / 2).max(BATCH_MIN);
                continue;
            }
            Err(e) => return Err(stopped(step, format!("the batch of {} {lo}..{hi}: {}", t.batched_by(), pg_error_text(&e)))),
        }
        batch_no += 1;
        crash_point(opts, &format!("inside:{}:{batch_no}", t.table()));
        let mut next = state.clone();
        next.last_key = Some(hi - 1);
        next.batches += 1;
        next.rows += hi - lo;
        record(&tx, &next).await?;
        tx.commit().await.map_err(|e| stopped(step, format!("committing a batch: {}", pg_error_text(&e))))?;
        *state = next;
        retry_since = None;
        reporter.progress(state.batches as u64);
        // The next batch's size from this one's time.
        let ms = t0.elapsed().as_millis().max(1) as i64;
        size = (size * BATCH_TARGET.as_millis() as i64 / ms).clamp(BATCH_MIN, BATCH_MAX).min(size * 4);
    }
    let mut counts = phases::Counts::from([
        ("batches".to_string(), state.batches),
        ("keys".to_string(), state.rows),
    ]);
    if t == BackfillTable::Run {
        let tx = db.client.transaction().await.map_err(q("settling active runs"))?;
        tx.batch_execute(&format!("SET LOCAL profochat_saas.backfill = on;\n{SETTLE_RUNS}"))
            .await
            .map_err(|e| stopped(step, format!("settling active runs: {}", pg_error_text(&e))))?;
        counts.insert("runs_settled".into(), 0);
        tx.commit().await.map_err(q("settling active runs"))?;
    }
    let left: i64 = db
        .query_one(&left_sql(t), &[&max])
        .await
        .map_err(q("checking the backfill"))?
        .get(0);
    if left != 0 {
        return Err(stopped(step, format!("{left} row(s) of {} up to {} {max} are still not linked after the backfill", t.table(), t.key())));
    }
    done(db, state, step).await?;
    Ok(counts)
}

/// What must hold once a table's backfill is done: a count of rows left unlinked.
fn left_sql(t: BackfillTable) -> String {
    match t {
        BackfillTable::Run | BackfillTable::WaitingElement | BackfillTable::Bannedparticipants => format!(
            "SELECT count(*) FROM {} WHERE bot_id IS NULL AND account_id = 1 AND {} <= $1::int8",
            ident(t.table()),
            ident(t.key())
        ),
        _ => "SELECT 0::int8 WHERE $1::int8 IS NOT NULL".to_string(),
    }
}

/// Keys: unique indexes built concurrently, NOT NULL through checks validated without
/// blocking writes, foreign keys added NOT VALID and validated; then phase 4's script,
/// under the short lock, finds them all in place and adds the small tables' keys.
async fn keys(db: &mut Db, state: &mut OnlineProgress, opts: &MigrateOptions, reporter: &dyn Reporter) -> Result<phases::Counts> {
    let step = OnlineStep::Keys;
    let mut counts = phases::Counts::new();
    // Unique indexes on the big tables, concurrently (an invalid leftover is rebuilt).
    let keys = target::keys();
    for k in keys.iter().filter(|k| k.kind == target::KeyKind::UniqueIndex) {
        let (name, def) = (&k.name, k.definition.trim_start_matches("UNIQUE "));
        let state_row = db
            .query_opt("SELECT i.indisvalid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid WHERE c.relname = $1", &[name])
            .await
            .map_err(q("reading indexes"))?;
        match state_row.map(|r| r.get::<_, bool>(0)) {
            Some(true) => continue,
            Some(false) => {
                db.batch_execute(&format!("DROP INDEX CONCURRENTLY IF EXISTS {}", ident(name)))
                    .await
                    .map_err(|e| stopped(step, format!("dropping the invalid index {name}: {}", pg_error_text(&e))))?;
            }
            None => {}
        }
        // On its own: CREATE INDEX CONCURRENTLY cannot run in a transaction block.
        db.batch_execute(&format!("CREATE UNIQUE INDEX CONCURRENTLY {} ON {def}", ident(name)))
            .await
            .map_err(|e| stopped(step, format!("building the unique index {name}: {}", pg_error_text(&e))))?;
        *counts.entry("unique_indexes_built".into()).or_default() += 1;
    }
    // bot_id IS NOT NULL: a check added NOT VALID, validated while the bot writes.
    short_ddl(&mut db.client, KEYS_NOT_NULL, "adding the NOT NULL checks", step, opts, reporter).await?;
    crash_point(opts, "inside:keys:1");
    for t in ["run", "waiting_element", "bannedparticipants"] {
        validate_constraint(db, t, &format!("{t}_bot_id_not_null"), step).await?;
    }
    // Foreign keys of the legacy tables: NOT VALID, then validated.
    short_ddl(&mut db.client, &small_keys(), "adding the keys of the new tables", step, opts, reporter).await?;
    for k in keys.iter().filter(|k| k.kind == target::KeyKind::Constraint && k.definition.starts_with("FOREIGN KEY")) {
        let (table, name, def) = (&k.table, &k.name, &k.definition);
        let exists: bool = db
            .query_one("SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = $1 AND conrelid = to_regclass($2))", &[name, table])
            .await
            .map_err(q("reading constraints"))?
            .get(0);
        if !exists {
            let sql = format!("ALTER TABLE {} ADD CONSTRAINT {} {def} NOT VALID", ident(table), ident(name));
            short_ddl(&mut db.client, &sql, &format!("adding {name}"), step, opts, reporter).await?;
            crash_point(opts, "inside:keys:2");
        }
        if !(name == "conversation_run_id_fkey" && opts.orphans == Orphans::Keep) {
            validate_constraint(db, table, name, step).await?;
        }
        *counts.entry("foreign_keys".into()).or_default() += 1;
    }
    // Everything is in place: phase 4's script only confirms it; the validated
    // checks on bot_id go (it stays nullable, as upstream's).
    let all = format!("{}\n{}\n{KEYS_NOT_NULL_DONE}", target::sql::HELPERS, target::sql::CONSTRAINTS);
    short_ddl(&mut db.client, &all, "confirming the keys", step, opts, reporter).await?;
    let bad: i64 = db
        .query_one(include_str!("../../sql/migrate/checks/4_keys.sql"), &[])
        .await
        .map_err(q("checking the keys"))?
        .get(0);
    if bad != 0 {
        return Err(stopped(step, format!("{bad} key(s) are missing after the keys step")));
    }
    done(db, state, step).await?;
    Ok(counts)
}

/// Phase 4's primary and unique keys, without the foreign keys, the unique indexes of
/// the big tables and their NOT NULL (the keys step adds those without blocking writes):
/// the keys of the new tables and course's, checked or added in milliseconds.
fn small_keys() -> String {
    let small = target::sql::CONSTRAINTS
        .lines()
        .filter(|l| !l.contains("FOREIGN KEY") && !l.contains("ensure_index(") && !l.contains("bot_id SET NOT NULL"))
        .collect::<Vec<_>>()
        .join("\n");
    format!("{}\n{small}", target::sql::HELPERS)
}

/// VALIDATE CONSTRAINT takes a lock that lets the bot read and write while it scans.
async fn validate_constraint(db: &Db, table: &str, name: &str, step: OnlineStep) -> Result<()> {
    let valid: Option<bool> = db
        .query_opt("SELECT convalidated FROM pg_constraint WHERE conname = $1 AND conrelid = to_regclass($2)", &[&name, &table])
        .await
        .map_err(q("reading constraints"))?
        .map(|r| r.get(0));
    if valid == Some(false) {
        db.batch_execute(&format!(
            "SET profochat_saas.allow_ddl = on; ALTER TABLE {} VALIDATE CONSTRAINT {}; RESET profochat_saas.allow_ddl",
            ident(table),
            ident(name)
        ))
        .await
        .map_err(|e| stopped(step, format!("validating {name}: {}", pg_error_text(&e))))?;
    }
    Ok(())
}

/// The switch: the no-loss proof and validation read while the bot writes (a failure
/// stops here, before anything visible changes); then one short transaction records
/// upstream's ledger and the migration as completed.
async fn switch(
    db: &mut Db,
    state: &mut OnlineProgress,
    opts: &MigrateOptions,
    reporter: &dyn Reporter,
    started: Instant,
) -> Result<(Vec<TableProof>, u64, validate::ValidationReport)> {
    let step = OnlineStep::Switch;
    reporter.started("no-loss proof", None);
    let t = Instant::now();
    let row = db
        .query_one("SELECT fingerprint_before, summary ->> 'before_snapshot' FROM profochat_saas.migration WHERE migration_id = $1", &[&state.migration_id])
        .await
        .map_err(q("reading the fingerprint before"))?;
    let before = super::changes::Before {
        fingerprints: row.get::<_, Option<serde_json::Value>>(0).and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default(),
        snapshot: row.get::<_, Option<String>>(1).unwrap_or_default(),
    };
    let online_proof = super::changes::prove_in_snapshot(&mut db.client, state.migration_id, &before).await?;
    let proof: Vec<TableProof> = online_proof
        .iter()
        .map(|p| TableProof {
            table: p.table.clone(),
            before: p.before.clone(),
            after: p.after.clone(),
            rows_now: p.rows_now,
            archived_deleted: p.archived_deleted,
            archived_updated: p.archived_updated,
            archived_inserted: p.archived_inserted,
            written_meanwhile: Some([p.app_inserted, p.app_updated, p.app_deleted]),
            equal: p.equal,
        })
        .collect();
    let bad = super::changes::unequal(&online_proof);
    if !bad.is_empty() {
        return Err(stopped(
            step,
            format!(
                "the no-loss proof failed for {}: their rows differ from before the migration beyond the archived changes and the rows written meanwhile",
                bad.join(", ")
            ),
        ));
    }
    let proof_ms = t.elapsed().as_millis() as u64;
    let archived: i64 = proof.iter().map(|p| p.archived_deleted + p.archived_updated + p.archived_inserted).sum();
    let meanwhile: i64 = online_proof.iter().map(|p| p.app_inserted + p.app_updated + p.app_deleted).sum();
    reporter.finished(
        "no-loss proof",
        t.elapsed(),
        &format!("8 tables equal to before, {archived} archived changes, {meanwhile} rows written meanwhile left out"),
    );
    let now = fingerprint::take(&db.client).await?;

    // Validation reads every row: before the switch, in one snapshot, so that the switch
    // transaction's work does not grow with the data. Rows written since go through the
    // compatibility triggers and the keys (linked as the backfill links them); what only
    // the catalog says is checked again inside the switch (`at_switch`).
    reporter.started("validation", None);
    let t = Instant::now();
    let vopts = validate::ValidateOptions { orphans_kept: opts.orphans == Orphans::Keep, keys_just_validated: false, finished: false, switching: true };
    let snapshot = db
        .client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(q("starting the validation"))?;
    let before_switch = validate::validate(&snapshot, &vopts).await?;
    snapshot.commit().await.map_err(q("ending the validation"))?;
    let mut pending = before_switch.clone();
    pending.checks.retain(|c| !at_switch(&c.id));
    if pending.critical_failures() > 0 {
        return Err(stopped(step, format!("validation found critical problems: {}", pending.critical_list())));
    }
    reporter.finished("validation", t.elapsed(), &format!("{} checks, no critical problem", before_switch.checks.len()));

    reporter.started("online: switch", None);
    let t = Instant::now();
    let tx = db.client.transaction().await.map_err(q("starting the switch"))?;
    tx.batch_execute("SET LOCAL profochat_saas.allow_ddl = on").await.map_err(q("starting the switch"))?;
    tx.batch_execute(target::sql::HELPERS).await.map_err(q("starting the switch"))?;
    tx.execute(include_str!("../../sql/migrate/run/record_status.sql"), &[&state.migration_id, &MigrationStatus::Completed.as_str()])
        .await
        .map_err(q("recording the migration"))?;
    super::upstream::install(&tx, started.elapsed().as_millis() as i32, "the switch").await?;
    let in_switch = validate::validate_only(&tx, &vopts, &at_switch).await?;
    if in_switch.critical_failures() > 0 {
        return Err(stopped(step, format!("validation found critical problems: {}", in_switch.critical_list())));
    }
    let validation = before_switch.with(in_switch);
    tx.batch_execute(DROP).await.map_err(q("dropping the backfill's analysis"))?;

    tx.execute(
        "UPDATE profochat_saas.migration SET finished_at = now(), fingerprint_after = $2, summary = $3 WHERE migration_id = $1",
        &[
            &state.migration_id,
            &serde_json::to_value(&now).unwrap_or_default(),
            &serde_json::json!({ "proof": proof, "online": true, "before_snapshot": before.snapshot }),
        ],
    )
    .await
    .map_err(q("recording the migration"))?;
    // The cleanup is recorded as the step under way: a kill before it is done leaves
    // it for `status` to name and the next `migrate` to finish.
    state.done = Some(step);
    state.current = Some(OnlineStep::Cleanup);
    record(&tx, state).await?;
    tx.commit().await.map_err(|e| stopped(step, pg_error_text(&e)))?;
    reporter.finished("online: switch", t.elapsed(), &format!("{} checks, no critical problem; the migration is completed", validation.checks.len()));
    crash_point(opts, "after:switch");
    reporter.started("online: cleanup", None);
    let t = Instant::now();
    match cleanup(db).await {
        Ok(removed) => {
            reporter.finished("online: cleanup", t.elapsed(), &removed.join(", "));
            crash_point(opts, "after:cleanup");
        }
        Err(e) => reporter.warn(&format!(
            "the migration is completed, but its cleanup stopped ({e}); the legacy bot keeps working. \
             `profochat-saas migrate` finishes it (`profochat-saas status` names it)"
        )),
    }
    reporter.committed("the migration is completed");
    Ok((proof, proof_ms, validation))
}

/// The step after the switch: removes what the online migration needed only while it
/// ran (see [`crate::schema::leftovers`]), each part on its own and safe to repeat: the change-log
/// triggers in short locks, the temporary index concurrently (the bot never waits),
/// then the progress record, last, so that an interruption leaves the step recorded
/// as under way. Returns what it removed.
pub async fn cleanup(db: &Db) -> Result<Vec<String>> {
    let left = crate::schema::leftovers::leftovers(&db.client).await?;
    let fail = |what: &str, e: &tokio_postgres::Error| Error::Stopped {
        step: OnlineStep::Cleanup,
        cause: format!("{what}: {}", pg_error_text(e)),
        hint: "The migration is completed and the legacy bot keeps working. `profochat-saas migrate` finishes the cleanup.".into(),
    };
    super::changes::remove(&db.client).await?;
    db.batch_execute(CHAT_INDEX_DROP).await.map_err(|e| fail(&format!("dropping the temporary index {CHAT_INDEX}"), &e))?;
    db.batch_execute(DROP).await.map_err(|e| fail("dropping the backfill's analysis", &e))?;
    db.batch_execute(&format!(
        "DO $$ BEGIN
             IF to_regclass('profochat_saas.online_progress') IS NOT NULL THEN
                 DELETE FROM profochat_saas.online_progress p
                  WHERE NOT EXISTS (SELECT 1 FROM profochat_saas.migration m WHERE m.migration_id = p.migration_id AND m.status = {});
             END IF;
         END $$",
        literal(MigrationStatus::InProgress.as_str())
    ))
    .await
    .map_err(|e| fail("removing the progress record", &e))?;
    Ok(left)
}
