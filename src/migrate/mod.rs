//! `migrate`: the whole legacy → SaaS migration, atomic, idempotent and lossless.
//!
//! Everything from the first new column to the compatibility triggers happens in
//! one transaction, after the legacy tables are locked: it commits whole or not at
//! all. Before committing, the no-loss proof compares the legacy tables'
//! fingerprints with those taken at the start (archived changes reverted). Secondary
//! indexes are built after the commit on several connections, unless
//! `single_transaction` keeps them inside; if one of them cannot be built, the
//! migration stays committed, its outcome is [`Outcome::IndexesIncomplete`] (the
//! command ends with exit status 12) until a later `migrate` finishes it.
//!
//! [`migrate`] is the driver; each step is a value of [`steps`], and offline's
//! transaction is driven by [`offline`]; the refusals and decisions it shares with
//! `plan` are in [`decisions`].

pub mod analysis;
pub mod changes;
pub mod decisions;
pub mod index_wait;
pub mod indexes;
pub mod offline;
pub mod online;
pub mod options;
pub mod phases;
pub mod prepare;
pub mod privileges;
pub mod steps;
pub mod upgrade;
pub mod upstream;
pub mod work;

use std::time::Instant;

use serde::{Deserialize, Serialize};

use decisions::Action;
pub use options::{CourseConflicts, MigrateOptions, Orphans};
use steps::Counts;
pub use analysis::legacy_bot_names;
/// Offline: fresh statistics of the migrated tables before the proof and the validation
/// read them (the file's header says why).
const ANALYZE_MIGRATED: &str = include_str!("../../sql/migrate/run/analyze_migrated.sql");
pub use offline::prove;
pub use prepare::{prepare, Ahead, Backup, Confirm, Prepared};

use crate::conn::Db;
use crate::error::{Error, Result};
use crate::fingerprint::TableFingerprint;
use crate::report::Reporter;
use crate::schema::SchemaState;
use crate::validate;

/// How a `migrate` call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The migration ran and was committed.
    Migrated,
    /// The migration ran and was rolled back (`--dry-run`).
    DryRun,
    /// The database was migrated already: nothing changed.
    AlreadyMigrated,
    /// The data was migrated before; the missing secondary indexes were built now.
    IndexesFinished,
    /// An older profochat-saas migrated the database; its keys, indexes, ledger and
    /// enrolment function were brought to the current target now (the data unchanged).
    Upgraded,
    /// The migration is committed, but some secondary indexes could not be built
    /// (`indexes.failed` says which and why): `migrate` again finishes them.
    /// [`MigrationReport::unfinished`] is the error it ends with (exit status 12).
    IndexesIncomplete,
}

/// One phase as it ran.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseReport {
    pub number: u8,
    pub name: &'static str,
    pub elapsed_ms: u64,
    pub counts: Counts,
}

/// The no-loss proof for one legacy table, offline ([`steps::prove`], inside the
/// migration transaction) and online ([`changes::prove`], in a snapshot while the bot
/// writes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableProof {
    pub table: String,
    pub before: TableFingerprint,
    /// The table now, with the archived changes reverted: must equal `before`.
    pub after: TableFingerprint,
    /// Rows in the table now.
    pub rows_now: i64,
    pub archived_deleted: i64,
    pub archived_updated: i64,
    pub archived_inserted: i64,
    /// Online: rows the legacy bot or the application wrote while the migration ran,
    /// by key (inserted, changed, deleted), left out of both sides of the proof.
    #[serde(default)]
    pub written_meanwhile: Option<[i64; 3]>,
    /// Online: keys the application inserted and deleted again meanwhile (on neither side).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written_then_gone: Option<i64>,
    pub equal: bool,
}

/// The secondary indexes built after the commit.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IndexReport {
    pub built: Vec<String>,
    /// Index name and why it failed; `migrate` again finishes them.
    pub failed: Vec<(String, String)>,
    pub elapsed_ms: u64,
}

