//! `bench --faults`: the fault matrix on a seeded database of any size. For each point
//! of [`POINTS`] and each way out (`migrate` resumes, `migrate --abort` undoes), a fresh
//! database is seeded, the legacy bot's writes run (the writer of `bench --writer`), the
//! online migration is killed there (a `migrate --crash-at` child that ends as kill -9
//! ends it), and the way out runs with the writer still writing. Each trial reports its
//! outcome, the rows lost (the rows of before plus the writer's inserts, less what is
//! there now and what the migration archived as deleted), and the longest write wait.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::writer::{self, Statement};
use crate::conn::{self, ConnSettings, Db};
use crate::error::{Error, Result};
use crate::migrate::{self, MigrateOptions};
use crate::report::{Reporter, Silent};
use crate::rollback::{self, RollbackOptions};
use crate::schema::{self, SchemaState};
use crate::seed::{self, SeedOptions};
use crate::server::ScratchDb;

/// Where the migration is killed: inside each online step and at its end.
pub const POINTS: &[&str] = &[
    "after:expand",
    "after:chat index",
    "after:prepare",
    "inside:run:2",
    "after:backfill run",
    "after:lookup indexes",
    "inside:waiting_element:1",
    "inside:conversation:2",
    "after:backfill conversation",
    "inside:bannedparticipants:1",
    "inside:courseparticipants:1",
    "inside:gen_settings:1",
    "after:backfill gen_settings",
    "after:indexes",
    "inside:keys:1",
    "inside:keys:2",
    "after:keys",
    "after:switch",
];

/// One trial.
#[derive(Debug, Clone, Serialize)]
pub struct FaultTrial {
    pub point: String,
    /// "migrate" or "migrate --abort".
    pub recovery: String,
    /// "exact", or what was wrong.
    pub outcome: String,
    pub rows_lost: i64,
    pub writer_statements: u64,
    pub writer_failed: u64,
    /// The longest write wait from the start of the migration until it was killed.
    pub max_write_wait_ms: f64,
    /// The longest write wait while the way out (resume, abort or rollback) ran.
    pub max_write_wait_way_out_ms: f64,
    pub recovery_ms: u64,
    /// The slowest writes while the way out ran, with the steps of the way out under way.
    pub slowest_way_out: Vec<writer::SlowWrite>,
}

/// The trial that completes the migration, then undoes it with `rollback`.
pub const COMPLETED: &str = "completed";

/// Which trials [`run`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trials {
    /// Each point resumed by `migrate` and undone by `migrate --abort`.
    Matrix,
    /// The way back only: `migrate --abort` from each point, and `rollback` after a
    /// completed migration.
    Undo,
}

fn q(what: &'static str) -> impl Fn(tokio_postgres::Error) -> Error {
    move |e| Error::query(what, &e, "The benchmark database is dropped at the end.")
}

const WRITTEN: [(&str, Statement); 3] = [("run", Statement::StartCourse), ("conversation", Statement::Message), ("waiting_element", Statement::Delay)];

async fn counts(db: &Db) -> Result<Vec<i64>> {
    let mut v = vec![];
    for (t, _) in WRITTEN {
        v.push(db.query_one(&format!("SELECT count(*) FROM {}", crate::sql::ident(t)), &[]).await.map_err(q("counting rows"))?.get(0));
    }
    Ok(v)
}

/// Runs the trials at `points` (see [`POINTS`]); `exe` is the profochat-saas binary the
/// killed migrations run as.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    server: &ConnSettings,
    points: &[&str],
    runs: u64,
    seed_value: u64,
    rate: u32,
    connections: usize,
    exe: &Path,
    which: Trials,
    reporter: &dyn Reporter,
) -> Result<Vec<FaultTrial>> {
    let mut trials = vec![];
    // One seeded legacy database, copied for each trial: every trial starts from the same rows.
    let base = format!("profochat_faults_{}_{:08x}", std::process::id(), rand::random::<u32>());
    let template = ScratchDb::create(server, &base).await?;
    let label = format!("seeding {runs} runs");
    reporter.started(&label, None);
    let t = Instant::now();
    let seeded = seed_template(&template.settings, runs, seed_value).await;
    let default_bot = match seeded {
        Ok(bot) => bot,
        Err(e) => {
            template.drop_now().await?;
            return Err(e);
        }
    };
    reporter.finished(&label, t.elapsed(), "");
    let mut plan: Vec<(&str, bool)> = vec![];
    for point in points {
        for abort in [false, true] {
            let wanted = match which {
                Trials::Matrix => !(abort && *point == "after:switch"),
                Trials::Undo => abort && *point != "after:switch",
            };
            if wanted {
                plan.push((*point, abort));
            }
        }
    }
    if which == Trials::Undo {
        plan.push((COMPLETED, false));
    }
    {
        for (point, abort) in plan {
            let scratch = ScratchDb::create_from(server, &format!("{base}_trial"), &base).await?;
            let label = format!("{point}, then {}", way_out(point, abort));
            reporter.started(&label, None);
            let t = Instant::now();
            let r = trial(&scratch.settings, &default_bot, rate, connections, exe, point, abort).await;
            scratch.drop_now().await?;
            let r = r?;
            reporter.finished(&label, t.elapsed(), &r.outcome);
            trials.push(r);
        }
    }
    template.drop_now().await?;
    Ok(trials)
}

