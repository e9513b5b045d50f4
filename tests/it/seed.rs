//! `seed-legacy`: determinism, an exact manifest, every anomaly, refusals, the CLI.

use std::collections::BTreeMap;
use std::sync::Mutex;

use futures_util::SinkExt;
use profochat_saas::conn::Db;
use profochat_saas::report::{Event, Reporter, Silent};
use profochat_saas::seed::copy::CopyBuf;
use profochat_saas::seed::{self, SeedManifest, SeedOptions};
use profochat_saas::sql::{ident, legacy_key, LEGACY_TABLES};
use profochat_saas::Error;
use rand::{Rng, SeedableRng};

use crate::harness::{cli, TestDb};

async fn seeded(db: &TestDb, runs: u64, seed: u64) -> SeedManifest {
    let mut c = db.connect().await;
    seed::generate(&mut c, &SeedOptions { runs, seed }, &Silent).await.expect("seed")
}

/// md5 of every row of every legacy table, in key order.
async fn fingerprints(c: &Db) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for table in LEGACY_TABLES {
        let key: Vec<String> = legacy_key(table).iter().map(|k| ident(k)).collect();
        let sql = format!("SELECT coalesce(md5(string_agg(t::text, '|' ORDER BY {})), '') FROM {} t", key.join(", "), ident(table));
        let fp: String = c.query_one(&sql, &[]).await.unwrap().get(0);
        out.insert(table.to_string(), fp);
    }
    out
}

async fn counts(c: &Db, sql: &str, params: &[&(dyn tokio_postgres::types::ToSql + Sync)]) -> BTreeMap<String, u64> {
    c.query(sql, params)
        .await
        .unwrap_or_else(|e| panic!("{e}: {sql}"))
        .iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1) as u64))
        .filter(|(_, n)| *n > 0)
        .collect()
}

async fn count(c: &Db, sql: &str, params: &[&(dyn tokio_postgres::types::ToSql + Sync)]) -> u64 {
    c.query_one(sql, params).await.unwrap_or_else(|e| panic!("{e}: {sql}")).get::<_, i64>(0) as u64
}

async fn strings(c: &Db, sql: &str, params: &[&(dyn tokio_postgres::types::ToSql + Sync)]) -> Vec<String> {
    let mut v: Vec<String> =
        c.query(sql, params).await.unwrap_or_else(|e| panic!("{e}: {sql}")).iter().map(|r| r.get(0)).collect();
    v.sort();
    v
}

const BOT_REFS: &str = "(SELECT 'run' AS t, botname AS b FROM run
    UNION ALL SELECT 'waiting_element', botname FROM waiting_element
    UNION ALL SELECT 'bannedparticipants', botname FROM bannedparticipants
    UNION ALL SELECT 'course', bot_name FROM course
    UNION ALL SELECT 'course_element', bot_name FROM course_element
    UNION ALL SELECT 'gen_settings', bot_name FROM gen_settings) refs";

const COURSE_REFS: &str = "(SELECT 'run' AS t, course_id AS c FROM run
    UNION ALL SELECT 'waiting_element', course_id FROM waiting_element
    UNION ALL SELECT 'course_element', course_id FROM course_element
    UNION ALL SELECT 'courseparticipants', course_id FROM courseparticipants
    UNION ALL SELECT 'conversation', course_id FROM conversation) refs";

