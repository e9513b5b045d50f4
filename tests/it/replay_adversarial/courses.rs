//! Courses published, removed and published again: on plain, renamed, merged and kept
//! copies, by one bot and by several, YAML-only courses, ids that look like renamed
//! copies, elements without a bot name.

use super::*;

#[tokio::test]
async fn publish_remove_publish_again_on_plain_renamed_and_kept_copies() {
    let mut s = Scenario::new().await;
    // intro: plain; diverged of main_bot: renamed; diverged of second_bot: keeps the id.
    for (course, bot) in [("intro", "main_bot"), ("diverged", "main_bot"), ("diverged", "second_bot")] {
        s.start(7_300_001, Some(course), Some(bot)).await;
        s.publish(course, bot, "v1", &["m1_a", "m1_b", "m2_a"]).await;
        s.copy_reads(course, bot).await;
        s.remove(course, Some(bot)).await;
        s.copy_reads(course, bot).await;
        s.start(7_300_002, Some(course), Some(bot)).await;
        s.message(7_300_002, course, "m1_a", None, 1.0).await;
        s.publish(course, bot, "v2", &["m1_a", "m2_a", "m2_b", "m3_a"]).await;
        s.copy_reads(course, bot).await;
        s.chat_reads(7_300_002, course, &["main_bot", "second_bot"]).await;
    }
    // The other copy of diverged is untouched by all that.
    s.copy_reads("diverged", Q).await;
    s.finish("publish → remove → publish").await;
}

#[tokio::test]
async fn a_bot_publishes_a_merged_course_twice_then_the_others() {
    let mut s = Scenario::new().await;
    // Publishing without deleting first fails on the legacy key, on a merged copy and on
    // a renamed one alike.
    for (course, bot) in [("shared", "second_bot"), ("shared", Q), ("diverged", "main_bot")] {
        s.w("publish: insert course again", format!("INSERT INTO course (course_id, bot_name, creator_id, yaml) VALUES ({}, {}, 77, 'again')", lit(course), lit(bot)))
            .await;
    }
    s.start(7_310_001, Some("shared"), Some("second_bot")).await;
    s.message(7_310_001, "shared", "s1", None, 1.0).await;
    s.publish("shared", "second_bot", "second v1", &["s1", "s2"]).await;
    s.start(7_310_001, Some("shared"), Some("second_bot")).await;
    s.message(7_310_001, "shared", "s2", None, 0.0).await;
    s.publish("shared", "second_bot", "second v2", &["s1", "s2", "s3"]).await;
    for bot in ["main_bot", "second_bot", Q] {
        s.copy_reads("shared", bot).await;
    }
    s.publish("shared", Q, "quoted v1", &["q_1"]).await;
    s.publish("shared", "main_bot", "main v1", &["m_1", "m_2"]).await;
    s.start(7_310_002, Some("shared"), Some(Q)).await;
    s.message(7_310_002, "shared", "q_1", None, 1.0).await;
    s.w("course end", format!("UPDATE run SET is_ended = TRUE WHERE chat_id = 7310001 AND botname = 'second_bot' AND course_id = 'shared'")).await;
    for bot in ["main_bot", "second_bot", Q] {
        s.copy_reads("shared", bot).await;
    }
    s.chat_reads(7_310_001, "shared", &["main_bot", "second_bot", Q]).await;
    s.chat_reads(7_310_002, "shared", &["main_bot", "second_bot", Q]).await;
    s.finish("a merged course published twice").await;
}

#[tokio::test]
async fn two_bots_publish_the_same_course_id_in_turn() {
    let mut s = Scenario::new().await;
    for (round, (course, bot)) in [("turns", "main_bot"), ("turns", "second_bot"), ("turns", "main_bot"), ("turns", "second_bot"),
                                   ("diverged", "main_bot"), ("diverged", "second_bot"), ("diverged", "main_bot")]
        .into_iter()
        .enumerate()
    {
        let chat = 7_320_000 + round as i64;
        s.start(chat, Some(course), Some(bot)).await;
        s.message(chat, course, "t_1", None, 1.0).await;
        s.publish(course, bot, &format!("round {round}"), &["t_1", "t_2", &format!("r{round}_x")]).await;
        s.start(chat, Some(course), Some(bot)).await;
        s.message(chat, course, "t_2", None, 0.5).await;
        s.chat_reads(chat, course, &["main_bot", "second_bot"]).await;
        s.copy_reads(course, "main_bot").await;
        s.copy_reads(course, "second_bot").await;
    }
    s.finish("two bots in turn").await;
}

