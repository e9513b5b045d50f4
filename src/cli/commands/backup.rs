//! `backup`, `backups` and `restore FILE` (also spelled `--list-backups` and
//! `--rollback FILE`, as migrate.sh had them).

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use profochat_saas::backup::{self, human_bytes, RestorePlan, RestoreTarget, DEFAULT_DIR, DUMP_STEP};
use profochat_saas::report::{Event, Reporter};

use crate::cli::output::{self, TerminalReporter};
use crate::cli::{settings, BackupDirArgs, ConnArgs, OutputArgs, RestoreArgs};

pub async fn backup(conn: &ConnArgs, dir: &BackupDirArgs, out: &OutputArgs) -> Result<ExitCode> {
    let settings = settings(conn).await?;
    let reporter = DumpReporter::new(out.json);
    let started = Instant::now();
    let info = backup::create(&settings, &dir.backup_dir, &reporter).await?;
    let elapsed = started.elapsed();
    if out.json {
        let mut v = serde_json::to_value(&info)?;
        v["duration_ms"] = (elapsed.as_millis() as u64).into();
        output::print_json(&v)?;
    } else {
        println!("Backup written: {}", info.path.display());
        println!("  size:      {}", human_bytes(info.size_bytes));
        println!("  took:      {}", output::format_duration(elapsed));
        println!("  database:  {}", settings.display_target());
        println!("  server:    PostgreSQL {}", info.sidecar.server_version);
        println!("  schema:    {}", state_text(Some(&info.sidecar.schema_state)));
        println!("  details:   {}", info.sidecar_path.display());
        println!();
        println!("Restore it with: profochat-saas restore {}", shell_word(&info.path.display().to_string()));
    }
    Ok(ExitCode::SUCCESS)
}

