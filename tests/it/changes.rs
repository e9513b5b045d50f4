//! The change log of an online migration and the no-loss proof that accounts for the
//! application's writes: a "bot" connection writes while the test plays the migration
//! (writes with profochat_saas.backfill on, archived as the migration archives).

use profochat_saas::conn::Db;
use profochat_saas::migrate::changes::{self, Before};
use profochat_saas::migrate::TableProof;
use profochat_saas::target;

use crate::harness::TestDb;

const MIGRATION: i32 = 7;

const ROWS: &str = "
    INSERT INTO run (run_id, chat_id, username, botname, course_id, is_ended, date_inserted) VALUES
        (1, 10, 'анна', 'bot_a', 'c1', NULL, '2024-01-01 10:00'), (2, 11, 'o''brien', NULL, NULL, true, NULL),
        (3, 12, NULL, 'bot_b', 'c2', false, '2024-01-02 10:00:00.123456');
    SELECT setval('run_run_id_seq1', 100);
    INSERT INTO conversation (conversation_id, chat_id, course_id, element_id, role, json, score, run_id) VALUES
        (1, 10, 'c1', 'm1_q1', 'user', '{\"a\": 1}', 1, 1), (2, 11, NULL, NULL, 'assistant', NULL, NULL, 99),
        (3, 12, 'c2', 'm1_q1', 'user', 'x', 0.5, 3);
    SELECT setval('conversation_conversation_id_seq', 100);
    INSERT INTO waiting_element (waiting_element_id, chat_id, waiting_till_date, is_waiting, element_id, course_id, botname) VALUES
        (1, 10, '2024-02-01', true, 'm1_q2', 'c1', 'bot_a'), (2, 12, NULL, NULL, NULL, NULL, NULL);
    INSERT INTO course (course_id, bot_name, creator_id, yaml, date_created) VALUES
        ('c1', 'bot_a', 5, 'x: 1', '2023-05-05'), ('c1', 'bot_b', NULL, 'x: 2', NULL), ('c2', 'bot_b', 6, 'y: 1', '2023-06-06');
    INSERT INTO course_element (course_element_id, element_id, json, element_type, course_id, bot_name) VALUES
        (1, 'm1_q1', '{}', 'text', 'c1', 'bot_a'), (2, 'm1_q1', '{}', 'text', 'c1', 'bot_b'),
        (3, 'm1_q1', '{\"q\": \"?\"}', 'quiz', 'c2', 'bot_b'), (4, 'm1_q2', NULL, 'text', 'c2', 'bot_b');
    SELECT setval('course_element_id_seq', 100);
    INSERT INTO courseparticipants (courseparticipant_id, course_id, username) VALUES (1, 'c1', 'анна'), (2, 'c1', NULL);
    SELECT setval('courseparticipant_id_seq', 100);
    INSERT INTO bannedparticipants (bannedparticipant_id, botname, chat_id, ban_reason, excluded, banned_at) VALUES
        (1, 'bot_a', 13, 'spam', 0, '2024-01-03'), (2, 'bot_a', 13, 'spam', 0, '2024-01-04');
    SELECT setval('bannedparticipant_id_seq', 100);
    INSERT INTO gen_settings (id, bot_name, s_key, s_value) VALUES (1, NULL, 'allowed', '1,2'), (2, 'bot_a', 'model', 'x');
";

/// A legacy database with rows, the tool's state schema, a migration record and the
/// change log installed.
async fn installed() -> (TestDb, Db) {
    let db = TestDb::legacy().await;
    let c = db.connect().await;
    c.batch_execute(ROWS).await.unwrap();
    c.batch_execute(target::sql::STATE).await.unwrap();
    c.batch_execute(&format!(
        "INSERT INTO profochat_saas.migration (migration_id, schema_version, tool_version, status) VALUES ({MIGRATION}, 1, 't', 'running')"
    ))
    .await
    .unwrap();
    changes::install(&c).await.unwrap();
    (db, c)
}

/// The tool's own writes: the setting on, in one transaction.
async fn as_tool(c: &Db, sql: &str) {
    c.batch_execute(&format!("BEGIN; SET LOCAL profochat_saas.backfill = on; {sql}; COMMIT")).await.unwrap();
}

