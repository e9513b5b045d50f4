//! Tenant isolation in the database (SPEC §4, opt-in): `tenant isolate --role ROLE`
//! turns on row-level security on every table of the migrated schema that has
//! `account_id`, with a restrictive policy that lets ROLE see and write only the rows
//! of the account its transaction names (`SET LOCAL profochat.account_id = …`; unset:
//! no row). Other roles keep what they had (a permissive policy for everyone, on the
//! tables whose row-level security the tool turned on); the tables' owner — the tool's
//! role — is not subject to it (row-level security is not forced), so the tool's
//! commands and `profochat_saas.enrol` (SECURITY DEFINER, owned by it) see every
//! account. Recorded in the state schema; `validate` checks the policies.

use serde::Serialize;
use tokio_postgres::GenericClient;

use crate::conn::Db;
use crate::error::{Error, Result};
use crate::sql::ident;

const STATE: &str = include_str!("../sql/tenant/state.sql");
const TABLES: &str = include_str!("../sql/tenant/tables.sql");
const POLICY: &str = include_str!("../sql/tenant/policy.sql");
const POLICY_ALL: &str = include_str!("../sql/tenant/policy_all.sql");
const CHECK: &str = include_str!("../sql/tenant/check.sql");

/// The setting an isolated role's transaction names its account in.
pub const ACCOUNT_SETTING: &str = "profochat.account_id";

/// What `tenant isolate` did.
#[derive(Debug, Clone, Serialize)]
pub struct IsolationReport {
    pub role: String,
    /// `--undo`: the isolation was removed.
    pub undone: bool,
    /// The tables whose policies were added (or removed).
    pub tables: Vec<String>,
    /// The roles isolated now.
    pub isolated_roles: Vec<String>,
    /// The role holds rights on the legacy interface's views (as `legacy-role` gives the
    /// legacy bot): through them it reads and writes account 1's rows, whatever its
    /// transactions name (the interface runs as the tool's role, which the role's
    /// policies do not restrict).
    pub legacy_interface: bool,
}

fn q(context: &'static str) -> impl Fn(tokio_postgres::Error) -> Error {
    move |e| Error::query(context, &e, "The transaction was rolled back: nothing was changed.")
}

fn fill(template: &str, table: &str, role: Option<(&str, u32)>) -> String {
    let mut s = template.replace("{table}", &ident(table));
    if let Some((role, oid)) = role {
        s = s.replace("{role}", &ident(role)).replace("{policy}", &ident(&policy_name(oid)));
    }
    s
}

fn policy_name(role_oid: u32) -> String {
    format!("profochat_tenant_{role_oid}")
}

