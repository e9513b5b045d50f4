//! Keys: unique indexes built concurrently, NOT NULL through checks validated without
//! blocking writes, foreign keys added NOT VALID and validated; then phase 4's script,
//! under the short lock, finds them all in place and adds the small tables' keys. Over
//! the whole range (`migrate --offline`) phase 4's script adds them all at once.

use futures_util::future::BoxFuture;

use super::{q, stopped, Online, Step, Whole, WholeRange};
use crate::conn::short_lock::ALLOW_DDL;
use crate::conn::Db;
use crate::error::{pg_error_text, Result};
use super::Counts;
use crate::migrate::analysis::Analysis;
use crate::migrate::work::WorkError;
use crate::migrate::{MigrateOptions, Orphans};
use crate::sql::ident;
use crate::state::OnlineStep;
use crate::target;

const KEYS_NOT_NULL: &str = include_str!("../../../sql/migrate/online/keys_not_null.sql");
const KEYS_NOT_NULL_DONE: &str = include_str!("../../../sql/migrate/online/keys_not_null_done.sql");
const CONVERSATION_RUN_FK_EXISTS: &str = include_str!("../../../sql/migrate/4_conversation_run_fk_exists.sql");
const CONVERSATION_RUN_FK_VALIDATE: &str = include_str!("../../../sql/migrate/4_conversation_run_fk_validate.sql");
const CHECK: &str = include_str!("../../../sql/migrate/checks/4_keys.sql");

pub struct Keys;

impl Step for Keys {
    fn id(&self) -> OnlineStep {
        OnlineStep::Keys
    }

    fn describe(&self) -> &'static str {
        "unique keys (concurrent unique indexes), NOT NULL through validated checks, foreign keys NOT VALID then validated"
    }

    fn undo(&self) -> &'static str {
        "drops the indexes and keys"
    }

    fn affects(&self) -> &'static str {
        "milliseconds per key"
    }

    async fn apply(&self, run: &mut Online<'_>) -> Result<Counts> {
        let step = self.id();
        let mut counts = Counts::new();
        // Unique indexes on the big tables, concurrently (an invalid leftover is rebuilt).
        let keys = target::keys();
        for k in keys.iter().filter(|k| k.kind == target::KeyKind::UniqueIndex) {
            if unique_index(run.db, &k.name, k.definition.trim_start_matches("UNIQUE "), step).await? {
                *counts.entry("unique_indexes_built".into()).or_default() += 1;
            }
        }
        // bot_id IS NOT NULL: a check added NOT VALID, validated while the bot writes.
        run.short_ddl(KEYS_NOT_NULL, "adding the NOT NULL checks", step).await?;
        run.crash_point("inside:keys:1");
        for t in ["run", "waiting_element", "bannedparticipants"] {
            validate_constraint(run.db, t, &format!("{t}_bot_id_not_null"), step).await?;
        }
        // Foreign keys of the legacy tables: NOT VALID, then validated.
        run.short_ddl(&small_keys(), "adding the keys of the new tables", step).await?;
        for k in keys.iter().filter(|k| k.kind == target::KeyKind::Constraint && k.definition.starts_with("FOREIGN KEY")) {
            let (table, name, def) = (&k.table, &k.name, &k.definition);
            let exists: bool = run
                .db
                .query_one("SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = $1 AND conrelid = to_regclass($2))", &[name, table])
                .await
                .map_err(q("reading constraints"))?
                .get(0);
            if !exists {
                let sql = format!("ALTER TABLE {} ADD CONSTRAINT {} {def} NOT VALID", ident(table), ident(name));
                run.short_ddl(&sql, &format!("adding {name}"), step).await?;
                run.crash_point("inside:keys:2");
            }
            if !(name == "conversation_run_id_fkey" && run.opts.orphans == Orphans::Keep) {
                validate_constraint(run.db, table, name, step).await?;
            }
            *counts.entry("foreign_keys".into()).or_default() += 1;
        }
        // Everything is in place: phase 4's script only confirms it; the validated
        // checks on bot_id go (it stays nullable, as upstream's).
        let all = format!("{}\n{}\n{KEYS_NOT_NULL_DONE}", target::sql::HELPERS, target::sql::CONSTRAINTS);
        run.short_ddl(&all, "confirming the keys", step).await?;
        Ok(counts)
    }

    async fn check(&self, run: &mut Online<'_>) -> Result<()> {
        let bad: i64 = run.db.query_one(CHECK, &[]).await.map_err(q("checking the keys"))?.get(0);
        if bad != 0 {
            return Err(stopped(self.id(), format!("{bad} key(s) are missing after the keys step")));
        }
        Ok(())
    }
}

