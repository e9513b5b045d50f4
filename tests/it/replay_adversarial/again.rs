//! After adversarial writes: `migrate` again, `rollback`, and the application's own
//! writes left alone.

use super::*;

/// Adversarial writes, then a few more of each kind, as a helper for the round trips below.
async fn mixed_writes(s: &mut Scenario, chat: i64) {
    s.start(chat, Some("shared"), Some("second_bot")).await;
    s.publish("shared", "second_bot", "split", &["s_1", "s_2"]).await;
    s.publish("diverged", "main_bot", "renamed again", &["d_1"]).await;
    s.remove("intro", Some("main_bot")).await;
    s.start(chat, Some("diverged"), Some("main_bot")).await;
    s.message(chat, "diverged", "d_1", None, 1.0).await;
    s.message(chat, "intro", "e_1", Some("4242"), 0.0).await;
    s.w(
        "publish: insert element",
        "INSERT INTO course_element (bot_name, course_id, element_id, json, element_type) VALUES ('second_bot', 'yaml_rt', 'y', '{}', 'message')",
    )
    .await;
    s.start(chat, Some("diverged__main_bot"), Some("main_bot")).await;
    s.w("course end", format!("UPDATE run SET is_ended = TRUE WHERE chat_id = {chat} AND botname = 'second_bot' AND course_id = 'shared'")).await;
}

/// `migrate` again after the legacy bot wrote through the interface: nothing it wrote
/// changes for it, and it goes on writing.
#[tokio::test]
async fn migrate_again_after_legacy_writes_changes_nothing_the_legacy_bot_sees() {
    let mut s = Scenario::new().await;
    mixed_writes(&mut s, 7_700_001).await;
    s.tables("before migrating again").await;
    s.b.batch_execute("SET search_path = public").await.unwrap();
    let opts = main_bot_options();
    profochat_saas::migrate::migrate(&mut s.b, &opts, &Silent).await.expect("migrate again");
    use_legacy_interface(&s.b).await;
    s.tables("after migrating again").await;
    mixed_writes(&mut s, 7_700_002).await;
    s.publish("shared", "second_bot", "again", &["s_3"]).await;
    s.finish("migrate again after legacy writes").await;
}

/// rollback after legacy writes, migrate again, more legacy writes: the legacy bot sees
/// what it wrote all along.
#[tokio::test]
async fn rollback_then_migrate_again_then_more_legacy_writes() {
    let mut s = Scenario::new().await;
    mixed_writes(&mut s, 7_710_001).await;
    s.b.batch_execute("SET search_path = public").await.unwrap();
    let saved = tempfile::tempdir().unwrap();
    profochat_saas::rollback::rollback(&mut s.b, &profochat_saas::rollback::RollbackOptions { save_dir: saved.path().into(), ..Default::default() }, &Silent)
        .await
        .expect("rollback");
    let opts = main_bot_options();
    profochat_saas::migrate::migrate(&mut s.b, &opts, &Silent).await.expect("migrate after rollback");
    s.collapsed = collapsed_rows(&s.b).await;
    use_legacy_interface(&s.b).await;
    s.tables("after rollback and migrate").await;
    mixed_writes(&mut s, 7_710_002).await;
    s.publish("diverged", "second_bot", "kept id", &["k_1"]).await;
    s.finish("rollback, migrate, write").await;
}

/// `--orphans keep`: pre-existing orphan run ids stay in the public rows (foreign key NOT
/// VALID); new orphans, the run sequence reaching them, scores, then rollback.
#[tokio::test]
async fn orphans_kept_then_the_run_sequence_reaches_them_then_rollback() {
    let opts = profochat_saas::migrate::MigrateOptions {
        default_bot: Some("main_bot".into()),
        orphans: profochat_saas::migrate::Orphans::Keep,
        ..crate::migrate::opts()
    };
    let mut s = Scenario::with_options(opts).await;
    s.message(999, "intro", "e_5", Some("5000"), 1.0).await;
    s.message(999, "intro", "e_6", Some("6000"), 0.0).await;
    s.scores(5000).await;
    s.scores(6000).await;
    s.w("setup: the sequence moves on", "SELECT setval('run_run_id_seq1', 4999)").await;
    s.start(999, Some("intro"), Some("main_bot")).await;
    s.message(999, "intro", "e_9", None, 1.0).await;
    s.w("setup: the sequence moves on", "SELECT setval('run_run_id_seq1', 5999)").await;
    s.start(999, Some("diverged"), Some("main_bot")).await;
    s.message(999, "diverged", "e_10", None, 0.25).await;
    s.scores(5000).await;
    s.scores(6000).await;
    s.w("course end", "UPDATE run SET is_ended = TRUE WHERE chat_id = 999 AND botname = 'main_bot'").await;
    s.chat_reads(999, "intro", &["main_bot"]).await;
    let s = s.finish("orphans kept").await;
    rollback_and_compare(s).await;
}

