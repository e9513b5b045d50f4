//! Short locks: how the tool takes a lock on tables the running bot uses.
//!
//! A lock request that waits holds up every statement queued behind it, so a request
//! waits at most [`ATTEMPT`] (`lock_timeout`) for the sessions that hold the tables;
//! a refused attempt is tried again after a random pause ([`pause`]: [`PAUSE_MIN`] plus
//! up to [`PAUSE_SPREAD`], so that retries do not fall into step with the bot), until a
//! bound ([`DEFAULT_BOUND`] unless the caller has its own). Tables are locked in one
//! fixed order ([`order`], [`lock_statement`]) so that two of the tool's sessions never
//! wait for each other. The `SET LOCAL` prologue ([`Prologue`]) turns on what the
//! migration's own statements need: the schema-change guard's pass ([`ALLOW_DDL`]), the
//! change log's exception ([`BACKFILL_SETTING`]) and the attempt's `lock_timeout`.
//!
//! [`Attempts`] counts and bounds the attempts of a caller's own loop; [`in_transaction`]
//! (a savepoint per attempt, in the caller's transaction) and [`own_transaction`] (a
//! transaction per attempt) are the two loops.

use std::time::{Duration, Instant};

use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Transaction};

use crate::error::pg_error_text;

/// How long one attempt waits for a lock (`lock_timeout`).
pub const ATTEMPT: Duration = Duration::from_millis(200);
/// How long the attempts go on before the caller gives up, unless it has its own bound.
pub const DEFAULT_BOUND: Duration = Duration::from_secs(60);
/// The shortest pause between two attempts.
pub const PAUSE_MIN: Duration = Duration::from_millis(100);
/// The random part of the pause between two attempts (0 up to this).
pub const PAUSE_SPREAD: Duration = Duration::from_millis(300);
/// How long a statement that runs once, in a maintenance window (`finish`, an upgrade,
/// a tenant's policies), waits for its locks.
pub const ONE_WAIT: Duration = Duration::from_secs(15);

/// The setting that lets the migration's own schema changes pass the guard of
/// `sql/migrate/9_ddl_guard.sql`.
pub const ALLOW_DDL: &str = "profochat_saas.allow_ddl";
/// The setting the migration's own writes set so that the change-log triggers and the
/// compatibility triggers leave them out (the archive accounts for them).
pub const BACKFILL_SETTING: &str = "profochat_saas.backfill";


/// The prologue of a statement that runs once, in a maintenance window: schema changes
/// pass the guard, and locks wait up to [`ONE_WAIT`].
pub fn one_wait_prologue() -> String {
    format!("SET LOCAL {ALLOW_DDL} = on; {}", lock_timeout(ONE_WAIT))
}

/// `SET LOCAL lock_timeout = '…ms'` for a wait of `d`.
pub fn lock_timeout(d: Duration) -> String {
    format!("SET LOCAL lock_timeout = '{}ms'", d.as_millis())
}

/// `sql` (a lock statement of `sql/`, which sets no `lock_timeout` of its own) as one
/// attempt: its locks wait at most [`ATTEMPT`].
pub fn one_attempt(sql: &str) -> String {
    format!("{}\n{sql}", Prologue::ATTEMPT.sql())
}

/// The order every lock on several tables takes them in: the legacy tables, then the new ones.
pub fn order() -> Vec<&'static str> {
    crate::target::application_tables()
}

/// `LOCK TABLE …` on `tables` (quoted or not) in the fixed order ([`order`]), in `mode`
/// ("ACCESS EXCLUSIVE", "SHARE ROW EXCLUSIVE", …). A table not in the order comes
/// last, in the order given.
pub fn lock_statement(tables: &[&str], mode: &str) -> String {
    let order = order();
    let rank = |t: &str| order.iter().position(|o| *o == t.trim_matches('"')).unwrap_or(order.len());
    let mut sorted = tables.to_vec();
    sorted.sort_by_key(|t| rank(t));
    format!("LOCK TABLE {} IN {mode} MODE", sorted.join(", "))
}

