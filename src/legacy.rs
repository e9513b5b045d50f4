//! The legacy interface (SPEC §4): schema `profochat_legacy` shows the legacy tables as
//! the running legacy bot knows them, until `finish`. The bot uses it through its
//! connection's `search_path`: in its URL (`options=-c search_path=…`) or set on its role.

use serde::Serialize;
use tokio_postgres::GenericClient;

use crate::conn::ConnSettings;
use crate::error::{pg_error_text, Error, Result};
use crate::sql::{ident, literal};

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
///
/// Setting it also moves the role's rights (SPEC §4, least privilege): its own grants
/// on the tool's public tables and their sequences are revoked and recorded, and it is
/// given the same rights on the matching views of the legacy interface (and USAGE on
/// the sequences their defaults call), so that it reaches account 1's legacy view and
/// nothing else. Unsetting gives back exactly what was revoked and takes back what was
/// given. All of it is one statement batch: one transaction.
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
    client
        .batch_execute(&format!("{ROLE_GRANT_TABLE}\n{}", crate::target::sql::STATE_PRIVILEGES))
        .await
        .map_err(|e| Error::query("creating the record of moved rights", &e, "Nothing was changed."))?;
    let mut batch = vec![];
    if unset {
        batch.push(format!("ALTER ROLE {} IN DATABASE {} RESET search_path", ident(role), ident(&db)));
        batch.extend(restore_statements(client, role).await?);
        batch.push(format!("DELETE FROM profochat_saas.legacy_role WHERE role_name = {}", literal(role)));
    } else {
        batch.push(format!("ALTER ROLE {} IN DATABASE {} SET search_path = {SEARCH_PATH}", ident(role), ident(&db)));
        batch.extend(move_statements(client, role).await?);
        batch.push(format!(
            "INSERT INTO profochat_saas.legacy_role (role_name) VALUES ({}) ON CONFLICT (role_name) DO UPDATE SET set_at = now()",
            literal(role)
        ));
    }
    client.batch_execute(&batch.join(";\n")).await.map_err(|e| {
        if e.code().is_some_and(|c| c.code() == "42501") {
            Error::Privileges {
                user: "the connected role".into(),
                what: format!("change the search_path and the rights of role {role:?}: {}", pg_error_text(&e)),
                hint: "This needs a superuser or a role with CREATEROLE that owns the tables; nothing was changed. The legacy bot can instead connect with the URL that `profochat-saas status` and the next steps of `migrate` print.".into(),
            }
        } else {
            Error::query(format!("changing the search_path and the rights of role {role:?}"), &e, "Nothing was changed.")
        }
    })?;
    Ok(())
}

const ROLE_GRANT_TABLE: &str = include_str!("../sql/legacy_interface/role_grant.sql");
const ROLE_GRANTS_HELD: &str = include_str!("../sql/legacy_interface/role_grants_held.sql");
const ROLE_SEQUENCES: &str = include_str!("../sql/legacy_interface/role_sequences.sql");
const ROLE_RIGHTS: &str = include_str!("../sql/legacy_interface/role_rights.sql");
/// Table rights a view of the legacy interface passes on.
const VIEW_RIGHTS: [&str; 4] = ["SELECT", "INSERT", "UPDATE", "DELETE"];

fn tool_tables() -> Vec<String> {
    crate::target::application_tables().into_iter().map(str::to_string).collect()
}

fn record(role: &str, action: &str, kind: &str, object: &str, privilege: &str, grantable: bool) -> String {
    format!(
        "INSERT INTO profochat_saas.legacy_role_grant (role_name, action, kind, object, privilege, grantable) VALUES ({}, '{action}', '{kind}', {}, '{privilege}', {grantable}) ON CONFLICT DO NOTHING",
        literal(role),
        literal(object)
    )
}

/// The statements that move `role`'s own grants from the public tables to the
/// legacy interface, recording each.
async fn move_statements<C: GenericClient + Sync>(client: &C, role: &str) -> Result<Vec<String>> {
    let held = client
        .query(ROLE_GRANTS_HELD, &[&role, &tool_tables()])
        .await
        .map_err(|e| Error::query("reading the role's rights on the public tables", &e, "Nothing was changed."))?;
    // The view rights it holds already (the legacy interface copies the tables' grants
    // when it is installed) are its own: neither granted again nor taken back later.
    let on_views: Vec<(String, String)> = client
        .query(
            "SELECT c.relname::text, x.privilege_type FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              CROSS JOIN LATERAL aclexplode(c.relacl) x
              WHERE n.nspname = 'profochat_legacy' AND x.grantee = (SELECT r.oid FROM pg_roles r WHERE r.rolname = $1)",
            &[&role],
        )
        .await
        .map_err(|e| Error::query("reading the role's rights on the legacy interface", &e, "Nothing was changed."))?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    // The schema itself, which the interface opens only to the roles that held rights on
    // the legacy tables when it was installed (not recorded: finish and rollback drop the
    // schema, and USAGE alone reaches no row).
    let mut out = vec![format!("GRANT USAGE ON SCHEMA {} TO {}", ident(SCHEMA), ident(role))];
    let mut inserting = vec![];
    for r in &held {
        let (object, name, kind, privilege, grantable): (String, String, String, String, bool) = (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4));
        if !privilege.chars().all(|c| c.is_ascii_uppercase() || c == ' ') {
            continue;
        }
        out.push(record(role, "revoked", &kind, &object, &privilege, grantable));
        let on = if kind == "sequence" { "SEQUENCE " } else { "" };
        out.push(format!("REVOKE {privilege} ON {on}{object} FROM {}", ident(role)));
        if kind == "table" && crate::sql::LEGACY_TABLES.contains(&name.as_str()) && VIEW_RIGHTS.contains(&privilege.as_str()) {
            let view = format!("{}.{}", ident(SCHEMA), ident(&name));
            if !on_views.contains(&(name.clone(), privilege.clone())) {
                out.push(record(role, "granted", "view", &view, &privilege, false));
                out.push(format!("GRANT {privilege} ON {view} TO {}", ident(role)));
            }
            if privilege == "INSERT" {
                inserting.push(name);
            }
        }
    }
    for table in inserting {
        let seqs = client
            .query(ROLE_SEQUENCES, &[&table])
            .await
            .map_err(|e| Error::query("reading the sequences of the legacy tables", &e, "Nothing was changed."))?;
        for s in seqs {
            let object: String = s.get(0);
            out.push(record(role, "granted", "sequence", &object, "USAGE", false));
            out.push(format!("GRANT USAGE ON SEQUENCE {object} TO {}", ident(role)));
        }
    }
    Ok(out)
}

