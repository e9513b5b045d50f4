//! Backfill: one legacy table's links, renames, detaches and collapses, in primary-key
//! batches up to the key captured when its backfill started (rows written later went
//! through the compatibility triggers: linked already). Each batch is one transaction
//! with its progress; its size follows its time, about [`BATCH_TARGET`]. Over the whole
//! key range (`migrate --offline`), every table's backfill is one phase, [`Links`].

use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;

use super::{progress, q, stopped, Online, Step, Whole, WholeRange};
use crate::conn::short_lock::{self, Attempts, Prologue};
use crate::error::{pg_error_text, Result};
use super::Counts;
use crate::migrate::analysis::Analysis;
use crate::migrate::work::{self, WorkError};
use crate::migrate::{MigrateOptions, Orphans};
use crate::sql::ident;
use crate::state::{BackfillTable, OnlineStep};

const ORPHANS: &str = include_str!("../../../sql/migrate/online/backfill_conversation_orphans.sql");
const SETTLE_RUNS: &str = include_str!("../../../sql/migrate/online/settle_runs.sql");
/// The big tables' links over the whole range, set-wise (3_links.sql), then the whole
/// range as the small tables' batch (3_links_whole_range.sql).
const LINKS: &str = include_str!("../../../sql/migrate/3_links.sql");
const LINKS_WHOLE_RANGE: &str = include_str!("../../../sql/migrate/3_links_whole_range.sql");
const RUNS_WITHOUT_DEPLOYMENT: &str = include_str!("../../../sql/migrate/3_runs_without_deployment.sql");

/// How long a batch should take: long enough to be efficient, short enough that a bot
/// statement waiting for one of its rows never waits long.
pub const BATCH_TARGET: Duration = Duration::from_millis(100);
pub const BATCH_MIN: i64 = 100;
pub const BATCH_MAX: i64 = 50_000;
/// The size of a backfill's first batch.
const BATCH_FIRST: i64 = 1000;

/// The backfill of one table.
pub struct Backfill(pub BackfillTable);

/// Each table's batch file in `sql/migrate/online/`: [`batch_file`] names it, [`table_sql`]
/// is its text.
macro_rules! batch_files {
    ($($t:ident => $file:literal),* $(,)?) => {
        /// The file under `sql/` of one batch of `t`'s statements (they read its range from `mig_batch`).
        pub fn batch_file(t: BackfillTable) -> &'static str {
            match t {
                $(BackfillTable::$t => concat!("migrate/online/", $file),)*
            }
        }

        /// The statements of one batch of `t` ([`batch_file`]).
        pub fn table_sql(t: BackfillTable) -> &'static str {
            match t {
                $(BackfillTable::$t => include_str!(concat!("../../../sql/migrate/online/", $file)),)*
            }
        }
    };
}

batch_files! {
    Run => "backfill_run.sql",
    WaitingElement => "backfill_waiting_element.sql",
    Conversation => "backfill_conversation.sql",
    Bannedparticipants => "backfill_bannedparticipants.sql",
    Courseparticipants => "backfill_courseparticipants.sql",
    GenSettings => "backfill_gen_settings.sql",
}

/// The files under `sql/` the backfill runs, in its order: each batch's, with the orphans
/// file after conversation's (run in its batches when orphans are detached) and
/// `settle_runs.sql` once after the runs' last batch (`batched` false).
pub fn files() -> Vec<(&'static str, bool)> {
    let mut out = vec![];
    for t in BackfillTable::ALL {
        out.push((batch_file(t), true));
        match t {
            BackfillTable::Run => out.push(("migrate/online/settle_runs.sql", false)),
            BackfillTable::Conversation => out.push(("migrate/online/backfill_conversation_orphans.sql", true)),
            _ => {}
        }
    }
    out
}

impl Step for Backfill {
    fn id(&self) -> OnlineStep {
        OnlineStep::Backfill(self.0)
    }

