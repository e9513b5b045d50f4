//! YAML courses into the database (`migrate --courses-yml`, `course import`): each course
//! the legacy tables name that lives in a bot's YAML files gets the rows the legacy bot's
//! own publish of that file writes (SPEC §1), its courses.yml settings in metadata and no
//! secret anywhere; `path: db` courses stay as they are; `ext_courses` and a course used
//! by two bots are honoured; the legacy interface answers as before; rollback removes
//! what was imported.

use std::path::PathBuf;

use predicates::prelude::*;
use profochat_saas::conn::Db;

use crate::harness::{cli, TestDb};

/// Two bots: bot_a runs courses from its YAML files (one of them with unicode and quotes
/// in its name and content) and one published to the database; bot_b (whose folder is
/// not named after it) runs a course of bot_a's files too, and an external one.
pub(crate) const LEGACY: &str = r#"
INSERT INTO course (course_id, bot_name, creator_id, yaml) VALUES ('db_course', 'bot_a', 7, 'name: db_course');
INSERT INTO course_element (element_id, json, element_type, course_id, bot_name) VALUES
    ('d1', '{"type": "message", "text": "from db"}', 'message', 'db_course', 'bot_a');
INSERT INTO run (course_id, username, chat_id, botname) VALUES
    ('yaml_one', 'ann', 1, 'bot_a'),
    ('shared_yaml', 'bob', 2, 'bot_a'),
    ('shared_yaml', 'cat', 3, 'bot_b'),
    ('ext_one', 'dan', 4, 'bot_b'),
    ('unicode «курс» ''q''', 'eve', 5, 'bot_a'),
    ('db_course', 'fay', 6, 'bot_a');
INSERT INTO conversation (chat_id, course_id, element_id, role, json, run_id) VALUES (1, 'yaml_one', 'start', 'bot', '{}', 1);
INSERT INTO waiting_element (chat_id, waiting_till_date, is_waiting, element_id, course_id, botname)
    VALUES (1, now() + interval '1 day', true, 'wait_1', 'yaml_one', 'bot_a');
"#;

pub(crate) fn scripts() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/data/courses_yml/scripts")
}

