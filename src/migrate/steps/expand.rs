//! Expand: the new tables and the new columns of the legacy tables (metadata only: no
//! table is rewritten or scanned), under the short lock, then the temporary chat index
//! checked (built before the preflight, see [`super::chat_index`]), the change log and
//! the fingerprint before. Over the whole key range (`migrate --offline`) it is two
//! phases of the one transaction, [`Account`] then [`Tables`]: the same statements,
//! under the lock the preflight took.

use futures_util::future::BoxFuture;

use super::{q, Online, Step, Whole, WholeRange};
use crate::error::{Error, Result};
use super::Counts;
use crate::migrate::analysis::Analysis;
use crate::migrate::work::WorkError;
use crate::migrate::MigrateOptions;
use crate::state::OnlineStep;
use crate::target;

const LOCK_LEGACY: &str = include_str!("../../../sql/migrate/run/lock_legacy.sql");
const RECORD_BEFORE: &str = include_str!("../../../sql/migrate/online/record_before.sql");

pub struct Expand;

impl Step for Expand {
    fn id(&self) -> OnlineStep {
        OnlineStep::Expand
    }

    fn describe(&self) -> &'static str {
        "new tables and columns (metadata only, short locks), the temporary chat index checked, the change log, the fingerprint before"
    }

    fn undo(&self) -> &'static str {
        "drops the new tables and columns, the change log and the tool's schema"
    }

    fn affects(&self) -> &'static str {
        "one lock of the eight tables, taken in short attempts, held for milliseconds"
    }

    async fn apply(&self, run: &mut Online<'_>) -> Result<Counts> {
        let step = self.id();
        let lock = LOCK_LEGACY.replace("SET LOCAL lock_timeout = 0;", "");
        let sql = [lock.as_str(), target::sql::HELPERS, target::sql::ACCOUNT, target::sql::TABLES].join("\n");
        if let Err(e) = run.short_ddl(&sql, "adding the new tables and columns", step).await {
            // Nothing of the migration is in the legacy tables yet: its record goes too.
            if run.state.done.is_none() {
                return Err(forget(run, e).await?);
            }
            return Err(e);
        }
        // The chat index (built before the preflight; again if a resumed migration lost
        // it): the fingerprint reads every table, and the bot's course ends should find
        // their run through the index meanwhile, not read all of `run`.
        super::chat_index::ensure(run, step).await?;
        // From here on, every row the bot or the application writes is logged, so that the
        // no-loss proof can leave it out; then the fingerprint before, in one snapshot.
        let db = &mut *run.db;
        crate::migrate::changes::install(&db.client).await.map_err(|e| super::stopped(step, e.to_string()))?;
        let before = crate::migrate::changes::before(&mut db.client).await?;
        db.execute(
            RECORD_BEFORE,
            &[&run.state.migration_id, &serde_json::to_value(&before.fingerprints).unwrap_or_default(), &before.snapshot],
        )
        .await
        .map_err(q("recording the fingerprint before"))?;
        Ok(Counts::from([("legacy_rows".to_string(), before.fingerprints.tables.values().map(|f| f.rows).sum::<i64>())]))
    }
}

/// The expand step's first part over the whole range: the account.
pub struct Account;

impl WholeRange for Account {
    fn describe_whole(&self, _: &Analysis, _: &MigrateOptions) -> Vec<String> {
        vec![
            "create table account and the default account (1, 'Default Account', slug 'default', plan 'free')".into(),
            "add account_id (default 1) to the 8 legacy tables".into(),
        ]
    }

    fn apply_whole<'a>(&'a self, w: &'a Whole<'a>) -> BoxFuture<'a, std::result::Result<Counts, WorkError>> {
        Box::pin(async move {
            w.tx.batch_execute(target::sql::ACCOUNT).await?;
            Ok(Counts::new())
        })
    }

    fn check_whole(&self, _: &MigrateOptions) -> Option<&'static str> {
        Some(include_str!("../../../sql/migrate/checks/0_account.sql"))
    }
}

/// The expand step's second part over the whole range: the new tables and columns.
pub struct Tables;

impl WholeRange for Tables {
    fn describe_whole(&self, _: &Analysis, _: &MigrateOptions) -> Vec<String> {
        vec![
            "create account_member, bot, course_deployment, enrollment_token".into(),
            format!(
                "add {} new columns to the legacy tables",
                target::ADDED_COLUMNS.iter().map(|(_, c)| c.len()).sum::<usize>() - 8
            ),
        ]
    }

    fn apply_whole<'a>(&'a self, w: &'a Whole<'a>) -> BoxFuture<'a, std::result::Result<Counts, WorkError>> {
        Box::pin(async move {
            w.tx.batch_execute(target::sql::TABLES).await?;
            Ok(Counts::new())
        })
    }

    fn check_whole(&self, _: &MigrateOptions) -> Option<&'static str> {
        Some(include_str!("../../../sql/migrate/checks/1_tables.sql"))
    }
}

/// The first step failed: the migration's record goes (and the tool's schema, if
/// nothing else is in it); returns the error to end with.
async fn forget(run: &mut Online<'_>, e: Error) -> Result<Error> {
    run.db
        .batch_execute(&format!(
            "DELETE FROM profochat_saas.online_progress WHERE migration_id = {id};
             DELETE FROM profochat_saas.migration WHERE migration_id = {id};
             DO $$ BEGIN
                 IF NOT EXISTS (SELECT 1 FROM profochat_saas.migration) AND to_regclass('bot') IS NULL THEN
                     DROP SCHEMA profochat_saas CASCADE;
                 END IF;
             END $$;",
            id = run.state.migration_id
        ))
        .await
        .map_err(q("removing the migration's record"))?;
    // The temporary chat index, built before the preflight, goes too (concurrently, the
    // wait for the sessions that use `run` bounded as the lock attempts were).
    let bound = run.opts.lock_wait.unwrap_or(crate::conn::short_lock::DEFAULT_BOUND);
    let dropped = super::chat_index::drop_bounded(&run.db.client, bound).await.map_err(q("dropping the temporary index on run (chat_id)"))?;
    let cause = match e {
        Error::Stopped { cause, .. } => cause,
        other => other.to_string(),
    };
    let mut hint = "Another session (the running bot, a long query) holds the legacy tables. Wait, or stop it, then run `profochat-saas migrate` again.".to_string();
    if !dropped {
        hint.push_str(&super::chat_index::left_note());
    }
    Ok(Error::RolledBack { context: "the online migration's first step".into(), cause, hint })
}