    fn describe(&self) -> &'static str {
        match self.0 {
            BackfillTable::Run => "runs: renamed copies, bot, deployment, one active run per chat and bot",
            BackfillTable::WaitingElement => "waiting elements: renamed copies, bot, run",
            BackfillTable::Conversation => "conversation rows: renamed copies, orphaned run_ids",
            BackfillTable::Bannedparticipants => "bans: bot, duplicates archived",
            BackfillTable::Courseparticipants => "participants: duplicates archived",
            BackfillTable::GenSettings => "settings: bot",
        }
    }

    fn undo(&self) -> &'static str {
        "puts every archived value and row back (renamed ids, deactivated runs, detached run_ids, collapsed duplicates)"
    }

    fn affects(&self) -> &'static str {
        "a write to a row of the batch under way waits for that batch (batches of about 100 ms, each committed with its last key)"
    }

    async fn apply(&self, run: &mut Online<'_>) -> Result<Counts> {
        let (t, step) = (self.0, self.id());
        if run.state.current != Some(step) || run.state.max_key.is_none() {
            start(run, t).await?;
        }
        let max = run.state.max_key.unwrap_or(0);
        let sql = match (t, run.opts.orphans) {
            (BackfillTable::Conversation, Orphans::Detach) => format!("{}\n{ORPHANS}", table_sql(t)),
            _ => table_sql(t).to_string(),
        };
        let bound = run.opts.lock_wait.unwrap_or(short_lock::DEFAULT_BOUND);
        let prologue = format!("{} SET LOCAL profochat_saas.relink = {}", Prologue::BATCH.sql(), if run.relink { "on" } else { "off" });
        let mut size: i64 = BATCH_FIRST;
        let mut retries: Option<Attempts> = None;
        let mut batch_no = 0u64;
        while let Some(last) = run.state.last_key.filter(|l| *l < max) {
            let (lo, hi) = (last + 1, (last + 1).saturating_add(size).min(max + 1));
            let t0 = Instant::now();
            let tx = run.db.client.transaction().await.map_err(q("starting a batch"))?;
            tx.batch_execute(&prologue).await.map_err(q("starting a batch"))?;
            tx.execute("UPDATE mig_batch SET lo = $1, hi = $2", &[&lo, &hi]).await.map_err(q("starting a batch"))?;
            if let Err(e) = tx.batch_execute(&sql).await {
                drop(tx);
                if retries.get_or_insert_with(|| Attempts::new(bound)).again(&e).await {
                    size = (size / 2).max(BATCH_MIN);
                    continue;
                }
                return Err(stopped(step, format!("the batch of {} {lo}..{hi}: {}", t.batched_by(), pg_error_text(&e))));
            }
            batch_no += 1;
            super::crash_point(run.opts, &format!("inside:{}:{batch_no}", t.table()));
            let mut next = run.state.clone();
            next.last_key = Some(hi - 1);
            next.batches += 1;
            next.rows += hi - lo;
            progress::record(&tx, &next).await?;
            tx.commit().await.map_err(|e| stopped(step, format!("committing a batch: {}", pg_error_text(&e))))?;
            run.state = next;
            retries = None;
            run.reporter.progress(run.state.batches as u64);
            // The next batch's size from this one's time.
            let ms = t0.elapsed().as_millis().max(1) as i64;
            size = (size * BATCH_TARGET.as_millis() as i64 / ms).clamp(BATCH_MIN, BATCH_MAX).min(size * 4);
        }
        let mut counts = Counts::from([("batches".to_string(), run.state.batches), ("keys".to_string(), run.state.rows)]);
        if t == BackfillTable::Run {
            let tx = run.db.client.transaction().await.map_err(q("settling active runs"))?;
            tx.batch_execute(&format!("{}\n{SETTLE_RUNS}", Prologue { backfill: true, ..Default::default() }.sql()))
                .await
                .map_err(|e| stopped(step, format!("settling active runs: {}", pg_error_text(&e))))?;
            counts.insert("runs_settled".into(), 0);
            tx.commit().await.map_err(q("settling active runs"))?;
        }
        Ok(counts)
    }

    /// Every row up to the key captured at the start is linked.
    async fn check(&self, run: &mut Online<'_>) -> Result<()> {
        let t = self.0;
        let max = run.state.max_key.unwrap_or(0);
        let left: i64 = run.db.query_one(&left_sql(t), &[&max]).await.map_err(q("checking the backfill"))?.get(0);
        if left != 0 {
            return Err(stopped(self.id(), format!("{left} row(s) of {} up to {} {max} are still not linked after the backfill", t.table(), t.key())));
        }
        Ok(())
    }
}

