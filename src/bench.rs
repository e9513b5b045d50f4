//! The migration benchmark: seed N runs into a fresh database, migrate it (no
//! backup), and measure every phase, the total and this process's peak memory.
//! Repeated, and the median reported, because one run on a busy machine says little.
//! With a writer ([`writer`]), the legacy bot's writes run at a fixed rate while
//! `migrate` runs, and their latencies show how long the bot waits. With
//! `--compare-upstream` ([`upstream`]): the online and the offline migration and
//! upstream's own SaaS migration script, in turns, on copies of one database.

pub mod writer;
pub mod faults;
pub mod upstream;
mod reads;
mod scale;

pub use reads::{legacy_reads, LegacyReadsReport, ReadTiming};
pub use scale::{scale, ScalePart, ScaleReport, ScaleStep, SCALE_STEPS};

use std::time::Instant;

use serde::Serialize;

use crate::conn::{self, ConnSettings};
use crate::error::{Error, Result};
use crate::migrate::{self, MigrateOptions, MigrationReport};
use crate::report::{Reporter, Silent};
use crate::seed::{self, SeedOptions};
use crate::server::ScratchDb;

/// One benchmark round.
#[derive(Debug, Clone, Serialize)]
pub struct BenchRound {
    /// Rows of `run` in the database migrated.
    pub runs: u64,
    pub seed_ms: u64,
    pub conversation_rows: u64,
    /// Phase label → milliseconds (preflight, phases, proof, validation, indexes).
    pub phases: Vec<(String, u64)>,
    /// The whole `migrate` call, indexes and no-loss proof included.
    pub migrate_ms: u64,
    /// Rows in the eight legacy tables.
    pub legacy_rows: u64,
    /// Legacy rows migrated per second of `migrate`.
    pub rows_per_second: f64,
    /// Per backfill step (online: "backfill run", …; offline: phase 3, all tables): the
    /// rows of its table(s) per second of the step.
    pub backfill_rows_per_second: Vec<(String, f64)>,
    /// With `--writer`: the legacy bot's writes during the migration.
    pub writer: Option<writer::WriterReport>,
}

/// The writer to run during each migration.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct WriterOptions {
    /// Statements due per second.
    pub rate: u32,
    pub connections: usize,
}

/// All rounds and their summary.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Runs of the database migrated (of the first round, for a template).
    pub runs: u64,
    /// The database copied for each round instead of seeding one.
    pub template: Option<String>,
    pub seed: u64,
    pub single_transaction: bool,
    /// Connections that built the secondary indexes.
    pub index_jobs: usize,
    pub writer: Option<WriterOptions>,
    pub server_version: String,
    pub rounds: Vec<BenchRound>,
    pub median_migrate_ms: u64,
    /// Peak resident memory of this process over the whole benchmark.
    pub peak_rss_kib: Option<u64>,
}

/// The peak resident set size of this process (Linux), in KiB.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// A reporter that records how long each step took (the outermost ones: a step's own
/// parts, such as the index builds of an online step, are inside its time).
/// It also keeps when every step (nested ones too) ran, to tell during which steps the
/// slowest writes were due.
#[derive(Default)]
struct Timings(std::sync::Mutex<Vec<(String, u64)>>, std::sync::atomic::AtomicUsize, std::sync::Mutex<Vec<StepWindow>>);

/// When one step ran.
struct StepWindow {
    step: String,
    from: Instant,
    to: Instant,
}

/// The steps under way at `at`, outermost first.
fn steps_at(windows: &[StepWindow], at: Instant) -> Vec<String> {
    let mut under_way: Vec<&StepWindow> = windows.iter().filter(|w| w.from <= at && at <= w.to).collect();
    under_way.sort_by_key(|w| w.from);
    under_way.into_iter().map(|w| w.step.clone()).collect()
}

