//! `finish` (SPEC §4): once the application uses the new schema and the legacy bot is
//! stopped, the legacy interface and the compatibility layer go, leaving exactly the
//! target schema (plus the tool's own state schema). Before it, `rollback` is possible;
//! after it, only restoring a backup goes back.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::conn::Db;
use crate::error::{Error, Result};
use crate::report::Reporter;
use crate::schema::{self, SchemaState};
use crate::state::MigrationStatus;
use crate::validate::{self, ValidateOptions};

const FINISH: &str = include_str!("../sql/finish/finish.sql");
const RECORD_STATUS: &str = include_str!("../sql/migrate/run/record_status.sql");
const LEGACY_SESSIONS: &str = include_str!("../sql/finish/legacy_sessions.sql");
const LEGACY_WRITES: &str = include_str!("../sql/finish/legacy_writes.sql");

/// How long no legacy-shaped write must have arrived before `finish`, by default.
pub const DEFAULT_QUIET_FOR: Duration = Duration::from_secs(600);

/// How `finish` runs.
#[derive(Debug, Clone)]
pub struct FinishOptions {
    /// Check and report; change nothing (the legacy bot's traces are reported, not refused).
    pub dry_run: bool,
    /// A legacy-shaped write more recent than this refuses `finish`.
    pub quiet_for: Duration,
    /// Finish although the legacy bot seems to be running.
    pub force: bool,
}

impl Default for FinishOptions {
    fn default() -> Self {
        FinishOptions { dry_run: false, quiet_for: DEFAULT_QUIET_FOR, force: false }
    }
}

/// A session that may be the legacy bot.
#[derive(Debug, Clone, Serialize)]
pub struct LegacySession {
    pub pid: i32,
    pub user: String,
    pub application_name: String,
    pub client: String,
    /// Why it counts.
    pub why: String,
}

/// The last legacy-shaped write the compatibility triggers noted.
#[derive(Debug, Clone, Serialize)]
pub struct LegacyWrite {
    pub pid: i32,
    pub user: String,
    pub application_name: String,
    pub seconds_ago: f64,
}

/// Signs that the legacy bot still runs: sessions connected, and the last
/// legacy-shaped write.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LegacyActivity {
    pub sessions: Vec<LegacySession>,
    pub last_write: Option<LegacyWrite>,
}

impl LegacyActivity {
    /// What stops `finish`, one sentence each: every session, and the last write when
    /// it is more recent than `quiet_for`.
    pub fn blockers(&self, quiet_for: Duration) -> Vec<String> {
        let mut out: Vec<String> = self
            .sessions
            .iter()
            .map(|s| {
                let app = if s.application_name.is_empty() { String::new() } else { format!(", application {:?}", s.application_name) };
                format!("session {} (user {}{app}, from {}) {}", s.pid, s.user, s.client, s.why)
            })
            .collect();
        if let Some(w) = self.last_write.as_ref().filter(|w| w.seconds_ago < quiet_for.as_secs_f64()) {
            let app = if w.application_name.is_empty() { String::new() } else { format!(", application {:?}", w.application_name) };
            out.push(format!(
                "a legacy-shaped write arrived {} ago (session {}, user {}{app}), within the quiet period of {}",
                human_secs(w.seconds_ago),
                w.pid,
                w.user,
                human_secs(quiet_for.as_secs_f64())
            ));
        }
        out
    }
}

/// The refusal of `finish` while the legacy bot seems to run, naming each sign.
pub fn refusal(signs: &[String]) -> Error {
    Error::refused(
        format!("the legacy bot seems to be running: {}", signs.join("; ")),
        "After finish it could not work. Stop the legacy bot (or switch it to the new schema) and run `profochat-saas finish` again once it has been quiet; \
         --quiet-for sets how long no legacy-shaped write may have arrived, and --force finishes anyway (for a session named here that is not the legacy bot).",
    )
}

fn human_secs(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        _ => format!("{} h", s / 3600),
    }
}

