//! The migration benchmark: seed N runs into a fresh database, migrate it (no
//! backup), and measure every phase, the total and this process's peak memory.
//! Repeated, and the median reported, because one run on a busy machine says little.
//! With a writer ([`writer`]), the legacy bot's writes run at a fixed rate while
//! `migrate` runs, and their latencies show how long the bot waits.

pub mod writer;
pub mod faults;

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
#[derive(Default)]
struct Timings(std::sync::Mutex<Vec<(String, u64)>>, std::sync::atomic::AtomicUsize);

impl Reporter for Timings {
    fn event(&self, event: crate::report::Event<'_>) {
        use std::sync::atomic::Ordering;
        match event {
            crate::report::Event::Started { .. } => {
                self.1.fetch_add(1, Ordering::SeqCst);
            }
            crate::report::Event::Finished { step, elapsed, .. } => {
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
    let writer = match running {
        Some(w) => Some(w.stop().await),
        None => None,
    };
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

/// One hot legacy read, timed on the legacy schema and through the legacy interface.
#[derive(Debug, Clone, Serialize)]
pub struct ReadTiming {
    pub statement: &'static str,
    pub sql: &'static str,
    pub samples: usize,
    pub legacy_median_us: u64,
    pub legacy_p95_us: u64,
    pub interface_median_us: u64,
    pub interface_p95_us: u64,
    /// Interface median / legacy median.
    pub ratio: f64,
}

/// The legacy-reads benchmark: the legacy bot's hot statements (SPEC §1) on a seeded
/// legacy database and on a migrated copy of it through the legacy interface.
#[derive(Debug, Clone, Serialize)]
pub struct LegacyReadsReport {
    pub runs: u64,
    pub server_version: String,
    pub conversation_rows: u64,
    pub reads: Vec<ReadTiming>,
}

/// The hot reads: name, statement, and the query that draws its parameters (as text)
/// from the legacy database.
const HOT_READS: [(&str, &str, &str); 5] = [
    (
        "where a chat is",
        "SELECT conversation_id, element_id, element_type, course_id, run_id, json FROM conversation WHERE chat_id = $1::text::int8 ORDER BY conversation_id DESC LIMIT 1",
        "SELECT chat_id::text FROM (SELECT DISTINCT chat_id FROM conversation WHERE chat_id IS NOT NULL) x ORDER BY md5(chat_id::text) LIMIT $1",
    ),
    (
        "the chat's run of a course",
        "SELECT run_id FROM run WHERE chat_id = $1::text::int8 AND course_id = $2 ORDER BY date_inserted DESC LIMIT 1",
        "SELECT chat_id::text, course_id FROM (SELECT DISTINCT chat_id, course_id FROM run WHERE chat_id IS NOT NULL AND course_id IS NOT NULL) x ORDER BY md5(chat_id::text || course_id) LIMIT $1",
    ),
    (
        "course content",
        "SELECT element_id, json FROM course_element WHERE course_id = $1 AND bot_name = $2 ORDER BY course_element_id",
        "SELECT course_id, bot_name FROM course ORDER BY md5(course_id || bot_name) LIMIT $1",
    ),
    (
        "finished?",
        "SELECT is_ended FROM run WHERE chat_id = $1::text::int8 AND course_id = $2 AND botname = $3 ORDER BY run_id DESC LIMIT 1",
        "SELECT chat_id::text, course_id, botname FROM (SELECT DISTINCT chat_id, course_id, botname FROM run WHERE chat_id IS NOT NULL AND course_id IS NOT NULL AND botname IS NOT NULL) x ORDER BY md5(chat_id::text || course_id) LIMIT $1",
    ),
    (
        "banned?",
        "SELECT EXISTS (SELECT 1 FROM bannedparticipants WHERE botname = $1 AND chat_id = $2::text::int8 AND excluded <> 1)",
        "SELECT botname, chat_id::text FROM run WHERE botname IS NOT NULL AND chat_id IS NOT NULL ORDER BY md5(run_id::text) LIMIT $1",
    ),
];

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Seeds `runs` runs, copies the database, migrates the copy, and times each hot read
/// `samples` times with different parameters on both (the two databases alternate, so
/// that drift hits both alike).
pub async fn legacy_reads(server: &ConnSettings, runs: u64, seed_value: u64, samples: i64, reporter: &dyn Reporter) -> Result<LegacyReadsReport> {
    let q = |what: &'static str| move |e: tokio_postgres::Error| Error::query(what, &e, "The benchmark databases are dropped.");
    let base = format!("profochat_bench_reads_{}", std::process::id());
    let legacy_db = ScratchDb::create(server, &base).await?;
    let (manifest, server_version) = {
        let mut db = conn::connect(&legacy_db.settings).await?;
        reporter.started(&format!("seeding {runs} runs"), None);
        let t = Instant::now();
        let m = seed::generate(&mut db, &SeedOptions { runs, seed: seed_value }, &Silent).await?;
        db.batch_execute("VACUUM ANALYZE").await.map_err(q("analysing the seeded database"))?;
        reporter.finished("seeded", t.elapsed(), "");
        let v: String = db.query_one("SELECT current_setting('server_version')", &[]).await.map_err(q("reading the server version"))?.get(0);
        (m, v)
    };
    let migrated_db = ScratchDb::create_from(server, &format!("{base}_migrated"), &base).await?;
    {
        let mut db = conn::connect(&migrated_db.settings).await?;
        reporter.started("migrating the copy", None);
        let t = Instant::now();
        let opts = MigrateOptions { default_bot: Some(manifest.default_bot.clone()), index_jobs: 2, ..MigrateOptions::default() };
        let report = migrate::migrate(&mut db, &opts, &Silent).await?;
        if !report.indexes.failed.is_empty() {
            return Err(Error::state(
                format!("{} indexes failed to build during the benchmark", report.indexes.failed.len()),
                "Run the benchmark again on an idle server.",
            ));
        }
        db.batch_execute("VACUUM ANALYZE").await.map_err(q("analysing the migrated database"))?;
        reporter.finished("migrated", t.elapsed(), "");
    }
    let legacy = conn::connect(&legacy_db.settings).await?;
    let interface = conn::connect(&migrated_db.settings).await?;
    interface
        .batch_execute(&format!("SET search_path = {}", crate::legacy::SEARCH_PATH))
        .await
        .map_err(q("using the legacy interface"))?;
    let mut reads = vec![];
    for (name, sql, params_sql) in HOT_READS {
        reporter.started(&format!("timing: {name}"), None);
        let t = Instant::now();
        let params = legacy.query(params_sql, &[&samples]).await.map_err(q("drawing parameters"))?;
        if params.is_empty() {
            continue;
        }
        // Each statement is parsed and planned at every call, as the legacy bot's driver
        // sends it; parameter sets repeat in turn until `samples` calls were timed.
        let (mut ta, mut tb) = (vec![], vec![]);
        for i in 0..samples.max(1) as usize {
            let row = &params[i % params.len()];
            let values: Vec<Option<String>> = (0..row.len()).map(|i| row.get(i)).collect();
            let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = values.iter().map(|v| v as &(dyn tokio_postgres::types::ToSql + Sync)).collect();
            for (client, out) in [(&legacy, &mut ta), (&interface, &mut tb)] {
                let t = Instant::now();
                client.query(sql, &refs).await.map_err(q("running a legacy read"))?;
                out.push(t.elapsed().as_micros() as u64);
            }
        }
        ta.sort_unstable();
        tb.sort_unstable();
        let (ma, mb) = (percentile(&ta, 0.5), percentile(&tb, 0.5));
        reads.push(ReadTiming {
            statement: name,
            sql,
            samples: ta.len(),
            legacy_median_us: ma,
            legacy_p95_us: percentile(&ta, 0.95),
            interface_median_us: mb,
            interface_p95_us: percentile(&tb, 0.95),
            ratio: if ma == 0 { 0.0 } else { mb as f64 / ma as f64 },
        });
        reporter.finished(&format!("timing: {name}"), t.elapsed(), "");
    }
    drop(legacy);
    drop(interface);
    migrated_db.drop_now().await?;
    legacy_db.drop_now().await?;
    Ok(LegacyReadsReport {
        runs,
        server_version,
        conversation_rows: manifest.rows.get("conversation").copied().unwrap_or(0),
        reads,
    })
}

/// One step of the scale benchmark and its time at each size.
#[derive(Debug, Clone, Serialize)]
pub struct ScaleStep {
    pub step: String,
    /// Seconds, one per size (in the order of [`ScaleReport::sizes`]).
    pub seconds: Vec<f64>,
}

impl ScaleStep {
    /// Time at each size over the time at the size before (the first size: None).
    pub fn growth(&self) -> Vec<Option<f64>> {
        let mut out = vec![None];
        for w in self.seconds.windows(2) {
            out.push((w[0] > 0.0).then(|| w[1] / w[0]));
        }
        out
    }
}

/// The scale benchmark: each step at each size.
#[derive(Debug, Clone, Serialize)]
pub struct ScaleReport {
    /// Runs seeded at each size.
    pub sizes: Vec<u64>,
    /// Rows of `run` at each size (deleted runs left out).
    pub run_rows: Vec<u64>,
    /// Rows of the eight legacy tables at each size.
    pub legacy_rows: Vec<u64>,
    pub profile: seed::Profile,
    pub seed: u64,
    pub server_version: String,
    pub steps: Vec<ScaleStep>,
}

/// The steps the scale benchmark times, in order.
pub const SCALE_STEPS: [&str; 6] = [
    "migrate --offline",
    "validate",
    "rollback (after --offline)",
    "migrate (online)",
    "rollback (after online)",
    "migrate --abort (interrupted online)",
];

/// A reporter that says when the online migration reached a step (by its label), so
/// that the benchmark can interrupt it there, as a killed `migrate` would be.
struct InterruptAt {
    label: &'static str,
    reached: tokio::sync::Notify,
}

impl Reporter for InterruptAt {
    fn event(&self, event: crate::report::Event<'_>) {
        if let crate::report::Event::Started { step, .. } = event {
            if step == self.label {
                self.reached.notify_one();
            }
        }
    }
}

/// Seeds a database of each size (`profile`), then times on copies of it: the offline
/// migration, `validate`, `rollback` after it; the online migration and `rollback`
/// after it; an online migration interrupted before its secondary indexes, and
/// `migrate --abort` after it.
pub async fn scale(server: &ConnSettings, sizes: &[u64], seed_value: u64, profile: seed::Profile, reporter: &dyn Reporter) -> Result<ScaleReport> {
    let admin = conn::connect(server).await?;
    let q = |what: &'static str| move |e: tokio_postgres::Error| Error::query(what, &e, "The benchmark databases are dropped.");
    let server_version: String = admin
        .query_one("SELECT current_setting('server_version')", &[])
        .await
        .map_err(q("reading the server version"))?
        .get(0);
    let save_dir = std::env::temp_dir().join(format!("profochat_bench_scale_{}", std::process::id()));
    let mut steps: Vec<ScaleStep> = SCALE_STEPS.iter().map(|s| ScaleStep { step: s.to_string(), seconds: vec![] }).collect();
    let (mut run_rows, mut legacy_rows) = (vec![], vec![]);
    for &runs in sizes {
        let base = format!("profochat_bench_scale_{}_{runs}", std::process::id());
        let template = ScratchDb::create(server, &base).await?;
        let label = format!("{runs} runs: seeding ({profile})");
        reporter.started(&label, None);
        let t = Instant::now();
        let manifest = {
            let mut db = conn::connect(&template.settings).await?;
            let m = seed::generate_profile(&mut db, &SeedOptions { runs, seed: seed_value }, profile, &Silent).await?;
            db.batch_execute("VACUUM ANALYZE").await.map_err(q("analysing the seeded database"))?;
            let _ = db.batch_execute("CHECKPOINT").await;
            m
        };
        reporter.finished(&label, t.elapsed(), &format!("{} legacy rows", manifest.total_rows()));
        run_rows.push(manifest.rows.get("run").copied().unwrap_or(0));
        legacy_rows.push(manifest.total_rows());
        let migrate_opts = |offline: bool| MigrateOptions {
            default_bot: Some(manifest.default_bot.clone()),
            single_transaction: offline,
            index_jobs: 2,
            ..MigrateOptions::default()
        };
        let rollback_opts = |abort: bool| crate::rollback::RollbackOptions { dry_run: false, save_dir: save_dir.clone(), abort, ..Default::default() };
        let mut times = vec![];
        let timed = |step: &str| format!("{runs} runs: {step}");

        // Offline, validate, rollback.
        {
            let copy = ScratchDb::create_from(server, &format!("{base}_offline"), &base).await?;
            let mut db = conn::connect(&copy.settings).await?;
            let t = step_start(reporter, &timed(SCALE_STEPS[0]));
            migrate::migrate(&mut db, &migrate_opts(true), &Silent).await?.into_result()?;
            times.push(step_end(reporter, &timed(SCALE_STEPS[0]), t));
            let t = step_start(reporter, &timed(SCALE_STEPS[1]));
            let opts = crate::validate::ValidateOptions::from_state(&db.client).await?;
            crate::validate::validate(&db.client, &opts).await?;
            times.push(step_end(reporter, &timed(SCALE_STEPS[1]), t));
            let t = step_start(reporter, &timed(SCALE_STEPS[2]));
            crate::rollback::rollback(&mut db, &rollback_opts(false), &Silent).await?;
            times.push(step_end(reporter, &timed(SCALE_STEPS[2]), t));
            drop(db);
            copy.drop_now().await?;
        }
        // Online, rollback.
        {
            let copy = ScratchDb::create_from(server, &format!("{base}_online"), &base).await?;
            let mut db = conn::connect(&copy.settings).await?;
            let t = step_start(reporter, &timed(SCALE_STEPS[3]));
            migrate::migrate(&mut db, &migrate_opts(false), &Silent).await?.into_result()?;
            times.push(step_end(reporter, &timed(SCALE_STEPS[3]), t));
            let t = step_start(reporter, &timed(SCALE_STEPS[4]));
            crate::rollback::rollback(&mut db, &rollback_opts(false), &Silent).await?;
            times.push(step_end(reporter, &timed(SCALE_STEPS[4]), t));
            drop(db);
            copy.drop_now().await?;
        }
        // Online, interrupted when its secondary indexes start (every backfill done), then aborted.
        {
            let copy = ScratchDb::create_from(server, &format!("{base}_abort"), &base).await?;
            {
                let mut db = conn::connect(&copy.settings).await?;
                let interrupt = InterruptAt { label: "online: indexes", reached: tokio::sync::Notify::new() };
                let label = timed("migrate (online), interrupted before its secondary indexes");
                reporter.started(&label, None);
                let t = Instant::now();
                let online = migrate_opts(false);
                tokio::select! {
                    r = migrate::migrate(&mut db, &online, &interrupt) => {
                        r?.into_result()?;
                        return Err(Error::state(
                            "the online migration of the benchmark ended before it could be interrupted",
                            "Report this: the benchmark interrupts it when its secondary indexes start.",
                        ));
                    }
                    _ = interrupt.reached.notified() => {}
                }
                reporter.finished(&label, t.elapsed(), "");
            }
            // The interrupted session is gone; its index builds end with it.
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            let mut db = conn::connect(&copy.settings).await?;
            let t = step_start(reporter, &timed(SCALE_STEPS[5]));
            crate::rollback::rollback(&mut db, &rollback_opts(true), &Silent).await?;
            times.push(step_end(reporter, &timed(SCALE_STEPS[5]), t));
            drop(db);
            copy.drop_now().await?;
        }
        for (step, s) in steps.iter_mut().zip(times) {
            step.seconds.push(s);
        }
        template.drop_now().await?;
    }
    let _ = std::fs::remove_dir_all(&save_dir);
    Ok(ScaleReport { sizes: sizes.to_vec(), run_rows, legacy_rows, profile, seed: seed_value, server_version, steps })
}

fn step_start(reporter: &dyn Reporter, label: &str) -> Instant {
    reporter.started(label, None);
    Instant::now()
}

fn step_end(reporter: &dyn Reporter, label: &str, t: Instant) -> f64 {
    reporter.finished(label, t.elapsed(), "");
    t.elapsed().as_secs_f64()
}
