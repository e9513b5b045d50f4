//! The tokens in the database: created (one, or a public one for every deployment that
//! lacks one), listed, revoked, deleted.

use std::time::Duration;

use serde::Serialize;
use tokio_postgres::GenericClient;

use super::{generate_token, is_strong_token, link_for, STRONG_TOKEN_PATTERN, TokenState, TokenType, TokenValue};
use crate::ops::deployments::{get_deployment, Deployment};
use crate::ops::enrol::{StartPayload, MAX_START_PAYLOAD};
use crate::ops::{query_error, UNCHANGED};
use crate::conn::Db;
use crate::error::{Error, Result};

/// A token just created, with its deep link.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedToken {
    pub token_id: i32,
    pub deployment_id: i32,
    pub course_id: String,
    pub account_id: i32,
    pub bot_name: String,
    pub environment: Option<String>,
    pub token_type: TokenType,
    pub token: TokenValue,
    /// `cd_<deployment_id>_<token>`, what the link passes to /start.
    pub payload: TokenValue,
    /// None when the bot name cannot be a Telegram username (`deep_link_note` says so).
    pub deep_link: Option<TokenValue>,
    pub deep_link_note: Option<String>,
    /// How the application enrols a chat through this token, in SQL.
    pub enrol_sql: TokenValue,
    pub max_uses: Option<i32>,
    pub expires_at: Option<chrono::NaiveDateTime>,
    pub created_at: Option<chrono::NaiveDateTime>,
}

/// Options of a new token.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokenOptions {
    pub max_uses: Option<i32>,
    pub expires_in: Option<Duration>,
    /// The Telegram user id of whoever created it, if known.
    pub created_by: Option<i64>,
}

fn check_options(options: &TokenOptions) -> Result<()> {
    if let Some(n) = options.max_uses {
        if n < 1 {
            return Err(Error::refused(
                format!("--max-uses {n} would make a token that can never be used"),
                "Give 1 or more, or leave it out for no limit.",
            ));
        }
    }
    if options.expires_in.is_some_and(|d| d.is_zero()) {
        return Err(Error::refused("the token would expire at once", "Give a positive duration such as 7d."));
    }
    Ok(())
}

/// Creates a token for an active deployment.
pub async fn create_token(
    client: &impl GenericClient,
    deployment_id: i32,
    token_type: TokenType,
    options: TokenOptions,
) -> Result<CreatedToken> {
    check_options(&options)?;
    let deployment = get_deployment(client, deployment_id).await?;
    if !deployment.is_active {
        return Err(Error::refused(
            format!("deployment {deployment_id} is not active, so a token for it could never enrol anyone"),
            "Pick an active deployment (`profochat-saas deployment list`).",
        ));
    }
    insert_token(client, &deployment, token_type, options).await
}

async fn insert_token(
    client: &impl GenericClient,
    deployment: &Deployment,
    token_type: TokenType,
    options: TokenOptions,
) -> Result<CreatedToken> {
    let expires_secs = options.expires_in.map(|d| d.as_secs_f64());
    // A collision of 144 random bits does not happen; a retry costs nothing if it does.
    for _ in 0..3 {
        let token = generate_token();
        let payload = StartPayload::format(deployment.deployment_id, token.expose());
        if payload.len() > MAX_START_PAYLOAD {
            return Err(Error::state(
                format!(
                    "the start payload of deployment {} would be {} characters, more than Telegram's {MAX_START_PAYLOAD}",
                    deployment.deployment_id,
                    payload.len()
                ),
                "This cannot be fixed by the operator: report it as a bug.",
            ));
        }
        let result = client
            .query_opt(
                include_str!("../../../sql/ops/token_create.sql"),
                &[
                    &deployment.deployment_id,
                    &token.expose(),
                    &token_type.as_str(),
                    &options.max_uses,
                    &expires_secs,
                    &options.created_by,
                ],
            )
            .await;
        let row = match result {
            Ok(Some(row)) => row,
            Ok(None) => continue,
            Err(e) => return Err(Error::query("creating the enrollment token", &e, UNCHANGED)),
        };
        let token_id: i32 = row.get("token_id");
        tracing::info!(token_id, deployment_id = deployment.deployment_id, token_type = token_type.as_str(), "enrollment token created");
        let link = link_for(deployment.deployment_id, &deployment.bot_name, token.expose());
        return Ok(CreatedToken {
            token_id,
            deployment_id: deployment.deployment_id,
            course_id: deployment.course_id.clone(),
            account_id: deployment.account_id,
            bot_name: deployment.bot_name.clone(),
            environment: deployment.environment.clone(),
            token_type,
            deep_link: link.as_ref().ok().cloned(),
            deep_link_note: link.err(),
            enrol_sql: TokenValue(crate::ops::enrol::enrol_sql_example(&payload, &deployment.bot_name)),
            payload: TokenValue(payload),
            token,
            max_uses: options.max_uses,
            expires_at: row.get("expires_at"),
            created_at: row.get("created_at"),
        });
    }
    Err(Error::state(
        "three new random tokens in a row collided with existing ones",
        "The random number generator of this machine is broken; do not use tokens created here.",
    ))
}