/// Over the whole range, in the one transaction (offline, phase 4): phase 4's script,
/// then conversation's key to run (NOT VALID while orphans are kept).
impl WholeRange for Keys {
    fn describe_whole(&self, _: &Analysis, _: &MigrateOptions) -> Vec<String> {
        vec![
            format!("{} unique keys, {} foreign keys, NOT NULL on bot_id", target::UNIQUE_KEYS.len(), target::FOREIGN_KEYS.len()),
            "upstream's names and keys: course keeps its primary key (course_id, bot_name) and gets the unique key (course_id, account_id) the foreign keys reference".into(),
        ]
    }

    fn apply_whole<'a>(&'a self, w: &'a Whole<'a>) -> BoxFuture<'a, std::result::Result<Counts, WorkError>> {
        Box::pin(async move {
            let (tx, orphans) = (w.tx, w.opts.orphans);
            tx.batch_execute(&[target::sql::HELPERS, target::sql::CONSTRAINTS].join("\n")).await?;
            if w.count(CONVERSATION_RUN_FK_EXISTS).await? == 0 {
                let not_valid = if orphans == Orphans::Keep { " NOT VALID" } else { "" };
                tx.batch_execute(&format!("{}{not_valid}", target::sql::CONVERSATION_RUN_FK.trim_end().trim_end_matches(';'))).await?;
            } else if orphans == Orphans::Detach {
                // A key left NOT VALID by an earlier run with --orphans keep: orphans are detached now.
                tx.batch_execute(CONVERSATION_RUN_FK_VALIDATE).await?;
            }
            Ok(Counts::from([
                ("unique_keys".to_string(), target::UNIQUE_KEYS.len() as i64),
                ("foreign_keys".to_string(), target::FOREIGN_KEYS.len() as i64),
            ]))
        })
    }

    fn check_whole(&self, _: &MigrateOptions) -> Option<&'static str> {
        Some(CHECK)
    }
}

/// Builds the unique index `name` concurrently unless a valid one exists (an invalid
/// leftover is dropped first); whether it was built.
async fn unique_index(db: &Db, name: &str, def: &str, step: OnlineStep) -> Result<bool> {
    let state_row = db
        .query_opt("SELECT i.indisvalid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid WHERE c.relname = $1", &[&name])
        .await
        .map_err(q("reading indexes"))?;
    match state_row.map(|r| r.get::<_, bool>(0)) {
        Some(true) => return Ok(false),
        Some(false) => {
            db.batch_execute(&format!("DROP INDEX CONCURRENTLY IF EXISTS {}", ident(name)))
                .await
                .map_err(|e| stopped(step, format!("dropping the invalid index {name}: {}", pg_error_text(&e))))?;
        }
        None => {}
    }
    // On its own: CREATE INDEX CONCURRENTLY cannot run in a transaction block.
    db.batch_execute(&format!("CREATE UNIQUE INDEX CONCURRENTLY {} ON {def}", ident(name)))
        .await
        .map_err(|e| stopped(step, format!("building the unique index {name}: {}", pg_error_text(&e))))?;
    Ok(true)
}

/// Phase 4's primary and unique keys, without the foreign keys, the unique indexes of
/// the big tables and their NOT NULL (the keys step adds those without blocking writes):
/// the keys of the new tables and course's, checked or added in milliseconds.
pub(crate) fn small_keys() -> String {
    let small = target::sql::CONSTRAINTS
        .lines()
        .filter(|l| !l.contains("FOREIGN KEY") && !l.contains("ensure_index(") && !l.contains("bot_id SET NOT NULL"))
        .collect::<Vec<_>>()
        .join("\n");
    format!("{}\n{small}", target::sql::HELPERS)
}

/// VALIDATE CONSTRAINT takes a lock that lets the bot read and write while it scans.
async fn validate_constraint(db: &Db, table: &str, name: &str, step: OnlineStep) -> Result<()> {
    let valid: Option<bool> = db
        .query_opt("SELECT convalidated FROM pg_constraint WHERE conname = $1 AND conrelid = to_regclass($2)", &[&name, &table])
        .await
        .map_err(q("reading constraints"))?
        .map(|r| r.get(0));
    if valid == Some(false) {
        db.batch_execute(&format!("SET {ALLOW_DDL} = on; ALTER TABLE {} VALIDATE CONSTRAINT {}; RESET {ALLOW_DDL}", ident(table), ident(name)))
            .await
            .map_err(|e| stopped(step, format!("validating {name}: {}", pg_error_text(&e))))?;
    }
    Ok(())
}
