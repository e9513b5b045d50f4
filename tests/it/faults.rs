//! The online migration under faults: legacy writes that arrive while a step is under
//! way get every link of SPEC §3; a kill right after the switch leaves a cleanup that
//! `status` names and `migrate` finishes.

use profochat_saas::schema::{self, SchemaState};

use crate::harness::cli;
use crate::migrate::legacy_with_anomalies;
use crate::online::{chat_index_exists, crash, status, text, wait_for_the_killed_session};

/// The change-log triggers left on the legacy tables.
pub(crate) async fn change_log_triggers(c: &profochat_saas::conn::Db) -> i64 {
    c.query_one("SELECT count(*) FROM pg_trigger WHERE tgname = $1", &[&profochat_saas::migrate::changes::TRIGGER_NAME])
        .await
        .unwrap()
        .get(0)
}

/// Progress rows of the online migration.
pub(crate) async fn progress_rows(c: &profochat_saas::conn::Db) -> i64 {
    c.query_one("SELECT CASE WHEN to_regclass('profochat_saas.online_progress') IS NULL THEN 0 ELSE (SELECT count(*) FROM profochat_saas.online_progress) END", &[])
        .await
        .unwrap()
        .get(0)
}

fn validate_cli(db: &crate::harness::TestDb) -> (Option<i32>, String) {
    let out = cli().args(["validate", "--database-url", &db.url()]).assert();
    let o = out.get_output();
    (o.status.code(), format!("{}\n{}", text(&o.stdout), text(&o.stderr)))
}

/// While "backfill run" is under way (killed inside its first batch: no run of before
/// the migration has its links yet), the legacy bot writes a delay, a course start and
/// a message: each gets the links of SPEC §3 as the backfill gives the rows of before
/// — the delay the newest run of its chat, course and bot, that run not yet linked.
#[tokio::test]
async fn legacy_writes_while_the_run_backfill_is_under_way_get_every_link() {
    let (db, c) = legacy_with_anomalies().await;
    crash(&db, "main_bot", "inside:run:1");
    wait_for_the_killed_session(&c).await;
    let st = status(&db);
    assert!(st.contains("step backfill run"), "{st}");
    let unlinked: i64 = c.query_one("SELECT count(*) FROM run WHERE bot_id IS NULL", &[]).await.unwrap().get(0);
    assert!(unlinked > 0, "the runs of before the migration are not linked yet");

    let till = chrono::NaiveDate::from_ymd_opt(2030, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap();
    let delay = include_str!("../../sql/bench/writer_delay.sql");
    // Chat 100: runs 1..3 on intro, main_bot (run 3 names no bot: the default bot's).
    let d_main: i32 = c.query_one(delay, &[&100i64, &till, &true, &"d1", &"intro", &Some("main_bot")]).await.unwrap().get(0);
    let d_default: i32 = c.query_one(delay, &[&100i64, &till, &true, &"d2", &"intro", &None::<String>]).await.unwrap().get(0);
    // Chat 101: runs 4 and 10 on diverged, second_bot (a course copy that differs between bots).
    let d_second: i32 = c.query_one(delay, &[&101i64, &till, &true, &"d3", &"diverged", &Some("second_bot")]).await.unwrap().get(0);
    // A course start and a message of a run of before the migration.
    let start = include_str!("../../sql/bench/writer_start_course.sql");
    let new_run: i32 = c.query_one(start, &[&"diverged", &"w", &9_000_001i64, &Some("second_bot"), &"t", &"t"]).await.unwrap().get(0);
    let msg = include_str!("../../sql/bench/writer_message.sql");
    let m: i32 = c
        .query_one(msg, &[&101i64, &"diverged", &"bob", &"e1", &"text", &4i32, &"{}", &"user", &"", &1f32, &1f32])
        .await
        .unwrap()
        .get(0);

    let out = cli().args(["migrate", "--yes", "--skip-backup", "--database-url", &db.url()]).assert();
    let o = out.get_output();
    assert!(o.status.success(), "{}\n{}", text(&o.stdout), text(&o.stderr));

    let run_of = |id: i32| {
        let c = &c;
        async move { c.query_one("SELECT run_id FROM waiting_element WHERE waiting_element_id = $1", &[&id]).await.unwrap().get::<_, Option<i32>>(0) }
    };
    assert_eq!(run_of(d_main).await, Some(3), "the newest run of chat 100, intro, main_bot");
    assert_eq!(run_of(d_default).await, Some(3), "no bot name: the default bot's newest run");
    assert_eq!(run_of(d_second).await, Some(10), "the newest run of chat 101, diverged, second_bot");
    // The delay, its run and the run's deployment name one course copy.
    let row = c
        .query_one(
            "SELECT w.course_id = r.course_id, r.course_id = d.course_id AND r.bot_id = d.bot_id
               FROM waiting_element w JOIN run r ON r.run_id = w.run_id JOIN course_deployment d ON d.deployment_id = r.deployment_id
              WHERE w.waiting_element_id = $1",
            &[&d_second],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0) && row.get::<_, bool>(1), "delay {d_second}, its run and deployment: one course copy");
    let deployed: bool = c
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM run r JOIN course_deployment d ON d.deployment_id = r.deployment_id
                             WHERE r.run_id = $1 AND d.course_id = r.course_id AND d.bot_id = r.bot_id)",
            &[&new_run],
        )
        .await
        .unwrap()
        .get(0);
    assert!(deployed, "the course start has its deployment");
    let same: bool = c
        .query_one("SELECT c.course_id = r.course_id FROM conversation c JOIN run r ON r.run_id = c.run_id WHERE c.conversation_id = $1", &[&m])
        .await
        .unwrap()
        .get(0);
    assert!(same, "the message follows its run's course copy");
    let (code, out) = validate_cli(&db);
    assert_eq!(code, Some(0), "{out}");
}

