//! `rollback`: back to the legacy schema in place, with the fingerprints of before;
//! legacy rows written since are kept; what the legacy schema cannot hold is saved first.

use predicates::prelude::*;
use profochat_saas::fingerprint;
use profochat_saas::migrate;
use profochat_saas::report::Silent;
use profochat_saas::rollback;
use profochat_saas::schema::{self, SchemaState};

use crate::harness::cli;
use crate::migrate::{catalog, legacy_with_anomalies, opts};

#[tokio::test]
async fn migrate_then_rollback_gives_back_the_legacy_database() {
    let (db, mut c) = legacy_with_anomalies().await;
    let cat = catalog(&c).await;
    let fp = fingerprint::take(&*c).await.unwrap();
    migrate::migrate(&mut c, &opts(), &Silent).await.unwrap();
    let r = rollback::rollback(&mut c, &Default::default(), &Silent).await.unwrap();
    assert!(r.changed_since_migration.is_empty(), "{:?}", r.changed_since_migration);
    assert_eq!(fingerprint::take(&*c).await.unwrap(), fp);
    assert_eq!(catalog(&c).await, cat, "the catalog is the legacy one again");
    assert_eq!(schema::inspect(&c).await.unwrap().state, SchemaState::Legacy);
    // And it can be migrated again.
    let again = migrate::migrate(&mut c, &opts(), &Silent).await.unwrap();
    assert!(again.proof.iter().all(|p| p.equal));
    drop(db);
}

#[tokio::test]
async fn legacy_writes_after_the_migration_survive_the_rollback() {
    let (_db, mut c) = legacy_with_anomalies().await;
    migrate::migrate(&mut c, &opts(), &Silent).await.unwrap();
    // The legacy bot keeps writing, on a plain course and on a renamed copy, and publishes.
    let r1: i32 = c
        .query_one("INSERT INTO run (chat_id, username, botname, course_id, utm_source, utm_campaign) VALUES (100, 'alice', 'main_bot', 'intro', NULL, NULL) RETURNING run_id", &[])
        .await.unwrap().get(0);
    let r2: i32 = c
        .query_one("INSERT INTO run (chat_id, username, botname, course_id, utm_source, utm_campaign) VALUES (101, 'bob', 'second_bot', 'diverged', NULL, NULL) RETURNING run_id", &[])
        .await.unwrap().get(0);
    c.execute("INSERT INTO conversation (chat_id, username, course_id, element_id, element_type, role, json, run_id) VALUES (101, 'bob', 'diverged', 'd1', 'message', 'user', '{}', $1)", &[&r2]).await.unwrap();
    c.execute("INSERT INTO bannedparticipants (botname, chat_id, ban_reason, excluded) VALUES ('second_bot', 777, 'x', 0)", &[]).await.unwrap();
    c.execute("UPDATE run SET is_ended = true WHERE run_id = $1", &[&r1]).await.unwrap();
    let expected_runs: i64 = c.query_one("SELECT count(*) FROM run", &[]).await.unwrap().get(0);

    let r = rollback::rollback(&mut c, &Default::default(), &Silent).await.unwrap();
    assert!(r.changed_since_migration.contains(&"run".to_string()));
    assert_eq!(schema::inspect(&c).await.unwrap().state, SchemaState::Legacy);
    assert_eq!(c.query_one("SELECT count(*) FROM run", &[]).await.unwrap().get::<_, i64>(0), expected_runs);
    // Written as the legacy bot wrote them: the legacy course id, the legacy flags.
    let row = c.query_one("SELECT course_id, botname, is_ended FROM run WHERE run_id = $1", &[&r2]).await.unwrap();
    assert_eq!((row.get::<_, String>(0), row.get::<_, String>(1), row.get::<_, Option<bool>>(2)), ("diverged".into(), "second_bot".into(), None));
    assert_eq!(c.query_one("SELECT is_ended FROM run WHERE run_id = $1", &[&r1]).await.unwrap().get::<_, Option<bool>>(0), Some(true));
    assert_eq!(
        c.query_one("SELECT course_id FROM conversation WHERE run_id = $1", &[&r2]).await.unwrap().get::<_, String>(0),
        "diverged"
    );
    assert_eq!(c.query_one("SELECT count(*) FROM bannedparticipants WHERE chat_id = 777", &[]).await.unwrap().get::<_, i64>(0), 1);
    // The legacy rows of before are all there, and the legacy key holds.
    assert_eq!(c.query_one("SELECT count(*) FROM course WHERE course_id = 'diverged'", &[]).await.unwrap().get::<_, i64>(0), 2);
    assert_eq!(c.query_one("SELECT count(*) FROM course WHERE course_id = 'shared'", &[]).await.unwrap().get::<_, i64>(0), 3);
    // The legacy statements work on the rolled-back database.
    c.execute("INSERT INTO run (chat_id, username, botname, course_id, utm_source, utm_campaign) VALUES (1, 'a', 'main_bot', 'intro', NULL, NULL)", &[]).await.unwrap();
}

