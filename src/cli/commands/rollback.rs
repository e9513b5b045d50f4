//! `rollback`: the migrated database back to the legacy schema, in place.

use std::process::ExitCode;

use anyhow::Result;
use profochat_saas::rollback;

use crate::cli::{connect, output, BackupDirArgs, ConfirmArgs, ConnArgs, OutputArgs};

pub async fn run(dry_run: bool, offline: bool, crash_at: Option<String>, conn: &ConnArgs, dir: &BackupDirArgs, confirm: &ConfirmArgs, out: &OutputArgs) -> Result<ExitCode> {
    run_with(None, dry_run, offline, crash_at, conn, dir, confirm, out).await
}

/// `migrate --abort`'s own options.
pub struct Abort {
    /// `--offline`: the abort in one transaction.
    pub offline: bool,
    pub lock_wait: Option<std::time::Duration>,
    pub crash_at: Option<String>,
}

/// `rollback`, or with `abort` `migrate --abort` (an online migration that has not switched).
#[allow(clippy::too_many_arguments)]
pub async fn run_with(abort: Option<Abort>, dry_run: bool, offline: bool, crash_at: Option<String>, conn: &ConnArgs, dir: &BackupDirArgs, confirm: &ConfirmArgs, out: &OutputArgs) -> Result<ExitCode> {
    let mut db = connect(conn).await?;
    let target = db.settings.display_target();
    let opts = match abort {
        Some(a) => rollback::RollbackOptions {
            dry_run,
            save_dir: dir.backup_dir.clone(),
            abort: true,
            offline: a.offline,
            lock_wait: a.lock_wait,
            crash_at: a.crash_at,
        },
        None => rollback::RollbackOptions { dry_run, save_dir: dir.backup_dir.clone(), offline, crash_at, ..Default::default() },
    };
    let abort = opts.abort;
    if !dry_run {
        let question = if abort {
            format!(
                "Abort the online migration of {target} and return it to the legacy database? Every change it made is undone from its archive; legacy rows written meanwhile are kept"
            )
        } else {
            format!(
                "Roll {target} back to the legacy schema? The SaaS tables (bots, deployments, tokens) are dropped after what the legacy schema cannot hold is saved to {}; legacy rows are kept",
                dir.backup_dir.display()
            )
        };
        output::confirm(&question, confirm.yes).await?;
    }
    let reporter = output::TerminalReporter::new(out.json);
    let r = rollback::rollback(&mut db, &opts, &reporter).await?;
    if out.json {
        output::print_json(&r)?;
        return Ok(ExitCode::SUCCESS);
    }
    if r.dry_run {
        if r.losses.is_empty() {
            println!("The legacy schema can hold everything in {target}: `profochat-saas rollback` needs to save nothing.");
        } else {
            println!("What the legacy schema cannot hold ({target}); `profochat-saas rollback` saves it to a file in {} first:", dir.backup_dir.display());
            print_losses(&r.losses);
        }
        println!("Dry run: nothing was changed.");
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(p) = &r.saved_to {
        println!("Saved first, what the legacy schema cannot hold:");
        print_losses(&r.losses);
        println!("  → {} (the whole database before the rollback, mode 0600; get it back with: profochat-saas restore {})", p.display(), p.display());
    }
    let mut t = output::table(&["table", "values restored", "rows restored", "rows removed", "rows now"]);
    for (name, tr) in &r.tables {
        let now = r.fingerprint.tables.get(name).map(|f| f.rows).unwrap_or_default();
        t.add_row(vec![
            name.clone(),
            tr.values_restored.to_string(),
            tr.rows_restored.to_string(),
            tr.rows_removed.to_string(),
            now.to_string(),
        ]);
    }
    println!("{t}");
    if !r.proof.is_empty() {
        let meanwhile: i64 = r.proof.iter().flat_map(|p| p.written_meanwhile.unwrap_or_default()).sum();
        let bad: Vec<&str> = r.proof.iter().filter(|p| !p.equal).map(|p| p.table.as_str()).collect();
        if bad.is_empty() {
            println!(
                "No-loss proof of the way back: {} tables equal to before the migration, {meanwhile} rows written meanwhile left out.",
                r.proof.len()
            );
        } else {
            println!("No-loss proof of the way back: {} DIFFER from before the migration.", bad.join(", "));
        }
    }
    if r.changed_since_migration.is_empty() {
        println!("Every legacy table has exactly the fingerprint it had before migration #{}.", r.migration_id);
    } else {
        println!(
            "Legacy rows written since the migration are kept: {} differ from before migration #{} by those rows.",
            r.changed_since_migration.join(", "),
            r.migration_id
        );
    }
    if !r.legacy_roles_reset.is_empty() {
        println!("search_path reset for role(s) {}: the legacy bot reads the legacy tables directly again.", r.legacy_roles_reset.join(", "));
    }
    if !r.bot_tokens_dropped.is_empty() {
        println!(
            "The bot tokens set for {} are in the saved file; the legacy bot reads its token from BOT_API_TOKEN.",
            r.bot_tokens_dropped.join(", ")
        );
    }
    println!("{target} is back in the legacy schema ({}).", output::format_duration(std::time::Duration::from_millis(r.elapsed_ms)));
    Ok(ExitCode::SUCCESS)
}

fn print_losses(losses: &[rollback::Loss]) {
    let mut t = output::table(&["what", "count", "examples"]);
    for l in losses {
        t.add_row(vec![l.what.clone(), l.count.to_string(), l.examples.clone().unwrap_or_default()]);
    }
    println!("{t}");
}