/// A kill right after the switch committed: the migration is completed, its cleanup
/// (change-log triggers, the temporary index, the progress record) is not. `status`
/// names the step, and `migrate` finishes it.
#[tokio::test]
async fn a_kill_right_after_the_switch_leaves_a_cleanup_that_migrate_finishes() {
    let (db, c) = legacy_with_anomalies().await;
    crash(&db, "main_bot", "after:switch");
    wait_for_the_killed_session(&c).await;
    assert_eq!(schema::inspect(&c).await.unwrap().state, SchemaState::Migrated);
    assert_eq!(change_log_triggers(&c).await, 8);
    assert!(chat_index_exists(&c).await);
    let st = status(&db);
    assert!(st.contains("step cleanup under way"), "{st}");
    let (code, out) = validate_cli(&db);
    assert_ne!(code, Some(0), "{out}");
    for left in ["state.online_leftovers", "8 change-log triggers", "the temporary index profochat_saas_run_chat", "1 online progress record(s)"] {
        assert!(out.contains(left), "validate names {left}:\n{out}");
    }

    let out = cli().args(["migrate", "--yes", "--skip-backup", "--database-url", &db.url()]).assert();
    let o = out.get_output();
    let all = format!("{}\n{}", text(&o.stdout), text(&o.stderr));
    assert!(o.status.success(), "{all}");
    assert!(all.contains("cleanup") && !all.contains("nothing was changed"), "{all}");
    assert_eq!(change_log_triggers(&c).await, 0, "the change-log triggers go");
    assert!(!chat_index_exists(&c).await, "the temporary index goes");
    assert_eq!(progress_rows(&c).await, 0, "the progress record goes");
    let writes: i64 = {
        c.batch_execute("INSERT INTO run (course_id, username, chat_id, botname) VALUES ('intro', 'u', 77, 'main_bot')").await.unwrap();
        c.query_one("SELECT CASE WHEN to_regclass('profochat_saas.change_log') IS NULL THEN 0 ELSE 1 END::int8", &[]).await.unwrap().get(0)
    };
    assert_eq!(writes, 0, "no change log is left to grow");
    let st = status(&db);
    assert!(!st.contains("cleanup"), "{st}");
    let (code, out) = validate_cli(&db);
    assert_eq!(code, Some(0), "{out}");
    // Nothing left: a second migrate changes nothing.
    let out = cli().args(["migrate", "--yes", "--skip-backup", "--database-url", &db.url()]).assert().success();
    assert!(text(&out.get_output().stdout).contains("nothing was changed"));
}