/// What the legacy bot's publish writes for each YAML course: (course_id, bot, file,
/// elements as (element_id, json, element_type)), the JSON as the bot's
/// `json.dumps(element, ensure_ascii=False)` writes it (keys in file order).
fn published() -> Vec<(&'static str, &'static str, &'static str, Vec<(&'static str, &'static str, &'static str)>)> {
    vec![
        (
            "yaml_one",
            "bot_a",
            "bot_a/yaml_one.yml",
            vec![
                ("start", r#"{"type": "message", "text": "Добро пожаловать!", "buttons": ["next", "stop"]}"#, "message"),
                ("q1_a", r#"{"type": "quiz", "text": "2 + 2?", "answers": [{"text": "4", "correct": true}, {"text": "5", "correct": false}], "score": 1.5}"#, "quiz"),
                ("wait_1", r#"{"type": "delay", "wait": 3600}"#, "delay"),
                ("end", r#"{"type": "message", "text": "Конец.\nСпасибо!\n"}"#, "message"),
            ],
        ),
        (
            "shared_yaml",
            "bot_a",
            "bot_a/shared.yml",
            vec![
                ("s1", r#"{"type": "message", "text": "shared one"}"#, "message"),
                ("s2", r#"{"type": "message", "text": "shared two"}"#, "message"),
            ],
        ),
        (
            "unicode «курс» 'q'",
            "bot_a",
            "bot_a/courses/unicode.yml",
            vec![
                ("élément «1»", r#"{"type": "message", "text": "Кавычки \"двойные\" и 'одинарные', tab\tend, backslash \\ ok", "emoji": "🙂"}"#, "message"),
                ("2", r#"{"type": "message", "text": "It's «quoted»", "nested": {"b": 2, "a": [1, {"z": true, "y": null}]}}"#, "message"),
            ],
        ),
        ("ext_one", "bot_b", "bot_a/ext_one.yml", vec![("x1", r#"{"type": "message", "text": "external", "zeta": 1, "alpha": null}"#, "message")]),
    ]
}

type Rows = (Option<String>, Vec<(String, String, String, String)>);

/// A course's yaml and its elements (element_id, json, element_type, bot_name) in publish order.
async fn rows(c: &tokio_postgres::Client, course: &str) -> Rows {
    let yaml: Option<String> = c
        .query_opt("SELECT yaml FROM course WHERE course_id = $1", &[&course])
        .await
        .unwrap()
        .and_then(|r| r.get(0));
    let elements = c
        .query(
            "SELECT element_id, json, element_type, bot_name FROM course_element WHERE course_id = $1 ORDER BY course_element_id",
            &[&course],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    (yaml, elements)
}

/// The legacy bot's own publish (SPEC §1) of each YAML course, on a legacy database.
async fn publish_as_the_legacy_bot() -> (TestDb, Db) {
    let db = TestDb::legacy().await;
    let c = db.connect().await;
    for (course, bot, file, elements) in published() {
        let text = std::fs::read_to_string(scripts().join(file)).unwrap();
        c.execute("DELETE FROM course_element WHERE course_id = $1 AND bot_name = $2", &[&course, &bot]).await.unwrap();
        c.execute("DELETE FROM course WHERE course_id = $1 AND bot_name = $2", &[&course, &bot]).await.unwrap();
        c.execute("INSERT INTO course (course_id, bot_name, creator_id, yaml) VALUES ($1, $2, NULL, $3)", &[&course, &bot, &text])
            .await
            .unwrap();
        for (id, json, ty) in elements {
            c.query_one(
                "INSERT INTO course_element (bot_name, course_id, element_id, json, element_type) VALUES ($1, $2, $3, $4, $5) RETURNING course_element_id",
                &[&bot, &course, &id, &json, &ty],
            )
            .await
            .unwrap();
        }
    }
    (db, c)
}

pub(crate) fn args() -> Vec<String> {
    vec![
        "--courses-yml".into(),
        scripts().join("bot_a/courses.yml").display().to_string(),
        "--courses-yml".into(),
        format!("bot_b={}", scripts().join("folder_b/courses.yml").display()),
    ]
}

async fn legacy_answers(c: &tokio_postgres::Client) -> Vec<String> {
    let mut out = vec![];
    for (sql, p) in [
        ("SELECT course_id FROM course WHERE bot_name = $1 ORDER BY course_id", "bot_a"),
        ("SELECT course_id FROM course WHERE bot_name = $1 ORDER BY course_id", "bot_b"),
        ("SELECT element_id || ' ' || json FROM course_element WHERE course_id = 'yaml_one' AND bot_name = $1 ORDER BY course_element_id", "bot_a"),
        ("SELECT element_id || ' ' || json FROM course_element WHERE course_id = 'shared_yaml' AND bot_name = $1 ORDER BY course_element_id", "bot_a"),
        ("SELECT element_id || ' ' || json FROM course_element WHERE course_id = 'db_course' AND bot_name = $1 ORDER BY course_element_id", "bot_a"),
        ("SELECT element_id || ' ' || json FROM course_element WHERE course_id = 'ext_one' AND bot_name = $1 ORDER BY course_element_id LIMIT 1", "bot_b"),
        ("SELECT yaml FROM course WHERE course_id = 'yaml_one' AND bot_name = $1 LIMIT 1", "bot_a"),
    ] {
        let rows: Vec<String> = c.query(sql, &[&p]).await.unwrap().iter().map(|r| r.get::<_, Option<String>>(0).unwrap_or_default()).collect();
        out.push(format!("{sql} [{p}] -> {rows:?}"));
    }
    out
}

#[tokio::test]
async fn yaml_courses_get_what_the_legacy_bots_publish_writes() {
    let (_ref_db, reference) = publish_as_the_legacy_bot().await;
    let db = TestDb::legacy().await;
    let c = db.connect().await;
    c.batch_execute(LEGACY).await.unwrap();
    let url = db.url();
    let legacy_fp = profochat_saas::fingerprint::take(&*c).await.unwrap();
    let before = legacy_answers(&c).await;

    // plan lists the YAML-only courses and what covers them: bot_a's file alone leaves ext_one uncovered.
    let out = cli()
        .args(["plan", "--database-url", &url, "--default-bot", "bot_a", "--courses-yml"])
        .arg(scripts().join("bot_a/courses.yml"))
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(text.contains("Courses that live in YAML files (4"), "{text}");
    assert!(text.contains("'ext_one': not covered") && text.contains("--courses-yml"), "{text}");
    assert!(text.contains("'yaml_one': covered by") && text.contains("yaml_one.yml"), "{text}");
    assert!(text.contains("'unicode «курс» ''q''': covered by"), "{text}");
    assert!(!text.contains("SECRET"), "{text}");

    // migrate --courses-yml: migrated, then the content imported; no secret printed.
    let out = cli()
        .args(["migrate", "--yes", "--skip-backup", "--default-bot", "bot_a", "--database-url", &url])
        .args(args())
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    for t in [&stdout, &stderr] {
        assert!(!t.contains("SECRET") && !t.contains("123456789:"), "a token was printed:\n{t}");
    }
    assert!(stdout.contains("YAML courses: 4 imported"), "{stdout}");
    assert!(stdout.contains("'db_course' (bot 'bot_a'): path: db"), "{stdout}");
    assert!(stdout.contains("'yaml_one' (bot 'bot_b'): ext_courses entry: defined by another given courses.yml"), "{stdout}");
    assert!(stdout.contains("'shared_yaml' (bot 'bot_b'): imported before from the same file"), "{stdout}");

    // The rows equal the legacy bot's publish of each file (in the public tables).
    for (course, bot, _, _) in published() {
        let (yaml, elements) = rows(&c.client, course).await;
        let (ref_yaml, ref_elements) = rows(&reference, course).await;
        assert_eq!(yaml, ref_yaml, "course.yaml of {course}");
        assert_eq!(elements, ref_elements, "the elements of {course}");
        assert!(elements.iter().all(|e| e.3 == bot));
    }
    // path: db stays as it was.
    let (_, db_elements) = rows(&c.client, "db_course").await;
    assert_eq!(db_elements, [("d1".to_string(), r#"{"type": "message", "text": "from db"}"#.to_string(), "message".to_string(), "bot_a".to_string())]);
    // The settings in metadata; no secret stored anywhere.
    let meta: serde_json::Value =
        c.query_one("SELECT metadata FROM course WHERE course_id = 'yaml_one'", &[]).await.unwrap().get(0);
    assert_eq!(meta["element"], "start");
    assert_eq!(meta["restricted"], false);
    assert_eq!(meta["decline_text"], "Нет доступа");
    assert_eq!(meta["ban_enabled"], true);
    assert_eq!(meta["ban_text"], "Бан \"строгий\"");
    assert_eq!(meta["created_from"], "references");
    let leaked: i64 = c
        .query_one("SELECT count(*) FROM course WHERE metadata::text ILIKE '%secret%' OR metadata::text ILIKE '%token%' OR yaml ILIKE '%SECRET%'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(leaked, 0);
    // The course used by two bots is one course with its elements once, deployed to both.
    let deployed: i64 = c
        .query_one("SELECT count(*) FROM course_deployment WHERE course_id = 'shared_yaml'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(deployed, 2);

    // The legacy interface answers as before: no course row, no element of a YAML course.
    let legacy = profochat_saas::conn::connect(&c.settings).await.unwrap();
    legacy.batch_execute("SET search_path = profochat_legacy, public").await.unwrap();
    assert_eq!(legacy_answers(&legacy).await, before);
    drop(legacy);

    // validate: nothing left empty.
    let v = profochat_saas::validate::validate(&c.client, &profochat_saas::validate::ValidateOptions::default()).await.unwrap();
    assert!(v.check("courses_yml.not_imported").unwrap().passed, "{:?}", v.check("courses_yml.not_imported"));

    // course import again: nothing changes.
    let n_before: i64 = c.query_one("SELECT count(*) FROM course_element", &[]).await.unwrap().get(0);
    cli()
        .args(["course", "import", "--yes", "--database-url", &url])
        .args(args())
        .assert()
        .success()
        .stdout(predicate::str::contains("YAML courses: 0 imported").and(predicate::str::contains("SECRET").not()));
    let n_after: i64 = c.query_one("SELECT count(*) FROM course_element", &[]).await.unwrap().get(0);
    assert_eq!(n_before, n_after);

    // rollback: the legacy database as it was; the imported rows were never the legacy bot's.
    cli().args(["rollback", "--yes", "--database-url", &url]).assert().success();
    assert_eq!(profochat_saas::fingerprint::take(&*c).await.unwrap(), legacy_fp);
}

#[tokio::test]
async fn without_a_file_validate_warns_and_a_bad_file_changes_nothing() {
    let db = TestDb::legacy().await;
    let c = db.connect().await;
    c.batch_execute(LEGACY).await.unwrap();
    let url = db.url();
    // A broken courses.yml: refused before anything changes, naming the file and the line.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("courses.yml");
    std::fs::write(&bad, "yaml_one:\n  path: x.yml\n  token: \"123:SECRET\"\n bad: [\n").unwrap();
    let out = cli()
        .args(["migrate", "--yes", "--skip-backup", "--default-bot", "bot_a", "--database-url", &url, "--courses-yml"])
        .arg(&bad)
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("courses.yml") && err.contains("line 4") && err.contains("Nothing was done"), "{err}");
    assert!(!err.contains("SECRET"), "{err}");
    assert_eq!(profochat_saas::schema::inspect(&c).await.unwrap().state, profochat_saas::schema::SchemaState::Legacy);
    // Migrated without the files: validate warns, naming the flag.
    cli().args(["migrate", "--yes", "--skip-backup", "--default-bot", "bot_a", "--database-url", &url]).assert().success();
    let out = cli().args(["validate", "--database-url", &url]).assert().success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(text.contains("courses_yml.not_imported") && text.contains("--courses-yml"), "{text}");
    // course import on a legacy database is refused.
    let legacy = TestDb::legacy().await;
    cli()
        .args(["course", "import", "--yes", "--database-url", &legacy.url(), "--courses-yml"])
        .arg(scripts().join("bot_a/courses.yml"))
        .assert()
        .code(4)
        .stderr(predicate::str::contains("migrate --courses-yml"));
}

/// A courses.yml whose bot cannot be told (its folder is no bot's name, several bots, no
/// default bot): the migration stays, the import changes nothing and says how to go on.
#[tokio::test]
async fn a_courses_yml_of_no_known_bot_is_refused_after_the_migration_naming_bot_equals_file() {
    let db = TestDb::legacy().await;
    let c = db.connect().await;
    c.batch_execute(LEGACY).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("some_folder");
    std::fs::create_dir(&folder).unwrap();
    std::fs::copy(scripts().join("bot_a/shared.yml"), folder.join("shared.yml")).unwrap();
    std::fs::write(folder.join("courses.yml"), "shared_yaml:\n  path: shared.yml\n").unwrap();
    let out = cli()
        .env_remove("BOT_NAME")
        .args(["migrate", "--yes", "--skip-backup", "--database-url", &db.url(), "--courses-yml"])
        .arg(folder.join("courses.yml"))
        .assert()
        .code(2);
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(stdout.contains("Migrated") || stdout.contains("migrated"), "{stdout}");
    assert!(stderr.contains("BOT=") && stderr.contains("course import"), "{stderr}");
    assert!(profochat_saas::schema::inspect(&c).await.unwrap().state.is_migrated());
    let n: i64 = c.query_one("SELECT count(*) FROM course_element WHERE course_id = 'shared_yaml'", &[]).await.unwrap().get(0);
    assert_eq!(n, 0, "nothing imported");
}
