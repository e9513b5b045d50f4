//! Adversarial replays of the legacy bot's interface (SPEC §1, §4): sequences of
//! writes that `replay.rs` does not make (publish → remove → publish, a merged copy
//! published twice, two bots publishing one id in turn, removals without the bot
//! name, elements of YAML-only courses, orphan run ids reached by the run sequence,
//! …), each on a legacy database and on a migrated copy through the legacy interface.
//! After every step the eight legacy tables must read the same through the interface
//! as on the legacy database (every §1 read is a function of them), and at the end
//! every §1 read is replayed too. Then `rollback` after such writes, and the
//! application's own writes (new columns, other accounts).

use std::collections::BTreeSet;

use profochat_saas::conn::Db;
use profochat_saas::report::Silent;
use profochat_saas::sql::{legacy_columns, LEGACY_TABLES};
use profochat_saas::validate::{self, ValidateOptions};

use crate::harness::TestDb;
use crate::replay::{anomalies, lit, pair, read, reads, run, same_rows, set, use_legacy_interface, Stmt, Tally};

const Q: &str = "бот «кавычки» 'q'";

/// A legacy database and a migrated copy of it, used through the legacy interface.
struct Scenario {
    _a: TestDb,
    a: Db,
    _b: TestDb,
    b: Db,
    t: Tally,
    /// Legacy rows the migration collapsed into another (archived): (table, id).
    collapsed: BTreeSet<(String, String)>,
}