/// The roles isolated (none when the state schema has no record of it).
pub async fn isolated_roles<C: GenericClient + Sync>(client: &C) -> Result<Vec<String>> {
    let exists: bool = client
        .query_one("SELECT to_regclass('profochat_saas.tenant_isolation') IS NOT NULL", &[])
        .await
        .map_err(|e| Error::query("reading the tenant isolation", &e, "Nothing was changed."))?
        .get(0);
    if !exists {
        return Ok(vec![]);
    }
    Ok(client
        .query("SELECT role_name FROM profochat_saas.tenant_isolation ORDER BY 1", &[])
        .await
        .map_err(|e| Error::query("reading the tenant isolation", &e, "Nothing was changed."))?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// What is wrong with the recorded isolation (for `validate`): one sentence each.
pub async fn problems<C: GenericClient + Sync>(client: &C) -> Result<Vec<String>> {
    let roles = isolated_roles(client).await?;
    if roles.is_empty() {
        return Ok(vec![]);
    }
    Ok(client
        .query(CHECK, &[&roles])
        .await
        .map_err(|e| Error::query("checking the tenant isolation", &e, "Nothing was changed."))?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// Isolates `role` (or with `undo` removes its isolation), in one transaction.
pub async fn isolate(db: &mut Db, role: &str, undo: bool) -> Result<IsolationReport> {
    let tx = db.client.transaction().await.map_err(q("starting the tenant isolation"))?;
    // The tool's own schema change: past the DDL guard (sql/migrate/9_ddl_guard.sql).
    tx.batch_execute(&crate::conn::short_lock::one_wait_prologue())
        .await
        .map_err(q("starting the tenant isolation"))?;
    let r = tx
        .query_opt("SELECT oid, rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = $1", &[&role])
        .await
        .map_err(q("looking up the role"))?;
    let Some(r) = r else {
        return Err(Error::NotFound {
            kind: "role".into(),
            name: role.to_string(),
            hint: "Name the role the application connects as.".into(),
        });
    };
    let oid: u32 = r.get(0);
    let exempt: bool = r.get(1);
    let tables: Vec<(String, bool)> = tx
        .query(TABLES, &[])
        .await
        .map_err(q("reading the tables with account_id"))?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    if tables.is_empty() {
        return Err(Error::state(
            "no table of this database's schema has a column account_id: it is not migrated",
            "Run `profochat-saas migrate` first; tenant isolation works on the migrated schema.",
        ));
    }
    tx.batch_execute(&format!("{STATE}\n{}", crate::target::sql::STATE_PRIVILEGES))
        .await
        .map_err(q("creating the record of the tenant isolation"))?;
    let mut done = vec![];
    if undo {
        for (table, _) in &tables {
            tx.batch_execute(&format!("DROP POLICY IF EXISTS {} ON {}", ident(&policy_name(oid)), ident(table)))
                .await
                .map_err(q("dropping the role's policies"))?;
            done.push(table.clone());
        }
        tx.execute("DELETE FROM profochat_saas.tenant_isolation WHERE role_name = $1", &[&role])
            .await
            .map_err(q("recording the tenant isolation"))?;
        let left: i64 = tx
            .query_one("SELECT count(*) FROM profochat_saas.tenant_isolation", &[])
            .await
            .map_err(q("recording the tenant isolation"))?
            .get(0);
        if left == 0 {
            remove_rls(&tx).await?;
        }
    } else {
        if exempt {
            return Err(Error::refused(
                format!("role {role:?} is a superuser or has BYPASSRLS: row-level security never applies to it"),
                "Isolate the role the application connects as, an ordinary role.",
            ));
        }
        let owned: Vec<String> = tx
            .query(
                "SELECT c.relname::text FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace
                   AND c.relname = ANY($1) AND pg_has_role($2::oid, c.relowner, 'USAGE') ORDER BY 1",
                &[&tables.iter().map(|t| t.0.clone()).collect::<Vec<_>>(), &oid],
            )
            .await
            .map_err(q("reading the tables' owners"))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if !owned.is_empty() {
            return Err(Error::refused(
                format!("role {role:?} owns (or acts as the owner of) {}: row-level security does not apply to a table's owner", owned.join(", ")),
                "Let the application connect as a role that owns no table, with the rights it needs granted to it.",
            ));
        }
        for (table, rls) in &tables {
            let recorded: bool = tx
                .query_one(
                    "INSERT INTO profochat_saas.tenant_isolation_table (table_name, rls_before) VALUES ($1, $2)
                     ON CONFLICT (table_name) DO UPDATE SET rls_before = profochat_saas.tenant_isolation_table.rls_before
                     RETURNING rls_before",
                    &[table, rls],
                )
                .await
                .map_err(q("recording the tenant isolation"))?
                .get(0);
            if !recorded {
                tx.batch_execute(&fill(POLICY_ALL, table, None)).await.map_err(q("adding the policy for the other roles"))?;
            }
            tx.batch_execute(&fill(POLICY, table, Some((role, oid)))).await.map_err(q("adding the role's policy"))?;
            done.push(table.clone());
        }
        tx.execute(
            "INSERT INTO profochat_saas.tenant_isolation (role_name) VALUES ($1) ON CONFLICT (role_name) DO UPDATE SET isolated_at = now()",
            &[&role],
        )
        .await
        .map_err(q("recording the tenant isolation"))?;
    }
    let isolated = isolated_roles(&tx).await?;
    let legacy_interface: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c
                             WHERE c.relnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = 'profochat_legacy')
                               AND c.relkind = 'v'
                               AND pg_catalog.has_table_privilege($1::oid, c.oid, 'SELECT, INSERT, UPDATE, DELETE'))",
            &[&oid],
        )
        .await
        .map_err(q("reading the role's rights on the legacy interface"))?
        .get(0);
    tx.commit().await.map_err(q("committing the tenant isolation"))?;
    Ok(IsolationReport { role: role.to_string(), undone: undo, tables: done, isolated_roles: isolated, legacy_interface })
}

/// Turns off what the tool turned on: the permissive policies, and row-level security
/// where it was off before; forgets the tables.
async fn remove_rls<C: GenericClient + Sync>(client: &C) -> Result<()> {
    let rows = client
        .query(
            "SELECT t.table_name, t.rls_before FROM profochat_saas.tenant_isolation_table t
              WHERE to_regclass(quote_ident(t.table_name)) IS NOT NULL ORDER BY 1",
            &[],
        )
        .await
        .map_err(q("reading the tables of the tenant isolation"))?;
    for r in rows {
        let (table, before): (String, bool) = (r.get(0), r.get(1));
        let mut sql = format!("DROP POLICY IF EXISTS profochat_tenant_all ON {}", ident(&table));
        if !before {
            sql.push_str(&format!("; ALTER TABLE {} DISABLE ROW LEVEL SECURITY", ident(&table)));
        }
        client.batch_execute(&sql).await.map_err(q("turning row-level security off"))?;
    }
    client
        .batch_execute("DELETE FROM profochat_saas.tenant_isolation_table")
        .await
        .map_err(q("recording the tenant isolation"))?;
    Ok(())
}

/// Removes every role's isolation (for `rollback`, inside its transaction, which has
/// passed the DDL guard): its policies reference account_id, which rollback drops.
/// Returns the roles that were isolated.
pub async fn remove_all<C: GenericClient + Sync>(client: &C) -> Result<Vec<String>> {
    let roles = isolated_roles(client).await?;
    if roles.is_empty() {
        return Ok(roles);
    }
    let tables: Vec<String> = client.query(TABLES, &[]).await.map_err(q("reading the tables with account_id"))?.iter().map(|r| r.get(0)).collect();
    for role in &roles {
        let oid: Option<u32> = client
            .query_opt("SELECT oid FROM pg_roles WHERE rolname = $1", &[role])
            .await
            .map_err(q("looking up the role"))?
            .map(|r| r.get(0));
        if let Some(oid) = oid {
            for table in &tables {
                client
                    .batch_execute(&format!("DROP POLICY IF EXISTS {} ON {}", ident(&policy_name(oid)), ident(table)))
                    .await
                    .map_err(q("dropping the role's policies"))?;
            }
        }
    }
    remove_rls(client).await?;
    client.batch_execute("DELETE FROM profochat_saas.tenant_isolation").await.map_err(q("recording the tenant isolation"))?;
    Ok(roles)
}