/// The manifest's facts, computed by SQL from what the database holds.
async fn manifest_from_database(c: &Db, seed: u64, runs: u64, default_bot: &str) -> SeedManifest {
    let bot = &default_bot;
    let mut rows = BTreeMap::new();
    for t in LEGACY_TABLES {
        rows.insert(t.to_string(), count(c, &format!("SELECT count(*) FROM {}", ident(t)), &[]).await);
    }
    let mut bots_only_in: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in c
        .query(&format!("SELECT min(t), b FROM {BOT_REFS} WHERE b IS NOT NULL GROUP BY b HAVING count(DISTINCT t) = 1"), &[])
        .await
        .unwrap()
    {
        bots_only_in.entry(r.get(0)).or_default().push(r.get(1));
    }
    bots_only_in.values_mut().for_each(|v| v.sort());
    let copies = c
        .query(
            "WITH copies AS (
                SELECT c.course_id,
                       md5(coalesce(quote_literal(c.yaml), 'NULL') || ':' || coalesce((
                           SELECT string_agg(concat_ws(',', quote_nullable(e.element_id), quote_nullable(e.json),
                                                       quote_nullable(e.element_type)), ';' ORDER BY e.course_element_id)
                             FROM course_element e
                            WHERE e.course_id = c.course_id AND coalesce(e.bot_name, $1::text) = c.bot_name), '')) AS content
                  FROM course c)
             SELECT course_id, count(DISTINCT content) = 1 FROM copies GROUP BY course_id HAVING count(*) >= 2",
            &[bot],
        )
        .await
        .unwrap();
    let mut identical_copies: Vec<String> = copies.iter().filter(|r| r.get::<_, bool>(1)).map(|r| r.get(0)).collect();
    let mut differing_copies: Vec<String> = copies.iter().filter(|r| !r.get::<_, bool>(1)).map(|r| r.get(0)).collect();
    identical_copies.sort();
    differing_copies.sort();
    let groups = c
        .query_one(
            "SELECT count(*), coalesce(sum(n - 1), 0)::int8 FROM (
                SELECT count(*) AS n FROM run WHERE is_ended IS NOT TRUE
                 GROUP BY chat_id, coalesce(botname, $1::text) HAVING count(*) > 1) g",
            &[bot],
        )
        .await
        .unwrap();
    SeedManifest {
        seed,
        runs,
        default_bot: default_bot.to_string(),
        rows,
        bot_names: strings(c, &format!("SELECT DISTINCT b FROM {BOT_REFS} WHERE b IS NOT NULL"), &[]).await,
        bots_only_in,
        null_bot_rows: counts(c, &format!("SELECT t, count(*) FROM {BOT_REFS} WHERE b IS NULL GROUP BY t"), &[]).await,
        missing_course_ids: strings(
            c,
            &format!("SELECT DISTINCT c FROM {COURSE_REFS} WHERE c IS NOT NULL AND c NOT IN (SELECT course_id FROM course)"),
            &[],
        )
        .await,
        missing_course_refs: counts(
            c,
            &format!(
                "SELECT t, count(*) FROM {COURSE_REFS}
                  WHERE c IS NOT NULL AND NOT EXISTS (SELECT 1 FROM course WHERE course.course_id = refs.c) GROUP BY t"
            ),
            &[],
        )
        .await,
        null_course_rows: counts(c, &format!("SELECT t, count(*) FROM {COURSE_REFS} WHERE c IS NULL GROUP BY t"), &[]).await,
        identical_copies,
        differing_copies,
        orphan_run_refs: count(
            c,
            "SELECT count(*) FROM conversation c WHERE run_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM run r WHERE r.run_id = c.run_id)",
            &[],
        )
        .await,
        null_run_refs: count(c, "SELECT count(*) FROM conversation WHERE run_id IS NULL", &[]).await,
        duplicate_active_groups: groups.get::<_, i64>(0) as u64,
        runs_to_deactivate: groups.get::<_, i64>(1) as u64,
        duplicate_participants: count(
            c,
            "SELECT count(*) - count(DISTINCT (course_id, coalesce(username, ''))) FROM courseparticipants WHERE course_id IS NOT NULL",
            &[],
        )
        .await,
        duplicate_bans: count(
            c,
            "SELECT count(*) - count(DISTINCT (coalesce(botname, $1::text), chat_id, excluded))
               FROM bannedparticipants WHERE chat_id IS NOT NULL AND excluded IS NOT NULL",
            &[bot],
        )
        .await,
        null_is_ended_runs: count(c, "SELECT count(*) FROM run WHERE is_ended IS NULL", &[]).await,
        null_is_waiting: count(c, "SELECT count(*) FROM waiting_element WHERE is_waiting IS NULL", &[]).await,
        large_json_rows: count(c, "SELECT count(*) FROM conversation WHERE octet_length(json) > 65536", &[]).await,
    }
}

