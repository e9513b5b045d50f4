//! The command-line edge: parses arguments, connects, calls the library, and turns
//! what it returns into text or JSON. The only place that prints.

mod args;
mod commands;
mod output;
mod signals;

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;

pub use args::*;
use profochat_saas::conn::{self, ConnSettings, Db};
use profochat_saas::ExitStatus;

/// Parses the command line, runs the command and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    output::end_quietly_when_stdout_closes();
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
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    output::init_tracing(cli.global.verbose);
    if let Some(w) = dotenv_warning {
        eprintln!("{w}");
    }
    let json = cli.json();
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(ExitStatus::Failure.code());
        }
    };
    let mut interrupted = false;
    let outcome = runtime.block_on(async {
        // Registered before the command starts: from here on neither Ctrl-C nor SIGTERM
        // ends the process without saying what it left.
        let mut signals = signals::Signals::register();
        tokio::select! {
            biased;
            signal = signals.recv() => {
                interrupted = true;
                Err(signals::interrupted(signal).into())
            }
            r = run(cli) => r,
        }
    });
    // Whatever is still running (a read waiting at a prompt) must not hold the exit up.
    runtime.shutdown_background();
    if interrupted {
        signals::after_interrupt();
    }
    match outcome {
        Ok(code) => code,
        // Standard output was closed (`| head`): the reader has what it wanted.
        Err(err) if output::is_closed_pipe(&err) => ExitCode::from(output::CLOSED_STDOUT),
        Err(err) => {
            let err = privilege_error(err);
            let lib = err.chain().find_map(|e| e.downcast_ref::<profochat_saas::Error>());
            let status = lib.map(|e| e.exit_status()).unwrap_or(ExitStatus::Failure);
            if json && !output::json_printed() {
                let _ = output::print_json(&serde_json::json!({
                    "error": {
                        "kind": lib.map(|e| e.kind()).unwrap_or("failure"),
                        "message": format!("{err:#}"),
                        "exit_code": status.code(),
                    }
                }));
            }
            eprintln!("{} {err:#}", output::error_label());
            ExitCode::from(status.code())
        }
    }
}

/// A statement a command ran itself and that failed for a missing privilege: the
/// library's [`profochat_saas::Error::from_privilege`], like every other (exit status 4).
fn privilege_error(err: anyhow::Error) -> anyhow::Error {
    if err.chain().any(|e| e.is::<profochat_saas::Error>()) {
        return err;
    }
    let mapped = err
        .chain()
        .find_map(|e| e.downcast_ref::<tokio_postgres::Error>())
        .and_then(|e| profochat_saas::Error::from_privilege("", e));
    match mapped {
        Some(e) => e.into(),
        None => err,
    }
}

