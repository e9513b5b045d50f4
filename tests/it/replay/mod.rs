//! The legacy bot's whole database interface (SPEC §1), replayed: every read for
//! every bot and a spread of chats, courses, elements and runs, on a legacy database
//! and on a migrated copy of it through the legacy interface (`profochat_legacy`);
//! the answers must be identical. Then every write on both, answers compared again,
//! and the links the writes got in the public tables checked. The same writes on a
//! migrated copy through the public tables (a bot that has not switched) get their
//! links too, and the new application's writes for a second account leave account 1
//! and the legacy interface untouched.

use std::collections::BTreeSet;

use profochat_saas::conn::Db;
use profochat_saas::migrate;
use profochat_saas::report::Silent;
use profochat_saas::seed::{self, SeedOptions};
use profochat_saas::sql::literal;
use profochat_saas::validate::{self, ValidateOptions};
use tokio_postgres::SimpleQueryMessage;

use crate::harness::TestDb;
use crate::migrate::{opts, ANOMALIES};

mod statements;

pub(crate) use statements::reads;
use statements::writes;

/// What a statement answered: its rows as text and the affected-row count, or the
/// SQLSTATE of its error.
pub(crate) type Answer = Result<(Vec<Vec<Option<String>>>, u64), String>;

pub(crate) async fn run(c: &Db, sql: &str) -> Answer {
    match c.simple_query(sql).await {
        Ok(msgs) => {
            let mut rows = vec![];
            let mut n = 0;
            for m in msgs {
                match m {
                    SimpleQueryMessage::Row(r) => rows.push((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect()),
                    SimpleQueryMessage::CommandComplete(k) => n = k,
                    _ => {}
                }
            }
            Ok((rows, n))
        }
        Err(e) => Err(e.code().map(|c| c.code().to_string()).unwrap_or_else(|| e.to_string())),
    }
}

/// Timestamps the replay's own writes took from the clock (`DEFAULT CURRENT_TIMESTAMP`)
/// differ between the two databases by the time between the two statements.
fn written_now(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() >= 19 && b[4] == b'-' && b[7] == b'-' && b[10] == b' ' && v[..10] == *chrono_today()
}

fn chrono_today() -> &'static str {
    static TODAY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TODAY.get_or_init(|| chrono::Utc::now().format("%Y-%m-%d").to_string())
}

/// Float sums may differ in the last digits with the order rows are read in.
fn same_value(a: &Option<String>, b: &Option<String>) -> bool {
    match (a, b) {
        (Some(x), Some(y)) if written_now(x) && written_now(y) => true,
        (Some(x), Some(y)) if x != y => match (x.parse::<f64>(), y.parse::<f64>()) {
            (Ok(p), Ok(q)) => (p - q).abs() <= 1e-4 * p.abs().max(q.abs()).max(1.0),
            _ => false,
        },
        _ => a == b,
    }
}

pub(crate) fn same_rows(a: &[Vec<Option<String>>], b: &[Vec<Option<String>>]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_value(p, q)))
}

/// Every row the migrated copy of a collapsing table (bannedparticipants,
/// courseparticipants) shows is a legacy row. A statement that inserts several rows
/// from a SELECT without ORDER BY (the auto-ban) numbers them in whatever order each
/// server's plan reads them, so the id column (the first) is compared as a set of ids,
/// and the other columns row for row.
pub(crate) fn all_held(legacy: &[Vec<Option<String>>], migrated: &[Vec<Option<String>>]) -> bool {
    let rest = |r: &Vec<Option<String>>| r[1..].to_vec();
    let ids: std::collections::HashSet<&Option<String>> = legacy.iter().map(|r| &r[0]).collect();
    migrated.iter().all(|r| {
        ids.contains(&r[0]) && legacy.iter().any(|x| same_rows(std::slice::from_ref(&rest(x)), std::slice::from_ref(&rest(r))))
    })
}