/// The checks of the links a fault leaves undone, each seen on a migrated database
/// where one row lacks its link: a waiting element written since the migration without
/// the run its chat, course and bot had, and a message of a run on a renamed course
/// copy left under the legacy course id.
#[tokio::test]
async fn validate_counts_every_row_a_fault_leaves_unlinked() {
    let (db, mut c) = legacy_with_anomalies().await;
    profochat_saas::migrate::migrate(&mut c, &crate::migrate::opts(), &profochat_saas::report::Silent).await.unwrap();
    let (code, out) = validate_cli(&db);
    assert_eq!(code, Some(0), "{out}");

    // As the compatibility layer left it before it found runs not yet backfilled.
    c.batch_execute(
        "INSERT INTO waiting_element (chat_id, waiting_till_date, is_waiting, element_id, course_id, botname, bot_id, account_id)
         SELECT 100, '2030-01-01', true, 'd9', course_id, botname, bot_id, 1 FROM run WHERE run_id = 3",
    )
    .await
    .unwrap();
    let renamed: Option<(i32, String)> = c
        .query_opt(
            "SELECT c.conversation_id, n.legacy_course_id FROM conversation c JOIN run r ON r.run_id = c.run_id
               JOIN profochat_saas.legacy_course_name n ON n.course_id = r.course_id AND n.course_id <> n.legacy_course_id
              ORDER BY 1 LIMIT 1",
            &[],
        )
        .await
        .unwrap()
        .map(|r| (r.get(0), r.get(1)));
    let (conv, legacy_id) = renamed.expect("the anomalies have a message of a run on a renamed course copy");
    c.execute("UPDATE conversation SET course_id = $2 WHERE conversation_id = $1", &[&conv, &legacy_id]).await.unwrap();

    let v = profochat_saas::validate::validate(&c.client, &Default::default()).await.unwrap();
    let failed = |id: &str| v.checks.iter().find(|k| k.id == id).map(|k| (k.passed, k.count, k.severity)).unwrap();
    assert_eq!(failed("waiting_element.run_linked"), (false, 1, profochat_saas::validate::Severity::Critical));
    assert_eq!(failed("conversation.follows_run_copy"), (false, 1, profochat_saas::validate::Severity::Critical));
    let (code, out) = validate_cli(&db);
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("run_id NULL, but run 3 exists"), "{out}");
}

/// The fault matrix: for each step of the online migration, killed (as kill -9) at a
/// point inside it and at its end while the legacy bot writes (the §1 statements of
/// `bench --writer`), then (a) `migrate --abort` gives back the exact legacy database
/// plus every row the bot wrote, and (b) killed again at the same point, `migrate`
/// resumes it to a completed migration, every row linked, `validate` clean, and every
/// row the bot wrote there.
pub(crate) mod matrix {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use profochat_saas::conn::Db;
    use profochat_saas::fingerprint::{self, Fingerprints};

    use super::*;
    use crate::harness::{bin, TestDb};
    use crate::online::{legacy_writer, seeded, Written};

    /// Over 1000 runs: the run and conversation backfills take two batches at least.
    const RUNS: u64 = 1100;

    pub(crate) struct Writer {
        stop: Arc<AtomicBool>,
        task: tokio::task::JoinHandle<Written>,
    }

    impl Writer {
        pub(crate) async fn start(db: &TestDb) -> Writer {
            let stop = Arc::new(AtomicBool::new(false));
            let task = tokio::spawn(legacy_writer(db.connect().await, stop.clone()));
            // It writes before the migration starts too.
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            Writer { stop, task }
        }