#[tokio::test]
async fn a_removal_without_the_bot_across_merged_and_renamed_copies_then_publishing_again() {
    let mut s = Scenario::new().await;
    s.remove("shared", None).await;
    s.remove("diverged", None).await;
    for bot in ["main_bot", "second_bot", Q] {
        s.copy_reads("shared", bot).await;
        s.copy_reads("diverged", bot).await;
    }
    s.start(7_330_001, Some("diverged"), Some("main_bot")).await;
    s.start(7_330_002, Some("shared"), Some("second_bot")).await;
    s.publish("shared", Q, "quoted", &["a_1"]).await;
    s.publish("diverged", "main_bot", "main", &["b_1", "b_2"]).await;
    s.publish("shared", "second_bot", "second", &["c_1"]).await;
    s.publish("diverged", "second_bot", "second", &["d_1"]).await;
    s.message(7_330_001, "diverged", "b_1", None, 1.0).await;
    s.message(7_330_002, "shared", "c_1", None, 1.0).await;
    for bot in ["main_bot", "second_bot", Q] {
        s.copy_reads("shared", bot).await;
        s.copy_reads("diverged", bot).await;
    }
    s.remove("diverged", None).await;
    s.publish("diverged", Q, "quoted", &["e_1"]).await;
    s.finish("removal without the bot").await;
}

#[tokio::test]
async fn elements_of_a_yaml_course_then_the_course_published() {
    let mut s = Scenario::new().await;
    for bot in ["main_bot", "second_bot"] {
        for e in ["y_1", "y_2"] {
            s.w(
                "publish: insert element",
                format!(
                    "INSERT INTO course_element (bot_name, course_id, element_id, json, element_type)
                     VALUES ({}, 'yaml_new', '{e}', '{{}}', 'message') RETURNING course_element_id",
                    lit(bot)
                ),
            )
            .await;
        }
    }
    s.w(
        "publish: insert element",
        "INSERT INTO course_element (bot_name, course_id, element_id, json, element_type) VALUES (NULL, 'yaml_new', 'y_0', '{}', 'message') RETURNING course_element_id",
    )
    .await;
    s.tables("elements of a course never published").await;
    s.start(7_340_001, Some("yaml_new"), Some("second_bot")).await;
    s.copy_reads("yaml_new", "main_bot").await;
    s.copy_reads("yaml_new", "second_bot").await;
    s.publish("yaml_new", "main_bot", "now a course", &["y_1", "y_3"]).await;
    s.copy_reads("yaml_new", "second_bot").await;
    s.publish("yaml_new", "second_bot", "now second's", &["y_9"]).await;
    // The fixture's YAML course (elements with a NULL bot name, a run of main_bot).
    s.publish("yaml_course", "second_bot", "second's yaml", &["z_1"]).await;
    s.publish("yaml_course", "main_bot", "main's yaml", &["z_2"]).await;
    for bot in ["main_bot", "second_bot"] {
        s.copy_reads("yaml_new", bot).await;
        s.copy_reads("yaml_course", bot).await;
    }
    s.chat_reads(7_340_001, "yaml_new", &["main_bot", "second_bot"]).await;
    s.finish("YAML course elements then published").await;
}

