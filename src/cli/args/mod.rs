//! Every command-line type of the binary: the global options and the command list here,
//! the migration's and the operating commands' own types in [`migrate`] and [`ops`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
pub use profochat_saas::migrate::{CourseConflicts, Orphans};
pub use profochat_saas::ops::{Role, TokenType};

mod migrate;
mod ops;

pub use migrate::{MigrateArgs, RestoreArgs};
pub use ops::{AccountCommand, BotCommand, CourseCommand, DeploymentCommand, MemberCommand, TenantCommand, TokenCommand};

#[derive(Debug, Parser)]
#[command(
    name = "profochat-saas",
    version,
    about = "Moves a live ProfoChatBot PostgreSQL database to the multi-tenant SaaS schema, and operates it after.",
    long_about = None,
    after_help = "Connection: --database-url (a URL or a libpq key=value string), else DATABASE_URL (environment or ./.env), \
                  else the PG* variables; a missing password comes from ~/.pgpass (PGPASSFILE), or is asked for on a terminal.\n\n\
                  The old migrate.sh flags work alone: profochat-saas --dry-run | --skip-backup | --rollback FILE | --list-backups.\n\n\
                  Exit codes: 0 ok, 1 unexpected failure, 2 usage, settings or bad input, 3 connection, \
                  4 wrong database state or missing privilege, 5 refused (a decision or confirmation is needed), \
                  6 validation failed, 7 migration failed and was rolled back, 8 external tool failed, 9 would lose data, \
                  10 not found, 11 token refused, 12 committed but unfinished (an index not built: `migrate` again finishes it), \
                  13 online migration stopped before its switch (`migrate` resumes it, `migrate --abort` undoes it), \
                  141 standard output closed (a pipe whose reader ended, as in `| head`), \
                  130 interrupted (Ctrl-C or SIGTERM).",
    // The old migrate.sh spellings (--list-backups, --rollback FILE, --dry-run,
    // --skip-backup) stand alone; `run` refuses them next to a subcommand.
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// List the backups, like `backups`.
    #[arg(long, help_heading = "Old migrate.sh flags (without a subcommand)")]
    pub list_backups: bool,

    /// Restore this backup, like `restore FILE`.
    #[arg(long, value_name = "FILE", help_heading = "Old migrate.sh flags (without a subcommand)")]
    pub rollback: Option<PathBuf>,

    /// With --rollback, --dry-run or --skip-backup: do not ask.
    #[arg(short = 'y', long, help_heading = "Old migrate.sh flags (without a subcommand)")]
    pub yes: bool,

    /// Migrate in a transaction that is rolled back, like `migrate --dry-run`.
    #[arg(long, help_heading = "Old migrate.sh flags (without a subcommand)")]
    pub dry_run: bool,

    /// Migrate without taking a backup first, like `migrate --skip-backup`.
    #[arg(long, help_heading = "Old migrate.sh flags (without a subcommand)")]
    pub skip_backup: bool,

    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Args, Clone, Default)]
pub struct GlobalArgs {
    /// More detail on standard error (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Machine-readable JSON on standard output (before or after the subcommand).
    #[arg(long = "json", id = "json", global = true)]
    pub json: bool,

    /// PostgreSQL URL or libpq string of the database (before or after the subcommand; else DATABASE_URL, else PG*).
    #[arg(long = "database-url", id = "database_url", value_name = "URL", global = true)]
    pub database_url: Option<String>,
}

/// How to reach the database. Flattened into every command that connects.
#[derive(Debug, Args, Clone, Default)]
pub struct ConnArgs {
    /// PostgreSQL URL, e.g. postgresql://user:password@host:5432/db?sslmode=require, or a
    /// libpq string (host=... dbname=... user=...). In a URL, percent-encode '@ : / ? #'
    /// in the password (%40 %3A %2F %3F %23).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_name = "URL")]
    pub database_url: Option<String>,

    /// Do not read ./.env.
    #[arg(long)]
    pub no_dotenv: bool,
}

/// How anomalies are resolved; shared by `plan` and `migrate` so both say the same.
#[derive(Debug, Args, Clone, Default)]
pub struct PolicyArgs {
    /// The bot that rows without a bot name belong to (default: BOT_NAME, else the only bot).
    #[arg(long, env = "BOT_NAME", hide_env_values = true, value_name = "NAME")]
    pub default_bot: Option<String>,

    /// One course_id under several bots with different content: give the other copies a
    /// new id (rename), or refuse (fail).
    #[arg(long, value_enum, default_value_t = CourseConflicts::Rename)]
    pub course_conflicts: CourseConflicts,

