//! Building the secondary indexes after the migration committed, with
//! `CREATE INDEX CONCURRENTLY`: the bot's reads and writes go on while they are built.
//! A table of at most [`SMALL_TABLE`] bytes (the tool's own tables, the small legacy
//! ones, any empty one) gets a plain `CREATE INDEX` instead, in a transaction of its
//! own under the short-lock rules ([`short_lock::own_transaction`]: each attempt waits
//! at most 200 ms for the lock): one scan instead of a concurrent build's two and its
//! waits for every transaction under way, while the bot's writes to that table wait
//! for the few milliseconds the build of so small a table takes. When the lock cannot
//! be had within [`SMALL_TABLE_LOCK_BOUND`], that index is built concurrently too.
//! Builds run on several connections, one table at a time each (two concurrent builds
//! on one table would wait for each other). An interrupted or failed build leaves the
//! index missing or invalid; `status` shows it and `migrate` builds it again (an
//! invalid one is dropped first, concurrently too). An index under its name with another
//! definition (an older version's shape, renamed to upstream's name) is built again.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::IndexReport;
use crate::conn::short_lock::{self, Prologue};
use crate::conn::{self, ConnSettings};
use crate::error::{pg_error_text, Result};
use crate::report::Reporter;
use crate::schema;
use crate::sql::ident;
use crate::target::{self, IndexDef};

const NAME_TAKEN: &str = include_str!("../../sql/migrate/run/name_taken.sql");

/// The largest table (bytes, `pg_relation_size`) whose indexes are built with a plain
/// `CREATE INDEX` under a short lock: 1 MiB, 128 pages, sorted in milliseconds.
pub const SMALL_TABLE: i64 = 1 << 20;
/// How long the short lock of a small table's index build is tried before the build
/// goes concurrent instead.
pub const SMALL_TABLE_LOCK_BOUND: Duration = Duration::from_secs(5);

/// How an index is built, from its table's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Build {
    /// `CREATE INDEX CONCURRENTLY`: two scans, the bot's writes go on.
    Concurrent,
    /// `CREATE INDEX` in a short transaction under a short lock: one scan, the bot's
    /// writes to the table wait while it runs (a table of at most [`SMALL_TABLE`] bytes).
    ShortLock,
}

impl Build {
    pub fn for_table_size(bytes: i64) -> Build {
        if bytes <= SMALL_TABLE {
            Build::ShortLock
        } else {
            Build::Concurrent
        }
    }
}

/// Builds the secondary indexes that are missing, invalid or of another definition.
pub async fn build_missing(settings: &ConnSettings, jobs: usize, reporter: &dyn Reporter) -> Result<IndexReport> {
    build_missing_of(settings, jobs, None, reporter).await
}

