//! `finish`: the legacy interface and the compatibility layer go, once the application
//! uses the new schema and the legacy bot is stopped.

use std::process::ExitCode;

use anyhow::Result;
use profochat_saas::finish::{self, FinishOptions, Outcome};
use profochat_saas::schema;

use crate::cli::{connect, output, ConfirmArgs, ConnArgs, OutputArgs};

pub async fn run(dry_run: bool, quiet_for: &str, force: bool, conn: &ConnArgs, confirm: &ConfirmArgs, out: &OutputArgs) -> Result<ExitCode> {
    let quiet_for = if quiet_for.trim() == "0" { std::time::Duration::ZERO } else { profochat_saas::ops::parse_duration(quiet_for)? };
    let opts = FinishOptions { dry_run, quiet_for, force };
    let mut db = connect(conn).await?;
    let target = db.settings.display_target();
    let st = schema::inspect(&db).await?;
    if !dry_run && st.state.is_migrated() && !st.finished() {
        // The legacy bot still running refuses before the question (unless --force).
        if !force {
            let signs = finish::legacy_activity(&db.client).await?.blockers(quiet_for);
            if !signs.is_empty() {
                return Err(finish::refusal(&signs).into());
            }
        }
        if !out.json {
            println!("finish removes from {target}:");
            for r in finish::REMOVES {
                println!("  - {r}");
            }
            println!("The legacy bot must be stopped (or use the new schema): after this it cannot work, and `rollback` is no longer possible (restoring a backup still is).");
            // Nothing the application does in the new schema shows yet: say so before asking.
            if let Ok(n) = profochat_saas::next_steps::read(&db.client).await {
                if n.usable_tokens == 0 && !n.accounts_without_owner.is_empty() {
                    eprintln!(
                        "{} nothing shows that the application uses the new schema yet: no account member owns account {}, and there is no enrollment token.",
                        output::warning_label(),
                        n.accounts_without_owner.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", ")
                    );
                }
            }
        }
        output::confirm(&format!("Finish the migration of {target}?"), confirm.yes).await?;
    }
    let reporter = output::TerminalReporter::new(out.json);
    let r = finish::finish(&mut db, &opts, &reporter).await?;
    if out.json {
        output::print_json(&r)?;
        return Ok(ExitCode::SUCCESS);
    }
    match r.outcome {
        Outcome::AlreadyFinished if !st.upstream_since.is_empty() => {
            println!("{target} is finished already: nothing was changed.");
            println!(
                "Upstream's migrations {} were applied since: upstream's own tooling manages the schema from here. \
                 Going back is a restore of a backup (`profochat-saas backups`, `profochat-saas restore FILE`), not `rollback`.",
                st.upstream_since.join(", ")
            );
        }
        Outcome::AlreadyFinished => {
            println!("{target} is finished already: nothing was changed.");
            print_left(&db).await;
        }
        Outcome::DryRun => {
            println!("Dry run: finish would remove from {target}:");
            for x in &r.removes {
                println!("  - {x}");
            }
            if r.legacy_bot_signs.is_empty() {
                println!("It checked that the migration is complete and valid, and saw no sign of the legacy bot running; nothing was changed.");
            } else {
                println!("It checked that the migration is complete and valid; nothing was changed. But finish would refuse now: the legacy bot seems to be running:");
                for s in &r.legacy_bot_signs {
                    println!("  - {s}");
                }
            }
        }
        Outcome::Finished => {
            println!("Finished {target}: the legacy interface and the compatibility layer are removed.");
            println!("  {} rows of the legacy interface's tables were kept in profochat_saas.archive.", r.archived_rows);
            if !r.roles_reset.is_empty() {
                println!("  search_path reset for role(s): {}", r.roles_reset.join(", "));
            }
            println!("The database holds the target schema with the upstream names; the upstream project's later migrations apply from here.");
            print_left(&db).await;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What is still to do, read from the database; a database that cannot say gets only
/// the check.
async fn print_left(db: &profochat_saas::conn::Db) {
    match profochat_saas::next_steps::read(&db.client).await {
        Ok(n) => crate::cli::commands::migrate::print_next_steps(&n, "", None),
        Err(_) => println!("Check it: profochat-saas validate"),
    }
}
