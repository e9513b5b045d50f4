//! Runs, bans and settings: orphan run ids, null bot names, a brand new bot; and bots
//! that have not switched to the legacy interface yet.

use super::*;

#[tokio::test]
async fn orphan_run_ids_and_the_run_sequence_reaching_them() {
    let mut s = Scenario::new().await;
    s.message(999, "intro", "e_5", Some("5000"), 1.0).await;
    s.message(999, "intro", "e_6", Some("6000"), 0.0).await;
    s.message(998, "diverged", "e_7", Some("4"), 1.0).await;
    s.message(998, "diverged", "e_8", Some("NULL"), 1.0).await;
    for r in [4, 5000, 6000, 0] {
        s.scores(r).await;
    }
    // Years later the run sequence reaches the ids of runs deleted long ago.
    s.w("setup: the sequence moves on", "SELECT setval('run_run_id_seq1', 4999)").await;
    s.start(999, Some("intro"), Some("main_bot")).await; // run 5000
    s.message(999, "intro", "e_9", None, 1.0).await;
    s.w("setup: the sequence moves on", "SELECT setval('run_run_id_seq1', 5999)").await;
    s.start(999, Some("diverged"), Some("main_bot")).await; // run 6000, on the renamed copy
    s.message(999, "diverged", "e_10", None, 0.25).await;
    for r in [5000, 6000] {
        s.scores(r).await;
    }
    s.chat_reads(999, "intro", &["main_bot"]).await;
    s.chat_reads(999, "diverged", &["main_bot"]).await;
    s.finish("orphan run ids").await;
}

#[tokio::test]
async fn bans_and_settings_with_null_bot_names() {
    let mut s = Scenario::new().await;
    // Chats banned only under a NULL bot name (102: excluded 1; 500: collapsed into main_bot).
    s.w("setup: a ban of a NULL bot name", "INSERT INTO bannedparticipants (botname, chat_id, banned_at, ban_reason, excluded) VALUES (NULL, 610, '2019-01-01', 'old', 0)").await;
    for bot in ["main_bot", "second_bot", "ban_only_bot"] {
        for _ in 0..2 {
            s.w(
                "auto-ban",
                format!(
                    "INSERT INTO bannedparticipants (botname, chat_id, ban_reason)
                     SELECT {b}, chat_id, 'flood' FROM (SELECT unnest(ARRAY[101, 102, 500, 501, 610, 611]::int8[]) AS chat_id) x
                      WHERE chat_id NOT IN (SELECT chat_id FROM bannedparticipants WHERE botname = {b} AND chat_id IS NOT NULL)",
                    b = lit(bot)
                ),
            )
            .await;
        }
    }
    for chat in [101, 102, 500, 501, 502, 610, 611] {
        s.chat_reads(chat, "intro", &["main_bot", "second_bot", "ban_only_bot", "no_such_bot"]).await;
    }
    // Settings for every bot (NULL), for a bot, for a new bot.
    s.w("setup: settings", "INSERT INTO gen_settings (id, bot_name, s_key, s_value) VALUES (40, NULL, 'allowed', '7'), (41, 'second_bot', 'allowed', '8'), (42, 'settings_new_bot', 'allowed', '9')").await;
    s.w("setup: settings", "UPDATE gen_settings SET bot_name = NULL WHERE id = 41").await;
    s.w("setup: settings", "UPDATE gen_settings SET bot_name = 'main_bot' WHERE id = 40").await;
    for bot in ["main_bot", "second_bot", "settings_new_bot", "settings_only_bot"] {
        s.t.compare(&s.a, &s.b, &set("who may edit", format!("SELECT s_value FROM gen_settings WHERE s_key = 'allowed' AND bot_name = {}", lit(bot)))).await;
    }
    s.finish("bans and settings").await;
}

/// Bans written with `excluded` set (an operator's hand, not the bot's auto-ban):
/// the legacy table holds both rows; the new unique key (bot, chat, excluded) cannot.
#[tokio::test]
#[ignore = "outside §1 (the bot's auto-ban never sets excluded): a second ban with the same non-NULL excluded answers INSERT 0 0 through the interface (one row under the unique key), INSERT 0 1 on the legacy table; every §1 read answers alike"]
async fn a_ban_with_excluded_written_twice() {
    let mut s = Scenario::new().await;
    for _ in 0..2 {
        s.w("a ban by hand", "INSERT INTO bannedparticipants (botname, chat_id, ban_reason, excluded) VALUES ('main_bot', 620, 'x', 1)").await;
    }
    s.finish("a ban with excluded written twice").await;
}

