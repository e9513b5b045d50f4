//! The scale benchmark: each step of the migration timed at several sizes, and how its
//! time grows with the data.

use std::time::Instant;

use serde::Serialize;

use crate::conn::{self, ConnSettings};
use crate::error::{Error, Result};
use crate::migrate::{self, MigrateOptions};
use crate::report::{Reporter, Silent};
use crate::seed::{self, SeedOptions};
use crate::server::ScratchDb;

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

/// The parts of the scale benchmark, each on its own copy of the seeded database: which
/// of [`SCALE_STEPS`] it times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ScalePart {
    /// `migrate --offline`, `validate`, `rollback` after it.
    Offline,
    /// The online `migrate`, `rollback` after it.
    Online,
    /// An online migration interrupted before its secondary indexes, `migrate --abort`.
    Abort,
}

impl ScalePart {
    pub const ALL: [ScalePart; 3] = [ScalePart::Offline, ScalePart::Online, ScalePart::Abort];

    /// The steps of [`SCALE_STEPS`] this part times.
    pub fn steps(self) -> &'static [&'static str] {
        match self {
            ScalePart::Offline => &SCALE_STEPS[0..3],
            ScalePart::Online => &SCALE_STEPS[3..5],
            ScalePart::Abort => &SCALE_STEPS[5..6],
        }
    }
}

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
pub async fn scale(
    server: &ConnSettings,
    sizes: &[u64],
    seed_value: u64,
    profile: seed::Profile,
    parts: &[ScalePart],
    reporter: &dyn Reporter,
) -> Result<ScaleReport> {
    let admin = conn::connect(server).await?;
    let q = |what: &'static str| move |e: tokio_postgres::Error| Error::query(what, &e, "The benchmark databases are dropped.");
    let server_version: String = admin
        .query_one("SELECT current_setting('server_version')", &[])
        .await
        .map_err(q("reading the server version"))?
        .get(0);
    let save_dir = std::env::temp_dir().join(format!("profochat_bench_scale_{}", std::process::id()));
    let parts: Vec<ScalePart> = ScalePart::ALL.into_iter().filter(|p| parts.contains(p)).collect();
    let mut steps: Vec<ScaleStep> =
        parts.iter().flat_map(|p| p.steps()).map(|s| ScaleStep { step: s.to_string(), seconds: vec![] }).collect();
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
        if parts.contains(&ScalePart::Offline) {
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
        if parts.contains(&ScalePart::Online) {
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
        if parts.contains(&ScalePart::Abort) {
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