/// Every table's backfill over the whole key range, in the one transaction (offline,
/// phase 3): the runs, waiting elements and conversation rows set-wise (3_links.sql);
/// the small tables with their batch's statements over every key; the orphans.
pub struct Links;

impl WholeRange for Links {
    fn describe_whole(&self, a: &Analysis, opts: &MigrateOptions) -> Vec<String> {
        vec![
            format!("link {} runs to their bot and deployment; deactivate {} older unfinished runs", a.rows["run"], a.runs_to_deactivate),
            format!("link {} waiting elements to their bot and run", a.rows["waiting_element"]),
            match opts.orphans {
                Orphans::Detach => format!("detach {} conversation rows from runs that no longer exist", a.orphan_run_refs),
                Orphans::Keep => format!("keep {} conversation run_ids that point at no run", a.orphan_run_refs),
            },
            format!("archive {} duplicate bans and {} duplicate participants", a.duplicate_bans, a.duplicate_participants),
        ]
    }

    fn apply_whole<'a>(&'a self, w: &'a Whole<'a>) -> BoxFuture<'a, std::result::Result<Counts, WorkError>> {
        Box::pin(async move {
            let (a, mut counts) = (w.analysis, Counts::new());
            work::run(w.tx, LINKS).await?;
            work::run(w.tx, LINKS_WHOLE_RANGE).await?;
            for t in [BackfillTable::Bannedparticipants, BackfillTable::Courseparticipants, BackfillTable::GenSettings] {
                w.tx.batch_execute(table_sql(t)).await?;
            }
            if w.opts.orphans == Orphans::Detach {
                w.tx.batch_execute(ORPHANS).await?;
                counts.insert("orphans_detached".into(), a.orphan_run_refs);
            }
            counts.insert("runs_deactivated".into(), a.runs_to_deactivate);
            counts.insert("bans_archived".into(), a.duplicate_bans);
            counts.insert("participants_archived".into(), a.duplicate_participants);
            counts.insert("runs_without_deployment".into(), w.count(RUNS_WITHOUT_DEPLOYMENT).await?);
            Ok(counts)
        })
    }

    fn check_whole(&self, _: &MigrateOptions) -> Option<&'static str> {
        Some(include_str!("../../../sql/migrate/checks/3_links.sql"))
    }
}

/// The backfill of `t` starts: its key range, recorded.
async fn start(run: &mut Online<'_>, t: BackfillTable) -> Result<()> {
    let key = ident(t.key());
    let range = match t {
        BackfillTable::Conversation => {
            "SELECT min(k)::int8, max(k)::int8 FROM (SELECT run_id AS k FROM run UNION ALL SELECT run_id FROM profochat_saas.online_orphans) x".to_string()
        }
        _ => format!("SELECT min({key})::int8, max({key})::int8 FROM {}", ident(t.table())),
    };
    let row = run.db.query_one(&range, &[]).await.map_err(q("reading the key range"))?;
    let (min, max): (Option<i64>, Option<i64>) = (row.get(0), row.get(1));
    let s = &mut run.state;
    s.current = Some(OnlineStep::Backfill(t));
    s.last_key = min.map(|m| m - 1);
    s.max_key = Some(max.unwrap_or(0));
    s.batches = 0;
    s.rows = 0;
    progress::record(&run.db.client, &run.state).await
}

/// What must hold once a table's backfill is done: a count of rows left unlinked.
fn left_sql(t: BackfillTable) -> String {
    match t {
        BackfillTable::Run | BackfillTable::WaitingElement | BackfillTable::Bannedparticipants => format!(
            "SELECT count(*) FROM {} WHERE bot_id IS NULL AND account_id = 1 AND {} <= $1::int8",
            ident(t.table()),
            ident(t.key())
        ),
        _ => "SELECT 0::int8 WHERE $1::int8 IS NOT NULL".to_string(),
    }
}
