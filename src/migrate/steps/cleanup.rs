//! The step after the switch: removes what the online migration needed only while it
//! ran ([`leftovers`]), each part on its own and safe to repeat. Interrupted, the next
//! `migrate` finishes it.


use super::chat_index::{self, CHAT_INDEX};
use super::{Online, Step};
use crate::conn::Db;
use crate::error::{pg_error_text, Error, Result};
use crate::migrate::changes;
use super::Counts;
use crate::state::OnlineStep;

/// Drops the backfill's analysis (the tables `persist.sql` keeps).
pub const DROP: &str = include_str!("../../../sql/migrate/online/drop.sql");

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

/// Removes the leftovers: the change-log triggers in short locks, the temporary index
/// concurrently (the bot never waits), then the progress record, last, so that an
/// interruption leaves the step recorded as under way. Returns what it removed.
pub async fn cleanup(db: &Db) -> Result<Vec<String>> {
    let left = crate::schema::leftovers::leftovers(&db.client).await?;
    let fail = |what: &str, e: &tokio_postgres::Error| Error::Stopped {
        step: OnlineStep::Cleanup,
        cause: format!("{what}: {}", pg_error_text(e)),
        hint: "The migration is completed and the legacy bot keeps working. `profochat-saas migrate` finishes the cleanup.".into(),
    };
    changes::remove(&db.client).await?;
    db.batch_execute(chat_index::DROP).await.map_err(|e| fail(&format!("dropping the temporary index {CHAT_INDEX}"), &e))?;
    db.batch_execute(DROP).await.map_err(|e| fail("dropping the backfill's analysis", &e))?;
    db.batch_execute(&format!(
        "DO $$ BEGIN
             IF to_regclass('profochat_saas.online_progress') IS NOT NULL THEN
                 DELETE FROM profochat_saas.online_progress p
                  WHERE NOT EXISTS (SELECT 1 FROM profochat_saas.migration m WHERE m.migration_id = p.migration_id AND m.status = {});
             END IF;
         END $$",
        crate::sql::literal(crate::state::MigrationStatus::InProgress.as_str())
    ))
    .await
    .map_err(|e| fail("removing the progress record", &e))?;
    Ok(left)
}