/// Reads the signs that the legacy bot still runs (see sql/finish/legacy_sessions.sql
/// for what is detected, and what cannot be).
pub async fn legacy_activity<C: tokio_postgres::GenericClient + Sync>(client: &C) -> Result<LegacyActivity> {
    let q = |e: tokio_postgres::Error| Error::query("looking for the legacy bot's sessions", &e, "Nothing was changed.");
    let exists = |t: &'static str| async move {
        client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&t])
            .await
            .map(|r| r.get::<_, bool>(0))
            .map_err(q)
    };
    let roles: Vec<String> = if exists("profochat_saas.legacy_role").await? {
        client.query("SELECT role_name FROM profochat_saas.legacy_role", &[]).await.map_err(q)?.iter().map(|r| r.get(0)).collect()
    } else {
        vec![]
    };
    let writes = if exists("profochat_saas.legacy_write").await? { client.query(LEGACY_WRITES, &[]).await.map_err(q)? } else { vec![] };
    let pids: Vec<i32> = writes.iter().map(|r| r.get(0)).collect();
    let users: Vec<String> = writes.iter().map(|r| r.get(1)).collect();
    let epochs: Vec<f64> = writes.iter().map(|r| r.get(3)).collect();
    let sessions = client
        .query(LEGACY_SESSIONS, &[&roles, &pids, &users, &epochs])
        .await
        .map_err(q)?
        .iter()
        .map(|r| LegacySession { pid: r.get(0), user: r.get(1), application_name: r.get(2), client: r.get(3), why: r.get(4) })
        .collect();
    let last_write = writes.first().map(|r| LegacyWrite { pid: r.get(0), user: r.get(1), application_name: r.get(2), seconds_ago: r.get(4) });
    Ok(LegacyActivity { sessions, last_write })
}
const UPSTREAM_COLUMNS: &str = include_str!("../sql/finish/upstream_columns.sql");

/// What `finish` removes, for the question it asks and for `--dry-run`.
pub const REMOVES: [&str; 6] = [
    "the legacy interface: schema profochat_legacy (the views the legacy bot reads and writes through)",
    "the compatibility triggers on the 8 legacy tables and their functions in profochat_saas",
    "the event triggers that refuse schema changes before finish",
    "the legacy interface's own tables in profochat_saas (renamed-course map, merged copies, detached run_ids), saved into profochat_saas.archive first",
    "the search_path setting of the roles set to the legacy interface (legacy-role / migrate --legacy-role)",
    "course elements and participants without a course (course_id NULL, which no read finds and upstream's 0004 cannot carry), saved into profochat_saas.archive first",
];

/// How a `finish` call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Finished,
    /// `--dry-run`: checked, nothing changed.
    DryRun,
    /// Finished before: nothing changed.
    AlreadyFinished,
}

/// What `finish` did.
#[derive(Debug, Clone, Serialize)]
pub struct FinishReport {
    pub target: String,
    pub outcome: Outcome,
    pub migration_id: Option<i32>,
    pub removes: Vec<&'static str>,
    /// Roles whose search_path was set back.
    pub roles_reset: Vec<String>,
    /// Rows of the legacy interface's tables saved into the archive.
    pub archived_rows: u64,
    /// What says the legacy bot still runs (a real `finish` refuses on any, unless forced).
    pub legacy_bot_signs: Vec<String>,
    pub elapsed_ms: u64,
}

fn q(context: &'static str) -> impl Fn(tokio_postgres::Error) -> Error {
    move |e| Error::query(context, &e, "The finish transaction was rolled back: nothing was changed.")
}

