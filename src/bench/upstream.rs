//! `bench --compare-upstream PATH`: the online migration, the offline one and upstream's
//! own SaaS migration script (its 0003, read from PATH) timed on copies of one legacy
//! database, in turns, for several rounds.
//!
//! The legacy database is seeded once (or given as a template); each variant of each
//! round runs on a fresh copy of it (`CREATE DATABASE … TEMPLATE`), after a checkpoint,
//! so that every variant starts from the same data at rest. The order of the variants
//! turns from one round to the next, so that none is always first (or last) on a warm or
//! busy server.
//!
//! Upstream's script needs what its own chain gives it: its 0001 (the ledger it records
//! itself in, found beside PATH) and a legacy database without the rows its new keys
//! cannot hold. Before the clock starts, its copy gets 0001 and the cleaning of
//! [`CLEANING`] (orphan conversation rows, duplicate participants, duplicate bans: each
//! would make one of 0003's statements fail and the whole script roll back), then
//! `VACUUM ANALYZE` and a checkpoint. 0003 then runs as upstream runs it: the file as one
//! simple-query batch, its own BEGIN … COMMIT inside. Course copies under several bots
//! need no cleaning: 0003 deletes all but one itself.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use super::Timings;
use crate::conn::{self, ConnSettings, Db};
use crate::error::{Error, Result};
use crate::migrate::{self, MigrateOptions, MigrationReport};
use crate::report::{Reporter, Silent};
use crate::seed::{self, SeedOptions};
use crate::server::ScratchDb;

const ORPHANS: &str = include_str!("../../sql/bench/upstream_clean_orphans.sql");
const PARTICIPANTS: &str = include_str!("../../sql/bench/upstream_clean_participants.sql");
const BANS: &str = include_str!("../../sql/bench/upstream_clean_bans.sql");
const VACUUM: &str = include_str!("../../sql/bench/upstream_vacuum.sql");
const RECORDED: &str = include_str!("../../sql/bench/upstream_recorded.sql");

/// One statement of the cleaning that upstream's 0003 needs, and why.
pub struct Cleaning {
    pub what: &'static str,
    pub why: &'static str,
    sql: &'static str,
}

/// The cleaning, in the order it runs (sql/bench/upstream_clean_*.sql).
pub const CLEANING: [Cleaning; 3] = [
    Cleaning {
        what: "conversation rows whose run no longer exists: run_id cleared (the rows stay)",
        why: "0003 adds conversation_run_id_fkey without looking at the data",
        sql: ORPHANS,
    },
    Cleaning {
        what: "participants listed twice in a course: the later copies deleted",
        why: "0003 creates the unique index courseparticipants_unique",
        sql: PARTICIPANTS,
    },
    Cleaning {
        what: "bans recorded twice (same bot, chat, excluded): the later copies deleted",
        why: "0003 creates the unique index bannedparticipants_unique",
        sql: BANS,
    },
];

/// What the comparison migrates and how often.
#[derive(Debug, Clone)]
pub struct CompareOptions {
    /// Runs seeded (without a template).
    pub runs: u64,
    pub seed: u64,
    pub profile: seed::Profile,
    /// Copy this legacy database instead of seeding one.
    pub template: Option<String>,
    /// With a template: the bot that rows without a bot name belong to.
    pub default_bot: Option<String>,
    pub rounds: u32,
    /// Connections that build the indexes of our migrations.
    pub index_jobs: usize,
    /// Upstream's 0003 (its 0001 is looked for beside it).
    pub upstream_script: PathBuf,
}

/// The three ways to migrate that are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    /// `migrate`
    Online,
    /// `migrate --offline`
    Offline,
    /// upstream's 0003
    Upstream,
}

impl Variant {
    pub const ALL: [Variant; 3] = [Variant::Online, Variant::Offline, Variant::Upstream];

    pub fn describe(self) -> &'static str {
        match self {
            Variant::Online => "migrate (online)",
            Variant::Offline => "migrate --offline",
            Variant::Upstream => "upstream's 0003",
        }
    }

    /// The order of round `round` (from 1): the three turned by one each round.
    pub fn order(round: u32) -> [Variant; 3] {
        let k = (round.max(1) as usize - 1) % 3;
        [Self::ALL[k], Self::ALL[(k + 1) % 3], Self::ALL[(k + 2) % 3]]
    }
}

/// One variant of one round.
#[derive(Debug, Clone, Serialize)]
pub struct VariantRun {
    pub variant: Variant,
    /// The timed part: `migrate`, or upstream's 0003 alone.
    pub total_ms: u64,
    /// Ours: each step (as `bench` times them); upstream's script: none (one batch).
    pub phases: Vec<(String, u64)>,
}

