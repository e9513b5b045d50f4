//! How the operator resolves the anomalies (SPEC §3), shared by `plan` and `migrate`.

use serde::Serialize;

use crate::conn::Secret;
pub use crate::state::{CourseConflicts, Orphans, RecordedOptions};

/// Options of `plan` and `migrate`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MigrateOptions {
    /// `--default-bot`, else the legacy `BOT_NAME` (the CLI merges the two).
    pub default_bot: Option<String>,
    /// The legacy `BOT_API_TOKEN`, with the `BOT_NAME` it belongs to.
    #[serde(skip)]
    pub bot_token: Option<(String, Secret)>,
    pub course_conflicts: CourseConflicts,
    pub orphans: Orphans,
    /// Run everything and roll it back.
    pub dry_run: bool,
    /// `--offline`: everything in one transaction, the secondary indexes too (for a
    /// maintenance window; the bot waits). Without it the migration is online.
    pub single_transaction: bool,
    /// Connections that build secondary indexes after the commit.
    pub index_jobs: usize,
    /// How long a re-run waits for an index build that another session still runs (an
    /// earlier `migrate` interrupted while building) before it gives up and says so;
    /// `None`: 10 minutes.
    #[serde(skip)]
    pub index_wait: Option<std::time::Duration>,
    /// How long `migrate` keeps trying to lock the legacy tables, in short attempts
    /// (each waits at most [`crate::conn::short_lock::ATTEMPT`], so the bot's statements queued behind the
    /// request wait no longer than that), before it gives up; `None`: 60 s.
    #[serde(skip)]
    pub lock_wait: Option<std::time::Duration>,
    /// `--legacy-role`: the role whose search_path is set to the legacy interface once
    /// the migration is complete (refused on a finished database).
    #[serde(skip)]
    pub legacy_role: Option<String>,
    /// Test hook: fail on purpose after this phase (its number or name).
    #[serde(skip)]
    pub fail_in_phase: Option<String>,
    /// Test hook of the online migration: end the process at once, as kill -9 would,
    /// at "after:STEP" (a step's name, as `status` shows it) or "inside:TABLE:N" (in
    /// the Nth batch of that table's backfill, before its commit).
    #[serde(skip)]
    pub crash_at: Option<String>,
}


impl MigrateOptions {
    /// What the state table records of these options (never the token).
    pub fn recorded(&self) -> RecordedOptions {
        RecordedOptions {
            default_bot: self.default_bot.clone(),
            bot_token_from_env: self.bot_token.as_ref().map(|(name, _)| name.clone()),
            course_conflicts: self.course_conflicts,
            orphans: self.orphans,
            single_transaction: self.single_transaction,
            online: false,
            relink_all: None,
        }
    }

    /// These options with the decisions `recorded` when the migration started (the
    /// default bot, course conflicts, orphans) in place of this run's: a resumed
    /// migration never mixes two policies.
    pub fn with_recorded_decisions(&self, recorded: &RecordedOptions) -> MigrateOptions {
        MigrateOptions {
            default_bot: recorded.default_bot.clone().or_else(|| self.default_bot.clone()),
            course_conflicts: recorded.course_conflicts,
            orphans: recorded.orphans,
            ..self.clone()
        }
    }
}