fn way_out(point: &str, abort: bool) -> &'static str {
    if point == COMPLETED {
        "rollback"
    } else if abort {
        "migrate --abort"
    } else {
        "migrate"
    }
}

/// Seeds the legacy database the trials copy; returns the bot that rows without a bot name belong to.
async fn seed_template(settings: &ConnSettings, runs: u64, seed_value: u64) -> Result<String> {
    let mut db = conn::connect(settings).await?;
    let manifest = seed::generate(&mut db, &SeedOptions { runs, seed: seed_value }, &Silent).await?;
    db.batch_execute("VACUUM ANALYZE").await.map_err(q("analysing the seeded database"))?;
    let _ = db.batch_execute("CHECKPOINT").await;
    Ok(manifest.default_bot)
}

#[allow(clippy::too_many_arguments)]
async fn trial(settings: &ConnSettings, default_bot: &str, rate: u32, connections: usize, exe: &Path, point: &str, abort: bool) -> Result<FaultTrial> {
    let mut db = conn::connect(settings).await?;
    let before = counts(&db).await?;
    let w = writer::start(settings, rate, connections).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let completing = point == COMPLETED;
    let (exe, url, bot, at) = (exe.to_path_buf(), settings.secret_url(), default_bot.to_string(), point.to_string());
    // Killed: ended by a signal (the crash point); completed: exit 0.
    let as_planned = tokio::task::spawn_blocking(move || {
        let mut args = vec!["migrate", "--yes", "--skip-backup", "--default-bot", &bot, "--database-url", &url];
        if !completing {
            args.extend(["--crash-at", &at]);
        }
        std::process::Command::new(exe)
            .args(&args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .map(|s| if completing { s.success() } else { s.code().is_none() })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false);
    // The killed session ends once the server notices: its migration lock goes with it.
    let deadline = Instant::now() + Duration::from_secs(30);
    while db
        .query_one(
            "SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = ($1::int8 & x'ffffffff'::int8)::oid
                AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            &[&crate::state::ADVISORY_KEY],
        )
        .await
        .map_err(q("waiting for the killed session"))?
        .get::<_, bool>(0)
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The writer goes on across the way out; its figures are kept apart from the way forward's.
    let forward = w.stop().await;
    let w = writer::start(settings, rate, connections).await?;
    let t = Instant::now();
    let timings = super::Timings::default();
    let recovered: std::result::Result<(), String> = if abort || completing {
        let opts = RollbackOptions { dry_run: false, save_dir: std::env::temp_dir(), abort, ..Default::default() };
        rollback::rollback(&mut db, &opts, &timings).await.map(|_| ()).map_err(|e| e.to_string())
    } else {
        let opts = MigrateOptions { default_bot: Some(default_bot.to_string()), ..MigrateOptions::default() };
        migrate::migrate(&mut db, &opts, &timings).await.and_then(migrate::MigrationReport::into_result).map(|_| ()).map_err(|e| e.to_string())
    };
    let recovery_ms = t.elapsed().as_millis() as u64;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut way_out_report = w.stop().await;
    {
        let windows = timings.2.lock().unwrap_or_else(|p| p.into_inner());
        for slow in &mut way_out_report.slowest {
            slow.during = super::steps_at(&windows, slow.due);
        }
    }
    let now = counts(&db).await?;
    let state = schema::inspect(&db).await?.state;
    let mut lost = 0i64;
    for (i, (table, statement)) in WRITTEN.iter().enumerate() {
        let inserted: i64 = [&forward, &way_out_report]
            .iter()
            .map(|r| r.per_statement.iter().find(|s| s.statement == statement.describe()).map(|s| (s.run - s.failed) as i64).unwrap_or(0))
            .sum();
        let archived: i64 = if state == SchemaState::Migrated {
            db.query_one("SELECT count(*) FROM profochat_saas.archive WHERE table_name = $1 AND action = 'deleted'", &[table])
                .await
                .map_err(q("counting archived rows"))?
                .get(0)
        } else {
            0
        };
        lost += (before[i] + inserted - archived - now[i]).max(0);
    }
    let mut problems = vec![];
    if !as_planned {
        problems.push(if completing { "the migration did not complete" } else { "the migration was not killed there" }.to_string());
    }
    if let Err(e) = &recovered {
        problems.push(format!("the way out failed: {e}"));
    }
    let back = abort || completing;
    let want = if back { SchemaState::Legacy } else { SchemaState::Migrated };
    if state != want {
        problems.push(format!("the database is {}", state.describe()));
    } else if !back {
        let v = crate::validate::validate(&db.client, &Default::default()).await?;
        if v.critical_failures() > 0 {
            problems.push(format!("validate: {}", v.critical_list()));
        }
    }
    if lost > 0 {
        problems.push(format!("{lost} rows lost"));
    }
    let failed = forward.all.failed + way_out_report.all.failed;
    if failed > 0 {
        problems.push(format!("{failed} writer statements failed"));
    }
    Ok(FaultTrial {
        point: point.to_string(),
        recovery: way_out(point, abort).to_string(),
        outcome: if problems.is_empty() { "exact".to_string() } else { problems.join("; ") },
        rows_lost: lost,
        writer_statements: forward.all.run + way_out_report.all.run,
        writer_failed: failed,
        max_write_wait_ms: forward.all.max_ms,
        max_write_wait_way_out_ms: way_out_report.all.max_ms,
        recovery_ms,
        slowest_way_out: way_out_report.slowest,
    })
}
