//! `backup`, `backups`, `restore` and the old migrate.sh spellings, against real databases.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use predicates::prelude::*;
use profochat_saas::conn::{self, ConnSettings, Secret};
use profochat_saas::fingerprint::{self, Fingerprints};
use profochat_saas::sql::{ident, LEGACY_TABLES};

use crate::harness::{admin, block_on, cli, TestDb};

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
async fn restore_into_a_new_database_gives_identical_contents() {
    let db = TestDb::legacy().await;
    fill_legacy(&db);
    let (url, password) = url_with_password(&db);
    let tmp = tempfile::tempdir().unwrap();
    let file = take_backup(&url, tmp.path());
    let copy = format!("{}_copy", db.name);
    let _cleanup = DropDatabases(vec![copy.clone()]);

    let out = cli()
        .arg("restore")
        .arg(&file)
        .args(["--into", &copy, "--yes", "--database-url", &url])
        .assert()
        .success();
    let (stdout, stderr) = texts(out.get_output(), &[&password]);
    assert!(stdout.contains(&format!("{copy:?}")), "{stdout}");
    assert!(stderr.contains("a new database"), "{stderr}");

    let original = contents(&db.settings);
    assert!(original.iter().all(|(_, rows, _)| *rows > 0), "every table has rows: {original:?}");
    assert_eq!(contents(&db.settings.with_dbname(&copy)), original);
    let sidecar: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{}.json", file.display())).unwrap()).unwrap();
    let recorded: Fingerprints = serde_json::from_value(sidecar["fingerprints"].clone()).unwrap();
    assert_eq!(fingerprints_of(&db.settings.with_dbname(&copy)), recorded, "the sidecar's fingerprints prove the restore");

    // --into never overwrites.
    let out = cli()
        .arg("restore")
        .arg(&file)
        .args(["--into", &copy, "--yes", "--database-url", &url])
        .assert()
        .code(4);
    let (_, stderr) = texts(out.get_output(), &[&password]);
    assert!(stderr.contains("already exists"), "{stderr}");
}

#[tokio::test]
async fn restore_in_place_replaces_the_database_and_keeps_the_old_one() {
    let db = TestDb::legacy().await;
    let copies = Copies::of(&db);
    fill_legacy(&db);
    let (url, password) = url_with_password(&db);
    let before = contents(&db.settings);
    let tmp = tempfile::tempdir().unwrap();
    let file = take_backup(&url, tmp.path());
    exec(&db.settings, "DELETE FROM conversation; INSERT INTO run (chat_id, botname) VALUES (7, 'после бэкапа')");
    let changed = contents(&db.settings);
    assert_ne!(changed, before);

    let out = cli().arg("restore").arg(&file).args(["--yes", "--json", "--database-url", &url]).assert().success();
    let (stdout, _) = texts(out.get_output(), &[&password]);
    let v: serde_json::Value = serde_json::from_slice(stdout.as_bytes()).unwrap();
    let previous = v["previous_copy"].as_str().expect("the old database is kept").to_string();
    let _cleanup = DropDatabases(vec![previous.clone()]);
    assert!(previous.contains("_before_restore_"), "{previous}");
    assert!(previous.len() <= 63);
    assert_eq!(v["database"], db.name.as_str());

    assert_eq!(contents(&db.settings), before, "the configured database holds the backup");
    assert_eq!(contents(&db.settings.with_dbname(&previous)), changed, "the old copy is as it was");
    assert_eq!(copies.list(), vec![previous.clone()], "no staging database is left over");
}

#[tokio::test]
async fn restore_in_place_reports_the_old_copy_and_how_to_drop_it() {
    let db = TestDb::legacy().await;
    let copies = Copies::of(&db);
    fill_legacy(&db);
    let (url, password) = url_with_password(&db);
    let tmp = tempfile::tempdir().unwrap();
    let file = take_backup(&url, tmp.path());
    let out = cli().arg("restore").arg(&file).args(["--yes", "--database-url", &url]).assert().success();
    let made = copies.list();
    let _cleanup = DropDatabases(made.clone());
    let (stdout, stderr) = texts(out.get_output(), &[&password]);
    assert_eq!(made.len(), 1, "{made:?}");
    assert!(stdout.contains(&format!("kept as {:?}", made[0])), "{stdout}");
    assert!(stdout.contains("DROP DATABASE"), "{stdout}");
    assert!(stderr.contains("will be replaced"), "{stderr}");
}