/// A token as `token list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo {
    pub token_id: i32,
    pub deployment_id: i32,
    pub course_id: String,
    pub account_id: i32,
    pub bot_name: String,
    pub environment: Option<String>,
    pub token_type: Option<String>,
    pub token: TokenValue,
    /// None when the stored token cannot travel in a deep link (too long, or characters
    /// outside A-Z a-z 0-9 _ -) or the bot name cannot be a Telegram username; `deep_link_note` says which.
    pub deep_link: Option<TokenValue>,
    pub deep_link_note: Option<String>,
    /// False for tokens that are guessable (shorter than 128 bits of base64) or fit no link.
    pub strong: bool,
    pub max_uses: Option<i32>,
    pub current_uses: i32,
    pub expires_at: Option<chrono::NaiveDateTime>,
    pub created_at: Option<chrono::NaiveDateTime>,
    pub created_by: Option<i64>,
    pub state: TokenState,
}

/// Tokens, of one deployment or of all.
pub async fn list_tokens(client: &impl GenericClient, deployment_id: Option<i32>) -> Result<Vec<TokenInfo>> {
    if let Some(id) = deployment_id {
        get_deployment(client, id).await?;
    }
    select_tokens(client, deployment_id, None).await
}

/// One token by id, or [`Error::NotFound`].
pub async fn get_token(client: &impl GenericClient, token_id: i32) -> Result<TokenInfo> {
    select_tokens(client, None, Some(token_id))
        .await?
        .pop()
        .ok_or_else(|| crate::ops::not_found("enrollment token", token_id, "`profochat-saas token list` shows the tokens and their ids."))
}

async fn select_tokens(client: &impl GenericClient, deployment_id: Option<i32>, token_id: Option<i32>) -> Result<Vec<TokenInfo>> {
    let rows = client
        .query(include_str!("../../../sql/ops/token_list.sql"), &[&deployment_id, &token_id])
        .await
        .map_err(query_error("listing enrollment tokens", UNCHANGED))?;
    Ok(rows
        .iter()
        .map(|r| {
            let deployment_id: i32 = r.get("deployment_id");
            let bot_name: String = r.get("bot_name");
            let token: String = r.get("token");
            let link = link_for(deployment_id, &bot_name, &token);
            TokenInfo {
                token_id: r.get("token_id"),
                deployment_id,
                course_id: r.get("course_id"),
                account_id: r.get("account_id"),
                environment: r.get("environment"),
                token_type: r.get("token_type"),
                deep_link: link.as_ref().ok().cloned(),
                deep_link_note: link.err(),
                strong: is_strong_token(deployment_id, &token),
                token: TokenValue(token),
                bot_name,
                max_uses: r.get("max_uses"),
                current_uses: r.get("current_uses"),
                expires_at: r.get("expires_at"),
                created_at: r.get("created_at"),
                created_by: r.get("created_by"),
                state: TokenState::from_sql(r.get("state")),
            }
        })
        .collect())
}

/// What `token revoke` did.
#[derive(Debug, Clone, Serialize)]
pub struct RevokedToken {
    pub token_id: i32,
    pub deployment_id: i32,
    /// False if it was revoked already.
    pub was_active: bool,
}

/// Revokes a token: it enrols nobody from now on; runs it enrolled stay.
pub async fn revoke_token(client: &impl GenericClient, token_id: i32) -> Result<RevokedToken> {
    let row = client
        .query_opt(include_str!("../../../sql/ops/token_revoke.sql"), &[&token_id])
        .await
        .map_err(query_error("revoking the token", UNCHANGED))?
        .ok_or_else(|| crate::ops::not_found("enrollment token", token_id, "`profochat-saas token list` shows the tokens and their ids."))?;
    tracing::info!(token_id, "enrollment token revoked");
    Ok(RevokedToken {
        token_id,
        deployment_id: row.get(0),
        was_active: row.get(1),
    })
}

