//! Prepare: the analysis again (the bot wrote since the preflight), kept for the
//! backfill; then, with the legacy tables' writes held for a moment, bots, course
//! copies, deployments, the legacy memory, the compatibility triggers and the legacy
//! interface, so that every write from then on is linked and the legacy bot sees its
//! courses as before.

use tokio_postgres::Transaction;

use super::{progress, q, stopped, Online, Step, STOPPED_HINT};
use crate::conn::short_lock::{self, Attempts, Prologue};
use crate::error::{pg_error_text, Result};
use crate::migrate::analysis::{Analysis, CourseAction};
use super::Counts;
use crate::migrate::MigrateOptions;
use crate::state::OnlineStep;
use crate::target;

const DATA: &str = include_str!("../../../sql/migrate/2_data.sql");
const DATA_COUNTS: &str = include_str!("../../../sql/migrate/2_counts.sql");
const BOT_TOKEN: &str = include_str!("../../../sql/migrate/2_bot_token.sql");
/// What must hold once the data is prepared: a count of what is not done.
pub const DATA_CHECK: &str = include_str!("../../../sql/migrate/checks/2_data.sql");
const COMPAT: &str = include_str!("../../../sql/migrate/7_compat.sql");
const LEGACY_WRITE: &str = include_str!("../../../sql/migrate/7_legacy_write.sql");
const LEGACY_INTERFACE: &str = include_str!("../../../sql/migrate/8_legacy_interface.sql");
const DDL_GUARD: &str = include_str!("../../../sql/migrate/9_ddl_guard.sql");
const LEGACY_STATE_FROM_ARCHIVE: &str = include_str!("../../../sql/migrate/8_legacy_state_from_archive.sql");

/// The compatibility layer, the legacy interface and the schema-change guard, as the prepare step
/// (offline: phase 7) installs them; for a database an older version migrated, with the legacy
/// interface's state rebuilt from its archive first.
pub async fn install_legacy_interface(tx: &Transaction<'_>, from_archive: bool) -> std::result::Result<(), tokio_postgres::Error> {
    tx.batch_execute(target::sql::STATE).await?;
    if from_archive {
        tx.batch_execute(LEGACY_STATE_FROM_ARCHIVE).await?;
    }
    let schema: String = tx.query_one(target::sql::TABLES_SCHEMA, &[]).await?.get(0);
    tx.batch_execute(LEGACY_WRITE).await?;
    tx.batch_execute(&target::sql::in_schema(COMPAT, &schema)).await?;
    tx.batch_execute(&legacy_interface_sql(&schema)).await?;
    tx.batch_execute(DDL_GUARD).await?;
    tx.batch_execute(target::sql::FUNCTION_PRIVILEGES).await?;
    tx.batch_execute(target::sql::STATE_PRIVILEGES).await
}

/// The legacy interface (8_legacy_interface.sql) for tables in `schema`, with the
/// privileges of its functions.
pub fn legacy_interface_sql(schema: &str) -> String {
    format!("{}\n{}", target::sql::in_schema(LEGACY_INTERFACE, schema), target::sql::FUNCTION_PRIVILEGES)
}

/// The compatibility triggers on the public tables (7_compat.sql).
pub const COMPAT_TRIGGERS: i64 = 9;
const PERSIST: &str = include_str!("../../../sql/migrate/online/persist.sql");
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
            let (_, a) = crate::migrate::prepare::analyse_decided(&tx, opts, Some(run.state.migration_id)).await?;
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
            let counts = data(&tx, &a, opts).await.map_err(|e| stopped(step, format!("the data: {}", pg_error_text(&e))))?;
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
            run.reporter.info(&format!(
                "the legacy interface is in place: the legacy bot can switch to it now and sees its tables as before ({})",
                crate::legacy::legacy_url(&run.db.settings)
            ));
            run.analysis = Some(a);
            return Ok(counts);
        }
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
