//! The open-loop writer of `bench --writer RATE`: the legacy bot's write statements
//! (SPEC §1) at a fixed schedule — statement `i` is due at `start + i / RATE` —
//! spread round-robin over several connections, as several bot processes would be.
//! The schedule never waits for a slow statement: a statement that waits (behind the
//! migration's locks) delays only those queued behind it on its connection, and its
//! latency counts from when it was due, not from when it was sent. So a stall of the
//! database shows in full in the latencies.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::mpsc;
use tokio_postgres::types::ToSql;

use crate::conn::{self, ConnSettings};
use crate::error::{pg_error_text, Error, Result};

const SAMPLE: &str = include_str!("../../sql/bench/writer_sample.sql");
const WAITING_SAMPLE: &str = include_str!("../../sql/bench/writer_waiting_sample.sql");
const START_COURSE: &str = include_str!("../../sql/bench/writer_start_course.sql");
const MESSAGE: &str = include_str!("../../sql/bench/writer_message.sql");
const DELAY: &str = include_str!("../../sql/bench/writer_delay.sql");
const DELAY_DONE: &str = include_str!("../../sql/bench/writer_delay_done.sql");
const COURSE_END: &str = include_str!("../../sql/bench/writer_course_end.sql");

/// One of the legacy bot's writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Statement {
    StartCourse,
    Message,
    Delay,
    DelayDone,
    CourseEnd,
}

impl Statement {
    /// The mix of one bot conversation: per ten statements a course start, six
    /// messages, a delay and its end, and a course end.
    const CYCLE: [Statement; 10] = [
        Statement::StartCourse,
        Statement::Message,
        Statement::Message,
        Statement::Delay,
        Statement::Message,
        Statement::Message,
        Statement::DelayDone,
        Statement::Message,
        Statement::Message,
        Statement::CourseEnd,
    ];

    pub fn describe(self) -> &'static str {
        match self {
            Statement::StartCourse => "start a course: INSERT INTO run … RETURNING run_id",
            Statement::Message => "a message: INSERT INTO conversation … RETURNING conversation_id",
            Statement::Delay => "a delay: INSERT INTO waiting_element … RETURNING waiting_element_id",
            Statement::DelayDone => "delay done: UPDATE waiting_element SET is_waiting = FALSE",
            Statement::CourseEnd => "course end: UPDATE run SET is_ended = TRUE",
        }
    }
}

/// Latencies of one statement kind (or of all), in milliseconds from the due time.
#[derive(Debug, Clone, Serialize)]
pub struct LatencyStats {
    pub statement: String,
    pub run: u64,
    pub failed: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Statements that completed more than 1 s after they were due.
    pub over_1s: u64,
}

/// What the writer measured.
#[derive(Debug, Clone, Serialize)]
pub struct WriterReport {
    /// Statements due per second.
    pub rate: u32,
    pub connections: usize,
    pub seconds: f64,
    /// All statements together.
    pub all: LatencyStats,
    pub per_statement: Vec<LatencyStats>,
    /// The distinct errors (first few), with how often each occurred.
    pub errors: Vec<(String, u64)>,
    /// The slowest statements, slowest first, with when they were due.
    pub slowest: Vec<SlowWrite>,
}

/// One of the slowest writes: what waited, how long, and when it was due.
#[derive(Debug, Clone, Serialize)]
pub struct SlowWrite {
    pub statement: String,
    pub ms: f64,
    /// Milliseconds from the writer's start to when it was due.
    pub due_after_ms: f64,
    /// When it was due (to be set against the steps of the migration).
    #[serde(skip)]
    pub due: Instant,
    /// The steps under way when it was due, outermost first (filled in by the caller,
    /// which knows the steps).
    pub during: Vec<String>,
}

/// How many of the slowest writes a report keeps.
pub const SLOWEST: usize = 5;

struct Sample {
    statement: Statement,
    latency: Duration,
    due: Instant,
    error: Option<String>,
}

struct Job {
    statement: Statement,
    due: Instant,
    n: u64,
}

/// The values the statements use, drawn from the database before it starts.
struct Params {
    runs: Vec<(i32, i64, String, String, String)>,
    waiting: Mutex<VecDeque<i32>>,
}

/// A running writer; [`Writer::stop`] ends it and returns what it measured.
pub struct Writer {
    stop: Arc<AtomicBool>,
    dispatcher: tokio::task::JoinHandle<()>,
    workers: Vec<tokio::task::JoinHandle<Vec<Sample>>>,
    rate: u32,
    connections: usize,
    started: Instant,
}