#[tokio::test]
async fn start_twice_then_course_end_with_and_without_the_course_on_a_renamed_copy_and_two_bots() {
    let mut s = Scenario::new().await;
    let chat = 7_350_001;
    for bot in ["main_bot", "second_bot"] {
        s.start(chat, Some("diverged"), Some(bot)).await;
        s.start(chat, Some("diverged"), Some(bot)).await;
    }
    s.start(chat, Some("diverged"), None).await;
    s.chat_reads(chat, "diverged", &["main_bot", "second_bot"]).await;
    s.w("course end", format!("UPDATE run SET is_ended = TRUE WHERE chat_id = {chat} AND botname = 'main_bot' AND course_id = 'diverged'")).await;
    s.chat_reads(chat, "diverged", &["main_bot", "second_bot"]).await;
    s.start(chat, Some("diverged"), Some("main_bot")).await;
    s.start(chat, Some("intro"), Some("main_bot")).await;
    s.w("course end", format!("UPDATE run SET is_ended = TRUE WHERE chat_id = {chat} AND botname = 'main_bot'")).await;
    s.w("course end", format!("UPDATE run SET is_ended = TRUE WHERE chat_id = {chat} AND botname = 'second_bot' AND course_id = 'intro'")).await;
    s.chat_reads(chat, "diverged", &["main_bot", "second_bot"]).await;
    s.chat_reads(chat, "intro", &["main_bot", "second_bot"]).await;
    // Waiting elements on the renamed copy and on the kept one, and their update.
    for bot in ["main_bot", "second_bot"] {
        s.w(
            "a delay",
            format!(
                "INSERT INTO waiting_element (chat_id, waiting_till_date, is_waiting, element_id, course_id, botname)
                 VALUES ({chat}, '2024-01-10', TRUE, 'd1', 'diverged', {}) RETURNING waiting_element_id",
                lit(bot)
            ),
        )
        .await;
    }
    for bot in ["main_bot", "second_bot", "waiting_only_bot"] {
        s.t.compare(
            &s.a,
            &s.b,
            &set(
                "due delays",
                format!("SELECT waiting_element_id, chat_id, element_id, course_id FROM waiting_element WHERE is_waiting = TRUE AND botname = {} AND waiting_till_date < '2024-06-01'", lit(bot)),
            ),
        )
        .await;
    }
    s.w("a delay done", format!("UPDATE waiting_element SET is_waiting = FALSE WHERE waiting_element_id = (SELECT min(waiting_element_id) FROM waiting_element WHERE chat_id = {chat})")).await;
    s.w("a delay done", "UPDATE waiting_element SET is_waiting = FALSE WHERE waiting_element_id = 2").await;
    s.w("a delay done", "UPDATE waiting_element SET is_waiting = FALSE WHERE waiting_element_id = 4").await;
    s.finish("restarts and course ends").await;
}

/// A course id of the same shape as the ids the migration gives renamed copies
/// (`<course_id>__<bot_name>`) is a course of its own for the legacy bot.
#[tokio::test]
async fn a_legacy_course_id_that_looks_like_a_renamed_copy() {
    let mut s = Scenario::new().await;
    s.start(7_370_001, Some("diverged__main_bot"), Some("main_bot")).await;
    s.start(7_370_002, Some("diverged__main_bot"), Some("second_bot")).await;
    s.message(7_370_001, "diverged__main_bot", "x_1", None, 1.0).await;
    s.message(7_370_003, "diverged__main_bot", "x_2", Some("NULL"), 1.0).await;
    s.chat_reads(7_370_001, "diverged__main_bot", &["main_bot"]).await;
    s.w(
        "a delay",
        "INSERT INTO waiting_element (chat_id, waiting_till_date, is_waiting, element_id, course_id, botname)
         VALUES (7370001, '2024-01-01', TRUE, 'x_1', 'diverged__main_bot', 'main_bot') RETURNING waiting_element_id",
    )
    .await;
    s.w(
        "publish: insert element",
        "INSERT INTO course_element (bot_name, course_id, element_id, json, element_type) VALUES (NULL, 'diverged__main_bot', 'x_0', '{}', 'message') RETURNING course_element_id",
    )
    .await;
    s.tables("look-alike rows").await;
    s.publish("diverged__main_bot", "main_bot", "look-alike", &["x_1"]).await;
    s.start(7_370_004, Some("diverged"), Some("main_bot")).await;
    s.message(7_370_004, "diverged", "d1", None, 1.0).await;
    s.w("course end", "UPDATE run SET is_ended = TRUE WHERE chat_id = 7370001 AND botname = 'main_bot' AND course_id = 'diverged__main_bot'").await;
    s.copy_reads("diverged", "main_bot").await;
    s.copy_reads("diverged__main_bot", "main_bot").await;
    // The same with an id split off after the migration (second_bot publishing shared).
    s.publish("shared", "second_bot", "split", &["s_1"]).await;
    s.start(7_370_005, Some("shared__second_bot"), Some("main_bot")).await;
    s.message(7_370_005, "shared__second_bot", "z", None, 1.0).await;
    s.publish("shared__second_bot", "second_bot", "look-alike of a split", &["z"]).await;
    s.start(7_370_006, Some("shared"), Some("second_bot")).await;
    s.chat_reads(7_370_005, "shared__second_bot", &["main_bot", "second_bot"]).await;
    s.copy_reads("shared", "second_bot").await;
    s.copy_reads("shared__second_bot", "second_bot").await;
    let s = s.finish("a look-alike course id").await;
    rollback_and_compare(s).await;
}

