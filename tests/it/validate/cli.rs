//! `validate` through the binary: the table, JSON, exit codes by severity.

use super::*;

#[tokio::test]
async fn cli_prints_a_table_summary_and_exits_by_severity() {
    let (db, c) = migrated().await;
    let out = cli().args(["validate", "--database-url", &db.url()]).assert().success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    for text in [
        "Check",
        "Result",
        "Count",
        "Details",
        "run.bot_id_matches_botname",
        "PASS",
        "info",
    ] {
        assert!(stdout.contains(text), "{text}: {stdout}");
    }
    assert!(
        stdout.contains("51 checks: 51 passed, 0 warnings, 0 critical failures"),
        "{stdout}"
    );

    c.batch_execute("ALTER TABLE run DROP CONSTRAINT run_bot_id_fkey; UPDATE account_member SET role = 'admin'")
        .await
        .unwrap();
    let out = cli().args(["validate", "--database-url", &db.url()]).assert().code(6);
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(stdout.contains("FAIL"), "{stdout}");
    assert!(stdout.contains("run.run_bot_id_fkey is missing"), "{stdout}");
    assert!(
        stdout.contains("51 checks: 49 passed, 1 warning, 1 critical failure"),
        "{stdout}"
    );
    assert!(stdout.contains("FAIL structure.foreign_keys: "), "{stdout}");
    assert!(stdout.contains("WARN account.has_owner: "), "{stdout}");
    assert!(
        stderr.contains("validation found 1 critical problem(s): structure.foreign_keys"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "one paragraph: {stderr}");
}

#[tokio::test]
async fn cli_json_report() {
    let (db, c) = migrated().await;
    let out = cli()
        .args(["validate", "--json", "--database-url", &db.url()])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["passed"], true);
    assert_eq!(v["critical_failures"], 0);
    assert_eq!(v["state"], "migrated");
    let checks = v["checks"].as_array().unwrap();
    assert_eq!(checks.len(), CHECK_IDS.len());
    assert_eq!(checks[0]["id"], "structure.tables");
    assert_eq!(checks[0]["severity"], "critical");

    c.batch_execute("UPDATE run SET bot_id = 2 WHERE run_id = 5")
        .await
        .unwrap();
    let out = cli()
        .args(["validate", "--json", "--database-url", &db.url()])
        .assert()
        .code(6);
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["passed"], false);
    assert_eq!(v["critical_failures"], 1);
    let failed: Vec<&serde_json::Value> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["passed"] == false)
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["id"], "run.bot_id_matches_botname");
    assert_eq!(failed[0]["count"], 1);
    assert!(failed[0]["hint"].is_string());
}

#[tokio::test]
async fn legacy_database_is_not_validated() {
    let db = TestDb::legacy().await;
    let out = cli().args(["validate", "--database-url", &db.url()]).assert().code(4);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(stderr.contains("not migrated yet"), "{stderr}");
    assert!(
        stderr.contains("profochat-saas plan") && stderr.contains("profochat-saas migrate"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "one paragraph: {stderr}");
}

#[tokio::test]
async fn human_output_of_a_passing_database() {
    let (db, _c) = migrated().await;
    let out = cli().args(["validate", "--database-url", &db.url()]).assert().success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    insta::with_settings!({filters => vec![(r"(?m)^Database: .*$", "Database: [target]")]}, {
        insta::assert_snapshot!(stdout);
    });
}
