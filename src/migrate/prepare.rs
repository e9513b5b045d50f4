//! Before `migrate` changes anything: what it will do with this database, decided once.
//!
//! [`prepare`] inspects the schema, refuses what cannot be done (a database that is not
//! ProfoChatBot's, a missing privilege, a decision the operator still has to make, a
//! role for a legacy interface that `finish` removed) and returns a [`Prepared`] value:
//! the action, the question to ask, whether a backup is taken, whether the migration
//! runs online. The caller asks and backs up as it says, then hands it to
//! [`super::run`]. Nothing here writes.

use tokio_postgres::GenericClient;

use super::analysis::{self, Analysis};
use super::decisions::{self, Action};
use super::steps::progress;
use super::{privileges, MigrateOptions};
use crate::conn::Db;
use crate::error::{Error, Result};
use crate::schema::{self, SchemaStatus};

/// What the operator confirms before anything changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirm {
    /// Migrate a legacy (or partly migrated) database.
    Migrate,
    /// Resume the online migration that stopped `at` (as [`crate::state::OnlineProgress::describe`] says).
    Resume { at: String },
    /// Build the `missing` secondary indexes still missing or invalid.
    FinishIndexes { missing: usize },
    /// Bring a database an older profochat-saas migrated to the current target: `differences`
    /// things differ (`status` lists them).
    Upgrade { differences: usize },
}

/// The backup before the migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backup {
    /// The migration starts from a database it changes whole: a backup is taken first.
    Take,
    /// One would be taken, but the caller asked for none (`--skip-backup`).
    Skipped,
    /// None is needed: nothing changes, a dry run, or a migration resumed or finished.
    NotNeeded,
}

/// What the caller does between [`prepare`] and [`super::run`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ahead {
    /// It asks the operator to confirm ([`Prepared::confirm`]): a missing decision is
    /// refused before the question.
    pub ask: bool,
    /// It takes a backup when [`Prepared::backup`] says so: the privileges to read
    /// everything are checked too, and a missing decision is refused before the backup.
    pub backup: bool,
}

/// What `migrate` will do with this database, decided before anything changes.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub target: String,
    /// The schema as [`prepare`] found it.
    pub status: SchemaStatus,
    pub action: Action,
    /// The options the migration runs with.
    pub opts: MigrateOptions,
    /// In steps that each commit (a new online migration, or one resumed), rather
    /// than in one transaction.
    pub online: bool,
    /// The question to ask before anything changes; None when nothing changes or in a dry run.
    pub confirm: Option<Confirm>,
    pub backup: Backup,
    /// Something happens between [`prepare`] and [`super::run`] (a question, a
    /// backup): `run` makes sure the database has not changed meanwhile.
    pub(super) ahead: bool,
}

/// Inspects the database and decides what `migrate` does with it, refusing before any
/// change (and before the question and the backup `ahead` says the caller makes)
/// when it cannot.
pub async fn prepare(db: &mut Db, opts: &MigrateOptions, ahead: Ahead) -> Result<Prepared> {
    let target = db.settings.display_target();
    let status = schema::inspect(db).await?;
    if opts.legacy_role.is_some() && !opts.dry_run && status.finished() {
        return Err(Error::state(
            format!("{target} is finished: `finish` removed the legacy interface, so no role can be set to it"),
            "Nothing was changed. The legacy bot cannot use this database any more; leave out --legacy-role.",
        ));
    }
    let action = decisions::action(&status, &target)?;
    let backup = match action {
        Action::Migrate | Action::Upgrade if !opts.dry_run && ahead.backup => Backup::Take,
        Action::Migrate | Action::Upgrade if !opts.dry_run => Backup::Skipped,
        _ => Backup::NotNeeded,
    };
    // Refuse before the backup and the question when a privilege is missing.
    if action != Action::Nothing {
        privileges::require(&db.client, backup == Backup::Take).await?;
    }
    if action == Action::Resume && (opts.dry_run || opts.single_transaction) {
        return Err(Error::state(
            format!("{target} has an online migration in progress"),
            "`profochat-saas migrate` resumes it online, `profochat-saas migrate --abort` undoes it; a dry run or --offline starts from a legacy database only.",
        ));
    }
    // ... and when a decision is missing (the migration decides again on the data it locks).
    if action == Action::Migrate && !opts.dry_run && (ahead.ask || ahead.backup) {
        let tx = db.client.transaction().await.map_err(|e| Error::query("starting the analysis", &e, "Nothing was changed."))?;
        analyse_decided(&tx, opts, None).await?;
        tx.rollback().await.map_err(|e| Error::query("ending the analysis", &e, "Nothing was changed."))?;
    }
    let confirm = match action {
        _ if opts.dry_run => None,
        Action::Nothing => None,
        Action::Migrate => Some(Confirm::Migrate),
        Action::Resume => Some(Confirm::Resume {
            at: progress::progress(&db.client).await?.map(|p| p.describe()).unwrap_or_else(|| "where it stopped".into()),
        }),
        Action::FinishIndexes => Some(Confirm::FinishIndexes {
            missing: status.secondary_indexes_missing.len() + status.secondary_indexes_invalid.len(),
        }),
        Action::Upgrade => Some(Confirm::Upgrade { differences: status.upgrade_needed.len() }),
    };
    let online = action == Action::Resume || (action == Action::Migrate && !opts.single_transaction && !opts.dry_run);
    Ok(Prepared {
        target,
        status,
        action,
        opts: opts.clone(),
        online,
        confirm,
        backup,
        ahead: ahead.ask || ahead.backup,
    })
}

impl Prepared {
    /// The schema now, when something happened since [`prepare`] looked at it (a
    /// question, a backup), refusing when it calls for another action than the one
    /// prepared (another `migrate` ran meanwhile); else the schema as prepared.
    pub(super) async fn current(&self, db: &Db) -> Result<SchemaStatus> {
        if !self.ahead {
            return Ok(self.status.clone());
        }
        let now = schema::inspect(db).await?;
        if decisions::action(&now, &self.target)? != self.action {
            return Err(Error::refused(
                format!("{} changed while `migrate` asked and backed up: it is {} now", self.target, now.state.describe()),
                "Run `profochat-saas migrate` again: it looks at the database as it is now.",
            ));
        }
        Ok(now)
    }
}

/// The default bot and the analysis (in the caller's transaction), refusing when a
/// decision is missing for them: what every path of the migration runs before it
/// changes the legacy data.
pub(crate) async fn analyse_decided<C: GenericClient + Sync>(
    client: &C,
    opts: &MigrateOptions,
    migration_id: Option<i32>,
) -> Result<(Option<String>, Analysis)> {
    let default_bot = decisions::default_bot(opts, &super::legacy_bot_names(client).await?).map(|(name, _)| name);
    let a = analysis::run(client, default_bot.as_deref(), migration_id).await?;
    decisions::require_decided(&decisions::pending(opts, default_bot.as_deref(), &a, false))?;
    Ok((default_bot, a))
}
