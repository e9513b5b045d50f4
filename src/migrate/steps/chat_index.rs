//! The temporary index on run (chat_id): the legacy bot's course ends and the
//! compatibility layer find a chat's runs without reading the whole table. Not part of
//! the target schema: the cleanup after the switch drops it.

use super::{q, stopped, Online, Step};
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
        "a temporary index on run (chat_id), built concurrently: the legacy bot's course ends and the compatibility layer find a chat's runs without reading the whole table; the switch drops it"
    }

    fn undo(&self) -> &'static str {
        "drops the indexes and keys"
    }

    fn affects(&self) -> &'static str {
        "not at all; from here on its course ends are faster than before the migration"
    }

    /// `chat_index.sql`; a build killed halfway left the index invalid, and it is
    /// dropped and built again.
    async fn apply(&self, run: &mut Online<'_>) -> Result<Counts> {
        let step = self.id();
        let db = &run.db;
        let invalid: bool = db
            .query_one("SELECT EXISTS (SELECT 1 FROM pg_index WHERE indexrelid = to_regclass($1) AND NOT indisvalid)", &[&CHAT_INDEX])
            .await
            .map_err(q("reading the catalog"))?
            .get(0);
        if invalid {
            db.batch_execute(DROP)
                .await
                .map_err(|e| stopped(step, format!("dropping the invalid leftover of {CHAT_INDEX}: {}", pg_error_text(&e))))?;
        }
        db.batch_execute(BUILD).await.map_err(|e| stopped(step, format!("building {CHAT_INDEX}: {}", pg_error_text(&e))))?;
        Ok(Counts::from([("indexes_built".to_string(), 1)]))
    }
}