impl Reporter for Timings {
    fn event(&self, event: crate::report::Event<'_>) {
        use std::sync::atomic::Ordering;
        match event {
            crate::report::Event::Started { .. } => {
                self.1.fetch_add(1, Ordering::SeqCst);
            }
            crate::report::Event::Finished { step, elapsed, .. } => {
                let to = Instant::now();
                let from = to.checked_sub(elapsed).unwrap_or(to);
                self.2.lock().unwrap_or_else(|p| p.into_inner()).push(StepWindow { step: step.to_string(), from, to });
                let open = self.1.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |d| Some(d.saturating_sub(1))).unwrap_or(0);
                if open > 1 {
                    return;
                }
                let step = step.strip_prefix("online: ").unwrap_or(step);
                let step = step.split(':').next().unwrap_or(step).to_string();
                self.0.lock().unwrap_or_else(|p| p.into_inner()).push((step, elapsed.as_millis() as u64));
            }
            _ => {}
        }
    }
}

/// How the benchmark migrates: online (the default) or `--offline`, and the
/// connections that build the indexes.
#[derive(Debug, Clone)]
pub struct Setup {
    pub single_transaction: bool,
    pub index_jobs: usize,
    /// Copy this legacy database for each round instead of seeding one (a copy of a
    /// production database, or one seeded once for many rounds). It must have no other
    /// connections while it is copied.
    pub template: Option<String>,
    /// With a template: the bot that rows without a bot name belong to.
    pub default_bot: Option<String>,
    /// The dataset seeded for each round (without a template).
    pub profile: seed::Profile,
}

impl Setup {
    pub fn online() -> Setup {
        Setup { single_transaction: false, index_jobs: 2, template: None, default_bot: None, profile: seed::Profile::Standard }
    }
}

/// Runs the benchmark `repeat` times on databases created on `server`.
pub async fn run(
    server: &ConnSettings,
    runs: u64,
    seed_value: u64,
    repeat: u32,
    setup: Setup,
    writer: Option<WriterOptions>,
    reporter: &dyn Reporter,
) -> Result<BenchReport> {
    let admin = conn::connect(server).await?;
    let server_version: String = admin
        .query_one("SELECT current_setting('server_version')", &[])
        .await
        .map_err(|e| Error::query("reading the server version", &e, "Nothing was changed."))?
        .get(0);
    let mut rounds = vec![];
    for round in 1..=repeat.max(1) {
        let name = format!("profochat_bench_{}_{:08x}_{round}", std::process::id(), rand::random::<u32>());
        let scratch = match &setup.template {
            Some(template) => ScratchDb::create_from(server, &name, template).await?,
            None => ScratchDb::create(server, &name).await?,
        };
        let result = one_round(&scratch.settings, runs, seed_value, &setup, writer, round, reporter).await;
        scratch.drop_now().await?;
        rounds.push(result?);
    }
    let mut totals: Vec<u64> = rounds.iter().map(|r| r.migrate_ms).collect();
    totals.sort_unstable();
    Ok(BenchReport {
        runs: rounds.first().map(|r| r.runs).unwrap_or(runs),
        template: setup.template.clone(),
        seed: seed_value,
        single_transaction: setup.single_transaction,
        index_jobs: setup.index_jobs,
        writer,
        server_version,
        median_migrate_ms: totals[totals.len() / 2],
        rounds,
        peak_rss_kib: peak_rss_kib(),
    })
}