    /// conversation.run_id pointing at no run: set it NULL and archive it (detach), or keep
    /// it and add the foreign key NOT VALID (keep).
    #[arg(long, value_enum, default_value_t = Orphans::Detach)]
    pub orphans: Orphans,

    /// A bot's scripts/<BOT_FOLDER>courses.yml: the content of its YAML courses goes into
    /// the database after the migration (BOT=FILE when the folder is not named after the
    /// bot). Repeatable.
    #[arg(long = "courses-yml", value_name = "[BOT=]FILE")]
    pub courses_yml: Vec<profochat_saas::courses_yml::CoursesYmlArg>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct OutputArgs {
    /// Machine-readable JSON on standard output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args, Clone, Default)]
pub struct ConfirmArgs {
    /// Do not ask; needed when there is no terminal.
    #[arg(short = 'y', long)]
    pub yes: bool,
}

#[derive(Debug, Args, Clone)]
pub struct BackupDirArgs {
    /// Where backups are written and looked for.
    #[arg(long, value_name = "DIR", default_value = "backups")]
    pub backup_dir: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Is the database legacy, partly migrated or migrated? Since when?
    Status {
        #[command(flatten)]
        conn: ConnArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// What `migrate` would do here: counts, anomalies and their outcome, decisions needed. Read-only.
    Plan {
        #[command(flatten)]
        conn: ConnArgs,
        #[command(flatten)]
        policy: PolicyArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Backup, preflight, migration, validation, next steps.
    Migrate(MigrateArgs),
    /// Check every rule of the SaaS schema on the live database.
    Validate {
        #[command(flatten)]
        conn: ConnArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Take a backup now (pg_dump custom format, mode 0600).
    Backup {
        #[command(flatten)]
        conn: ConnArgs,
        #[command(flatten)]
        dir: BackupDirArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// List the configured database's backups, newest first, each with the database it holds.
    Backups {
        /// List every backup in the directory, of any database.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        conn: ConnArgs,
        #[command(flatten)]
        dir: BackupDirArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Restore a backup into the configured database, or into a new one with --into.
    Restore(RestoreArgs),
    /// After the application switched and the legacy bot is stopped: remove the legacy
    /// interface and the compatibility layer, leaving exactly the target schema.
    Finish {
        /// Check and show what would be removed; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Refuse while a legacy-shaped write arrived within this long (30m, 2h, 1d; 0 to skip).
        #[arg(long, value_name = "DURATION", default_value = "10m")]
        quiet_for: String,
        /// Finish although a session of the legacy bot is connected or it wrote recently.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        conn: ConnArgs,
        #[command(flatten)]
        confirm: ConfirmArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Set (or with --unset reset) the legacy bot's role's search_path to the legacy interface.
    LegacyRole {
        /// The role the legacy bot connects as.
        #[arg(value_name = "ROLE")]
        role: String,
        /// Set it back to the server's default instead.
        #[arg(long)]
        unset: bool,
        #[command(flatten)]
        conn: ConnArgs,
        #[command(flatten)]
        confirm: ConfirmArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Tenant isolation in the database (row-level security by account).
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Turn a migrated database back into the legacy schema, in place; what the legacy
    /// schema cannot hold is saved to a file beside the backups first.
    Rollback {
        /// List what the legacy schema cannot hold (saved to a file by a real rollback); change nothing.
        #[arg(long)]
        dry_run: bool,
        /// In one transaction that holds the legacy tables (the bot waits for all of it).
        /// Without it the rollback runs online: short batches, one short switch back.
        #[arg(long)]
        offline: bool,
        /// (test hook) end the process as kill -9 would, at this point of an online rollback.
        #[arg(long, hide = true, value_name = "WHERE")]
        crash_at: Option<String>,
        #[command(flatten)]
        conn: ConnArgs,
        #[command(flatten)]
        dir: BackupDirArgs,
        #[command(flatten)]
        confirm: ConfirmArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Fill an empty database with the legacy schema and a realistic dataset with every anomaly.
    SeedLegacy {
        #[command(flatten)]
        conn: ConnArgs,
        /// How many runs (about 10 conversation rows each).
        #[arg(long, default_value_t = 1000)]
        runs: u64,
        /// Seed of the generator: the same seed gives the same data.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The dataset's shape: standard (production proportions) or dense (every anomaly
        /// in bulk: a third of the runs superseded, many duplicate bans and participants,
        /// many renamed course copies, orphans).
        #[arg(long, default_value = "standard", value_name = "PROFILE")]
        profile: profochat_saas::seed::Profile,
        #[command(flatten)]
        confirm: ConfirmArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Benchmark: seed N runs into a fresh database, migrate, print phase times and peak memory.
    Bench {
        #[command(flatten)]
        conn: ConnArgs,
        /// Runs (courses started) of the seeded dataset, about ten conversation rows each.
        #[arg(long, default_value_t = 200_000)]
        runs: u64,
        /// Seed of the dataset's generator: the same seed gives the same data.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Runs of the whole benchmark; the median is reported.
        #[arg(long, default_value_t = 3)]
        repeat: u32,
        /// Migrate offline (`migrate --offline`: one transaction) instead of online.
        #[arg(long = "offline", visible_alias = "single-transaction")]
        single_transaction: bool,
        /// Connections that build the secondary indexes (as `migrate --jobs`).
        #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=16))]
        jobs: u16,
        /// Run the legacy bot's writes (course starts, messages, delays and their end, course
        /// ends) at RATE statements per second while `migrate` runs, open-loop (the
        /// schedule never waits for a slow statement), and report their latencies.
        #[arg(long, value_name = "RATE", value_parser = clap::value_parser!(u32).range(1..=100_000))]
        writer: Option<u32>,
        /// With --writer: the connections the writes are spread over.
        #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=200))]
        writer_connections: u64,
        /// Copy this legacy database on the same server for each round instead of seeding
        /// one (`--runs` and `--seed` are then unused); nobody may be connected to it.
        #[arg(long, value_name = "DBNAME", conflicts_with = "legacy_reads")]
        template: Option<String>,
        /// With --template: the bot that rows without a bot name belong to (as `migrate
        /// --default-bot`).
        #[arg(long, value_name = "NAME", requires = "template")]
        default_bot: Option<String>,
        /// Instead: time the legacy bot's hot reads on the legacy schema and through the
        /// legacy interface of a migrated copy.
        #[arg(long)]
        legacy_reads: bool,
        /// With --legacy-reads: parameter sets per statement.
        #[arg(long, default_value_t = 300, value_name = "N")]
        samples: i64,
        /// The seeded dataset's shape: standard or dense (as `seed-legacy --profile`).
        #[arg(long, default_value = "standard", value_name = "PROFILE")]
        profile: profochat_saas::seed::Profile,
        /// Instead: at each of these sizes (runs, comma-separated), time the offline
        /// migration, validate, rollback, the online migration, rollback, and
        /// `migrate --abort` after an interrupted online migration; print seconds per step
        /// and how much each grew from one size to the next.
        #[arg(long, value_name = "RUNS,RUNS,…", value_delimiter = ',', conflicts_with_all = ["legacy_reads", "template"])]
        scale: Vec<u64>,
        /// With --scale: only these parts, each on its own copy (offline: `migrate
        /// --offline`, validate, rollback; online: `migrate`, rollback; abort: an
        /// interrupted online migration, `migrate --abort`); all three when omitted.
        #[arg(long, value_name = "PART,PART,…", value_delimiter = ',', requires = "scale")]
        parts: Vec<profochat_saas::bench::ScalePart>,
        /// Instead: the fault matrix. The online migration is killed (as kill -9) inside
        /// and at the end of each step while the legacy bot writes (--writer RATE, 40 by
        /// default), then resumed or aborted, each on a fresh database of --runs runs; per
        /// trial: outcome, rows lost, longest write wait.
        #[arg(long, conflicts_with_all = ["legacy_reads", "template", "scale"])]
        faults: bool,
        /// Instead: the way back under the legacy bot's writes (--writer RATE, 40 by
        /// default): `migrate --abort` after the online migration is killed at each point
        /// of --faults, and `rollback` after a completed migration; per trial: outcome,
        /// rows lost, the longest write wait while the way back ran.
        #[arg(long, conflicts_with_all = ["legacy_reads", "template", "scale", "faults"])]
        undo: bool,
        /// With --faults or --undo: only the trials at these kill points (comma-separated,
        /// as the trial table names them, e.g. `inside:keys:1,after:backfill conversation`);
        /// every point when omitted. `--undo` always ends with `rollback` after a completed
        /// migration.
        #[arg(long, value_name = "POINT,POINT,…", value_delimiter = ',', value_parser = clap::builder::PossibleValuesParser::new(profochat_saas::bench::faults::POINTS))]
        points: Vec<String>,
        /// Instead: compare `migrate` (online), `migrate --offline` and upstream's own SaaS
        /// migration script (its 0003 at PATH, run as one batch; its 0001 is taken from
        /// beside it) on copies of one legacy database (seeded once with --runs and
        /// --profile, or --template), each on its own copy, their order turned every round
        /// (--repeat rounds). Upstream's copy is first cleaned of the rows its script cannot
        /// carry (orphan conversation rows, duplicate participants and bans), untimed.
        #[arg(long, value_name = "PATH", conflicts_with_all = ["legacy_reads", "scale", "faults", "undo", "writer", "single_transaction"])]
        compare_upstream: Option<PathBuf>,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// The whole job on a throwaway database with a realistic dataset, no configuration needed.
    Demo {
        /// Keep the demo database and its backup instead of removing them
        /// (not possible when the demo had to start its own private cluster).
        #[arg(long)]
        keep: bool,
        /// Size of the demo dataset: runs (courses started), about ten conversation rows each.
        #[arg(long, default_value_t = 2000)]
        runs: u64,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Bots and their Telegram tokens.
    #[command(subcommand)]
    Bot(BotCommand),
    /// Members of an account.
    #[command(subcommand)]
    Member(MemberCommand),
    /// Accounts (tenants).
    #[command(subcommand)]
    Account(AccountCommand),
    /// Courses deployed to bots.
    #[command(subcommand)]
    Deployment(DeploymentCommand),
    /// Enrollment tokens and their deep links.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Courses: the content of the bots' YAML courses, into the database.
    #[command(subcommand)]
    Course(CourseCommand),
}

impl Cli {
    /// Whether the command asked for JSON: its errors then come as a JSON object too.
    pub fn json(&self) -> bool {
        let Some(command) = &self.command else {
            return false;
        };
        match command {
            Command::Status { out, .. }
            | Command::Plan { out, .. }
            | Command::Validate { out, .. }
            | Command::Backup { out, .. }
            | Command::Backups { out, .. }
            | Command::Rollback { out, .. }
            | Command::Finish { out, .. }
            | Command::LegacyRole { out, .. }
            | Command::Tenant(TenantCommand::Isolate { out, .. })
            | Command::SeedLegacy { out, .. }
            | Command::Bench { out, .. }
            | Command::Demo { out, .. } => out.json,
            Command::Migrate(a) => a.out.json,
            Command::Restore(a) => a.out.json,
            Command::Bot(BotCommand::List { out, .. } | BotCommand::SetToken { out, .. }) => out.json,
            Command::Member(MemberCommand::Add { out, .. } | MemberCommand::List { out, .. } | MemberCommand::Remove { out, .. }) => out.json,
            Command::Account(AccountCommand::Create { out, .. } | AccountCommand::List { out, .. }) => out.json,
            Command::Deployment(DeploymentCommand::List { out, .. } | DeploymentCommand::Create { out, .. }) => out.json,
            Command::Token(
                TokenCommand::Create { out, .. } | TokenCommand::List { out, .. } | TokenCommand::Revoke { out, .. } | TokenCommand::Delete { out, .. },
            ) => out.json,
            Command::Course(CourseCommand::Import { out, .. }) => out.json,
        }
    }
}

/// `tenant`: tenant isolation in the database.

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Every option and argument of every command says what it is for, and no help
    /// shows the value of an environment variable.
    #[test]
    fn every_option_has_help_text_and_no_environment_value_shows() {
        fn walk(cmd: &mut clap::Command, path: &str, missing: &mut Vec<String>, leaks: &mut Vec<String>) {
            for a in cmd.get_arguments() {
                let id = a.get_id().as_str();
                if a.is_hide_set() || id == "help" || id == "version" {
                    continue;
                }
                if a.get_help().is_none() && a.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            let help = cmd.render_long_help().to_string();
            for var in ["BOT_NAME=", "DATABASE_URL="] {
                if help.contains(var) {
                    leaks.push(format!("{path}: {var}"));
                }
            }
            for sc in cmd.get_subcommands_mut() {
                let name = format!("{path} {}", sc.get_name());
                walk(sc, &name, missing, leaks);
            }
        }
        let mut cmd = Cli::command();
        cmd.build();
        let (mut missing, mut leaks) = (vec![], vec![]);
        walk(&mut cmd, "profochat-saas", &mut missing, &mut leaks);
        assert!(missing.is_empty(), "options without help text: {missing:#?}");
        assert!(leaks.is_empty(), "environment values in the help: {leaks:#?}");
    }
}
