//! The steps of the migration, one file each, in the order [`OnlineStep::all`] gives.
//!
//! Every step implements [`Step`]: what it does ([`Step::describe`], for `plan`, the
//! progress lines and the README), its work ([`Step::apply`]), what must hold once it
//! applied ([`Step::check`]) and how `migrate --abort` undoes it ([`Step::undo`]).
//! [`with_step!`] turns a recorded [`OnlineStep`] into its step value. The driver
//! (`super::online`) runs them in order and records each once it is done.
//!
//! Offline (`migrate --offline`) runs the same steps over the whole key range, in one
//! transaction: each step's [`WholeRange`] form, beside its batched form in its file,
//! in the order of the phases of [`super::phases::PHASES`] (the expand step is two of
//! them, the account and the new tables; the prepare step's legacy interface is the last,
//! [`finalize`], once the data is linked).

pub mod backfill;
pub mod chat_index;
pub mod cleanup;
pub mod expand;
pub mod finalize;
pub mod indexes;
pub mod keys;
pub mod prepare;
pub mod progress;
pub mod switch;

use std::collections::BTreeMap;
use std::time::Instant;

use futures_util::future::BoxFuture;
use tokio_postgres::{Client, Transaction};

use super::analysis::Analysis;
use super::{IndexReport, MigrateOptions};
use crate::conn::short_lock::{self, Prologue};
use crate::conn::Db;
use crate::error::{pg_error_text, Error, Result};
use crate::report::Reporter;
use crate::state::{OnlineProgress, OnlineStep};
use super::work::WorkError;

/// What applying a phase or a step did: counts by name.
pub type Counts = BTreeMap<String, i64>;

/// "bots created 3, deployments created 2": the counts that are not zero, for a progress line.
pub fn summarize(counts: &Counts) -> String {
    counts
        .iter()
        .filter(|(_, v)| **v != 0)
        .map(|(k, v)| format!("{} {v}", k.replace('_', " ")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One step of the migration.
pub(crate) trait Step {
    /// The step as `online_progress` records it.
    fn id(&self) -> OnlineStep;

    /// What the step does (for `plan`, the progress lines and the README).
    fn describe(&self) -> &'static str;

    /// How `migrate --abort` undoes it.
    fn undo(&self) -> &'static str;

    /// How the running legacy bot is affected while it runs (for the README).
    fn affects(&self) -> &'static str;

    /// The step's work, in short transactions or batches, each committed.
    async fn apply(&self, run: &mut Online<'_>) -> Result<Counts>;

    /// What must hold once the step applied: a violation stops the migration before
    /// the step is recorded as done.
    async fn check(&self, _run: &mut Online<'_>) -> Result<()> {
        Ok(())
    }
}

/// A step over the whole key range, in the one transaction of `migrate --offline`
/// (the phases of [`super::phases::PHASES`] run them in order). It runs the same SQL
/// files as the step's batches where the two coincide; the whole range needs no batch,
/// no short lock (the preflight locked the legacy tables) and no progress record.
pub(crate) trait WholeRange: Sync {
    /// What it will do on this database (for `plan`).
    fn describe_whole(&self, a: &Analysis, opts: &MigrateOptions) -> Vec<String>;

    /// Its work, in the migration transaction; what it did.
    fn apply_whole<'a>(&'a self, w: &'a Whole<'a>) -> BoxFuture<'a, std::result::Result<Counts, WorkError>>;

    /// What must hold once it applied: a query that counts what is not done (0
    /// expected); none when there is nothing to check. (The full `validate` runs before
    /// the commit.)
    fn check_whole(&self, opts: &MigrateOptions) -> Option<&'static str>;
}

/// The one transaction of `migrate --offline` as its steps see it: the transaction,
/// the preflight's analysis, the options.
pub(crate) struct Whole<'a> {
    pub tx: &'a Transaction<'a>,
    pub analysis: &'a Analysis,
    pub opts: &'a MigrateOptions,
}

impl Whole<'_> {
    /// The one value the query `sql` returns (a count).
    pub async fn count(&self, sql: &str) -> std::result::Result<i64, tokio_postgres::Error> {
        Ok(self.tx.query_one(sql, &[]).await?.get(0))
    }
}

/// Runs `$body` with `$v` bound to the step value of the [`OnlineStep`] `$s`.
macro_rules! with_step {
    ($s:expr, $v:ident => $body:expr) => {
        match $s {
            $crate::state::OnlineStep::Expand => {
                let $v = $crate::migrate::steps::expand::Expand;
                $body
            }
            $crate::state::OnlineStep::ChatIndex => {
                let $v = $crate::migrate::steps::chat_index::ChatIndex;
                $body
            }
            $crate::state::OnlineStep::Prepare => {
                let $v = $crate::migrate::steps::prepare::Prepare;
                $body
            }
            $crate::state::OnlineStep::Backfill(t) => {
                let $v = $crate::migrate::steps::backfill::Backfill(t);
                $body
            }
            $crate::state::OnlineStep::LookupIndexes => {
                let $v = $crate::migrate::steps::indexes::LookupIndexes;
                $body
            }
            $crate::state::OnlineStep::Indexes => {
                let $v = $crate::migrate::steps::indexes::Indexes;
                $body
            }
            $crate::state::OnlineStep::Keys => {
                let $v = $crate::migrate::steps::keys::Keys;
                $body
            }
            $crate::state::OnlineStep::Switch => {
                let $v = $crate::migrate::steps::switch::Switch;
                $body
            }
            $crate::state::OnlineStep::Cleanup => {
                let $v = $crate::migrate::steps::cleanup::Cleanup;
                $body
            }
        }
    };
}
pub(crate) use with_step;

impl OnlineStep {
    /// What the step does (for `plan` and the progress lines).
    pub fn describe(self) -> &'static str {
        with_step!(self, s => s.describe())
    }

    /// How `migrate --abort` undoes it.
    pub fn undo(self) -> &'static str {
        with_step!(self, s => s.undo())
    }

    /// How the running legacy bot is affected while it runs.
    pub fn affects(self) -> &'static str {
        with_step!(self, s => s.affects())
    }

    /// Its place in the order, from 1.
    pub fn number(self) -> u8 {
        OnlineStep::all().iter().position(|s| *s == self).map(|i| i as u8 + 1).unwrap_or(0)
    }
}