/// Legacy rows a migration collapsed into another and archived: (table, id).
async fn collapsed_rows(b: &Db) -> BTreeSet<(String, String)> {
    b.query(
        "SELECT table_name, coalesce(key ->> 'bannedparticipant_id', key ->> 'courseparticipant_id') FROM profochat_saas.archive
          WHERE action = 'deleted' AND table_name IN ('bannedparticipants', 'courseparticipants')",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

/// The options the anomalies are migrated with.
fn main_bot_options() -> profochat_saas::migrate::MigrateOptions {
    profochat_saas::migrate::MigrateOptions { default_bot: Some("main_bot".into()), ..crate::migrate::opts() }
}

impl Scenario {
    async fn new() -> Scenario {
        Scenario::with(anomalies).await
    }

    async fn with(load: impl Fn(&Db) -> crate::replay::futures_like::BoxFut<'_>) -> Scenario {
        Scenario::with_default_bot(load, "main_bot").await
    }

    async fn with_default_bot(load: impl Fn(&Db) -> crate::replay::futures_like::BoxFut<'_>, default_bot: &str) -> Scenario {
        let (_a, a, _b, b) = pair(load, default_bot).await;
        Scenario::of(_a, a, _b, b).await
    }

    /// The anomalies migrated with other options.
    async fn with_options(opts: profochat_saas::migrate::MigrateOptions) -> Scenario {
        let _a = TestDb::legacy().await;
        let a = _a.connect().await;
        anomalies(&a).await;
        let _b = TestDb::legacy().await;
        let mut b = _b.connect().await;
        anomalies(&b).await;
        profochat_saas::migrate::migrate(&mut b, &opts, &Silent).await.expect("migrate");
        Scenario::of(_a, a, _b, b).await
    }

    async fn of(_a: TestDb, a: Db, _b: TestDb, b: Db) -> Scenario {
        let collapsed = collapsed_rows(&b).await;
        use_legacy_interface(&b).await;
        Scenario { _a, a, _b, b, t: Tally::default(), collapsed }
    }

    /// A write (or setup statement) on both; answers compared.
    async fn w(&mut self, kind: &'static str, sql: impl Into<String>) {
        let s = Stmt { kind, sql: sql.into(), unordered: false, ties: None };
        self.t.compare(&self.a, &self.b, &s).await;
    }

    async fn r(&mut self, kind: &'static str, sql: impl Into<String>) {
        self.t.compare(&self.a, &self.b, &read(kind, sql.into())).await;
    }

    async fn publish(&mut self, course: &str, bot: &str, yaml: &str, elements: &[&str]) {
        let (c, b) = (lit(course), lit(bot));
        self.w("publish: delete elements", format!("DELETE FROM course_element WHERE course_id = {c} AND bot_name = {b}")).await;
        self.w("publish: delete course", format!("DELETE FROM course WHERE course_id = {c} AND bot_name = {b}")).await;
        self.w("publish: insert course", format!("INSERT INTO course (course_id, bot_name, creator_id, yaml) VALUES ({c}, {b}, 77, {})", lit(yaml)))
            .await;
        for e in elements {
            self.w(
                "publish: insert element",
                format!(
                    "INSERT INTO course_element (bot_name, course_id, element_id, json, element_type)
                     VALUES ({b}, {c}, {}, {}, 'message') RETURNING course_element_id",
                    lit(e),
                    lit(&format!("{{\"yaml\": {}, \"e\": {}}}", serde_json::json!(yaml), serde_json::json!(e)))
                ),
            )
            .await;
        }
        self.tables(&format!("after publishing {course} on {bot}")).await;
    }

    async fn remove(&mut self, course: &str, bot: Option<&str>) {
        let c = lit(course);
        let by = bot.map(|b| format!(" AND bot_name = {}", lit(b))).unwrap_or_default();
        self.w("remove: delete elements", format!("DELETE FROM course_element WHERE course_id = {c}{by}")).await;
        self.w("remove: delete course", format!("DELETE FROM course WHERE course_id = {c}{by}")).await;
        self.tables(&format!("after removing {course} ({bot:?})")).await;
    }

    /// /start: a run; returns nothing (the run_id answers are compared).
    async fn start(&mut self, chat: i64, course: Option<&str>, bot: Option<&str>) {
        let c = course.map(lit).unwrap_or_else(|| "NULL".into());
        let b = bot.map(lit).unwrap_or_else(|| "NULL".into());
        self.w(
            "start a course",
            format!(
                "INSERT INTO run (course_id, username, chat_id, botname, utm_source, utm_campaign)
                 VALUES ({c}, 'u{chat}', {chat}, {b}, 'adv', NULL) RETURNING run_id"
            ),
        )
        .await;
    }

    /// A message on the chat's newest run of the course (as the bot does), or on `run_id`.
    async fn message(&mut self, chat: i64, course: &str, element: &str, run_id: Option<&str>, score: f32) {
        let c = lit(course);
        let run = run_id
            .map(str::to_string)
            .unwrap_or_else(|| format!("(SELECT run_id FROM run WHERE chat_id = {chat} AND course_id = {c} ORDER BY date_inserted DESC, run_id DESC LIMIT 1)"));
        self.w(
            "every message",
            format!(
                "INSERT INTO conversation (chat_id, course_id, username, element_id, element_type, run_id, json, role, report, score, maxscore)
                 VALUES ({chat}, {c}, 'u{chat}', {}, 'message', {run}, '{{}}', 'user', NULL, {score}, 1) RETURNING conversation_id",
                lit(element)
            ),
        )
        .await;
    }

    /// The reads of one copy: the course, its content, first element, every element,
    /// the element after each, the first of the next module.
    async fn copy_reads(&mut self, course: &str, bot: &str) {
        let (c, b) = (lit(course), lit(bot));
        self.t.compare(&self.a, &self.b, &set("the bot's courses", format!("SELECT course_id FROM course WHERE bot_name = {b}"))).await;
        self.r("a course", format!("SELECT creator_id, date_created, yaml FROM course WHERE course_id = {c} AND bot_name = {b} LIMIT 1")).await;
        let content = format!("SELECT element_id, json FROM course_element WHERE course_id = {c} AND bot_name = {b} ORDER BY course_element_id");
        self.r("its content", content.clone()).await;
        self.r("its first element", format!("{content} LIMIT 1")).await;
        let elements = crate::replay::strings(
            &self.a,
            &format!("SELECT DISTINCT element_id FROM course_element WHERE course_id = {c} AND bot_name = {b} AND element_id IS NOT NULL ORDER BY 1"),
        )
        .await;
        for e in elements.iter().map(|e| lit(e)).chain(["'no_such_element'".to_string()]) {
            self.t
                .compare(
                    &self.a,
                    &self.b,
                    &set("one element", format!("SELECT element_id, json, element_type FROM course_element WHERE element_id = {e} AND course_id = {c} AND bot_name = {b}")),
                )
                .await;
            let this = format!("(SELECT course_element_id FROM course_element WHERE element_id = {e} AND course_id = {c} AND bot_name = {b})");
            self.r(
                "the element after",
                format!("SELECT element_id, json FROM course_element WHERE course_element_id > {this} AND course_id = {c} AND bot_name = {b} ORDER BY course_element_id LIMIT 1"),
            )
            .await;
            self.r(
                "the next module",
                format!(
                    "SELECT element_id, json FROM course_element WHERE course_id = {c} AND bot_name = {b} AND course_element_id > {this}
                        AND split_part(element_id, '_', 1) <> split_part({e}, '_', 1) ORDER BY course_element_id LIMIT 1"
                ),
            )
            .await;
        }
    }

    /// The chat's reads: where it is, its name, its run of a course, finished?, banned?.
    async fn chat_reads(&mut self, chat: i64, course: &str, bots: &[&str]) {
        let c = lit(course);
        self.r(
            "where a chat is",
            format!("SELECT conversation_id, element_id, element_type, course_id, run_id, json FROM conversation WHERE chat_id = {chat} ORDER BY conversation_id DESC LIMIT 1"),
        )
        .await;
        self.r("the chat's name", format!("SELECT username FROM run WHERE chat_id = {chat} ORDER BY date_inserted DESC, run_id DESC LIMIT 1")).await;
        self.r(
            "the chat's run of a course",
            format!("SELECT run_id FROM run WHERE chat_id = {chat} AND course_id = {c} ORDER BY date_inserted DESC LIMIT 1"),
        )
        .await;
        for bot in bots {
            let b = lit(bot);
            self.r("finished?", format!("SELECT is_ended FROM run WHERE chat_id = {chat} AND botname = {b} ORDER BY run_id DESC LIMIT 1")).await;
            self.r("finished? (a course)", format!("SELECT is_ended FROM run WHERE chat_id = {chat} AND course_id = {c} AND botname = {b} ORDER BY run_id DESC LIMIT 1"))
                .await;
            self.r("banned?", format!("SELECT EXISTS (SELECT 1 FROM bannedparticipants WHERE botname = {b} AND chat_id = {chat} AND excluded <> 1)")).await;
        }
    }

    async fn scores(&mut self, run_id: i64) {
        let w = format!("FROM conversation WHERE run_id = {run_id}");
        self.r("score count", format!("SELECT count(*) {w}")).await;
        self.r("score sum", format!("SELECT sum(score) {w}")).await;
        self.r("score max", format!("SELECT sum(maxscore) {w}")).await;
        for (k, cond) in [("score rows, by type", "element_type = 'message'"), ("score rows, by prefix", "element_id LIKE 'e%'"), ("score rows, right", "score = 1"), ("score rows, wrong", "score != 1")] {
            self.t.compare(&self.a, &self.b, &set(k, format!("SELECT element_id, json {w} AND {cond}"))).await;
        }
    }

    /// The eight legacy tables, row for row, through the legacy interface (the rows the
    /// migration collapsed into another, archived, left out of the legacy side).
    async fn tables(&mut self, stage: &str) {
        for table in LEGACY_TABLES {
            let cols = legacy_columns(table).join(", ");
            let sql = format!("SELECT {cols} FROM {table} ORDER BY 1, 2");
            let (ra, rb) = (run(&self.a, &sql).await.unwrap().0, run(&self.b, &sql).await);
            let rb = match rb {
                Ok((rows, _)) => rows,
                Err(e) => {
                    self.t.mismatches.push(format!("{stage}: {table} through the interface: {e}"));
                    continue;
                }
            };
            let ra: Vec<_> = ra
                .into_iter()
                .filter(|r| !self.collapsed.contains(&(table.to_string(), r[0].clone().unwrap_or_default())))
                .collect();
            self.t.compared += 1;
            if !same_rows(&ra, &rb) {
                let only_a: Vec<_> = ra.iter().filter(|r| !rb.iter().any(|x| same_rows(std::slice::from_ref(x), std::slice::from_ref(r)))).collect();
                let only_b: Vec<_> = rb.iter().filter(|r| !ra.iter().any(|x| same_rows(std::slice::from_ref(x), std::slice::from_ref(r)))).collect();
                self.t.mismatches.push(format!("{stage}: table {table} differs\n    legacy only:   {only_a:?}\n    migrated only: {only_b:?}"));
            }
        }
    }

    /// Every §1 read of `replay.rs` and the tables; then the verdict.
    async fn finish(mut self, name: &str) -> Self {
        self.tables("at the end").await;
        for s in reads(&self.a).await {
            self.t.compare(&self.a, &self.b, &s).await;
        }
        self.t.assert_clean(name);
        // And the public tables keep every rule (links, keys) after those writes.
        let public = profochat_saas::conn::connect(&self.b.settings).await.unwrap();
        let orphans_kept: bool = public
            .query_one("SELECT coalesce((SELECT (options ->> 'orphans') = 'keep' FROM profochat_saas.migration ORDER BY migration_id DESC LIMIT 1), false)", &[])
            .await
            .unwrap()
            .get(0);
        let v = validate::validate(&public.client, &ValidateOptions { orphans_kept, ..Default::default() }).await.unwrap();
        let critical: Vec<_> = v.checks.iter().filter(|c| !c.passed && c.severity == validate::Severity::Critical).map(|c| (c.id.clone(), c.examples.clone())).collect();
        assert!(critical.is_empty(), "{name}: validate after the writes: {critical:?}");
        self
    }
}

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

/// `rollback`, then the eight tables row for row against the legacy database.
async fn rollback_and_compare(mut s: Scenario) {
    s.b.batch_execute("SET search_path = public").await.unwrap();
    // (What the legacy schema cannot hold, deployments made since, is saved first.)
    let saved = tempfile::tempdir().unwrap();
    profochat_saas::rollback::rollback(&mut s.b, &profochat_saas::rollback::RollbackOptions { save_dir: saved.path().into(), ..Default::default() }, &Silent)
        .await
        .expect("rollback");
    let mut bad = vec![];
    for table in LEGACY_TABLES {
        let cols = legacy_columns(table).join(", ");
        let sql = format!("SELECT {cols} FROM {table} ORDER BY 1, 2");
        let (ra, rb) = (run(&s.a, &sql).await.unwrap().0, run(&s.b, &sql).await.unwrap().0);
        if !same_rows(&ra, &rb) {
            bad.push(format!("{table}:\n  legacy:   {ra:?}\n  rollback: {rb:?}"));
        }
    }
    assert!(bad.is_empty(), "after rollback:\n{}", bad.join("\n"));
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
