//! Where an online migration stands: `profochat_saas.online_progress`, read and
//! written in the transaction of the work it records.

use tokio_postgres::GenericClient;

use super::q;
use crate::error::Result;
use crate::state::{OnlineProgress, OnlineStep};

const PROGRESS_READ: &str = include_str!("../../../sql/migrate/online/progress_read.sql");
const PROGRESS_WRITE: &str = include_str!("../../../sql/migrate/online/progress_write.sql");

/// The progress of the online migration in progress, if there is one.
pub async fn progress<C: GenericClient + Sync>(client: &C) -> Result<Option<OnlineProgress>> {
    if !crate::schema::state_table_exists(client).await? {
        return Ok(None);
    }
    let exists: bool = client
        .query_one("SELECT to_regclass('profochat_saas.online_progress') IS NOT NULL", &[])
        .await
        .map_err(q("reading the online migration's progress"))?
        .get(0);
    if !exists {
        return Ok(None);
    }
    let row = client.query_opt(PROGRESS_READ, &[]).await.map_err(q("reading the online migration's progress"))?;
    Ok(row.map(|r| OnlineProgress {
        migration_id: r.get(0),
        done: r.get::<_, Option<String>>(1).as_deref().and_then(OnlineStep::parse),
        current: r.get::<_, Option<String>>(2).as_deref().and_then(OnlineStep::parse),
        last_key: r.get(3),
        max_key: r.get(4),
        batches: r.get(5),
        rows: r.get(6),
    }))
}

/// Records progress (inside the transaction of the work it records).
pub async fn record<C: GenericClient + Sync>(client: &C, p: &OnlineProgress) -> Result<()> {
    client
        .execute(
            PROGRESS_WRITE,
            &[
                &p.migration_id,
                &p.done.map(|s| s.name()),
                &p.current.map(|s| s.name()),
                &p.last_key,
                &p.max_key,
                &p.batches,
                &p.rows,
            ],
        )
        .await
        .map_err(q("recording the online migration's progress"))?;
    Ok(())
}