/// What `migrate` did.
#[derive(Debug, Clone, Serialize)]
pub struct MigrationReport {
    pub target: String,
    pub outcome: Outcome,
    pub migration_id: Option<i32>,
    pub default_bot: Option<String>,
    pub phases: Vec<PhaseReport>,
    pub proof: Vec<TableProof>,
    pub proof_ms: u64,
    pub indexes: IndexReport,
    /// Bots whose token is still a placeholder.
    pub bots_waiting_for_token: Vec<String>,
    /// The URL the legacy bot connects with to use the legacy interface (password masked).
    pub legacy_url: String,
    pub deployments: i64,
    pub analysis: Option<analysis::Analysis>,
    /// Validation inside the migration transaction (secondary indexes built after the
    /// commit show as pending there).
    pub validation: Option<validate::ValidationReport>,
    /// For [`Outcome::Upgraded`]: what differed from the current target, as `status` said.
    pub upgraded: Vec<String>,
    /// What an interrupted cleanup of a completed online migration had left, removed now.
    pub cleaned_up: Vec<String>,
    /// The role set to the legacy interface (`opts.legacy_role`), once the migration is complete.
    #[serde(skip)]
    pub legacy_role: Option<String>,
    pub total_ms: u64,
}

impl MigrationReport {
    pub(crate) fn unchanged(target: String, outcome: Outcome) -> Self {
        MigrationReport {
            target,
            outcome,
            migration_id: None,
            default_bot: None,
            phases: vec![],
            proof: vec![],
            proof_ms: 0,
            indexes: IndexReport::default(),
            bots_waiting_for_token: vec![],
            legacy_url: String::new(),
            deployments: 0,
            analysis: None,
            validation: None,
            upgraded: vec![],
            cleaned_up: vec![],
            legacy_role: None,
            total_ms: 0,
        }
    }

    /// The report with its outcome settled: [`Outcome::IndexesIncomplete`] when a
    /// secondary index could not be built.
    pub(crate) fn settled(mut self) -> MigrationReport {
        if !self.indexes.failed.is_empty() {
            self.outcome = Outcome::IndexesIncomplete;
        }
        self
    }

    /// For [`Outcome::IndexesIncomplete`]: the error the command ends with (exit status
    /// 12), saying which indexes could not be built and why. None for any other outcome.
    pub fn unfinished(&self) -> Option<Error> {
        if self.outcome != Outcome::IndexesIncomplete {
            return None;
        }
        Some(Error::Unfinished {
            what: format!(
                "{} of {} secondary indexes could not be built",
                self.indexes.failed.len(),
                self.indexes.failed.len() + self.indexes.built.len()
            ),
            failures: self.indexes.failed.iter().map(|(name, why)| format!("{name} ({why})")).collect(),
            hint: "The legacy bot keeps working; queries that need these indexes are slower until they exist. \
                   Fix the cause and run `profochat-saas migrate` again: it builds only what is missing."
                .into(),
        })
    }

    /// The report, or for [`Outcome::IndexesIncomplete`] its [`Self::unfinished`] error:
    /// for callers to whom a migration left unfinished is a failure.
    pub fn into_result(self) -> Result<MigrationReport> {
        match self.unfinished() {
            Some(e) => Err(e),
            None => Ok(self),
        }
    }

    /// Archived changes, summed over the tables.
    pub fn archived_total(&self) -> i64 {
        self.proof
            .iter()
            .map(|p| p.archived_deleted + p.archived_updated + p.archived_inserted)
            .sum()
    }
}

const BOTS_WAITING: &str = include_str!("../../sql/migrate/run/bots_waiting_for_token.sql");

