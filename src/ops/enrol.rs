//! The runtime path of the SaaS schema: a `/start cd_<deployment_id>_<token>`
//! payload resolved to its deployment, and a chat enrolled through it.
//!
//! Both call the SQL functions `migrate` installs (`sql/migrate/enrol.sql`):
//! `profochat_saas.enrol(payload, chat_id, username, bot)` is the one implementation,
//! the same for this library and for applications in any language. Its refusals
//! arrive as SQLSTATEs of class PC and become [`Error::TokenRefused`] here.

use serde::Serialize;
use tokio_postgres::GenericClient;

use super::tokens::TokenValue;
use super::sqlstate;
use crate::error::{Error, Result, TokenRefusal};

/// Telegram passes at most 64 characters after `start=`.
pub const MAX_START_PAYLOAD: usize = 64;

const PREFIX: &str = "cd_";

/// A `/start` payload: `cd_<deployment_id>_<token>`. Reading one is the SQL
/// function's job (`profochat_saas.start_payload`); this side only writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartPayload {
    pub deployment_id: i32,
    pub token: TokenValue,
}

impl StartPayload {
    /// `cd_<deployment_id>_<token>`.
    pub fn format(deployment_id: i32, token: &str) -> String {
        format!("{PREFIX}{deployment_id}_{token}")
    }

    pub fn to_payload(&self) -> String {
        Self::format(self.deployment_id, self.token.expose())
    }
}

/// A token that would enrol now, with the deployment it leads to.
#[derive(Debug, Clone, Serialize)]
pub struct ResolvedToken {
    pub token_id: i32,
    pub token_type: Option<String>,
    pub deployment_id: i32,
    pub course_id: String,
    pub account_id: i32,
    pub bot_id: i32,
    pub bot_name: String,
    pub environment: Option<String>,
    pub max_uses: Option<i32>,
    pub current_uses: i32,
    pub expires_at: Option<chrono::NaiveDateTime>,
}

/// A chat enrolled through a token.
#[derive(Debug, Clone, Serialize)]
pub struct Enrolment {
    pub run_id: i32,
    pub deployment_id: i32,
    pub course_id: String,
    pub bot_id: i32,
    pub bot_name: String,
    pub account_id: i32,
    pub token_id: i32,
    /// The chat's run on this bot that was active until now, ended by this enrolment.
    pub ended_previous_run: Option<i32>,
}

/// What a failed call of the enrolment functions means: a refusal (class PC), a
/// database the functions are not installed in yet, or another failure.
fn enrol_error(context: &'static str) -> impl Fn(tokio_postgres::Error) -> Error {
    move |e| {
        let code = sqlstate(&e).unwrap_or_default().to_string();
        if let Some(reason) = TokenRefusal::from_sqlstate(&code) {
            tracing::debug!(sqlstate = %code, %reason, "enrollment token refused");
            return Error::TokenRefused { reason };
        }
        match code.as_str() {
            "PC009" => Error::Usage {
                message: "enrolment needs the chat id and the name of the bot that received /start".into(),
                hint: "Pass the bot's name as in the bot table (the BOT_NAME it runs with).".into(),
            },
            "PC010" => Error::Usage {
                message: "the bot name names bots of several accounts, so it does not say which bot received /start".into(),
                hint: "Enrol by the bot's id (bot.bot_id): `enrol_bot_id`, or profochat_saas.enrol(payload, chat_id, username, bot_id).".into(),
            },
            // undefined_function, invalid_schema_name: an older profochat-saas migrated this database.
            "42883" | "3F000" => Error::state(
                "the enrolment function profochat_saas.enrol is not installed in this database (an older profochat-saas migrated it, or it was dropped)",
                "Run `profochat-saas migrate`: it installs the function (and brings keys and indexes to upstream's names); no row changes.",
            ),
            _ => Error::query(context, &e, "The statement was rolled back: nothing was changed."),
        }
    }
}

/// Checks a `/start` payload (or a bare token) for an enrolment on `bot` without using
/// the token: refused with its reason when the token is unknown, revoked, expired, used
/// up, of another deployment or bot, or its deployment is inactive.
pub async fn resolve_start_payload(client: &impl GenericClient, payload: &str, bot: &str) -> Result<ResolvedToken> {
    let r = client
        .query_one(include_str!("../../sql/ops/enrol_check.sql"), &[&payload, &bot])
        .await
        .map_err(enrol_error("checking the enrollment token"))?;
    Ok(resolved(&r))
}

