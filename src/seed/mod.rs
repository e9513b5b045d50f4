//! `seed-legacy`: fills an empty database with the legacy schema and a realistic,
//! deterministic dataset that holds every anomaly of production databases
//! (SPEC §1), and says exactly what it wrote.
//!
//! Rows are generated while they stream to the server through `COPY`, in one
//! transaction; nothing of the dataset is kept in memory but the counts that make
//! up the [`SeedManifest`].

mod catalog;
pub mod copy;
mod rows;
mod runs;
mod tables;
mod tally;
mod text;

use std::collections::BTreeMap;
use std::time::Instant;

use bytes::Bytes;
use futures_util::SinkExt;
use serde::{Deserialize, Serialize};
use tokio_postgres::{GenericClient, Transaction};

use crate::conn::Db;
use crate::error::{Error, Result};
use crate::report::Reporter;
use crate::schema::{self, SchemaState};
use crate::sql::{ident, legacy_columns, legacy_key, LEGACY_SCHEMA, LEGACY_TABLES};

use self::catalog::{Catalog, DEFAULT_BOT};
use self::copy::CopyBuf;
use self::runs::RunStream;
use self::tables::TableRows;
use self::tally::Tally;

pub use self::tally::LARGE_JSON_BYTES;

/// The largest dataset the legacy keys can hold comfortably (int4 conversation ids).
pub const MAX_RUNS: u64 = 10_000_000;

/// From this many runs on, every anomaly kind is present at least once.
pub const MIN_RUNS_FOR_EVERY_ANOMALY: u64 = 50;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedOptions {
    /// Runs (courses started); about ten conversation rows each.
    pub runs: u64,
    /// The same seed and runs give the same rows.
    pub seed: u64,
}

/// The shape of the dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Every anomaly present, in the proportions of production databases.
    #[default]
    Standard,
    /// Every anomaly in bulk, so that each anomaly table of the migration grows with
    /// the data: a third of the runs superseded (an older unfinished run of the same
    /// chat and bot), one ban in three and one participant in three a duplicate, a
    /// course copied under two bots per 100 runs (two of three renamed), and one
    /// run in thirty deleted with its conversation rows left (orphans).
    Dense,
}

impl std::str::FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "standard" => Ok(Profile::Standard),
            "dense" => Ok(Profile::Dense),
            other => Err(format!("unknown profile {other:?} (standard or dense)")),
        }
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Profile::Standard => "standard",
            Profile::Dense => "dense",
        })
    }
}

impl Default for SeedOptions {
    fn default() -> Self {
        SeedOptions { runs: 1000, seed: 1 }
    }
}

/// What was generated, counted while the rows were written. Counts that depend on
/// bot identity resolve NULL bot names to `default_bot`, as the migration does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedManifest {
    pub seed: u64,
    pub runs: u64,
    /// The bot that rows without a bot name were written for.
    pub default_bot: String,
    /// Rows per legacy table (all eight).
    pub rows: BTreeMap<String, u64>,
    /// Distinct non-NULL names of the six bot columns, sorted.
    pub bot_names: Vec<String>,
    /// Table -> bots that appear in that table only.
    pub bots_only_in: BTreeMap<String, Vec<String>>,
    /// Table -> rows whose bot column is NULL.
    pub null_bot_rows: BTreeMap<String, u64>,
    /// course_ids referenced by run, waiting_element, course_element,
    /// courseparticipants or conversation that have no course row under any bot.
    pub missing_course_ids: Vec<String>,
    /// Table -> rows referencing one of `missing_course_ids`.
    pub missing_course_refs: BTreeMap<String, u64>,
    /// Table -> rows with a NULL course_id.
    pub null_course_rows: BTreeMap<String, u64>,
    /// course_ids under two or more bots whose copies are all identical
    /// (same yaml, same elements in course_element_id order).
    pub identical_copies: Vec<String>,
    /// course_ids under two or more bots with at least two differing copies.
    pub differing_copies: Vec<String>,
    /// conversation rows whose run_id names no run.
    pub orphan_run_refs: u64,
    /// conversation rows with a NULL run_id.
    pub null_run_refs: u64,
    /// (chat_id, bot) groups with more than one unfinished run.
    pub duplicate_active_groups: u64,
    /// Unfinished runs beyond the newest of each such group.
    pub runs_to_deactivate: u64,
    /// courseparticipants rows beyond the first per (course_id, username or '').
    pub duplicate_participants: u64,
    /// bannedparticipants rows beyond the first per (bot, chat_id, excluded).
    pub duplicate_bans: u64,
    pub null_is_ended_runs: u64,
    pub null_is_waiting: u64,
    /// conversation rows whose json is larger than 64 KiB.
    pub large_json_rows: u64,
}

