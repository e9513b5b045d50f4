//! Accounts (tenants).

use serde::Serialize;
use tokio_postgres::GenericClient;

use super::{query_error, violated_constraint, UNCHANGED};
use crate::error::{Error, Result};

/// One account row.
#[derive(Debug, Clone, Serialize)]
pub struct Account {
    pub account_id: i32,
    pub name: String,
    pub slug: String,
    pub plan: Option<String>,
    pub is_active: bool,
    pub created_at: Option<chrono::NaiveDateTime>,
}

/// An account with how much it holds, as `account list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct AccountSummary {
    #[serde(flatten)]
    pub account: Account,
    pub bots: i64,
    /// Active members.
    pub members: i64,
    /// Active owners.
    pub owners: i64,
    pub courses: i64,
    pub deployments: i64,
}

/// Whether a slug is usable in URLs: 1 to 63 of `a-z 0-9 -`, not starting or ending with `-`.
pub fn is_valid_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= 63
        && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
}

/// Creates an account. The slug must be valid and unused.
pub async fn create_account(client: &impl GenericClient, name: &str, slug: &str, plan: &str) -> Result<Account> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::refused("the account name is empty", "Give a name with --name."));
    }
    if !is_valid_slug(slug) {
        return Err(Error::refused(
            format!("the slug {slug:?} is not valid"),
            "A slug is 1 to 63 characters of a-z, 0-9 and '-', not starting or ending with '-' (for example acme-school).",
        ));
    }
    if plan.trim().is_empty() {
        return Err(Error::refused("the plan is empty", "Give a plan with --plan (default: free)."));
    }
    let taken = |id: i32, other: &str| {
        Error::refused(
            format!("the slug {slug:?} is already used by account {id} ({other:?})"),
            "Slugs are unique: choose another one; `profochat-saas account list` shows the accounts.",
        )
    };
    if let Some(r) = client
        .query_opt(include_str!("../../sql/ops/account_by_slug.sql"), &[&slug])
        .await
        .map_err(query_error("checking the slug", UNCHANGED))?
    {
        return Err(taken(r.get(0), &r.get::<_, String>(1)));
    }
    let row = match client
        .query_one(include_str!("../../sql/ops/account_create.sql"), &[&name, &slug, &plan])
        .await
    {
        Ok(row) => row,
        Err(e) if violated_constraint(&e) == Some("account_slug_key") => {
            return Err(Error::refused(
                format!("the slug {slug:?} was taken by another account a moment ago"),
                "Choose another slug; `profochat-saas account list` shows the accounts.",
            ))
        }
        Err(e) => return Err(Error::query("creating the account", &e, UNCHANGED)),
    };
    tracing::info!(account_id = row.get::<_, i32>(0), slug, "account created");
    Ok(account_from_row(&row))
}

fn account_from_row(r: &tokio_postgres::Row) -> Account {
    Account {
        account_id: r.get("account_id"),
        name: r.get("name"),
        slug: r.get("slug"),
        plan: r.get("plan"),
        is_active: r.get("is_active"),
        created_at: r.get("created_at"),
    }
}

/// Every account with its counts, by id.
pub async fn list_accounts(client: &impl GenericClient) -> Result<Vec<AccountSummary>> {
    let rows = client
        .query(include_str!("../../sql/ops/account_list.sql"), &[])
        .await
        .map_err(query_error("listing accounts", UNCHANGED))?;
    Ok(rows
        .iter()
        .map(|r| AccountSummary {
            account: account_from_row(r),
            bots: r.get("bots"),
            members: r.get("members"),
            owners: r.get("owners"),
            courses: r.get("courses"),
            deployments: r.get("deployments"),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert!(is_valid_slug("default"));
        assert!(is_valid_slug("acme-school-2"));
        assert!(!is_valid_slug(""));
        assert!(!is_valid_slug("Acme"));
        assert!(!is_valid_slug("-a"));
        assert!(!is_valid_slug("a b"));
        assert!(!is_valid_slug(&"a".repeat(64)));
    }
}
