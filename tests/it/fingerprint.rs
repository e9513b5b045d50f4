//! Fingerprints: equal for equal contents in any order, different for any change,
//! and the reconstruction from the archive gives the legacy fingerprint back.

use profochat_saas::fingerprint;

use crate::harness::TestDb;

const ROWS: &str = "
    INSERT INTO run (run_id, chat_id, username, botname, course_id, is_ended, date_inserted) VALUES
        (1, 10, 'анна', 'bot_a', 'c1', NULL, '2024-01-01 10:00'), (2, 11, 'o''brien', NULL, NULL, true, NULL), (3, 12, NULL, 'bot_b', 'c2', false, '2024-01-02 10:00:00.123456');
    INSERT INTO course (course_id, bot_name, yaml, date_created) VALUES ('c1', 'bot_a', 'x: 1', '2023-05-05'), ('c1', 'bot_b', 'x: 1', NULL);
";

#[tokio::test]
async fn same_rows_in_any_order_give_the_same_fingerprint_and_any_change_shows() {
    let a = TestDb::legacy().await;
    let b = TestDb::legacy().await;
    let (ca, cb) = (a.connect().await, b.connect().await);
    ca.batch_execute(ROWS).await.unwrap();
    // The same rows, inserted in another order.
    cb.batch_execute(
        "INSERT INTO run (run_id, chat_id, username, botname, course_id, is_ended, date_inserted) VALUES
            (3, 12, NULL, 'bot_b', 'c2', false, '2024-01-02 10:00:00.123456'), (1, 10, 'анна', 'bot_a', 'c1', NULL, '2024-01-01 10:00'), (2, 11, 'o''brien', NULL, NULL, true, NULL);
         INSERT INTO course (course_id, bot_name, yaml, date_created) VALUES ('c1', 'bot_b', 'x: 1', NULL), ('c1', 'bot_a', 'x: 1', '2023-05-05');",
    )
    .await
    .unwrap();
    let fa = fingerprint::take(&*ca).await.unwrap();
    let fb = fingerprint::take(&*cb).await.unwrap();
    assert_eq!(fa, fb);
    assert_eq!(fa.tables["run"].rows, 3);

    // NULL versus empty string, and a flag flip, both show.
    cb.batch_execute("UPDATE run SET username = '' WHERE run_id = 3").await.unwrap();
    let fb2 = fingerprint::take(&*cb).await.unwrap();
    assert_eq!(fa.differences(&fb2), vec!["run".to_string()]);
    cb.batch_execute("UPDATE run SET username = NULL WHERE run_id = 3; UPDATE run SET is_ended = NULL WHERE run_id = 2").await.unwrap();
    assert_eq!(fa.differences(&fingerprint::take(&*cb).await.unwrap()), vec!["run".to_string()]);
}

#[tokio::test]
async fn reconstruction_reverts_archived_changes() {
    let db = TestDb::legacy().await;
    let c = db.connect().await;
    c.batch_execute(ROWS).await.unwrap();
    let before = fingerprint::take(&*c).await.unwrap();
    c.batch_execute(profochat_saas::target::sql::STATE).await.unwrap();
    c.batch_execute(
        "INSERT INTO profochat_saas.migration (migration_id, schema_version, tool_version, status) VALUES (7, 1, 't', 'completed');
         -- an update (course renamed), a delete (merged copy), an insert (course from references)
         UPDATE course SET course_id = 'c1__bot_b' WHERE course_id = 'c1' AND bot_name = 'bot_b';
         INSERT INTO profochat_saas.archive (migration_id, table_name, action, key, row, reason)
              VALUES (7, 'course', 'updated', '{\"course_id\": \"c1__bot_b\", \"bot_name\": \"bot_b\"}', '{\"course_id\": \"c1\"}', 'renamed');
         DELETE FROM run WHERE run_id = 2;
         INSERT INTO profochat_saas.archive (migration_id, table_name, action, key, row, reason)
              VALUES (7, 'run', 'deleted', '{\"run_id\": 2}', '{\"run_id\": 2, \"chat_id\": 11, \"username\": \"o''brien\", \"botname\": null, \"course_id\": null, \"date_inserted\": null, \"utm_source\": null, \"utm_campaign\": null, \"is_ended\": true}', 'test');",
    )
    .await
    .unwrap();
    assert_ne!(fingerprint::take(&*c).await.unwrap(), before);
    assert_eq!(fingerprint::take_reconstructed(&*c, 7).await.unwrap(), before);
    c.batch_execute(
        "INSERT INTO course (course_id, bot_name, yaml) VALUES ('c2', 'bot_b', NULL);
         INSERT INTO profochat_saas.archive (migration_id, table_name, action, key, row, reason)
              VALUES (7, 'course', 'inserted', '{\"course_id\": \"c2\", \"bot_name\": \"bot_b\"}', NULL, 'created from references');",
    )
    .await
    .unwrap();
    let now = fingerprint::take(&*c).await.unwrap();
    assert_ne!(now.tables["course"], before.tables["course"]);
    let again = fingerprint::take_reconstructed(&*c, 7).await.unwrap();
    assert_eq!(again, before, "the inserted course is left out of the reconstruction");
    // A change the archive does not account for shows, and so does a wrong archived value.
    c.batch_execute("UPDATE run SET username = 'x' WHERE run_id = 1").await.unwrap();
    assert_eq!(before.differences(&fingerprint::take_reconstructed(&*c, 7).await.unwrap()), ["run"]);
    c.batch_execute(
        "UPDATE run SET username = 'анна' WHERE run_id = 1;
         UPDATE profochat_saas.archive SET row = '{\"course_id\": \"c9\"}' WHERE table_name = 'course' AND action = 'updated';",
    )
    .await
    .unwrap();
    assert_eq!(before.differences(&fingerprint::take_reconstructed(&*c, 7).await.unwrap()), ["course"]);
    c.batch_execute("UPDATE profochat_saas.archive SET row = '{\"course_id\": \"c1\"}' WHERE table_name = 'course' AND action = 'updated'")
        .await
        .unwrap();
    assert_eq!(fingerprint::take_reconstructed(&*c, 7).await.unwrap(), before);
    // Undo the changes by hand: the plain fingerprint equals the reconstruction.
    c.batch_execute(
        "DELETE FROM course WHERE course_id = 'c2';
         UPDATE course SET course_id = 'c1' WHERE course_id = 'c1__bot_b';
         INSERT INTO run (run_id, chat_id, username, botname, course_id, date_inserted, is_ended) VALUES (2, 11, 'o''brien', NULL, NULL, NULL, true);",
    )
    .await
    .unwrap();
    assert_eq!(fingerprint::take(&*c).await.unwrap(), before);
}