/// What `token delete` did.
#[derive(Debug, Clone, Serialize)]
pub struct DeletedToken {
    pub token_id: i32,
    pub deployment_id: i32,
    pub token_type: Option<String>,
    /// How many times it had been used.
    pub uses: i32,
    /// Runs it enrolled: they stay, with token_id NULL and the token's id in their metadata.
    pub runs_detached: i64,
}

/// Deletes a token, unlike [`revoke_token`] which keeps the row: its links enrol nobody
/// any more, and the runs it enrolled stay, without the link to it (their metadata
/// keeps the token's id). One statement: all of it or nothing.
pub async fn delete_token(client: &impl GenericClient, token_id: i32) -> Result<DeletedToken> {
    let row = client
        .query_opt(include_str!("../../../sql/ops/token_delete.sql"), &[&token_id])
        .await
        .map_err(query_error("deleting the token", UNCHANGED))?
        .ok_or_else(|| crate::ops::not_found("enrollment token", token_id, "`profochat-saas token list` shows the tokens and their ids."))?;
    tracing::info!(token_id, "enrollment token deleted");
    Ok(DeletedToken {
        token_id,
        deployment_id: row.get("deployment_id"),
        token_type: row.get("token_type"),
        uses: row.get("uses"),
        runs_detached: row.get("runs_detached"),
    })
}

/// Why `--public-for-all` created nothing for a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum SkipReason {
    /// It already has a usable, strong public token.
    HasPublicToken { token_id: i32 },
    DeploymentInactive,
}

/// A deployment that `--public-for-all` left alone.
#[derive(Debug, Clone, Serialize)]
pub struct SkippedDeployment {
    pub deployment_id: i32,
    pub course_id: String,
    pub bot_name: String,
    pub environment: Option<String>,
    #[serde(flatten)]
    pub reason: SkipReason,
}

/// What `token create --public-for-all` did.
#[derive(Debug, Clone, Serialize)]
pub struct PublicForAll {
    pub created: Vec<CreatedToken>,
    pub skipped: Vec<SkippedDeployment>,
    /// Active public tokens that are guessable or fit no deep link (such as the
    /// `public_<deployment_id>` tokens of older scripts): still working, worth revoking.
    pub weak_token_ids: Vec<i32>,
}

/// One public token for every active deployment that has no usable strong one.
/// Running it again creates nothing.
pub async fn create_public_for_all(db: &mut Db, options: TokenOptions) -> Result<PublicForAll> {
    check_options(&options)?;
    let unchanged = "The transaction was rolled back: no token was created.";
    let tx = db.client.transaction().await.map_err(query_error("starting a transaction", UNCHANGED))?;
    tx.execute(include_str!("../../../sql/ops/token_bulk_lock.sql"), &[])
        .await
        .map_err(query_error("waiting for another bulk token run", unchanged))?;
    let max_payload = MAX_START_PAYLOAD as i32;
    let rows = tx
        .query(include_str!("../../../sql/ops/token_public_for_all.sql"), &[&STRONG_TOKEN_PATTERN, &max_payload])
        .await
        .map_err(query_error("listing deployments and their public tokens", unchanged))?;
    let mut out = PublicForAll {
        created: vec![],
        skipped: vec![],
        weak_token_ids: vec![],
    };
    for r in &rows {
        let deployment = Deployment::from_row(r);
        let weak: Option<Vec<i32>> = r.get("weak_token_ids");
        out.weak_token_ids.extend(weak.unwrap_or_default());
        let existing: Option<i32> = r.get("public_token_id");
        let skip = |reason| SkippedDeployment {
            deployment_id: deployment.deployment_id,
            course_id: deployment.course_id.clone(),
            bot_name: deployment.bot_name.clone(),
            environment: deployment.environment.clone(),
            reason,
        };
        if !deployment.is_active {
            out.skipped.push(skip(SkipReason::DeploymentInactive));
        } else if let Some(token_id) = existing {
            out.skipped.push(skip(SkipReason::HasPublicToken { token_id }));
        } else {
            out.created.push(insert_token(&tx, &deployment, TokenType::Public, options).await?);
        }
    }
    tx.commit().await.map_err(query_error("committing the new tokens", unchanged))?;
    tracing::info!(created = out.created.len(), skipped = out.skipped.len(), "public tokens for all deployments");
    Ok(out)
}