/// The `SET LOCAL` statements a short transaction of the migration starts with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prologue {
    /// Schema changes pass the guard ([`ALLOW_DDL`]).
    pub allow_ddl: bool,
    /// The change log leaves the writes out ([`BACKFILL_SETTING`]).
    pub backfill: bool,
    /// Each lock waits at most [`ATTEMPT`].
    pub attempt: bool,
}

impl Prologue {
    /// The migration's short schema changes: all three.
    pub const DDL: Prologue = Prologue { allow_ddl: true, backfill: true, attempt: true };
    /// A backfill batch: its writes left out of the change log, its locks short.
    pub const BATCH: Prologue = Prologue { allow_ddl: false, backfill: true, attempt: true };
    /// One attempt of a lock statement: its locks wait at most [`ATTEMPT`].
    pub const ATTEMPT: Prologue = Prologue { allow_ddl: false, backfill: false, attempt: true };

    pub fn sql(self) -> String {
        let mut s = vec![];
        if self.allow_ddl {
            s.push(format!("SET LOCAL {ALLOW_DDL} = on"));
        }
        if self.backfill {
            s.push(format!("SET LOCAL {BACKFILL_SETTING} = on"));
        }
        if self.attempt {
            s.push(lock_timeout(ATTEMPT));
        }
        s.iter().map(|x| format!("{x};")).collect::<Vec<_>>().join(" ")
    }
}

/// Whether a failed attempt may be tried again: its lock was not granted in time, or it
/// lost a deadlock or a serialization conflict with the bot.
pub fn retryable(e: &tokio_postgres::Error) -> bool {
    e.code().is_some_and(|c| *c == SqlState::LOCK_NOT_AVAILABLE || *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE)
}

/// The pause before the next attempt: [`PAUSE_MIN`] plus up to [`PAUSE_SPREAD`], at random.
pub async fn pause() {
    let spread = PAUSE_SPREAD.as_millis() as u64;
    tokio::time::sleep(PAUSE_MIN + Duration::from_millis(rand::random::<u64>() % spread.max(1))).await;
}

/// The attempts of one short lock: counted, and bounded in time.
#[derive(Debug, Clone)]
pub struct Attempts {
    started: Instant,
    bound: Duration,
    count: u32,
}

impl Attempts {
    pub fn new(bound: Duration) -> Self {
        Attempts { started: Instant::now(), bound, count: 0 }
    }

    /// Counts one more attempt; returns its number, from 1.
    pub fn start(&mut self) -> u32 {
        self.count += 1;
        self.count
    }

    /// After a failed attempt: whether to try again (the failure is [`retryable`] and
    /// the bound not reached), after the pause.
    pub async fn again(&mut self, e: &tokio_postgres::Error) -> bool {
        if retryable(e) && self.started.elapsed() < self.bound {
            pause().await;
            true
        } else {
            false
        }
    }

