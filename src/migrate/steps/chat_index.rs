//! The temporary index on run (chat_id): the legacy bot's course ends and the
//! compatibility layer find a chat's runs without reading the whole table. Not part of
//! the target schema: the cleanup after the switch drops it.

use super::{stopped, Online, Step};
use crate::error::{pg_error_text, Result};
use super::Counts;
use crate::state::OnlineStep;

/// The online migration's temporary index on run (chat_id): built by the step "chat
/// index", dropped after the switch; not part of the target schema.
pub const CHAT_INDEX: &str = "profochat_saas_run_chat";
const BUILD: &str = include_str!("../../../sql/migrate/online/chat_index.sql");
pub(crate) const DROP: &str = include_str!("../../../sql/migrate/online/chat_index_drop.sql");

pub struct ChatIndex;

impl Step for ChatIndex {
    fn id(&self) -> OnlineStep {
        OnlineStep::ChatIndex
    }

    fn describe(&self) -> &'static str {
        "a temporary index on run (chat_id), built concurrently before the preflight's analysis (this step makes sure it is there and valid): the legacy bot's course ends and the compatibility layer find a chat's runs without reading the whole table; the switch drops it"
    }

    fn undo(&self) -> &'static str {
        "drops the indexes and keys"
    }

    fn affects(&self) -> &'static str {
        "not at all; from here on its course ends are faster than before the migration"
    }

    /// `chat_index.sql` (the expand step built it already, unless it was killed first);
    /// a build killed halfway left the index invalid, and it is dropped and built again.
    async fn apply(&self, run: &mut Online<'_>) -> Result<Counts> {
        ensure(run, self.id()).await?;
        Ok(Counts::from([("indexes_built".to_string(), 1)]))
    }
}

/// Builds the index unless it is there and valid: an invalid leftover of a killed build
/// is dropped first. Run before the preflight's analysis (so that the bot's course ends
/// are index lookups while the analysis and the fingerprint read every table), by the
/// expand step and by this step (which find it built).
pub(crate) async fn ensure(run: &mut Online<'_>, step: OnlineStep) -> Result<()> {
    build(&run.db.client).await.map_err(|e| stopped(step, format!("building {CHAT_INDEX}: {}", pg_error_text(&e))))
}

/// Whether the index is there (valid or not).
pub(crate) async fn exists(client: &tokio_postgres::Client) -> std::result::Result<bool, tokio_postgres::Error> {
    Ok(client.query_one("SELECT to_regclass($1) IS NOT NULL", &[&CHAT_INDEX]).await?.get(0))
}

/// [`ensure`]'s work, with the server's error as it came.
pub(crate) async fn build(client: &tokio_postgres::Client) -> std::result::Result<(), tokio_postgres::Error> {
    let invalid: bool = client
        .query_one("SELECT EXISTS (SELECT 1 FROM pg_index WHERE indexrelid = to_regclass($1) AND NOT indisvalid)", &[&CHAT_INDEX])
        .await?
        .get(0);
    if invalid {
        client.batch_execute(DROP).await?;
    }
    // One process sorts (no parallel workers): the bot's statements keep a core while
    // the index is built. The setting is the session's (CONCURRENTLY cannot run in a
    // transaction) and is reset after.
    client.batch_execute("SET max_parallel_maintenance_workers = 0").await?;
    let built = client.batch_execute(BUILD).await;
    client.batch_execute("RESET max_parallel_maintenance_workers").await?;
    built
}

/// Drops the index concurrently, waiting at most `bound` for the sessions that use `run`
/// (`lock_timeout`): true if it is gone, false if they held it longer (it is left, not
/// part of either schema; every way back and the next `migrate` take care of it).
pub(crate) async fn drop_bounded(client: &tokio_postgres::Client, bound: std::time::Duration) -> std::result::Result<bool, tokio_postgres::Error> {
    client.batch_execute(&format!("SET lock_timeout = '{}ms'", bound.as_millis().max(1))).await?;
    let dropped = client.batch_execute(DROP).await;
    client.batch_execute("RESET lock_timeout").await?;
    match dropped {
        Ok(()) => Ok(true),
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE) => Ok(false),
        Err(e) => Err(e),
    }
}

/// What to tell the operator when [`drop_bounded`] could not drop the index.
pub(crate) fn left_note() -> String {
    format!(
        " The temporary index {CHAT_INDEX} (built concurrently before the preflight) is left: another session kept `run` in use. \
         It is not part of either schema and changes no row; the next `profochat-saas migrate` uses it, or `DROP INDEX CONCURRENTLY {CHAT_INDEX}` removes it."
    )
}

