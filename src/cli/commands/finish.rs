//! `finish`: the legacy interface and the compatibility layer go, once the application
//! uses the new schema and the legacy bot is stopped.

use std::process::ExitCode;

use anyhow::Result;
use profochat_saas::finish::{self, Outcome};
use profochat_saas::schema;

use crate::cli::{connect, output, ConfirmArgs, ConnArgs, OutputArgs};

pub async fn run(dry_run: bool, conn: &ConnArgs, confirm: &ConfirmArgs, out: &OutputArgs) -> Result<ExitCode> {
    let mut db = connect(conn).await?;
    let target = db.settings.display_target();
    let st = schema::inspect(&db).await?;
    if !dry_run && st.state.is_migrated() && !st.finished() {
        if !out.json {
            println!("finish removes from {target}:");
            for r in finish::REMOVES {
                println!("  - {r}");
            }
            println!("The legacy bot must be stopped (or use the new schema): after this it cannot work, and `rollback` is no longer possible (restoring a backup still is).");
        }
        output::confirm(&format!("Finish the migration of {target}?"), confirm.yes).await?;
    }
    let reporter = output::TerminalReporter::new(out.json);
    let r = finish::finish(&mut db, dry_run, &reporter).await?;
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
        Outcome::AlreadyFinished => println!("{target} is finished already: nothing was changed."),
        Outcome::DryRun => {
            println!("Dry run: finish would remove from {target}:");
            for x in &r.removes {
                println!("  - {x}");
            }
            println!("It checked that the migration is complete and valid; nothing was changed.");
        }
        Outcome::Finished => {
            println!("Finished {target}: the legacy interface and the compatibility layer are removed.");
            println!("  {} rows of the legacy interface's tables were kept in profochat_saas.archive.", r.archived_rows);
            if !r.roles_reset.is_empty() {
                println!("  search_path reset for role(s): {}", r.roles_reset.join(", "));
            }
            println!("The database holds the target schema with the upstream names; the upstream project's later migrations apply from here.");
            println!("Check it: profochat-saas validate");
        }
    }
    Ok(ExitCode::SUCCESS)
}
