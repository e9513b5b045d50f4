//! `bot list` and `bot set-token`.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Result;
use profochat_saas::conn::Secret;
use profochat_saas::ops::{self, BotRef, TokenSource};

use super::{connect_migrated, yes_no};
use crate::cli::{output, signals, BotCommand};

pub async fn bot(c: BotCommand) -> Result<ExitCode> {
    match c {
        BotCommand::List { conn, out } => {
            let db = connect_migrated(&conn).await?;
            let bots = ops::list_bots(&db.client).await?;
            if out.json {
                output::print_json(&bots)?;
                return Ok(ExitCode::SUCCESS);
            }
            if bots.is_empty() {
                println!("No bots.");
                return Ok(ExitCode::SUCCESS);
            }
            let mut t = output::table(&["Account", "Bot ID", "Bot", "Token", "Deployments", "Active runs", "Active"]);
            for b in &bots {
                t.add_row(vec![
                    b.account_id.to_string(),
                    b.bot_id.to_string(),
                    b.bot_name.clone(),
                    b.token.clone(),
                    b.deployments.to_string(),
                    b.active_runs.to_string(),
                    yes_no(b.is_active).to_string(),
                ]);
            }
            println!("{t}");
            let waiting: Vec<&str> = bots.iter().filter(|b| !b.has_real_token).map(|b| b.bot_name.as_str()).collect();
            if !waiting.is_empty() {
                println!();
                println!(
                    "{} bot(s) still wait for a real token: {}. Set one with `profochat-saas bot set-token --bot NAME` (the token is read from standard input).",
                    waiting.len(),
                    waiting.join(", ")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        BotCommand::SetToken { conn, bot, token_env, account, confirm, out } => {
            let db = connect_migrated(&conn).await?;
            // An unknown bot is reported before anyone types a token.
            let found = ops::find_bot(&db.client, account, BotRef::Name(&bot)).await?;
            output::confirm(&format!("Set the Telegram token of bot {} (account {account})?", found.bot_name), confirm.yes).await?;
            let (token, source) = read_token(&found.bot_name, token_env.as_deref()).await?;
            let set = ops::set_token(&db.client, account, &found.bot_name, &token, source).await?;
            if out.json {
                output::print_json(&set)?;
                return Ok(ExitCode::SUCCESS);
            }
            if set.unchanged {
                println!("Bot {} (account {}) already had this token ({}); nothing changed.", set.bot_name, set.account_id, set.token);
            } else {
                println!(
                    "Bot {} (account {}): token set to {}, read from {}.",
                    set.bot_name, set.account_id, set.token, set.source
                );
                if set.replaced_placeholder {
                    println!("It replaced the migration's placeholder: `profochat-saas validate` no longer lists this bot as waiting for a token.");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The token from --token-env VAR, else BOT_API_TOKEN (when BOT_NAME does not name
/// another bot), else standard input: hidden on a terminal, one line from a pipe.
async fn read_token(bot: &str, token_env: Option<&str>) -> Result<(Secret, TokenSource)> {
    let env = |var: &str| std::env::var(var).ok().filter(|v| !v.trim().is_empty());
    if let Some(var) = token_env {
        return match env(var) {
            Some(v) => Ok((Secret::new(v.trim()), TokenSource::Env(var.to_string()))),
            None => Err(profochat_saas::Error::usage(
                format!("the environment variable {var} (named by --token-env) is not set or is empty; bot {bot:?} keeps its token"),
                format!("Export {var} with the token first, or leave out --token-env to type it."),
            )
            .into()),
        };
    }
    if let Some(v) = env("BOT_API_TOKEN") {
        match env("BOT_NAME") {
            Some(owner) if owner.trim() != bot => {
                eprintln!("note: BOT_API_TOKEN is the token of BOT_NAME={}, not of {bot}; reading the token from standard input.", owner.trim());
            }
            _ => return Ok((Secret::new(v.trim()), TokenSource::Env("BOT_API_TOKEN".into()))),
        }
    }
    let hidden = std::io::stdin()
        .is_terminal()
        .then(|| format!("Telegram token of bot {bot} (from @BotFather; input is hidden): "));
    let line = signals::with_note(format!("Nothing was changed: bot {bot:?} keeps its token."), signals::read_line(hidden)).await?;
    let line = line.trim().to_string();
    if line.is_empty() {
        return Err(profochat_saas::Error::usage(
            format!("no token was given on standard input; bot {bot:?} keeps its token"),
            "Pipe the token in (for example from a password manager), type it when asked, or use --token-env VAR.",
        )
        .into());
    }
    Ok((Secret::new(line), TokenSource::Stdin))
}
