//! `migrate`: backup, preflight, migration, validation, next steps.

use std::process::ExitCode;

use anyhow::Result;
use profochat_saas::migrate::{self, privileges, MigrationReport, Outcome};
use profochat_saas::plan;
use profochat_saas::report::Reporter;
use profochat_saas::schema::SchemaState;

use crate::cli::commands::plan::options;
use crate::cli::{connect, output, signals, MigrateArgs};

/// What an interruption leaves once the migration committed.
const AFTER_COMMIT: &str = "The migration is committed and stays: the data, the keys and the compatibility triggers are in place. \
                            Only secondary indexes being built after the commit may be missing: `profochat-saas status` lists them, \
                            and `profochat-saas migrate` builds them.";

/// What an interruption leaves while a resumed run builds the missing indexes.
const RESUMED: &str = "The migration was committed before and stays. Indexes being built are left missing: \
                       `profochat-saas status` lists them, and `profochat-saas migrate` builds them.";

pub async fn run(args: MigrateArgs) -> Result<ExitCode> {
    signals::set_note("Nothing was changed.");
    if args.abort {
        return crate::cli::commands::rollback::run_with(true, args.dry_run, &args.conn, &args.dir, &args.confirm, &args.out).await;
    }
    let mut db = connect(&args.conn).await?;
    let mut opts = options(&args.policy);
    opts.dry_run = args.dry_run;
    opts.single_transaction = args.single_transaction;
    opts.lock_wait = Some(std::time::Duration::from_secs(args.lock_wait));
    opts.fail_in_phase = args.fail_in_phase.clone();
    opts.crash_at = args.crash_at.clone();
    opts.index_jobs = args.jobs as usize;
    let reporter = output::TerminalReporter::new(args.out.json).after_commit(AFTER_COMMIT);
    let target = db.settings.display_target();

    if !args.out.json {
        eprintln!("Migrating {target}{}", if args.dry_run { " (dry run: everything is rolled back)" } else { "" });
    }
    let mut backup = None;
    let mut resumed = false;
    let mut st_in_progress = false;
    if !args.dry_run {
        let st = profochat_saas::schema::inspect(&db).await?;
        st_in_progress = st.state == SchemaState::MigrationInProgress;
        match st.state {
            SchemaState::Migrated => {}
            SchemaState::MigrationInProgress => {
                privileges::require(&db.client, false).await?;
                let at = profochat_saas::migrate::online::progress(&db.client)
                    .await?
                    .map(|p| p.describe())
                    .unwrap_or_else(|| "where it stopped".into());
                output::confirm(
                    &format!("Resume the online migration of {target} ({at})? The legacy bot keeps working meanwhile"),
                    args.confirm.yes,
                )
                .await?;
            }
            SchemaState::IndexesPending => {
                // A resumed run changes the database too: it asks like any change.
                privileges::require(&db.client, false).await?;
                let missing = st.secondary_indexes_missing.len() + st.secondary_indexes_invalid.len();
                output::confirm(
                    &format!(
                        "Finish the migration of {target}: build its {missing} missing secondary index(es)? The bot's writes to a table wait while its indexes are built"
                    ),
                    args.confirm.yes,
                )
                .await?;
                resumed = true;
            }
            _ => {
                plan::decisions::action(&st, &target)?;
                // Refuse before the backup and the question when a privilege or a decision is missing.
                privileges::require(&db.client, !args.skip_backup).await?;
                if st.state == SchemaState::Outdated {
                    output::confirm(
                        &format!(
                            "{target} is migrated, but {} thing(s) differ from the current target (an older profochat-saas, or changes by hand; `profochat-saas status` lists them). \
                             Give its keys and indexes upstream's names and shapes, record upstream's migrations, install the enrolment function and the legacy interface?",
                            st.upgrade_needed.len()
                        ),
                        args.confirm.yes,
                    )
                    .await?;
                } else {
                    let p = plan::plan(&mut db, &opts).await?;
                    plan::decisions::require_decided(&p.decisions)?;
                    output::confirm(&format!("Migrate {target} to the SaaS schema?"), args.confirm.yes).await?;
                }
                if args.skip_backup {
                    reporter.warn("--skip-backup: no backup is taken. `profochat-saas rollback` can still undo the migration in place.");
                } else {
                    signals::set_note("Nothing was changed; the partly written backup file is removed.");
                    let info = profochat_saas::backup::create(&db.settings, &args.dir.backup_dir, &reporter).await?;
                    if !args.out.json {
                        eprintln!(
                            "  backup: {} ({})",
                            info.path.display(),
                            profochat_saas::backup::human_bytes(info.size_bytes)
                        );
                    }
                    signals::set_note(format!(
                        "The backup {} is complete and kept; the database was not changed.",
                        info.path.display()
                    ));
                    backup = Some(info);
                }
            }
        }
    }
    let online = (!args.single_transaction && !args.dry_run && !resumed) || st_in_progress;
    signals::set_note(match (resumed, &backup) {
        (true, _) => RESUMED.to_string(),
        (false, _) if online => format!(
            "The batch or schema change under way is not committed: the server discards it as the connection closes. {}{}",
            profochat_saas::migrate::online::STOPPED_HINT,
            backup.as_ref().map(|b| format!(" The backup {} is kept.", b.path.display())).unwrap_or_default()
        ),
        (false, Some(b)) => format!(
            "The migration transaction is rolled back by the server as the connection closes: the database is unchanged. The backup {} is kept.",
            b.path.display()
        ),
        (false, None) => "The migration transaction is rolled back by the server as the connection closes: the database is unchanged.".to_string(),
    });
    let report = match migrate::migrate(&mut db, &opts, &reporter).await {
        Ok(r) => r,
        Err(profochat_saas::Error::Unfinished { what, failures, hint, report: Some(r) }) => {
            // Committed, but something after the commit failed: show what was done, then the error.
            if args.out.json {
                output::print_json(&serde_json::to_value(&r)?)?;
            } else {
                print_outcome(&r, true);
                print_next_steps(&r, backup.as_ref().map(|b| format!("profochat-saas restore {}", shell_quote(&b.path.display().to_string()))).as_deref());
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
        // The backup this run took; none with --skip-backup; an earlier run's, if any, else.
        let restore = match (&backup, report.outcome) {
            (Some(b), _) => Some(format!("profochat-saas restore {}", shell_quote(&b.path.display().to_string()))),
            (None, Outcome::Migrated) => None,
            (None, _) => Some(EARLIER_BACKUP.to_string()),
        };
        print_outcome(&report, true);
        if let Some(role) = &legacy_role {
            println!("Role {role:?} now finds the legacy interface first (search_path = {}); restart the legacy bot to reconnect.", profochat_saas::legacy::SEARCH_PATH);
        }
        if matches!(report.outcome, Outcome::AlreadyMigrated | Outcome::Migrated | Outcome::IndexesFinished) {
            print_next_steps(&report, restore.as_deref());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// How to restore a backup an earlier run took.
const EARLIER_BACKUP: &str = "profochat-saas backups lists them, profochat-saas restore FILE restores one";

/// What the migration did: phases, the no-loss proof, the outcome, and — with
/// `with_validation` — the validation run inside the migration.
pub fn print_outcome(r: &MigrationReport, with_validation: bool) {
    match r.outcome {
        Outcome::AlreadyMigrated if !r.cleaned_up.is_empty() => {
            println!(
                "{} is migrated already (migration #{}); the online migration's cleanup had been interrupted and is finished now: removed {}. The data was not changed.",
                r.target,
                r.migration_id.unwrap_or_default(),
                r.cleaned_up.join(", ")
            );
            return;
        }
        Outcome::AlreadyMigrated => {
            println!("{} is migrated already (migration #{}): nothing was changed.", r.target, r.migration_id.unwrap_or_default());
            return;
        }
        Outcome::DryRun if !r.upgraded.is_empty() => {
            println!("Dry run: {} differs from the current target (an older profochat-saas, or changes by hand); `migrate` would fix, in one transaction:", r.target);
            for d in &r.upgraded {
                println!("  - {d}");
            }
            println!("and then build the secondary indexes under upstream's names. Everything was rolled back; the database is unchanged.");
            return;
        }
        Outcome::Upgraded => {
            println!(
                "{} (migration #{}) differed from the current target; brought to it, the data unchanged:",
                r.target,
                r.migration_id.unwrap_or_default()
            );
            for d in &r.upgraded {
                println!("  - fixed: {d}");
            }
            if r.indexes.elapsed_ms > 0 {
                println!("  - {} secondary indexes built or rebuilt under upstream's names", r.indexes.built.len());
            }
            for (name, why) in &r.indexes.failed {
                eprintln!("{} index {name} was not built: {why}. Run `profochat-saas migrate` again to finish it.", output::warning_label());
            }
            println!(
                "Keys and indexes carry upstream's names; schema_migrations records 0001 and 0003; applications enrol with \
                 SELECT * FROM profochat_saas.enrol(payload, chat_id, username, bot)."
            );
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
        // Indexes deferred to after the commit get their own row below, once built.
        if p.counts.contains_key("indexes_deferred") && r.indexes.elapsed_ms > 0 {
            continue;
        }
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
            format!("{} built concurrently, the bot writing meanwhile", r.indexes.built.len()),
        ]);
    }
    println!("{phases}");
    println!();
    let online = r.proof.iter().any(|p| p.written_meanwhile.is_some());
    let mut header = vec!["table", "rows before", "rows now", "archived (deleted / changed / added)"];
    if online {
        header.push("written meanwhile (new / changed / deleted)");
    }
    header.push("fingerprint");
    let mut proof = output::table(&header);
    for p in &r.proof {
        let mut row = vec![
            p.table.clone(),
            p.before.rows.to_string(),
            p.rows_now.to_string(),
            format!("{} / {} / {}", p.archived_deleted, p.archived_updated, p.archived_inserted),
        ];
        if let Some([i, u, d]) = p.written_meanwhile {
            row.push(format!("{i} / {u} / {d}"));
        }
        row.push(if p.equal { "equal".into() } else { "DIFFERS".into() });
        proof.add_row(row);
    }
    if online {
        println!(
            "No-loss proof (legacy rows before = rows now with the archived changes reverted; the rows the bot or the application wrote meanwhile, logged by key, are left out of both sides):\n{proof}"
        );
    } else {
        println!("No-loss proof (legacy rows before = rows now with the archived changes reverted):\n{proof}");
    }
    println!(
        "{} archived changes, kept in profochat_saas.archive (migration #{}).",
        r.archived_total(),
        r.migration_id.unwrap_or_default()
    );
    if let Some(v) = r.validation.as_ref().filter(|_| with_validation) {
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

/// What the operator does after the migration. `restore` is the command that restores
/// the backup taken before it, when one exists.
pub fn print_next_steps(r: &MigrationReport, restore: Option<&str>) {
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
    let url = if r.legacy_url.is_empty() {
        format!("its DATABASE_URL with ?{} added", profochat_saas::legacy::URL_OPTIONS)
    } else {
        format!("this DATABASE_URL (with its password):\n       {}", r.legacy_url)
    };
    step(format!(
        "Switch the legacy bot to the legacy interface, where it sees its tables exactly as before (renamed and merged \
         courses under their old ids): restart it with {url}\n       \
         or set it on the bot's role instead: profochat-saas legacy-role ROLE   (or migrate --legacy-role ROLE). \
         Until then its new rows still get their links, but it sees renamed courses under their new ids, and its course ends and course removals on them reach nothing."
    ));
    step("Add the account's owner: profochat-saas member add --telegram-user-id YOUR_TELEGRAM_ID --role owner".into());
    step("Create enrollment links for every deployment: profochat-saas token create --public-for-all   (then: profochat-saas token list)".into());
    step("Check everything: profochat-saas validate".into());
    step(
        "Update the application: read bot_id instead of botname, add account_id to queries, start runs through enrollment tokens: \
         on /start cd_<deployment_id>_<token>, SELECT * FROM profochat_saas.enrol(payload, chat_id, username, bot) \
         checks the token and starts the run. The legacy bot keeps working meanwhile."
            .into(),
    );
    step("Once the application uses the new schema and the legacy bot is stopped: profochat-saas finish   (removes the legacy interface and the compatibility layer)".into());
    step(match restore {
        Some(cmd) => format!(
            "To undo before finish: profochat-saas rollback (in place, keeps rows written since; saves first what the legacy schema cannot hold), \
             or restore the backup taken before the migration: {cmd}"
        ),
        None => "To undo before finish: profochat-saas rollback (in place, keeps rows written since; saves first what the legacy schema cannot hold).".into(),
    });
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "_-./".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}
