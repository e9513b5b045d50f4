//! Bots and their Telegram tokens. A token is a secret: it goes to the server as a
//! bind parameter and comes back only masked.

use std::fmt;

use serde::Serialize;
use tokio_postgres::GenericClient;

use super::{not_found, query_error, require_account, violated_constraint, UNCHANGED};
use crate::conn::Secret;
use crate::error::{Error, Result};
use crate::target::{is_placeholder_token, is_telegram_token, mask_token, PLACEHOLDER_TOKEN_PREFIX};

/// A bot named by its id or by its name within an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BotRef<'a> {
    Id(i32),
    Name(&'a str),
}

impl From<i32> for BotRef<'_> {
    fn from(id: i32) -> Self {
        BotRef::Id(id)
    }
}

impl<'a> From<&'a str> for BotRef<'a> {
    fn from(name: &'a str) -> Self {
        BotRef::Name(name)
    }
}

impl<'a> From<&'a String> for BotRef<'a> {
    fn from(name: &'a String) -> Self {
        BotRef::Name(name)
    }
}

impl fmt::Display for BotRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BotRef::Id(id) => write!(f, "#{id}"),
            BotRef::Name(name) => write!(f, "{name:?}"),
        }
    }
}

/// A bot as `bot list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct BotInfo {
    pub bot_id: i32,
    pub account_id: i32,
    pub bot_name: String,
    pub display_name: Option<String>,
    pub is_active: bool,
    /// The token, masked (bot id and last two characters), or a note that it is a placeholder.
    pub token: String,
    /// False while the bot still has the migration's placeholder instead of a real token.
    pub has_real_token: bool,
    pub deployments: i64,
    pub active_runs: i64,
}

/// Every bot of every account, ordered by account and name.
pub async fn list_bots(client: &impl GenericClient) -> Result<Vec<BotInfo>> {
    let rows = client
        .query(include_str!("../../sql/ops/bot_list.sql"), &[])
        .await
        .map_err(query_error("listing bots", UNCHANGED))?;
    Ok(rows
        .iter()
        .map(|r| {
            let token: String = r.get("bot_token");
            BotInfo {
                bot_id: r.get("bot_id"),
                account_id: r.get("account_id"),
                bot_name: r.get("bot_name"),
                display_name: r.get("display_name"),
                is_active: r.get("is_active"),
                has_real_token: !is_placeholder_token(&token),
                token: mask_token(&token),
                deployments: r.get("deployments"),
                active_runs: r.get("active_runs"),
            }
        })
        .collect())
}

/// A bot found by [`find_bot`].
#[derive(Debug, Clone, Serialize)]
pub struct BotRow {
    pub bot_id: i32,
    pub account_id: i32,
    pub bot_name: String,
    /// Whether its token is still the migration's placeholder.
    pub placeholder_token: bool,
}

/// The bot of this account, or [`Error::NotFound`] naming the bots the account has.
pub async fn find_bot(client: &impl GenericClient, account_id: i32, bot: BotRef<'_>) -> Result<BotRow> {
    let row = match bot {
        BotRef::Id(id) => client
            .query_opt(include_str!("../../sql/ops/bot_find_by_id.sql"), &[&account_id, &id, &PLACEHOLDER_TOKEN_PREFIX])
            .await,
        BotRef::Name(name) => client
            .query_opt(include_str!("../../sql/ops/bot_find.sql"), &[&account_id, &name, &PLACEHOLDER_TOKEN_PREFIX])
            .await,
    }
    .map_err(query_error("looking up the bot", UNCHANGED))?;
    if let Some(r) = row {
        return Ok(BotRow {
            bot_id: r.get(0),
            account_id: r.get(1),
            bot_name: r.get(2),
            placeholder_token: r.get(3),
        });
    }
    require_account(client, account_id).await?;
    let names: Vec<String> = client
        .query(include_str!("../../sql/ops/bot_names.sql"), &[&account_id])
        .await
        .map_err(query_error("listing bots", UNCHANGED))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let hint = if names.is_empty() {
        format!("Account {account_id} has no bots.")
    } else {
        format!(
            "Bots of account {account_id}: {}. `profochat-saas bot list` shows every bot.",
            names.join(", ")
        )
    };
    Err(not_found("bot", format!("{bot} in account {account_id}"), hint))
}

/// Where a token was read from; named in messages instead of the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum TokenSource {
    Stdin,
    Env(String),
}

impl fmt::Display for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenSource::Stdin => f.write_str("standard input"),
            TokenSource::Env(var) => write!(f, "the environment variable {var}"),
        }
    }
}

/// What `bot set-token` did.
#[derive(Debug, Clone, Serialize)]
pub struct TokenSet {
    pub bot_id: i32,
    pub account_id: i32,
    pub bot_name: String,
    /// The new token, masked.
    pub token: String,
    pub source: TokenSource,
    /// The bot had the migration's placeholder until now.
    pub replaced_placeholder: bool,
    /// The bot already had exactly this token.
    pub unchanged: bool,
}

/// Gives a bot its Telegram token. The token must have Telegram's shape and belong
/// to no other bot; it never appears in the result or in an error.
pub async fn set_token(
    client: &impl GenericClient,
    account_id: i32,
    bot_name: &str,
    token: &Secret,
    source: TokenSource,
) -> Result<TokenSet> {
    let value = token.expose().trim();
    if !is_telegram_token(value) {
        return Err(Error::usage(
            format!(
                "the token read from {source} is not a Telegram bot token (expected <bot id>:<35 characters of A-Z a-z 0-9 _ ->); bot {bot_name:?} keeps its token"
            ),
            "Copy the token again from @BotFather (/mytokens or /token) and pass it on standard input or through --token-env.",
        ));
    }
    let bot = find_bot(client, account_id, BotRef::Name(bot_name)).await?;
    let taken = |owner_account: i32, owner: &str| {
        Error::refused(
            format!(
                "the token read from {source} already belongs to bot {owner:?} (account {owner_account}); one token identifies one Telegram bot, so bot {:?} keeps its token",
                bot.bot_name
            ),
            "Check that you copied the token of the right bot from @BotFather.",
        )
    };
    let owner = client
        .query_opt(include_str!("../../sql/ops/bot_token_owner.sql"), &[&value, &bot.bot_id])
        .await
        .map_err(query_error("checking that no other bot has this token", UNCHANGED))?;
    if let Some(o) = owner {
        return Err(taken(o.get(0), &o.get::<_, String>(1)));
    }
    let row = match client
        .query_one(include_str!("../../sql/ops/bot_set_token.sql"), &[&bot.bot_id, &value])
        .await
    {
        Ok(row) => row,
        // Another session gave the token to another bot between the check and the update.
        Err(e) if violated_constraint(&e) == Some("bot_bot_token_key") => {
            let owner = client
                .query_opt(include_str!("../../sql/ops/bot_token_owner.sql"), &[&value, &bot.bot_id])
                .await
                .map_err(query_error("checking that no other bot has this token", UNCHANGED))?;
            return Err(match owner {
                Some(o) => taken(o.get(0), &o.get::<_, String>(1)),
                None => Error::query("storing the bot token", &e, "The bot keeps its previous token."),
            });
        }
        Err(e) => return Err(Error::query("storing the bot token", &e, "The bot keeps its previous token.")),
    };
    tracing::info!(bot = %bot.bot_name, account_id, "bot token set");
    Ok(TokenSet {
        bot_id: bot.bot_id,
        account_id: bot.account_id,
        bot_name: bot.bot_name,
        token: mask_token(value),
        source,
        replaced_placeholder: bot.placeholder_token,
        unchanged: row.get(0),
    })
}
