//! The online migration (the default): killed like kill -9 at every step boundary and
//! inside a batch, it is named by `status` and resumed by `migrate` with at most one
//! batch redone and nothing lost; `migrate --abort` from every step gives back the
//! exact legacy database; a legacy writer during the migration loses nothing; and the
//! refusals (nothing to abort, another migrate running).

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use profochat_saas::conn::Db;
use profochat_saas::fingerprint::{self, Fingerprints};
use profochat_saas::migrate::{self, online, MigrateOptions, Outcome};
use profochat_saas::report::{Event, Reporter, Silent};
use profochat_saas::schema::{self, SchemaState};
use profochat_saas::seed::{self, SeedOptions};
use profochat_saas::state::{BackfillTable, OnlineProgress, OnlineStep};
use profochat_saas::validate;

use crate::harness::{bin, cli, TestDb};
use crate::migrate::{catalog, legacy_with_anomalies};

/// A legacy database filled by the generator: every anomaly kind from 50 runs on,
/// about ten conversation rows per run.
pub(crate) async fn seeded(runs: u64) -> (TestDb, Db, String) {
    let db = TestDb::empty().await;
    let mut c = db.connect().await;
    let m = seed::generate(&mut c, &SeedOptions { runs, seed: 5 }, &Silent).await.unwrap();
    (db, c, m.default_bot)
}

