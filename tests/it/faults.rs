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
