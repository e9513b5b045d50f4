//! Prepare: the analysis again when the bot wrote since the preflight (else the
//! preflight's, taken back: [`Preflight`]), kept for the backfill; then, with the legacy tables' writes held for a moment, bots, course
//! copies, deployments, the legacy memory, the compatibility triggers and the legacy
//! interface, so that every write from then on is linked and the legacy bot sees its
//! courses as before.

use futures_util::future::BoxFuture;
use tokio_postgres::{GenericClient, Transaction};

use super::finalize::install_legacy_interface;
use super::{progress, q, stopped, Online, Step, Whole, WholeRange, STOPPED_HINT};
use crate::conn::short_lock::{self, Attempts, Prologue};
use crate::error::{pg_error_text, Result};
use crate::migrate::analysis::{Analysis, CourseAction};
use super::Counts;
use crate::migrate::work::WorkError;
use crate::migrate::MigrateOptions;
use crate::state::OnlineStep;
use crate::target;

const DATA: &str = include_str!("../../../sql/migrate/2_data.sql");
const DATA_COUNTS: &str = include_str!("../../../sql/migrate/2_counts.sql");
const BOT_TOKEN: &str = include_str!("../../../sql/migrate/2_bot_token.sql");
/// What must hold once the data is prepared: a count of what is not done.
pub const DATA_CHECK: &str = include_str!("../../../sql/migrate/checks/2_data.sql");
const PERSIST: &str = include_str!("../../../sql/migrate/online/persist.sql");
const ANALYSIS_KEEP: &str = include_str!("../../../sql/migrate/online/analysis_keep.sql");
const ANALYSIS_REUSE: &str = include_str!("../../../sql/migrate/online/analysis_reuse.sql");
/// Drops the preflight's copies of the analysis (the driver runs it when it ends, too).
pub const ANALYSIS_KEPT_DROP: &str = include_str!("../../../sql/migrate/online/analysis_kept_drop.sql");
const ANALYSIS_MAX_KEYS: &str = include_str!("../../../sql/migrate/online/analysis_max_keys.sql");
const ANALYSIS_UNCHANGED: &str = include_str!("../../../sql/migrate/online/analysis_unchanged.sql");

/// The analysis of the preflight, kept for the prepare step of the same `migrate`
/// (its tables as session temporary tables, analysis_keep.sql), with the snapshot it was
/// taken in. The prepare step uses it instead of analysing again only when every
/// legacy table holds exactly the rows that snapshot saw ([`Preflight::unchanged`]):
/// the analysis reads nothing else (the legacy tables, the default bot and the
/// options, which the migration recorded), so it would find the same. Otherwise (the
/// legacy bot wrote meanwhile, the usual case with the bot running) it analyses again,
/// as it always did. A resumed migration has none and analyses again.
#[derive(Debug, Clone)]
pub struct Preflight {
    pub default_bot: Option<String>,
    pub analysis: Analysis,
    /// `pg_current_snapshot()` of the preflight's transaction.
    pub snapshot: String,
    /// analysis_max_keys.sql in that snapshot.
    pub max_keys: Vec<Option<i64>>,
}

impl Preflight {
    /// In the preflight's snapshot transaction, once the analysis ran in it: its
    /// snapshot and highest keys, and its tables copied for the session (the caller
    /// then commits: only temporary tables were created).
    pub async fn keep<C: GenericClient + Sync>(tx: &C, default_bot: Option<String>, analysis: Analysis) -> std::result::Result<Preflight, tokio_postgres::Error> {
        let snapshot: String = tx.query_one("SELECT pg_current_snapshot()::text", &[]).await?.get(0);
        let max_keys = max_keys(tx).await?;
        tx.batch_execute(ANALYSIS_KEEP).await?;
        Ok(Preflight { default_bot, analysis, snapshot, max_keys })
    }

    /// Whether every legacy table holds exactly the rows the preflight's snapshot saw:
    /// the same highest keys (one index lookup each, so that the usual insert is found
    /// at once), then, in one statement, no row version the snapshot did not see and all
    /// it saw still there (analysis_unchanged.sql).
    pub async fn unchanged<C: GenericClient + Sync>(&self, tx: &C) -> std::result::Result<bool, tokio_postgres::Error> {
        if max_keys(tx).await? != self.max_keys {
            return Ok(false);
        }
        let rows = tx.query(ANALYSIS_UNCHANGED, &[&self.snapshot]).await?;
        let mut tables = 0;
        for r in rows {
            let (table, seen, new): (String, i64, i64) = (r.get(0), r.get(1), r.get(2));
            if new != 0 || self.analysis.rows.get(&table) != Some(&seen) {
                return Ok(false);
            }
            tables += 1;
        }
        // An empty table has no row to group: it must have been empty then too.
        Ok(crate::sql::LEGACY_TABLES.iter().filter(|t| self.analysis.rows.get(**t).is_some_and(|n| *n > 0)).count() == tables)
    }