    pub fn count(&self) -> u32 {
        self.count
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

/// A short lock that was not taken, or the statement under it that failed.
#[derive(Debug)]
pub struct Failure {
    pub error: tokio_postgres::Error,
    pub attempts: u32,
    pub elapsed: Duration,
}

impl Failure {
    /// Whether the attempts ran out (rather than the statement failing for another reason).
    pub fn lock_not_granted(&self) -> bool {
        retryable(&self.error)
    }

    /// "not granted in N attempts over S s: …" when the attempts ran out, else the error.
    pub fn cause(&self) -> String {
        if self.lock_not_granted() {
            format!("not granted in {} attempts over {} s: {}", self.attempts, self.elapsed.as_secs(), pg_error_text(&self.error))
        } else {
            pg_error_text(&self.error)
        }
    }
}

/// Runs `sql` (which takes locks) inside the caller's transaction, each attempt under a
/// savepoint, until it succeeds or [`Attempts::again`] says no. `on_retry` is called
/// before each retry with the number of the attempt that failed.
pub async fn in_transaction(tx: &Transaction<'_>, sql: &str, bound: Duration, mut on_retry: impl FnMut(u32)) -> Result<u32, Failure> {
    let mut attempts = Attempts::new(bound);
    let fail = |error: tokio_postgres::Error, a: &Attempts| Failure { error, attempts: a.count(), elapsed: a.elapsed() };
    loop {
        let n = attempts.start();
        tx.batch_execute("SAVEPOINT profochat_saas_lock").await.map_err(|e| fail(e, &attempts))?;
        match tx.batch_execute(sql).await {
            Ok(()) => {
                tx.batch_execute("RELEASE SAVEPOINT profochat_saas_lock").await.map_err(|e| fail(e, &attempts))?;
                return Ok(n);
            }
            Err(e) => {
                tx.batch_execute("ROLLBACK TO SAVEPOINT profochat_saas_lock; RELEASE SAVEPOINT profochat_saas_lock")
                    .await
                    .map_err(|e| fail(e, &attempts))?;
                if !attempts.again(&e).await {
                    return Err(fail(e, &attempts));
                }
                on_retry(n);
            }
        }
    }
}

/// Runs `sql` in a transaction of its own that starts with `prologue`, one transaction
/// per attempt, until it commits or [`Attempts::again`] says no. `on_retry` is called
/// before each retry with the number of the attempt that failed. Returns the attempts.
pub async fn own_transaction(client: &Client, prologue: Prologue, sql: &str, bound: Duration, mut on_retry: impl FnMut(u32)) -> Result<u32, Failure> {
    let mut attempts = Attempts::new(bound);
    // COMMIT goes on its own, once the work succeeded: sent with the work, the server
    // would commit it even if this process ended while the lock was awaited.
    let batch = format!("BEGIN; {}\n{sql};", prologue.sql());
    loop {
        let n = attempts.start();
        let e = match client.batch_execute(&batch).await {
            Ok(()) => match client.batch_execute("COMMIT").await {
                Ok(()) => return Ok(n),
                Err(e) => e,
            },
            Err(e) => e,
        };
        // The failed batch left its transaction open and aborted.
        let _ = client.batch_execute("ROLLBACK").await;
        if !attempts.again(&e).await {
            return Err(Failure { error: e, attempts: attempts.count(), elapsed: attempts.elapsed() });
        }
        on_retry(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixed_order_is_the_legacy_tables_then_the_new_ones() {
        assert_eq!(order()[..8], crate::sql::LEGACY_TABLES);
        assert_eq!(order()[8..], crate::target::NEW_TABLES);
    }

    #[test]
    fn a_lock_statement_takes_its_tables_in_the_fixed_order() {
        assert_eq!(lock_statement(&["bot", "\"run\"", "conversation"], "SHARE"), "LOCK TABLE conversation, \"run\", bot IN SHARE MODE");
    }

    #[test]
    fn the_prologue_names_the_settings_and_the_attempt() {
        assert_eq!(
            Prologue::DDL.sql(),
            "SET LOCAL profochat_saas.allow_ddl = on; SET LOCAL profochat_saas.backfill = on; SET LOCAL lock_timeout = '200ms';"
        );
        assert_eq!(Prologue::default().sql(), "");
    }

    /// The statements in `sql/` that lock the legacy tables take them in the fixed
    /// order; they spell no wait of their own (only the reset to 0 after the lock), so
    /// that run through [`one_attempt`] each waits at most [`ATTEMPT`].
    #[test]
    fn the_lock_files_wait_one_attempt_in_the_fixed_order() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sql/migrate");
        for file in ["run/lock_legacy.sql", "online/lock_share.sql"] {
            let text = std::fs::read_to_string(root.join(file)).unwrap();
            let code: String = text.lines().filter(|l| !l.trim_start().starts_with("--")).collect::<Vec<_>>().join("\n");
            let waits: Vec<&str> = code.match_indices("lock_timeout").map(|(i, _)| code[i..].split(';').next().unwrap()).collect();
            assert_eq!(waits, ["lock_timeout = 0"], "{file}");
            let run = one_attempt(&text);
            let (before, after) = run.split_once("LOCK TABLE ").unwrap();
            assert!(before.contains(&format!("{};", lock_timeout(ATTEMPT))), "{file}");
            assert!(!after.contains(&lock_timeout(ATTEMPT)), "{file}");
            let tables = after.split('\n').next().unwrap().trim().to_string();
            assert_eq!(tables, order()[..8].join(", "), "{file}");
        }
    }
}