fn table<'a>(proof: &'a [TableProof], t: &str) -> &'a TableProof {
    proof.iter().find(|p| p.table == t).unwrap()
}

/// (inserted, updated, deleted, inserted then deleted) by the application.
fn app(proof: &[TableProof], t: &str) -> (i64, i64, i64, i64) {
    let p = table(proof, t);
    let [inserted, updated, deleted] = p.written_meanwhile.expect("an online proof says what was written meanwhile");
    (inserted, updated, deleted, p.written_then_gone.expect("an online proof says what was written and gone"))
}

async fn log_rows(c: &Db) -> i64 {
    c.query_one("SELECT count(*) FROM profochat_saas.change_log", &[]).await.unwrap().get(0)
}

#[tokio::test]
async fn without_writes_the_proof_is_the_offline_one() {
    let (_db, mut c) = installed().await;
    let before = changes::before(&mut c).await.unwrap();
    let proof = changes::prove_in_snapshot(&mut c, MIGRATION, &before).await.unwrap();
    assert_eq!(proof.len(), 8);
    assert!(changes::unequal(&proof).is_empty(), "{proof:#?}");
    for p in &proof {
        assert_eq!(app(&proof, &p.table), (0, 0, 0, 0), "{}", p.table);
        assert_eq!(p.before, before.fingerprints.tables[&p.table], "{}", p.table);
        assert_eq!(p.after, p.before, "{}", p.table);
    }
    assert_eq!(table(&proof, "run").rows_now, 3);
    // The before-image survives its trip through the migration record.
    let json = serde_json::to_value(&before).unwrap();
    assert_eq!(serde_json::from_value::<Before>(json).unwrap(), before);
}