pub(crate) fn sorted(mut rows: Vec<Vec<Option<String>>>) -> Vec<Vec<Option<String>>> {
    rows.sort();
    rows
}

/// One statement of §1 with its parameters filled in.
pub(crate) struct Stmt {
    pub(crate) kind: &'static str,
    pub(crate) sql: String,
    /// No ORDER BY: the rows compare as a set.
    pub(crate) unordered: bool,
    /// ORDER BY a key that may tie, LIMIT 1: every row tied for first place (the
    /// answer may be any of them, on either database).
    pub(crate) ties: Option<String>,
}

pub(crate) fn read(kind: &'static str, sql: String) -> Stmt {
    Stmt { kind, sql, unordered: false, ties: None }
}

pub(crate) fn set(kind: &'static str, sql: String) -> Stmt {
    Stmt { kind, sql, unordered: true, ties: None }
}

#[derive(Default, Debug)]
pub(crate) struct Tally {
    pub(crate) compared: usize,
    pub(crate) up_to_ties: usize,
    pub(crate) kinds: BTreeSet<&'static str>,
    pub(crate) mismatches: Vec<String>,
}

impl Tally {
    pub(crate) async fn compare(&mut self, legacy: &Db, migrated: &Db, s: &Stmt) {
        let a = run(legacy, &s.sql).await;
        let b = run(migrated, &s.sql).await;
        self.compared += 1;
        self.kinds.insert(s.kind);
        let equal = match (&a, &b) {
            (Ok((ra, na)), Ok((rb, nb))) => {
                na == nb
                    && if s.unordered {
                        same_rows(&sorted(ra.clone()), &sorted(rb.clone()))
                    } else {
                        same_rows(ra, rb)
                    }
            }
            (Err(x), Err(y)) => x == y,
            _ => false,
        };
        if equal {
            return;
        }
        if let (Some(ties), Ok((ra, _)), Ok((rb, _))) = (&s.ties, &a, &b) {
            if let (Ok((ta, _)), Ok((tb, _))) = (run(legacy, ties).await, run(migrated, ties).await) {
                let (ta, tb) = (sorted(ta), sorted(tb));
                if same_rows(&ta, &tb) && ra.iter().all(|r| ta.contains(r)) && rb.iter().all(|r| tb.contains(r)) {
                    self.up_to_ties += 1;
                    return;
                }
            }
        }
        self.mismatches.push(format!("{}\n    legacy:   {a:?}\n    migrated: {b:?}", s.sql));
    }

    pub(crate) fn assert_clean(&self, stage: &str) {
        assert!(
            self.mismatches.is_empty(),
            "{stage}: {} of {} statements answered differently:\n{}",
            self.mismatches.len(),
            self.compared,
            self.mismatches.iter().take(15).cloned().collect::<Vec<_>>().join("\n")
        );
        eprintln!(
            "replay {stage}: {} statements compared ({} kinds), {} of them equal up to rows tied for first place",
            self.compared,
            self.kinds.len(),
            self.up_to_ties
        );
    }
}

pub(crate) fn lit(v: &str) -> String {
    literal(v)
}

pub(crate) async fn strings(c: &Db, sql: &str) -> Vec<String> {
    c.query(sql, &[]).await.unwrap_or_else(|e| panic!("{sql}: {e}")).iter().map(|r| r.get::<_, String>(0)).collect()
}

pub(crate) async fn ints(c: &Db, sql: &str) -> Vec<i64> {
    c.query(sql, &[]).await.unwrap_or_else(|e| panic!("{sql}: {e}")).iter().map(|r| r.get::<_, i64>(0)).collect()
}

