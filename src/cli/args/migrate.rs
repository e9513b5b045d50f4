//! `migrate` and `restore`: the migration's own options, and putting a backup back.

use std::path::PathBuf;

use clap::Args;

use super::{BackupDirArgs, ConfirmArgs, ConnArgs, OutputArgs, PolicyArgs};

#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Run the migration in a transaction that is rolled back; report the real counts.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not take a backup first (not recommended).
    #[arg(long)]
    pub skip_backup: bool,
    #[command(flatten)]
    pub dir: BackupDirArgs,
    /// Everything in one transaction, the secondary indexes too, for a maintenance window:
    /// faster, and the bot waits for the whole migration. Without it the migration is
    /// online: short locks, small batches, the bot never waits long.
    #[arg(long = "offline", visible_alias = "single-transaction")]
    pub single_transaction: bool,
    /// Connections that build the secondary indexes concurrently (one table each at a time).
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=16))]
    pub jobs: u16,
    /// Undo an online migration that stopped before its switch (or is running elsewhere:
    /// stop that first) and return to the exact legacy database: online, in short
    /// batches while the bot works (resumable), or with --offline in one transaction.
    #[arg(long)]
    pub abort: bool,
    /// How long to keep trying to lock the legacy tables, in attempts of 200 ms each (the
    /// bot's statements never queue longer than that behind the request).
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub lock_wait: u64,
    /// After the migration, set this role's search_path (in this database) to the
    /// legacy interface, so the legacy bot connecting as it needs no change of URL.
    #[arg(long, value_name = "ROLE")]
    pub legacy_role: Option<String>,
    #[command(flatten)]
    pub confirm: ConfirmArgs,
    #[command(flatten)]
    pub out: OutputArgs,
    /// (test hook) fail deliberately in this phase, to prove atomicity.
    #[arg(long, hide = true, value_name = "PHASE")]
    pub fail_in_phase: Option<String>,
    /// (test hook) end the process as kill -9 would: "after:STEP" or "inside:TABLE:N".
    #[arg(long, hide = true, value_name = "WHERE")]
    pub crash_at: Option<String>,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup file (pg_dump custom format).
    pub file: PathBuf,
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Restore into a new database of this name instead of the configured one.
    #[arg(long, value_name = "NAME")]
    pub into: Option<String>,
    /// End other sessions connected to the target database first.
    #[arg(long)]
    pub terminate_connections: bool,
    /// Let a backup of another database replace the configured one.
    #[arg(long)]
    pub from_other_database: bool,
    #[command(flatten)]
    pub confirm: ConfirmArgs,
    #[command(flatten)]
    pub out: OutputArgs,
}