pub(crate) fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `migrate --crash-at WHERE`: the process must die at that point, by a signal, as
/// kill -9 would end it (no core file).
pub(crate) fn crash(db: &TestDb, bot: &str, at: &str) -> Output {
    let mut cmd = bin();
    cmd.args(["migrate", "--yes", "--skip-backup", "--default-bot", bot, "--crash-at", at, "--database-url", &db.url()])
        .stdin(Stdio::null());
    unsafe {
        cmd.pre_exec(|| {
            let none = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
            libc::setrlimit(libc::RLIMIT_CORE, &none);
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    assert!(
        !out.status.success() && out.status.signal().is_some(),
        "{at}: the process should have died by a signal, it ended with {:?}\nstdout: {}\nstderr: {}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

/// Whether a session holds the migration lock of `migrate` on this database.
async fn migration_lock_held(c: &Db) -> bool {
    c.query_one(
        "SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = ($1::int8 & x'ffffffff'::int8)::oid
            AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        &[&profochat_saas::state::ADVISORY_KEY],
    )
    .await
    .unwrap()
    .get(0)
}

/// After kill -9 the server may still run the killed client's last statement for a
/// moment (its session ends when it next talks to the client): waits for that.
pub(crate) async fn wait_for_the_killed_session(c: &Db) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while migration_lock_held(c).await {
        assert!(Instant::now() < deadline, "the killed migrate's session never ended");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub(crate) fn status(db: &TestDb) -> String {
    let out = cli().args(["status", "--database-url", &db.url()]).assert().success();
    text(&out.get_output().stdout)
}

async fn progress(c: &Db) -> OnlineProgress {
    online::progress(&c.client).await.unwrap().expect("an online migration in progress")
}

async fn last_migration_id(c: &Db) -> i32 {
    c.query_one("SELECT max(migration_id) FROM profochat_saas.migration", &[]).await.unwrap().get(0)
}

async fn key_range(c: &Db, t: BackfillTable) -> (i64, i64) {
    let r = c
        .query_one(&format!("SELECT min({k})::int8, max({k})::int8 FROM {t}", k = t.key(), t = t.table()), &[])
        .await
        .unwrap();
    (r.get(0), r.get(1))
}

/// After the resumed migration: the proof of the report equal for all eight tables, no
/// critical failure in `validate`, and the legacy tables reconstructed through the
/// archive exactly as they were before.
async fn assert_completed_and_nothing_lost(db: &TestDb, c: &Db, before: &Fingerprints, stdout: &str) {
    let first_word = |l: &str| l.split(|ch: char| !(ch.is_alphanumeric() || ch == '_')).find(|w| !w.is_empty()).map(str::to_string);
    let proof: Vec<&str> = stdout
        .lines()
        .filter(|l| first_word(l).is_some_and(|w| profochat_saas::sql::LEGACY_TABLES.contains(&w.as_str())))
        .collect();
    assert_eq!(proof.len(), 8, "the proof names the 8 legacy tables:\n{stdout}");
    assert!(proof.iter().all(|l| l.contains("equal") && !l.contains("DIFFERS")), "{stdout}");
    assert_eq!(schema::inspect(c).await.unwrap().state, SchemaState::Migrated);
    let status: String = c.query_one("SELECT status FROM profochat_saas.migration ORDER BY migration_id DESC LIMIT 1", &[]).await.unwrap().get(0);
    assert_eq!(status, "completed");
    assert!(!chat_index_exists(c).await, "the temporary index is dropped at the switch");
    let out = cli().args(["validate", "--database-url", &db.url()]).assert();
    let o = out.get_output();
    assert!(o.status.success(), "validate: {}\n{}", text(&o.stdout), text(&o.stderr));
    let id = last_migration_id(c).await;
    assert_eq!(&fingerprint::take_reconstructed(&**c, id).await.unwrap(), before, "the legacy tables through the archive");
}

pub(crate) async fn chat_index_exists(c: &Db) -> bool {
    c.query_one("SELECT to_regclass('profochat_saas_run_chat') IS NOT NULL", &[]).await.unwrap().get(0)
}

/// From the step "chat index" on, the legacy bot's course end (SPEC §1) and the
/// compatibility layer's supersede find a chat's runs through the temporary index,
/// not by reading the whole table; a build killed halfway (an invalid index) is
/// dropped and built again by the resumed migration, and the switch drops it.
#[tokio::test]
async fn the_bot_finds_a_chats_runs_through_the_temporary_index_until_the_switch() {
    let (db, c, bot) = seeded(60).await;
    crash(&db, &bot, "after:chat index");
    wait_for_the_killed_session(&c).await;
    let plan = |sql: &'static str| {
        let c = &c;
        async move {
            c.batch_execute("SET enable_seqscan = off").await.unwrap();
            let rows = c.query(sql, &[]).await.unwrap();
            c.batch_execute("RESET enable_seqscan").await.unwrap();
            rows.iter().map(|r| r.get::<_, String>(0)).collect::<Vec<_>>().join("\n")
        }
    };
    let end = plan("EXPLAIN UPDATE run SET is_ended = TRUE WHERE chat_id = 42 AND botname = 'main_bot' AND course_id = 'x'").await;
    assert!(end.contains("profochat_saas_run_chat"), "{end}");
    let supersede = plan("EXPLAIN UPDATE run SET is_active = false WHERE bot_id = 1 AND chat_id = 42 AND is_active").await;
    assert!(supersede.contains("profochat_saas_run_chat"), "{supersede}");

    // As a killed CREATE INDEX CONCURRENTLY leaves it: present, not valid.
    c.batch_execute("UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'profochat_saas_run_chat'::regclass").await.unwrap();
    c.batch_execute("UPDATE profochat_saas.online_progress SET done = 'expand', current = 'chat index'").await.unwrap();
    crash(&db, &bot, "after:chat index");
    wait_for_the_killed_session(&c).await;
    let valid: bool = c
        .query_one("SELECT indisvalid FROM pg_index WHERE indexrelid = 'profochat_saas_run_chat'::regclass", &[])
        .await
        .unwrap()
        .get(0);
    assert!(valid, "the invalid leftover is built again");
    let out = cli().args(["migrate", "--yes", "--skip-backup", "--database-url", &db.url()]).assert();
    let o = out.get_output();
    assert!(o.status.success(), "{}\n{}", text(&o.stdout), text(&o.stderr));
    assert!(!chat_index_exists(&c).await, "the switch drops the temporary index");
}

/// A kill right after the switch committed leaves the migration completed and its
/// temporary index in place: `validate` names it (critical: the cleanup is unfinished)
/// and says what drops it, and `migrate` drops it.
#[tokio::test]
async fn a_kill_right_after_the_switch_leaves_the_temporary_index_for_validate_to_name_and_finish_to_drop() {
    let (db, c, bot) = seeded(60).await;
    crash(&db, &bot, "after:switch");
    wait_for_the_killed_session(&c).await;
    assert_eq!(schema::inspect(&c).await.unwrap().state, SchemaState::Migrated);
    assert!(chat_index_exists(&c).await);
    let out = cli().args(["validate", "--database-url", &db.url()]).assert().failure();
    let stdout = text(&out.get_output().stdout);
    assert!(stdout.contains("profochat_saas_run_chat") && stdout.contains("DROP INDEX CONCURRENTLY profochat_saas_run_chat"), "{stdout}");
    assert!(stdout.contains("state.online_leftovers") && stdout.contains("the temporary index profochat_saas_run_chat"), "{stdout}");
    cli().args(["migrate", "--yes", "--skip-backup", "--database-url", &db.url()]).assert().success();
    assert!(!chat_index_exists(&c).await);
}

/// The application may create courses in another account while the migration runs:
/// they are not legacy courses, and the switch does not take them for ones.
#[tokio::test]
async fn a_course_of_another_account_created_during_the_online_migration_does_not_stop_the_switch() {
    let (db, c, bot) = seeded(60).await;
    crash(&db, &bot, "after:keys");
    wait_for_the_killed_session(&c).await;
    c.batch_execute(
        "INSERT INTO account (account_id, name, slug) VALUES (2, 'Second', 'second');
         INSERT INTO bot (account_id, bot_name, bot_token, display_name) VALUES (2, 'app_bot', 'tok-app', 'App bot');
         INSERT INTO course (course_id, bot_name, account_id, yaml) VALUES ('app_intro', 'app_bot', 2, 'app intro');",
    )
    .await
    .unwrap();
    let out = cli().args(["migrate", "--yes", "--skip-backup", "--database-url", &db.url()]).assert();
    let o = out.get_output();
    assert!(o.status.success(), "{}\n{}", text(&o.stdout), text(&o.stderr));
    let validate = cli().args(["validate", "--database-url", &db.url()]).assert().success();
    let stdout = text(&validate.get_output().stdout);
    assert!(!stdout.contains("app_intro"), "{stdout}");
}

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
struct Recorder(Arc<Mutex<Vec<String>>>);

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

/// While `migrate --abort` waits for the legacy tables (a long query holds them), the
/// running bot's writes are not queued behind its lock request: it asks in attempts of
/// at most 200 ms. (One long request would hold every write of the bot for its whole
/// wait: the insert below would run into its 5 s statement timeout.)
#[tokio::test]
async fn while_abort_waits_for_the_tables_the_bots_writes_go_on() {
    let (db, c, bot) = seeded(60).await;
    crash(&db, &bot, "after:keys");
    wait_for_the_killed_session(&c).await;
    let holder = db.connect().await;
    holder.batch_execute("BEGIN; SELECT count(*) FROM run;").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let abort = bin()
        .args(["migrate", "--abort", "--yes", "--database-url", &db.url(), "--backup-dir"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The abort is waiting for its lock (in one of its attempts).
    crate::interrupt::wait_for_a_lock_wait(&c, "run").await;
    let bot_conn = db.connect().await;
    bot_conn.batch_execute("SET statement_timeout = '5s'").await.unwrap();
    for i in 0..5 {
        bot_conn
            .execute("INSERT INTO run (course_id, username, chat_id, botname) VALUES ('intro', 'u', $1, $2)", &[&(880_000_i64 + i), &bot])
            .await
            .unwrap_or_else(|e| panic!("the bot's insert {i} waited behind the abort's lock: {e}"));
    }
    holder.batch_execute("COMMIT").await.unwrap();
    let out = abort.wait_with_output().unwrap();
    assert!(out.status.success(), "abort:\n{}\n{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(schema::inspect(&c).await.unwrap().state, SchemaState::Legacy);
    let kept: i64 = c.query_one("SELECT count(*) FROM run WHERE chat_id >= 880000 AND chat_id < 880005", &[]).await.unwrap().get(0);
    assert_eq!(kept, 5, "the bot's writes during the abort are kept");
}

/// kill -9 at `at`, then `migrate --abort --yes`: the catalog and the legacy tables
/// exactly as before the migration, and `status` says legacy.
async fn crash_and_abort(at: &str) {
    let (db, c) = legacy_with_anomalies().await;
    let cat = catalog(&c).await;
    let fp = fingerprint::take(&*c).await.unwrap();
    crash(&db, "main_bot", at);
    wait_for_the_killed_session(&c).await;
    assert_eq!(schema::inspect(&c).await.unwrap().state, SchemaState::MigrationInProgress, "{at}");
    let dir = tempfile::tempdir().unwrap();
    let out = cli()
        .args(["migrate", "--abort", "--yes", "--database-url", &db.url(), "--backup-dir"])
        .arg(dir.path())
        .assert();
    let o = out.get_output();
    assert!(o.status.success(), "{at}: abort failed:\n{}\n{}", text(&o.stdout), text(&o.stderr));
    assert_eq!(catalog(&c).await, cat, "{at}: the catalog");
    assert_eq!(fingerprint::take(&*c).await.unwrap(), fp, "{at}: the legacy tables");
    assert_eq!(schema::inspect(&c).await.unwrap().state, SchemaState::Legacy, "{at}");
    let st = status(&db);
    assert!(st.contains("State:     legacy"), "{at}: {st}");
    assert!(!st.contains("Online:"), "{at}: {st}");
}

mod abort_after {
    use super::*;

    #[tokio::test]
    async fn expand() {
        crash_and_abort("after:expand").await;
    }
    #[tokio::test]
    async fn chat_index() {
        crash_and_abort("after:chat index").await;
    }
    #[tokio::test]
    async fn prepare() {
        crash_and_abort("after:prepare").await;
    }
    #[tokio::test]
    async fn backfill_run() {
        crash_and_abort("after:backfill run").await;
    }
    #[tokio::test]
    async fn lookup_indexes() {
        crash_and_abort("after:lookup indexes").await;
    }
    #[tokio::test]
    async fn backfill_waiting_element() {
        crash_and_abort("after:backfill waiting_element").await;
    }
    #[tokio::test]
    async fn backfill_conversation() {
        crash_and_abort("after:backfill conversation").await;
    }
    #[tokio::test]
    async fn backfill_bannedparticipants() {
        crash_and_abort("after:backfill bannedparticipants").await;
    }
    #[tokio::test]
    async fn backfill_courseparticipants() {
        crash_and_abort("after:backfill courseparticipants").await;
    }
    #[tokio::test]
    async fn backfill_gen_settings() {
        crash_and_abort("after:backfill gen_settings").await;
    }
    #[tokio::test]
    async fn indexes() {
        crash_and_abort("after:indexes").await;
    }
    #[tokio::test]
    async fn keys() {
        crash_and_abort("after:keys").await;
    }
    #[tokio::test]
    async fn inside_the_first_batch_of_run() {
        crash_and_abort("inside:run:1").await;
    }
    /// Killed once the keys step added its NOT NULL checks (NOT VALID: they hold for
    /// every new row): the rows the abort restores (collapsed duplicate bans, with no
    /// bot) come back only after those checks went.
    #[tokio::test]
    async fn inside_the_keys_step_after_its_not_null_checks() {
        crash_and_abort("inside:keys:1").await;
    }
    /// Killed once the keys step added its first foreign key, NOT VALID.
    #[tokio::test]
    async fn inside_the_keys_step_after_its_first_foreign_key() {
        crash_and_abort("inside:keys:2").await;
    }
}

/// kill -9 while the first step waits for its locks: nothing is in the legacy tables
/// yet, `status` names the step, and `migrate --abort` leaves the exact legacy
/// database, the tool's own record included.
#[tokio::test]
async fn abort_after_a_kill_in_the_first_step_leaves_the_exact_legacy_database() {
    let (db, c) = legacy_with_anomalies().await;
    let cat = catalog(&c).await;
    let fp = fingerprint::take(&*c).await.unwrap();
    let holder = db.connect().await;
    holder.batch_execute("BEGIN; LOCK TABLE conversation IN SHARE MODE").await.unwrap();
    let mut child = bin()
        .args(["migrate", "--yes", "--skip-backup", "--default-bot", "main_bot", "--database-url", &db.url()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    crate::interrupt::wait_for_a_lock_wait(&c, "conversation").await;
    child.kill().unwrap();
    assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
    holder.batch_execute("COMMIT").await.unwrap();
    wait_for_the_killed_session(&c).await;
    assert_eq!(schema::inspect(&c).await.unwrap().state, SchemaState::MigrationInProgress);
    let st = status(&db);
    assert!(st.contains("Online:    step expand under way"), "{st}");
    let dir = tempfile::tempdir().unwrap();
    let out = cli().args(["migrate", "--abort", "--yes", "--database-url", &db.url(), "--backup-dir"]).arg(dir.path()).assert();
    let o = out.get_output();
    assert!(o.status.success(), "{}\n{}", text(&o.stdout), text(&o.stderr));
    assert_eq!(catalog(&c).await, cat);
    assert_eq!(fingerprint::take(&*c).await.unwrap(), fp);
    assert_eq!(schema::inspect(&c).await.unwrap().state, SchemaState::Legacy);
}

/// What the writer wrote, to look for afterwards.
#[derive(Default, Debug)]
pub(crate) struct Written {
    pub runs: Vec<(i32, bool)>,
    pub messages: Vec<i32>,
    pub delays: Vec<(i32, bool)>,
    pub bans: Vec<i32>,
    pub errors: Vec<String>,
    pub statements: u64,
}

fn record(w: &mut Written, r: Result<(), tokio_postgres::Error>) {
    w.statements += 1;
    if let Err(e) = r {
        w.errors.push(profochat_saas::error::pg_error_text(&e));
    }
}

/// The legacy bot's §1 writes on the public tables (the statements of
/// `bench --writer`), one after another until `stop`, every row it wrote recorded.
pub(crate) async fn legacy_writer(c: Db, stop: Arc<AtomicBool>) -> Written {
    let sample: Vec<(i64, String, String)> = c
        // Courses of one bot only: the public tables show a renamed copy under its new id,
        // so a course end written there with the legacy id would reach nothing (SPEC §4:
        // that is what the legacy interface is for).
        .query(
            "SELECT DISTINCT chat_id, course_id, botname FROM run
              WHERE chat_id IS NOT NULL AND botname IS NOT NULL
                AND course_id IN (SELECT course_id FROM course GROUP BY course_id HAVING count(DISTINCT bot_name) = 1)
              ORDER BY 1, 2, 3 LIMIT 50",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert!(!sample.is_empty());
    let mut w = Written::default();
    let mut i = 0usize;
    while !stop.load(Ordering::Relaxed) || i < 10 {
        let (chat, course, bot) = &sample[i % sample.len()];
        // Every fifth start names no bot (the default bot's), one a bot never seen before.
        let bot: Option<String> = match i {
            7 => Some("writer_new_bot".into()),
            _ if i % 5 == 4 => None,
            _ => Some(bot.clone()),
        };
        // A chat of its own: a course end reaches this start's run only.
        let chat = chat * 1000 + i as i64;
        let run = c
            .query_one(
                include_str!("../../sql/bench/writer_start_course.sql"),
                &[course, &"w", &chat, &bot, &"writer", &"online"],
            )
            .await
            .map(|r| r.get::<_, i32>(0));
        let run_id = match run {
            Ok(id) => id,
            Err(e) => {
                record(&mut w, Err(e));
                i += 1;
                continue;
            }
        };
        record(&mut w, Ok(()));
        let msg = c
            .query_one(
                include_str!("../../sql/bench/writer_message.sql"),
                &[&chat, course, &"w", &"e1", &"text", &run_id, &format!("{{\"n\": {i}}}"), &"user", &"", &1f32, &1f32],
            )
            .await
            .map(|r| w.messages.push(r.get(0)));
        record(&mut w, msg);
        let till = chrono::NaiveDate::from_ymd_opt(2030, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap();
        let delay = c
            .query_one(include_str!("../../sql/bench/writer_delay.sql"), &[&chat, &till, &true, &"d1", course, &bot])
            .await
            .map(|r| r.get::<_, i32>(0));
        let done = i % 2 == 0;
        match delay {
            Ok(id) => {
                record(&mut w, Ok(()));
                if done {
                    let r = c.execute(include_str!("../../sql/bench/writer_delay_done.sql"), &[&id]).await.map(|_| ());
                    record(&mut w, r);
                }
                w.delays.push((id, done));
            }
            Err(e) => record(&mut w, Err(e)),
        }
        let ended = i % 3 == 0 && bot.is_some();
        if ended {
            let r = c.execute(include_str!("../../sql/bench/writer_course_end.sql"), &[&chat, &bot, course]).await.map(|_| ());
            record(&mut w, r);
        }
        w.runs.push((run_id, ended));
        if i % 4 == 0 {
            let ban = c
                .query_one(
                    "INSERT INTO bannedparticipants (botname, chat_id, ban_reason) VALUES ($1, $2, 'flood') RETURNING bannedparticipant_id",
                    &[&bot, &chat],
                )
                .await
                .map(|r| w.bans.push(r.get(0)));
            record(&mut w, ban);
        }
        i += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    w
}

/// The no-loss proof of the switch does not yet tell the rows the bot wrote during the
/// migration from lost or changed ones: with a writer it stops the migration there
/// ("the no-loss proof failed"), so this waits for the change-log proof.
#[tokio::test]
async fn a_legacy_writer_during_the_online_migration_loses_nothing() {
    let (db, mut c, bot) = seeded(400).await;
    let stop = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn(legacy_writer(db.connect().await, stop.clone()));
    // Let it write before the migration starts too.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let o = MigrateOptions { default_bot: Some(bot.clone()), index_jobs: 2, ..MigrateOptions::default() };
    let r = migrate::migrate(&mut c, &o, &Silent).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    let w = writer.await.unwrap();
    let r = r.unwrap_or_else(|e| panic!("the online migration under a legacy writer: {e}"));
    assert_eq!(r.outcome, Outcome::Migrated);
    assert!(w.errors.is_empty(), "the legacy writes never fail: {:?}", w.errors);
    assert!(w.runs.len() >= 20, "the writer wrote during the migration: {w:?}");

    // Every row it wrote is there, linked.
    for (run_id, ended) in &w.runs {
        let row = c
            .query_one(
                "SELECT r.bot_id IS NOT NULL AND r.account_id = 1,
                        r.course_id IS NULL OR NOT EXISTS (SELECT 1 FROM course k WHERE k.course_id = r.course_id)
                          OR EXISTS (SELECT 1 FROM course_deployment d WHERE d.deployment_id = r.deployment_id AND d.course_id = r.course_id AND d.bot_id = r.bot_id),
                        coalesce(r.is_ended, false),
                        (SELECT b.bot_name FROM bot b WHERE b.bot_id = r.bot_id) = coalesce(r.botname, $2)
                   FROM run r WHERE r.run_id = $1",
                &[run_id, &bot],
            )
            .await
            .unwrap_or_else(|e| panic!("run {run_id} written during the migration is gone: {e}"));
        let (linked, deployed, is_ended, right_bot): (bool, bool, bool, bool) = (row.get(0), row.get(1), row.get(2), row.get(3));
        assert!(linked && right_bot, "run {run_id} has no bot, or another bot's");
        assert!(deployed, "run {run_id} has a course but not its deployment");
        assert_eq!(is_ended, *ended, "run {run_id}: its course end");
    }
    for id in &w.messages {
        let n: i64 = c.query_one("SELECT count(*) FROM conversation WHERE conversation_id = $1 AND account_id = 1", &[id]).await.unwrap().get(0);
        assert_eq!(n, 1, "message {id} written during the migration");
    }
    for (id, done) in &w.delays {
        let row = c
            .query_one("SELECT bot_id IS NOT NULL, is_waiting FROM waiting_element WHERE waiting_element_id = $1", &[id])
            .await
            .unwrap_or_else(|e| panic!("delay {id} written during the migration is gone: {e}"));
        assert!(row.get::<_, bool>(0), "delay {id} has no bot");
        assert_eq!(row.get::<_, Option<bool>>(1), Some(!done), "delay {id}: its end");
    }
    for id in &w.bans {
        let n: i64 = c.query_one("SELECT count(*) FROM bannedparticipants WHERE bannedparticipant_id = $1 AND bot_id IS NOT NULL", &[id]).await.unwrap().get(0);
        assert_eq!(n, 1, "ban {id} written during the migration");
    }
    let new_bot: i64 = c.query_one("SELECT count(*) FROM bot WHERE bot_name = 'writer_new_bot'", &[]).await.unwrap().get(0);
    assert_eq!(new_bot, 1, "a bot first named during the migration gets its row");
    let v = validate::validate(&c.client, &Default::default()).await.unwrap();
    let critical: Vec<_> = v.checks.iter().filter(|k| !k.passed && k.severity == validate::Severity::Critical).map(|k| (k.id.clone(), k.examples.clone())).collect();
    assert!(critical.is_empty(), "{critical:?}");
    assert!(r.proof.iter().all(|p| p.equal), "{:?}", r.proof);
}

/// Between the prepare step (the compatibility triggers) and the keys step, a legacy
/// write under a bot name never seen, on a course that bot never had, creates the bot
/// and the deployment through the triggers' ON CONFLICT clauses: the keys those name
/// are there from the prepare step on.
#[tokio::test]
async fn legacy_writes_of_a_new_bot_work_before_the_keys_step() {
    let (db, c) = legacy_with_anomalies().await;
    crash(&db, "main_bot", "after:prepare");
    let start = include_str!("../../sql/bench/writer_start_course.sql");
    let run_id: i32 = c
        .query_one(start, &[&"intro", &"u", &8_000_001i64, &Some("brand_new_bot"), &"t", &"t"])
        .await
        .expect("a start on a new bot before the keys step")
        .get(0);
    let delay = include_str!("../../sql/bench/writer_delay.sql");
    let till = chrono::NaiveDate::from_ymd_opt(2030, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap();
    c.query_one(delay, &[&8_000_002i64, &till, &true, &"d1", &"intro", &Some("another_new_bot")])
        .await
        .expect("a delay on another new bot before the keys step");
    let row = c
        .query_one(
            "SELECT b.bot_name, d.course_id FROM run r JOIN bot b ON b.bot_id = r.bot_id JOIN course_deployment d ON d.deployment_id = r.deployment_id WHERE r.run_id = $1",
            &[&run_id],
        )
        .await
        .unwrap();
    assert_eq!((row.get::<_, String>(0), row.get::<_, String>(1)), ("brand_new_bot".to_string(), "intro".to_string()));
    let bots: i64 = c.query_one("SELECT count(*) FROM bot WHERE bot_name IN ('brand_new_bot', 'another_new_bot')", &[]).await.unwrap().get(0);
    assert_eq!(bots, 2);
}

#[tokio::test]
async fn abort_with_nothing_in_progress_is_a_clear_error_with_exit_4() {
    let (db, mut c) = legacy_with_anomalies().await;
    let cat = catalog(&c).await;
    let out = cli().args(["migrate", "--abort", "--yes", "--database-url", &db.url()]).assert().code(4);
    let err = text(&out.get_output().stderr);
    assert!(err.contains("no online migration in progress") && err.contains("legacy") && err.contains("Nothing to abort"), "{err}");
    assert_eq!(catalog(&c).await, cat);
    // Once migrated, abort is the wrong tool and says which is the right one.
    migrate::migrate(&mut c, &crate::migrate::opts(), &Silent).await.unwrap();
    let cat = catalog(&c).await;
    let out = cli().args(["migrate", "--abort", "--yes", "--database-url", &db.url()]).assert().code(4);
    let err = text(&out.get_output().stderr);
    assert!(err.contains("no online migration in progress") && err.contains("profochat-saas rollback"), "{err}");
    assert_eq!(catalog(&c).await, cat);
}

/// One online migrate at a time: while one runs (here held up in its first step by a
/// lock the test holds), a second `migrate` and `migrate --abort` are refused (exit 5)
/// and change nothing; the first then completes.
#[tokio::test]
async fn a_second_migrate_or_an_abort_while_one_runs_is_refused_with_5() {
    let (db, c) = legacy_with_anomalies().await;
    let holder = db.connect().await;
    holder.batch_execute("BEGIN; LOCK TABLE conversation IN SHARE MODE").await.unwrap();
    let mut first = bin()
        .args(["migrate", "--yes", "--skip-backup", "--default-bot", "main_bot", "--database-url", &db.url()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // It has recorded its start and waits for the lock, holding the migration lock.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if migration_lock_held(&c).await && online::progress(&c.client).await.unwrap().is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "the first migrate never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cat = catalog(&c).await;
    let out = cli().args(["migrate", "--yes", "--skip-backup", "--default-bot", "main_bot", "--database-url", &db.url()]).assert().code(5);
    let err = text(&out.get_output().stderr);
    assert!(err.contains("another `profochat-saas migrate` is running") && err.contains("Nothing was changed"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let out = cli().args(["migrate", "--abort", "--yes", "--database-url", &db.url(), "--backup-dir"]).arg(dir.path()).assert().code(5);
    let err = text(&out.get_output().stderr);
    assert!(err.contains("is running") && err.contains("Nothing was changed"), "{err}");
    assert_eq!(catalog(&c).await, cat, "the refused commands changed nothing");

    holder.batch_execute("COMMIT").await.unwrap();
    let code = crate::pty::exit_code(&mut first, Duration::from_secs(120));
    let mut stderr = String::new();
    use std::io::Read;
    first.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(schema::inspect(&c).await.unwrap().state, SchemaState::Migrated);
}

/// A dry run is the one-transaction migration rolled back: with an online migration in
/// progress it has nothing it may run, so it changes nothing (it must not resume it).
#[tokio::test]
async fn a_dry_run_while_an_online_migration_is_in_progress_changes_nothing() {
    let (db, c) = legacy_with_anomalies().await;
    crash(&db, "main_bot", "after:expand");
    wait_for_the_killed_session(&c).await;
    let p = progress(&c).await;
    let cat = catalog(&c).await;
    let fp = fingerprint::take(&*c).await.unwrap();
    let out = cli().args(["migrate", "--dry-run", "--default-bot", "main_bot", "--database-url", &db.url()]).assert();
    let o = out.get_output();
    assert_eq!(catalog(&c).await, cat, "the dry run changed the catalog:\n{}\n{}", text(&o.stdout), text(&o.stderr));
    assert_eq!(progress(&c).await, p, "the dry run moved the online migration on");
    assert_eq!(fingerprint::take(&*c).await.unwrap(), fp);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains("online migration in progress") && err.contains("Nothing was changed"), "{err}");
}

/// `validate` during an online migration that has not switched: not a list of
/// "critical problems", but where the migration stands (as `status` says), the rules
/// that hold already and those pending until the switch, and exit status 13 with what
/// to do (resume or abort).
#[tokio::test]
async fn validate_during_an_interrupted_online_migration_says_where_it_stands_and_exits_13() {
    let (db, c, bot) = seeded(60).await;
    crash(&db, &bot, "after:prepare");
    wait_for_the_killed_session(&c).await;
    let st = status(&db);
    let at = st.lines().find_map(|l| l.strip_prefix("Online:")).expect("status names the step").trim().to_string();
    let out = cli().args(["validate", "--database-url", &db.url()]).assert().code(13);
    let (stdout, stderr) = (text(&out.get_output().stdout), text(&out.get_output().stderr));
    assert!(stdout.contains(&format!("in progress ({at})")) && stdout.contains("pending"), "{at}\n{stdout}");
    assert!(!stdout.contains("critical") && !stdout.contains("FAIL") && !stderr.contains("critical"), "{stdout}\n{stderr}");
    assert!(stderr.contains("migrate --abort") && stderr.contains("resume"), "{stderr}");
    let out = cli().args(["validate", "--json", "--database-url", &db.url()]).assert().code(13);
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["passed"], false);
    assert!(v["pending"].as_array().is_some_and(|p| !p.is_empty()) && v["checks_passed"].as_u64().unwrap() > 0, "{v}");
    // Once resumed to the end, validate passes.
    cli().args(["migrate", "--yes", "--skip-backup", "--database-url", &db.url()]).assert().success();
    cli().args(["validate", "--database-url", &db.url()]).assert().success();
}

/// `migrate`'s report says what it did without misleading: online its rows are steps
/// (the indexes one of them, not counted twice), a backfill counts the key values its
/// batches covered (conversation: run_id values, not rows), counts carry thousands
/// separators; on a finished database it says "finished" and nothing of the legacy bot.
#[tokio::test]
async fn the_online_report_names_steps_key_values_and_counts_plainly() {
    let (db, _c, bot) = seeded(300).await;
    let out = cli().args(["migrate", "--yes", "--skip-backup", "--default-bot", &bot, "--database-url", &db.url()]).assert().success();
    let stdout = text(&out.get_output().stdout);
    assert!(stdout.contains("| step ") && !stdout.contains("| phase "), "{stdout}");
    assert!(!stdout.contains("(after commit)"), "the indexes are one step, not counted twice:\n{stdout}");
    assert!(stdout.contains("backfill conversation") && stdout.contains("run_id values"), "{stdout}");
    assert!(!stdout.contains(", keys "), "{stdout}");
    let conversation = stdout.lines().find(|l| l.starts_with("| conversation")).expect("the proof's conversation row");
    assert!(conversation.contains(','), "thousands separators: {conversation}");
    // The progress lines say the same.
    let stderr = text(&out.get_output().stderr);
    assert!(stderr.contains("backfill conversation: batches") && stderr.contains("run_id values") && !stderr.contains(", keys "), "{stderr}");
    assert!(stderr.contains("legacy rows 3,"), "{stderr}");
}

/// `migrate --offline` on an interrupted online migration refuses before anything (exit
/// 4), says what to run instead, and says once that nothing was changed.
#[tokio::test]
async fn offline_on_an_interrupted_online_migration_refuses_with_one_clear_message() {
    let (db, c) = legacy_with_anomalies().await;
    crash(&db, "main_bot", "after:prepare");
    wait_for_the_killed_session(&c).await;
    let out = cli()
        .args(["migrate", "--offline", "--yes", "--skip-backup", "--database-url", &db.url()])
        .assert()
        .code(4);
    let err = text(&out.get_output().stderr);
    assert!(err.contains("has an online migration in progress") && err.contains("migrate --abort"), "{err}");
    assert_eq!(err.matches("Nothing was changed.").count(), 1, "{err}");
    assert_eq!(schema::inspect(&c).await.unwrap().state, SchemaState::MigrationInProgress);
}

/// Runs `sql` on its own connection when the preflight's analysis is finished: before
/// anything of the migration is in the database (no change log yet), so only the
/// prepare step's comparison with the preflight's snapshot can see it.
struct WriteAfterPreflight {
    url: String,
    sql: Option<&'static str>,
    events: Recorder,
}

impl Reporter for WriteAfterPreflight {
    fn event(&self, event: Event<'_>) {
        let after_preflight = matches!(&event, Event::Finished { step, .. } if *step == "preflight: analyse");
        self.events.event(event);
        if let (true, Some(sql)) = (after_preflight, self.sql) {
            let url = self.url.clone();
            crate::harness::block_on(async move {
                let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
                tokio::spawn(conn);
                let n = client.execute(sql, &[]).await.unwrap();
                assert!(n > 0, "the write changed no row: {sql}");
            });
        }
    }
}

/// The online migration with `sql` written between its preflight and its prepare step:
/// its report, once the proof, the validation and the reconstruction are checked.
async fn migrate_with_a_write_after_the_preflight(sql: Option<&'static str>) -> (TestDb, Db, migrate::MigrationReport) {
    let (db, mut c, bot) = seeded(300).await;
    let rep = WriteAfterPreflight { url: db.url(), sql, events: Recorder::default() };
    let o = MigrateOptions { default_bot: Some(bot), index_jobs: 2, ..MigrateOptions::default() };
    let r = migrate::migrate(&mut c, &o, &rep).await.unwrap_or_else(|e| panic!("{e}\n{:?}", rep.events.0.lock().unwrap()));
    assert_eq!(r.outcome, Outcome::Migrated);
    assert!(r.proof.len() == 8 && r.proof.iter().all(|p| p.equal), "{:?}", r.proof);
    assert_eq!(r.validation.as_ref().unwrap().critical_failures(), 0);
    let leftovers: i64 = c.query_one("SELECT count(*) FROM pg_class WHERE relname LIKE 'preflight\\_%' AND relpersistence = 't'", &[]).await.unwrap().get(0);
    assert_eq!(leftovers, 0, "the preflight's copies of the analysis go with the prepare step");
    // The fingerprint after is the proof's, taken in its snapshot: nothing was written
    // since, so it is the tables' fingerprint now.
    let after: serde_json::Value = c.query_one("SELECT fingerprint_after FROM profochat_saas.migration", &[]).await.unwrap().get(0);
    assert_eq!(serde_json::from_value::<Fingerprints>(after).unwrap(), fingerprint::take(&*c).await.unwrap());
    (db, c, r)
}

async fn archived_deletions(c: &Db, table: &str) -> i64 {
    c.query_one("SELECT count(*) FROM profochat_saas.archive WHERE table_name = $1 AND action = 'deleted'", &[&table]).await.unwrap().get(0)
}

fn analysis_reused(r: &migrate::MigrationReport) -> i64 {
    r.phases.iter().find(|p| p.name == OnlineStep::Prepare.name()).expect("the prepare step").counts["analysis_reused"]
}

/// Nothing written between the preflight and the prepare step: prepare takes the
/// preflight's analysis back instead of running it again, and the migration is the
/// same (proof, validation, every duplicate and orphan the analysis found handled).
#[tokio::test]
async fn the_prepare_step_reuses_the_preflights_analysis_when_nothing_was_written_since() {
    let (_db, c, r) = migrate_with_a_write_after_the_preflight(None).await;
    assert_eq!(analysis_reused(&r), 1);
    let a = r.analysis.as_ref().unwrap();
    assert!(a.duplicate_bans > 0 && a.orphan_run_refs > 0, "the seeded anomalies: {a:?}");
    assert_eq!(archived_deletions(&c, "bannedparticipants").await, a.duplicate_bans);
    assert_eq!(archived_deletions(&c, "courseparticipants").await, a.duplicate_participants);
}

/// A ban changed after the preflight into a duplicate of another (no new key, no new
/// row: only the row's version tells): the prepare step analyses again, and the new
/// duplicate is archived like the others (the preflight's analysis does not have it,
/// and the unique key on bans would stop the migration).
#[tokio::test]
async fn an_update_after_the_preflight_makes_the_prepare_step_analyse_again() {
    const DUPLICATE: &str = "UPDATE bannedparticipants b SET botname = k.botname, chat_id = k.chat_id, excluded = k.excluded
          FROM (SELECT botname, chat_id, excluded FROM bannedparticipants
                 WHERE botname IS NOT NULL AND chat_id IS NOT NULL AND excluded IS NOT NULL ORDER BY bannedparticipant_id LIMIT 1) k
         WHERE b.bannedparticipant_id = (SELECT max(bannedparticipant_id) FROM bannedparticipants)";
    let (_db, c, r) = migrate_with_a_write_after_the_preflight(Some(DUPLICATE)).await;
    assert_eq!(analysis_reused(&r), 0);
    let a = r.analysis.as_ref().unwrap();
    assert_eq!(archived_deletions(&c, "bannedparticipants").await, a.duplicate_bans);
}

/// A run deleted after the preflight (its conversation rows become orphans; no key
/// grows, no row version is new: only the count tells): the prepare step analyses again.
#[tokio::test]
async fn a_delete_after_the_preflight_makes_the_prepare_step_analyse_again() {
    const DELETE: &str = "DELETE FROM run WHERE run_id = (SELECT min(c.run_id) FROM conversation c JOIN run r USING (run_id))";
    let (_db, c, r) = migrate_with_a_write_after_the_preflight(Some(DELETE)).await;
    assert_eq!(analysis_reused(&r), 0);
    let detached: i64 = c
        .query_one("SELECT count(*) FROM profochat_saas.archive WHERE table_name = 'conversation' AND reason LIKE '%points at no run%'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(detached, r.analysis.as_ref().unwrap().orphan_run_refs);
}
