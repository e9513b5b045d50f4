//! `backup`, `backups`, `restore` and the old migrate.sh spellings, against real databases.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use predicates::prelude::*;
use profochat_saas::conn::{self, ConnSettings, Secret};
use profochat_saas::fingerprint::{self, Fingerprints};
use profochat_saas::sql::{ident, LEGACY_TABLES};

use crate::harness::{admin, block_on, cli, TestDb};

mod restore;

const FAKE_PASSWORD: &str = "Pa55w0rd-never-shown";
const BOT_TOKEN: &str = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";

/// The database's URL with a password in it, and that password. The local test server
/// trusts its users, so a password it does not need is accepted and ignored.
fn url_with_password(db: &TestDb) -> (String, String) {
    let mut s = db.settings.clone();
    let password = match &s.password {
        Some(p) => p.expose().to_string(),
        None => {
            s.password = Some(Secret::new(FAKE_PASSWORD));
            FAKE_PASSWORD.to_string()
        }
    };
    (s.secret_url(), password)
}

/// Standard output and error of a finished command, checked to hold no secret.
fn texts(out: &std::process::Output, secrets: &[&str]) -> (String, String) {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    for s in secrets {
        assert!(!stdout.contains(s), "secret in stdout: {stdout}");
        assert!(!stderr.contains(s), "secret in stderr: {stderr}");
    }
    (stdout, stderr)
}

/// Runs SQL on its own short-lived runtime, so that the connection is really closed
/// when it returns (a connection task left on the test's runtime would stay open while
/// the test blocks on the binary, and count as another session).
fn exec(settings: &ConnSettings, sql: &str) {
    let settings = settings.clone();
    let sql = sql.to_string();
    block_on(async move {
        let c = conn::connect(&settings).await.expect("connect");
        c.batch_execute(&sql).await.expect("statement");
    })
}

/// A few rows in every legacy table, with unicode, quotes and NULLs.
fn fill_legacy(db: &TestDb) {
    exec(
        &db.settings,
        "INSERT INTO course (course_id, bot_name, creator_id, yaml) VALUES ('курс-1', 'бот_один', 42, 'element: \"Привет, мир\" ''quoted'''), ('c2', 'бот_два', NULL, NULL);
         INSERT INTO course_element (element_id, json, element_type, course_id, bot_name) VALUES ('e1', '{\"text\": \"Здравствуйте 👋\"}', 'message', 'курс-1', 'бот_один');
         INSERT INTO run (chat_id, username, botname, course_id, utm_source, is_ended) VALUES (1001, 'Алиса', 'бот_один', 'курс-1', 'tg', true), (1002, NULL, NULL, 'c2', NULL, NULL);
         INSERT INTO conversation (chat_id, username, course_id, element_id, element_type, role, json, run_id) VALUES (1001, 'Алиса', 'курс-1', 'e1', 'message', 'bot', '{\"k\": \"ünïcødé\"}', 1), (1002, 'o''brien', 'c2', 'e2', 'message', 'user', NULL, 999);
         INSERT INTO waiting_element (chat_id, waiting_till_date, is_waiting, element_id, course_id, botname) VALUES (1001, now(), true, 'e1', 'курс-1', 'бот_один');
         INSERT INTO courseparticipants (course_id, username) VALUES ('курс-1', 'Алиса'), ('курс-1', 'Алиса');
         INSERT INTO bannedparticipants (botname, chat_id, ban_reason, excluded) VALUES ('бот_один', 1002, 'спам', 0);
         INSERT INTO gen_settings (id, bot_name, s_key, s_value) VALUES (1, NULL, 'greeting', 'Добро пожаловать');",
    );
}

/// Per legacy table: row count and md5 of all rows in a fixed order.
fn contents(settings: &ConnSettings) -> Vec<(String, i64, String)> {
    let settings = settings.clone();
    block_on(async move {
        let c = conn::connect(&settings).await.expect("connect");
        let mut out = vec![];
        for t in LEGACY_TABLES {
            let row = c
                .query_one(
                    &format!("SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) FROM {} t", ident(t)),
                    &[],
                )
                .await
                .expect("table contents");
            out.push((t.to_string(), row.get(0), row.get(1)));
        }
        out
    })
}

fn fingerprints_of(settings: &ConnSettings) -> Fingerprints {
    let settings = settings.clone();
    block_on(async move {
        let c = conn::connect(&settings).await.expect("connect");
        fingerprint::take(&c.client).await.expect("fingerprints")
    })
}

/// The copies a restore makes of one test database: databases named like it and
/// created after it (leftovers of earlier runs are older and not counted). Taken
/// before the restore, since a restore in place gives the name to a newer database.
struct Copies {
    name: String,
    first_oid: u32,
}