#[tokio::test]
async fn rollback_saves_what_the_legacy_schema_cannot_hold_then_proceeds() {
    let (db, mut c) = legacy_with_anomalies().await;
    let before = fingerprint::take(&*c).await.unwrap();
    migrate::migrate(&mut c, &opts(), &Silent).await.unwrap();
    let url = db.url();
    // The next steps that migrate prints: an owner, links for every deployment, a real token.
    cli().args(["member", "add", "--yes", "--telegram-user-id", "5001", "--username", "olga", "--role", "owner", "--database-url", &url]).assert().success();
    cli().args(["token", "create", "--yes", "--public-for-all", "--database-url", &url]).assert().success();
    let secret = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ";
    cli()
        .args(["bot", "set-token", "--yes", "--bot", "main_bot", "--token-env", "PCS_TEST_TOKEN", "--database-url", &url])
        .env("PCS_TEST_TOKEN", secret)
        .assert()
        .success();
    // Values of the new columns, a second account, and a row the legacy bot wrote since.
    c.batch_execute(
        "UPDATE run SET utm_medium = 'cpc', metadata = '{\"from\": \"app\"}' WHERE run_id = 1;
         UPDATE course SET description = 'Введение' WHERE course_id = 'intro';
         INSERT INTO account (account_id, name, slug) VALUES (2, 'Second Customer', 'second');
         INSERT INTO run (run_id, chat_id, username, botname, course_id) VALUES (5555, 42, 'late', 'main_bot', 'intro');
         INSERT INTO bot (bot_id, account_id, bot_name, bot_token) VALUES (700, 2, 'second_customer_bot', 'profochat-saas-placeholder-x');
         INSERT INTO run (run_id, chat_id, username, account_id, bot_id) VALUES (6666, 43, 'app', 2, 700);",
    )
    .await
    .unwrap();
    let tokens: i64 = c.query_one("SELECT count(*) FROM enrollment_token", &[]).await.unwrap().get(0);
    assert!(tokens > 0);
    let dir = tempfile::tempdir().unwrap();

    // The dry run lists it all, with counts, and changes nothing.
    let cat = catalog(&c).await;
    let out = cli().args(["rollback", "--dry-run", "--backup-dir"]).arg(dir.path()).args(["--database-url", &url]).assert().success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    for what in ["account members", "enrollment tokens", "real bot tokens", "values in the new columns", "Second Customer", "main_bot"] {
        assert!(stdout.contains(what), "{what}: {stdout}");
    }
    assert!(!stdout.contains(secret) && !stdout.contains("AAHdqTcv"), "a token was printed: {stdout}");
    assert_eq!(catalog(&c).await, cat);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "a dry run saves nothing");

    // The rollback saves, names the file, and proceeds.
    let out = cli().args(["rollback", "--yes", "--backup-dir"]).arg(dir.path()).args(["--database-url", &url]).assert().success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    let saved = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "dump"))
        .expect("the saved file");
    let name = saved.file_name().unwrap().to_string_lossy().to_string();
    assert!(name.starts_with("profochatbot_rollback_"), "{name}");
    assert!(stdout.contains(&name) && stdout.contains("profochat-saas restore"), "{stdout}");
    assert!(!stdout.contains(secret) && !stdout.contains("AAHdqTcv"), "a token was printed: {stdout}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&saved).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(schema::inspect(&c).await.unwrap().state, SchemaState::Legacy);
    // The legacy row written since is kept; without it, the pre-migration fingerprint.
    assert_eq!(c.query_one("SELECT username FROM run WHERE run_id = 5555", &[]).await.unwrap().get::<_, String>(0), "late");
    c.batch_execute("DELETE FROM run WHERE run_id = 5555").await.unwrap();
    assert_eq!(fingerprint::take(&*c).await.unwrap(), before, "the pre-migration rows, exactly");

    // The saved file holds what the legacy schema could not.
    let copy = format!("{}_saved", db.name);
    cli().arg("restore").arg(&saved).args(["--into", &copy, "--yes", "--database-url", &url]).assert().success();
    let restored = profochat_saas::conn::connect(&db.settings.with_dbname(&copy)).await.unwrap();
    let row = restored
        .query_one(
            "SELECT (SELECT count(*) FROM account_member WHERE telegram_user_id = 5001 AND role = 'owner'),
                    (SELECT count(*) FROM enrollment_token),
                    (SELECT bot_token = $1 FROM bot WHERE bot_name = 'main_bot'),
                    (SELECT utm_medium FROM run WHERE run_id = 1),
                    (SELECT description FROM course WHERE course_id = 'intro'),
                    (SELECT count(*) FROM account WHERE slug = 'second'),
                    (SELECT count(*) FROM run WHERE run_id = 6666 AND account_id = 2)",
            &[&secret],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 1);
    assert_eq!(row.get::<_, i64>(1), tokens);
    assert!(row.get::<_, bool>(2));
    assert_eq!(row.get::<_, String>(3), "cpc");
    assert_eq!(row.get::<_, String>(4), "Введение");
    assert_eq!(row.get::<_, i64>(5), 1);
    assert_eq!(row.get::<_, i64>(6), 1);
    drop(restored);
    // A row of the second account is in the saved file, not in the legacy tables.
    assert_eq!(c.query_one("SELECT count(*) FROM run WHERE run_id = 6666", &[]).await.unwrap().get::<_, i64>(0), 0);
    let admin = profochat_saas::conn::connect(&crate::harness::admin()).await.unwrap();
    admin.batch_execute(&format!("DROP DATABASE {} WITH (FORCE)", profochat_saas::sql::ident(&copy))).await.unwrap();
}

