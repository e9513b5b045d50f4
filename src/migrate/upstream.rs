//! What makes a migrated database upstream's own beyond its tables: upstream's
//! migration ledger recording 0001 and 0003 (`applied_by` naming this tool), and the
//! enrolment function `profochat_saas.enrol`. Installed inside the migration
//! transaction (and by the upgrade of a database an older version migrated).

use tokio_postgres::GenericClient;

use crate::error::{pg_error_text, Error, Result};
use crate::target;

/// What [`install`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Installed {
    /// Rows added to schema_migrations (0 when both were recorded already).
    pub ledger_rows: u64,
}

/// Creates schema_migrations if missing, records upstream's migrations, and installs
/// (or replaces) the enrolment function. `step` names the step in errors.
pub async fn install<C: GenericClient + Sync>(client: &C, execution_ms: i32, step: &str) -> Result<Installed> {
    let fail = |e: tokio_postgres::Error| Error::PhaseFailed {
        phase: step.to_string(),
        cause: pg_error_text(&e),
        hint: "Fix the cause and run `profochat-saas migrate` again; `profochat-saas plan` shows what it will do.".into(),
    };
    client.batch_execute(target::sql::STATE).await.map_err(fail)?;
    client.batch_execute(target::sql::LEDGER).await.map_err(fail)?;
    let versions: Vec<&str> = target::UPSTREAM_MIGRATIONS.iter().map(|m| m.0).collect();
    let descriptions: Vec<&str> = target::UPSTREAM_MIGRATIONS.iter().map(|m| m.1).collect();
    let ledger_rows = client
        .execute(target::sql::LEDGER_RECORD, &[&target::applied_by(), &execution_ms, &versions, &descriptions])
        .await
        .map_err(fail)?;
    let schema: String = client.query_one(target::sql::TABLES_SCHEMA, &[]).await.map_err(fail)?.get(0);
    client
        .batch_execute(&format!("{}\n{}", target::sql::in_schema(target::sql::ENROL, &schema), target::sql::FUNCTION_PRIVILEGES))
        .await
        .map_err(fail)?;
    Ok(Installed { ledger_rows })
}