    /// The analysis tables of the caller's transaction, as analysis.sql would make
    /// them now, from the preflight's copies; mig_params with the migration's id.
    async fn reuse<C: GenericClient + Sync>(&self, tx: &C, migration_id: i32) -> std::result::Result<Analysis, crate::migrate::work::WorkError> {
        tx.batch_execute(PARAMS_RESET).await?;
        tx.execute(PARAMS, &[&self.default_bot, &Some(migration_id)]).await?;
        crate::migrate::work::settle(tx, PARAMS).await?;
        crate::migrate::work::run(tx, ANALYSIS_REUSE).await?;
        Ok(self.analysis.clone())
    }
}

const PARAMS_RESET: &str = include_str!("../../../sql/migrate/analysis_read/params_reset.sql");
const PARAMS: &str = include_str!("../../../sql/migrate/analysis_read/params.sql");

async fn max_keys<C: GenericClient + Sync>(tx: &C) -> std::result::Result<Vec<Option<i64>>, tokio_postgres::Error> {
    let r = tx.query_one(ANALYSIS_MAX_KEYS, &[]).await?;
    Ok((0..r.len()).map(|i| r.get(i)).collect())
}
const LOCK_SHARE: &str = include_str!("../../../sql/migrate/online/lock_share.sql");

pub struct Prepare;

impl Step for Prepare {
    fn id(&self) -> OnlineStep {
        OnlineStep::Prepare
    }

    fn describe(&self) -> &'static str {
        "bots, course copies merged and renamed, deployments; the compatibility triggers and the legacy interface"
    }

    fn undo(&self) -> &'static str {
        "gives merged and renamed course copies back from the archive and the legacy interface's memory; drops bots, deployments, triggers and the interface"
    }

    fn affects(&self) -> &'static str {
        "its writes wait while the small course tables change and the triggers are created (a `SHARE ROW EXCLUSIVE` lock taken in short attempts); its reads go on"
    }

    /// One transaction, recorded as done in it; its lock is taken in short attempts.
    async fn apply(&self, run: &mut Online<'_>) -> Result<Counts> {
        let step = self.id();
        let opts = run.opts;
        let mut attempts = Attempts::new(opts.lock_wait.unwrap_or(short_lock::DEFAULT_BOUND));
        loop {
            let attempt = attempts.start();
            let tx = run.db.client.transaction().await.map_err(q("starting the prepare step"))?;
            tx.batch_execute(&Prologue { allow_ddl: true, backfill: true, attempt: false }.sql())
                .await
                .map_err(q("starting the prepare step"))?;
            tx.batch_execute(target::sql::HELPERS).await.map_err(q("creating helpers"))?;
            let kept = match &run.preflight {
                Some(p) if p.unchanged(&tx).await.map_err(q("comparing the legacy tables with the preflight's snapshot"))? => Some(p),
                _ => None,
            };
            let a = match kept {
                Some(p) => p
                    .reuse(&tx, run.state.migration_id)
                    .await
                    .map_err(|e| e.into_query("taking the preflight's analysis back", STOPPED_HINT))?,
                None => crate::migrate::prepare::analyse_decided(&tx, opts, Some(run.state.migration_id)).await?.1,
            };
            crate::migrate::work::run(&tx, PERSIST).await.map_err(|e| e.into_query("keeping the analysis for the backfill", STOPPED_HINT))?;
            tx.batch_execute(target::sql::STATE_PRIVILEGES).await.map_err(q("keeping the analysis for the backfill"))?;
            if let Err(e) = tx.batch_execute(&short_lock::one_attempt(LOCK_SHARE)).await {
                drop(tx);
                if !attempts.again(&e).await {
                    return Err(stopped(step, format!("locking the legacy tables: {}", pg_error_text(&e))));
                }
                if attempt == 1 {
                    run.reporter.warn("the legacy tables are in use (the running bot, a long query): retrying the prepare step's lock in short attempts");
                }
                continue;
            }
            let mut counts = data(&tx, &a, opts).await.map_err(|e| stopped(step, format!("the data: {}", pg_error_text(&e))))?;
            counts.insert("analysis_reused".into(), kept.is_some() as i64);
            let bad: i64 = tx.query_one(DATA_CHECK, &[]).await.map_err(q("checking the data"))?.get(0);
            if bad != 0 {
                return Err(stopped(step, format!("its check found {bad} thing(s) not done (checks/2_data.sql)")));
            }
            // The small tables' keys: the compatibility layer's upserts name them.
            tx.batch_execute(&super::keys::small_keys())
                .await
                .map_err(|e| stopped(step, format!("the keys of the new tables: {}", pg_error_text(&e))))?;
            install_legacy_interface(&tx, false).await.map_err(|e| stopped(step, pg_error_text(&e)))?;
            run.state.done = Some(step);
            run.state.current = step.next();
            progress::record(&tx, &run.state).await?;
            tx.commit().await.map_err(|e| stopped(step, pg_error_text(&e)))?;
            if run.preflight.take().is_some() {
                run.db.batch_execute(ANALYSIS_KEPT_DROP).await.map_err(q("dropping the preflight's copies of the analysis"))?;
            }
            run.reporter.info(&format!(
                "the legacy interface is in place: the legacy bot can switch to it now and sees its tables as before ({})",
                crate::legacy::legacy_url(&run.db.settings)
            ));
            run.analysis = Some(a);
            return Ok(counts);
        }
    }
}

