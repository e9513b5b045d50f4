//! `finish` (SPEC §4): once the application uses the new schema and the legacy bot is
//! stopped, the legacy interface and the compatibility layer go, leaving exactly the
//! target schema (plus the tool's own state schema). Before it, `rollback` is possible;
//! after it, only restoring a backup goes back.

use std::time::Instant;

use serde::Serialize;

use crate::conn::Db;
use crate::error::{Error, Result};
use crate::report::Reporter;
use crate::schema::{self, SchemaState};
use crate::validate::{self, ValidateOptions};

const FINISH: &str = include_str!("../sql/finish/finish.sql");
const UPSTREAM_COLUMNS: &str = include_str!("../sql/finish/upstream_columns.sql");

/// What `finish` removes, for the question it asks and for `--dry-run`.
pub const REMOVES: [&str; 6] = [
    "the legacy interface: schema profochat_legacy (the views the legacy bot reads and writes through)",
    "the compatibility triggers on the 8 legacy tables and their functions in profochat_saas",
    "the event triggers that refuse schema changes before finish",
    "the legacy interface's own tables in profochat_saas (renamed-course map, merged copies, detached run_ids), saved into profochat_saas.archive first",
    "the search_path setting of the roles set to the legacy interface (legacy-role / migrate --legacy-role)",
    "course elements and participants without a course (course_id NULL, which no read finds and upstream's 0004 cannot carry), saved into profochat_saas.archive first",
];

/// How a `finish` call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Finished,
    /// `--dry-run`: checked, nothing changed.
    DryRun,
    /// Finished before: nothing changed.
    AlreadyFinished,
}

/// What `finish` did.
#[derive(Debug, Clone, Serialize)]
pub struct FinishReport {
    pub target: String,
    pub outcome: Outcome,
    pub migration_id: Option<i32>,
    pub removes: Vec<&'static str>,
    /// Roles whose search_path was set back.
    pub roles_reset: Vec<String>,
    /// Rows of the legacy interface's tables saved into the archive.
    pub archived_rows: u64,
    pub elapsed_ms: u64,
}

fn q(context: &'static str) -> impl Fn(tokio_postgres::Error) -> Error {
    move |e| Error::query(context, &e, "The finish transaction was rolled back: nothing was changed.")
}

/// Checks that the database may be finished (migrated, complete, validated), and with
/// `dry_run` false removes the legacy interface and the compatibility layer.
pub async fn finish(db: &mut Db, dry_run: bool, reporter: &dyn Reporter) -> Result<FinishReport> {
    let started = Instant::now();
    let target = db.settings.display_target();
    let status = schema::inspect(db).await?;
    let migration_id = status.last_migration.as_ref().map(|m| m.migration_id);
    let mut report = FinishReport {
        target: target.clone(),
        outcome: Outcome::AlreadyFinished,
        migration_id,
        removes: REMOVES.to_vec(),
        roles_reset: vec![],
        archived_rows: 0,
        elapsed_ms: 0,
    };
    if status.finished() {
        report.removes.clear();
        return Ok(report);
    }
    match status.state {
        SchemaState::Migrated => {}
        SchemaState::IndexesPending => {
            return Err(Error::state(
                format!("{target} is migrated, but its secondary indexes are not all built"),
                "Run `profochat-saas migrate` to finish them, then `profochat-saas finish`.",
            ))
        }
        SchemaState::Legacy => {
            return Err(Error::state(
                format!("{target} is in the legacy schema: there is nothing to finish"),
                "`finish` comes after `profochat-saas migrate`, once the application uses the new schema.",
            ))
        }
        other => {
            return Err(Error::state(
                format!("{target} is {}: only a completed migration can be finished", other.describe()),
                "Run `profochat-saas status` and `profochat-saas migrate` first.",
            ))
        }
    }
    reporter.started("finish: validate", None);
    let t = Instant::now();
    let v = validate::validate(&db.client, &ValidateOptions::from_state(&db.client).await?).await?;
    if let Some(e) = v.failure_error() {
        return Err(e);
    }
    reporter.finished("finish: validate", t.elapsed(), &v.summary());
    let Some(migration_id) = migration_id else {
        return Err(Error::state(format!("{target} records no migration"), "Run `profochat-saas migrate` first."));
    };

    let tx = db.client.transaction().await.map_err(q("starting finish"))?;
    reporter.started("finish: remove the legacy interface and the compatibility layer", None);
    let t = Instant::now();
    tx.batch_execute("SET LOCAL profochat_saas.allow_ddl = on; SET LOCAL lock_timeout = '15s'")
        .await
        .map_err(q("preparing finish"))?;
    tx.batch_execute("CREATE TEMP TABLE finish_params (migration_id int4) ON COMMIT DROP")
        .await
        .map_err(q("preparing finish"))?;
    tx.execute("INSERT INTO finish_params VALUES ($1)", &[&migration_id]).await.map_err(q("preparing finish"))?;
    report.roles_reset = crate::legacy::reset_roles(&tx).await?;
    let before: i64 = tx
        .query_one("SELECT count(*) FROM profochat_saas.archive", &[])
        .await
        .map_err(q("counting the archive"))?
        .get(0);
    tx.batch_execute(&[crate::target::sql::DROP_COMPAT, FINISH, UPSTREAM_COLUMNS].join("\n")).await.map_err(|e| {
        Error::query(
            "removing the legacy interface",
            &e,
            "The finish transaction was rolled back: nothing was changed. If a lock timed out, the legacy bot or a long query still uses the tables: stop it and run `profochat-saas finish` again.",
        )
    })?;
    let after: i64 = tx
        .query_one("SELECT count(*) FROM profochat_saas.archive", &[])
        .await
        .map_err(q("counting the archive"))?
        .get(0);
    report.archived_rows = (after - before).max(0) as u64;
    if dry_run {
        tx.rollback().await.map_err(q("rolling back the dry run"))?;
        report.outcome = Outcome::DryRun;
    } else {
        tx.commit().await.map_err(q("committing finish"))?;
        report.outcome = Outcome::Finished;
    }
    reporter.finished("finish: remove the legacy interface and the compatibility layer", t.elapsed(), "");
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}