/// The same for the indexes named in `only` (all with `None`).
pub async fn build_missing_of(settings: &ConnSettings, jobs: usize, only: Option<&[&str]>, reporter: &dyn Reporter) -> Result<IndexReport> {
    let started = Instant::now();
    let first = conn::connect(settings).await?;
    let state = schema::index_state(&*first).await?;
    let replace: Vec<String> = state.invalid.iter().chain(state.different.iter()).cloned().collect();
    let todo: Vec<(IndexDef, bool)> = target::secondary_indexes()
        .into_iter()
        .filter(|i| state.missing.contains(&i.name) || replace.contains(&i.name))
        .filter(|i| only.is_none_or(|names| names.contains(&i.name.as_str())))
        .map(|i| {
            let drop_first = replace.contains(&i.name);
            (i, drop_first)
        })
        .collect();
    let total = todo.len() as u64;
    let mut report = IndexReport::default();
    if todo.is_empty() {
        return Ok(report);
    }
    reporter.started("phase 5 (indexes): building", Some(total));
    // The longest builds first (the biggest tables, and on one table the indexes with
    // the most key columns, whose sorts cost most), so that no long build comes last
    // and leaves a core idle.
    let mut sized = vec![];
    for (idx, drop_first) in todo {
        let size: i64 = first
            .query_one(include_str!("../../sql/migrate/run/relation_size.sql"), &[&idx.table])
            .await
            .map(|r| r.get::<_, Option<i64>>(0).unwrap_or(0))
            .unwrap_or(0);
        sized.push((size.saturating_mul(idx.key_columns() as i64), (idx, drop_first, Build::for_table_size(size))));
    }
    sized.sort_by_key(|(cost, _)| std::cmp::Reverse(*cost));
    let queue = Arc::new(Mutex::new(sized.into_iter().map(|(_, i)| i).collect::<VecDeque<_>>()));
    // Tables with a build running: a worker takes the next index of another table.
    let busy: Arc<Mutex<HashSet<String>>> = Arc::new(Mutex::new(HashSet::new()));
    let done = Arc::new(Mutex::new((vec![], vec![])));
    let mut clients = vec![first];
    for _ in 1..jobs.max(1) {
        clients.push(conn::connect(settings).await?);
    }
    for c in &clients {
        // Sorting in memory is what makes an index build fast; the builds running side
        // by side already use every core, so no build starts parallel workers of its own.
        let _ = c.batch_execute(include_str!("../../sql/migrate/run/index_session.sql")).await;
    }
    let mut tasks = vec![];
    for client in clients {
        let queue = queue.clone();
        let done = done.clone();
        let busy = busy.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let next = {
                    let mut q = queue.lock().unwrap_or_else(|p| p.into_inner());
                    if q.is_empty() {
                        break;
                    }
                    let mut b = busy.lock().unwrap_or_else(|p| p.into_inner());
                    let pos = q.iter().position(|(i, _, _)| !b.contains(&i.table));
                    let taken = pos.and_then(|p| q.remove(p));
                    if let Some((i, _, _)) = &taken {
                        b.insert(i.table.clone());
                    }
                    taken
                };
                let Some((idx, drop_first, build)) = next else {
                    // Every table left has a build running on another connection.
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                };
                let result = async {
                    if drop_first {
                        client.batch_execute(&format!("DROP INDEX CONCURRENTLY IF EXISTS {}", ident(&idx.name))).await?;
                    }
                    if build == Build::ShortLock {
                        let prologue = Prologue { attempt: true, ..Prologue::default() };
                        if short_lock::own_transaction(&client, prologue, &idx.statement, SMALL_TABLE_LOCK_BOUND, |_| {}).await.is_ok() {
                            return Ok(());
                        }
                    }
                    client.batch_execute(&concurrently(&idx.statement)).await
                }
                .await;
                busy.lock().unwrap_or_else(|p| p.into_inner()).remove(&idx.table);
                let mut d = done.lock().unwrap_or_else(|p| p.into_inner());
                match result {
                    Ok(()) => d.0.push(idx.name),
                    Err(e) => d.1.push((idx.name, pg_error_text(&e))),
                }
            }
        }));
    }
    loop {
        let finished = tasks.iter().all(|t| t.is_finished());
        let n = {
            let d = done.lock().unwrap_or_else(|p| p.into_inner());
            (d.0.len() + d.1.len()) as u64
        };
        reporter.progress(n);
        if finished {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (built, failed) = std::mem::take(&mut *done.lock().unwrap_or_else(|p| p.into_inner()));
    report.built = built;
    report.failed = failed;
    let probe = conn::connect(settings).await?;
    check_built(&probe, &mut report, only).await?;
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    reporter.finished(
        "phase 5 (indexes)",
        started.elapsed(),
        &format!("{} built, {} failed", report.built.len(), report.failed.len()),
    );
    Ok(report)
}

/// The index's `CREATE [UNIQUE] INDEX …` statement as a concurrent build.
pub fn concurrently(statement: &str) -> String {
    match statement.find("INDEX ") {
        Some(i) if !statement[i..].starts_with("INDEX CONCURRENTLY") => {
            format!("{}INDEX CONCURRENTLY {}", &statement[..i], &statement[i + "INDEX ".len()..])
        }
        _ => statement.to_string(),
    }
}

/// A build can succeed without making the index (`CREATE INDEX IF NOT EXISTS` skips a
/// name another object holds): every index (of `only`) still missing or invalid after
/// the builds is a failure, with why, before the step reports its count.
async fn check_built(client: &tokio_postgres::Client, report: &mut IndexReport, only: Option<&[&str]>) -> Result<()> {
    let state = schema::index_state(client).await?;
    let (missing, invalid) = (state.missing, state.invalid);
    for name in missing.iter().chain(invalid.iter()) {
        if report.failed.iter().any(|(n, _)| n == name) || only.is_some_and(|names| !names.contains(&name.as_str())) {
            continue;
        }
        report.built.retain(|n| n != name);
        let taken: Option<String> = client
            .query_opt(NAME_TAKEN, &[name])
            .await
            .map_err(|e| crate::Error::query("checking the built indexes", &e, "The indexes built so far stay; run `profochat-saas migrate` again to check and finish them."))?
            .map(|r| r.get(0));
        let why = match taken {
            Some(kind) if !invalid.contains(name) => format!("the name is taken by a {kind} of that name, so the index was not created; rename or drop that {kind}"),
            _ if invalid.contains(name) => "it is still invalid after its build".to_string(),
            _ => "it is still missing after its build".to_string(),
        };
        report.failed.push((name.clone(), why));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{concurrently, Build, SMALL_TABLE};

    #[test]
    fn only_a_table_of_at_most_a_mebibyte_is_built_under_a_short_lock() {
        assert_eq!(Build::for_table_size(0), Build::ShortLock);
        assert_eq!(Build::for_table_size(SMALL_TABLE), Build::ShortLock);
        assert_eq!(Build::for_table_size(SMALL_TABLE + 1), Build::Concurrent);
        assert_eq!(Build::for_table_size(44752 * 8192), Build::Concurrent);
    }

    #[test]
    fn a_build_becomes_concurrent() {
        assert_eq!(
            concurrently("CREATE INDEX IF NOT EXISTS idx_run_bot ON run USING btree (bot_id)"),
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_run_bot ON run USING btree (bot_id)"
        );
        assert_eq!(concurrently("CREATE UNIQUE INDEX x ON t (a)"), "CREATE UNIQUE INDEX CONCURRENTLY x ON t (a)");
        assert_eq!(concurrently("CREATE INDEX CONCURRENTLY x ON t (a)"), "CREATE INDEX CONCURRENTLY x ON t (a)");
    }
}

