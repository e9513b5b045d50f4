//! Operating the SaaS schema after the migration: bots and their Telegram tokens,
//! accounts and their members, course deployments, enrollment tokens, and the
//! runtime path that enrols a chat through a `/start` payload.
//!
//! Functions take a client (or `&mut Db` when they need a transaction) and return
//! typed values; they never print. They expect a migrated database: callers check
//! it once with [`crate::schema::require_migrated`].

pub mod accounts;
pub mod bots;
pub mod deployments;
pub mod enrol;
pub mod members;
pub mod tokens;

pub use accounts::{create_account, list_accounts, Account, AccountSummary};
pub use bots::{find_bot, list_bots, set_token, BotInfo, BotRef, BotRow, TokenSet, TokenSource};
pub use deployments::{create_deployment, deployment_for, get_deployment, list_deployments, Deployment, DeploymentSummary};
pub use enrol::{enrol, enrol_bot_id, enrol_sql_example, resolve_start_payload, resolve_start_payload_bot_id, Enrolment, ResolvedToken, StartPayload, MAX_START_PAYLOAD};
pub use members::{
    add_member, get_member, is_last_active_owner, list_members, remove_member, LastOwner, Member, MemberAction, MemberChange, Role,
};
pub use tokens::{
    create_public_for_all, create_token, deep_link, delete_token, get_token, is_telegram_username, list_tokens, parse_duration,
    revoke_token, CreatedToken, DeletedToken, PublicForAll, RevokedToken, SkipReason, SkippedDeployment, TokenInfo, TokenOptions,
    TokenState, TokenType, TokenValue,
};

use tokio_postgres::GenericClient;

use crate::error::{Error, Result};

/// Maps a failed statement to [`Error::Query`], saying what was being done.
pub(crate) fn query_error(context: &'static str, unchanged: &'static str) -> impl Fn(tokio_postgres::Error) -> Error {
    move |e| Error::query(context, &e, unchanged)
}

/// Nothing was written: the statement read, or its transaction was rolled back.
pub(crate) const UNCHANGED: &str = "Nothing was changed.";

pub(crate) fn not_found(kind: &str, name: impl std::fmt::Display, hint: impl Into<String>) -> Error {
    Error::NotFound {
        kind: kind.into(),
        name: name.to_string(),
        hint: hint.into(),
    }
}

/// The SQLSTATE of a failed statement, if the server sent one.
pub(crate) fn sqlstate(e: &tokio_postgres::Error) -> Option<&str> {
    e.as_db_error().map(|d| d.code().code())
}

/// The constraint a failed statement violated, if any.
pub(crate) fn violated_constraint(e: &tokio_postgres::Error) -> Option<&str> {
    e.as_db_error().and_then(|d| d.constraint())
}

/// Refuses unless the account exists; returns its name.
pub(crate) async fn require_account(client: &impl GenericClient, account_id: i32) -> Result<String> {
    let row = client
        .query_opt(include_str!("../../sql/ops/account_name.sql"), &[&account_id])
        .await
        .map_err(query_error("looking up the account", UNCHANGED))?;
    match row {
        Some(r) => Ok(r.get(0)),
        None => Err(not_found(
            "account",
            account_id,
            "`profochat-saas account list` shows the accounts; `profochat-saas account create` adds one.",
        )),
    }
}
