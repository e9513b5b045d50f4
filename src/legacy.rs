//! The legacy interface (SPEC §4): schema `profochat_legacy` shows the legacy tables as
//! the running legacy bot knows them, until `finish`. The bot uses it through its
//! connection's `search_path`: in its URL (`options=-c search_path=…`) or set on its role.

use serde::Serialize;
use tokio_postgres::GenericClient;

use crate::conn::ConnSettings;
use crate::error::{pg_error_text, Error, Result};
use crate::sql::ident;

/// The schema of the legacy interface.
pub const SCHEMA: &str = "profochat_legacy";
/// The search_path the legacy bot connects with.
pub const SEARCH_PATH: &str = "profochat_legacy, public";
/// The URL parameter that puts the legacy interface first on the search_path.
pub const URL_OPTIONS: &str = "options=-c%20search_path%3Dprofochat_legacy%2Cpublic";
/// Views of the legacy interface: one per legacy table.
pub const VIEWS: i64 = 8;

const INSPECT: &str = include_str!("../sql/legacy_interface/inspect.sql");

/// Whether the legacy interface is in place.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LegacyInterface {
    /// Views in `profochat_legacy` (8 when in place).
    pub views: i64,
    /// Enabled compatibility triggers on the public tables.
    pub compat_triggers: i64,
    /// Roles whose search_path in this database was set to the legacy interface.
    pub roles: Vec<String>,
}

impl LegacyInterface {
    pub fn in_place(&self) -> bool {
        self.views == VIEWS
    }

    /// One line for `status`.
    pub fn describe(&self) -> String {
        if self.in_place() {
            let roles = if self.roles.is_empty() {
                "no role set to it yet".to_string()
            } else {
                format!("search_path set for role(s) {}", self.roles.join(", "))
            };
            format!("in place (schema {SCHEMA}, {} compatibility triggers; {roles})", self.compat_triggers)
        } else if self.views > 0 {
            format!("incomplete: {} of {VIEWS} views in schema {SCHEMA}", self.views)
        } else {
            "not in place".to_string()
        }
    }
}

/// Reads whether the legacy interface is in place.
pub async fn inspect<C: GenericClient + Sync>(client: &C) -> Result<LegacyInterface> {
    let r = client
        .query_one(INSPECT, &[])
        .await
        .map_err(|e| Error::query("reading the legacy interface", &e, "Nothing was changed."))?;
    let roles = if r.get::<_, bool>(2) {
        client
            .query("SELECT role_name FROM profochat_saas.legacy_role ORDER BY 1", &[])
            .await
            .map_err(|e| Error::query("reading the roles set to the legacy interface", &e, "Nothing was changed."))?
            .iter()
            .map(|r| r.get(0))
            .collect()
    } else {
        vec![]
    };
    Ok(LegacyInterface { views: r.get(0), compat_triggers: r.get(1), roles })
}

/// The URL the legacy bot connects with: its database URL (password masked) with the
/// legacy interface first on its search_path.
pub fn legacy_url(settings: &ConnSettings) -> String {
    let url = settings.masked_url();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{URL_OPTIONS}")
}

/// Sets (or, with `unset`, resets) `search_path` of `role` in this database to the
/// legacy interface, and records it so that `finish` and `rollback` set it back.
pub async fn set_role<C: GenericClient + Sync>(client: &C, role: &str, unset: bool) -> Result<()> {
    let exists: bool = client
        .query_one("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", &[&role])
        .await
        .map_err(|e| Error::query("looking up the role", &e, "Nothing was changed."))?
        .get(0);
    if !exists {
        return Err(Error::NotFound {
            kind: "role".into(),
            name: role.to_string(),
            hint: "Name the role the legacy bot connects as (the user in its DATABASE_URL).".into(),
        });
    }
    let db: String = client
        .query_one("SELECT current_database()", &[])
        .await
        .map_err(|e| Error::query("reading the database name", &e, "Nothing was changed."))?
        .get(0);
    let sql = if unset {
        format!("ALTER ROLE {} IN DATABASE {} RESET search_path", ident(role), ident(&db))
    } else {
        format!("ALTER ROLE {} IN DATABASE {} SET search_path = {SEARCH_PATH}", ident(role), ident(&db))
    };
    client.batch_execute(&sql).await.map_err(|e| {
        Error::refused(
            format!("could not change the search_path of role {role:?}: {}", pg_error_text(&e)),
            "This needs a superuser or a role with CREATEROLE. Nothing was changed; the legacy bot can instead connect with the URL that `profochat-saas status` and the next steps of `migrate` print.",
        )
    })?;
    let record = if unset {
        "DELETE FROM profochat_saas.legacy_role WHERE role_name = $1"
    } else {
        "INSERT INTO profochat_saas.legacy_role (role_name) VALUES ($1) ON CONFLICT (role_name) DO UPDATE SET set_at = now()"
    };
    client
        .execute(record, &[&role])
        .await
        .map_err(|e| Error::query("recording the role", &e, "The role's search_path was changed; run the command again to record it."))?;
    Ok(())
}

/// Resets the search_path of every role recorded by [`set_role`] (for `finish` and
/// `rollback`); returns their names.
pub async fn reset_roles<C: GenericClient + Sync>(client: &C) -> Result<Vec<String>> {
    let st = inspect(client).await?;
    for role in &st.roles {
        match set_role(client, role, true).await {
            // A role dropped since has no setting left to reset.
            Err(Error::NotFound { .. }) => {
                client
                    .execute("DELETE FROM profochat_saas.legacy_role WHERE role_name = $1", &[role])
                    .await
                    .map_err(|e| Error::query("forgetting a dropped role", &e, "Nothing else was changed."))?;
            }
            other => other?,
        }
    }
    Ok(st.roles)
}