        pub(crate) async fn stop(self) -> Written {
            self.stop.store(true, Ordering::Relaxed);
            let w = self.task.await.unwrap();
            assert!(w.errors.is_empty(), "the legacy writes never fail: {:?}", w.errors);
            assert!(!w.runs.is_empty(), "{w:?}");
            w
        }
    }

    pub(crate) async fn cli_blocking(args: Vec<String>) -> (bool, String) {
        tokio::task::spawn_blocking(move || {
            let out = bin().args(&args).stdin(std::process::Stdio::null()).output().unwrap();
            (out.status.success(), format!("{}\n{}", text(&out.stdout), text(&out.stderr)))
        })
        .await
        .unwrap()
    }

    pub(crate) async fn kill_at(db: &TestDb, c: &Db, bot: &str, at: &str) {
        let (b, a) = (bot.to_string(), at.to_string());
        let url = db.url();
        tokio::task::spawn_blocking(move || {
            let mut cmd = bin();
            cmd.args(["migrate", "--yes", "--skip-backup", "--default-bot", &b, "--crash-at", &a, "--database-url", &url]);
            let out = cmd.stdin(std::process::Stdio::null()).output().unwrap();
            assert!(!out.status.success() && out.status.code().is_none(), "{a}: not killed: {}\n{}", text(&out.stdout), text(&out.stderr));
        })
        .await
        .unwrap();
        wait_for_the_killed_session(c).await;
    }

    /// Every row the writer wrote is there (as the legacy schema or the migrated one holds it).
    pub(crate) async fn all_written_present(c: &Db, w: &Written, at: &str) {
        let ids = |v: &[(i32, bool)]| v.iter().map(|x| x.0).collect::<Vec<i32>>();
        let count = |sql: &'static str, ids: Vec<i32>| async move { c.query_one(sql, &[&ids]).await.unwrap().get::<_, i64>(0) as usize };
        assert_eq!(count("SELECT count(*) FROM run WHERE run_id = ANY($1)", ids(&w.runs)).await, w.runs.len(), "{at}: runs");
        let ended: Vec<i32> = w.runs.iter().filter(|r| r.1).map(|r| r.0).collect();
        assert_eq!(count("SELECT count(*) FROM run WHERE run_id = ANY($1) AND is_ended", ended.clone()).await, ended.len(), "{at}: course ends");
        assert_eq!(count("SELECT count(*) FROM conversation WHERE conversation_id = ANY($1)", w.messages.clone()).await, w.messages.len(), "{at}: messages");
        assert_eq!(count("SELECT count(*) FROM waiting_element WHERE waiting_element_id = ANY($1)", ids(&w.delays)).await, w.delays.len(), "{at}: delays");
        let done: Vec<i32> = w.delays.iter().filter(|d| d.1).map(|d| d.0).collect();
        assert_eq!(
            count("SELECT count(*) FROM waiting_element WHERE waiting_element_id = ANY($1) AND is_waiting IS FALSE", done.clone()).await,
            done.len(),
            "{at}: delays done"
        );
        assert_eq!(count("SELECT count(*) FROM bannedparticipants WHERE bannedparticipant_id = ANY($1)", w.bans.clone()).await, w.bans.len(), "{at}: bans");
    }

    /// The legacy tables without the writer's rows, fingerprinted (in a transaction rolled back).
    pub(crate) async fn without_written(c: &mut Db, w: &Written) -> Fingerprints {
        let ids = |v: &[(i32, bool)]| v.iter().map(|x| x.0).collect::<Vec<i32>>();
        let tx = c.client.transaction().await.unwrap();
        tx.execute("DELETE FROM conversation WHERE conversation_id = ANY($1)", &[&w.messages]).await.unwrap();
        tx.execute("DELETE FROM waiting_element WHERE waiting_element_id = ANY($1)", &[&ids(&w.delays)]).await.unwrap();
        tx.execute("DELETE FROM run WHERE run_id = ANY($1)", &[&ids(&w.runs)]).await.unwrap();
        tx.execute("DELETE FROM bannedparticipants WHERE bannedparticipant_id = ANY($1)", &[&w.bans]).await.unwrap();
        let f = fingerprint::take(&tx).await.unwrap();
        tx.rollback().await.unwrap();
        f
    }