/// The configured database's backups (by what each dump's header says), or with
/// `all` every one; a note says how many of other databases are not shown.
pub async fn list(all: bool, conn: &ConnArgs, dir: &BackupDirArgs, out: &OutputArgs) -> Result<ExitCode> {
    let mut listing = backup::list(&dir.backup_dir)?;
    // The configured database (--database-url, DATABASE_URL or PGDATABASE), from the
    // settings alone: listing needs no connection. With none configured, all are listed.
    let named = conn.database_url.is_some() || ["DATABASE_URL", "PGDATABASE"].iter().any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()));
    let configured = if all || !named { None } else { crate::cli::settings_from_args(conn).ok().map(|s| s.dbname) };
    let total = listing.backups.len();
    if let Some(db) = &configured {
        listing.backups.retain(|b| b.database.as_deref().is_none_or(|d| d == db));
    }
    let hidden = total - listing.backups.len();
    if out.json {
        let mut v = serde_json::to_value(&listing)?;
        v["database"] = serde_json::to_value(&configured)?;
        v["other_databases_hidden"] = hidden.into();
        output::print_json(&v)?;
        return Ok(ExitCode::SUCCESS);
    }
    let shown_dir = dir.backup_dir.display().to_string();
    let of = configured.as_ref().map(|d| format!(" of database {d:?}")).unwrap_or_default();
    let hidden_note = || {
        if hidden > 0 {
            println!("{hidden} backup(s) of other databases are not shown: `profochat-saas backups --all` lists them.");
        }
    };
    if listing.backups.is_empty() {
        let why = if !listing.dir_exists {
            "the directory does not exist"
        } else if hidden > 0 {
            "only backups of other databases"
        } else {
            "it holds no .dump files"
        };
        let dir_flag = if dir.backup_dir == Path::new(DEFAULT_DIR) {
            String::new()
        } else {
            format!(" --backup-dir {}", shell_word(&shown_dir))
        };
        println!("No backups{of} in {shown_dir} ({why}).");
        hidden_note();
        println!("Take one with: profochat-saas backup{dir_flag}");
        return Ok(ExitCode::SUCCESS);
    }
    println!("Backups{of} in {shown_dir}, newest first:");
    let mut table = output::table(&["Name", "Database", "Size", "Created", "Schema"]);
    for b in &listing.backups {
        table.add_row(vec![
            b.name.clone(),
            b.database.clone().unwrap_or_else(|| "unknown".into()),
            human_bytes(b.size_bytes),
            b.created_at
                .map(|t| t.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_else(|| "unknown".into()),
            state_text(b.schema_state.as_deref()),
        ]);
    }
    println!("{table}");
    hidden_note();
    let newest = &listing.backups[0];
    match (&configured, &newest.database) {
        (Some(_), _) => println!("Restore one with: profochat-saas restore {}", shell_word(&newest.path.display().to_string())),
        (None, Some(db)) => println!(
            "Restore one into its own database: profochat-saas restore {}   (DATABASE_URL naming database {db:?})",
            shell_word(&newest.path.display().to_string())
        ),
        (None, None) => println!("Restore one with: profochat-saas restore FILE"),
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn restore(args: RestoreArgs) -> Result<ExitCode> {
    let settings = settings(&args.conn).await?;
    let target = match &args.into {
        Some(name) => RestoreTarget::Into(name.clone()),
        None => RestoreTarget::Replace,
    };
    let plan = backup::prepare_restore_checked(&settings, &args.file, target, args.terminate_connections, args.from_other_database).await?;
    if !args.out.json {
        describe(&plan);
    }
    let question = match &plan.target {
        RestoreTarget::Replace if plan.previous_copy.is_some() => format!(
            "Replace database {:?} with the contents of {}?",
            plan.database,
            plan.file.display()
        ),
        _ => format!("Create database {:?} and restore {} into it?", plan.database, plan.file.display()),
    };
    output::confirm(&question, args.confirm.yes).await?;

    let reporter = TerminalReporter::new(args.out.json);
    let outcome = backup::restore(&plan, &reporter).await?;
    if args.out.json {
        let mut v = serde_json::to_value(&outcome)?;
        v["plan"] = serde_json::to_value(&plan)?;
        output::print_json(&v)?;
        return Ok(ExitCode::SUCCESS);
    }
    let took = output::format_duration(Duration::from_millis(outcome.elapsed_ms));
    println!(
        "Restored {} into database {:?} ({} archive items, {took}).",
        outcome.file.display(),
        outcome.database,
        outcome.items_restored
    );
    if outcome.sessions_terminated > 0 {
        println!("Ended {} other session(s) on it first.", outcome.sessions_terminated);
    }
    match &outcome.previous_copy {
        Some(previous) => {
            println!("The previous database is kept as {previous:?}. When you no longer need it, drop it:");
            println!("  psql -d postgres -c {}", shell_word(&format!("DROP DATABASE {}", profochat_saas::sql::ident(previous))));
        }
        None if matches!(plan.target, RestoreTarget::Into(_)) => {
            println!("Point --database-url / DATABASE_URL at database {:?} to work with it.", outcome.database);
        }
        None => {}
    }
    println!("Check it with: profochat-saas status");
    Ok(ExitCode::SUCCESS)
}

/// What is about to happen, on standard error, before asking.
fn describe(plan: &RestorePlan) {
    let field = |key: &str| plan.sidecar.as_ref().and_then(|s| s.get(key)).and_then(|v| v.as_str()).map(str::to_string);
    let origin = match (field("created_at"), field("source")) {
        (Some(at), Some(source)) => format!(
            ", taken {} from {source}, schema {}",
            chrono::DateTime::parse_from_rfc3339(&at)
                .map(|t| t.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or(at),
            state_text(field("schema_state").as_deref())
        ),
        _ => String::new(),
    };
    eprintln!("Backup:   {} ({}{origin})", plan.file.display(), human_bytes(plan.size_bytes));
    eprintln!(
        "Archive:  database {:?} dumped from PostgreSQL {} by pg_dump {}, {} items",
        plan.archive.dbname,
        short_version(&plan.archive.dumped_from_server),
        short_version(&plan.archive.dumped_by_pg_dump),
        plan.archive.toc_entries
    );
    if plan.target == RestoreTarget::Replace && !plan.archive.dbname.is_empty() && plan.archive.dbname != plan.database {
        eprintln!(
            "{} this is a backup of database {:?}, not of {:?} (--from-other-database)",
            output::warning_label(),
            plan.archive.dbname,
            plan.database
        );
    }
    match (&plan.target, &plan.previous_copy) {
        (RestoreTarget::Replace, Some(previous)) => {
            eprintln!("Target:   {} (server {}) — will be replaced", plan.target_display, short_version(&plan.server_version));
            eprintln!(
                "How:      restored first into the new database {:?}; only if that succeeds is it swapped in, and the current database kept as {previous:?}",
                plan.staging
            );
            if plan.other_sessions.count > 0 {
                eprintln!(
                    "Sessions: {} other session(s) connected ({}) will be ended (--terminate-connections)",
                    plan.other_sessions.count,
                    plan.other_sessions.applications.join(", ")
                );
            }
        }
        (RestoreTarget::Replace, None) => {
            eprintln!("Target:   {} (server {}) — does not exist yet; it will be created", plan.target_display, short_version(&plan.server_version));
        }
        (RestoreTarget::Into(_), _) => {
            eprintln!("Target:   {} (server {}) — a new database", plan.target_display, short_version(&plan.server_version));
        }
    }
}

fn short_version(v: &str) -> &str {
    v.split_whitespace().next().unwrap_or(v)
}

/// A schema state as recorded (`partly_migrated`) for people ("partly migrated").
fn state_text(state: Option<&str>) -> String {
    match state {
        Some(s) if !s.is_empty() => s.replace('_', " "),
        _ => "unknown".into(),
    }
}

/// Quotes a word for a shell command line the operator may copy.
fn shell_word(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+:=@%,".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Shows the dump's progress in bytes on a terminal; everything else as usual.
struct DumpReporter {
    inner: TerminalReporter,
    show: bool,
    bar: Mutex<Option<ProgressBar>>,
}

impl DumpReporter {
    fn new(quiet: bool) -> Self {
        DumpReporter {
            inner: TerminalReporter::new(quiet),
            show: !quiet && std::io::stderr().is_terminal(),
            bar: Mutex::new(None),
        }
    }
}

impl Reporter for DumpReporter {
    fn event(&self, event: Event<'_>) {
        let mut bar = self.bar.lock().unwrap_or_else(|p| p.into_inner());
        match event {
            Event::Started { step, .. } if step == DUMP_STEP && self.show => {
                let pb = ProgressBar::new_spinner().with_style(
                    ProgressStyle::with_template("  {spinner} {msg}: {binary_bytes} ({binary_bytes_per_sec}, {elapsed})")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                pb.set_message(step.to_string());
                pb.enable_steady_tick(Duration::from_millis(120));
                *bar = Some(pb);
            }
            Event::Progress { done } if bar.is_some() => {
                if let Some(pb) = bar.as_ref() {
                    pb.set_position(done);
                }
            }
            Event::Finished { step, .. } if step == DUMP_STEP => {
                if let Some(pb) = bar.take() {
                    pb.finish_and_clear();
                }
                drop(bar);
                self.inner.event(event);
            }
            other => {
                drop(bar);
                self.inner.event(other);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell_word("backups/profochatbot_backup_20240101_000000.dump"), "backups/profochatbot_backup_20240101_000000.dump");
        assert_eq!(shell_word("my backups/x.dump"), "'my backups/x.dump'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(shell_word("DROP DATABASE \"x\""), "'DROP DATABASE \"x\"'");
    }

    #[test]
    fn states_read_as_words() {
        assert_eq!(state_text(Some("partly_migrated")), "partly migrated");
        assert_eq!(state_text(None), "unknown");
    }
}