impl Copies {
    fn of(db: &TestDb) -> Copies {
        let name = db.name.clone();
        let first_oid = block_on(async move {
            let c = conn::connect(&admin()).await.expect("admin");
            c.query_one("SELECT oid FROM pg_database WHERE datname = $1", &[&name]).await.expect("oid").get(0)
        });
        Copies {
            name: db.name.clone(),
            first_oid,
        }
    }

    fn list(&self) -> Vec<String> {
        let name = self.name.clone();
        let prefix: String = name.chars().take(30).collect();
        let first_oid = self.first_oid;
        block_on(async move {
            let c = conn::connect(&admin()).await.expect("admin");
            c.query(
                "SELECT datname::text FROM pg_database WHERE datname <> $1 AND left(datname, 30) = $2 AND oid >= $3 ORDER BY 1",
                &[&name, &prefix, &first_oid],
            )
            .await
            .expect("list databases")
            .iter()
            .map(|r| r.get(0))
            .collect()
        })
    }
}

/// Drops the named databases when the test ends, whether it passed or not.
struct DropDatabases(Vec<String>);

impl Drop for DropDatabases {
    fn drop(&mut self) {
        let names = std::mem::take(&mut self.0);
        let admin = admin();
        block_on(async move {
            if let Ok(c) = conn::connect(&admin).await {
                for n in names {
                    let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", ident(&n))).await;
                }
            }
        });
    }
}

/// Takes a backup through the CLI into `dir`; returns its path.
fn take_backup(url: &str, dir: &Path) -> PathBuf {
    let out = cli()
        .args(["backup", "--json", "--backup-dir"])
        .arg(dir)
        .args(["--database-url", url])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).expect("backup --json");
    PathBuf::from(v["path"].as_str().expect("path"))
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn backup_is_private_custom_format_with_a_clean_sidecar() {
    let db = TestDb::legacy().await;
    fill_legacy(&db);
    exec(&db.settings, &format!("CREATE TABLE bot (bot_token text); INSERT INTO bot VALUES ('{BOT_TOKEN}')"));
    let (url, password) = url_with_password(&db);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("nested").join("backups");

    let out = cli().args(["backup", "--backup-dir"]).arg(&dir).args(["--database-url", &url]).assert().success();
    let (stdout, _) = texts(out.get_output(), &[&password, BOT_TOKEN]);
    assert!(stdout.contains("Backup written:"), "{stdout}");
    assert!(stdout.contains("profochat-saas restore"), "{stdout}");
    assert_eq!(mode(&dir), 0o700, "a created backup directory is private");

    let files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 2, "the dump and its sidecar, no temporary leftovers: {files:?}");
    let dump = files.iter().find(|p| p.extension().unwrap() == "dump").expect("a .dump file");
    let name = dump.file_name().unwrap().to_str().unwrap();
    assert!(name.starts_with("profochatbot_backup_") && name.len() == "profochatbot_backup_YYYYMMDD_HHMMSS.dump".len(), "{name}");
    assert_eq!(mode(dump), 0o600);
    assert_eq!(&std::fs::read(dump).unwrap()[..5], b"PGDMP");

    let sidecar_path = PathBuf::from(format!("{}.json", dump.display()));
    assert_eq!(mode(&sidecar_path), 0o600);
    let sidecar_text = std::fs::read_to_string(&sidecar_path).unwrap();
    assert!(!sidecar_text.contains(&password), "{sidecar_text}");
    assert!(!sidecar_text.contains(BOT_TOKEN), "{sidecar_text}");
    assert!(!sidecar_text.contains("AAHdqTcv"), "{sidecar_text}");
    let sidecar: serde_json::Value = serde_json::from_str(&sidecar_text).unwrap();
    assert!(sidecar["source"].as_str().unwrap().contains("***"), "{sidecar_text}");
    assert_eq!(sidecar["database"], db.name.as_str());
    assert_eq!(sidecar["schema_state"], "partly_migrated");
    assert_eq!(sidecar["consistent_snapshot"], true);
    assert!(sidecar["server_version"].as_str().unwrap().chars().next().unwrap().is_ascii_digit());
    let fingerprints: Fingerprints = serde_json::from_value(sidecar["fingerprints"].clone()).expect("fingerprints");
    assert_eq!(fingerprints.tables.len(), LEGACY_TABLES.len());
    assert_eq!(fingerprints.tables["run"].rows, 2);
    assert_eq!(fingerprints, fingerprints_of(&db.settings));
}

#[tokio::test]
async fn backup_without_fingerprints_still_succeeds() {
    let db = TestDb::legacy().await;
    fill_legacy(&db);
    // The fingerprint reads every legacy column; one missing makes it fail.
    exec(&db.settings, "ALTER TABLE gen_settings DROP COLUMN s_value");
    let (url, password) = url_with_password(&db);
    let tmp = tempfile::tempdir().unwrap();
    let out = cli().args(["backup", "--backup-dir"]).arg(tmp.path()).args(["--database-url", &url]).assert().success();
    let (_, stderr) = texts(out.get_output(), &[&password]);
    assert!(stderr.contains("no fingerprints"), "{stderr}");
    let sidecar = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().unwrap() == "json")
        .unwrap();
    let sidecar: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(sidecar).unwrap()).unwrap();
    assert!(sidecar["fingerprints"].is_null());
    assert_eq!(sidecar["consistent_snapshot"], true, "the dump still used the snapshot");
}

