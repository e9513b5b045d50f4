//! Running a planned restore: the backup into a fresh database, `pg_restore`'s progress,
//! then the swap by renaming (in one transaction), or the partly restored database removed.

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};

use super::properties::apply_database_properties;
use super::{other_sessions, settled_sessions, DatabaseFacts, RestoreOutcome, RestorePlan, RestoreTarget, Sessions, SESSION_PATIENCE, TERMINATE_SQL};
use crate::backup::{process, RESTORE_STEP};
use crate::conn::{self, ConnSettings, Db};
use crate::error::{pg_error_text, Error, Result};
use crate::report::Reporter;
use crate::sql::{ident, literal};

/// Restores as planned. On failure the configured database is as it was, and the
/// partly restored database is removed.
pub async fn restore(plan: &RestorePlan, reporter: &dyn Reporter) -> Result<RestoreOutcome> {
    let started = Instant::now();
    let admin = conn::connect(&plan.maintenance).await?;
    let untouched = match &plan.target {
        RestoreTarget::Replace => format!("The database {:?} was not touched.", plan.database),
        RestoreTarget::Into(_) => "No existing database was touched.".to_string(),
    };

    create_database(&admin, &plan.staging, plan.model.as_ref()).await.map_err(|e| Error::Query {
        context: format!("creating the database {:?}", plan.staging),
        cause: pg_error_text(&e),
        unchanged: format!("{untouched} Check that the user may create databases (CREATEDB)."),
    })?;
    let staging_settings = plan.settings.with_dbname(&plan.staging);
    let items = match run_pg_restore(plan, &staging_settings, reporter).await {
        Ok(items) => items,
        Err(cause) => {
            let dropped = drop_database(&admin, &plan.staging).await;
            return Err(Error::Tool {
                tool: "pg_restore".into(),
                message: format!("restoring {} into the new database {:?} failed: {cause}", plan.file.display(), plan.staging),
                hint: format!(
                    "{untouched} {} If it failed on a role that does not exist on this server, create that role first; if it failed on the archive itself, try another backup.",
                    if dropped { format!("The partly restored database {:?} was removed.", plan.staging) } else { format!("The partly restored database {:?} could not be removed: drop it by hand.", plan.staging) }
                ),
            });
        }
    };

    apply_database_properties(&admin, plan, reporter).await;

    let mut sessions_terminated = 0;
    if plan.target == RestoreTarget::Replace {
        match swap(&admin, plan).await {
            Ok(ended) => sessions_terminated = ended,
            Err(e) => {
                let dropped = drop_database(&admin, &plan.staging).await;
                let removed = if dropped {
                    format!("the restored copy {:?} was removed", plan.staging)
                } else {
                    format!("the restored copy {:?} is left over: drop it by hand", plan.staging)
                };
                return Err(match e {
                    SwapError::Busy(sessions) => Error::refused(
                        format!(
                            "the backup was restored, but database {:?} cannot be replaced: {}; {removed}",
                            plan.database,
                            sessions.describe()
                        ),
                        "Stop the bot (or the other clients) and run again, or add --terminate-connections to end those sessions.",
                    ),
                    SwapError::Failed(cause) => Error::Query {
                        context: format!("swapping {:?} in place of {:?}", plan.staging, plan.database),
                        cause,
                        unchanged: format!("{untouched} {}.", capitalize(&removed)),
                    },
                });
            }
        }
    }
    Ok(RestoreOutcome {
        file: plan.file.clone(),
        database: plan.database.clone(),
        previous_copy: plan.previous_copy.clone(),
        items_restored: items,
        sessions_terminated,
        elapsed_ms: started.elapsed().as_millis() as u64,
    })
}

async fn create_database(db: &Db, name: &str, model: Option<&DatabaseFacts>) -> std::result::Result<(), tokio_postgres::Error> {
    let mut sql = format!("CREATE DATABASE {} TEMPLATE template0", ident(name));
    if let Some(m) = model {
        sql.push_str(&format!(
            " ENCODING {} LC_COLLATE {} LC_CTYPE {}",
            literal(&m.encoding),
            literal(&m.collate),
            literal(&m.ctype)
        ));
    }
    db.batch_execute(&sql).await
}

async fn drop_database(db: &Db, name: &str) -> bool {
    db.batch_execute(&format!("DROP DATABASE IF EXISTS {}", ident(name))).await.is_ok()
}

enum SwapError {
    Busy(Sessions),
    Failed(String),
}