#[tokio::test]
async fn a_brand_new_bot_writes_under_its_name() {
    let mut s = Scenario::new().await;
    let nb = "fresh «bot» 'n'";
    s.start(7_360_001, Some("intro"), Some(nb)).await;
    s.message(7_360_001, "intro", "e1", None, 1.0).await;
    s.start(7_360_001, Some("diverged"), Some(nb)).await;
    s.publish("intro", nb, "fresh intro", &["f_1", "f_2"]).await;
    s.publish("fresh_course", nb, "fresh course", &["g_1"]).await;
    s.start(7_360_001, Some("fresh_course"), Some(nb)).await;
    s.w("course end", format!("UPDATE run SET is_ended = TRUE WHERE chat_id = 7360001 AND botname = {} AND course_id = 'intro'", lit(nb))).await;
    for bot in ["main_bot", nb] {
        s.copy_reads("intro", bot).await;
    }
    s.chat_reads(7_360_001, "intro", &["main_bot", nb]).await;
    s.finish("a brand-new bot").await;
}

/// The §1 writes through the public tables (a bot that has not switched), then every
/// read through the legacy interface.
async fn not_switched(end_with_course: bool, name: &str) {
    let mut s = Scenario::new().await;
    let public = profochat_saas::conn::connect(&s.b.settings).await.unwrap();
    let both = |sql: String| {
        let (a, p) = (&s.a, &public);
        async move {
            let x = run(a, &sql).await;
            let y = run(p, &sql).await;
            assert!(x.is_ok() == y.is_ok(), "{sql}\n  legacy: {x:?}\n  public: {y:?}");
        }
    };
    for (course, bot) in [("shared", "second_bot"), ("diverged", "main_bot"), ("intro", "second_bot")] {
        let (c, b) = (lit(course), lit(bot));
        both(format!("INSERT INTO run (course_id, username, chat_id, botname, utm_source, utm_campaign) VALUES ({c}, 'p', 7380001, {b}, NULL, NULL)")).await;
        both(format!("DELETE FROM course_element WHERE course_id = {c} AND bot_name = {b}")).await;
        both(format!("DELETE FROM course WHERE course_id = {c} AND bot_name = {b}")).await;
        both(format!("INSERT INTO course (course_id, bot_name, creator_id, yaml) VALUES ({c}, {b}, 5, 'public')")).await;
        for e in ["p_1", "p_2"] {
            both(format!("INSERT INTO course_element (bot_name, course_id, element_id, json, element_type) VALUES ({b}, {c}, '{e}', '{{}}', 'message')")).await;
        }
        both(format!(
            "INSERT INTO conversation (chat_id, course_id, username, element_id, element_type, run_id, json, role, report, score, maxscore)
             VALUES (7380001, {c}, 'p', 'p_1', 'message', (SELECT max(run_id) FROM run WHERE chat_id = 7380001), '{{}}', 'user', NULL, 1, 1)"
        ))
        .await;
        both(format!(
            "INSERT INTO waiting_element (chat_id, waiting_till_date, is_waiting, element_id, course_id, botname) VALUES (7380001, '2024-01-01', TRUE, 'p_2', {c}, {b})"
        ))
        .await;
        if end_with_course {
            both(format!("UPDATE run SET is_ended = TRUE WHERE chat_id = 7380001 AND botname = {b} AND course_id = {c}")).await;
        } else {
            both(format!("UPDATE run SET is_ended = TRUE WHERE chat_id = 7380001 AND botname = {b}")).await;
        }
    }
    for bot in ["main_bot", "second_bot", Q] {
        for course in ["shared", "diverged", "intro"] {
            s.copy_reads(course, bot).await;
        }
    }
    s.chat_reads(7_380_001, "diverged", &["main_bot", "second_bot"]).await;
    s.finish(name).await;
}

