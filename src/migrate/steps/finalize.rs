//! The compatibility layer and the legacy interface: what lets the running legacy bot
//! keep working on the new schema. The prepare step installs them once the course data
//! is prepared ([`install_legacy_interface`]); over the whole key range (`migrate
//! --offline`) they come last ([`Finalize`]), once every row is linked, so that the
//! links of the one transaction fire no compatibility trigger.

use futures_util::future::BoxFuture;
use tokio_postgres::Transaction;

use super::{Counts, Whole, WholeRange};
use crate::migrate::analysis::Analysis;
use crate::migrate::work::WorkError;
use crate::migrate::MigrateOptions;
use crate::target;

const COMPAT: &str = include_str!("../../../sql/migrate/7_compat.sql");
const LEGACY_WRITE: &str = include_str!("../../../sql/migrate/7_legacy_write.sql");
const LEGACY_INTERFACE: &str = include_str!("../../../sql/migrate/8_legacy_interface.sql");
const DDL_GUARD: &str = include_str!("../../../sql/migrate/9_ddl_guard.sql");
const LEGACY_STATE_FROM_ARCHIVE: &str = include_str!("../../../sql/migrate/8_legacy_state_from_archive.sql");
const GUARDS: &str = "SELECT count(*) FROM pg_event_trigger WHERE evtname LIKE 'profochat\\_saas\\_guard%'";

/// The compatibility triggers on the public tables (7_compat.sql).
pub const COMPAT_TRIGGERS: i64 = 9;

/// The compatibility layer, the legacy interface and the schema-change guard, as the prepare step
/// (offline: phase 7) installs them; for a database an older version migrated, with the legacy
/// interface's state rebuilt from its archive first.
pub async fn install_legacy_interface(tx: &Transaction<'_>, from_archive: bool) -> std::result::Result<(), tokio_postgres::Error> {
    tx.batch_execute(target::sql::STATE).await?;
    if from_archive {
        tx.batch_execute(LEGACY_STATE_FROM_ARCHIVE).await?;
    }
    let schema: String = tx.query_one(target::sql::TABLES_SCHEMA, &[]).await?.get(0);
    tx.batch_execute(LEGACY_WRITE).await?;
    tx.batch_execute(&target::sql::in_schema(COMPAT, &schema)).await?;
    tx.batch_execute(&legacy_interface_sql(&schema)).await?;
    tx.batch_execute(DDL_GUARD).await?;
    tx.batch_execute(target::sql::FUNCTION_PRIVILEGES).await?;
    tx.batch_execute(target::sql::STATE_PRIVILEGES).await
}

/// The legacy interface (8_legacy_interface.sql) for tables in `schema`, with the
/// privileges of its functions.
pub fn legacy_interface_sql(schema: &str) -> String {
    format!("{}\n{}", target::sql::in_schema(LEGACY_INTERFACE, schema), target::sql::FUNCTION_PRIVILEGES)
}

/// The prepare step's compatibility layer and legacy interface over the whole range,
/// last in the one transaction.
pub struct Finalize;

impl WholeRange for Finalize {
    fn describe_whole(&self, _: &Analysis, _: &MigrateOptions) -> Vec<String> {
        vec![
            "install the triggers that link what a legacy bot writes to the public tables".into(),
            "create the legacy interface: schema profochat_legacy, the 8 legacy tables as the legacy bot knows them".into(),
            "refuse schema changes to the tables the compatibility layer reads until `finish` (event triggers; needs a superuser)".into(),
            "prove no loss (fingerprints before = after, apart from archived changes), validate, record the migration".into(),
        ]
    }

    fn apply_whole<'a>(&'a self, w: &'a Whole<'a>) -> BoxFuture<'a, std::result::Result<Counts, WorkError>> {
        Box::pin(async move {
            install_legacy_interface(w.tx, false).await?;
            Ok(Counts::from([
                ("ddl_guard_event_triggers".to_string(), w.count(GUARDS).await?),
                ("compat_triggers".to_string(), COMPAT_TRIGGERS),
                ("legacy_interface_views".to_string(), 8),
            ]))
        })
    }

    fn check_whole(&self, _: &MigrateOptions) -> Option<&'static str> {
        Some(include_str!("../../../sql/migrate/checks/7_finalize.sql"))
    }
}