/// `rollback` after the adversarial sequences: the eight legacy tables equal the legacy
/// database that received the same writes, row for row (collapsed duplicates come back).
#[tokio::test]
async fn rollback_after_adversarial_writes_gives_the_legacy_tables() {
    let mut s = Scenario::new().await;
    s.start(7_390_001, Some("shared"), Some("second_bot")).await;
    s.publish("shared", "second_bot", "v1", &["s_1"]).await;
    s.publish("shared", "second_bot", "v2", &["s_1", "s_2"]).await;
    s.publish("diverged", "main_bot", "v1", &["d_1"]).await;
    s.remove("diverged", Some("main_bot")).await;
    s.remove("shared", None).await;
    s.publish("shared", Q, "q", &["q_1"]).await;
    s.publish("turns", "main_bot", "t", &["t_1"]).await;
    s.publish("turns", "second_bot", "t2", &["t_2"]).await;
    s.remove("turns", Some("main_bot")).await;
    s.w("publish: insert element", "INSERT INTO course_element (bot_name, course_id, element_id, json, element_type) VALUES ('main_bot', 'yaml_new', 'y', '{}', 'message')").await;
    s.start(7_390_002, Some("yaml_new"), None).await;
    s.start(7_390_002, Some("turns"), Some("second_bot")).await;
    s.message(7_390_002, "turns", "t_2", None, 1.0).await;
    s.message(7_390_003, "intro", "e1", Some("7777"), 1.0).await;
    s.w("course end", "UPDATE run SET is_ended = TRUE WHERE chat_id = 7390002 AND botname = 'second_bot'").await;
    s.w(
        "a delay",
        "INSERT INTO waiting_element (chat_id, waiting_till_date, is_waiting, element_id, course_id, botname) VALUES (7390002, '2024-01-01', TRUE, 't_2', 'turns', 'second_bot')",
    )
    .await;
    let s = s.finish("before the rollback").await;
    rollback_and_compare(s).await;
}