/// Bots whose token is still a placeholder.
pub async fn bots_waiting_for_token<C: tokio_postgres::GenericClient + Sync>(client: &C) -> Result<Vec<String>> {
    let rows = client
        .query(BOTS_WAITING, &[&crate::target::PLACEHOLDER_TOKEN_PREFIX])
        .await
        .map_err(|e| Error::query("listing bots without a token", &e, "The transaction was rolled back: nothing was changed."))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Migrates the database (or, with `dry_run`, runs the migration and rolls it back):
/// [`prepare`] then [`run`], with nothing in between.
pub async fn migrate(db: &mut Db, opts: &MigrateOptions, reporter: &dyn Reporter) -> Result<MigrationReport> {
    let started = Instant::now();
    let prepared = prepare(db, opts, Ahead::default()).await?;
    run_from(db, &prepared, reporter, started).await
}

/// Does what [`prepare`] decided. A failure while the migration transaction is open
/// is [`Error::RolledBack`] (or [`Error::PhaseFailed`]): exit status 7, whatever
/// statement failed. With `opts.legacy_role`, once the migration is complete, that
/// role is set to the legacy interface.
pub async fn run(db: &mut Db, prepared: &Prepared, reporter: &dyn Reporter) -> Result<MigrationReport> {
    run_from(db, prepared, reporter, Instant::now()).await
}

async fn run_from(db: &mut Db, prepared: &Prepared, reporter: &dyn Reporter, started: Instant) -> Result<MigrationReport> {
    let mut in_transaction = false;
    let result = migrate_in(db, prepared, reporter, started, &mut in_transaction).await;
    let mut report = result.map_err(|e| if in_transaction { e.rolled_back() } else { e })?;
    if let Some(role) = &prepared.opts.legacy_role {
        if !prepared.opts.dry_run && report.outcome != Outcome::IndexesIncomplete {
            crate::legacy::set_role(&db.client, role, false).await?;
            report.legacy_role = Some(role.clone());
        }
    }
    Ok(report)
}

async fn migrate_in(db: &mut Db, prepared: &Prepared, reporter: &dyn Reporter, started: Instant, in_transaction: &mut bool) -> Result<MigrationReport> {
    let (target, action, opts) = (prepared.target.clone(), prepared.action, &prepared.opts);
    let status = prepared.current(db).await?;
    let migration_id = status.last_migration.as_ref().map(|m| m.migration_id);
    // A completed online migration whose cleanup was interrupted: finished first.
    let cleaned_up = if opts.dry_run || !status.state.is_migrated() || crate::schema::leftovers::leftovers(&db.client).await?.is_empty() {
        vec![]
    } else {
        reporter.started("online: cleanup", None);
        let t = Instant::now();
        let removed = online::cleanup(db).await?;
        reporter.finished("online: cleanup", t.elapsed(), &removed.join(", "));
        removed
    };
    match action {
        Action::Nothing => {
            let mut r = offline::already_migrated(db, target, migration_id).await?;
            r.cleaned_up = cleaned_up;
            return Ok(r);
        }
        Action::FinishIndexes => return offline::finish_indexes(db, target, migration_id, opts, reporter, started).await,
        Action::Upgrade => return upgrade::upgrade(db, &status, opts, reporter).await,
        Action::Migrate | Action::Resume if prepared.online => {
            // A database partly migrated by hand or by an older script: its links cannot
            // be trusted, so the backfill links every row again.
            let relink = status.state == SchemaState::PartlyMigrated;
            return online::run(db, opts, relink, reporter, started).await;
        }
        Action::Migrate | Action::Resume => {}
    }

    let tx = db.client.transaction().await.map_err(offline::q("starting the migration transaction"))?;
    *in_transaction = true;
    let pre = offline::preflight(&tx, opts, reporter).await?;
    let phases = offline::phases(&tx, &pre.analysis, opts, reporter).await?;
    offline::upstream(&tx, started, reporter).await?;
    tx.batch_execute(ANALYZE_MIGRATED).await.map_err(offline::q("analysing the migrated tables"))?;
    let (proof, after, proof_ms) = offline::prove_no_loss(&tx, &pre, reporter).await?;
    let validation = offline::validate_inside(&tx, pre.migration_id, opts, reporter).await?;
    let (waiting, deployments) = offline::record(&tx, &pre, &phases, &after, &proof, opts).await?;
    let outcome = offline::commit(tx, opts).await?;
    *in_transaction = false;
    if outcome == Outcome::Migrated {
        reporter.committed("the migration is committed");
    }
    let indexes = match outcome {
        Outcome::Migrated if !opts.single_transaction => steps::indexes::secondary(db, Some(pre.migration_id), opts, reporter).await?,
        _ => IndexReport::default(),
    };

    Ok(MigrationReport {
        target,
        outcome,
        migration_id: Some(pre.migration_id),
        default_bot: pre.default_bot,
        phases,
        proof,
        proof_ms,
        indexes,
        bots_waiting_for_token: waiting,
        legacy_url: crate::legacy::legacy_url(&db.settings),
        deployments,
        analysis: Some(pre.analysis),
        validation: Some(validation),
        upgraded: vec![],
        cleaned_up: vec![],
        legacy_role: None,
        total_ms: started.elapsed().as_millis() as u64,
    }
    .settled())
}
