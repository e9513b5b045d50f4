//! What is still to do on a migrated database, read from the database itself, so that
//! the next steps `migrate` and `finish` print name only what is left (a token still
//! a placeholder, an account without owner, deployments without an enrollment link)
//! and never a step that no longer applies (the legacy interface after `finish`).

use serde::Serialize;
use tokio_postgres::GenericClient;

use crate::error::{Error, Result};
use crate::target::PLACEHOLDER_TOKEN_PREFIX;

const TODO: &str = include_str!("../sql/next_steps/todo.sql");

/// The state the next steps are chosen from.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct NextSteps {
    /// `finish` ran: the legacy interface and the compatibility layer are gone.
    pub finished: bool,
    /// Bots whose token is still the migration's placeholder.
    pub bots_waiting_for_token: Vec<String>,
    /// Active accounts with no active owner.
    pub accounts_without_owner: Vec<i32>,
    /// Active deployments with no usable enrollment token (no deep link yet).
    pub deployments_without_token: i64,
    /// Usable enrollment tokens.
    pub usable_tokens: i64,
    /// Roles whose search_path is set to the legacy interface (before `finish`).
    pub legacy_roles: Vec<String>,
}

impl NextSteps {
    /// Nothing is left for the operator but checking.
    pub fn nothing_left(&self) -> bool {
        self.bots_waiting_for_token.is_empty() && self.accounts_without_owner.is_empty() && self.deployments_without_token == 0
    }
}

/// Reads what is still to do on a migrated (or finished) database.
pub async fn read<C: GenericClient + Sync>(client: &C) -> Result<NextSteps> {
    let q = |e: tokio_postgres::Error| Error::query("reading what is still to do", &e, "Nothing was changed.");
    let r = client.query_one(TODO, &[&PLACEHOLDER_TOKEN_PREFIX]).await.map_err(q)?;
    let finished: bool = client
        .query_one(
            "SELECT coalesce((SELECT status = $1 FROM profochat_saas.migration ORDER BY migration_id DESC LIMIT 1), false)",
            &[&crate::state::MigrationStatus::Finished.as_str()],
        )
        .await
        .map_err(q)?
        .get(0);
    let legacy_roles = if finished { vec![] } else { crate::legacy::inspect(client).await?.roles };
    Ok(NextSteps {
        finished,
        bots_waiting_for_token: r.get(0),
        accounts_without_owner: r.get(1),
        deployments_without_token: r.get(2),
        usable_tokens: r.get(3),
        legacy_roles,
    })
}