fn q(what: &'static str) -> impl Fn(tokio_postgres::Error) -> Error {
    move |e| Error::query(what, &e, "The benchmark database is dropped at the end.")
}

/// Starts `rate` statements per second on `connections` connections to `settings`.
pub async fn start(settings: &ConnSettings, rate: u32, connections: usize) -> Result<Writer> {
    let first = conn::connect(settings).await?;
    let runs: Vec<(i32, i64, String, String, String)> = first
        .query(SAMPLE, &[&1000i64])
        .await
        .map_err(q("drawing the writer's runs"))?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    if runs.is_empty() {
        return Err(Error::state(
            "the benchmark database has no run naming a chat, a course and a bot",
            "Seed more runs (--runs).",
        ));
    }
    let waiting: VecDeque<i32> = first
        .query(WAITING_SAMPLE, &[&1000i64])
        .await
        .map_err(q("drawing the writer's waiting elements"))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let params = Arc::new(Params { runs, waiting: Mutex::new(waiting) });
    let connections = connections.max(1);
    let mut clients = vec![first];
    for _ in 1..connections {
        clients.push(conn::connect(settings).await?);
    }
    let mut senders = vec![];
    let mut workers = vec![];
    for client in clients {
        let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
        senders.push(tx);
        let params = params.clone();
        workers.push(tokio::spawn(async move {
            let mut samples = vec![];
            while let Some(job) = rx.recv().await {
                let error = execute(&client, &params, job.statement, job.n).await.err().map(|e| pg_error_text(&e));
                samples.push(Sample {
                    statement: job.statement,
                    latency: job.due.elapsed(),
                    due: job.due,
                    error,
                });
            }
            samples
        }));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let flag = stop.clone();
    let dispatcher = tokio::spawn(async move {
        let mut n: u64 = 0;
        loop {
            let due = started + interval.mul_f64(n as f64);
            tokio::time::sleep_until(due.into()).await;
            if flag.load(Ordering::Relaxed) {
                break;
            }
            let statement = Statement::CYCLE[(n % Statement::CYCLE.len() as u64) as usize];
            // Round-robin: the schedule never waits for a connection.
            let _ = senders[(n % senders.len() as u64) as usize].send(Job { statement, due, n });
            n += 1;
        }
    });
    Ok(Writer { stop, dispatcher, workers, rate, connections, started })
}

async fn execute(client: &tokio_postgres::Client, p: &Params, statement: Statement, n: u64) -> std::result::Result<(), tokio_postgres::Error> {
    let (run_id, chat_id, course_id, bot, username) = &p.runs[(n as usize / Statement::CYCLE.len()) % p.runs.len()];
    match statement {
        Statement::StartCourse => {
            let args: [&(dyn ToSql + Sync); 6] = [course_id, username, chat_id, bot, &"bench", &"writer"];
            client.query_one(START_COURSE, &args).await?;
        }
        Statement::Message => {
            let element = format!("m{}_e{}", n % 7, n % 13);
            let json = format!("{{\"text\": \"bench message {n}\"}}");
            let (score, maxscore): (f32, f32) = (1.0, 1.0);
            let args: [&(dyn ToSql + Sync); 11] =
                [chat_id, course_id, username, &element, &"text", run_id, &json, &"user", &"", &score, &maxscore];
            client.query_one(MESSAGE, &args).await?;
        }
        Statement::Delay => {
            let till = (chrono::Utc::now() + chrono::Duration::hours(1)).naive_utc();
            let element = format!("m{}_delay", n % 7);
            let args: [&(dyn ToSql + Sync); 6] = [chat_id, &till, &true, &element, course_id, bot];
            let id: i32 = client.query_one(DELAY, &args).await?.get(0);
            p.waiting.lock().unwrap_or_else(|e| e.into_inner()).push_back(id);
        }
        Statement::DelayDone => {
            let id = p.waiting.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
            if let Some(id) = id {
                client.execute(DELAY_DONE, &[&id]).await?;
            }
        }
        Statement::CourseEnd => {
            client.execute(COURSE_END, &[chat_id, bot, course_id]).await?;
        }
    }
    Ok(())
}

impl Writer {
    /// Stops scheduling, lets the statements already due finish, and summarises.
    pub async fn stop(self) -> WriterReport {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.dispatcher.await;
        let mut samples = vec![];
        for w in self.workers {
            if let Ok(s) = w.await {
                samples.extend(s);
            }
        }
        let seconds = self.started.elapsed().as_secs_f64();
        let mut by_kind: BTreeMap<Statement, Vec<&Sample>> = BTreeMap::new();
        for s in &samples {
            by_kind.entry(s.statement).or_default().push(s);
        }
        let mut errors: BTreeMap<String, u64> = BTreeMap::new();
        for s in &samples {
            if let Some(e) = &s.error {
                *errors.entry(e.clone()).or_default() += 1;
            }
        }
        WriterReport {
            rate: self.rate,
            connections: self.connections,
            seconds,
            all: stats("all statements", &samples.iter().collect::<Vec<_>>()),
            per_statement: by_kind.iter().map(|(k, v)| stats(k.describe(), v)).collect(),
            errors: errors.into_iter().take(5).collect(),
            slowest: slowest(&samples, self.started),
        }
    }
}

fn slowest(samples: &[Sample], started: Instant) -> Vec<SlowWrite> {
    let mut by_latency: Vec<&Sample> = samples.iter().collect();
    by_latency.sort_by(|a, b| b.latency.cmp(&a.latency));
    by_latency
        .into_iter()
        .take(SLOWEST)
        .map(|s| SlowWrite {
            statement: s.statement.describe().to_string(),
            ms: s.latency.as_secs_f64() * 1000.0,
            due_after_ms: s.due.saturating_duration_since(started).as_secs_f64() * 1000.0,
            due: s.due,
            during: vec![],
        })
        .collect()
}

fn stats(name: &str, samples: &[&Sample]) -> LatencyStats {
    let mut ms: Vec<f64> = samples.iter().map(|s| s.latency.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    let at = |p: f64| if ms.is_empty() { 0.0 } else { ms[((ms.len() - 1) as f64 * p).round() as usize] };
    LatencyStats {
        statement: name.to_string(),
        run: samples.len() as u64,
        failed: samples.iter().filter(|s| s.error.is_some()).count() as u64,
        p50_ms: at(0.5),
        p99_ms: at(0.99),
        max_ms: ms.last().copied().unwrap_or(0.0),
        over_1s: ms.iter().filter(|m| **m > 1000.0).count() as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(ms: u64, failed: bool) -> Sample {
        Sample {
            statement: Statement::Message,
            latency: Duration::from_millis(ms),
            due: Instant::now(),
            error: failed.then(|| "boom".to_string()),
        }
    }

    #[test]
    fn the_slowest_writes_are_kept_slowest_first_with_when_they_were_due() {
        let started = Instant::now();
        let s: Vec<Sample> = (1..=20u64)
            .map(|i| Sample {
                statement: Statement::Message,
                latency: Duration::from_millis((i * 37) % 101),
                due: started + Duration::from_millis(i * 10),
                error: None,
            })
            .collect();
        let w = slowest(&s, started);
        assert_eq!(w.len(), SLOWEST);
        let ms: Vec<f64> = w.iter().map(|w| w.ms).collect();
        assert_eq!(ms, [97.0, 94.0, 87.0, 84.0, 77.0]);
        // Statement i waited (i * 37) % 101 ms and was due i * 10 ms after the start.
        let due: Vec<f64> = w.iter().map(|w| w.due_after_ms).collect();
        assert_eq!(due, [190.0, 80.0, 160.0, 50.0, 130.0]);
    }

    #[test]
    fn percentiles_count_from_the_due_time_and_failures_are_counted() {
        let s: Vec<Sample> = (1..=100).map(|i| sample(i * 20, i == 7)).collect();
        let st = stats("x", &s.iter().collect::<Vec<_>>());
        assert_eq!(st.run, 100);
        assert_eq!(st.failed, 1);
        assert_eq!(st.max_ms, 2000.0);
        assert_eq!(st.p99_ms, 1980.0);
        assert_eq!(st.p50_ms, 1020.0);
        assert_eq!(st.over_1s, 50);
    }

    #[test]
    fn the_cycle_holds_every_write_of_spec_1() {
        for s in [Statement::StartCourse, Statement::Message, Statement::Delay, Statement::DelayDone, Statement::CourseEnd] {
            assert!(Statement::CYCLE.contains(&s), "{s:?}");
        }
    }
}