#[tokio::test]
async fn a_bot_that_has_not_switched_then_reads_through_the_interface() {
    not_switched(false, "a bot that has not switched").await;
}

/// Course end with the course id, by a bot that has not switched, on a copy whose public
/// id differs from its legacy id (renamed by the migration, or split off when the bot
/// published a course another bot's row held): the public rows hold the new id, so the
/// bot's `WHERE … AND course_id = $c` matches nothing and the run stays unfinished. A
/// trigger cannot widen an UPDATE's WHERE: only the legacy interface answers this.
#[tokio::test]
#[ignore = "limitation: through the public tables, `UPDATE run SET is_ended = TRUE WHERE chat_id AND botname AND course_id = $c` on a renamed or split copy updates 0 rows (legacy: 1); the bot must switch to the legacy interface — the next steps say only that it *reads* renamed courses under their new ids"]
async fn a_bot_that_has_not_switched_ends_a_course_on_a_renamed_copy() {
    not_switched(true, "a bot that has not switched, course end with the course").await;
}

/// Removing a course (the two deletes alone) by a bot that has not switched, on its merged
/// copy (held by the legacy interface, not by a public row) and on its renamed copy (public
/// rows under the new id): nothing matches in the public tables.
#[tokio::test]
#[ignore = "limitation: through the public tables, `DELETE FROM course_element/course WHERE course_id = $c AND bot_name = $bot` on a merged or renamed copy deletes 0 rows (legacy: the copy and its elements); only the legacy interface can answer it"]
async fn a_bot_that_has_not_switched_removes_its_merged_and_renamed_copies() {
    let mut s = Scenario::new().await;
    let public = profochat_saas::conn::connect(&s.b.settings).await.unwrap();
    for (course, bot) in [("shared", "second_bot"), ("diverged", "main_bot")] {
        for table in ["course_element", "course"] {
            let sql = format!("DELETE FROM {table} WHERE course_id = {} AND bot_name = {}", lit(course), lit(bot));
            let (x, y) = (run(&s.a, &sql).await, run(&public, &sql).await);
            assert!(x.is_ok() && y.is_ok(), "{sql}: {x:?} {y:?}");
        }
    }
    s.copy_reads("shared", "second_bot").await;
    s.copy_reads("diverged", "main_bot").await;
    s.finish("a bot that has not switched removes copies").await;
}

/// A bot that has not switched reads the public ids of its renamed copy (`diverged__main_bot`)
/// and writes them back: its delay and message belong to that copy and its run, as the same
/// writes under the legacy id do on the legacy database.
#[tokio::test]
async fn a_bot_that_has_not_switched_writes_back_the_public_id_it_read() {
    let mut s = Scenario::new().await;
    let public = profochat_saas::conn::connect(&s.b.settings).await.unwrap();
    let read_back: String = public.query_one("SELECT course_id FROM run WHERE run_id = 9", &[]).await.unwrap().get(0);
    assert_eq!(read_back, "diverged__main_bot");
    for (legacy_id, db) in [("diverged", &s.a), (read_back.as_str(), &public)] {
        let c = lit(legacy_id);
        db.batch_execute(&format!(
            "INSERT INTO waiting_element (chat_id, waiting_till_date, is_waiting, element_id, course_id, botname) VALUES (105, '2024-01-01', TRUE, 'd1', {c}, 'main_bot');
             INSERT INTO conversation (chat_id, course_id, username, element_id, element_type, run_id, json, role, report, score, maxscore)
                  VALUES (105, {c}, 'eve', 'd1', 'message', 9, '{{}}', 'user', NULL, 1, 1);"
        ))
        .await
        .unwrap();
    }
    let links = run(&public, "SELECT w.run_id::text, w.course_id, (SELECT c.course_id FROM conversation c WHERE c.chat_id = 105 ORDER BY conversation_id DESC LIMIT 1)
                               FROM waiting_element w WHERE w.chat_id = 105 ORDER BY waiting_element_id DESC LIMIT 1")
        .await
        .unwrap()
        .0;
    assert_eq!(links, vec![vec![Some("9".to_string()), Some(read_back.clone()), Some(read_back.clone())]], "the copy's run and course");
    s.chat_reads(105, "diverged", &["main_bot"]).await;
    s.finish("a bot that has not switched writes back public ids").await;
}