/// The application's own writes (bot_id, deployment_id, another account, a title) are
/// never rewritten, create no bot, course or deployment, and leave the legacy bot's
/// answers alone.
#[tokio::test]
async fn the_applications_writes_with_new_columns_are_never_rewritten() {
    let s = Scenario::new().await;
    let app = profochat_saas::conn::connect(&s.b.settings).await.unwrap();
    let before_reads = reads(&s.a).await;
    let counts = "SELECT (SELECT count(*) FROM bot), (SELECT count(*) FROM course), (SELECT count(*) FROM course_deployment),
                         (SELECT count(*) FROM profochat_saas.legacy_hidden_course), (SELECT count(*) FROM profochat_saas.legacy_course_map)";
    let before = run(&app, counts).await.unwrap();
    let main: i32 = app.query_one("SELECT bot_id FROM bot WHERE account_id = 1 AND bot_name = 'main_bot'", &[]).await.unwrap().get(0);
    let dep_second_diverged: i32 = app
        .query_one("SELECT deployment_id FROM course_deployment d JOIN bot b USING (bot_id) WHERE b.bot_name = 'second_bot' AND d.course_id = 'diverged'", &[])
        .await
        .unwrap()
        .get(0);
    app.batch_execute(&format!(
        "INSERT INTO account (account_id, name, slug) VALUES (2, 'Second', 'second');
         INSERT INTO bot (bot_id, account_id, bot_name, bot_token) VALUES (900, 2, 'main_bot', 'tok-900');
         INSERT INTO course (course_id, bot_name, account_id, yaml, title) VALUES ('diverged', 'ghost_course_bot', 2, 'account 2', 'A2');
         INSERT INTO course_deployment (deployment_id, course_id, account_id, bot_id) VALUES (900, 'diverged', 2, 900);
         -- account 1, with bot_id: the course id is not mapped to main_bot's renamed copy
         INSERT INTO run (run_id, chat_id, botname, course_id, account_id, bot_id, is_active) VALUES (91001, 7400001, 'main_bot', 'diverged', 1, {main}, true);
         -- account 1, with a deployment (of second_bot's diverged) and a bot name no bot has
         INSERT INTO run (run_id, chat_id, botname, course_id, account_id, bot_id, deployment_id) VALUES (91002, 7400002, 'ghost_run_bot', 'diverged', 1, {main}, {dep_second_diverged});
         -- account 2: nothing of account 1 is touched
         INSERT INTO run (run_id, chat_id, botname, course_id, account_id, bot_id, deployment_id) VALUES (91003, 7400001, 'main_bot', 'diverged', 2, 900, 900);
         INSERT INTO waiting_element (chat_id, course_id, botname, account_id, bot_id, run_id) VALUES (7400001, 'ghost_waiting_course', 'ghost_waiting_bot', 1, {main}, NULL);
         INSERT INTO bannedparticipants (botname, chat_id, account_id, bot_id, excluded) VALUES ('ghost_ban_bot', 7400001, 1, {main}, 0);
         INSERT INTO gen_settings (id, bot_name, s_key, s_value, account_id, bot_id) VALUES (9001, 'ghost_settings_bot', 'allowed', '1', 1, {main});
         INSERT INTO course (course_id, bot_name, account_id, yaml, title) VALUES ('app_course', 'ghost_course_bot', 1, 'app', 'App course');
         INSERT INTO course_element (course_id, account_id, bot_name, element_id, json) VALUES ('diverged', 2, 'main_bot', 'x1', '{{}}');
         INSERT INTO conversation (chat_id, course_id, run_id, account_id, element_id) VALUES (7400001, 'diverged', 91003, 2, 'x1');
         UPDATE run SET is_ended = TRUE WHERE run_id = 91003;"
    ))
    .await
    .expect("the application's writes");
    let after = run(&app, counts).await.unwrap();
    let n = |r: &(Vec<Vec<Option<String>>>, u64)| r.0[0].iter().map(|x| x.as_deref().unwrap().parse::<i64>().unwrap()).collect::<Vec<_>>();
    let (b0, a0) = (n(&before), n(&after));
    // Two courses (account 2's, account 1's app_course) and one deployment are the application's own.
    assert_eq!(a0, vec![b0[0] + 1, b0[1] + 2, b0[2] + 1, b0[3], b0[4]], "no bot, course, deployment, hidden course or course map as a side effect");
    let rows = run(
        &app,
        "SELECT run_id, course_id, account_id, bot_id, deployment_id, is_active, ended_at IS NULL FROM run WHERE run_id IN (91001, 91002, 91003) ORDER BY 1",
    )
    .await
    .unwrap()
    .0;
    let m = main.to_string();
    let d = dep_second_diverged.to_string();
    let v = |x: &[&str]| x.iter().map(|s| Some(s.to_string())).collect::<Vec<_>>();
    assert_eq!(
        rows,
        vec![
            vec![Some("91001".into()), Some("diverged".into()), Some("1".into()), Some(m.clone()), None, Some("t".into()), Some("t".into())],
            v(&["91002", "diverged", "1", &m, &d, "t", "t"]),
            // account 2 ended its run: is_active and ended_at are the application's to set
            v(&["91003", "diverged", "2", "900", "900", "t", "t"]),
        ],
        "the application's runs as written"
    );
    let ghosts: i64 = app.query_one("SELECT count(*) FROM bot WHERE bot_name LIKE 'ghost%'", &[]).await.unwrap().get(0);
    assert_eq!(ghosts, 0);
    // The legacy bot sees exactly what it saw (account 1's diverged runs of the application aside: they are account 1 rows).
    let legacy = profochat_saas::conn::connect(&s.b.settings).await.unwrap();
    use_legacy_interface(&legacy).await;
    let mut t = Tally::default();
    for st in before_reads {
        if st.sql.contains("7400001") || st.sql.contains("7400002") {
            continue;
        }
        t.compare(&s.a, &legacy, &st).await;
    }
    t.assert_clean("legacy reads after the application's writes");
}
