//! The command-line edge: parses arguments, connects, calls the library, and turns
//! what it returns into text or JSON. The only place that prints.

mod args;
mod commands;
mod output;

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;

pub use args::*;
use profochat_saas::conn::{self, ConnSettings, Db};
use profochat_saas::ExitStatus;

/// Parses the command line, runs the command and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    // .env must be read before clap looks at DATABASE_URL / BOT_NAME.
    let dotenv_warning = if std::env::args().any(|a| a == "--no-dotenv") {
        None
    } else {
        match dotenvy::dotenv() {
            Ok(_) => None,
            Err(e) if e.not_found() => None,
            Err(e) => Some(format!("warning: ./.env was not read: {e}")),
        }
    };
    let cli = Cli::parse();
    output::init_tracing(cli.global.verbose);
    if let Some(w) = dotenv_warning {
        eprintln!("{w}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(ExitStatus::Failure.code());
        }
    };
    let outcome = runtime.block_on(async {
        tokio::select! {
            r = run(cli) => r,
            _ = tokio::signal::ctrl_c() => Err(profochat_saas::Error::Interrupted {
                unchanged: "An open transaction is rolled back by the server when the connection closes; run `profochat-saas status` to see where the database stands.".into(),
            }.into()),
        }
    });
    match outcome {
        Ok(code) => code,
        Err(err) => {
            let status = err
                .chain()
                .find_map(|e| e.downcast_ref::<profochat_saas::Error>())
                .map(|e| e.exit_status())
                .unwrap_or(ExitStatus::Failure);
            eprintln!("{} {err:#}", output::error_label());
            ExitCode::from(status.code())
        }
    }
}

/// Runs one command.
pub async fn run(cli: Cli) -> Result<ExitCode> {
    let legacy_flags = cli.list_backups || cli.rollback.is_some() || cli.dry_run || cli.skip_backup;
    if cli.command.is_some() && legacy_flags {
        return Err(profochat_saas::Error::Usage {
            message: "--list-backups, --rollback, --dry-run and --skip-backup go either alone (as migrate.sh had them) or after the subcommand".into(),
            hint: "Write for example `profochat-saas migrate --dry-run`.".into(),
        }
        .into());
    }
    let Some(command) = cli.command else {
        // The old migrate.sh spellings, without a subcommand.
        if cli.list_backups {
            return commands::backup::list(&BackupDirArgs { backup_dir: "backups".into() }, &OutputArgs::default()).await;
        }
        if let Some(file) = cli.rollback {
            return commands::backup::restore(RestoreArgs {
                file,
                conn: ConnArgs {
                    database_url: std::env::var("DATABASE_URL").ok(),
                    ..ConnArgs::default()
                },
                into: None,
                terminate_connections: false,
                confirm: ConfirmArgs { yes: cli.yes },
                out: OutputArgs::default(),
            })
            .await;
        }
        if cli.dry_run || cli.skip_backup {
            return commands::migrate::run(MigrateArgs {
                conn: ConnArgs::default(),
                policy: PolicyArgs {
                    default_bot: std::env::var("BOT_NAME").ok(),
                    ..PolicyArgs::default()
                },
                dry_run: cli.dry_run,
                skip_backup: cli.skip_backup,
                dir: BackupDirArgs { backup_dir: "backups".into() },
                single_transaction: false,
                legacy_role: None,
                confirm: ConfirmArgs { yes: cli.yes },
                out: OutputArgs::default(),
                fail_in_phase: None,
            })
            .await;
        }
        use clap::CommandFactory;
        Cli::command().print_help()?;
        return Ok(ExitCode::from(ExitStatus::Usage.code()));
    };
    match command {
        Command::Status { conn, out } => commands::status::run(&conn, &out).await,
        Command::Plan { conn, policy, out } => commands::plan::run(&conn, &policy, &out).await,
        Command::Migrate(args) => commands::migrate::run(args).await,
        Command::Validate { conn, out } => commands::validate::run(&conn, &out).await,
        Command::Backup { conn, dir, out } => commands::backup::backup(&conn, &dir, &out).await,
        Command::Backups { dir, out } => commands::backup::list(&dir, &out).await,
        Command::Restore(args) => commands::backup::restore(args).await,
        Command::LegacyRole { role, unset, conn, confirm, out } => commands::status::legacy_role(&role, unset, &conn, &confirm, &out).await,
        Command::Rollback { conn, confirm, out } => commands::rollback::run(&conn, &confirm, &out).await,
        Command::SeedLegacy { conn, runs, seed, confirm, out } => commands::seed::run(&conn, runs, seed, &confirm, &out).await,
        Command::Bench { conn, runs, seed, repeat, single_transaction, writer, writer_connections, legacy_reads, samples, out } => {
            if legacy_reads {
                commands::bench::legacy_reads(&conn, runs, seed, samples, &out).await
            } else {
                let writer = writer.map(|rate| profochat_saas::bench::WriterOptions { rate, connections: writer_connections as usize });
                commands::bench::run(&conn, runs, seed, repeat, single_transaction, writer, &out).await
            }
        }
        Command::Demo { keep, runs, out } => commands::demo::run(keep, runs, &out).await,
        Command::Bot(c) => commands::ops::bot(c).await,
        Command::Member(c) => commands::ops::member(c).await,
        Command::Account(c) => commands::ops::account(c).await,
        Command::Deployment(c) => commands::ops::deployment(c).await,
        Command::Token(c) => commands::ops::token(c).await,
    }
}

/// The connection settings these arguments name: --database-url / DATABASE_URL, else PG*.
pub fn settings(conn: &ConnArgs) -> Result<ConnSettings> {
    let env = |k: &str| std::env::var(k).ok();
    // Commands built without clap (the old spellings) still honour DATABASE_URL.
    let from_env = env("DATABASE_URL");
    Ok(match conn.database_url.as_ref().or(from_env.as_ref()) {
        Some(url) if !url.trim().is_empty() => ConnSettings::from_url(url, &env)?,
        _ => ConnSettings::from_pg_env(&env)?,
    })
}

/// Connects with these arguments.
pub async fn connect(conn: &ConnArgs) -> Result<Db> {
    let s = settings(conn)?;
    Ok(conn::connect(&s).await?)
}
