//! `deployment list` and `deployment create`.

use std::process::ExitCode;

use anyhow::Result;
use profochat_saas::ops::{self, BotRef};

use super::{connect_migrated, yes_no};
use crate::cli::{output, DeploymentCommand};

pub async fn deployment(c: DeploymentCommand) -> Result<ExitCode> {
    match c {
        DeploymentCommand::List { conn, account, bot, out } => {
            let db = connect_migrated(&conn).await?;
            let list = ops::list_deployments(&db.client, account, bot.as_deref()).await?;
            if out.json {
                output::print_json(&list)?;
                return Ok(ExitCode::SUCCESS);
            }
            if list.is_empty() {
                println!("No deployments. Deploy a course with `profochat-saas deployment create --course ID --bot NAME`.");
                return Ok(ExitCode::SUCCESS);
            }
            let mut t = output::table(&["ID", "Account", "Course", "Bot", "Environment", "Active", "Runs", "Active runs", "Active tokens"]);
            for s in &list {
                let d = &s.deployment;
                t.add_row(vec![
                    d.deployment_id.to_string(),
                    d.account_id.to_string(),
                    d.course_id.clone(),
                    d.bot_name.clone(),
                    d.environment.clone().unwrap_or_else(|| "-".into()),
                    yes_no(d.is_active).to_string(),
                    s.runs.to_string(),
                    s.active_runs.to_string(),
                    s.active_tokens.to_string(),
                ]);
            }
            println!("{t}");
            let without: usize = list.iter().filter(|s| s.deployment.is_active && s.active_tokens == 0).count();
            if without > 0 {
                println!();
                println!("{without} active deployment(s) have no usable token: `profochat-saas token create --public-for-all` gives each a public one.");
            }
            Ok(ExitCode::SUCCESS)
        }
        DeploymentCommand::Create { conn, course, bot, account, environment, confirm, out } => {
            let db = connect_migrated(&conn).await?;
            output::confirm(&format!("Deploy course {course:?} to bot {bot:?} ({environment}, account {account})?"), confirm.yes).await?;
            let d = ops::create_deployment(&db.client, &course, BotRef::Name(&bot), account, &environment).await?;
            if out.json {
                output::print_json(&d)?;
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "Created deployment {}: course {:?} on bot {} ({}) in account {}.",
                d.deployment_id,
                d.course_id,
                d.bot_name,
                d.environment.as_deref().unwrap_or("-"),
                d.account_id
            );
            println!("Next: `profochat-saas token create --deployment {}` prints its deep link.", d.deployment_id);
            Ok(ExitCode::SUCCESS)
        }
    }
}
