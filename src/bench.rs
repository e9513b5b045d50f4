//! The migration benchmark: seed N runs into a fresh database, migrate it (no
//! backup), and measure every phase, the total and this process's peak memory.
//! Repeated, and the median reported, because one run on a busy machine says little.

use std::time::Instant;

use serde::Serialize;

use crate::conn::{self, ConnSettings};
use crate::error::{Error, Result};
use crate::migrate::{self, MigrateOptions};
use crate::report::{Reporter, Silent};
use crate::seed::{self, SeedOptions};
use crate::server::ScratchDb;

/// One benchmark round.
#[derive(Debug, Clone, Serialize)]
pub struct BenchRound {
    pub seed_ms: u64,
    pub conversation_rows: u64,
    /// Phase label → milliseconds (preflight, phases, proof, validation, indexes).
    pub phases: Vec<(String, u64)>,
    /// The whole `migrate` call, indexes and no-loss proof included.
    pub migrate_ms: u64,
}

/// All rounds and their summary.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub runs: u64,
    pub seed: u64,
    pub single_transaction: bool,
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

/// A reporter that records how long each step took.
#[derive(Default)]
struct Timings(std::sync::Mutex<Vec<(String, u64)>>);

impl Reporter for Timings {
    fn event(&self, event: crate::report::Event<'_>) {
        if let crate::report::Event::Finished { step, elapsed, .. } = event {
            let step = step.split(':').next().unwrap_or(step).to_string();
            self.0.lock().unwrap_or_else(|p| p.into_inner()).push((step, elapsed.as_millis() as u64));
        }
    }
}

/// Runs the benchmark `repeat` times on databases created on `server`.
pub async fn run(
    server: &ConnSettings,
    runs: u64,
    seed_value: u64,
    repeat: u32,
    single_transaction: bool,
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
        let name = format!("profochat_bench_{}_{round}", std::process::id());
        let scratch = ScratchDb::create(server, &name).await?;
        let result = one_round(&scratch.settings, runs, seed_value, single_transaction, round, reporter).await;
        scratch.drop_now().await?;
        rounds.push(result?);
    }
    let mut totals: Vec<u64> = rounds.iter().map(|r| r.migrate_ms).collect();
    totals.sort_unstable();
    Ok(BenchReport {
        runs,
        seed: seed_value,
        single_transaction,
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
    single_transaction: bool,
    round: u32,
    reporter: &dyn Reporter,
) -> Result<BenchRound> {
    let mut db = conn::connect(settings).await?;
    reporter.started(&format!("round {round}: seeding {runs} runs"), None);
    let t = Instant::now();
    let manifest = seed::generate(&mut db, &SeedOptions { runs, seed: seed_value }, &Silent).await?;
    // A production database has statistics; a freshly loaded one gets them now.
    db.batch_execute("VACUUM ANALYZE")
        .await
        .map_err(|e| Error::query("analysing the seeded database", &e, "Nothing was changed."))?;
    let seed_ms = t.elapsed().as_millis() as u64;
    reporter.finished(&format!("round {round}: seeded"), t.elapsed(), "");
    let opts = MigrateOptions {
        default_bot: Some(manifest.default_bot.clone()),
        single_transaction,
        index_jobs: 2,
        ..MigrateOptions::default()
    };
    let timings = Timings::default();
    reporter.started(&format!("round {round}: migrating"), None);
    let t = Instant::now();
    let report = migrate::migrate(&mut db, &opts, &timings).await?;
    let migrate_ms = t.elapsed().as_millis() as u64;
    reporter.finished(&format!("round {round}: migrated"), t.elapsed(), "");
    if !report.indexes.failed.is_empty() {
        return Err(Error::state(
            format!("{} indexes failed to build during the benchmark", report.indexes.failed.len()),
            "Run the benchmark again on an idle server.",
        ));
    }
    let phases = timings.0.into_inner().unwrap_or_else(|p| p.into_inner());
    Ok(BenchRound {
        seed_ms,
        conversation_rows: manifest.rows.get("conversation").copied().unwrap_or(0),
        phases,
        migrate_ms,
    })
}
