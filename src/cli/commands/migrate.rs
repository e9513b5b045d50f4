//! `migrate`: backup, preflight, migration, validation, next steps.

use std::process::ExitCode;

use anyhow::Result;
use profochat_saas::migrate::{self, MigrationReport, Outcome};
use profochat_saas::report::Reporter;

use crate::cli::commands::plan::options;
use crate::cli::{connect, output, MigrateArgs};

pub async fn run(args: MigrateArgs) -> Result<ExitCode> {
    let mut db = connect(&args.conn).await?;
    let mut opts = options(&args.policy);
    opts.dry_run = args.dry_run;
    opts.single_transaction = args.single_transaction;
    opts.fail_in_phase = args.fail_in_phase.clone();
    let reporter = output::TerminalReporter::new(args.out.json);
    let target = db.settings.display_target();

    if !args.out.json {
        eprintln!("Migrating {target}{}", if args.dry_run { " (dry run: everything is rolled back)" } else { "" });
    }
    let mut backup = None;
    if !args.dry_run {
        let st = profochat_saas::schema::inspect(&db).await?;
        if !st.state.is_migrated() {
            // Refuse before the backup and the question when a decision is missing.
            let p = profochat_saas::plan::plan(&mut db, &opts).await?;
            profochat_saas::plan::decisions::require_decided(&p.decisions)?;
            output::confirm(&format!("Migrate {target} to the SaaS schema?"), args.confirm.yes)?;
            if args.skip_backup {
                reporter.warn("--skip-backup: no backup is taken. `profochat-saas rollback` can still undo the migration in place.");
            } else {
                let info = profochat_saas::backup::create(&db.settings, &args.dir.backup_dir, &reporter).await?;
                if !args.out.json {
                    eprintln!(
                        "  backup: {} ({})",
                        info.path.display(),
                        profochat_saas::backup::human_bytes(info.size_bytes)
                    );
                }
                backup = Some(info);
            }
        }
    }
    let report = match migrate::migrate(&mut db, &opts, &reporter).await {
        Ok(r) => r,
        Err(profochat_saas::Error::Unfinished { what, failures, hint, report: Some(r) }) => {
            // Committed, but something after the commit failed: show what was done, then the error.
            if args.out.json {
                output::print_json(&serde_json::to_value(&r)?)?;
            } else {
                print(&r);
            }
            return Err(profochat_saas::Error::Unfinished { what, failures, hint, report: None }.into());
        }
        Err(e) => return Err(e.into()),
    };
    let mut legacy_role = None;
    if let (Some(role), false) = (&args.legacy_role, args.dry_run) {
        profochat_saas::legacy::set_role(&db.client, role, false).await?;
        legacy_role = Some(role.clone());
    }
    if args.out.json {
        let mut v = serde_json::to_value(&report)?;
        v["backup"] = serde_json::to_value(&backup)?;
        v["legacy_role"] = serde_json::to_value(&legacy_role)?;
        output::print_json(&v)?;
    } else {
        print(&report);
        if let Some(role) = &legacy_role {
            println!("Role {role:?} now finds the legacy interface first (search_path = {}); restart the legacy bot to reconnect.", profochat_saas::legacy::SEARCH_PATH);
        }
        if let Some(b) = &backup {
            println!("Backup taken before the migration: {} (restore with: profochat-saas restore {})", b.path.display(), b.path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn print(r: &MigrationReport) {
    print_outcome(r);
    if matches!(r.outcome, Outcome::AlreadyMigrated | Outcome::Migrated | Outcome::IndexesIncomplete) {
        print_next_steps(r);
    }
}

/// What the migration did: phases, the no-loss proof, its validation and the outcome.
pub fn print_outcome(r: &MigrationReport) {
    match r.outcome {
        Outcome::AlreadyMigrated => {
            println!("{} is migrated already (migration #{}): nothing was changed.", r.target, r.migration_id.unwrap_or_default());
            return;
        }
        Outcome::IndexesFinished => {
            println!("{}: the data was migrated before; {} missing indexes were built now.", r.target, r.indexes.built.len());
            return;
        }
        Outcome::IndexesIncomplete if r.phases.is_empty() => {
            println!(
                "{}: the data was migrated before; {} missing indexes were built now, {} could not be built.",
                r.target,
                r.indexes.built.len(),
                r.indexes.failed.len()
            );
            return;
        }
        _ => {}
    }
    println!();
    let mut phases = output::table(&["phase", "time", "what it did"]);
    for p in &r.phases {
        let what = p
            .counts
            .iter()
            .filter(|(_, v)| **v != 0)
            .map(|(k, v)| format!("{} {v}", k.replace('_', " ")))
            .collect::<Vec<_>>()
            .join(", ");
        phases.add_row(vec![format!("{} {}", p.number, p.name), output::format_duration(std::time::Duration::from_millis(p.elapsed_ms)), what]);
    }
    if r.indexes.elapsed_ms > 0 {
        phases.add_row(vec![
            "5 indexes (after commit)".to_string(),
            output::format_duration(std::time::Duration::from_millis(r.indexes.elapsed_ms)),
            format!("{} built, two at a time", r.indexes.built.len()),
        ]);
    }
    println!("{phases}");
    println!();
    let mut proof = output::table(&["table", "rows before", "rows now", "archived (deleted / changed / added)", "fingerprint"]);
    for p in &r.proof {
        proof.add_row(vec![
            p.table.clone(),
            p.before.rows.to_string(),
            p.rows_now.to_string(),
            format!("{} / {} / {}", p.archived_deleted, p.archived_updated, p.archived_inserted),
            if p.equal { "equal".into() } else { "DIFFERS".into() },
        ]);
    }
    println!("No-loss proof (legacy rows before = rows now with the archived changes reverted):\n{proof}");
    println!(
        "{} archived changes, kept in profochat_saas.archive (migration #{}).",
        r.archived_total(),
        r.migration_id.unwrap_or_default()
    );
    if let Some(v) = &r.validation {
        let pending_indexes = r.indexes.failed.is_empty() && r.indexes.elapsed_ms > 0;
        let warnings: Vec<_> = v
            .checks
            .iter()
            .filter(|c| !c.passed && (!pending_indexes || c.id != "structure.secondary_indexes"))
            .collect();
        println!(
            "Validation: {} checks, no critical problem{}",
            v.checks.len(),
            if warnings.is_empty() { String::new() } else { format!(", {} warning(s):", warnings.len()) }
        );
        for w in warnings {
            println!("  - {}: {} ({})", w.id, w.rule, w.count);
        }
    }
    println!();
    match r.outcome {
        Outcome::DryRun => println!("Dry run: everything above was rolled back; the database is unchanged."),
        Outcome::IndexesIncomplete => println!(
            "Migrated {} in {}, but {} secondary index(es) could not be built (see the error below).",
            r.target,
            output::format_duration(std::time::Duration::from_millis(r.total_ms)),
            r.indexes.failed.len()
        ),
        _ => println!("Migrated {} in {}.", r.target, output::format_duration(std::time::Duration::from_millis(r.total_ms))),
    }
}

/// What the operator does after the migration.
pub fn print_next_steps(r: &MigrationReport) {
    println!();
    println!("Next steps:");
    let mut n = 1;
    let mut step = |s: String| {
        println!("  {n}. {s}");
        n += 1;
    };
    if !r.bots_waiting_for_token.is_empty() {
        let mut s = format!("Set the real Telegram token of {} bot(s) still waiting for one:", r.bots_waiting_for_token.len());
        for b in &r.bots_waiting_for_token {
            s.push_str(&format!("\n       profochat-saas bot set-token --bot {}   (reads the token from standard input)", shell_quote(b)));
        }
        step(s);
    }
    step(format!(
        "Switch the legacy bot to the legacy interface, where it sees its tables exactly as before (renamed and merged \
         courses under their old ids): give it this DATABASE_URL (with its password) and restart it:\n       {}\n       \
         or set it on the bot's role instead: profochat-saas legacy-role ROLE   (or migrate --legacy-role ROLE). \
         Until then its writes still get their links, but it reads renamed courses under their new ids.",
        r.legacy_url
    ));
    step("Add the account's owner: profochat-saas member add --telegram-user-id YOUR_TELEGRAM_ID --role owner".into());
    step("Create enrollment links for every deployment: profochat-saas token create --public-for-all   (then: profochat-saas token list)".into());
    step("Check everything: profochat-saas validate".into());
    step(
        "Update the application: read bot_id instead of botname, add account_id to queries, start runs through deployment_id and \
         enrollment tokens (/start cd_<deployment_id>_<token>). The legacy bot keeps working meanwhile."
            .into(),
    );
    step("To undo: profochat-saas rollback (in place, keeps rows written since), or restore the backup with profochat-saas restore FILE.".into());
}

fn shell_quote(s: &str) -> String {
    if s.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}