#[tokio::test]
async fn restore_in_place_refuses_while_others_are_connected_unless_told_to_end_them() {
    let db = TestDb::legacy().await;
    let copies = Copies::of(&db);
    fill_legacy(&db);
    let (url, password) = url_with_password(&db);
    let tmp = tempfile::tempdir().unwrap();
    let file = take_backup(&url, tmp.path());
    let mut bot_settings = db.settings.clone();
    bot_settings.application_name = "bot-under-test".into();
    let bot = conn::connect(&bot_settings).await.unwrap();
    bot.batch_execute("INSERT INTO run (chat_id, botname) VALUES (5, 'live')").await.unwrap();
    let live = contents(&db.settings);

    let out = cli().arg("restore").arg(&file).args(["--yes", "--database-url", &url]).assert().code(5);
    let (_, stderr) = texts(out.get_output(), &[&password]);
    assert!(stderr.contains("1 other session"), "{stderr}");
    assert!(stderr.contains("bot-under-test"), "{stderr}");
    assert!(stderr.contains("--terminate-connections"), "{stderr}");
    assert!(copies.list().is_empty(), "nothing was created");
    assert_eq!(contents(&db.settings), live, "nothing was changed");
    assert!(bot.query_one("SELECT 1", &[]).await.is_ok(), "the other session is untouched");

    let out = cli()
        .arg("restore")
        .arg(&file)
        .args(["--yes", "--terminate-connections", "--database-url", &url])
        .assert()
        .success();
    let made = copies.list();
    let _cleanup = DropDatabases(made.clone());
    let (stdout, _) = texts(out.get_output(), &[&password]);
    assert!(stdout.contains("Ended 1 other session"), "{stdout}");
    assert!(bot.query_one("SELECT 1", &[]).await.is_err(), "the other session was ended");
    assert_eq!(made.len(), 1);
    assert_eq!(contents(&db.settings.with_dbname(&made[0])), live);
    assert_ne!(contents(&db.settings), live);
}

