//! Killed like kill -9 after every step and inside a batch, then resumed: at most one
//! batch redone, nothing lost.

use super::*;

/// kill -9 right after `step` committed: `status` names the next step, and a plain
/// `migrate` resumes there (no earlier step runs again) and completes.
async fn crash_after_and_resume(step: OnlineStep) {
    let (db, c, bot) = seeded(60).await;
    let before = fingerprint::take(&*c).await.unwrap();
    crash(&db, &bot, &format!("after:{}", step.name()));
    wait_for_the_killed_session(&c).await;

    let next = step.next().unwrap();
    let p = progress(&c).await;
    assert_eq!((p.done, p.current), (Some(step), Some(next)), "{p:?}");
    assert_eq!(schema::inspect(&c).await.unwrap().state, SchemaState::MigrationInProgress);
    let st = status(&db);
    assert!(st.contains("an online migration in progress") && st.contains(&format!("Online:    step {}", next.name())), "{st}");

    let out = cli().args(["migrate", "--yes", "--skip-backup", "--database-url", &db.url()]).assert();
    let o = out.get_output();
    let (stdout, stderr) = (text(&o.stdout), text(&o.stderr));
    assert!(o.status.success(), "the resumed migration failed:\n{stdout}\n{stderr}");
    assert!(stderr.contains("resuming the online migration"), "{stderr}");
    // Nothing done before the crash is done again; everything after it is.
    for s in OnlineStep::all().into_iter().filter(|s| *s != OnlineStep::Switch) {
        let ran = stderr.contains(&format!("✓ online: {}", s.name()));
        assert_eq!(ran, s.number() > step.number(), "step {} after a crash after {}:\n{stderr}", s.name(), step.name());
    }
    assert_completed_and_nothing_lost(&db, &c, &before, &stdout).await;
}

/// Keeps what the library reports: notes, and the progress of each step.
#[derive(Default, Clone)]
pub(super) struct Recorder(pub(super) Arc<Mutex<Vec<String>>>);

impl Reporter for Recorder {
    fn event(&self, event: Event<'_>) {
        let line = match event {
            Event::Started { step, .. } => format!("started {step}"),
            Event::Progress { done } => format!("progress {done}"),
            Event::Finished { step, summary, .. } => format!("finished {step}: {summary}"),
            Event::Note { message, .. } => format!("note {message}"),
            Event::Committed { what } => format!("committed {what}"),
        };
        self.0.lock().unwrap().push(line);
    }
}

/// kill -9 inside the `n`th batch of `t`'s backfill, before its commit: the batches
/// before it stay done, and the resumed migration goes on from the recorded last key
/// (the interrupted batch is the only one done again).
async fn crash_inside_and_resume(t: BackfillTable, n: i64) {
    // Over 1000 runs: the first batch is 1000 keys, so run and conversation take several.
    let (db, c, bot) = seeded(1300).await;
    let before = fingerprint::take(&*c).await.unwrap();
    let range = key_range(&c, t).await;
    crash(&db, &bot, &format!("inside:{}:{n}", t.table()));
    wait_for_the_killed_session(&c).await;

    let step = OnlineStep::Backfill(t);
    let p = progress(&c).await;
    assert_eq!(p.current, Some(step), "{p:?}");
    assert_eq!(p.batches, n - 1, "the batches before the crash are recorded: {p:?}");
    // The range of the backfill: from the key before its first batch to the key captured at its start.
    let (last, max) = (p.last_key.unwrap(), p.max_key.unwrap());
    let min = last - p.rows + 1;
    assert!(last < max && (n > 1) == (p.rows > 0), "{p:?}");
    if t.batched_by() == t.key() {
        assert_eq!((min, max), range, "{p:?}");
    }
    let st = status(&db);
    assert!(st.contains(&format!("Online:    step {}: {} batches done, up to {} {last} of {max}", step.name(), n - 1, t.batched_by())), "{st}");

    // Resumed through the library, to see its batches: the first one of the resumed
    // backfill is number n, and every key is counted once.
    let rec = Recorder::default();
    let mut rc = db.connect().await;
    let r = migrate::migrate(&mut rc, &MigrateOptions { index_jobs: 2, ..MigrateOptions::default() }, &rec).await.unwrap();
    assert_eq!(r.outcome, Outcome::Migrated);
    let events = rec.0.lock().unwrap().clone();
    assert!(
        events.iter().any(|e| e.starts_with("note resuming the online migration") && e.contains(&p.describe())),
        "it says where it resumes: {events:?}"
    );
    let label = format!("started online: {}", step.name());
    let at = events.iter().position(|e| *e == label).unwrap_or_else(|| panic!("{label}: {events:?}"));
    assert_eq!(events.get(at + 1), Some(&format!("progress {n}")), "the resumed backfill goes on with batch {n}: {events:?}");
    let phase = r.phases.iter().find(|ph| ph.name == step.name()).unwrap();
    assert_eq!(phase.counts["keys"], max - min + 1, "each key once: {:?}", phase.counts);
    assert!(phase.counts["batches"] >= n, "{:?}", phase.counts);
    assert!(r.proof.len() == 8 && r.proof.iter().all(|p| p.equal), "{:?}", r.proof);
    let v = r.validation.as_ref().unwrap();
    assert_eq!(v.critical_failures(), 0);
    assert_completed_and_nothing_lost(&db, &c, &before, &proof_lines(&r)).await;
}

