//! The runtime path of the SaaS schema: a `/start cd_<deployment_id>_<token>`
//! payload resolved to its deployment, and a chat enrolled through it.

use serde::Serialize;
use tokio_postgres::GenericClient;

use super::tokens::TokenValue;
use super::{query_error, sqlstate, violated_constraint, UNCHANGED};
use crate::conn::Db;
use crate::error::{Error, Result, TokenRefusal};

/// Telegram passes at most 64 characters after `start=`.
pub const MAX_START_PAYLOAD: usize = 64;

const PREFIX: &str = "cd_";

/// A parsed `/start` payload.
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

    /// Reads `cd_<deployment_id>_<token>`: a positive decimal id without leading
    /// zeros, a token of `A-Z a-z 0-9 _ -`, at most [`MAX_START_PAYLOAD`] characters.
    pub fn parse(payload: &str) -> Result<StartPayload> {
        let malformed = || Error::TokenRefused { reason: TokenRefusal::Malformed };
        if payload.len() > MAX_START_PAYLOAD {
            return Err(malformed());
        }
        let rest = payload.strip_prefix(PREFIX).ok_or_else(malformed)?;
        let (id, token) = rest.split_once('_').ok_or_else(malformed)?;
        if id.is_empty() || id.len() > 10 || id.starts_with('0') || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed());
        }
        let deployment_id: i32 = id.parse().map_err(|_| malformed())?;
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
            return Err(malformed());
        }
        Ok(StartPayload {
            deployment_id,
            token: TokenValue::new(token),
        })
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

/// A token with its deployment and bot.
const TOKEN_RESOLVE: &str = include_str!("../../sql/ops/token_resolve.sql");
/// The same, locking the token row: concurrent enrolments through one token wait
/// here, so each sees the uses the previous one counted and max_uses holds.
const TOKEN_LOCK: &str = concat!(include_str!("../../sql/ops/token_resolve.sql"), "   FOR UPDATE OF t\n");

/// Checks a token row (from `token_resolve.sql`, locked or not) against
/// the deployment the payload named.
fn check(row: Option<tokio_postgres::Row>, expected_deployment: Option<i32>) -> Result<ResolvedToken> {
    let refuse = |reason, token_id: Option<i32>| {
        tracing::debug!(?token_id, %reason, "enrollment token refused");
        Error::TokenRefused { reason }
    };
    let Some(r) = row else {
        return Err(refuse(TokenRefusal::Unknown, None));
    };
    let token_id: i32 = r.get("token_id");
    let deployment_id: i32 = r.get("deployment_id");
    if expected_deployment.is_some_and(|d| d != deployment_id) {
        return Err(refuse(TokenRefusal::WrongDeployment, Some(token_id)));
    }
    if !r.get::<_, bool>("token_active") {
        return Err(refuse(TokenRefusal::Revoked, Some(token_id)));
    }
    if r.get::<_, bool>("expired") {
        return Err(refuse(TokenRefusal::Expired, Some(token_id)));
    }
    let max_uses: Option<i32> = r.get("max_uses");
    let current_uses: i32 = r.get("current_uses");
    if max_uses.is_some_and(|m| current_uses >= m) {
        return Err(refuse(TokenRefusal::UsedUp, Some(token_id)));
    }
    if !r.get::<_, bool>("deployment_active") {
        return Err(refuse(TokenRefusal::DeploymentInactive, Some(token_id)));
    }
    Ok(ResolvedToken {
        token_id,
        token_type: r.get("token_type"),
        deployment_id,
        course_id: r.get("course_id"),
        account_id: r.get("account_id"),
        bot_id: r.get("bot_id"),
        bot_name: r.get("bot_name"),
        environment: r.get("environment"),
        max_uses,
        current_uses,
        expires_at: r.get("expires_at"),
    })
}

/// What the application got: a start payload, or a bare token (tokens never start
/// with `cd_`, so anything that does is read as a payload).
fn split(payload_or_token: &str) -> Result<(Option<i32>, TokenValue)> {
    let text = payload_or_token.trim();
    if text.starts_with(PREFIX) {
        let p = StartPayload::parse(text)?;
        return Ok((Some(p.deployment_id), p.token));
    }
    if text.is_empty() || text.len() > MAX_START_PAYLOAD {
        return Err(Error::TokenRefused { reason: TokenRefusal::Malformed });
    }
    Ok((None, TokenValue::new(text)))
}

/// Resolves a `/start` payload to its deployment without using the token:
/// refused with its reason when the token is unknown, revoked, expired, used up,
/// of another deployment, or its deployment is inactive.
pub async fn resolve_start_payload(client: &impl GenericClient, payload: &str) -> Result<ResolvedToken> {
    let p = StartPayload::parse(payload.trim())?;
    let row = client
        .query_opt(TOKEN_RESOLVE, &[&p.token.expose()])
        .await
        .map_err(query_error("looking up the enrollment token", UNCHANGED))?;
    check(row, Some(p.deployment_id))
}