/// Over the whole range (offline, phase 2): the data only, with the analysis of the
/// preflight; the compatibility layer comes last ([`super::finalize::Finalize`]).
impl WholeRange for Prepare {
    fn describe_whole(&self, a: &Analysis, opts: &MigrateOptions) -> Vec<String> {
        let merged = a.course_copies.iter().filter(|c| c.action == CourseAction::Merge).count();
        let renamed = a.course_copies.iter().filter(|c| c.action == CourseAction::Rename).count();
        vec![
            format!(
                "create {} bots{}",
                a.bots.len() + usize::from(a.default_bot.as_ref().is_some_and(|d| !a.bots.contains_key(d))),
                if opts.bot_token.is_some() { " (one token from BOT_API_TOKEN, placeholders for the others)" } else { " with placeholder tokens" }
            ),
            format!("merge {merged} identical course copies, rename {renamed} differing copies"),
            format!("create {} courses that rows reference but no course row holds", a.missing_courses.len()),
            format!("create {} course deployments (environment prod)", a.deployments_to_create),
        ]
    }

    fn apply_whole<'a>(&'a self, w: &'a Whole<'a>) -> BoxFuture<'a, std::result::Result<Counts, WorkError>> {
        Box::pin(async move { Ok(data(w.tx, w.analysis, w.opts).await?) })
    }

    fn check_whole(&self, _: &MigrateOptions) -> Option<&'static str> {
        Some(DATA_CHECK)
    }
}

/// Bots, course copies merged and renamed, courses rows reference, deployments, the
/// legacy interface's memory (`2_data.sql`), in the caller's transaction; what it did.
pub async fn data(tx: &Transaction<'_>, a: &Analysis, opts: &MigrateOptions) -> std::result::Result<Counts, tokio_postgres::Error> {
    let mut counts = Counts::new();
    let (bots_before, deployments_before) = count2(tx, DATA_COUNTS).await?;
    tx.batch_execute(DATA).await?;
    if let Some((name, token)) = &opts.bot_token {
        let n = tx.execute(BOT_TOKEN, &[&token.expose(), name]).await?;
        counts.insert("tokens_from_environment".into(), n as i64);
    }
    let (bots_after, deployments_after) = count2(tx, DATA_COUNTS).await?;
    counts.insert("bots_created".into(), bots_after - bots_before);
    counts.insert("deployments_created".into(), deployments_after - deployments_before);
    counts.insert("courses_merged".into(), a.course_copies.iter().filter(|c| c.action == CourseAction::Merge).count() as i64);
    counts.insert("courses_renamed".into(), a.course_copies.iter().filter(|c| c.action == CourseAction::Rename).count() as i64);
    counts.insert("courses_created".into(), a.missing_courses.len() as i64);
    Ok(counts)
}

async fn count2(tx: &Transaction<'_>, sql: &str) -> std::result::Result<(i64, i64), tokio_postgres::Error> {
    let row = tx.query_one(sql, &[]).await?;
    Ok((row.get(0), row.get(1)))
}