/// Renames the configured database away and the restored one into its place, in one
/// transaction. Returns how many sessions were ended.
async fn swap(admin: &Db, plan: &RestorePlan) -> std::result::Result<i64, SwapError> {
    let failed = |e: tokio_postgres::Error| SwapError::Failed(pg_error_text(&e));
    let Some(previous) = &plan.previous_copy else {
        let sql = format!("ALTER DATABASE {} RENAME TO {}", ident(&plan.staging), ident(&plan.database));
        return admin.batch_execute(&sql).await.map(|()| 0).map_err(failed);
    };
    let sql = format!(
        "BEGIN; ALTER DATABASE {db} RENAME TO {previous}; ALTER DATABASE {staging} RENAME TO {db}; COMMIT;",
        db = ident(&plan.database),
        previous = ident(previous),
        staging = ident(&plan.staging),
    );
    let mut terminated = 0;
    // Clients may reconnect between ending their sessions and the rename: try a few times.
    for attempt in 0..3 {
        let patience = if plan.terminate_connections { Duration::ZERO } else { SESSION_PATIENCE };
        let sessions = settled_sessions(admin, &plan.database, patience)
            .await
            .map_err(|e| SwapError::Failed(e.to_string()))?;
        if sessions.count > 0 {
            if !plan.terminate_connections {
                return Err(SwapError::Busy(sessions));
            }
            let row = admin.query_one(TERMINATE_SQL, &[&plan.database]).await.map_err(failed)?;
            terminated += row.get::<_, i64>(0);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        match admin.batch_execute(&sql).await {
            Ok(()) => return Ok(terminated),
            Err(e) => {
                let _ = admin.batch_execute("ROLLBACK").await;
                let in_use = e.as_db_error().is_some_and(|d| d.code().code() == "55006");
                if !in_use || attempt == 2 {
                    if in_use && !plan.terminate_connections {
                        let sessions = other_sessions(admin, &plan.database).await.unwrap_or_default();
                        return Err(SwapError::Busy(sessions));
                    }
                    return Err(failed(e));
                }
            }
        }
    }
    unreachable!("the loop returns on its last attempt")
}

/// Runs pg_restore into `target`, reporting items done. Returns the number of items,
/// or the cause of the failure (cleaned of secrets).
async fn run_pg_restore(plan: &RestorePlan, target: &ConnSettings, reporter: &dyn Reporter) -> std::result::Result<u64, String> {
    let mut cmd = process::command(&plan.pg_restore, target);
    cmd.args(["--verbose", "--exit-on-error", "--jobs=2"])
        .arg(format!("--dbname={}", process::dbname_conninfo(&target.dbname)))
        .arg(&plan.file)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("cannot start {}: {e}", plan.pg_restore.path.display()))?;
    let stderr = child.stderr.take().expect("stderr is piped");
    let total = plan.archive.toc_entries.max(1);
    let started = Instant::now();
    reporter.started(RESTORE_STEP, Some(total));
    let mut lines = BufReader::new(stderr).lines();
    let mut done: u64 = 0;
    let mut notable: Vec<String> = vec![];
    while let Ok(Some(line)) = lines.next_line().await {
        if is_item_done(&line) {
            done += 1;
            reporter.progress(done.min(total));
        } else if is_notable(&line) {
            if notable.len() >= 50 {
                notable.remove(0);
            }
            notable.push(line);
        }
    }
    let status = child.wait().await.map_err(|e| format!("waiting for pg_restore failed: {e}"))?;
    if !status.success() {
        return Err(format!("{status}: {}", process::failure_summary(&notable.join("\n"), target)));
    }
    reporter.progress(total);
    for line in notable.iter().filter(|l| l.contains("warning")) {
        reporter.warn(&process::scrub(line, target));
    }
    reporter.finished(RESTORE_STEP, started.elapsed(), &format!("{} archive items", done.min(total)));
    Ok(done.min(total))
}

/// `pg_restore -v` says "processing item N" (serial) or "finished item N" (parallel).
fn is_item_done(line: &str) -> bool {
    line.contains("processing item ") || line.contains("finished item ") || line.contains("processing missed item ")
}

fn is_notable(line: &str) -> bool {
    let lower = line.to_lowercase();
    lower.contains("error") || lower.contains("warning") || line.contains("DETAIL") || line.contains("HINT") || line.contains("TOC entry") || line.contains("FATAL")
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_lines_are_recognised() {
        assert!(is_item_done("pg_restore: processing item 3417 ENCODING ENCODING"));
        assert!(is_item_done("pg_restore: finished item 3404 TABLE DATA run"));
        assert!(!is_item_done("pg_restore: launching item 3404 TABLE DATA run"));
        assert!(is_notable("pg_restore: error: could not execute query"));
        assert!(!is_notable("pg_restore: creating TABLE \"public.run\""));
    }
}
