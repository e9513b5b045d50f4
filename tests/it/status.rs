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

/// The state table accepts exactly the statuses the tool knows (`MigrationStatus::ALL`),
/// and a state table made before the CHECK existed gets it when the state schema is
/// installed again (each time with no error).
#[tokio::test]
async fn the_status_check_lists_every_migration_status_and_reaches_an_existing_state_table() {
    use profochat_saas::state::MigrationStatus;
    let db = TestDb::empty().await;
    let c = db.connect().await;
    // The state table as an earlier version made it: no CHECK on status.
    c.batch_execute(
        "CREATE SCHEMA profochat_saas;
         CREATE TABLE profochat_saas.migration (
             migration_id serial PRIMARY KEY, schema_version int4 NOT NULL, tool_version text NOT NULL,
             options jsonb NOT NULL DEFAULT '{}', started_at timestamptz NOT NULL DEFAULT now(), finished_at timestamptz,
             status text NOT NULL, phases jsonb NOT NULL DEFAULT '[]', fingerprint_before jsonb, fingerprint_after jsonb, summary jsonb);
         INSERT INTO profochat_saas.migration (schema_version, tool_version, status) VALUES (2, 'earlier', 'completed');",
    )
    .await
    .unwrap();
    for _ in 0..2 {
        c.batch_execute(profochat_saas::target::sql::STATE).await.unwrap();
    }
    let defs: Vec<String> = c
        .query(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint
              WHERE conrelid = 'profochat_saas.migration'::regclass AND contype = 'c'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(defs.len(), 1, "{defs:?}");
    let listed: Vec<&str> = defs[0].split('\'').skip(1).step_by(2).collect();
    let known: Vec<&str> = MigrationStatus::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(listed, known, "{}", defs[0]);
    for s in MigrationStatus::ALL {
        c.execute("UPDATE profochat_saas.migration SET status = $1", &[&s.as_str()]).await.unwrap();
    }
    let e = c.execute("UPDATE profochat_saas.migration SET status = 'done'", &[]).await.unwrap_err();
    assert_eq!(e.code(), Some(&tokio_postgres::error::SqlState::CHECK_VIOLATION), "{e}");
}