/// Checks that the database may be finished (migrated, complete, validated), and with
/// `dry_run` false removes the legacy interface and the compatibility layer.
pub async fn finish(db: &mut Db, opts: &FinishOptions, reporter: &dyn Reporter) -> Result<FinishReport> {
    let dry_run = opts.dry_run;
    let started = Instant::now();
    let target = db.settings.display_target();
    let status = schema::inspect(db).await?;
    let migration_id = status.last_migration.as_ref().map(|m| m.migration_id);
    let mut report = FinishReport {
        target: target.clone(),
        outcome: Outcome::AlreadyFinished,
        migration_id,
        removes: REMOVES.to_vec(),
        roles_reset: vec![],
        archived_rows: 0,
        legacy_bot_signs: vec![],
        elapsed_ms: 0,
    };
    if status.finished() {
        report.removes.clear();
        return Ok(report);
    }
    match status.state {
        SchemaState::Migrated => {}
        SchemaState::IndexesPending => {
            return Err(Error::state(
                format!("{target} is migrated, but its secondary indexes are not all built"),
                "Run `profochat-saas migrate` to finish them, then `profochat-saas finish`.",
            ))
        }
        SchemaState::Legacy => {
            return Err(Error::state(
                format!("{target} is in the legacy schema: there is nothing to finish"),
                "`finish` comes after `profochat-saas migrate`, once the application uses the new schema.",
            ))
        }
        other => {
            return Err(Error::state(
                format!("{target} is {}: only a completed migration can be finished", other.describe()),
                "Run `profochat-saas status` and `profochat-saas migrate` first.",
            ))
        }
    }
    // The legacy bot must have stopped: after this it cannot work.
    report.legacy_bot_signs = legacy_activity(&db.client).await?.blockers(opts.quiet_for);
    if !report.legacy_bot_signs.is_empty() && !dry_run && !opts.force {
        return Err(refusal(&report.legacy_bot_signs));
    }
    reporter.started("finish: validate", None);
    let t = Instant::now();
    let v = validate::validate(&db.client, &ValidateOptions::from_state(&db.client).await?).await?;
    if let Some(e) = v.failure_error() {
        return Err(e);
    }
    reporter.finished("finish: validate", t.elapsed(), &v.summary());
    let Some(migration_id) = migration_id else {
        return Err(Error::state(format!("{target} records no migration"), "Run `profochat-saas migrate` first."));
    };

    let tx = db.client.transaction().await.map_err(q("starting finish"))?;
    reporter.started("finish: remove the legacy interface and the compatibility layer", None);
    let t = Instant::now();
    tx.batch_execute(&crate::conn::short_lock::one_wait_prologue())
        .await
        .map_err(q("preparing finish"))?;
    tx.batch_execute("CREATE TEMP TABLE finish_params (migration_id int4) ON COMMIT DROP")
        .await
        .map_err(q("preparing finish"))?;
    tx.execute("INSERT INTO finish_params VALUES ($1)", &[&migration_id]).await.map_err(q("preparing finish"))?;
    report.roles_reset = crate::legacy::reset_roles(&tx).await?;
    let before: i64 = tx
        .query_one("SELECT count(*) FROM profochat_saas.archive", &[])
        .await
        .map_err(q("counting the archive"))?
        .get(0);
    tx.batch_execute(&[crate::target::sql::DROP_COMPAT, FINISH, UPSTREAM_COLUMNS].join("\n")).await.map_err(|e| {
        Error::query(
            "removing the legacy interface",
            &e,
            "The finish transaction was rolled back: nothing was changed. If a lock timed out, the legacy bot or a long query still uses the tables: stop it and run `profochat-saas finish` again.",
        )
    })?;
    tx.execute(RECORD_STATUS, &[&migration_id, &MigrationStatus::Finished.as_str()])
        .await
        .map_err(q("recording the migration as finished"))?;
    let after: i64 = tx
        .query_one("SELECT count(*) FROM profochat_saas.archive", &[])
        .await
        .map_err(q("counting the archive"))?
        .get(0);
    report.archived_rows = (after - before).max(0) as u64;
    if dry_run {
        tx.rollback().await.map_err(q("rolling back the dry run"))?;
        report.outcome = Outcome::DryRun;
    } else {
        tx.commit().await.map_err(q("committing finish"))?;
        report.outcome = Outcome::Finished;
    }
    reporter.finished("finish: remove the legacy interface and the compatibility layer", t.elapsed(), "");
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}