/// Two copies of one legacy dataset: (legacy, migrated through the legacy interface).
pub(crate) async fn pair(load: impl Fn(&Db) -> futures_like::BoxFut<'_>, default_bot: &str) -> (TestDb, Db, TestDb, Db) {
    let a = TestDb::legacy().await;
    let ca = a.connect().await;
    load(&ca).await;
    let b = TestDb::legacy().await;
    let mut cb = b.connect().await;
    load(&cb).await;
    let opts = migrate::MigrateOptions { default_bot: Some(default_bot.to_string()), ..opts() };
    migrate::migrate(&mut cb, &opts, &Silent).await.expect("migrate");
    (a, ca, b, cb)
}

pub(crate) mod futures_like {
    pub(crate) type BoxFut<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + 'a>>;
}

pub(crate) fn anomalies(c: &Db) -> futures_like::BoxFut<'_> {
    Box::pin(async move {
        c.batch_execute(ANOMALIES).await.expect("anomalies");
        // More of what years of writes leave behind: '' next to NULL usernames, a ban
        // of a NULL bot name older than the named one, an element id with a module.
        c.batch_execute(
            "INSERT INTO courseparticipants (course_id, username) VALUES ('intro', ''), ('shared', NULL), ('shared', ''), ('diverged', 'o''hara');
             INSERT INTO bannedparticipants (botname, chat_id, banned_at, ban_reason, excluded) VALUES
               (NULL, 101, '2020-01-01', 'old', 0), ('main_bot', 101, '2024-05-01', 'new', 0),
               (NULL, 102, '2020-01-01', 'old', 1), ('second_bot', 105, NULL, 'x', 0), ('second_bot', 105, NULL, 'y', 0);
             INSERT INTO gen_settings (id, bot_name, s_key, s_value) VALUES (4, 'main_bot', 'allowed', '1,2'), (5, NULL, 'allowed', '3');",
        )
        .await
        .expect("more anomalies");
    })
}

/// The bot that wrote the seeded dataset's rows without a bot name.
pub(crate) const SEEDED_DEFAULT_BOT: &str = "profochat_bot";

pub(crate) fn seeded(c: &Db) -> futures_like::BoxFut<'_> {
    Box::pin(async move {
        let mut own = profochat_saas::conn::connect(&c.settings).await.expect("connect");
        seed::generate(&mut own, &SeedOptions { runs: 400, seed: 11 }, &Silent).await.expect("seed");
    })
}

pub(crate) async fn use_legacy_interface(c: &Db) {
    c.batch_execute("SET search_path = profochat_legacy, public").await.unwrap();
}

