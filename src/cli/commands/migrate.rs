//! `migrate`: backup, preflight, migration, validation, next steps.

use std::process::ExitCode;

use anyhow::Result;
use profochat_saas::migrate::decisions::Action;
use profochat_saas::migrate::{self, Ahead, Backup, Confirm, MigrateOptions, MigrationReport, Outcome};
use profochat_saas::next_steps::NextSteps;
use profochat_saas::report::Reporter;
use profochat_saas::state::OnlineStep;

use crate::cli::{connect, output, signals, MigrateArgs, PolicyArgs};

/// What an interruption leaves once the migration committed.
const AFTER_COMMIT: &str = "The migration is committed and stays: the data, the keys and the compatibility triggers are in place. \
                            Only secondary indexes being built after the commit may be missing: `profochat-saas status` lists them, \
                            and `profochat-saas migrate` builds them.";

/// What an interruption leaves while a resumed run builds the missing indexes.
const RESUMED: &str = "The migration was committed before and stays. Indexes being built are left missing: \
                       `profochat-saas status` lists them, and `profochat-saas migrate` builds them.";

/// The library's options, from the policy flags (`plan` and `migrate`) and, for
/// `migrate`, its own flags: built here only. BOT_API_TOKEN goes with BOT_NAME.
pub fn options(policy: &PolicyArgs, run: Option<&MigrateArgs>) -> MigrateOptions {
    let bot_token = match (std::env::var("BOT_API_TOKEN"), std::env::var("BOT_NAME")) {
        (Ok(token), Ok(name)) if !token.trim().is_empty() && !name.trim().is_empty() => {
            Some((name.trim().to_string(), profochat_saas::conn::Secret::new(token.trim())))
        }
        _ => None,
    };
    MigrateOptions {
        default_bot: policy.default_bot.clone().filter(|b| !b.trim().is_empty()),
        bot_token,
        course_conflicts: policy.course_conflicts,
        orphans: policy.orphans,
        dry_run: run.is_some_and(|a| a.dry_run),
        single_transaction: run.is_some_and(|a| a.single_transaction),
        index_jobs: run.map_or(2, |a| a.jobs as usize),
        index_wait: None,
        lock_wait: run.map(|a| std::time::Duration::from_secs(a.lock_wait)),
        legacy_role: run.and_then(|a| a.legacy_role.clone()),
        fail_in_phase: run.and_then(|a| a.fail_in_phase.clone()),
        crash_at: run.and_then(|a| a.crash_at.clone()),
    }
}

/// The question for what `migrate` is about to do.
fn question(confirm: &Confirm, target: &str) -> String {
    match confirm {
        Confirm::Migrate => format!("Migrate {target} to the SaaS schema?"),
        Confirm::Resume { at } => format!("Resume the online migration of {target} ({at})? The legacy bot keeps working meanwhile"),
        Confirm::FinishIndexes { missing } => format!(
            "Finish the migration of {target}: build its {missing} missing secondary index(es)? The bot's writes to a table wait while its indexes are built"
        ),
        Confirm::Upgrade { differences } => format!(
            "{target} is migrated, but {differences} thing(s) differ from the current target (an older profochat-saas, or changes by hand; `profochat-saas status` lists them). \
             Give its keys and indexes upstream's names and shapes, record upstream's migrations, install the enrolment function and the legacy interface?"
        ),
    }
}

