//! The secondary indexes, built concurrently: first the two the later backfills look
//! rows up with ([`LookupIndexes`]), the others once the big tables are backfilled
//! ([`Indexes`]), so that the rows the backfills change are not indexed twice. Over the
//! whole range (`migrate --offline`) they are built after the commit
//! ([`secondary`]), or inside the transaction with `single_transaction`.

use std::time::Duration;

use futures_util::future::BoxFuture;

use super::{stopped, Online, Step, Whole, WholeRange};
use crate::error::Result;
use super::Counts;
use crate::conn::Db;
use crate::error::Error;
use crate::migrate::analysis::Analysis;
use crate::migrate::work::WorkError;
use crate::migrate::{indexes, IndexReport, MigrateOptions};
use crate::report::Reporter;
use crate::state::OnlineStep;
use crate::target;

/// The indexes the backfills after the runs' look rows up with (the waiting elements'
/// run by bot and chat; the conversation rows of a run).
pub const LOOKUP_INDEXES: [&str; 2] = ["idx_run_chat", "idx_conversation_run"];

/// How long a re-run waits for an index build another session still runs, by default.
pub const DEFAULT_INDEX_WAIT: Duration = Duration::from_secs(600);
const RECORD_COMPLETED: &str = include_str!("../../../sql/migrate/run/record_completed.sql");
const ENSURE_INDEX: &str = include_str!("../../../sql/migrate/5_ensure_index.sql");

const UNDO: &str = "drops the indexes and keys";
/// How the bot is affected by the index builds ([`indexes::Build`]).
const SMALL_TABLE_AFFECTS: &str = "its writes to a table of at most 1 MiB wait while that table's index is built (milliseconds, the lock taken in short attempts); otherwise not at all";

pub struct LookupIndexes;

impl Step for LookupIndexes {
    fn id(&self) -> OnlineStep {
        OnlineStep::LookupIndexes
    }

    fn describe(&self) -> &'static str {
        "the indexes the next backfills look rows up with (run by bot and chat, conversation by run), built concurrently (a table of at most 1 MiB: in one scan under a short lock)"
    }

    fn undo(&self) -> &'static str {
        UNDO
    }

    fn affects(&self) -> &'static str {
        SMALL_TABLE_AFFECTS
    }

    async fn apply(&self, run: &mut Online<'_>) -> Result<Counts> {
        let built = indexes::build_missing_of(&run.db.settings, run.opts.index_jobs, Some(&LOOKUP_INDEXES), run.reporter).await?;
        if !built.failed.is_empty() {
            let failures: Vec<String> = built.failed.iter().map(|(n, why)| format!("{n} ({why})")).collect();
            return Err(stopped(self.id(), format!("indexes could not be built: {}", failures.join("; "))));
        }
        Ok(Counts::from([("indexes_built".to_string(), built.built.len() as i64)]))
    }
}

pub struct Indexes;

impl Step for Indexes {
    fn id(&self) -> OnlineStep {
        OnlineStep::Indexes
    }

    fn describe(&self) -> &'static str {
        "the other secondary indexes, once the big tables are backfilled: concurrently; those of tables of at most 1 MiB (the tool's own tables, the small legacy ones) in one scan under a short lock"
    }

    fn undo(&self) -> &'static str {
        UNDO
    }

    fn affects(&self) -> &'static str {
        SMALL_TABLE_AFFECTS
    }

    async fn apply(&self, run: &mut Online<'_>) -> Result<Counts> {
        run.indexes = secondary(run.db, None, run.opts, run.reporter).await?;
        if !run.indexes.failed.is_empty() {
            let failures: Vec<String> = run.indexes.failed.iter().map(|(n, why)| format!("{n} ({why})")).collect();
            return Err(stopped(self.id(), format!("secondary indexes could not be built: {}", failures.join("; "))));
        }
        Ok(Counts::from([("indexes_built".to_string(), run.indexes.built.len() as i64)]))
    }
}

/// Over the whole range (offline, phase 5): inside the transaction with
/// `single_transaction`; else only counted, and built after the commit ([`secondary`]).
impl WholeRange for Indexes {
    fn describe_whole(&self, _: &Analysis, opts: &MigrateOptions) -> Vec<String> {
        let n = target::secondary_indexes().len();
        vec![if opts.single_transaction {
            format!("{n} secondary indexes, inside the transaction")
        } else {
            format!("{n} secondary indexes, after the commit, {} at a time", opts.index_jobs.max(1))
        }]
    }

    fn apply_whole<'a>(&'a self, w: &'a Whole<'a>) -> BoxFuture<'a, std::result::Result<Counts, WorkError>> {
        Box::pin(async move {
            let n = target::secondary_indexes().len() as i64;
            if !w.opts.single_transaction {
                return Ok(Counts::from([("indexes_deferred".to_string(), n)]));
            }
            w.tx.batch_execute(target::sql::HELPERS).await?;
            for idx in target::secondary_indexes() {
                w.tx.execute(ENSURE_INDEX, &[&idx.name, &index_definition(&idx.statement)]).await?;
            }
            Ok(Counts::from([("indexes_built".to_string(), n)]))
        })
    }

    fn check_whole(&self, opts: &MigrateOptions) -> Option<&'static str> {
        opts.single_transaction.then_some(include_str!("../../../sql/migrate/checks/5_indexes.sql"))
    }
}

/// "ON table (cols) WHERE …" from a full CREATE INDEX statement.
pub fn index_definition(statement: &str) -> String {
    match statement.find(" ON ") {
        Some(i) => statement[i + 1..].to_string(),
        None => statement.to_string(),
    }
}

/// After the commit: waits for index builds another session still runs (an earlier,
/// interrupted `migrate`), builds the secondary indexes still missing, and records the
/// migration as completed once none is missing. Failed builds are in the report.
pub(crate) async fn secondary(db: &Db, migration_id: Option<i32>, opts: &MigrateOptions, reporter: &dyn Reporter) -> Result<IndexReport> {
    crate::migrate::index_wait::wait_for_other_builds(&db.client, opts.index_wait.unwrap_or(DEFAULT_INDEX_WAIT), reporter).await?;
    let report = indexes::build_missing(&db.settings, opts.index_jobs, reporter).await?;
    if report.failed.is_empty() {
        if let Some(id) = migration_id {
            db.execute(RECORD_COMPLETED, &[&id, &crate::state::MigrationStatus::Completed.as_str()])
                .await
                .map_err(|e| Error::query("recording the finished indexes", &e, "The migration itself is committed."))?;
        }
    }
    Ok(report)
}
