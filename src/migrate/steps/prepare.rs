//! Prepare: the analysis again (the bot wrote since the preflight), kept for the
//! backfill; then, with the legacy tables' writes held for a moment, bots, course
//! copies, deployments, the legacy memory, the compatibility triggers and the legacy
//! interface, so that every write from then on is linked and the legacy bot sees its
//! courses as before.

use super::{progress, q, stopped, Online, Step, STOPPED_HINT};
use crate::conn::short_lock::{self, Attempts, Prologue};
use crate::error::{pg_error_text, Result};
use crate::migrate::phases::{self, Counts, Phase};
use crate::migrate::{analysis, offline};
use crate::plan::decisions;
use crate::state::OnlineStep;
use crate::target;

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
            let default_bot = decisions::default_bot(opts, &offline::legacy_bot_names(&tx).await?).map(|(name, _)| name);
            let a = analysis::run(&tx, default_bot.as_deref(), Some(run.state.migration_id)).await?;
            decisions::require_decided(&decisions::pending(opts, default_bot.as_deref(), &a, false))?;
            crate::migrate::work::run(&tx, PERSIST).await.map_err(|e| e.into_query("keeping the analysis for the backfill", STOPPED_HINT))?;
            tx.batch_execute(target::sql::STATE_PRIVILEGES).await.map_err(q("keeping the analysis for the backfill"))?;
            if let Err(e) = tx.batch_execute(LOCK_SHARE).await {
                drop(tx);
                if !attempts.again(&e).await {
                    return Err(stopped(step, format!("locking the legacy tables: {}", pg_error_text(&e))));
                }
                if attempt == 1 {
                    run.reporter.warn("the legacy tables are in use (the running bot, a long query): retrying the prepare step's lock in short attempts");
                }
                continue;
            }
            let counts = Phase::Data.apply(&tx, &a, opts).await.map_err(|e| stopped(step, e.to_string()))?;
            // The small tables' keys: the compatibility layer's upserts name them.
            tx.batch_execute(&super::keys::small_keys())
                .await
                .map_err(|e| stopped(step, format!("the keys of the new tables: {}", pg_error_text(&e))))?;
            phases::install_legacy_interface(&tx, false).await.map_err(|e| stopped(step, pg_error_text(&e)))?;
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