    /// (a) kill at `at`, then `migrate --abort`, the writer running throughout.
    async fn abort_trial(db: &TestDb, c: &mut Db, bot: &str, at: &str) {
        let before = fingerprint::take(&**c).await.unwrap();
        let writer = Writer::start(db).await;
        kill_at(db, c, bot, at).await;
        let dir = tempfile::tempdir().unwrap();
        let (ok, out) = cli_blocking(vec![
            "migrate".into(), "--abort".into(), "--yes".into(), "--database-url".into(), db.url(), "--backup-dir".into(),
            dir.path().display().to_string(),
        ])
        .await;
        let w = writer.stop().await;
        assert!(ok, "{at}: the abort failed:\n{out}");
        assert_eq!(schema::inspect(c).await.unwrap().state, SchemaState::Legacy, "{at}");
        all_written_present(c, &w, at).await;
        assert_eq!(without_written(c, &w).await, before, "{at}: the legacy rows of before, exactly");
    }

    /// (b) kill at `at`, then `migrate`, the writer running throughout.
    async fn resume_trial(db: &TestDb, c: &Db, bot: &str, at: &str) {
        let writer = Writer::start(db).await;
        kill_at(db, c, bot, at).await;
        let (ok, out) = cli_blocking(vec!["migrate".into(), "--yes".into(), "--skip-backup".into(), "--database-url".into(), db.url()]).await;
        let w = writer.stop().await;
        assert!(ok, "{at}: the resumed migration failed:\n{out}");
        assert!(!out.contains("DIFFERS"), "{at}: {out}");
        resumed_and_linked(db, c, &w, at).await;
    }

