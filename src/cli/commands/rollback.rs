//! `rollback`: the migrated database back to the legacy schema, in place.

use std::process::ExitCode;

use anyhow::Result;
use profochat_saas::rollback;

use crate::cli::{connect, output, ConfirmArgs, ConnArgs, OutputArgs};

pub async fn run(conn: &ConnArgs, confirm: &ConfirmArgs, out: &OutputArgs) -> Result<ExitCode> {
    let mut db = connect(conn).await?;
    let target = db.settings.display_target();
    output::confirm(
        &format!("Roll {target} back to the legacy schema? The SaaS tables (bots, deployments) are dropped; legacy rows are kept"),
        confirm.yes,
    ).await?;
    let reporter = output::TerminalReporter::new(out.json);
    let r = rollback::rollback(&mut db, &reporter).await?;
    if out.json {
        output::print_json(&r)?;
        return Ok(ExitCode::SUCCESS);
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
    if r.changed_since_migration.is_empty() {
        println!("Every legacy table has exactly the fingerprint it had before migration #{}.", r.migration_id);
    } else {
        println!(
            "Legacy rows written since the migration are kept: {} differ from before migration #{} by those rows.",
            r.changed_since_migration.join(", "),
            r.migration_id
        );
    }
    if !r.bot_tokens_dropped.is_empty() {
        println!(
            "Note: the bot tokens set for {} were in the bot table and are gone with it; the legacy bot reads BOT_API_TOKEN.",
            r.bot_tokens_dropped.join(", ")
        );
    }
    println!("{target} is back in the legacy schema ({}).", output::format_duration(std::time::Duration::from_millis(r.elapsed_ms)));
    Ok(ExitCode::SUCCESS)
}