/// The report's proof as the CLI prints it, one line per table.
fn proof_lines(r: &migrate::MigrationReport) -> String {
    r.proof.iter().map(|p| format!("│ {} │ {}\n", p.table, if p.equal { "equal" } else { "DIFFERS" })).collect()
}

mod kill_after {
    use super::*;

    #[tokio::test]
    async fn expand() {
        crash_after_and_resume(OnlineStep::Expand).await;
    }
    #[tokio::test]
    async fn chat_index() {
        crash_after_and_resume(OnlineStep::ChatIndex).await;
    }
    #[tokio::test]
    async fn prepare() {
        crash_after_and_resume(OnlineStep::Prepare).await;
    }
    #[tokio::test]
    async fn backfill_run() {
        crash_after_and_resume(OnlineStep::Backfill(BackfillTable::Run)).await;
    }
    #[tokio::test]
    async fn lookup_indexes() {
        crash_after_and_resume(OnlineStep::LookupIndexes).await;
    }
    #[tokio::test]
    async fn backfill_waiting_element() {
        crash_after_and_resume(OnlineStep::Backfill(BackfillTable::WaitingElement)).await;
    }
    #[tokio::test]
    async fn backfill_conversation() {
        crash_after_and_resume(OnlineStep::Backfill(BackfillTable::Conversation)).await;
    }
    #[tokio::test]
    async fn backfill_bannedparticipants() {
        crash_after_and_resume(OnlineStep::Backfill(BackfillTable::Bannedparticipants)).await;
    }
    #[tokio::test]
    async fn backfill_courseparticipants() {
        crash_after_and_resume(OnlineStep::Backfill(BackfillTable::Courseparticipants)).await;
    }
    #[tokio::test]
    async fn backfill_gen_settings() {
        crash_after_and_resume(OnlineStep::Backfill(BackfillTable::GenSettings)).await;
    }
    #[tokio::test]
    async fn indexes() {
        crash_after_and_resume(OnlineStep::Indexes).await;
    }
    #[tokio::test]
    async fn keys() {
        crash_after_and_resume(OnlineStep::Keys).await;
    }

    /// Every step but the switch and its cleanup has its test above (those are in `faults`).
    #[test]
    fn every_step_boundary_is_covered() {
        let names: Vec<&str> = OnlineStep::all().iter().filter(|s| !matches!(s, OnlineStep::Switch | OnlineStep::Cleanup)).map(|s| s.name()).collect();
        assert_eq!(
            names,
            [
                "expand",
                "chat index",
                "prepare",
                "backfill run",
                "lookup indexes",
                "backfill waiting_element",
                "backfill conversation",
                "backfill bannedparticipants",
                "backfill courseparticipants",
                "backfill gen_settings",
                "indexes",
                "keys"
            ]
        );
    }
}

mod kill_inside {
    use super::*;

    #[tokio::test]
    async fn the_first_batch_of_run() {
        crash_inside_and_resume(BackfillTable::Run, 1).await;
    }
    #[tokio::test]
    async fn the_second_batch_of_run() {
        crash_inside_and_resume(BackfillTable::Run, 2).await;
    }
    #[tokio::test]
    async fn the_first_batch_of_conversation() {
        crash_inside_and_resume(BackfillTable::Conversation, 1).await;
    }
    #[tokio::test]
    async fn the_second_batch_of_conversation() {
        crash_inside_and_resume(BackfillTable::Conversation, 2).await;
    }
}
