//! `account create` and `account list`.

use std::process::ExitCode;

use anyhow::Result;
use profochat_saas::ops;

use super::{connect_migrated, when, yes_no};
use crate::cli::{output, AccountCommand};

pub async fn account(c: AccountCommand) -> Result<ExitCode> {
    match c {
        AccountCommand::Create { conn, name, slug, plan, confirm, out } => {
            let db = connect_migrated(&conn).await?;
            output::confirm(&format!("Create account {name:?} ({slug}, plan {plan})?"), confirm.yes).await?;
            let a = ops::create_account(&db.client, &name, &slug, &plan).await?;
            if out.json {
                output::print_json(&a)?;
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "Created account {} {:?} (slug {}, plan {}).",
                a.account_id,
                a.name,
                a.slug,
                a.plan.as_deref().unwrap_or("-")
            );
            println!(
                "Next: add its owner with `profochat-saas member add --account {} --telegram-user-id ID --role owner`.",
                a.account_id
            );
            Ok(ExitCode::SUCCESS)
        }
        AccountCommand::List { conn, out } => {
            let db = connect_migrated(&conn).await?;
            let accounts = ops::list_accounts(&db.client).await?;
            if out.json {
                output::print_json(&accounts)?;
                return Ok(ExitCode::SUCCESS);
            }
            let mut t = output::table(&["ID", "Name", "Slug", "Plan", "Active", "Bots", "Members", "Owners", "Courses", "Deployments", "Created"]);
            for s in &accounts {
                let a = &s.account;
                t.add_row(vec![
                    a.account_id.to_string(),
                    a.name.clone(),
                    a.slug.clone(),
                    a.plan.clone().unwrap_or_else(|| "-".into()),
                    yes_no(a.is_active).to_string(),
                    s.bots.to_string(),
                    s.members.to_string(),
                    s.owners.to_string(),
                    s.courses.to_string(),
                    s.deployments.to_string(),
                    when(a.created_at),
                ]);
            }
            println!("{t}");
            Ok(ExitCode::SUCCESS)
        }
    }
}