/// One online migration as it runs: the connection, where it stands, and what its
/// steps found for the report.
pub(crate) struct Online<'a> {
    pub db: &'a mut Db,
    pub state: OnlineProgress,
    pub opts: &'a MigrateOptions,
    pub reporter: &'a dyn Reporter,
    /// Every row linked again (a database partly migrated before).
    pub relink: bool,
    /// When `migrate` started (upstream's ledger records the duration).
    pub started: Instant,
    /// The analysis the prepare step kept, when it ran in this call.
    pub analysis: Option<Analysis>,
    /// The preflight's analysis, when this call started the migration, until the
    /// prepare step used it or analysed again.
    pub preflight: Option<prepare::Preflight>,
    /// The secondary indexes the indexes step built.
    pub indexes: IndexReport,
}

impl Online<'_> {
    /// Records `step` as done and the next one as under way.
    pub async fn done(&mut self, step: OnlineStep) -> Result<()> {
        self.state.done = Some(step);
        self.state.current = step.next();
        self.state.last_key = None;
        self.state.max_key = None;
        self.state.batches = 0;
        self.state.rows = 0;
        progress::record(&self.db.client, &self.state).await
    }

    /// The test hook [`crash_point`].
    pub fn crash_point(&self, here: &str) {
        crash_point(self.opts, here)
    }

    /// One short transaction of schema changes ([`short_ddl`]) for `step`.
    pub async fn short_ddl(&mut self, sql: &str, what: &str, step: OnlineStep) -> Result<()> {
        short_ddl(&self.db.client, sql, what, step, self.opts, self.reporter).await
    }
}

/// What an online migration that stops before its switch leaves.
pub const STOPPED_HINT: &str = "The online migration stops here; what its committed steps did stays, and the legacy bot keeps working. \
     `profochat-saas status` shows where it stopped, `profochat-saas migrate` resumes it, `profochat-saas migrate --abort` returns to the legacy database.";

/// Test hook (`--crash-at`): ends the process at once, as kill -9 would, at a step
/// boundary ("after:STEP"), inside a batch before its commit ("inside:TABLE:N"), or
/// inside the keys step once its NOT NULL checks ("inside:keys:1") or a foreign key
/// ("inside:keys:2") are added.
pub(crate) fn crash_point(opts: &MigrateOptions, here: &str) {
    if opts.crash_at.as_deref() == Some(here) {
        std::process::abort();
    }
}

pub(crate) fn q(context: &'static str) -> impl Fn(tokio_postgres::Error) -> Error {
    move |e| Error::query(context, &e, STOPPED_HINT)
}

pub(crate) fn stopped(step: OnlineStep, cause: String) -> Error {
    Error::Stopped { step, cause, hint: STOPPED_HINT.into() }
}

/// Runs one short transaction of schema changes in short lock attempts
/// ([`short_lock::own_transaction`]), up to `opts.lock_wait`.
pub(crate) async fn short_ddl(client: &Client, sql: &str, what: &str, step: OnlineStep, opts: &MigrateOptions, reporter: &dyn Reporter) -> Result<()> {
    let bound = opts.lock_wait.unwrap_or(short_lock::DEFAULT_BOUND);
    let warn = |n: u32| {
        if n == 1 {
            reporter.warn(&format!("{what}: the tables are in use (the running bot, a long query): retrying in short attempts"))
        }
    };
    short_lock::own_transaction(client, Prologue::DDL, sql, bound, warn)
        .await
        .map(|_| ())
        .map_err(|f| stopped(step, format!("{what}: {} (after {} attempt(s))", pg_error_text(&f.error), f.attempts)))
}

/// The steps as the README's table lists them, one row each: number and name, what
/// it does, how the bot is affected, from the step values themselves.
pub fn readme_rows() -> String {
    OnlineStep::all()
        .into_iter()
        .map(|s| format!("| {} {} | {} | {} |\n", s.number(), s.name(), s.describe(), s.affects()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_is_its_own_value_and_says_what_it_does_and_how_it_is_undone() {
        for s in OnlineStep::all() {
            assert_eq!(with_step!(s, v => v.id()), s);
            assert!(!s.describe().is_empty() && !s.undo().is_empty() && !s.affects().is_empty(), "{}", s.name());
        }
    }

    /// The README's table of the steps is what the step values say of themselves.
    #[test]
    fn the_readme_lists_the_steps_as_they_describe_themselves() {
        let readme = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
        assert!(readme.contains(&readme_rows()), "README.md's table of the online steps should read:\n{}", readme_rows());
    }
}