pub async fn run(args: MigrateArgs) -> Result<ExitCode> {
    signals::set_note("Nothing was changed.");
    if args.abort {
        let abort = crate::cli::commands::rollback::Abort {
            offline: args.single_transaction,
            lock_wait: Some(std::time::Duration::from_secs(args.lock_wait)),
            crash_at: args.crash_at.clone(),
        };
        return crate::cli::commands::rollback::run_with(Some(abort), args.dry_run, false, None, &args.conn, &args.dir, &args.confirm, &args.out).await;
    }
    let mut db = connect(&args.conn).await?;
    let opts = options(&args.policy, Some(&args));
    let reporter = output::TerminalReporter::new(args.out.json).after_commit(AFTER_COMMIT);
    let target = db.settings.display_target();

    // The bots' courses.yml and their course files, read before anything changes.
    let courses = crate::cli::commands::courses::read_all(&args.policy.courses_yml)?;
    if !args.out.json {
        eprintln!("Migrating {target}{}", if args.dry_run { " (dry run: everything is rolled back)" } else { "" });
    }
    let prepared = migrate::prepare(&mut db, &opts, Ahead { ask: true, backup: !args.skip_backup }).await?;
    if let Some(c) = &prepared.confirm {
        output::confirm(&question(c, &target), args.confirm.yes).await?;
    }
    let mut backup = None;
    match prepared.backup {
        Backup::Take => {
            signals::set_note("Nothing was changed; the partly written backup file is removed.");
            let info = profochat_saas::backup::create(&db.settings, &args.dir.backup_dir, &reporter).await?;
            if !args.out.json {
                eprintln!("  backup: {} ({})", info.path.display(), profochat_saas::backup::human_bytes(info.size_bytes));
            }
            signals::set_note(format!("The backup {} is complete and kept; the database was not changed.", info.path.display()));
            backup = Some(info);
        }
        Backup::Skipped => {
            reporter.warn("--skip-backup: no backup is taken. `profochat-saas rollback` can still undo the migration in place.")
        }
        Backup::NotNeeded => {}
    }
    signals::set_note(match (prepared.action, &backup) {
        (Action::FinishIndexes, _) => RESUMED.to_string(),
        _ if prepared.online => format!(
            "The batch or schema change under way is not committed: the server discards it as the connection closes. {}{}",
            profochat_saas::migrate::online::STOPPED_HINT,
            backup.as_ref().map(|b| format!(" The backup {} is kept.", b.path.display())).unwrap_or_default()
        ),
        (_, Some(b)) => format!(
            "The migration transaction is rolled back by the server as the connection closes: the database is unchanged. The backup {} is kept.",
            b.path.display()
        ),
        (_, None) => "The migration transaction is rolled back by the server as the connection closes: the database is unchanged.".to_string(),
    });
    let restore_backup = backup.as_ref().map(|b| format!("profochat-saas restore {}", shell_quote(&b.path.display().to_string())));
    let report = migrate::run(&mut db, &prepared, &reporter).await?;
    if let Some(unfinished) = report.unfinished() {
        // Committed, but something after the commit failed: show what was done, then the error.
        let next = profochat_saas::next_steps::read(&db.client).await.unwrap_or_else(|_| next_steps_of(&report));
        if args.out.json {
            let mut v = serde_json::to_value(&report)?;
            v["next_steps"] = serde_json::to_value(&next)?;
            output::print_json(&v)?;
        } else {
            print_outcome(&report, true);
            print_next_steps(&next, &report.legacy_url, restore_backup.as_deref());
        }
        return Err(unfinished.into());
    }
    let upstream_since = &prepared.status.upstream_since;
    // What is left to do, from the database (none after a dry run: it changed nothing).
    let next = if report.outcome == Outcome::DryRun {
        None
    } else {
        Some(profochat_saas::next_steps::read(&db.client).await.unwrap_or_else(|_| next_steps_of(&report)))
    };
    // The migration is committed: an import that fails changes nothing and is reported after it.
    let (imported, import_failed) = if courses.is_empty() || opts.dry_run {
        (None, None)
    } else {
        let default_bot = report.default_bot.clone().or_else(|| opts.default_bot.clone());
        match profochat_saas::courses_yml::import(&mut db.client, &courses, default_bot.as_deref()).await {
            Ok(r) => (Some(r), None),
            Err(e) => (None, Some(e)),
        }
    };
    if args.out.json {
        let mut v = serde_json::to_value(&report)?;
        v["courses_yml"] = serde_json::to_value(&imported)?;
        v["backup"] = serde_json::to_value(&backup)?;
        v["legacy_role"] = serde_json::to_value(&report.legacy_role)?;
        v["next_steps"] = serde_json::to_value(&next)?;
        output::print_json(&v)?;
    } else if report.outcome == Outcome::AlreadyMigrated && upstream_since.is_empty() && next.as_ref().is_some_and(|n| n.finished) {
        println!(
            "{} is migrated and finished (migration #{}): nothing was changed.",
            report.target,
            report.migration_id.unwrap_or_default()
        );
        if let Some(n) = &next {
            print_next_steps(n, "", None);
        }
    } else {
        // The backup this run took; none with --skip-backup; an earlier run's, if any, else.
        let restore = match (&restore_backup, report.outcome) {
            (Some(cmd), _) => Some(cmd.clone()),
            (None, Outcome::Migrated) => None,
            (None, _) => Some(EARLIER_BACKUP.to_string()),
        };
        print_outcome(&report, true);
        if let Some(r) = &imported {
            crate::cli::commands::courses::print_report(r);
        } else if !courses.is_empty() {
            println!("--courses-yml: {} file(s) read; nothing is imported in a dry run.", courses.len());
        }
        if let Some(role) = &report.legacy_role {
            println!("Role {role:?} now finds the legacy interface first (search_path = {}); restart the legacy bot to reconnect.", profochat_saas::legacy::SEARCH_PATH);
        }
        if report.outcome == Outcome::AlreadyMigrated && !upstream_since.is_empty() {
            println!(
                "Upstream's migrations {} were applied since: upstream's own tooling manages the schema from here; `migrate` never changes it back. \
                 Going back across them is a restore of a backup (profochat-saas backups, profochat-saas restore FILE).",
                upstream_since.join(", ")
            );
        } else if let (Some(n), true) = (&next, matches!(report.outcome, Outcome::AlreadyMigrated | Outcome::Migrated | Outcome::IndexesFinished)) {
            print_next_steps(n, &report.legacy_url, restore.as_deref());
        }
    }
    if let Some(e) = import_failed {
        eprintln!(
            "The migration stays as reported; the YAML courses were not imported (the import changed nothing). \
             Once fixed: profochat-saas course import --courses-yml FILE …"
        );
        return Err(e.into());
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
                 SELECT * FROM profochat_saas.enrol(payload, chat_id, username, bot_id)."
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
    // Offline the rows are phases, and the indexes deferred to after the commit get a
    // row of their own; online they are steps, the indexes one of them.
    let deferred = r.phases.iter().any(|p| p.counts.contains_key("indexes_deferred"));
    let mut phases = output::table(&[if deferred || r.phases.iter().all(|p| OnlineStep::parse(&p.name).is_none()) { "phase" } else { "step" }, "time", "what it did"]);
    for p in &r.phases {
        // Indexes deferred to after the commit get their own row below, once built.
        if p.counts.contains_key("indexes_deferred") && r.indexes.elapsed_ms > 0 {
            continue;
        }
        let what = p
            .counts
            .iter()
            .filter(|(_, v)| **v != 0)
            .map(|(k, v)| match (k.as_str(), OnlineStep::parse(&p.name)) {
                // A backfill counts the key values its batches covered, not rows.
                ("keys", Some(OnlineStep::Backfill(t))) => format!("{} values {}", t.batched_by(), output::thousands(*v)),
                _ => format!("{} {}", k.replace('_', " "), output::thousands(*v)),
            })
            .collect::<Vec<_>>()
            .join(", ");
        phases.add_row(vec![format!("{} {}", p.number, p.name), output::format_duration(std::time::Duration::from_millis(p.elapsed_ms)), what]);
    }
    if r.indexes.elapsed_ms > 0 && deferred {
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
        let t = |n: i64| output::thousands(n);
        let mut row = vec![
            p.table.clone(),
            t(p.before.rows),
            t(p.rows_now),
            format!("{} / {} / {}", t(p.archived_deleted), t(p.archived_updated), t(p.archived_inserted)),
        ];
        if let Some([i, u, d]) = p.written_meanwhile {
            row.push(format!("{} / {} / {}", t(i), t(u), t(d)));
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
        output::thousands(r.archived_total()),
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

/// What the operator still has to do, from the database itself (`n`): only the steps
/// that apply. After `finish` the legacy interface, `finish` and `rollback` are gone
/// from the list. `restore` is the command that restores the backup taken before the
/// migration, when one exists; `legacy_url` the legacy bot's URL, when known.
pub fn print_next_steps(n: &NextSteps, legacy_url: &str, restore: Option<&str>) {
    println!();
    if n.finished {
        if n.nothing_left() {
            println!("The migration is finished: the legacy interface and the compatibility layer are removed; nothing is left to do.");
            println!("Check it any time: profochat-saas validate");
            return;
        }
        println!("The migration is finished: the legacy interface and the compatibility layer are removed. Still to do:");
    } else {
        println!("Next steps:");
    }
    let mut k = 1;
    let mut step = |s: String| {
        println!("  {k}. {s}");
        k += 1;
    };
    if !n.bots_waiting_for_token.is_empty() {
        let mut s = format!("Set the real Telegram token of {} bot(s) still waiting for one:", n.bots_waiting_for_token.len());
        for b in &n.bots_waiting_for_token {
            s.push_str(&format!("\n       profochat-saas bot set-token --bot {}   (reads the token from standard input)", shell_quote(b)));
        }
        step(s);
    }
    if !n.finished {
        let url = if legacy_url.is_empty() {
            format!("its DATABASE_URL with ?{} added", profochat_saas::legacy::URL_OPTIONS)
        } else {
            format!("this DATABASE_URL (with its password):\n       {legacy_url}")
        };
        if n.legacy_roles.is_empty() {
            step(format!(
                "Switch the legacy bot to the legacy interface, where it sees its tables exactly as before (renamed and merged \
                 courses under their old ids): restart it with {url}\n       \
                 or set it on the bot's role instead: profochat-saas legacy-role ROLE   (or migrate --legacy-role ROLE). \
                 Until then its new rows still get their links, but it sees renamed courses under their new ids, and its course ends and course removals on them reach nothing."
            ));
        } else {
            step(format!(
                "Restart the legacy bot if it has not reconnected since: role(s) {} find the legacy interface first \
                 (a bot that connects as another role uses {url}).",
                n.legacy_roles.join(", ")
            ));
        }
    }
    for account in &n.accounts_without_owner {
        let flag = if *account == 1 { String::new() } else { format!(" --account {account}") };
        step(format!("Add the owner of account {account}: profochat-saas member add{flag} --telegram-user-id YOUR_TELEGRAM_ID --role owner"));
    }
    if n.deployments_without_token > 0 {
        step(format!(
            "Create enrollment links for the {} deployment(s) without one: profochat-saas token create --public-for-all   (then: profochat-saas token list)",
            output::thousands(n.deployments_without_token)
        ));
    }
    step("Check everything: profochat-saas validate".into());
    if n.finished {
        return;
    }
    step(
        "Update the application: read bot_id instead of botname, add account_id to queries, start runs through enrollment tokens: \
         on /start cd_<deployment_id>_<token>, SELECT * FROM profochat_saas.enrol(payload, chat_id, username, bot_id) \
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

/// What is left after a fresh migration when the database cannot be asked (the demo's,
/// dropped at its end): its bots without token, no owner, no enrollment link.
pub fn next_steps_of(r: &MigrationReport) -> NextSteps {
    NextSteps {
        finished: false,
        bots_waiting_for_token: r.bots_waiting_for_token.clone(),
        accounts_without_owner: vec![1],
        deployments_without_token: r.deployments,
        usable_tokens: 0,
        legacy_roles: vec![],
    }
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "_-./".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}