/// Every anomaly kind of SPEC §1 is present.
fn assert_every_anomaly(m: &SeedManifest) {
    assert!(m.bot_names.len() >= 5, "{:?}", m.bot_names);
    assert!(m.bot_names.iter().any(|b| b == "бот_курсы"), "{:?}", m.bot_names);
    assert!(m.bot_names.iter().any(|b| b.contains('\'') && b.contains('"')), "{:?}", m.bot_names);
    for t in ["run", "waiting_element", "bannedparticipants", "gen_settings", "course_element"] {
        assert!(m.null_bot_rows.get(t).copied().unwrap_or(0) > 0, "NULL bot name in {t}: {:?}", m.null_bot_rows);
    }
    for t in ["bannedparticipants", "waiting_element", "gen_settings"] {
        assert_eq!(m.bots_only_in.get(t).map(Vec::len), Some(1), "a bot only in {t}: {:?}", m.bots_only_in);
    }
    for t in ["run", "waiting_element", "courseparticipants", "course_element", "conversation"] {
        assert!(m.missing_course_refs.get(t).copied().unwrap_or(0) > 0, "missing course in {t}: {:?}", m.missing_course_refs);
        assert!(m.null_course_rows.get(t).copied().unwrap_or(0) > 0, "NULL course_id in {t}: {:?}", m.null_course_rows);
    }
    assert!(!m.identical_copies.is_empty(), "identical copies");
    assert!(!m.differing_copies.is_empty(), "differing copies");
    assert!(m.orphan_run_refs > 0, "orphan run refs");
    assert!(m.null_run_refs > 0, "NULL run refs");
    assert!(m.duplicate_active_groups > 0 && m.runs_to_deactivate >= m.duplicate_active_groups, "unfinished runs");
    assert!(m.duplicate_participants > 0, "duplicate participants");
    assert!(m.duplicate_bans > 0, "duplicate bans");
    assert!(m.null_is_ended_runs > 0, "NULL is_ended");
    assert!(m.null_is_waiting > 0, "NULL is_waiting");
    assert!(m.large_json_rows > 0, "large JSON");
}

#[tokio::test]
async fn manifest_is_exactly_what_the_database_holds() {
    let db = TestDb::empty().await;
    let m = seeded(&db, 300, 11).await;
    let c = db.connect().await;
    let from_db = manifest_from_database(&c, 11, 300, &m.default_bot).await;
    assert_eq!(m, from_db);
    assert_eq!(m.default_bot, "profochat_bot");
    assert_every_anomaly(&m);

    // What the manifest does not count, but SPEC §1 lists.
    assert!(count(&c, "SELECT count(*) FROM run WHERE date_inserted IS NULL", &[]).await > 0);
    assert!(count(&c, "SELECT count(*) FROM conversation WHERE date_inserted IS NULL", &[]).await > 0);
    assert!(count(&c, "SELECT count(*) FROM bannedparticipants WHERE banned_at IS NULL", &[]).await > 0);
    assert!(count(&c, "SELECT count(*) FROM run WHERE is_ended = false", &[]).await > 0);
    assert!(count(&c, "SELECT count(*) FROM course WHERE course_id ~ '[^[:ascii:]]'", &[]).await > 0);
    assert!(count(&c, "SELECT count(*) FROM course WHERE course_id LIKE '%''%' AND course_id LIKE '%\"%'", &[]).await > 0);
    assert!(count(&c, "SELECT count(*) FROM run WHERE username ~ '[^[:ascii:]]'", &[]).await > 0);
    assert!(count(&c, "SELECT count(*) FROM run WHERE username LIKE '%''%'", &[]).await > 0);
    // One chat with unfinished runs both before multi-bot support (NULL) and on the named default bot.
    assert!(
        count(
            &c,
            "SELECT count(*) FROM (SELECT chat_id FROM run WHERE is_ended IS NOT TRUE AND coalesce(botname, 'profochat_bot') = 'profochat_bot'
              GROUP BY chat_id HAVING count(*) FILTER (WHERE botname IS NULL) > 0 AND count(*) FILTER (WHERE botname IS NOT NULL) > 0) x",
            &[]
        )
        .await
            > 0
    );
    // Realistic sizes: about ten conversation rows per run, JSON of a few hundred bytes.
    let per_run = m.rows["conversation"] as f64 / 300.0;
    assert!((8.0..12.0).contains(&per_run), "{per_run}");
    let median: f64 = c
        .query_one("SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY octet_length(json)) FROM conversation", &[])
        .await
        .unwrap()
        .get(0);
    assert!((100.0..=300.0).contains(&median), "{median}");
}

