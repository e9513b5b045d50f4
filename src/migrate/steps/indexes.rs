//! The secondary indexes, built concurrently: first the two the later backfills look
//! rows up with ([`LookupIndexes`]), the others once the big tables are backfilled
//! ([`Indexes`]), so that the rows the backfills change are not indexed twice.

use super::{stopped, Online, Step};
use crate::error::Result;
use crate::migrate::phases::Counts;
use crate::migrate::{indexes, offline};
use crate::state::OnlineStep;

/// The indexes the backfills after the runs' look rows up with (the waiting elements'
/// run by bot and chat; the conversation rows of a run).
pub const LOOKUP_INDEXES: [&str; 2] = ["idx_run_chat", "idx_conversation_run"];

const UNDO: &str = "drops the indexes and keys";

pub struct LookupIndexes;

impl Step for LookupIndexes {
    fn id(&self) -> OnlineStep {
        OnlineStep::LookupIndexes
    }

    fn describe(&self) -> &'static str {
        "the indexes the next backfills look rows up with (run by bot and chat, conversation by run), built concurrently"
    }

    fn undo(&self) -> &'static str {
        UNDO
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
        "the other secondary indexes, built concurrently once the big tables are backfilled"
    }

    fn undo(&self) -> &'static str {
        UNDO
    }

    async fn apply(&self, run: &mut Online<'_>) -> Result<Counts> {
        run.indexes = offline::indexes(run.db, None, run.opts, run.reporter).await?;
        if !run.indexes.failed.is_empty() {
            let failures: Vec<String> = run.indexes.failed.iter().map(|(n, why)| format!("{n} ({why})")).collect();
            return Err(stopped(self.id(), format!("secondary indexes could not be built: {}", failures.join("; "))));
        }
        Ok(Counts::from([("indexes_built".to_string(), run.indexes.built.len() as i64)]))
    }
}