pub(crate) async fn copies(c: &Db) -> Vec<(String, String)> {
    c.query("SELECT course_id, bot_name FROM course ORDER BY date_created NULLS FIRST, course_id, bot_name", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

pub(crate) async fn replay(a: &Db, b: &Db, default_bot: &str) -> Tally {
    let bots = strings(a, "SELECT DISTINCT bot_name FROM course ORDER BY 1").await;
    let courses = copies(a).await;
    let mut t = Tally::default();
    for s in reads(a).await {
        t.compare(a, b, &s).await;
    }
    t.assert_clean("reads before any write");
    let mut tw = Tally::default();
    for s in writes(default_bot, &bots, &courses) {
        tw.compare(a, b, &Stmt { kind: s.kind, sql: s.sql, unordered: false, ties: None }).await;
    }
    tw.assert_clean("writes");
    let mut t2 = Tally::default();
    for s in reads(a).await {
        t2.compare(a, b, &s).await;
    }
    t2.assert_clean("reads after the writes");
    // The whole legacy tables, row for row.
    for table in profochat_saas::sql::LEGACY_TABLES {
        let cols = profochat_saas::sql::legacy_columns(table).join(", ");
        let sql = format!("SELECT {cols} FROM {table} ORDER BY 1, 2");
        let (ra, rb) = (run(a, &sql).await, run(b, &sql).await);
        let keep_visible = |r: Answer| r.map(|(rows, _)| rows);
        let (ra, rb) = (keep_visible(ra).unwrap(), keep_visible(rb).unwrap());
        if table == "bannedparticipants" || table == "courseparticipants" {
            // Collapsed duplicates are archived: every row the migrated copy shows is a
            // legacy row, and the legacy reads answered alike above.
            assert!(all_held(&ra, &rb), "{table}: a row the legacy table does not hold:\nlegacy:   {ra:?}\nmigrated: {rb:?}");
        } else {
            assert!(same_rows(&ra, &rb), "{table} differs through the legacy interface");
        }
    }
    t
}

/// The links the legacy writes got in the public tables.
pub(crate) async fn assert_linked(c: &Db) {
    c.batch_execute("SET search_path = public").await.unwrap();
    let bad: i64 = c
        .query_one(
            "SELECT (SELECT count(*) FROM run WHERE bot_id IS NULL OR account_id <> 1)
                  + (SELECT count(*) FROM run r WHERE r.course_id IS NOT NULL AND NOT EXISTS (
                        SELECT 1 FROM course_deployment d WHERE d.deployment_id = r.deployment_id
                           AND d.course_id = r.course_id AND d.bot_id = r.bot_id))
                  + (SELECT count(*) FROM waiting_element WHERE bot_id IS NULL)
                  + (SELECT count(*) FROM waiting_element w WHERE w.chat_id BETWEEN 7000000 AND 7999999 AND w.run_id IS NULL)
                  + (SELECT count(*) FROM bannedparticipants WHERE bot_id IS NULL)
                  + (SELECT count(*) FROM gen_settings WHERE bot_name IS NOT NULL AND bot_id IS NULL)
                  + (SELECT count(*) FROM (SELECT bot_id, chat_id FROM run WHERE is_active GROUP BY 1, 2 HAVING count(*) > 1) x)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(bad, 0, "rows without their links");
    assert!(
        c.query_one("SELECT count(*) FROM bot WHERE bot_name = 'brand_new_bot' AND settings ->> 'created_by' = 'legacy write'", &[])
            .await
            .unwrap()
            .get::<_, i64>(0)
            == 1,
        "a legacy write under a new bot name creates that bot, marked"
    );
    let v = validate::validate(&c.client, &ValidateOptions::default()).await.unwrap();
    let critical: Vec<_> = v.checks.iter().filter(|c| !c.passed && c.severity == validate::Severity::Critical).map(|c| (c.id.clone(), c.examples.clone())).collect();
    assert!(critical.is_empty(), "validate after the replay: {critical:?}");
}

#[tokio::test]
async fn legacy_interface_answers_every_statement_as_before_on_the_anomalies() {
    let (_a, ca, _b, cb) = pair(anomalies, "main_bot").await;
    use_legacy_interface(&cb).await;
    let t = replay(&ca, &cb, "main_bot").await;
    assert!(t.kinds.len() >= 20, "every kind of read ran: {:?}", t.kinds);
    assert_linked(&cb).await;
}

#[tokio::test]
async fn legacy_interface_answers_every_statement_as_before_on_seeded_data() {
    let (_a, ca, _b, cb) = pair(seeded, SEEDED_DEFAULT_BOT).await;
    use_legacy_interface(&cb).await;
    replay(&ca, &cb, SEEDED_DEFAULT_BOT).await;
    assert_linked(&cb).await;
}

#[tokio::test]
async fn a_bot_that_has_not_switched_still_writes_with_links() {
    let (_a, ca, _b, cb) = pair(anomalies, "main_bot").await;
    let bots = strings(&ca, "SELECT DISTINCT bot_name FROM course ORDER BY 1").await;
    let courses = copies(&ca).await;
    let mut failed = vec![];
    for s in writes("main_bot", &bots, &courses) {
        let (x, y) = (run(&ca, &s.sql).await, run(&cb, &s.sql).await);
        // Through the public tables the writes succeed where they did before.
        if x.is_ok() && y.is_err() {
            failed.push(format!("{}: {}: {:?}", s.kind, s.sql, y));
        }
    }
    assert!(failed.is_empty(), "writes that fail through the public tables:\n{}", failed.join("\n"));
    assert_linked(&cb).await;
}

#[tokio::test]
async fn the_applications_writes_for_a_second_account_leave_account_1_alone() {
    let (_a, ca, _b, cb) = pair(anomalies, "main_bot").await;
    let legacy = profochat_saas::conn::connect(&cb.settings).await.unwrap();
    use_legacy_interface(&legacy).await;
    let before_reads = reads(&ca).await;
    let snapshot = |c: &'static str| c;
    let count_sql = snapshot(
        "SELECT (SELECT count(*) FROM bot WHERE account_id = 1), (SELECT count(*) FROM course WHERE account_id = 1),
                (SELECT count(*) FROM course_deployment WHERE account_id = 1), (SELECT count(*) FROM run WHERE account_id = 1)",
    );
    let before = run(&cb, count_sql).await.unwrap();
    // The new application: account 2 with a bot of the same name as account 1's, its own
    // course under an id account 1 also has, a deployment, a run, messages, a ban, a
    // participant, settings, elements.
    cb.batch_execute(
        "INSERT INTO account (account_id, name, slug) VALUES (2, 'Second', 'second');
         INSERT INTO bot (bot_id, account_id, bot_name, bot_token) VALUES (900, 2, 'main_bot', 'tok-900');
         INSERT INTO course (course_id, bot_name, account_id, yaml) VALUES ('intro', 'account 2 bot', 2, 'account 2 intro');
         INSERT INTO course_element (course_id, account_id, bot_name, element_id, json) VALUES ('intro', 2, 'main_bot', 'x1', '{}');
         INSERT INTO course_deployment (deployment_id, course_id, account_id, bot_id) VALUES (900, 'intro', 2, 900);
         INSERT INTO run (run_id, chat_id, botname, course_id, account_id, bot_id, deployment_id) VALUES (90000, 100, 'main_bot', 'intro', 2, 900, 900);
         INSERT INTO conversation (chat_id, course_id, run_id, account_id, element_id) VALUES (100, 'intro', 90000, 2, 'x1');
         INSERT INTO waiting_element (chat_id, course_id, botname, account_id, bot_id, run_id) VALUES (100, 'intro', 'main_bot', 2, 900, 90000);
         INSERT INTO bannedparticipants (botname, chat_id, account_id, bot_id, excluded) VALUES ('main_bot', 100, 2, 900, 0);
         INSERT INTO courseparticipants (course_id, username, account_id) VALUES ('intro', 'alice', 2);
         INSERT INTO gen_settings (id, bot_name, s_key, s_value, account_id, bot_id) VALUES (900, 'main_bot', 'allowed', '9', 2, 900);
         INSERT INTO run (chat_id, botname, course_id, account_id, bot_id) VALUES (101, 'ghost_bot', 'ghost_course', 2, 900);",
    )
    .await
    .expect("the application's writes");
    assert_eq!(run(&cb, count_sql).await.unwrap(), before, "no bot, course, deployment or run appeared in account 1");
    let rows = cb
        .query("SELECT course_id, account_id, deployment_id, bot_id FROM run WHERE run_id = 90000", &[])
        .await
        .unwrap();
    assert_eq!((rows[0].get::<_, String>(0), rows[0].get::<_, i32>(1), rows[0].get::<_, i32>(2)), ("intro".to_string(), 2, 900));
    assert_eq!(cb.query_one("SELECT count(*) FROM bot WHERE bot_name = 'ghost_bot'", &[]).await.unwrap().get::<_, i64>(0), 0);
    // The legacy bot sees exactly what it saw.
    let mut t = Tally::default();
    for s in before_reads {
        t.compare(&ca, &legacy, &s).await;
    }
    t.assert_clean("reads after the application's writes for account 2");
}

#[tokio::test]
async fn collapsed_duplicates_keep_what_the_legacy_reads_see() {
    let (_a, mut ca, _b, cb) = pair(anomalies, "main_bot").await;
    // The plan says which rows collapse and which stays.
    let p = profochat_saas::plan::plan(&mut ca, &opts()).await.unwrap();
    let details = |kind: &str| p.anomalies.iter().find(|a| a.kind == kind).unwrap().details.clone();
    assert!(details("duplicate_bans").contains(&"chat 500 on bot main_bot (excluded 0): rows 2, 3 go, row 1 (bot name 'main_bot') stays".to_string()), "{:?}", details("duplicate_bans"));
    assert!(details("duplicate_bans").contains(&"chat 101 on bot main_bot (excluded 0): rows 6 go, row 7 (bot name 'main_bot') stays".to_string()), "{:?}", details("duplicate_bans"));
    assert!(details("duplicate_participants").contains(&"course 'intro', username '': rows 3, 4 go, row 8 stays".to_string()), "{:?}", details("duplicate_participants"));
    // Chat 500 was banned three times on main_bot (twice named, once NULL): a named row stays.
    let kept = cb
        .query("SELECT bannedparticipant_id, botname FROM bannedparticipants WHERE chat_id = 500", &[])
        .await
        .unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].get::<_, Option<String>>(1).as_deref(), Some("main_bot"));
    // Chat 101: the NULL-bot ban is older, the named one is kept.
    let kept: Option<String> = cb.query_one("SELECT botname FROM bannedparticipants WHERE chat_id = 101 AND excluded = 0", &[]).await.unwrap().get(0);
    assert_eq!(kept.as_deref(), Some("main_bot"));
    // '' and NULL usernames collide: '' stays.
    let kept: Vec<Option<String>> = cb
        .query("SELECT username FROM courseparticipants WHERE course_id = 'intro' AND coalesce(username, '') = ''", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(kept, vec![Some(String::new())]);
    let reason: String = cb
        .query_one("SELECT reason FROM profochat_saas.archive WHERE table_name = 'bannedparticipants' AND key ->> 'bannedparticipant_id' = '3'", &[])
        .await
        .unwrap()
        .get(0);
    assert!(reason.contains("row 1 is kept"), "{reason}");
}

#[tokio::test]
async fn rollback_after_the_replay_gives_the_legacy_tables_the_legacy_bot_wrote() {
    let (_a, ca, _b, mut cb) = pair(anomalies, "main_bot").await;
    use_legacy_interface(&cb).await;
    replay(&ca, &cb, "main_bot").await;
    cb.batch_execute("SET search_path = public").await.unwrap();
    profochat_saas::rollback::rollback(&mut cb, &Default::default(), &Silent).await.expect("rollback");
    let schema: i64 = cb.query_one("SELECT count(*) FROM pg_namespace WHERE nspname = 'profochat_legacy'", &[]).await.unwrap().get(0);
    assert_eq!(schema, 0, "the legacy interface goes with the rollback");
    for table in profochat_saas::sql::LEGACY_TABLES {
        let cols = profochat_saas::sql::legacy_columns(table).join(", ");
        let sql = format!("SELECT {cols} FROM {table} ORDER BY 1, 2");
        let (ra, rb) = (run(&ca, &sql).await.unwrap().0, run(&cb, &sql).await.unwrap().0);
        if table == "bannedparticipants" || table == "courseparticipants" {
            // Duplicates the legacy bot did not write again stay collapsed only where the
            // legacy interface skipped a duplicate ban; every row is a legacy row.
            assert!(all_held(&ra, &rb), "{table}: a row the legacy table does not hold:\nlegacy:   {ra:?}\nrollback: {rb:?}");
        } else {
            assert!(same_rows(&ra, &rb), "{table} after rollback differs from the legacy database with the same writes:\nlegacy:   {ra:?}\nrollback: {rb:?}");
        }
    }
}