#[tokio::test]
async fn every_anomaly_appears_at_small_sizes() {
    for (runs, seed) in [(200, 1), (500, 29)] {
        let db = TestDb::legacy().await;
        let m = seeded(&db, runs, seed).await;
        let from_db = manifest_from_database(&db.connect().await, seed, runs, &m.default_bot).await;
        assert_eq!(m, from_db, "runs {runs} seed {seed}");
        assert_every_anomaly(&m);
    }
}

#[tokio::test]
async fn same_seed_gives_the_same_tables_and_another_seed_other_tables() {
    let (a, b, other) = (TestDb::empty().await, TestDb::legacy().await, TestDb::empty().await);
    let ma = seeded(&a, 300, 7).await;
    let mb = seeded(&b, 300, 7).await;
    let mo = seeded(&other, 300, 8).await;
    assert_eq!(ma, mb);
    let (fa, fb, fo) = (
        fingerprints(&a.connect().await).await,
        fingerprints(&b.connect().await).await,
        fingerprints(&other.connect().await).await,
    );
    assert_eq!(fa, fb);
    for table in LEGACY_TABLES {
        assert!(!fa[table].is_empty(), "{table} is empty");
        assert_ne!(fa[table], fo[table], "{table} is the same under another seed");
    }
    assert_ne!(ma, mo);
}

#[tokio::test]
async fn rows_match_the_manifest_and_sequences_continue_after_them() {
    let db = TestDb::legacy().await;
    let m = seeded(&db, 250, 3).await;
    let c = db.connect().await;
    for table in LEGACY_TABLES {
        let n = count(&c, &format!("SELECT count(*) FROM {}", ident(table)), &[]).await;
        assert_eq!(m.rows[table], n, "{table}");
    }
    // The legacy bot's own statements get keys after the loaded ones.
    let cases = [
        ("run", "run_id", "INSERT INTO run (chat_id, username, botname, course_id, utm_source, utm_campaign) VALUES (1, 'u', 'profochat_bot', 'python_basics', NULL, NULL) RETURNING run_id::int8"),
        ("conversation", "conversation_id", "INSERT INTO conversation (chat_id, username, course_id, element_id, element_type, role, json, report, score, maxscore, run_id) VALUES (1, 'u', 'python_basics', 'intro', 'message', 'assistant', '{}', NULL, NULL, NULL, 1) RETURNING conversation_id::int8"),
        ("waiting_element", "waiting_element_id", "INSERT INTO waiting_element (chat_id, waiting_till_date, is_waiting, element_id, course_id, botname) VALUES (1, now(), true, 'delay_1', 'python_basics', 'profochat_bot') RETURNING waiting_element_id::int8"),
        ("bannedparticipants", "bannedparticipant_id", "INSERT INTO bannedparticipants (botname, chat_id, ban_reason, excluded) VALUES ('profochat_bot', 1, 'spam', 0) RETURNING bannedparticipant_id::int8"),
        ("course_element", "course_element_id", "INSERT INTO course_element (element_id, json, element_type, course_id, bot_name) VALUES ('x', '{}', 'message', 'python_basics', 'profochat_bot') RETURNING course_element_id"),
        ("courseparticipants", "courseparticipant_id", "INSERT INTO courseparticipants (course_id, username) VALUES ('python_basics', 'u') RETURNING courseparticipant_id::int8"),
    ];
    for (table, key, insert) in cases {
        let max: i64 = c.query_one(&format!("SELECT max({key})::int8 FROM {table}"), &[]).await.unwrap().get(0);
        let next: i64 = c.query_one(insert, &[]).await.unwrap_or_else(|e| panic!("{table}: {e}")).get(0);
        assert_eq!(next, max + 1, "{table}");
    }
}

/// Records what the generator reports.
#[derive(Default)]
struct Recorder(Mutex<Vec<(String, Option<u64>, u64)>>);

