//! Courses deployed to bots, one deployment per (course, bot, account, environment).

use serde::Serialize;
use tokio_postgres::GenericClient;

use super::bots::{find_bot, BotRef};
use super::{not_found, query_error, require_account, violated_constraint, UNCHANGED};
use crate::error::{Error, Result};

/// One deployment, with its bot's name.
#[derive(Debug, Clone, Serialize)]
pub struct Deployment {
    pub deployment_id: i32,
    pub course_id: String,
    pub account_id: i32,
    pub bot_id: i32,
    pub bot_name: String,
    pub environment: Option<String>,
    pub is_active: bool,
    pub created_at: Option<chrono::NaiveDateTime>,
}

impl Deployment {
    pub(crate) fn from_row(r: &tokio_postgres::Row) -> Deployment {
        Deployment {
            deployment_id: r.get("deployment_id"),
            course_id: r.get("course_id"),
            account_id: r.get("account_id"),
            bot_id: r.get("bot_id"),
            bot_name: r.get("bot_name"),
            environment: r.get("environment"),
            is_active: r.get("is_active"),
            created_at: r.get("created_at"),
        }
    }
}

/// A deployment with its runs and usable tokens, as `deployment list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct DeploymentSummary {
    #[serde(flatten)]
    pub deployment: Deployment,
    pub runs: i64,
    pub active_runs: i64,
    /// Tokens that would enrol now: not revoked, not expired, not used up.
    pub active_tokens: i64,
}

/// Whether an environment name is acceptable: 1 to 32 of `A-Z a-z 0-9 _ -`.
pub fn is_valid_environment(env: &str) -> bool {
    !env.is_empty() && env.len() <= 32 && env.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A deployment by id, or [`Error::NotFound`].
pub async fn get_deployment(client: &impl GenericClient, deployment_id: i32) -> Result<Deployment> {
    client
        .query_opt(include_str!("../../sql/ops/deployment_get.sql"), &[&deployment_id])
        .await
        .map_err(query_error("looking up the deployment", UNCHANGED))?
        .map(|r| Deployment::from_row(&r))
        .ok_or_else(|| {
            not_found("deployment", deployment_id, "`profochat-saas deployment list` shows the deployments.")
        })
}

/// Deploys a course of an account to one of its bots in an environment.
pub async fn create_deployment(
    client: &impl GenericClient,
    course_id: &str,
    bot: BotRef<'_>,
    account_id: i32,
    environment: &str,
) -> Result<Deployment> {
    if !is_valid_environment(environment) {
        return Err(Error::refused(
            format!("{environment:?} is not a valid environment name"),
            "Use 1 to 32 characters of A-Z, a-z, 0-9, '_' and '-', such as prod or test.",
        ));
    }
    require_account(client, account_id).await?;
    let bot = find_bot(client, account_id, bot).await?;
    let course = client
        .query_opt(include_str!("../../sql/ops/course_exists.sql"), &[&course_id, &account_id])
        .await
        .map_err(query_error("looking up the course", UNCHANGED))?;
    if course.is_none() {
        let ids: Vec<String> = client
            .query(include_str!("../../sql/ops/course_ids.sql"), &[&account_id])
            .await
            .map_err(query_error("listing courses", UNCHANGED))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let hint = if ids.is_empty() {
            format!("Account {account_id} has no courses yet: publish the course first.")
        } else {
            format!("Courses of account {account_id}: {}.", ids.join(", "))
        };
        return Err(not_found("course", format!("{course_id:?} in account {account_id}"), hint));
    }
    let duplicate = |id: Option<i32>| {
        Error::refused(
            format!(
                "course {course_id:?} is already deployed to bot {:?} in environment {environment:?} of account {account_id}{}",
                bot.bot_name,
                id.map(|i| format!(" (deployment {i})")).unwrap_or_default()
            ),
            "A course has one deployment per bot and environment: use the existing one, or choose another environment.",
        )
    };
    if let Some(r) = client
        .query_opt(
            include_str!("../../sql/ops/deployment_find_same.sql"),
            &[&bot.bot_id, &course_id, &account_id, &environment],
        )
        .await
        .map_err(query_error("looking for an existing deployment", UNCHANGED))?
    {
        return Err(duplicate(Some(r.get(0))));
    }
    let row = match client
        .query_one(
            include_str!("../../sql/ops/deployment_create.sql"),
            &[&course_id, &account_id, &bot.bot_id, &environment],
        )
        .await
    {
        Ok(row) => row,
        Err(e) if violated_constraint(&e) == Some("course_deployment_bot_id_course_id_account_id_environment_key") => {
            return Err(duplicate(None))
        }
        Err(e) => return Err(Error::query("creating the deployment", &e, UNCHANGED)),
    };
    let deployment = Deployment::from_row(&row);
    tracing::info!(deployment_id = deployment.deployment_id, course_id, bot = %deployment.bot_name, environment, "deployment created");
    Ok(deployment)
}

/// Deployments, optionally of one account and/or of bots of one name.
pub async fn list_deployments(
    client: &impl GenericClient,
    account_id: Option<i32>,
    bot_name: Option<&str>,
) -> Result<Vec<DeploymentSummary>> {
    match (account_id, bot_name) {
        (Some(a), Some(b)) => {
            find_bot(client, a, BotRef::Name(b)).await?;
        }
        (Some(a), None) => {
            require_account(client, a).await?;
        }
        _ => {}
    }
    let rows = client
        .query(include_str!("../../sql/ops/deployment_list.sql"), &[&account_id, &bot_name])
        .await
        .map_err(query_error("listing deployments", UNCHANGED))?;
    if let (None, Some(b)) = (account_id, bot_name) {
        if rows.is_empty() && !bot_name_exists(client, b).await? {
            return Err(not_found("bot", format!("{b:?}"), "`profochat-saas bot list` shows the bots."));
        }
    }
    Ok(rows
        .iter()
        .map(|r| DeploymentSummary {
            deployment: Deployment::from_row(r),
            runs: r.get("runs"),
            active_runs: r.get("active_runs"),
            active_tokens: r.get("active_tokens"),
        })
        .collect())
}

async fn bot_name_exists(client: &impl GenericClient, bot_name: &str) -> Result<bool> {
    Ok(client
        .query_opt(include_str!("../../sql/ops/bot_name_exists.sql"), &[&bot_name])
        .await
        .map_err(query_error("looking up the bot", UNCHANGED))?
        .is_some())
}

/// The active deployment of a course on a bot in an account, preferring the `prod`
/// environment; `None` if the course is not deployed there. An unknown bot is
/// [`Error::NotFound`].
pub async fn deployment_for<'a>(
    client: &impl GenericClient,
    course_id: &str,
    bot: impl Into<BotRef<'a>>,
    account_id: i32,
) -> Result<Option<Deployment>> {
    let bot = find_bot(client, account_id, bot.into()).await?;
    Ok(client
        .query_opt(include_str!("../../sql/ops/deployment_for.sql"), &[&course_id, &bot.bot_id, &account_id])
        .await
        .map_err(query_error("looking up the deployment", UNCHANGED))?
        .map(|r| Deployment::from_row(&r)))
}