impl SeedManifest {
    /// Rows over all tables.
    pub fn total_rows(&self) -> u64 {
        self.rows.values().sum()
    }
}

/// What kind of empty database the generator found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedTarget {
    /// No tables at all: the legacy schema is created first.
    Empty,
    /// The eight legacy tables, all empty.
    EmptyLegacy,
}

const UNCHANGED: &str = "The transaction was rolled back: the database is as it was before.";
const ONLY_EMPTY: &str =
    "seed-legacy only fills an empty database: create one (`createdb NAME`) and point --database-url at it.";

/// The order tables are loaded in.
const LOAD_ORDER: [&str; 8] = [
    "course",
    "course_element",
    "run",
    "conversation",
    "waiting_element",
    "courseparticipants",
    "bannedparticipants",
    "gen_settings",
];

/// Bytes per chunk sent to the server.
const CHUNK_BYTES: usize = 1 << 20;

/// Checks that the database is one the generator may fill: empty, or the legacy
/// schema with no rows. Changes nothing.
pub async fn check_target(db: &Db) -> Result<SeedTarget> {
    let status = schema::inspect(db).await?;
    let target = db.settings.display_target();
    match status.state {
        SchemaState::Empty => Ok(SeedTarget::Empty),
        SchemaState::Legacy => {
            let with_rows = tables_with_rows(&db.client).await?;
            if with_rows.is_empty() {
                Ok(SeedTarget::EmptyLegacy)
            } else {
                Err(already_holds_data(&target, &with_rows))
            }
        }
        SchemaState::NotProfochat => {
            let more = status.other_tables_count.saturating_sub(status.other_tables.len());
            let mut list = status.other_tables.join(", ");
            if more > 0 {
                list.push_str(&format!(" and {more} more"));
            }
            Err(Error::state(format!("{target} is not empty: it holds other tables ({list})"), ONLY_EMPTY))
        }
        state => Err(Error::state(format!("{target} is not empty: it is {}", state.describe()), ONLY_EMPTY)),
    }
}

fn already_holds_data(target: &str, tables: &[String]) -> Error {
    Error::state(format!("{target} already holds legacy data (rows in {})", tables.join(", ")), ONLY_EMPTY)
}