impl Reporter for Recorder {
    fn event(&self, event: Event<'_>) {
        let mut steps = self.0.lock().unwrap();
        match event {
            Event::Started { step, total } => steps.push((step.to_string(), total, 0)),
            Event::Progress { done } => {
                if let Some(last) = steps.last_mut() {
                    last.2 = done;
                }
            }
            _ => {}
        }
    }
}

#[tokio::test]
async fn progress_counts_rows_up_to_exact_totals() {
    let db = TestDb::empty().await;
    let recorder = Recorder::default();
    let m = seed::generate(&mut db.connect().await, &SeedOptions { runs: 300, seed: 2 }, &recorder).await.unwrap();
    let steps = recorder.0.into_inner().unwrap();
    for table in LEGACY_TABLES {
        let step = steps.iter().find(|s| s.0 == format!("loading {table}")).unwrap_or_else(|| panic!("{table}: {steps:?}"));
        assert_eq!(step.1, Some(m.rows[table]), "{table} total");
        assert_eq!(step.2, m.rows[table], "{table} progress");
    }
}

#[tokio::test]
async fn refuses_a_database_with_legacy_rows_and_changes_nothing() {
    let db = TestDb::legacy().await;
    let c = db.connect().await;
    c.batch_execute("INSERT INTO run (chat_id, botname) VALUES (42, 'live_bot')").await.unwrap();
    let before = fingerprints(&c).await;

    let err = seed::generate(&mut db.connect().await, &SeedOptions { runs: 50, seed: 1 }, &Silent).await.unwrap_err();
    assert!(matches!(err, Error::State { .. }), "{err:?}");

    let out = cli().args(["seed-legacy", "--runs", "50", "--yes", "--database-url", &db.url()]).assert().code(4);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(stderr.contains("already holds legacy data (rows in run)"), "{stderr}");
    assert!(stderr.contains("Nothing was changed"), "{stderr}");
    assert!(stderr.contains("createdb"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one paragraph: {stderr}");
    assert!(out.get_output().stdout.is_empty());
    assert_eq!(fingerprints(&c).await, before);
}

#[tokio::test]
async fn refuses_other_applications_and_migrated_databases() {
    let other = TestDb::empty().await;
    let c = other.connect().await;
    c.batch_execute("CREATE TABLE invoices (id int primary key)").await.unwrap();
    let out = cli().args(["seed-legacy", "--yes", "--database-url", &other.url()]).assert().code(4);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(stderr.contains("invoices") && stderr.contains("Nothing was changed"), "{stderr}");
    let run_table: Option<String> = c.query_one("SELECT to_regclass('run')::text", &[]).await.unwrap().get(0);
    assert_eq!(run_table, None);

    let migrated = TestDb::legacy().await;
    crate::fixtures::apply_target_schema(&migrated.connect().await).await;
    let out = cli().args(["seed-legacy", "--yes", "--database-url", &migrated.url()]).assert().code(4);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(stderr.contains("migrated") && stderr.contains("Nothing was changed"), "{stderr}");
}

#[tokio::test]
async fn a_seeded_database_is_not_seeded_again() {
    let db = TestDb::empty().await;
    seeded(&db, 60, 1).await;
    let before = fingerprints(&db.connect().await).await;
    let err = seed::generate(&mut db.connect().await, &SeedOptions { runs: 60, seed: 2 }, &Silent).await.unwrap_err();
    assert!(err.to_string().contains("already holds legacy data"), "{err}");
    assert_eq!(fingerprints(&db.connect().await).await, before);
}

#[tokio::test]
async fn cli_json_is_the_manifest_of_the_library() {
    let (by_cli, by_library) = (TestDb::empty().await, TestDb::empty().await);
    let out = cli()
        .args(["seed-legacy", "--runs", "200", "--seed", "5", "--yes", "--json", "--database-url", &by_cli.url()])
        .assert()
        .success();
    let m: SeedManifest = serde_json::from_slice(&out.get_output().stdout).expect("stdout is a SeedManifest");
    assert!(out.get_output().stderr.is_empty(), "{}", String::from_utf8_lossy(&out.get_output().stderr));
    assert_eq!(m, seeded(&by_library, 200, 5).await);
    assert_eq!(fingerprints(&by_cli.connect().await).await, fingerprints(&by_library.connect().await).await);
}

#[tokio::test]
async fn cli_asks_first_then_summarises() {
    let db = TestDb::empty().await;
    let out = cli().args(["seed-legacy", "--runs", "60", "--database-url", &db.url()]).assert().code(5);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(stderr.contains("--yes"), "{stderr}");
    let tables = count(&db.connect().await, "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()", &[]).await;
    assert_eq!(tables, 0, "nothing created without confirmation");

    let out = cli().args(["seed-legacy", "--runs", "60", "--yes", "--database-url", &db.url()]).assert().success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    for expected in ["with seed 1 and 60 runs", "rows/s", "conversation", "gen_settings", "python_basics", "english_a1", "бот_курсы", "Next:"] {
        assert!(stdout.contains(expected), "{expected}: {stdout}");
    }
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(stderr.contains("loading conversation"), "{stderr}");
}

#[tokio::test]
async fn copy_text_survives_the_server() {
    let db = TestDb::empty().await;
    let mut c = db.connect().await;
    c.batch_execute("CREATE TABLE t (n int PRIMARY KEY, v text)").await.unwrap();
    let mut values: Vec<Option<String>> = [
        "back\\slash", "end\\", "\\", "\\\\N", "\\N", "N", "\\.", ".", "tab\there", "new\nline", "cr\rlf\r\n", "",
        "юникод 🙂", "quote'\"", "\u{1}\u{7f}\u{8}\u{b}\u{c}", "\\x41\\101\\n",
    ]
    .iter()
    .map(|s| Some(s.to_string()))
    .collect();
    values.push(None);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    for _ in 0..300 {
        let len = rng.gen_range(0..40);
        let s: String = (0..len)
            .map(|_| match rng.gen_range(0..4) {
                0 => ['\\', '\t', '\n', '\r', 'N', '.'][rng.gen_range(0..6)],
                _ => char::from_u32(rng.gen_range(1..0x11_0000)).filter(|c| *c != '\0').unwrap_or('x'),
            })
            .collect();
        values.push(Some(s));
    }
    let mut buf = CopyBuf::with_capacity(1 << 16);
    for (n, v) in values.iter().enumerate() {
        buf.int(n as i64);
        buf.opt_text(v.as_deref());
        buf.end_row();
    }
    let tx = c.transaction().await.unwrap();
    let sink = tx.copy_in::<_, bytes::Bytes>("COPY t (n, v) FROM STDIN").await.unwrap();
    futures_util::pin_mut!(sink);
    sink.send(buf.take()).await.unwrap();
    assert_eq!(sink.as_mut().finish().await.unwrap(), values.len() as u64);
    tx.commit().await.unwrap();
    let back: Vec<Option<String>> = c.query("SELECT v FROM t ORDER BY n", &[]).await.unwrap().iter().map(|r| r.get(0)).collect();
    assert_eq!(back, values);
}

/// `--profile dense`: the library's dense dataset, and the standard one by default.
#[tokio::test]
async fn cli_profile_dense_is_the_dense_dataset_of_the_library() {
    let (by_cli, by_library) = (TestDb::empty().await, TestDb::empty().await);
    let out = cli()
        .args(["seed-legacy", "--runs", "300", "--seed", "4", "--profile", "dense", "--yes", "--json", "--database-url", &by_cli.url()])
        .assert()
        .success();
    let m: SeedManifest = serde_json::from_slice(&out.get_output().stdout).expect("stdout is a SeedManifest");
    let lib = seed::generate_profile(&mut by_library.connect().await, &SeedOptions { runs: 300, seed: 4 }, seed::Profile::Dense, &Silent).await.unwrap();
    assert_eq!(m, lib);
    assert!(m.runs_to_deactivate * 10 >= 300 * 3, "a third of the runs superseded: {}", m.runs_to_deactivate);
    assert_eq!(fingerprints(&by_cli.connect().await).await, fingerprints(&by_library.connect().await).await);
    cli().args(["seed-legacy", "--profile", "sparse", "--yes", "--database-url", &by_cli.url()]).assert().code(2);
}