/// [`resolve_start_payload`] for the bot of id `bot_id` (its name may be another
/// account's bot's too).
pub async fn resolve_start_payload_bot_id(client: &impl GenericClient, payload: &str, bot_id: i32) -> Result<ResolvedToken> {
    let r = client
        .query_one(include_str!("../../sql/ops/enrol_check_bot_id.sql"), &[&payload, &bot_id])
        .await
        .map_err(enrol_error("checking the enrollment token"))?;
    Ok(resolved(&r))
}

fn resolved(r: &tokio_postgres::Row) -> ResolvedToken {
    ResolvedToken {
        token_id: r.get("token_id"),
        token_type: r.get("token_type"),
        deployment_id: r.get("deployment_id"),
        course_id: r.get("course_id"),
        account_id: r.get("account_id"),
        bot_id: r.get("bot_id"),
        bot_name: r.get("bot_name"),
        environment: r.get("environment"),
        max_uses: r.get("max_uses"),
        current_uses: r.get("current_uses"),
        expires_at: r.get("expires_at"),
    }
}

/// Enrols a chat that sent `/start <payload>` to `bot` (its name in the bot table),
/// through `profochat_saas.enrol`: the token is checked (active, unexpired, uses left,
/// of the payload's deployment, its deployment on that very bot), the chat's active run
/// on that bot is ended, the run is started with its account, bot, deployment and
/// token (and the legacy botname and course_id), and the use is counted — in one
/// statement, so a refusal or a failure changes nothing. Inside a caller's transaction
/// it is part of that transaction.
pub async fn enrol(
    client: &impl GenericClient,
    payload: &str,
    chat_id: i64,
    username: Option<&str>,
    bot: &str,
) -> Result<Enrolment> {
    let r = client
        .query_one(include_str!("../../sql/ops/enrol.sql"), &[&payload, &chat_id, &username, &bot])
        .await
        .map_err(enrol_error("enrolling the chat"))?;
    Ok(enrolled(&r, chat_id))
}

/// [`enrol`] for the bot of id `bot_id`: what an application that knows its bot's id
/// calls (a bot name may be another account's bot's too).
pub async fn enrol_bot_id(
    client: &impl GenericClient,
    payload: &str,
    chat_id: i64,
    username: Option<&str>,
    bot_id: i32,
) -> Result<Enrolment> {
    let r = client
        .query_one(include_str!("../../sql/ops/enrol_bot_id.sql"), &[&payload, &chat_id, &username, &bot_id])
        .await
        .map_err(enrol_error("enrolling the chat"))?;
    Ok(enrolled(&r, chat_id))
}

fn enrolled(r: &tokio_postgres::Row, chat_id: i64) -> Enrolment {
    let e = Enrolment {
        run_id: r.get("run_id"),
        deployment_id: r.get("deployment_id"),
        course_id: r.get("course_id"),
        bot_id: r.get("bot_id"),
        bot_name: r.get("bot_name"),
        account_id: r.get("account_id"),
        token_id: r.get("token_id"),
        ended_previous_run: r.get("ended_previous_run"),
    };
    tracing::debug!(run_id = e.run_id, token_id = e.token_id, deployment_id = e.deployment_id, chat_id, "chat enrolled");
    e
}

/// How an application calls the enrolment for this payload and bot, in SQL (for the
/// operator's output; `chat_id` and `username` come from the Telegram update).
pub fn enrol_sql_example(payload: &str, bot_name: &str) -> String {
    include_str!("../../sql/ops/enrol_example.sql")
        .lines()
        .filter(|l| !l.starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n")
        .replace(":payload", &crate::sql::literal(payload))
        .replace(":bot", &crate::sql::literal(bot_name))
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_written_as_the_sql_function_reads_them() {
        let p = StartPayload { deployment_id: 12, token: TokenValue::new("abc_DEF-9") };
        assert_eq!(p.to_payload(), "cd_12_abc_DEF-9");
    }

    #[test]
    fn the_sql_example_quotes_what_it_names() {
        let s = enrol_sql_example("cd_1_abc", "o'bot");
        assert!(s.starts_with("SELECT"), "{s}");
        assert!(s.contains("profochat_saas.enrol('cd_1_abc', chat_id => "), "{s}");
        assert!(s.contains("bot => 'o''bot')"), "{s}");
    }
}