fn lookalikes(c: &Db) -> crate::replay::futures_like::BoxFut<'_> {
    Box::pin(async move {
        anomalies(c).await;
        // Before the migration: a YAML course whose id is the one the migration would
        // give main_bot's renamed copy of diverged, with a run, a delay and messages.
        c.batch_execute(
            "INSERT INTO run (chat_id, username, botname, course_id, date_inserted) VALUES (7371001, 'l', 'main_bot', 'diverged__main_bot', '2024-03-01');
             INSERT INTO waiting_element (chat_id, waiting_till_date, is_waiting, element_id, course_id, botname)
                  VALUES (7371001, '2024-03-02', TRUE, 'x', 'diverged__main_bot', 'main_bot');
             INSERT INTO conversation (chat_id, course_id, element_id, run_id, role) VALUES
                  (7371001, 'diverged__main_bot', 'x', currval('run_run_id_seq1'), 'user'),
                  (7371002, 'diverged__second_bot', 'x', NULL, 'user');",
        )
        .await
        .expect("look-alike rows");
    })
}

/// The same, written before the migration: the renamed copy gets an id no row holds.
#[tokio::test]
async fn a_legacy_course_id_that_looks_like_a_renamed_copy_before_the_migration() {
    let mut s = Scenario::with(lookalikes).await;
    s.tables("after the migration").await;
    s.start(7_371_001, Some("diverged__main_bot"), Some("main_bot")).await;
    s.message(7_371_001, "diverged__main_bot", "x", None, 1.0).await;
    s.chat_reads(7_371_001, "diverged__main_bot", &["main_bot"]).await;
    s.publish("diverged", "main_bot", "again", &["d_9"]).await;
    s.publish("diverged__second_bot", "second_bot", "look-alike 2", &["x"]).await;
    s.publish("diverged", "second_bot", "split", &["d_8"]).await;
    let s = s.finish("a look-alike course id before the migration").await;
    rollback_and_compare(s).await;
}

/// On the seeded dataset: every course copy published, every course id removed without
/// the bot name, every copy published again in the reverse order, then a start, a
/// message and a course end on each; then rollback.
#[tokio::test]
async fn seeded_data_every_copy_published_removed_and_published_again() {
    let mut s = Scenario::with_default_bot(crate::replay::seeded, crate::replay::SEEDED_DEFAULT_BOT).await;
    let copies = crate::replay::copies(&s.a).await;
    assert!(copies.len() >= 3, "{copies:?}");
    for (course, bot) in &copies {
        s.publish(course, bot, "first", &["a_1", "a_2", "b_1"]).await;
    }
    let ids: BTreeSet<String> = copies.iter().map(|(c, _)| c.clone()).collect();
    for c in &ids {
        s.remove(c, None).await;
    }
    for (n, (course, bot)) in copies.iter().rev().enumerate() {
        s.publish(course, bot, "second", &["c_1", "d_1"]).await;
        let chat = 7_500_000 + n as i64;
        s.start(chat, Some(course), Some(bot)).await;
        s.message(chat, course, "c_1", None, 1.0).await;
        s.w("course end", format!("UPDATE run SET is_ended = TRUE WHERE chat_id = {chat} AND botname = {} AND course_id = {}", lit(bot), lit(course))).await;
        s.copy_reads(course, bot).await;
        s.chat_reads(chat, course, &[bot]).await;
    }
    let s = s.finish("seeded: publish, remove, publish").await;
    rollback_and_compare(s).await;
}

