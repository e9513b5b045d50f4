//! `member add`, `member list`, `member remove`.

use std::process::ExitCode;

use anyhow::Result;
use profochat_saas::ops::{self, LastOwner, MemberAction};

use super::{connect_migrated, when, yes_no};
use crate::cli::{output, MemberCommand};

fn who(id: i64, username: Option<&str>) -> String {
    match username {
        Some(u) => format!("{id} (@{u})"),
        None => id.to_string(),
    }
}

pub async fn member(c: MemberCommand) -> Result<ExitCode> {
    match c {
        MemberCommand::Add { conn, account, telegram_user_id, username, role: r, confirm, out } => {
            let mut db = connect_migrated(&conn).await?;
            let role_name = format!("{r:?}").to_lowercase();
            output::confirm(
                &format!("Add {} to account {account} as {role_name} (or give an existing member that role)?", who(telegram_user_id, username.as_deref())),
                confirm.yes,
            )
            .await?;
            let change = ops::add_member(&mut db, account, telegram_user_id, username.as_deref(), r).await?;
            if out.json {
                output::print_json(&change)?;
                return Ok(ExitCode::SUCCESS);
            }
            let m = &change.member;
            let name = who(m.telegram_user_id, m.telegram_username.as_deref());
            let role_now = m.role.as_deref().unwrap_or("-");
            match change.action {
                MemberAction::Added => println!("Added {name} to account {account} as {role_now}."),
                MemberAction::RoleChanged => println!(
                    "Member {name} of account {account}: role changed from {} to {role_now}.",
                    change.previous_role.as_deref().unwrap_or("(none)")
                ),
                MemberAction::Reactivated => println!("Member {name} of account {account} is active again, as {role_now}."),
                MemberAction::Unchanged => println!("Member {name} of account {account} already was {role_now}; nothing changed."),
            }
            Ok(ExitCode::SUCCESS)
        }
        MemberCommand::List { conn, account, out } => {
            let db = connect_migrated(&conn).await?;
            let members = ops::list_members(&db.client, account).await?;
            if out.json {
                output::print_json(&members)?;
                return Ok(ExitCode::SUCCESS);
            }
            if members.is_empty() {
                println!("Account {account} has no members. Add its owner with `profochat-saas member add --account {account} --telegram-user-id ID --role owner`.");
                return Ok(ExitCode::SUCCESS);
            }
            let mut t = output::table(&["Telegram user", "Username", "Role", "Active", "Added", "Last login"]);
            for m in &members {
                t.add_row(vec![
                    m.telegram_user_id.to_string(),
                    m.telegram_username.as_deref().map(|u| format!("@{u}")).unwrap_or_else(|| "-".into()),
                    m.role.clone().unwrap_or_else(|| "-".into()),
                    yes_no(m.is_active).to_string(),
                    when(m.created_at),
                    when(m.last_login_at),
                ]);
            }
            println!("{t}");
            Ok(ExitCode::SUCCESS)
        }
        MemberCommand::Remove { conn, account, telegram_user_id, confirm, out } => {
            let mut db = connect_migrated(&conn).await?;
            let m = ops::get_member(&db.client, account, telegram_user_id).await?;
            let name = who(m.telegram_user_id, m.telegram_username.as_deref());
            let last = ops::is_last_active_owner(&db.client, &m).await?;
            if last {
                eprintln!(
                    "{} {name} is the last active owner of account {account}: removing it leaves the account without an owner \
                     (validate warns about it: account.has_owner) until one is added with \
                     `profochat-saas member add --account {account} --telegram-user-id ID --role owner`.",
                    output::warning_label()
                );
            }
            output::confirm(
                &format!(
                    "Remove {name} ({}) from account {account}{}?",
                    m.role.as_deref().unwrap_or("no role"),
                    if last { ", its last owner" } else { "" }
                ),
                confirm.yes,
            ).await?;
            let removed = ops::remove_member(&mut db, account, telegram_user_id, if last { LastOwner::Remove } else { LastOwner::Refuse }).await?;
            if out.json {
                output::print_json(&removed)?;
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "Removed {} ({}) from account {account}.",
                who(removed.telegram_user_id, removed.telegram_username.as_deref()),
                removed.role.as_deref().unwrap_or("no role")
            );
            if last {
                println!("Account {account} has no active owner now.");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