    pub(super) async fn resumed_and_linked(db: &TestDb, c: &Db, w: &Written, at: &str) {
        assert_eq!(schema::inspect(c).await.unwrap().state, SchemaState::Migrated, "{at}");
        all_written_present(c, w, at).await;
        let unlinked: i64 = c
            .query_one(
                "SELECT (SELECT count(*) FROM run WHERE bot_id IS NULL OR (course_id IS NOT NULL AND deployment_id IS NULL))
                      + (SELECT count(*) FROM waiting_element WHERE bot_id IS NULL)
                      + (SELECT count(*) FROM bannedparticipants WHERE bot_id IS NULL)",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(unlinked, 0, "{at}: rows without their links");
        assert_eq!(change_log_triggers(c).await, 0, "{at}");
        assert_eq!(progress_rows(c).await, 0, "{at}");
        let (code, out) = validate_cli(db);
        assert_eq!(code, Some(0), "{at}: validate:\n{out}");
    }

    /// Both trials at one point, on one database: the abort first (back to legacy, the
    /// writer's rows kept), then the resume.
    async fn at(point: &str) {
        let (db, mut c, bot) = seeded(RUNS).await;
        abort_trial(&db, &mut c, &bot, point).await;
        resume_trial(&db, &c, &bot, point).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn expand() {
        at("after:expand").await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn chat_index() {
        at("after:chat index").await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn prepare() {
        at("after:prepare").await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn inside_backfill_run() {
        at("inside:run:2").await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn backfill_run() {
        at("after:backfill run").await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lookup_indexes() {
        at("after:lookup indexes").await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn inside_backfill_waiting_element() {
        at("inside:waiting_element:1").await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn inside_backfill_conversation() {
        at("inside:conversation:2").await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn backfill_conversation() {
        at("after:backfill conversation").await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn inside_backfill_bannedparticipants() {
        at("inside:bannedparticipants:1").await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn inside_backfill_courseparticipants() {
        at("inside:courseparticipants:1").await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn inside_backfill_gen_settings() {
        at("inside:gen_settings:1").await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn backfill_gen_settings() {
        at("after:backfill gen_settings").await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn indexes() {
        at("after:indexes").await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn inside_keys_after_its_not_null_checks() {
        at("inside:keys:1").await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn inside_keys_after_its_first_foreign_key() {
        at("inside:keys:2").await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn keys() {
        at("after:keys").await;
    }

    /// Right after the switch: the migration is completed, so there is nothing to abort;
    /// `migrate` finishes its cleanup with the writer running.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn switch() {
        let (db, c, bot) = seeded(RUNS).await;
        resume_trial(&db, &c, &bot, "after:switch").await;
    }
    /// The migrating session terminated by the server (`pg_terminate_backend` from
    /// another connection) in the middle of the run backfill, after its first batch,
    /// while its second waits for a row the bot holds; the writer runs throughout.
    async fn terminated_in_the_run_backfill(abort: bool) {
        let (db, mut c, bot) = seeded(RUNS).await;
        let before = fingerprint::take(&*c).await.unwrap();
        let writer = Writer::start(&db).await;
        kill_at(&db, &c, &bot, "after:prepare").await;
        let holder = db.connect().await;
        holder.batch_execute("BEGIN; SELECT 1 FROM run WHERE run_id = (SELECT max(run_id) FROM run WHERE bot_id IS NULL) FOR UPDATE").await.unwrap();
        let child = bin()
            .args(["migrate", "--yes", "--skip-backup", "--database-url", &db.url()])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let p = profochat_saas::migrate::online::progress(&c.client).await.unwrap().unwrap();
            if p.current == Some(profochat_saas::state::OnlineStep::Backfill(profochat_saas::state::BackfillTable::Run)) && p.batches >= 1 {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "the run backfill never got past its first batch: {p:?}");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let terminated: i64 = c
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_locks
                  WHERE locktype = 'advisory' AND granted AND objid = ($1::int8 & x'ffffffff'::int8)::oid
                    AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                &[&profochat_saas::state::ADVISORY_KEY],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(terminated, 1, "the migrating session");
        let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
        assert!(out.status.code().is_some_and(|c| c != 0), "migrate ends with an error: {out:?}");
        holder.batch_execute("COMMIT").await.unwrap();
        wait_for_the_killed_session(&c).await;
        let st = status(&db);
        assert!(st.contains("step backfill run: 1 batches done"), "{st}");
        if abort {
            let dir = tempfile::tempdir().unwrap();
            let (ok, out) = cli_blocking(vec![
                "migrate".into(), "--abort".into(), "--yes".into(), "--database-url".into(), db.url(), "--backup-dir".into(),
                dir.path().display().to_string(),
            ])
            .await;
            let w = writer.stop().await;
            assert!(ok, "the abort failed:\n{out}");
            assert_eq!(schema::inspect(&c).await.unwrap().state, SchemaState::Legacy);
            all_written_present(&c, &w, "terminated").await;
            assert_eq!(without_written(&mut c, &w).await, before, "the legacy rows of before, exactly");
        } else {
            let (ok, out) = cli_blocking(vec!["migrate".into(), "--yes".into(), "--skip-backup".into(), "--database-url".into(), db.url()]).await;
            let w = writer.stop().await;
            assert!(ok, "the resumed migration failed:\n{out}");
            resumed_and_linked(&db, &c, &w, "terminated").await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_migrating_session_terminated_by_the_server_then_resumed() {
        terminated_in_the_run_backfill(false).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_migrating_session_terminated_by_the_server_then_aborted() {
        terminated_in_the_run_backfill(true).await;
    }
    /// The server restarted (`pg_ctl restart -m fast` on a private cluster) in the
    /// middle of the run backfill, after its first batch, while its second waits for a
    /// row another session holds: `migrate` resumes it, or `migrate --abort` gives back
    /// the exact legacy database.
    async fn restarted_in_the_run_backfill(abort: bool) {
        use profochat_saas::conn;
        let cluster = tokio::task::spawn_blocking(|| profochat_saas::server::TempCluster::start().expect("a private cluster")).await.unwrap();
        let admin = conn::connect(&cluster.settings()).await.unwrap();
        admin.batch_execute("CREATE DATABASE faults").await.unwrap();
        drop(admin);
        let settings = cluster.settings().with_dbname("faults");
        let url = settings.secret_url();
        let mut c = conn::connect(&settings).await.unwrap();
        c.batch_execute(profochat_saas::sql::LEGACY_SCHEMA).await.unwrap();
        let m = profochat_saas::seed::generate(&mut c, &profochat_saas::seed::SeedOptions { runs: RUNS, seed: 5 }, &profochat_saas::report::Silent)
            .await
            .unwrap();
        let before = fingerprint::take(&*c).await.unwrap();
        let (u, b) = (url.clone(), m.default_bot.clone());
        tokio::task::spawn_blocking(move || {
            let out = bin()
                .args(["migrate", "--yes", "--skip-backup", "--default-bot", &b, "--crash-at", "after:prepare", "--database-url", &u])
                .stdin(std::process::Stdio::null())
                .output()
                .unwrap();
            assert!(out.status.code().is_none(), "{out:?}");
        })
        .await
        .unwrap();
        wait_for_the_killed_session(&c).await;
        let holder = conn::connect(&settings).await.unwrap();
        holder.batch_execute("BEGIN; SELECT 1 FROM run WHERE run_id = (SELECT max(run_id) FROM run) FOR UPDATE").await.unwrap();
        let child = bin()
            .args(["migrate", "--yes", "--skip-backup", "--database-url", &url])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let p = profochat_saas::migrate::online::progress(&c.client).await.unwrap().unwrap();
            if p.current == Some(profochat_saas::state::OnlineStep::Backfill(profochat_saas::state::BackfillTable::Run)) && p.batches >= 1 {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "the run backfill never got past its first batch: {p:?}");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        drop(c);
        drop(holder);
        let cl = tokio::task::spawn_blocking(move || {
            cluster.restart_fast().expect("pg_ctl restart -m fast");
            cluster
        })
        .await
        .unwrap();
        let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
        assert!(out.status.code().is_some_and(|c| c != 0), "migrate ends with an error: {out:?}");
        let mut c = conn::connect(&settings).await.unwrap();
        let p = profochat_saas::migrate::online::progress(&c.client).await.unwrap().unwrap();
        assert_eq!(p.current, Some(profochat_saas::state::OnlineStep::Backfill(profochat_saas::state::BackfillTable::Run)), "{p:?}");
        if abort {
            let dir = tempfile::tempdir().unwrap();
            let (ok, out) =
                cli_blocking(vec!["migrate".into(), "--abort".into(), "--yes".into(), "--database-url".into(), url.clone(), "--backup-dir".into(), dir.path().display().to_string()])
                    .await;
            assert!(ok, "the abort failed:\n{out}");
            assert_eq!(schema::inspect(&c).await.unwrap().state, SchemaState::Legacy);
            assert_eq!(fingerprint::take(&*c).await.unwrap(), before, "the legacy database of before, exactly");
        } else {
            let (ok, out) = cli_blocking(vec!["migrate".into(), "--yes".into(), "--skip-backup".into(), "--database-url".into(), url.clone()]).await;
            assert!(ok, "the resumed migration failed:\n{out}");
            assert_eq!(schema::inspect(&c).await.unwrap().state, SchemaState::Migrated);
            assert_eq!(change_log_triggers(&c).await, 0);
            let v = profochat_saas::validate::validate(&c.client, &Default::default()).await.unwrap();
            assert_eq!(v.critical_failures(), 0, "{}", v.critical_list());
            let id: i32 = c.query_one("SELECT max(migration_id) FROM profochat_saas.migration", &[]).await.unwrap().get(0);
            assert_eq!(fingerprint::take_reconstructed(&*c, id).await.unwrap(), before, "the legacy tables through the archive");
        }
        let _ = &mut c;
        drop(c);
        drop(cl);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_server_restarted_in_a_step_then_resumed() {
        restarted_in_the_run_backfill(false).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_server_restarted_in_a_step_then_aborted() {
        restarted_in_the_run_backfill(true).await;
    }
}
