//! Members of an account and their roles. An account that has an owner keeps at
//! least one: demoting its last active owner is refused, and so is removing it unless
//! the caller says so ([`LastOwner::Remove`], what `member remove --yes` does after
//! its warning) — for instance before a `rollback`, which cannot keep members.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use super::{not_found, query_error, require_account, UNCHANGED};
use crate::conn::Db;
use crate::error::{Error, Result};

/// What a member may do in an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Admin,
    Member,
    Viewer,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Member, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Viewer => "viewer",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| {
            Error::refused(format!("{s:?} is not a role"), "Roles are owner, admin, member and viewer.")
        })
    }
}

/// One member row. `role` is the stored text (a hand-written row may hold NULL).
#[derive(Debug, Clone, Serialize)]
pub struct Member {
    pub account_member_id: i32,
    pub account_id: i32,
    pub telegram_user_id: i64,
    pub telegram_username: Option<String>,
    pub role: Option<String>,
    pub is_active: bool,
    pub created_at: Option<chrono::NaiveDateTime>,
    pub last_login_at: Option<chrono::NaiveDateTime>,
}

impl Member {
    fn from_row(r: &tokio_postgres::Row) -> Member {
        Member {
            account_member_id: r.get("account_member_id"),
            account_id: r.get("account_id"),
            telegram_user_id: r.get("telegram_user_id"),
            telegram_username: r.get("telegram_username"),
            role: r.get("role"),
            is_active: r.get("is_active"),
            created_at: r.get("created_at"),
            last_login_at: r.get("last_login_at"),
        }
    }

    fn is_active_owner(&self) -> bool {
        self.is_active && self.role.as_deref() == Some("owner")
    }
}

/// What `member add` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberAction {
    Added,
    RoleChanged,
    Reactivated,
    Unchanged,
}

/// The member after `member add`, what happened, and the role it had before.
#[derive(Debug, Clone, Serialize)]
pub struct MemberChange {
    pub member: Member,
    pub action: MemberAction,
    pub previous_role: Option<String>,
}

/// The members of an account, owners first.
pub async fn list_members(client: &impl tokio_postgres::GenericClient, account_id: i32) -> Result<Vec<Member>> {
    require_account(client, account_id).await?;
    let rows = client
        .query(include_str!("../../sql/ops/member_list.sql"), &[&account_id])
        .await
        .map_err(query_error("listing members", UNCHANGED))?;
    Ok(rows.iter().map(Member::from_row).collect())
}

/// One member, or [`Error::NotFound`].
pub async fn get_member(client: &impl tokio_postgres::GenericClient, account_id: i32, telegram_user_id: i64) -> Result<Member> {
    require_account(client, account_id).await?;
    client
        .query_opt(include_str!("../../sql/ops/member_find.sql"), &[&account_id, &telegram_user_id])
        .await
        .map_err(query_error("reading the member", UNCHANGED))?
        .map(|r| Member::from_row(&r))
        .ok_or_else(|| member_not_found(account_id, telegram_user_id))
}

fn member_not_found(account_id: i32, telegram_user_id: i64) -> Error {
    not_found(
        "member",
        format!("{telegram_user_id} of account {account_id}"),
        format!("`profochat-saas member list --account {account_id}` shows the members."),
    )
}

fn last_owner_error(account_id: i32, telegram_user_id: i64, doing: &str) -> Error {
    Error::refused(
        format!("member {telegram_user_id} is the last active owner of account {account_id}; {doing} would leave the account without an owner"),
        format!(
            "Add another owner first: `profochat-saas member add --account {account_id} --telegram-user-id ID --role owner`; \
             to remove it anyway (before a rollback, say), run `profochat-saas member remove --account {account_id} --telegram-user-id {telegram_user_id} --yes`."
        ),
    )
}

