//! `status` on each kind of database.

use predicates::prelude::*;

use crate::harness::{cli, TestDb};

#[tokio::test]
async fn legacy_database_is_reported_as_legacy_with_evidence() {
    let db = TestDb::legacy().await;
    cli()
        .args(["status", "--database-url", &db.url()])
        .assert()
        .success()
        .stdout(predicate::str::contains("legacy (single-tenant, not migrated)"))
        .stdout(predicate::str::contains("conversation, run, waiting_element"));
    let out = cli().args(["status", "--json", "--database-url", &db.url()]).assert().success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["state"], "legacy");
    assert_eq!(v["legacy_tables_found"].as_array().unwrap().len(), 8);
}

#[tokio::test]
async fn empty_database_is_a_clear_error() {
    let db = TestDb::empty().await;
    for cmd in ["status", "plan"] {
        let out = cli().args([cmd, "--database-url", &db.url()]).assert().code(4);
        let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
        assert!(err.contains("empty"), "{cmd}: {err}");
        assert!(err.contains("Nothing was changed"), "{cmd}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{cmd}: one paragraph: {err}");
    }
}

#[tokio::test]
async fn other_application_database_is_a_clear_error() {
    let db = TestDb::empty().await;
    let c = db.connect().await;
    c.batch_execute("CREATE TABLE invoices (id int primary key); CREATE TABLE customers (id int)").await.unwrap();
    for cmd in ["status", "plan"] {
        let out = cli().args([cmd, "--database-url", &db.url()]).assert().code(4);
        let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
        assert!(err.contains("not a ProfoChatBot database"), "{cmd}: {err}");
        assert!(err.contains("invoices"), "{cmd}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{cmd}: one paragraph: {err}");
    }
}

#[tokio::test]
async fn missing_legacy_table_is_named() {
    let db = TestDb::legacy().await;
    db.connect().await.batch_execute("DROP TABLE gen_settings").await.unwrap();
    let out = cli().args(["status", "--database-url", &db.url()]).assert().code(4);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("incomplete"), "{err}");
    let out = cli().args(["status", "--json", "--database-url", &db.url()]).assert().code(4);
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["legacy_tables_missing"], serde_json::json!(["gen_settings"]));
}

#[tokio::test]
async fn hand_added_saas_table_makes_it_partly_migrated() {
    let db = TestDb::legacy().await;
    db.connect()
        .await
        .batch_execute("CREATE TABLE bot (bot_id serial primary key, account_id int, bot_name text); ALTER TABLE run ADD COLUMN bot_id int")
        .await
        .unwrap();
    cli()
        .args(["status", "--database-url", &db.url()])
        .assert()
        .success()
        .stdout(predicate::str::contains("partly migrated"))
        .stdout(predicate::str::contains("run.bot_id").not().and(predicate::str::contains("SaaS tables found:      bot")));
}

#[tokio::test]
async fn fixture_schema_is_reported_as_migrated() {
    let db = TestDb::legacy().await;
    crate::fixtures::apply_target_schema(&db.connect().await).await;
    cli()
        .args(["status", "--database-url", &db.url()])
        .assert()
        .success()
        .stdout(predicate::str::contains("migrated (multi-tenant SaaS schema)"));
}