#[tokio::test]
async fn restore_refuses_a_file_that_is_not_a_dump() {
    let db = TestDb::legacy().await;
    let copies = Copies::of(&db);
    let (url, password) = url_with_password(&db);
    let tmp = tempfile::tempdir().unwrap();
    let sql = tmp.path().join("backup.sql");
    std::fs::write(&sql, "-- PostgreSQL database dump\nCREATE TABLE x ();\n").unwrap();
    let out = cli().arg("restore").arg(&sql).args(["--yes", "--database-url", &url]).assert().code(4);
    let (_, stderr) = texts(out.get_output(), &[&password]);
    assert!(stderr.contains(&sql.display().to_string()), "{stderr}");
    assert!(stderr.contains("not a pg_dump custom-format backup"), "{stderr}");
    assert!(stderr.contains("Nothing was changed"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one paragraph: {stderr}");
    assert!(copies.list().is_empty());
}

#[tokio::test]
async fn restore_of_a_missing_file_is_not_found() {
    let db = TestDb::legacy().await;
    let (url, password) = url_with_password(&db);
    let out = cli()
        .args(["restore", "/nonexistent/profochatbot_backup_20240101_000000.dump", "--yes", "--database-url", &url])
        .assert()
        .code(10);
    let (_, stderr) = texts(out.get_output(), &[&password]);
    assert!(stderr.contains("/nonexistent/profochatbot_backup_20240101_000000.dump"), "{stderr}");
    assert!(stderr.contains("profochat-saas backups"), "{stderr}");
}

#[tokio::test]
async fn restore_of_a_damaged_backup_changes_nothing() {
    let db = TestDb::legacy().await;
    let copies = Copies::of(&db);
    fill_legacy(&db);
    exec(
        &db.settings,
        "INSERT INTO conversation (chat_id, json) SELECT g, repeat(md5(g::text), 40) FROM generate_series(1, 3000) g",
    );
    let (url, password) = url_with_password(&db);
    let tmp = tempfile::tempdir().unwrap();
    let file = take_backup(&url, tmp.path());
    let before = contents(&db.settings);
    let bytes = std::fs::read(&file).unwrap();

    // Cut inside the table data: the header reads, the restore fails half-way.
    let cut = tmp.path().join("cut.dump");
    std::fs::write(&cut, &bytes[..bytes.len() * 6 / 10]).unwrap();
    let out = cli().arg("restore").arg(&cut).args(["--yes", "--database-url", &url]).assert().code(8);
    let (_, stderr) = texts(out.get_output(), &[&password]);
    assert!(stderr.contains(&format!("The database {:?} was not touched", db.name)), "{stderr}");
    assert!(stderr.contains("was removed"), "{stderr}");
    assert!(copies.list().is_empty(), "the partial database was dropped");
    assert_eq!(contents(&db.settings), before);

    // Cut inside the header: refused before anything is created.
    let stub = tmp.path().join("stub.dump");
    std::fs::write(&stub, &bytes[..40]).unwrap();
    let out = cli().arg("restore").arg(&stub).args(["--yes", "--database-url", &url]).assert().code(8);
    let (_, stderr) = texts(out.get_output(), &[&password]);
    assert!(stderr.contains("cannot read") && stderr.contains("stub.dump"), "{stderr}");
    assert!(copies.list().is_empty());
}

#[tokio::test]
async fn restore_without_terminal_or_yes_refuses_and_changes_nothing() {
    let db = TestDb::legacy().await;
    let copies = Copies::of(&db);
    fill_legacy(&db);
    let (url, password) = url_with_password(&db);
    let tmp = tempfile::tempdir().unwrap();
    let file = take_backup(&url, tmp.path());
    exec(&db.settings, "DELETE FROM run");
    let now = contents(&db.settings);
    for extra in [vec![], vec!["--into".to_string(), format!("{}_x", db.name)]] {
        let out = cli().arg("restore").arg(&file).args(&extra).args(["--database-url", &url]).assert().code(5);
        let (_, stderr) = texts(out.get_output(), &[&password]);
        assert!(stderr.contains("--yes"), "{stderr}");
        assert!(stderr.contains("no terminal"), "{stderr}");
        assert!(copies.list().is_empty(), "nothing was created");
        assert_eq!(contents(&db.settings), now, "nothing was changed");
    }
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

/// A role for the database's owner and grants; dropped last, once no database names it.
struct RoleGuard(String);

impl Drop for RoleGuard {
    fn drop(&mut self) {
        let name = self.0.clone();
        block_on(async move {
            if let Ok(c) = conn::connect(&admin()).await {
                let _ = c.batch_execute(&format!("DROP ROLE IF EXISTS {}", ident(&name))).await;
            }
        });
    }
}

/// What a database itself holds beyond its contents: owner, privileges (sorted),
/// connection limit, comment, and its settings (per role and for everyone).
fn database_level(name: &str) -> (String, Vec<String>, i32, Option<String>, Vec<String>) {
    let name = name.to_string();
    block_on(async move {
        let c = conn::connect(&admin()).await.expect("admin");
        let r = c
            .query_one(
                "SELECT pg_get_userbyid(d.datdba)::text,
                        coalesce(ARRAY(SELECT a::text FROM unnest(d.datacl) a ORDER BY 1), '{}'),
                        d.datconnlimit,
                        shobj_description(d.oid, 'pg_database'),
                        ARRAY(SELECT coalesce(r.rolname, '*') || ': ' || array_to_string(s.setconfig, ', ')
                                FROM pg_db_role_setting s LEFT JOIN pg_roles r ON r.oid = s.setrole
                               WHERE s.setdatabase = d.oid ORDER BY 1)
                   FROM pg_database d WHERE d.datname = $1",
                &[&name],
            )
            .await
            .expect("the database exists");
        (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4))
    })
}

#[tokio::test]
async fn restore_keeps_the_database_s_privileges_owner_and_settings() {
    let role = RoleGuard(format!("pcs_app_{}_{}", std::process::id(), rand::random::<u16>()));
    let db = TestDb::legacy().await;
    fill_legacy(&db);
    let r = ident(&role.0);
    let d = ident(&db.name);
    block_on({
        let a = admin();
        let sql = format!(
            "CREATE ROLE {r} NOLOGIN;
             REVOKE CONNECT ON DATABASE {d} FROM PUBLIC;
             GRANT CONNECT ON DATABASE {d} TO {r};
             ALTER DATABASE {d} SET search_path TO profochat_legacy, public;
             ALTER DATABASE {d} SET work_mem TO '8MB';
             ALTER ROLE {r} IN DATABASE {d} SET statement_timeout TO '5s';
             ALTER DATABASE {d} CONNECTION LIMIT 40;
             COMMENT ON DATABASE {d} IS 'the bots'' database';
             ALTER DATABASE {d} OWNER TO {r};"
        );
        async move {
            conn::connect(&a).await.expect("admin").batch_execute(&sql).await.expect("database-level setup");
        }
    });
    let original = database_level(&db.name);
    assert!(original.1.iter().all(|a| !a.starts_with("=c") && !a.starts_with("=Tc")), "PUBLIC may not connect: {original:?}");
    let tmp = tempfile::tempdir().unwrap();
    let file = take_backup(&db.url(), tmp.path());

    // Into a new database.
    let into = format!("{}_into", db.name.chars().take(50).collect::<String>());
    let mut cleanup = DropDatabases(vec![into.clone()]);
    cli().arg("restore").arg(&file).args(["--into", &into, "--yes", "--database-url", &db.url()]).assert().success();
    assert_eq!(database_level(&into), original, "restore --into");

    // In place: the server's defaults in between (PUBLIC may connect) are not what comes back.
    block_on({
        let a = admin();
        let sql = format!("ALTER DATABASE {d} RESET ALL; GRANT CONNECT ON DATABASE {d} TO PUBLIC");
        async move {
            conn::connect(&a).await.expect("admin").batch_execute(&sql).await.expect("change");
        }
    });
    assert_ne!(database_level(&db.name), original);
    let out = cli().arg("restore").arg(&file).args(["--yes", "--json", "--database-url", &db.url()]).assert().success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    cleanup.0.push(v["previous_copy"].as_str().expect("previous copy").to_string());
    assert_eq!(database_level(&db.name), original, "restore in place");
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(!stderr.contains("could not"), "{stderr}");
    drop(cleanup);
    drop(db);
}

/// Backups keep the old scripts' names; `backups` shows each one's database, read from
/// the dump's own header (a sidecar is not needed), lists the configured database's by
/// default and every one with --all; `restore` refuses to replace the configured
/// database with another database's backup unless --from-other-database.
#[tokio::test]
async fn backups_name_their_database_and_restore_refuses_another_database_s_backup() {
    let a = TestDb::legacy().await;
    let b = TestDb::legacy().await;
    fill_legacy(&a);
    let (url_a, password) = url_with_password(&a);
    let (url_b, _) = url_with_password(&b);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let dump_a = take_backup(&url_a, dir);
    let dump_b = take_backup(&url_b, dir);
    for f in [&dump_a, &dump_b] {
        let name = f.file_name().unwrap().to_str().unwrap();
        assert!(profochat_saas::backup::time_from_file_name(name).is_some() && name.starts_with("profochatbot_backup_"), "{name}");
    }
    // The header, not the sidecar, says whose it is.
    std::fs::remove_file(profochat_saas::backup::sidecar_path(&dump_b)).unwrap();

    let out = cli().args(["backups", "--backup-dir"]).arg(dir).args(["--database-url", &url_a]).assert().success();
    let (stdout, _) = texts(out.get_output(), &[&password]);
    let name = |p: &Path| p.file_name().unwrap().to_str().unwrap().to_string();
    assert!(stdout.contains(&name(&dump_a)) && stdout.contains(&a.name), "{stdout}");
    assert!(!stdout.contains(&name(&dump_b)) && stdout.contains("1 backup(s) of other databases") && stdout.contains("--all"), "{stdout}");

    let out = cli().args(["backups", "--all", "--json", "--backup-dir"]).arg(dir).args(["--database-url", &url_a]).assert().success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let dbs: Vec<(String, String)> = v["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap().to_string(), e["database"].as_str().unwrap_or("?").to_string()))
        .collect();
    assert!(dbs.contains(&(name(&dump_a), a.name.clone())) && dbs.contains(&(name(&dump_b), b.name.clone())), "{dbs:?}");

    // B's backup does not replace A unless asked.
    let before = contents(&a.settings);
    let out = cli().arg("restore").arg(&dump_b).args(["--yes", "--database-url", &url_a]).assert().code(5);
    let (_, stderr) = texts(out.get_output(), &[&password]);
    assert!(stderr.contains(&b.name) && stderr.contains(&a.name) && stderr.contains("--from-other-database"), "{stderr}");
    assert_eq!(contents(&a.settings), before, "nothing was changed");
    let out = cli()
        .arg("restore")
        .arg(&dump_b)
        .args(["--yes", "--json", "--from-other-database", "--database-url", &url_a])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let _cleanup = DropDatabases(vec![v["previous_copy"].as_str().unwrap().to_string()]);
    assert_eq!(contents(&a.settings), contents(&b.settings), "A holds B's backup now");
    // Its own backup restores without the flag.
    let out = cli().arg("restore").arg(&dump_a).args(["--yes", "--json", "--database-url", &url_a]).assert().success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let _cleanup_own = DropDatabases(vec![v["previous_copy"].as_str().unwrap().to_string()]);
    assert_eq!(contents(&a.settings), before);
}