#[tokio::test]
async fn the_applications_writes_and_the_tools_archived_changes_are_both_accounted_for() {
    let (db, mut c) = installed().await;
    // The migration has added columns before (or while) the log is installed.
    c.batch_execute(
        "ALTER TABLE run ADD COLUMN account_id int4 NOT NULL DEFAULT 1, ADD COLUMN is_active bool DEFAULT true;
         ALTER TABLE course ADD COLUMN account_id int4 NOT NULL DEFAULT 1, ADD COLUMN title text;",
    )
    .await
    .unwrap();
    changes::install(&c).await.unwrap();
    let before = changes::before(&mut c).await.unwrap();
    c.batch_execute("ALTER TABLE bannedparticipants ADD COLUMN metadata jsonb").await.unwrap();

    let bot = db.connect().await;
    // run: a start, a course ended twice over (the same row updated twice), a run
    // started and deleted again, and a change of the new columns alone (not logged).
    bot.batch_execute(
        "INSERT INTO run (course_id, username, chat_id, botname, utm_source, utm_campaign) VALUES ('c1', 'new', 20, 'bot_a', 'ad', NULL);
         UPDATE run SET is_ended = true WHERE chat_id = 10 AND botname = 'bot_a';
         UPDATE run SET is_ended = false, username = 'анна2' WHERE run_id = 1;
         INSERT INTO run (run_id, course_id, chat_id, botname) VALUES (500, 'c2', 21, 'bot_b');
         DELETE FROM run WHERE run_id = 500;
         UPDATE run SET is_active = false WHERE run_id = 3;",
    )
    .await
    .unwrap();
    // conversation: two messages; waiting_element: a delay done.
    bot.batch_execute(
        "INSERT INTO conversation (chat_id, course_id, username, element_id, element_type, run_id, json, role, report, score, maxscore)
              VALUES (20, 'c1', 'new', 'm1_q1', 'text', 101, '{}', 'user', NULL, NULL, NULL),
                     (20, 'c1', 'new', 'm1_q1', 'text', 101, '{}', 'assistant', 'r', 1, 1);
         UPDATE waiting_element SET is_waiting = FALSE WHERE waiting_element_id = 1;",
    )
    .await
    .unwrap();
    // course: the bot publishes c2 again (its rows deleted and written anew) and edits
    // c1 of bot_b before the tool renames it (below).
    bot.batch_execute(
        "DELETE FROM course_element WHERE course_id = 'c2' AND bot_name = 'bot_b';
         DELETE FROM course WHERE course_id = 'c2' AND bot_name = 'bot_b';
         INSERT INTO course (course_id, bot_name, creator_id, yaml) VALUES ('c2', 'bot_b', 6, 'y: 2');
         INSERT INTO course_element (bot_name, course_id, element_id, json, element_type) VALUES ('bot_b', 'c2', 'm1_q1', '{}', 'text');
         UPDATE course SET yaml = 'x: 3' WHERE course_id = 'c1' AND bot_name = 'bot_b';",
    )
    .await
    .unwrap();
    // bans, participants, settings.
    bot.batch_execute(
        "INSERT INTO bannedparticipants (botname, chat_id, ban_reason) VALUES ('bot_b', 30, 'flood');
         DELETE FROM courseparticipants WHERE courseparticipant_id = 2;
         UPDATE gen_settings SET s_value = '1,2,3' WHERE id = 1;",
    )
    .await
    .unwrap();

    // The tool: an updated value (an orphan run_id detached), a deleted row (a duplicate
    // ban collapsed), an inserted row (a course from references), a course renamed with
    // its element following it, a run deactivated (a new column only). Each archived.
    as_tool(
        &c,
        &format!(
            "UPDATE conversation SET run_id = NULL WHERE conversation_id = 2;
             INSERT INTO profochat_saas.archive (migration_id, table_name, action, key, row, reason)
                  VALUES ({MIGRATION}, 'conversation', 'updated', '{{\"conversation_id\": 2}}', '{{\"run_id\": 99}}', 'orphan');
             INSERT INTO profochat_saas.archive (migration_id, table_name, action, key, row, reason)
                  SELECT {MIGRATION}, 'bannedparticipants', 'deleted', jsonb_build_object('bannedparticipant_id', bannedparticipant_id),
                         jsonb_build_object('bannedparticipant_id', bannedparticipant_id, 'botname', botname, 'chat_id', chat_id,
                                            'banned_at', banned_at, 'ban_reason', ban_reason, 'excluded', excluded), 'duplicate'
                    FROM bannedparticipants WHERE bannedparticipant_id = 2;
             DELETE FROM bannedparticipants WHERE bannedparticipant_id = 2;
             INSERT INTO course (course_id, bot_name, title) VALUES ('c9', 'bot_a', 'c9');
             INSERT INTO profochat_saas.archive (migration_id, table_name, action, key, row, reason)
                  VALUES ({MIGRATION}, 'course', 'inserted', '{{\"course_id\": \"c9\", \"bot_name\": \"bot_a\"}}', NULL, 'references');
             UPDATE course SET course_id = 'c1__bot_b' WHERE course_id = 'c1' AND bot_name = 'bot_b';
             INSERT INTO profochat_saas.archive (migration_id, table_name, action, key, row, reason)
                  VALUES ({MIGRATION}, 'course', 'updated', '{{\"course_id\": \"c1__bot_b\", \"bot_name\": \"bot_b\"}}', '{{\"course_id\": \"c1\"}}', 'renamed');
             UPDATE course_element SET course_id = 'c1__bot_b' WHERE course_element_id = 2;
             INSERT INTO profochat_saas.archive (migration_id, table_name, action, key, row, reason)
                  VALUES ({MIGRATION}, 'course_element', 'updated', '{{\"course_element_id\": 2}}', '{{\"course_id\": \"c1\"}}', 'renamed');
             UPDATE run SET is_active = false WHERE run_id = 2;
             INSERT INTO profochat_saas.archive (migration_id, table_name, action, key, row, reason)
                  VALUES ({MIGRATION}, 'run', 'updated', '{{\"run_id\": 2}}', '{{\"is_active\": true}}', 'superseded')"
        ),
    )
    .await;
    // After the tool, the bot writes again: a message on the renamed course, a ban.
    bot.batch_execute(
        "INSERT INTO conversation (chat_id, course_id, role, run_id) VALUES (12, 'c1__bot_b', 'user', 3);
         INSERT INTO bannedparticipants (botname, chat_id, ban_reason) VALUES ('bot_a', 31, 'flood');",
    )
    .await
    .unwrap();

    let proof = changes::prove_in_snapshot(&mut c, MIGRATION, &before).await.unwrap();
    assert!(changes::unequal(&proof).is_empty(), "{proof:#?}");
    assert_eq!(app(&proof, "run"), (1, 1, 0, 1));
    assert_eq!(app(&proof, "conversation"), (3, 0, 0, 0));
    assert_eq!(app(&proof, "waiting_element"), (0, 1, 0, 0));
    // c2 of bot_b deleted and written anew: the same key, updated; c1 of bot_b edited.
    assert_eq!(app(&proof, "course"), (0, 2, 0, 0));
    assert_eq!(app(&proof, "course_element"), (1, 0, 2, 0));
    assert_eq!(app(&proof, "bannedparticipants"), (2, 0, 0, 0));
    assert_eq!(app(&proof, "courseparticipants"), (0, 0, 1, 0));
    assert_eq!(app(&proof, "gen_settings"), (0, 1, 0, 0));
    let course = table(&proof, "course");
    assert_eq!((course.archived_inserted, course.archived_updated, course.archived_deleted), (1, 1, 0));
    assert_eq!(course.rows_now, 4);
    // Before, without the two courses the bot changed: c1 of bot_a alone.
    assert_eq!(course.before.rows, 1);
    assert_eq!(table(&proof, "bannedparticipants").archived_deleted, 1);
    assert_eq!(table(&proof, "run").archived_updated, 1);
    assert_eq!(table(&proof, "run").before.rows, 2);

    // The same proof inside a plain REPEATABLE READ transaction of the caller.
    let tx = c
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .start()
        .await
        .unwrap();
    assert_eq!(changes::prove(&tx, MIGRATION, &before).await.unwrap(), proof);
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn the_bot_changing_rows_the_tool_changed_first_is_accounted_for() {
    let (db, mut c) = installed().await;
    let before = changes::before(&mut c).await.unwrap();
    // The tool first: a course renamed and a run following it, a course from references,
    // a merged copy deleted, an orphan run_id detached. Each archived.
    as_tool(
        &c,
        &format!(
            "UPDATE course SET course_id = 'c1__bot_b' WHERE course_id = 'c1' AND bot_name = 'bot_b';
             INSERT INTO profochat_saas.archive (migration_id, table_name, action, key, row, reason)
                  VALUES ({MIGRATION}, 'course', 'updated', '{{\"course_id\": \"c1__bot_b\", \"bot_name\": \"bot_b\"}}', '{{\"course_id\": \"c1\"}}', 'renamed');
             UPDATE run SET course_id = 'c2__bot_b' WHERE run_id = 3;
             INSERT INTO profochat_saas.archive (migration_id, table_name, action, key, row, reason)
                  VALUES ({MIGRATION}, 'run', 'updated', '{{\"run_id\": 3}}', '{{\"course_id\": \"c2\"}}', 'renamed');
             INSERT INTO course (course_id, bot_name) VALUES ('c9', 'bot_a');
             INSERT INTO profochat_saas.archive (migration_id, table_name, action, key, row, reason)
                  VALUES ({MIGRATION}, 'course', 'inserted', '{{\"course_id\": \"c9\", \"bot_name\": \"bot_a\"}}', NULL, 'references');
             INSERT INTO profochat_saas.archive (migration_id, table_name, action, key, row, reason)
                  SELECT {MIGRATION}, 'course', 'deleted', jsonb_build_object('course_id', course_id, 'bot_name', bot_name),
                         jsonb_build_object('course_id', course_id, 'bot_name', bot_name, 'creator_id', creator_id,
                                            'date_created', date_created, 'yaml', yaml), 'merged'
                    FROM course WHERE course_id = 'c2' AND bot_name = 'bot_b';
             DELETE FROM course WHERE course_id = 'c2' AND bot_name = 'bot_b';
             UPDATE conversation SET run_id = NULL WHERE conversation_id = 2;
             INSERT INTO profochat_saas.archive (migration_id, table_name, action, key, row, reason)
                  VALUES ({MIGRATION}, 'conversation', 'updated', '{{\"conversation_id\": 2}}', '{{\"run_id\": 99}}', 'orphan')"
        ),
    )
    .await;
    // Then the bot, on those very rows: edits the renamed course, ends the renamed run,
    // publishes the course made from references (deleted and written anew) and the
    // merged copy again, and a message is removed by hand.
    let bot = db.connect().await;
    bot.batch_execute(
        "UPDATE course SET yaml = 'x: 9' WHERE course_id = 'c1__bot_b' AND bot_name = 'bot_b';
         UPDATE run SET is_ended = true WHERE chat_id = 12 AND botname = 'bot_b';
         DELETE FROM course WHERE course_id = 'c9' AND bot_name = 'bot_a';
         INSERT INTO course (course_id, bot_name, yaml) VALUES ('c9', 'bot_a', 'z: 1');
         INSERT INTO course (course_id, bot_name, yaml) VALUES ('c2', 'bot_b', 'y: 3');
         DELETE FROM conversation WHERE conversation_id = 2;",
    )
    .await
    .unwrap();
    let proof = changes::prove_in_snapshot(&mut c, MIGRATION, &before).await.unwrap();
    assert!(changes::unequal(&proof).is_empty(), "{proof:#?}");
    // c9 did not exist before: inserted; c1 and c2 of bot_b existed: updated.
    assert_eq!(app(&proof, "course"), (1, 2, 0, 0));
    assert_eq!(app(&proof, "run"), (0, 1, 0, 0));
    assert_eq!(app(&proof, "conversation"), (0, 0, 1, 0));
    assert_eq!(table(&proof, "course").before.rows, 1);
}

#[tokio::test]
async fn a_change_behind_the_tools_back_fails_the_proof_naming_its_table() {
    let (_db, mut c) = installed().await;
    let before = changes::before(&mut c).await.unwrap();
    // The setting on, but nothing archived: not the application's, not accounted for.
    as_tool(&c, "UPDATE gen_settings SET s_value = 'changed' WHERE id = 2").await;
    let proof = changes::prove_in_snapshot(&mut c, MIGRATION, &before).await.unwrap();
    assert_eq!(changes::unequal(&proof), ["gen_settings"]);
    assert_eq!(app(&proof, "gen_settings"), (0, 0, 0, 0));
    // A write with the trigger disabled is not logged either: the proof fails.
    c.batch_execute(
        "ALTER TABLE course_element DISABLE TRIGGER profochat_saas_change_log;
         DELETE FROM course_element WHERE course_element_id = 4;
         ALTER TABLE course_element ENABLE TRIGGER profochat_saas_change_log;",
    )
    .await
    .unwrap();
    let proof = changes::prove_in_snapshot(&mut c, MIGRATION, &before).await.unwrap();
    assert_eq!(changes::unequal(&proof), ["course_element", "gen_settings"]);
    // A wrong archived value fails it too, though the row was changed by the tool.
    as_tool(
        &c,
        &format!(
            "UPDATE conversation SET run_id = NULL WHERE conversation_id = 2;
             INSERT INTO profochat_saas.archive (migration_id, table_name, action, key, row, reason)
                  VALUES ({MIGRATION}, 'conversation', 'updated', '{{\"conversation_id\": 2}}', '{{\"run_id\": 98}}', 'orphan')"
        ),
    )
    .await;
    let proof = changes::prove_in_snapshot(&mut c, MIGRATION, &before).await.unwrap();
    assert_eq!(changes::unequal(&proof), ["conversation", "course_element", "gen_settings"]);
}

#[tokio::test]
async fn a_write_committed_before_the_before_image_is_part_of_it() {
    let (db, mut c) = installed().await;
    let bot = db.connect().await;
    bot.batch_execute(
        "INSERT INTO run (course_id, chat_id, botname) VALUES ('c1', 40, 'bot_a');
         UPDATE gen_settings SET s_value = 'y' WHERE id = 2;
         DELETE FROM courseparticipants WHERE courseparticipant_id = 1;",
    )
    .await
    .unwrap();
    assert_eq!(log_rows(&c).await, 3, "the writes are logged");
    let before = changes::before(&mut c).await.unwrap();
    assert_eq!(before.fingerprints.tables["run"].rows, 4);
    let proof = changes::prove_in_snapshot(&mut c, MIGRATION, &before).await.unwrap();
    assert!(changes::unequal(&proof).is_empty(), "{proof:#?}");
    for p in &proof {
        assert_eq!(app(&proof, &p.table), (0, 0, 0, 0), "{}", p.table);
        assert_eq!(p.before, before.fingerprints.tables[&p.table], "{}", p.table);
    }
}

#[tokio::test]
async fn a_write_in_flight_at_the_before_image_is_counted_once_committed() {
    let (db, mut c) = installed().await;
    let mut bot = db.connect().await;
    let tx = bot.transaction().await.unwrap();
    tx.batch_execute(
        "INSERT INTO run (course_id, chat_id, botname) VALUES ('c1', 41, 'bot_a');
         UPDATE waiting_element SET is_waiting = false WHERE waiting_element_id = 1;
         DELETE FROM bannedparticipants WHERE bannedparticipant_id = 1;",
    )
    .await
    .unwrap();
    // The before-image does not see the open transaction's rows.
    let before = changes::before(&mut c).await.unwrap();
    assert_eq!(before.fingerprints.tables["run"].rows, 3);
    tx.commit().await.unwrap();
    let proof = changes::prove_in_snapshot(&mut c, MIGRATION, &before).await.unwrap();
    assert!(changes::unequal(&proof).is_empty(), "{proof:#?}");
    assert_eq!(app(&proof, "run"), (1, 0, 0, 0));
    assert_eq!(app(&proof, "waiting_element"), (0, 1, 0, 0));
    assert_eq!(app(&proof, "bannedparticipants"), (0, 0, 1, 0));
    assert_eq!(table(&proof, "run").rows_now, 4);

    // A transaction that takes its id only after the snapshot counts as well.
    let tx = bot.transaction().await.unwrap();
    tx.batch_execute("SELECT 1").await.unwrap();
    let before = changes::before(&mut c).await.unwrap();
    tx.batch_execute("UPDATE gen_settings SET bot_name = 'bot_b' WHERE id = 1").await.unwrap();
    tx.commit().await.unwrap();
    let proof = changes::prove_in_snapshot(&mut c, MIGRATION, &before).await.unwrap();
    assert!(changes::unequal(&proof).is_empty(), "{proof:#?}");
    assert_eq!(app(&proof, "gen_settings"), (0, 1, 0, 0));
}

#[tokio::test]
async fn a_key_change_by_the_application_is_logged_under_both_keys() {
    let (db, mut c) = installed().await;
    let before = changes::before(&mut c).await.unwrap();
    let bot = db.connect().await;
    bot.batch_execute("UPDATE course SET course_id = 'c3' WHERE course_id = 'c2' AND bot_name = 'bot_b'").await.unwrap();
    let rows = c
        .query("SELECT action, key::text, old_hash IS NOT NULL FROM profochat_saas.change_log ORDER BY change_id", &[])
        .await
        .unwrap();
    let got: Vec<(String, String, bool)> = rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
    assert_eq!(
        got,
        [
            ("updated".into(), r#"{"bot_name": "bot_b", "course_id": "c2"}"#.into(), true),
            ("inserted".into(), r#"{"bot_name": "bot_b", "course_id": "c3"}"#.into(), false),
        ]
    );
    let proof = changes::prove_in_snapshot(&mut c, MIGRATION, &before).await.unwrap();
    assert!(changes::unequal(&proof).is_empty(), "{proof:#?}");
    assert_eq!(app(&proof, "course"), (1, 1, 0, 0));
}

#[tokio::test]
async fn before_refuses_without_the_log_and_install_is_idempotent() {
    let db = TestDb::legacy().await;
    let mut c = db.connect().await;
    let err = changes::before(&mut c).await.unwrap_err();
    assert!(err.to_string().contains("change log is not installed"), "{err}");
    changes::install(&c).await.unwrap();
    changes::install(&c).await.unwrap();
    let n: i64 = c
        .query_one("SELECT count(*) FROM pg_trigger WHERE tgname = 'profochat_saas_change_log'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 8);
    assert!(changes::installed(&*c).await.unwrap());
    // A disabled trigger is enabled again by install.
    c.batch_execute("ALTER TABLE run DISABLE TRIGGER profochat_saas_change_log").await.unwrap();
    assert!(!changes::installed(&*c).await.unwrap());
    changes::install(&c).await.unwrap();
    assert!(changes::installed(&*c).await.unwrap());
    changes::before(&mut c).await.unwrap();
}

#[tokio::test]
async fn install_waits_for_the_bots_open_write_in_short_attempts() {
    let (db, c) = installed().await;
    changes::remove(&c).await.unwrap();
    let mut bot = db.connect().await;
    let tx = bot.transaction().await.unwrap();
    tx.batch_execute("INSERT INTO run (chat_id) VALUES (50)").await.unwrap();
    let install = tokio::spawn({
        let settings = db.settings.clone();
        async move {
            let c = profochat_saas::conn::connect(&settings).await.unwrap();
            changes::install(&c).await
        }
    });
    // Meanwhile other sessions keep writing to run: they never queue behind install.
    let other = db.connect().await;
    for i in 0..5 {
        let t = std::time::Instant::now();
        other.execute("INSERT INTO run (chat_id) VALUES ($1)", &[&(60i64 + i)]).await.unwrap();
        assert!(t.elapsed() < std::time::Duration::from_millis(900), "a write waited {:?}", t.elapsed());
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    }
    assert!(!install.is_finished(), "install waits while the bot's transaction is open");
    tx.commit().await.unwrap();
    install.await.unwrap().unwrap();
    assert!(changes::installed(&*c).await.unwrap());
}

#[tokio::test]
async fn remove_leaves_no_trigger_function_or_table() {
    let (_db, c) = installed().await;
    changes::remove(&c).await.unwrap();
    let row = c
        .query_one(
            "SELECT (SELECT count(*) FROM pg_trigger WHERE tgname = 'profochat_saas_change_log'),
                    (SELECT count(*) FROM pg_proc WHERE proname LIKE 'change\\_log\\_%'
                        AND pronamespace = 'profochat_saas'::regnamespace),
                    to_regclass('profochat_saas.change_log') IS NULL
                        AND to_regclass('profochat_saas.archive_change_log_key') IS NULL",
            &[],
        )
        .await
        .unwrap();
    assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1), row.get::<_, bool>(2)), (0, 0, true));
    // Removing again is harmless; the bot writes as before.
    changes::remove(&c).await.unwrap();
    c.batch_execute("INSERT INTO run (chat_id) VALUES (1); DELETE FROM run WHERE chat_id = 1").await.unwrap();
    assert!(!changes::installed(&*c).await.unwrap());
}

#[tokio::test]
async fn a_bot_role_without_rights_on_the_tools_schema_keeps_writing_and_is_logged() {
    let (db, c) = installed().await;
    let role = format!("pcs_changes_bot_{}_{}", std::process::id(), rand::random::<u32>());
    c.batch_execute(&format!(
        "CREATE ROLE {role};
         GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role};
         GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role};"
    ))
    .await
    .unwrap();
    let bot = db.connect().await;
    let wrote = bot
        .batch_execute(&format!(
            "SET ROLE {role};
             INSERT INTO run (course_id, chat_id, botname) VALUES ('c1', 70, 'bot_a');
             UPDATE waiting_element SET is_waiting = false WHERE waiting_element_id = 1;
             DELETE FROM courseparticipants WHERE courseparticipant_id = 1;
             RESET ROLE;"
        ))
        .await;
    let reads_log = bot.batch_execute(&format!("SET ROLE {role}; SELECT count(*) FROM profochat_saas.change_log")).await;
    drop(bot);
    c.batch_execute(&format!("DROP OWNED BY {role}; DROP ROLE {role}")).await.unwrap();
    wrote.unwrap();
    assert!(reads_log.is_err(), "the role has no rights on the log itself");
    assert_eq!(log_rows(&c).await, 3);
}