/// A chat enrolled through a token.
#[derive(Debug, Clone, Serialize)]
pub struct Enrolment {
    pub run_id: i32,
    pub deployment_id: i32,
    pub course_id: String,
    pub bot_id: i32,
    pub account_id: i32,
    pub token_id: i32,
    /// The chat's run on this bot that was active until now, ended by this enrolment.
    pub ended_previous_run: Option<i32>,
}

/// Enrols a chat through a start payload (or a bare token), in one transaction:
/// the token row is locked, checked (active, unexpired, under its use limit, of
/// the payload's deployment), the chat's active run on that bot is ended, a run is
/// created with account, bot, deployment and token (and the legacy botname and
/// course_id), and the use is counted. A refusal changes nothing.
pub async fn enrol(db: &mut Db, payload_or_token: &str, chat_id: i64, username: Option<&str>) -> Result<Enrolment> {
    let (expected_deployment, token) = split(payload_or_token)?;
    // Enrolments of one chat on one bot take turns (an advisory lock); should a
    // run be inserted by other means meanwhile, the one-active-run index refuses
    // the insert and the enrolment runs again.
    let mut attempt = 0;
    loop {
        attempt += 1;
        match enrol_once(db, expected_deployment, &token, chat_id, username).await {
            Err(Retry::Again(_)) if attempt < 10 => continue,
            Err(Retry::Again(e)) => return Err(Error::query("enrolling the chat", &e, "The transaction was rolled back: nothing was changed.")),
            Err(Retry::Fail(e)) => return Err(e),
            Ok(e) => return Ok(e),
        }
    }
}

enum Retry {
    Again(tokio_postgres::Error),
    Fail(Error),
}

impl From<Error> for Retry {
    fn from(e: Error) -> Self {
        Retry::Fail(e)
    }
}

fn retryable(context: &'static str) -> impl Fn(tokio_postgres::Error) -> Retry {
    move |e| {
        let again = matches!(sqlstate(&e), Some("40001") | Some("40P01"))
            || violated_constraint(&e) == Some("uq_run_active_bot_chat");
        if again {
            Retry::Again(e)
        } else {
            Retry::Fail(Error::query(context, &e, "The transaction was rolled back: nothing was changed."))
        }
    }
}

async fn enrol_once(
    db: &mut Db,
    expected_deployment: Option<i32>,
    token: &TokenValue,
    chat_id: i64,
    username: Option<&str>,
) -> std::result::Result<Enrolment, Retry> {
    let tx = db.client.transaction().await.map_err(retryable("starting a transaction"))?;
    let row = tx
        .query_opt(TOKEN_LOCK, &[&token.expose()])
        .await
        .map_err(retryable("locking the enrollment token"))?;
    // Dropping the transaction on a refusal rolls it back and releases the lock.
    let t = check(row, expected_deployment)?;
    tx.execute(include_str!("../../sql/ops/enrol_lock_chat.sql"), &[&t.bot_id, &chat_id])
        .await
        .map_err(retryable("waiting for the chat's other enrolment"))?;
    let ended: Option<i32> = tx
        .query_opt(include_str!("../../sql/ops/enrol_end_previous.sql"), &[&t.bot_id, &chat_id])
        .await
        .map_err(retryable("ending the chat's previous run"))?
        .map(|r| r.get(0));
    let run_id: i32 = tx
        .query_one(
            include_str!("../../sql/ops/enrol_insert_run.sql"),
            &[
                &chat_id,
                &username,
                &t.bot_name,
                &t.course_id,
                &t.account_id,
                &t.bot_id,
                &t.deployment_id,
                &t.token_id,
            ],
        )
        .await
        .map_err(retryable("creating the run"))?
        .get(0);
    tx.execute(include_str!("../../sql/ops/enrol_count_use.sql"), &[&t.token_id])
        .await
        .map_err(retryable("counting the token's use"))?;
    tx.commit().await.map_err(retryable("committing the enrolment"))?;
    tracing::debug!(run_id, token_id = t.token_id, deployment_id = t.deployment_id, chat_id, "chat enrolled");
    Ok(Enrolment {
        run_id,
        deployment_id: t.deployment_id,
        course_id: t.course_id,
        bot_id: t.bot_id,
        account_id: t.account_id,
        token_id: t.token_id,
        ended_previous_run: ended,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads() {
        let p = StartPayload::parse("cd_12_abc_DEF-9").unwrap();
        assert_eq!(p.deployment_id, 12);
        assert_eq!(p.token.expose(), "abc_DEF-9");
        assert_eq!(p.to_payload(), "cd_12_abc_DEF-9");
        for bad in ["", "cd_", "cd_12", "cd_12_", "cd__abc", "cd_012_abc", "cd_x_abc", "xx_1_abc", "cd_1_a b", "cd_99999999999_abc"] {
            assert!(matches!(StartPayload::parse(bad), Err(Error::TokenRefused { reason: TokenRefusal::Malformed })), "{bad}");
        }
        assert!(StartPayload::parse(&format!("cd_1_{}", "a".repeat(60))).is_err());
    }
}