async fn one_round(
    settings: &ConnSettings,
    runs: u64,
    seed_value: u64,
    setup: &Setup,
    writer_opts: Option<WriterOptions>,
    round: u32,
    reporter: &dyn Reporter,
) -> Result<BenchRound> {
    let mut db = conn::connect(settings).await?;
    let t = Instant::now();
    let (default_bot, rows) = match &setup.template {
        Some(template) => {
            reporter.started(&format!("round {round}: copying {template}"), None);
            (setup.default_bot.clone(), legacy_rows(&db).await?)
        }
        None => {
            reporter.started(&format!("round {round}: seeding {runs} runs"), None);
            let manifest = seed::generate_profile(&mut db, &SeedOptions { runs, seed: seed_value }, setup.profile, &Silent).await?;
            // A production database has statistics; a freshly loaded one gets them now.
            db.batch_execute("VACUUM ANALYZE")
                .await
                .map_err(|e| Error::query("analysing the seeded database", &e, "Nothing was changed."))?;
            (Some(manifest.default_bot.clone()), manifest.rows.clone())
        }
    };
    // The load's write-ahead log is written out now, as on a database at rest: a checkpoint
    // of it during the migration would be the seeding's cost, not the migration's. (Needs
    // a superuser or pg_checkpoint; without, the figures include it.)
    let _ = db.batch_execute("CHECKPOINT").await;
    let seed_ms = t.elapsed().as_millis() as u64;
    let verb = if setup.template.is_some() { "copied" } else { "seeded" };
    reporter.finished(&format!("round {round}: {verb}"), t.elapsed(), "");
    let opts = MigrateOptions {
        default_bot,
        single_transaction: setup.single_transaction,
        index_jobs: setup.index_jobs,
        ..MigrateOptions::default()
    };
    let timings = Timings::default();
    let running = match writer_opts {
        Some(w) => {
            let started = writer::start(settings, w.rate, w.connections).await?;
            // A second of the bot's writes before the migration: the baseline.
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            Some(started)
        }
        None => None,
    };
    reporter.started(&format!("round {round}: migrating"), None);
    let t = Instant::now();
    let result = migrate::migrate(&mut db, &opts, &timings).await.and_then(MigrationReport::into_result);
    let migrate_ms = t.elapsed().as_millis() as u64;
    let mut writer = match running {
        Some(w) => Some(w.stop().await),
        None => None,
    };
    if let Some(w) = &mut writer {
        let windows = timings.2.lock().unwrap_or_else(|p| p.into_inner());
        for slow in &mut w.slowest {
            slow.during = steps_at(&windows, slow.due);
        }
    }
    if let Err(e) = result {
        // What the bot went through until the migration stopped is worth seeing too.
        if let Some(w) = &writer {
            reporter.warn(&format!(
                "round {round}: the migration stopped after {} ms; meanwhile the writer ran {} statements, {} failed, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                migrate_ms, w.all.run, w.all.failed, w.all.p50_ms, w.all.p99_ms, w.all.max_ms
            ));
        }
        for (name, ms) in timings.0.into_inner().unwrap_or_else(|p| p.into_inner()) {
            reporter.warn(&format!("round {round}: {name}: {ms} ms"));
        }
        return Err(e);
    }
    reporter.finished(&format!("round {round}: migrated"), t.elapsed(), "");
    let phases = timings.0.into_inner().unwrap_or_else(|p| p.into_inner());
    let legacy_rows: u64 = rows.values().sum();
    let backfill_rows_per_second = phases
        .iter()
        .filter_map(|(step, ms)| {
            let n = match step.strip_prefix("backfill ") {
                Some(table) => *rows.get(table)?,
                None if step.starts_with("phase 3") => legacy_rows,
                None => return None,
            };
            Some((step.clone(), n as f64 / (*ms).max(1) as f64 * 1000.0))
        })
        .collect();
    Ok(BenchRound {
        runs: rows.get("run").copied().unwrap_or(0),
        seed_ms,
        conversation_rows: rows.get("conversation").copied().unwrap_or(0),
        phases,
        migrate_ms,
        legacy_rows,
        rows_per_second: legacy_rows as f64 / (migrate_ms.max(1) as f64 / 1000.0),
        backfill_rows_per_second,
        writer,
    })
}

/// Rows of each legacy table of a copied database (estimates would do for the rate; an
/// exact count costs one scan, before the timed part).
async fn legacy_rows(db: &tokio_postgres::Client) -> Result<std::collections::BTreeMap<String, u64>> {
    let mut rows = std::collections::BTreeMap::new();
    for t in crate::sql::LEGACY_TABLES {
        let n: i64 = db
            .query_one(&format!("SELECT count(*) FROM {}", crate::sql::ident(t)), &[])
            .await
            .map_err(|e| Error::query(format!("counting the rows of {t} in the copy"), &e, "Nothing was changed."))?
            .get(0);
        rows.insert(t.to_string(), n as u64);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_slow_write_is_set_against_every_step_under_way_outermost_first() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let w = |step: &str, from: u64, to: u64| StepWindow { step: step.into(), from: at(from), to: at(to) };
        let windows = [w("online: indexes", 100, 500), w("online: index conversation", 150, 300), w("online: keys", 500, 700)];
        assert_eq!(steps_at(&windows, at(200)), ["online: indexes", "online: index conversation"]);
        assert_eq!(steps_at(&windows, at(600)), ["online: keys"]);
        assert!(steps_at(&windows, at(50)).is_empty());
    }
}
