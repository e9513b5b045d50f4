//! `tenant isolate --role ROLE [--undo]`: row-level security by account for the
//! application's role.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{connect, output, ConfirmArgs, ConnArgs, OutputArgs};

pub async fn isolate(role: &str, undo: bool, conn: &ConnArgs, confirm: &ConfirmArgs, out: &OutputArgs) -> Result<ExitCode> {
    let mut db = connect(conn).await?;
    let what = if undo {
        format!("Remove the tenant isolation of role {role:?} (its row-level security policies) in {}?", db.settings.display_target())
    } else {
        format!(
            "Turn on row-level security on every table with account_id in {} so that role {role:?} sees and writes only the rows of the account its transaction sets in {}?",
            db.settings.display_target(),
            profochat_saas::tenant::ACCOUNT_SETTING
        )
    };
    output::confirm(&what, confirm.yes).await?;
    let r = profochat_saas::tenant::isolate(&mut db, role, undo).await?;
    if out.json {
        output::print_json(&serde_json::to_value(&r)?)?;
    } else if undo {
        println!("Role {role:?} is no longer isolated: its policies are gone from {} table(s).", r.tables.len());
        if r.isolated_roles.is_empty() {
            println!("No role is isolated now: row-level security is off again where the tool had turned it on.");
        }
    } else {
        println!("Role {role:?} is isolated on {} table(s): {}.", r.tables.len(), r.tables.join(", "));
        println!(
            "Its transactions see no row until they name their account: BEGIN; SET LOCAL {} = '<account_id>'; … COMMIT;",
            profochat_saas::tenant::ACCOUNT_SETTING
        );
        if r.legacy_interface {
            println!(
                "Role {role:?} has rights on the legacy interface (profochat_legacy): through it, it reads and writes account 1's rows, whatever {} says, as the legacy bot must until `finish`; the policies apply to the public tables. If it is not the legacy bot's role: REVOKE ALL ON ALL TABLES IN SCHEMA profochat_legacy FROM {};",
                profochat_saas::tenant::ACCOUNT_SETTING,
                profochat_saas::sql::ident(role)
            );
        }
        println!("`profochat-saas validate` checks the policies; `profochat-saas tenant isolate --role {role} --undo` removes them.");
    }
    Ok(ExitCode::SUCCESS)
}