#[tokio::test]
async fn backups_are_listed_newest_first_in_text_and_json() {
    let db = TestDb::legacy().await;
    let (url, password) = url_with_password(&db);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // An old backup without a sidecar, as the old scripts left them.
    std::fs::write(dir.join("profochatbot_backup_20200101_120000.dump"), b"PGDMP\x01\x0e\x00").unwrap();
    let first = take_backup(&url, dir);
    let second = take_backup(&url, dir);
    assert_ne!(first, second, "a second backup in the same second gets its own name");

    let out = cli().args(["backups", "--backup-dir"]).arg(dir).assert().success();
    let (stdout, _) = texts(out.get_output(), &[&password]);
    let pos = |p: &Path| stdout.find(p.file_name().unwrap().to_str().unwrap()).unwrap_or_else(|| panic!("{p:?} in {stdout}"));
    let old = stdout.find("profochatbot_backup_20200101_120000.dump").expect("old backup listed");
    assert!(pos(&second) < pos(&first) && pos(&first) < old, "newest first: {stdout}");
    assert!(stdout.contains("legacy") && stdout.contains("unknown"), "{stdout}");

    let out = cli().args(["backups", "--json", "--backup-dir"]).arg(dir).assert().success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let list = v["backups"].as_array().unwrap();
    let names: Vec<&str> = list.iter().map(|b| b["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            second.file_name().unwrap().to_str().unwrap(),
            first.file_name().unwrap().to_str().unwrap(),
            "profochatbot_backup_20200101_120000.dump"
        ]
    );
    assert_eq!(list[0]["schema_state"], "legacy");
    assert!(list[0]["source"].as_str().unwrap().contains("***"));
    assert!(list[2]["schema_state"].is_null());
    assert_eq!(list[2]["has_sidecar"], false);
}

#[tokio::test]
async fn empty_or_missing_backup_dir_says_so_and_how_to_take_one() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("none-yet");
    let out = cli().args(["backups", "--backup-dir"]).arg(&missing).assert().success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout);
    assert!(stdout.contains("No backups") && stdout.contains("does not exist"), "{stdout}");
    assert!(stdout.contains("profochat-saas backup --backup-dir"), "{stdout}");

    let out = cli().args(["backups", "--backup-dir"]).arg(tmp.path()).assert().success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout);
    assert!(stdout.contains("No backups") && stdout.contains("no .dump files"), "{stdout}");

    let out = cli().args(["backups", "--json", "--backup-dir"]).arg(&missing).assert().success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["dir_exists"], false);
    assert_eq!(v["backups"], serde_json::json!([]));
}

#[tokio::test]
async fn old_script_spellings_list_and_restore() {
    let db = TestDb::legacy().await;
    let copies = Copies::of(&db);
    fill_legacy(&db);
    let (url, password) = url_with_password(&db);
    let cwd = tempfile::tempdir().unwrap();
    // `backup` with no --backup-dir writes to ./backups, where --list-backups looks.
    let out = cli()
        .current_dir(cwd.path())
        .args(["backup", "--json", "--database-url", &url])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let file = PathBuf::from(v["path"].as_str().unwrap());
    assert!(file.starts_with("backups"), "{file:?}");
    let name = file.file_name().unwrap().to_str().unwrap().to_string();

    let out = cli().current_dir(cwd.path()).arg("--list-backups").assert().success();
    let (stdout, _) = texts(out.get_output(), &[&password]);
    assert!(stdout.contains(&name), "{stdout}");

    let before = contents(&db.settings);
    exec(&db.settings, "DELETE FROM course");
    // Like migrate.sh: the connection comes from DATABASE_URL.
    let out = cli()
        .current_dir(cwd.path())
        .env("DATABASE_URL", &url)
        .arg("--rollback")
        .arg(&file)
        .arg("--yes")
        .assert()
        .success();
    let made = copies.list();
    let _cleanup = DropDatabases(made.clone());
    let (stdout, _) = texts(out.get_output(), &[&password]);
    assert!(stdout.contains("Restored"), "{stdout}");
    assert_eq!(contents(&db.settings), before);
    assert_eq!(made.len(), 1);

    // Without --yes and without a terminal it asks, and so refuses.
    cli()
        .current_dir(cwd.path())
        .env("DATABASE_URL", &url)
        .arg("--rollback")
        .arg(&file)
        .assert()
        .code(5);
    assert_eq!(copies.list(), made);

    cli()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("backups").and(predicate::str::contains("restore")));
}