/// A cleaning statement as run on a copy: the rows it changed.
#[derive(Debug, Clone, Serialize)]
pub struct Cleaned {
    pub what: String,
    pub why: String,
    pub rows: u64,
}

/// One round: each variant on its own copy, in `order`.
#[derive(Debug, Clone, Serialize)]
pub struct CompareRound {
    pub round: u32,
    pub order: Vec<Variant>,
    pub runs: Vec<VariantRun>,
    /// Upstream's copy before its clock: 0001, the cleaning, VACUUM ANALYZE (not counted).
    pub upstream_preparation_ms: u64,
}

impl CompareRound {
    pub fn of(&self, v: Variant) -> Option<&VariantRun> {
        self.runs.iter().find(|r| r.variant == v)
    }
}

/// Medians over the rounds (milliseconds), and their ratios.
#[derive(Debug, Clone, Serialize)]
pub struct Medians {
    pub online_ms: u64,
    pub offline_ms: u64,
    pub upstream_ms: u64,
    pub online_over_offline: f64,
    pub online_over_upstream: f64,
    pub offline_over_upstream: f64,
}

/// The comparison.
#[derive(Debug, Clone, Serialize)]
pub struct CompareReport {
    pub runs: u64,
    pub seed: u64,
    pub profile: seed::Profile,
    pub template: Option<String>,
    pub legacy_rows: u64,
    pub conversation_rows: u64,
    pub server_version: String,
    pub index_jobs: usize,
    pub upstream_script: String,
    pub upstream_ledger_script: String,
    /// What upstream's copy was cleaned of before its clock (the same every round: the
    /// first round's counts).
    pub cleaning: Vec<Cleaned>,
    pub rounds: Vec<CompareRound>,
    pub medians: Medians,
    /// Each step of the online migration: its median over the rounds, in step order.
    pub online_steps: Vec<(String, u64)>,
    /// Each step of the offline migration: its median over the rounds.
    pub offline_steps: Vec<(String, u64)>,
    pub peak_rss_kib: Option<u64>,
}

fn read(path: &Path, what: &str) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| {
        Error::io(format!("cannot read {what} {}", path.display()), e, "Give the path of upstream's 0003_migrate_to_saas.sql; nothing was changed.")
    })
}

/// Upstream's 0001 beside its 0003: 0003 records itself in the ledger that 0001 creates.
fn ledger_beside(script: &Path) -> Result<PathBuf> {
    let dir = script.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(format!("cannot list {}", dir.display()), e, "Nothing was changed."))?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("0001") && n.ends_with(".sql")))
        .collect();
    found.sort();
    found.into_iter().next().ok_or_else(|| {
        Error::usage(
            format!("upstream's 0001 (0001_*.sql) is not beside {}", script.display()),
            "0003 records itself in schema_migrations, which upstream's 0001 creates: point at 0003 in upstream's migrations directory.",
        )
    })
}

/// The median of `values` (the upper one of an even count, as `bench`).
fn median(values: &mut [u64]) -> u64 {
    values.sort_unstable();
    values.get(values.len() / 2).copied().unwrap_or(0)
}

/// Each step's median over the rounds, in the first round's step order.
fn step_medians(rounds: &[CompareRound], v: Variant) -> Vec<(String, u64)> {
    let Some(first) = rounds.iter().find_map(|r| r.of(v)) else { return vec![] };
    first
        .phases
        .iter()
        .map(|(step, _)| {
            let mut ms: Vec<u64> =
                rounds.iter().filter_map(|r| r.of(v)?.phases.iter().find(|(s, _)| s == step).map(|(_, ms)| *ms)).collect();
            (step.clone(), median(&mut ms))
        })
        .collect()
}

fn ratio(a: u64, b: u64) -> f64 {
    a as f64 / b.max(1) as f64
}