fn null_bot_elements(c: &Db) -> crate::replay::futures_like::BoxFut<'_> {
    Box::pin(async move {
        anomalies(c).await;
        // Elements without a bot name on courses that exist under several bots: with
        // second_bot the default bot, its copy of shared differs (renamed) and its copy of
        // diverged gains an element.
        c.batch_execute(
            "INSERT INTO course_element (element_id, json, element_type, course_id, bot_name) VALUES
                 ('sn', '{\"null\": 1}', 'message', 'shared', NULL), ('dn', '{\"null\": 2}', 'message', 'diverged', NULL);",
        )
        .await
        .expect("elements without a bot name");
    })
}

/// Elements with a NULL bot name on merged and renamed copies, second_bot the default bot:
/// publishing deletes only the bot's named elements; a removal without the bot deletes them.
#[tokio::test]
async fn null_bot_elements_on_renamed_copies_with_another_default_bot() {
    let mut s = Scenario::with_default_bot(null_bot_elements, "second_bot").await;
    s.tables("after the migration").await;
    for bot in ["main_bot", "second_bot", Q] {
        s.copy_reads("shared", bot).await;
        s.copy_reads("diverged", bot).await;
    }
    s.r("NULL-bot elements", "SELECT course_element_id, element_id, course_id FROM course_element WHERE bot_name IS NULL ORDER BY 1").await;
    s.publish("shared", "second_bot", "second", &["s_9"]).await;
    s.publish("shared", "main_bot", "main", &["s_8"]).await;
    s.publish("diverged", "second_bot", "second", &["d_9"]).await;
    s.start(7_600_001, Some("shared"), None).await;
    s.start(7_600_001, Some("diverged"), None).await;
    s.message(7_600_001, "diverged", "d_9", None, 1.0).await;
    s.w(
        "publish: insert element",
        "INSERT INTO course_element (bot_name, course_id, element_id, json, element_type) VALUES (NULL, 'shared', 'sn2', '{}', 'message') RETURNING course_element_id",
    )
    .await;
    s.r("NULL-bot elements", "SELECT course_element_id, element_id, course_id FROM course_element WHERE bot_name IS NULL ORDER BY 1").await;
    s.remove("shared", None).await;
    s.publish("shared", Q, "quoted", &["q_9"]).await;
    s.chat_reads(7_600_001, "diverged", &["main_bot", "second_bot"]).await;
    let s = s.finish("NULL-bot elements, another default bot").await;
    rollback_and_compare(s).await;
}

/// The application deletes a course of its own in account 1 (written with a title, with a
/// deployment of its own): the compatibility layer's publishing rule (a course with
/// deployments is hidden from the legacy interface instead of deleted) catches it too.
#[tokio::test]
#[ignore = "finding, not fixed: compat_course_delete hides instead of deleting every account-1 course with a deployment, element or participant, so the application's own `DELETE FROM course WHERE course_id = 'app_course' AND account_id = 1` answers DELETE 0 and the course, its deployments and tokens stay; a DELETE carries no new-schema column to tell it from the legacy bot's"]
async fn the_applications_delete_of_its_own_account_1_course_deletes_it() {
    let s = Scenario::new().await;
    let app = profochat_saas::conn::connect(&s.b.settings).await.unwrap();
    app.batch_execute(
        "INSERT INTO course (course_id, bot_name, account_id, yaml, title) VALUES ('app_course', 'main_bot', 1, 'app', 'App course');
         INSERT INTO course_deployment (course_id, account_id, bot_id) SELECT 'app_course', 1, bot_id FROM bot WHERE account_id = 1 AND bot_name = 'main_bot';",
    )
    .await
    .unwrap();
    let n = app.execute("DELETE FROM course WHERE course_id = 'app_course' AND account_id = 1", &[]).await.unwrap();
    let left: i64 = app.query_one("SELECT count(*) FROM course WHERE course_id = 'app_course'", &[]).await.unwrap().get(0);
    assert_eq!((n, left), (1, 0), "the application's delete of its own course");
}