async fn tables_with_rows(client: &impl GenericClient) -> Result<Vec<String>> {
    let rows = client
        .query(include_str!("../../sql/seed/tables_with_rows.sql"), &[])
        .await
        .map_err(|e| Error::query("checking that the legacy tables are empty", &e, "Nothing was changed."))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Fills an empty database (or empty legacy tables) with the dataset of `opts`,
/// in one transaction, and returns what it wrote. Refuses, changing nothing, when
/// the database holds anything else.
pub async fn generate(db: &mut Db, opts: &SeedOptions, reporter: &dyn Reporter) -> Result<SeedManifest> {
    generate_profile(db, opts, Profile::Standard, reporter).await
}

/// [`generate`], with the dataset of a [`Profile`].
pub async fn generate_profile(db: &mut Db, opts: &SeedOptions, profile: Profile, reporter: &dyn Reporter) -> Result<SeedManifest> {
    if opts.runs > MAX_RUNS {
        return Err(Error::refused(
            format!("--runs {} is more than the legacy int4 keys hold comfortably", opts.runs),
            format!("Use at most {MAX_RUNS} runs."),
        ));
    }
    let target = check_target(db).await?;
    let display = db.settings.display_target();
    let dataset = Dataset::new(opts, profile);

    let tx = db
        .client
        .transaction()
        .await
        .map_err(|e| Error::query("starting the transaction", &e, "Nothing was changed."))?;
    match target {
        SeedTarget::Empty => {
            let started = Instant::now();
            reporter.started("creating the legacy schema", None);
            tx.batch_execute(LEGACY_SCHEMA)
                .await
                .map_err(|e| Error::query("creating the legacy schema", &e, UNCHANGED))?;
            reporter.finished("creating the legacy schema", started.elapsed(), "8 tables");
        }
        SeedTarget::EmptyLegacy => {
            tx.batch_execute(include_str!("../../sql/seed/lock.sql"))
                .await
                .map_err(|e| Error::query("locking the legacy tables", &e, UNCHANGED))?;
            let with_rows = tables_with_rows(&tx).await?;
            if !with_rows.is_empty() {
                return Err(already_holds_data(&display, &with_rows));
            }
        }
    }

    let mut tally = Tally::new(DEFAULT_BOT);
    for table in LOAD_ORDER {
        let mut rows = dataset.rows(table);
        load(&tx, table, dataset.total(table), rows.as_mut(), &mut tally, reporter).await?;
    }
    set_sequences(&tx, &tally).await?;
    tx.commit()
        .await
        .map_err(|e| Error::query("committing the dataset", &e, UNCHANGED))?;
    Ok(tally.finish(opts.seed, opts.runs))
}

/// Streams one table through COPY.
async fn load(
    tx: &Transaction<'_>,
    table: &'static str,
    total: u64,
    rows: &mut dyn TableRows,
    tally: &mut Tally,
    reporter: &dyn Reporter,
) -> Result<()> {
    let started = Instant::now();
    let step = format!("loading {table}");
    let columns: Vec<String> = legacy_columns(table).iter().map(|c| ident(c)).collect();
    let statement = format!("COPY {} ({}) FROM STDIN", ident(table), columns.join(", "));
    let fail = |e: tokio_postgres::Error| Error::query(step.clone(), &e, UNCHANGED);
    let sink = tx.copy_in::<_, Bytes>(&statement).await.map_err(fail)?;
    futures_util::pin_mut!(sink);
    reporter.started(&step, Some(total));
    let mut buf = CopyBuf::with_capacity(CHUNK_BYTES);
    loop {
        let more = rows.write_some(&mut buf, tally);
        if buf.is_full() || (!more && !buf.is_empty()) {
            sink.send(buf.take()).await.map_err(fail)?;
            reporter.progress(buf.rows());
        }
        if !more {
            break;
        }
    }
    let loaded = sink.as_mut().finish().await.map_err(fail)?;
    if loaded != buf.rows() {
        return Err(Error::Query {
            context: step,
            cause: format!("the server took {loaded} rows, but {} were sent", buf.rows()),
            unchanged: UNCHANGED.into(),
        });
    }
    let summary = format!("{} rows, {:.1} MB", buf.rows(), buf.taken_bytes() as f64 / 1e6);
    reporter.finished(&step, started.elapsed(), &summary);
    Ok(())
}

/// Moves every sequence of the legacy keys past the loaded rows, so the bot's next
/// inserts do not collide with them.
async fn set_sequences(tx: &Transaction<'_>, tally: &Tally) -> Result<()> {
    let fail = |e: tokio_postgres::Error| Error::query("setting the legacy sequences", &e, UNCHANGED);
    let tables: Vec<String> = LEGACY_TABLES.iter().map(|t| t.to_string()).collect();
    let sequences = tx.query(include_str!("../../sql/seed/sequences.sql"), &[&tables]).await.map_err(fail)?;
    for row in sequences {
        let (table, column, sequence): (String, String, String) = (row.get(0), row.get(1), row.get(2));
        if legacy_key(&table) != [column.as_str()] {
            continue;
        }
        let (value, used) = match tally.max_id(&table) {
            Some(max) if max >= 1 => (max, true),
            _ => (1, false),
        };
        tx.query_one(include_str!("../../sql/seed/setval.sql"), &[&sequence, &value, &used])
            .await
            .map_err(fail)?;
    }
    Ok(())
}

/// The dataset of one seed: the catalog, and the totals of a first pass over the
/// run headers (for exact progress).
struct Dataset {
    seed: u64,
    runs: u64,
    catalog: Catalog,
    users: u64,
    run_rows: u64,
    conversation_rows: u64,
    waiting_rows: u64,
}

impl Dataset {
    fn new(opts: &SeedOptions, profile: Profile) -> Dataset {
        let catalog = Catalog::with_profile(opts.seed, profile, opts.runs);
        let mut stream = RunStream::new(&catalog, opts.seed, opts.runs);
        let (mut run_rows, mut conversation_rows, mut waiting_rows) = (0, 0, 0);
        for spec in stream.by_ref() {
            run_rows += u64::from(!spec.deleted);
            conversation_rows += u64::from(spec.conversation_rows);
            waiting_rows += u64::from(spec.waiting);
        }
        let users = stream.users();
        Dataset {
            seed: opts.seed,
            runs: opts.runs,
            users,
            run_rows,
            conversation_rows,
            waiting_rows: waiting_rows + tables::reminder_rows(opts.runs),
            catalog,
        }
    }

    fn total(&self, table: &str) -> u64 {
        match table {
            "course" => self.catalog.courses.len() as u64,
            "course_element" => self.catalog.elements.len() as u64,
            "run" => self.run_rows,
            "conversation" => self.conversation_rows,
            "waiting_element" => self.waiting_rows,
            "courseparticipants" => tables::participant_rows(self.runs, self.catalog.dense),
            "bannedparticipants" => tables::Bans::new(self.seed, self.runs, self.users, self.catalog.dense).total,
            "gen_settings" => self.catalog.settings.len() as u64,
            _ => 0,
        }
    }

    fn rows(&self, table: &str) -> Box<dyn TableRows + '_> {
        let (c, seed, runs, users) = (&self.catalog, self.seed, self.runs, self.users);
        match table {
            "course" => Box::new(tables::Courses { catalog: c, next: 0 }),
            "course_element" => Box::new(tables::Elements { catalog: c, next: 0 }),
            "run" => Box::new(tables::Runs { catalog: c, seed, stream: RunStream::new(c, seed, runs) }),
            "conversation" => Box::new(tables::Conversations::new(c, seed, runs)),
            "waiting_element" => Box::new(tables::Waiting::new(c, seed, runs, users)),
            "courseparticipants" => Box::new(tables::Participants::new(c, seed, runs, users)),
            "bannedparticipants" => Box::new(tables::Bans::new(seed, runs, users, c.dense)),
            _ => Box::new(tables::Settings { catalog: c, next: 0 }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Generates without a server: the rows are encoded and dropped.
    fn simulate(opts: &SeedOptions) -> (SeedManifest, Dataset, u64) {
        simulate_profile(opts, Profile::Standard)
    }

    fn simulate_profile(opts: &SeedOptions, profile: Profile) -> (SeedManifest, Dataset, u64) {
        let dataset = Dataset::new(opts, profile);
        let mut tally = Tally::new(DEFAULT_BOT);
        let mut bytes = 0;
        for table in LOAD_ORDER {
            let mut rows = dataset.rows(table);
            let mut buf = CopyBuf::with_capacity(CHUNK_BYTES);
            while rows.write_some(&mut buf, &mut tally) {
                if buf.is_full() {
                    buf.discard();
                }
            }
            buf.discard();
            bytes += buf.taken_bytes();
            assert_eq!(buf.rows(), dataset.total(table), "{table}: progress total");
        }
        (tally.finish(opts.seed, opts.runs), dataset, bytes)
    }

    fn assert_every_anomaly(m: &SeedManifest) {
        let ctx = format!("seed {} runs {}", m.seed, m.runs);
        assert!(m.bot_names.len() >= 5, "{ctx}: {:?}", m.bot_names);
        assert!(m.bot_names.iter().any(|b| b == "бот_курсы"), "{ctx}");
        assert!(m.bot_names.iter().any(|b| b.contains('\'') && b.contains('"')), "{ctx}");
        for t in ["run", "waiting_element", "bannedparticipants", "gen_settings", "course_element"] {
            assert!(m.null_bot_rows.get(t).copied().unwrap_or(0) > 0, "{ctx}: NULL bot in {t}");
        }
        for t in ["bannedparticipants", "waiting_element", "gen_settings"] {
            assert!(m.bots_only_in.get(t).is_some_and(|b| !b.is_empty()), "{ctx}: bot only in {t}: {:?}", m.bots_only_in);
        }
        for t in ["run", "waiting_element", "courseparticipants", "course_element", "conversation"] {
            assert!(m.missing_course_refs.get(t).copied().unwrap_or(0) > 0, "{ctx}: missing course in {t}");
            assert!(m.null_course_rows.get(t).copied().unwrap_or(0) > 0, "{ctx}: NULL course in {t}");
        }
        assert!(!m.identical_copies.is_empty() && !m.differing_copies.is_empty(), "{ctx}");
        assert!(m.orphan_run_refs > 0 && m.null_run_refs > 0, "{ctx}");
        assert!(m.duplicate_active_groups > 0 && m.runs_to_deactivate >= m.duplicate_active_groups, "{ctx}");
        assert!(m.duplicate_participants > 0 && m.duplicate_bans > 0, "{ctx}");
        assert!(m.null_is_ended_runs > 0 && m.null_is_waiting > 0 && m.large_json_rows > 0, "{ctx}");
    }

    #[test]
    fn every_anomaly_from_the_minimum_size_on() {
        for runs in [MIN_RUNS_FOR_EVERY_ANOMALY, 51, 64, 99, 150, 200, 257, 300, 500, 1000] {
            for seed in [1, 2, 3, 42, u64::MAX] {
                let (m, _, _) = simulate(&SeedOptions { runs, seed });
                assert_every_anomaly(&m);
            }
        }
    }

    #[test]
    fn tiny_datasets_do_not_fail() {
        for runs in 0..MIN_RUNS_FOR_EVERY_ANOMALY {
            let (m, _, _) = simulate(&SeedOptions { runs, seed: 7 });
            assert!(m.rows["run"] <= runs);
            assert_eq!(m.rows["course"], 11);
        }
    }

    #[test]
    fn same_seed_same_manifest_other_seed_other_data() {
        let opts = SeedOptions { runs: 400, seed: 5 };
        let (a, _, bytes_a) = simulate(&opts);
        let (b, _, bytes_b) = simulate(&opts);
        assert_eq!(a, b);
        assert_eq!(bytes_a, bytes_b);
        let (c, _, bytes_c) = simulate(&SeedOptions { runs: 400, seed: 6 });
        assert_ne!((a.rows, bytes_a), (c.rows, bytes_c));
    }

    #[test]
    fn proportions_are_realistic_at_scale() {
        let (m, d, bytes) = simulate(&SeedOptions { runs: 20_000, seed: 1 });
        let runs = m.rows["run"] as f64;
        let conversation = m.rows["conversation"] as f64;
        assert!((9.0..11.5).contains(&(conversation / 20_000.0)), "{conversation}");
        assert!((0.25..0.35).contains(&(m.rows["waiting_element"] as f64 / 20_000.0)));
        assert!(d.users > 5_000, "{}", d.users);
        let null_bot_runs = m.null_bot_rows["run"] as f64 / runs;
        assert!((0.04..0.08).contains(&null_bot_runs), "{null_bot_runs}");
        let orphans = m.orphan_run_refs as f64 / conversation;
        assert!((0.001..0.01).contains(&orphans), "{orphans}");
        assert!((10..=100).contains(&m.large_json_rows), "{}", m.large_json_rows);
        assert!(m.duplicate_bans as f64 / (m.rows["bannedparticipants"] as f64) < 0.1);
        assert!(m.runs_to_deactivate as f64 / runs < 0.3, "{}", m.runs_to_deactivate);
        assert_eq!(m.bots_only_in.values().map(Vec::len).sum::<usize>(), 3, "{:?}", m.bots_only_in);
        let avg = bytes as f64 / m.total_rows() as f64;
        assert!((150.0..900.0).contains(&avg), "{avg}");
    }

    #[test]
    fn dense_profile_makes_every_anomaly_large() {
        let runs = 3000;
        let (m, _, _) = simulate_profile(&SeedOptions { runs, seed: 1 }, Profile::Dense);
        let (s, _, _) = simulate(&SeedOptions { runs, seed: 1 });
        assert_every_anomaly(&m);
        assert!(m.runs_to_deactivate * 10 >= runs * 3, "a third of the runs superseded: {}", m.runs_to_deactivate);
        assert!(m.duplicate_bans >= 10 * s.duplicate_bans.max(1), "{} vs {}", m.duplicate_bans, s.duplicate_bans);
        assert!(m.duplicate_participants >= 10 * s.duplicate_participants.max(1), "{} vs {}", m.duplicate_participants, s.duplicate_participants);
        assert!(m.differing_copies.len() >= 20 + s.differing_copies.len(), "{:?}", m.differing_copies.len());
        assert!(m.orphan_run_refs >= 10 * s.orphan_run_refs.max(1), "{} vs {}", m.orphan_run_refs, s.orphan_run_refs);
    }
}