/// Runs the comparison on databases created on `server`.
pub async fn compare(server: &ConnSettings, opts: &CompareOptions, reporter: &dyn Reporter) -> Result<CompareReport> {
    let scripts = Scripts::read(&opts.upstream_script)?;
    let q = |what: &'static str| move |e: tokio_postgres::Error| Error::query(what, &e, "The benchmark's databases are dropped.");
    let server_version: String = conn::connect(server)
        .await?
        .query_one("SELECT current_setting('server_version')", &[])
        .await
        .map_err(q("reading the server version"))?
        .get(0);

    // The legacy database every copy is made from; the copies are named after the run.
    let base = format!("profochat_bench_upstream_{}_{:08x}", std::process::id(), rand::random::<u32>());
    let mut seeded = None;
    let (source, default_bot, rows) = match &opts.template {
        Some(t) => {
            let db = conn::connect(&server.with_dbname(t)).await?;
            let rows = super::legacy_rows(&db).await?;
            (t.clone(), opts.default_bot.clone(), rows)
        }
        None => {
            let name = format!("{base}_legacy");
            let scratch = ScratchDb::create(server, &name).await?;
            let label = format!("seeding {} runs ({})", opts.runs, opts.profile);
            reporter.started(&label, None);
            let t = Instant::now();
            let manifest = {
                let mut db = conn::connect(&scratch.settings).await?;
                let m = seed::generate_profile(&mut db, &SeedOptions { runs: opts.runs, seed: opts.seed }, opts.profile, &Silent).await?;
                db.batch_execute("VACUUM ANALYZE").await.map_err(q("analysing the seeded database"))?;
                m
            };
            reporter.finished(&label, t.elapsed(), &format!("{} legacy rows", manifest.total_rows()));
            seeded = Some(scratch);
            (name, Some(manifest.default_bot.clone()), manifest.rows.clone())
        }
    };

    let mut rounds = vec![];
    let mut cleaning = vec![];
    let result = async {
        for round in 1..=opts.rounds.max(1) {
            let order = Variant::order(round);
            let mut runs = vec![];
            let mut preparation_ms = 0;
            for v in order {
                let copy = ScratchDb::create_from(server, &format!("{base}_{round}_{v:?}").to_lowercase(), &source).await?;
                let label = format!("round {round}: {}", v.describe());
                reporter.started(&label, None);
                let outcome = match v {
                    Variant::Upstream => upstream_on(&copy.settings, &scripts).await.map(|u| {
                        (VariantRun { variant: v, total_ms: u.total_ms, phases: vec![] }, u.preparation_ms, u.cleaned)
                    }),
                    _ => run_ours(&copy.settings, v == Variant::Offline, default_bot.clone(), opts.index_jobs).await.map(|r| (r, 0, vec![])),
                };
                copy.drop_now().await?;
                let (run, prep_ms, cleaned) = outcome?;
                reporter.finished(&label, std::time::Duration::from_millis(run.total_ms), "");
                if v == Variant::Upstream {
                    preparation_ms = prep_ms;
                    if cleaning.is_empty() {
                        cleaning = cleaned;
                    }
                }
                runs.push(run);
            }
            rounds.push(CompareRound { round, order: order.to_vec(), runs, upstream_preparation_ms: preparation_ms });
        }
        Ok::<_, Error>(())
    }
    .await;
    if let Some(s) = seeded {
        s.drop_now().await?;
    }
    result?;

    let totals = |v: Variant| median(&mut rounds.iter().filter_map(|r| Some(r.of(v)?.total_ms)).collect::<Vec<_>>());
    let (online_ms, offline_ms, upstream_ms) = (totals(Variant::Online), totals(Variant::Offline), totals(Variant::Upstream));
    Ok(CompareReport {
        runs: rows.get("run").copied().unwrap_or(0),
        seed: opts.seed,
        profile: opts.profile,
        template: opts.template.clone(),
        legacy_rows: rows.values().sum(),
        conversation_rows: rows.get("conversation").copied().unwrap_or(0),
        server_version,
        index_jobs: opts.index_jobs,
        upstream_script: scripts.path.display().to_string(),
        upstream_ledger_script: scripts.ledger_path.display().to_string(),
        cleaning,
        medians: Medians {
            online_ms,
            offline_ms,
            upstream_ms,
            online_over_offline: ratio(online_ms, offline_ms),
            online_over_upstream: ratio(online_ms, upstream_ms),
            offline_over_upstream: ratio(offline_ms, upstream_ms),
        },
        online_steps: step_medians(&rounds, Variant::Online),
        offline_steps: step_medians(&rounds, Variant::Offline),
        rounds,
        peak_rss_kib: super::peak_rss_kib(),
    })
}

/// The write-ahead log of the copy written out before the clock starts (needs a
/// superuser or pg_checkpoint; without, the figures include it).
async fn checkpoint(db: &Db) {
    let _ = db.batch_execute("CHECKPOINT").await;
}

/// `migrate` (or `migrate --offline`) on a copy, timed by step.
async fn run_ours(settings: &ConnSettings, offline: bool, default_bot: Option<String>, index_jobs: usize) -> Result<VariantRun> {
    let mut db = conn::connect(settings).await?;
    checkpoint(&db).await;
    let opts = MigrateOptions { default_bot, single_transaction: offline, index_jobs, ..MigrateOptions::default() };
    let timings = Timings::default();
    let t = Instant::now();
    migrate::migrate(&mut db, &opts, &timings).await.and_then(MigrationReport::into_result)?;
    let total_ms = t.elapsed().as_millis() as u64;
    Ok(VariantRun {
        variant: if offline { Variant::Offline } else { Variant::Online },
        total_ms,
        phases: timings.0.into_inner().unwrap_or_else(|p| p.into_inner()),
    })
}