/// Adds a member, or gives an existing one the new role (reactivating it if needed).
pub async fn add_member(
    db: &mut Db,
    account_id: i32,
    telegram_user_id: i64,
    telegram_username: Option<&str>,
    role: Role,
) -> Result<MemberChange> {
    let unchanged = "The transaction was rolled back: the members are as they were.";
    let tx = db.client.transaction().await.map_err(query_error("starting a transaction", UNCHANGED))?;
    lock_account(&tx, account_id).await?;
    let before = tx
        .query_opt(include_str!("../../sql/ops/member_get.sql"), &[&account_id, &telegram_user_id])
        .await
        .map_err(query_error("reading the member", unchanged))?
        .map(|r| Member::from_row(&r));
    if let Some(b) = &before {
        if b.is_active_owner() && role != Role::Owner && active_owners(&tx, account_id).await? <= 1 {
            return Err(last_owner_error(account_id, telegram_user_id, &format!("making it {role}")));
        }
    }
    let username = telegram_username.map(|u| u.trim().trim_start_matches('@')).filter(|u| !u.is_empty());
    let row = tx
        .query_one(
            include_str!("../../sql/ops/member_upsert.sql"),
            &[&account_id, &telegram_user_id, &username, &role.as_str()],
        )
        .await
        .map_err(query_error("adding the member", unchanged))?;
    tx.commit().await.map_err(query_error("committing", unchanged))?;
    let member = Member::from_row(&row);
    let action = match &before {
        None => MemberAction::Added,
        Some(b) if !b.is_active => MemberAction::Reactivated,
        Some(b) if b.role.as_deref() != Some(role.as_str()) => MemberAction::RoleChanged,
        Some(_) => MemberAction::Unchanged,
    };
    tracing::info!(account_id, telegram_user_id, role = role.as_str(), ?action, "member added");
    Ok(MemberChange {
        member,
        action,
        previous_role: before.and_then(|b| b.role),
    })
}

/// Whether removing the last active owner of an account is refused or done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LastOwner {
    #[default]
    Refuse,
    /// Remove it: the account is left without an owner (`validate` warns about that).
    Remove,
}

/// Whether this member is the last active owner of its account.
pub async fn is_last_active_owner(client: &impl tokio_postgres::GenericClient, member: &Member) -> Result<bool> {
    if !member.is_active_owner() {
        return Ok(false);
    }
    let owners: i64 = client
        .query_one(include_str!("../../sql/ops/member_owners.sql"), &[&member.account_id])
        .await
        .map_err(query_error("counting owners", UNCHANGED))?
        .get(0);
    Ok(owners <= 1)
}

/// Removes a member; the last active owner only with [`LastOwner::Remove`].
pub async fn remove_member(db: &mut Db, account_id: i32, telegram_user_id: i64, last_owner: LastOwner) -> Result<Member> {
    let unchanged = "The transaction was rolled back: the members are as they were.";
    let tx = db.client.transaction().await.map_err(query_error("starting a transaction", UNCHANGED))?;
    lock_account(&tx, account_id).await?;
    let member = tx
        .query_opt(include_str!("../../sql/ops/member_get.sql"), &[&account_id, &telegram_user_id])
        .await
        .map_err(query_error("reading the member", unchanged))?
        .map(|r| Member::from_row(&r))
        .ok_or_else(|| member_not_found(account_id, telegram_user_id))?;
    if last_owner == LastOwner::Refuse && member.is_active_owner() && active_owners(&tx, account_id).await? <= 1 {
        return Err(last_owner_error(account_id, telegram_user_id, "removing it"));
    }
    tx.execute(include_str!("../../sql/ops/member_delete.sql"), &[&account_id, &telegram_user_id])
        .await
        .map_err(query_error("removing the member", unchanged))?;
    tx.commit().await.map_err(query_error("committing", unchanged))?;
    tracing::info!(account_id, telegram_user_id, "member removed");
    Ok(member)
}

async fn lock_account(tx: &tokio_postgres::Transaction<'_>, account_id: i32) -> Result<()> {
    let found = tx
        .query_opt(include_str!("../../sql/ops/account_lock.sql"), &[&account_id])
        .await
        .map_err(query_error("locking the account", UNCHANGED))?;
    if found.is_none() {
        require_account(tx, account_id).await?;
    }
    Ok(())
}

async fn active_owners(tx: &tokio_postgres::Transaction<'_>, account_id: i32) -> Result<i64> {
    Ok(tx
        .query_one(include_str!("../../sql/ops/member_owners.sql"), &[&account_id])
        .await
        .map_err(query_error("counting owners", UNCHANGED))?
        .get(0))
}
