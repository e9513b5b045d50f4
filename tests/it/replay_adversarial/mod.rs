//! Adversarial replays of the legacy bot's interface (SPEC §1, §4): sequences of
//! writes that `replay` does not make (publish → remove → publish, a merged copy
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

mod again;
mod bots;
mod courses;

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

    /// Every §1 read of `replay` and the tables; then the verdict.
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
