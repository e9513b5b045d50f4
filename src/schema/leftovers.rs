//! What a completed online migration left when its cleanup (its step after the
//! switch) was interrupted: read by `status`, `validate`, and `migrate`, which
//! finishes the cleanup.

use tokio_postgres::GenericClient;

use crate::error::{Error, Result};
use crate::state::MigrationStatus;

const LEFTOVERS: &str = include_str!("../../sql/migrate/online/leftovers.sql");

/// What a completed online migration left when its cleanup (the step after the switch)
/// was interrupted: one line per kind ("8 change-log triggers", …); empty when there is
/// nothing, or while an online migration is in progress (those are its own).
pub async fn leftovers<C: GenericClient + Sync>(client: &C) -> Result<Vec<String>> {
    let q = |e: tokio_postgres::Error| Error::query("looking for what an online migration left", &e, "Nothing was changed.");
    if !super::state_table_exists(client).await? {
        return Ok(vec![]);
    }
    let row = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM profochat_saas.migration WHERE status = $1),
                    to_regclass('profochat_saas.online_progress') IS NOT NULL",
            &[&MigrationStatus::InProgress.as_str()],
        )
        .await
        .map_err(q)?;
    let (in_progress, has_progress): (bool, bool) = (row.get(0), row.get(1));
    if in_progress {
        return Ok(vec![]);
    }
    let mut left: Vec<String> = client
        .query(LEFTOVERS, &[])
        .await
        .map_err(q)?
        .iter()
        .filter(|r| r.get::<_, i64>(1) > 0)
        .map(|r| {
            let (what, n): (String, i64) = (r.get(0), r.get(1));
            if what.starts_with("the ") { what } else { format!("{n} {what}") }
        })
        .collect();
    if has_progress {
        let n: i64 = client.query_one("SELECT count(*) FROM profochat_saas.online_progress", &[]).await.map_err(q)?.get(0);
        if n > 0 {
            left.push(format!("{n} online progress record(s)"));
        }
    }
    Ok(left)
}