/// Upstream's script on one database, as the comparison runs it on its copy.
#[derive(Debug, Clone, Serialize)]
pub struct UpstreamRun {
    /// 0003 alone, as one batch.
    pub total_ms: u64,
    /// Before the clock: 0001, the cleaning, VACUUM ANALYZE, a checkpoint.
    pub preparation_ms: u64,
    pub cleaned: Vec<Cleaned>,
}

/// Upstream's 0001 and 0003 (read from beside `script`) on the legacy database of
/// `settings`, prepared and cleaned as the comparison does it; the database is left with
/// upstream's schema.
pub async fn run_upstream(settings: &ConnSettings, script: &Path) -> Result<UpstreamRun> {
    let scripts = Scripts::read(script)?;
    upstream_on(settings, &scripts).await
}

/// Upstream's two scripts, read once.
struct Scripts {
    path: PathBuf,
    script: String,
    ledger_path: PathBuf,
    ledger: String,
}

impl Scripts {
    fn read(path: &Path) -> Result<Scripts> {
        let script = read(path, "upstream's 0003")?;
        let ledger_path = ledger_beside(path)?;
        let ledger = read(&ledger_path, "upstream's 0001")?;
        Ok(Scripts { path: path.to_path_buf(), script, ledger_path, ledger })
    }
}

/// Upstream's 0001 and the cleaning (not timed), then its 0003 as one batch (timed).
async fn upstream_on(settings: &ConnSettings, s: &Scripts) -> Result<UpstreamRun> {
    let db = conn::connect(settings).await?;
    let t = Instant::now();
    db.batch_execute(&s.ledger)
        .await
        .map_err(|e| Error::query("running upstream's 0001 (its migration ledger)", &e, "Nothing else was changed."))?;
    let mut cleaned = vec![];
    for c in &CLEANING {
        let rows = db
            .execute(c.sql, &[])
            .await
            .map_err(|e| Error::query(format!("cleaning for upstream's 0003: {}", c.what), &e, "The cleaning's statements commit one by one."))?;
        cleaned.push(Cleaned { what: c.what.to_string(), why: c.why.to_string(), rows });
    }
    db.batch_execute(VACUUM).await.map_err(|e| Error::query("vacuuming the cleaned tables", &e, "The cleaning is committed."))?;
    checkpoint(&db).await;
    let preparation_ms = t.elapsed().as_millis() as u64;
    let t = Instant::now();
    db.batch_execute(&s.script)
        .await
        .map_err(|e| Error::query(format!("running upstream's 0003 ({})", s.path.display()), &e, "0003 rolled back; the cleaning is committed."))?;
    let total_ms = t.elapsed().as_millis() as u64;
    let recorded: bool = db
        .query_one(RECORDED, &[])
        .await
        .map_err(|e| Error::query("reading upstream's ledger after its 0003", &e, "Nothing else was changed."))?
        .get(0);
    if !recorded {
        return Err(Error::state(
            format!("{} ran without recording 0003 in schema_migrations", s.path.display()),
            "Is this upstream's 0003_migrate_to_saas.sql? Its last statement records it; the timing would not be of a migration.",
        ));
    }
    Ok(UpstreamRun { total_ms, preparation_ms, cleaned })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_order_turns_each_round_and_every_variant_runs_once() {
        assert_eq!(Variant::order(1), [Variant::Online, Variant::Offline, Variant::Upstream]);
        assert_eq!(Variant::order(2), [Variant::Offline, Variant::Upstream, Variant::Online]);
        assert_eq!(Variant::order(3), [Variant::Upstream, Variant::Online, Variant::Offline]);
        assert_eq!(Variant::order(4), Variant::order(1));
        for r in 1..=6 {
            let mut o = Variant::order(r).to_vec();
            o.dedup();
            assert_eq!(o.len(), 3);
        }
    }

    #[test]
    fn upstreams_ledger_is_found_beside_its_0003() {
        let dir = std::env::temp_dir().join(format!("pcs_upstream_ledger_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("0003_migrate_to_saas.sql");
        assert!(ledger_beside(&script).is_err());
        std::fs::write(dir.join("0001_create_schema_migrations.sql"), "").unwrap();
        assert_eq!(ledger_beside(&script).unwrap(), dir.join("0001_create_schema_migrations.sql"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn medians_and_ratios() {
        assert_eq!(median(&mut [30, 10, 20]), 20);
        assert_eq!(median(&mut [5]), 5);
        assert!((ratio(13, 10) - 1.3).abs() < 1e-9);
        assert_eq!(ratio(1, 0), 1.0);
    }
}
