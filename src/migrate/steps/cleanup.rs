//! The step after the switch: removes what the online migration needed only while it
//! ran ([`leftovers`]), each part on its own and safe to repeat. Interrupted, the next
//! `migrate` finishes it.

use tokio_postgres::GenericClient;

use super::chat_index::{self, CHAT_INDEX};
use super::{Online, Step};
use crate::conn::Db;
use crate::error::{pg_error_text, Error, Result};
use crate::migrate::changes;
use super::Counts;
use crate::state::OnlineStep;

/// Drops the backfill's analysis (the tables `persist.sql` keeps).
pub const DROP: &str = include_str!("../../../sql/migrate/online/drop.sql");
const LEFTOVERS: &str = include_str!("../../../sql/migrate/online/leftovers.sql");

pub struct Cleanup;

impl Step for Cleanup {
    fn id(&self) -> OnlineStep {
        OnlineStep::Cleanup
    }

    fn describe(&self) -> &'static str {
        "the change log's triggers (short locks), the temporary index (concurrently), the backfill's analysis and the progress record go; interrupted, the next `migrate` finishes it"
    }

    fn undo(&self) -> &'static str {
        "nothing: the migration is completed (`profochat-saas rollback` returns to the legacy schema)"
    }

    fn affects(&self) -> &'static str {
        "the change log's triggers go in short lock attempts; otherwise not at all"
    }

    async fn apply(&self, run: &mut Online<'_>) -> Result<Counts> {
        let removed = cleanup(run.db).await?;
        Ok(Counts::from([("parts_removed".to_string(), removed.len() as i64)]))
    }
}

/// What a completed online migration left when its cleanup (the step after the switch)
/// was interrupted: one line per kind ("8 change-log triggers", …); empty when there is
/// nothing, or while an online migration is in progress (those are its own).
pub async fn leftovers<C: GenericClient + Sync>(client: &C) -> Result<Vec<String>> {
    let q = |e: tokio_postgres::Error| Error::query("looking for what an online migration left", &e, "Nothing was changed.");
    if !crate::schema::state_table_exists(client).await? {
        return Ok(vec![]);
    }
    let row = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM profochat_saas.migration WHERE status = 'in_progress'),
                    to_regclass('profochat_saas.online_progress') IS NOT NULL",
            &[],
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

/// Removes the leftovers: the change-log triggers in short locks, the temporary index
/// concurrently (the bot never waits), then the progress record, last, so that an
/// interruption leaves the step recorded as under way. Returns what it removed.
pub async fn cleanup(db: &Db) -> Result<Vec<String>> {
    let left = leftovers(&db.client).await?;
    let fail = |what: &str, e: &tokio_postgres::Error| Error::Stopped {
        step: OnlineStep::Cleanup.name().to_string(),
        cause: format!("{what}: {}", pg_error_text(e)),
        hint: "The migration is completed and the legacy bot keeps working. `profochat-saas migrate` finishes the cleanup.".into(),
    };
    changes::remove(&db.client).await?;
    db.batch_execute(chat_index::DROP).await.map_err(|e| fail(&format!("dropping the temporary index {CHAT_INDEX}"), &e))?;
    db.batch_execute(DROP).await.map_err(|e| fail("dropping the backfill's analysis", &e))?;
    db.batch_execute(
        "DO $$ BEGIN
             IF to_regclass('profochat_saas.online_progress') IS NOT NULL THEN
                 DELETE FROM profochat_saas.online_progress p
                  WHERE NOT EXISTS (SELECT 1 FROM profochat_saas.migration m WHERE m.migration_id = p.migration_id AND m.status = 'in_progress');
             END IF;
         END $$",
    )
    .await
    .map_err(|e| fail("removing the progress record", &e))?;
    Ok(left)
}