/// A command line clap cannot parse: its message and exit status 2; with `--json`
/// also a JSON error object on standard output.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand) {
        e.exit();
    }
    if std::env::args().any(|a| a == "--json") {
        let message = e.render().to_string();
        let first = message.lines().next().unwrap_or("").trim_start_matches("error: ").to_string();
        let _ = output::print_json(&serde_json::json!({
            "error": { "kind": "usage", "message": first, "exit_code": ExitStatus::Usage.code() }
        }));
    }
    let _ = e.print();
    ExitCode::from(ExitStatus::Usage.code())
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
            return commands::backup::list(false, &ConnArgs::default(), &BackupDirArgs { backup_dir: "backups".into() }, &OutputArgs::default()).await;
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
                from_other_database: false,
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
                lock_wait: 60,
                legacy_role: None,
                confirm: ConfirmArgs { yes: cli.yes },
                out: OutputArgs::default(),
                fail_in_phase: None,
                crash_at: None,
                abort: false,
                jobs: 2,
            })
            .await;
        }
        use clap::CommandFactory;
        Cli::command().print_help()?;
        return Ok(ExitCode::from(ExitStatus::Usage.code()));
    };
    let verbose = cli.global.verbose;
    match command {
        Command::Status { conn, out } => commands::status::run(&conn, &out).await,
        Command::Plan { conn, policy, out } => commands::plan::run(&conn, &policy, &out, verbose).await,
        Command::Migrate(args) => commands::migrate::run(args).await,
        Command::Validate { conn, out } => commands::validate::run(&conn, &out).await,
        Command::Backup { conn, dir, out } => commands::backup::backup(&conn, &dir, &out).await,
        Command::Backups { all, conn, dir, out } => commands::backup::list(all, &conn, &dir, &out).await,
        Command::Restore(args) => commands::backup::restore(args).await,
        Command::Finish { dry_run, quiet_for, force, conn, confirm, out } => {
            commands::finish::run(dry_run, &quiet_for, force, &conn, &confirm, &out).await
        }
        Command::LegacyRole { role, unset, conn, confirm, out } => commands::status::legacy_role(&role, unset, &conn, &confirm, &out).await,
        Command::Rollback { dry_run, offline, crash_at, conn, dir, confirm, out } => {
            commands::rollback::run(dry_run, offline, crash_at, &conn, &dir, &confirm, &out).await
        }
        Command::SeedLegacy { conn, runs, seed, profile, confirm, out } => commands::seed::run(&conn, runs, seed, profile, &confirm, &out).await,
        Command::Bench { conn, runs, seed, repeat, single_transaction, jobs, writer, writer_connections, template, default_bot, legacy_reads, samples, profile, scale, parts, faults, undo, points, compare_upstream, out } => {
            if let Some(upstream_script) = compare_upstream {
                let opts = profochat_saas::bench::upstream::CompareOptions { runs, seed, profile, template, default_bot, rounds: repeat, index_jobs: jobs as usize, upstream_script };
                commands::bench::compare_upstream(&conn, &opts, &out).await
            } else if faults || undo {
                commands::bench::faults(&conn, runs, seed, writer.unwrap_or(40), writer_connections as usize, undo, &points, &out).await
            } else if !scale.is_empty() {
                commands::bench::scale(&conn, &scale, seed, profile, &parts, &out).await
            } else if legacy_reads {
                commands::bench::legacy_reads(&conn, runs, seed, samples, &out).await
            } else {
                let writer = writer.map(|rate| profochat_saas::bench::WriterOptions { rate, connections: writer_connections as usize });
                let setup = profochat_saas::bench::Setup { single_transaction, index_jobs: jobs as usize, template, default_bot, profile };
                commands::bench::run(&conn, runs, seed, repeat, setup, writer, &out).await
            }
        }
        Command::Demo { keep, runs, out } => commands::demo::run(keep, runs, &out).await,
        Command::Bot(c) => commands::ops::bot(c).await,
        Command::Member(c) => commands::ops::member(c).await,
        Command::Account(c) => commands::ops::account(c).await,
        Command::Deployment(c) => commands::ops::deployment(c).await,
        Command::Token(c) => commands::ops::token(c).await,
        Command::Tenant(TenantCommand::Isolate { role, undo, conn, confirm, out }) => commands::tenant::isolate(&role, undo, &conn, &confirm, &out).await,
        Command::Course(c) => commands::courses::run(c).await,
    }
}

/// The connection settings these arguments name: --database-url / DATABASE_URL (a URL
/// or a libpq key=value string), else PG*; the password file fills a missing password.
pub fn settings_from_args(conn: &ConnArgs) -> Result<ConnSettings> {
    let env = |k: &str| std::env::var(k).ok();
    // Commands built without clap (the old spellings) still honour DATABASE_URL.
    let from_env = env("DATABASE_URL");
    Ok(match conn.database_url.as_ref().or(from_env.as_ref()) {
        Some(url) if !url.trim().is_empty() => ConnSettings::from_url(url, &env)?,
        _ => ConnSettings::from_pg_env(&env)?,
    })
}

/// The settings, checked by connecting once: for commands whose library calls connect
/// on their own (backup, restore). On a terminal a password the server wants is asked for.
pub async fn settings(conn: &ConnArgs) -> Result<ConnSettings> {
    let (s, db) = connect_prompting(conn).await?;
    match db {
        Ok(_) => Ok(s),
        // A database that does not exist yet (restore creates it) is the command's to judge.
        Err(profochat_saas::Error::Connect { cause, .. }) if cause.contains("(3D000)") => Ok(s),
        Err(e) => Err(e.into()),
    }
}

/// Connects with these arguments. When the server wants a password that none of the
/// settings gave, it is asked for on a terminal (hidden), once.
pub async fn connect(conn: &ConnArgs) -> Result<Db> {
    Ok(connect_prompting(conn).await?.1?)
}

/// The settings (with a password typed at the prompt) and the connection or its error.
async fn connect_prompting(conn: &ConnArgs) -> Result<(ConnSettings, profochat_saas::Result<Db>)> {
    let mut s = settings_from_args(conn)?;
    let first = conn::connect(&s).await;
    match first {
        Err(e) if conn::password_missing(&e) && std::io::stdin().is_terminal() => {
            let prompt = format!("Password for user {} ({}): ", s.user, s.display_target());
            let password = signals::with_note("Nothing was changed.", signals::read_line(Some(prompt))).await?;
            s.password = Some(profochat_saas::conn::Secret::new(password.trim_end_matches(['\r', '\n'])));
            let again = conn::connect(&s).await;
            Ok((s, again))
        }
        other => Ok((s, other)),
    }
}