#[tokio::test]
async fn rollback_on_a_legacy_database_says_there_is_nothing_to_do() {
    let (db, _c) = legacy_with_anomalies().await;
    cli()
        .args(["rollback", "--yes", "--database-url", &db.url()])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("nothing to roll back"));
}

#[tokio::test]
async fn backup_migrate_restore_gives_back_the_legacy_database() {
    let (db, c) = legacy_with_anomalies().await;
    let fp = fingerprint::take(&*c).await.unwrap();
    let cat = catalog(&c).await;
    drop(c);
    // Let the runtime close the connection before the (blocking) commands run.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let dir = tempfile::tempdir().unwrap();
    // migrate takes the backup itself, into --backup-dir.
    cli()
        .args(["migrate", "--yes", "--default-bot", "main_bot", "--backup-dir"])
        .arg(dir.path())
        .args(["--database-url", &db.url()])
        .assert()
        .success()
        .stdout(predicate::str::contains("restore the backup taken before the migration: profochat-saas restore "));
    let dump = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "dump"))
        .expect("a backup file");
    let out = cli().arg("restore").arg(&dump).args(["--yes", "--json", "--database-url", &db.url()]).assert().success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let previous = v["previous_copy"].as_str().expect("the migrated database is kept aside").to_string();
    let c = db.connect().await;
    assert_eq!(fingerprint::take(&*c).await.unwrap(), fp, "the pre-migration rows, exactly");
    assert_eq!(catalog(&c).await, cat, "the legacy schema, exactly");
    assert_eq!(schema::inspect(&c).await.unwrap().state, SchemaState::Legacy);
    drop(c);
    let admin = profochat_saas::conn::connect(&crate::harness::admin()).await.unwrap();
    admin
        .batch_execute(&format!("DROP DATABASE {} WITH (FORCE)", profochat_saas::sql::ident(&previous)))
        .await
        .unwrap();
}
