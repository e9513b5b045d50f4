//! A re-run of `migrate` after an interrupted one may find the earlier run's index
//! builds still going on the server: a client killed in the middle of a `CREATE
//! INDEX` leaves its server process building until the server notices, and a
//! transaction left open keeps the half-made index. Building (or dropping) the same
//! index then would wait behind it without a word, or fail with a duplicate name.
//! So before building, `migrate` looks for such builds, says which (process id,
//! state, statement) and waits for them to end, up to a bound; then it gives up with
//! [`Error::Unfinished`], naming the process and how to cancel it.

use std::time::{Duration, Instant};

use serde::Serialize;
use tokio_postgres::GenericClient;

use crate::error::{Error, Result};
use crate::report::Reporter;
use crate::target;

const RUNNING: &str = include_str!("../../sql/migrate/run/index_builds_running.sql");

/// How often the wait looks again.
const POLL: Duration = Duration::from_millis(250);

/// An index build of another session that has not ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OtherBuild {
    pub pid: i32,
    /// `active`, `idle in transaction`, …
    pub state: String,
    /// Since when (its transaction's start).
    pub since: String,
    pub index: String,
    /// The statement, shortened.
    pub query: String,
}

impl OtherBuild {
    pub fn describe(&self) -> String {
        format!("process {} ({}, since {}) building {}", self.pid, self.state, self.since, self.index)
    }
}

/// Builds of the secondary indexes that other sessions of this database run now.
pub async fn other_builds<C: GenericClient + Sync>(client: &C) -> Result<Vec<OtherBuild>> {
    let names: Vec<String> = target::secondary_indexes().into_iter().map(|i| i.name).collect();
    let rows = client
        .query(RUNNING, &[&names])
        .await
        .map_err(|e| Error::query("looking for index builds of other sessions", &e, "The migration itself is committed."))?;
    Ok(rows
        .iter()
        .map(|r| OtherBuild {
            pid: r.get(0),
            state: r.get::<_, Option<String>>(1).unwrap_or_default(),
            query: r.get::<_, Option<String>>(2).unwrap_or_default(),
            since: r.get::<_, Option<String>>(3).unwrap_or_default(),
            index: r.get(4),
        })
        .collect())
}

/// Waits until no other session builds one of the secondary indexes, up to `max`.
pub async fn wait_for_other_builds<C: GenericClient + Sync>(client: &C, max: Duration, reporter: &dyn Reporter) -> Result<()> {
    let started = Instant::now();
    let mut told = false;
    loop {
        let others = other_builds(client).await?;
        if others.is_empty() {
            if told {
                reporter.finished("waiting for an earlier index build", started.elapsed(), "it ended");
            }
            return Ok(());
        }
        let pids: Vec<String> = others.iter().map(|o| o.pid.to_string()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
        if started.elapsed() >= max {
            return Err(Error::Unfinished {
                what: format!(
                    "an earlier index build is still running on the server after {} s of waiting, so the missing indexes were not built",
                    started.elapsed().as_secs()
                ),
                failures: others.iter().map(OtherBuild::describe).collect(),
                hint: format!(
                    "Wait for it to end, or cancel it with SELECT pg_cancel_backend({}); then run `profochat-saas migrate` again: it builds what is missing.",
                    pids.join("), pg_cancel_backend(")
                ),
            });
        }
        if !told {
            reporter.warn(&format!(
                "an earlier index build is still running on the server: {}. Waiting up to {} s for it to end (SELECT pg_cancel_backend({}) ends it sooner).",
                others.iter().map(OtherBuild::describe).collect::<Vec<_>>().join("; "),
                max.as_secs(),
                pids.join("), pg_cancel_backend(")
            ));
            reporter.started("waiting for an earlier index build", None);
            told = true;
        }
        tokio::time::sleep(POLL.min(max.saturating_sub(started.elapsed())).max(Duration::from_millis(10))).await;
    }
}