/// The statements that take back what [`move_statements`] gave `role` and give back
/// what it revoked (on the objects that still exist), then forget them.
async fn restore_statements<C: GenericClient + Sync>(client: &C, role: &str) -> Result<Vec<String>> {
    let rows = client
        .query(
            "SELECT action, kind, object, privilege, grantable FROM profochat_saas.legacy_role_grant g
              WHERE role_name = $1 AND to_regclass(object) IS NOT NULL
              ORDER BY action = 'revoked', object, privilege",
            &[&role],
        )
        .await
        .map_err(|e| Error::query("reading the role's moved rights", &e, "Nothing was changed."))?;
    let mut out = vec![];
    for r in rows {
        let (action, kind, object, privilege, grantable): (String, String, String, String, bool) = (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4));
        if !privilege.chars().all(|c| c.is_ascii_uppercase() || c == ' ') {
            continue;
        }
        let on = if kind == "sequence" { "SEQUENCE " } else { "" };
        if action == "granted" {
            out.push(format!("REVOKE {privilege} ON {on}{object} FROM {}", ident(role)));
        } else {
            let option = if grantable { " WITH GRANT OPTION" } else { "" };
            out.push(format!("GRANT {privilege} ON {on}{object} TO {}{option}", ident(role)));
        }
    }
    out.push(format!("DELETE FROM profochat_saas.legacy_role_grant WHERE role_name = {}", literal(role)));
    Ok(out)
}

/// What a role may do on one of the tool's tables and on its view in the legacy interface.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TableRights {
    pub table: String,
    /// The role owns the public table (its rights there cannot be taken away).
    pub owner: bool,
    pub public: Vec<String>,
    pub interface: Vec<String>,
}

/// A role's rights on the tool's tables and the legacy interface, whichever way it
/// holds them, and how many of its grants `legacy-role` moved (kept for `finish`,
/// `rollback` and `legacy-role --unset`).
#[derive(Debug, Clone, Serialize)]
pub struct RoleRights {
    pub role: String,
    pub tables: Vec<TableRights>,
    pub moved_grants: i64,
}

impl RoleRights {
    /// The public tables the role can still read or write.
    pub fn public_reachable(&self) -> Vec<&TableRights> {
        self.tables.iter().filter(|t| !t.public.is_empty()).collect()
    }

    /// "public tables: none; legacy interface: 8 views (SELECT, INSERT, UPDATE, DELETE)".
    pub fn describe(&self) -> String {
        let public = self.public_reachable();
        let public = if public.is_empty() {
            "none".to_string()
        } else {
            public
                .iter()
                .map(|t| format!("{} ({}{})", t.table, t.public.join(", "), if t.owner { ", its owner" } else { "" }))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let views: Vec<&TableRights> = self.tables.iter().filter(|t| !t.interface.is_empty()).collect();
        let interface = if views.is_empty() {
            "none".to_string()
        } else if views.windows(2).all(|w| w[0].interface == w[1].interface) {
            format!("{} view(s) ({})", views.len(), views[0].interface.join(", "))
        } else {
            views.iter().map(|t| format!("{} ({})", t.table, t.interface.join(", "))).collect::<Vec<_>>().join(", ")
        };
        format!("public tables: {public}; legacy interface: {interface}; {} grant(s) moved, given back by finish or rollback", self.moved_grants)
    }
}

/// What `role` may do now on the tool's public tables and on the legacy interface.
pub async fn role_rights<C: GenericClient + Sync>(client: &C, role: &str) -> Result<RoleRights> {
    let rows = client
        .query(ROLE_RIGHTS, &[&role, &tool_tables()])
        .await
        .map_err(|e| Error::query("reading the role's rights", &e, "Nothing was changed."))?;
    let tables = rows
        .iter()
        .map(|r| TableRights { table: r.get(0), owner: r.get(1), public: r.get(2), interface: r.get(3) })
        .collect();
    let moved_grants: i64 = client
        .query_one(
            "SELECT CASE WHEN to_regclass('profochat_saas.legacy_role_grant') IS NULL THEN 0
                         ELSE (SELECT count(*) FROM profochat_saas.legacy_role_grant WHERE role_name = $1 AND action = 'revoked') END",
            &[&role],
        )
        .await
        .map_err(|e| Error::query("reading the role's moved rights", &e, "Nothing was changed."))?
        .get(0);
    Ok(RoleRights { role: role.to_string(), tables, moved_grants })
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
