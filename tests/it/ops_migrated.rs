//! The operator commands and the enrolment path on a database migrated by
//! `migrate` itself (with its legacy-compatibility triggers), not a fixture.

use profochat_saas::migrate;
use profochat_saas::ops::{self, TokenOptions, TokenType};
use profochat_saas::report::Silent;
use serde_json::Value;

use crate::harness::cli;
use crate::migrate::{legacy_with_anomalies, opts};

const TOKEN: &str = "555000111:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ";

#[tokio::test]
async fn after_migrate_set_token_clears_the_waiting_bot_and_enrolment_works_with_the_legacy_bot() {
    let (db, mut c) = legacy_with_anomalies().await;
    migrate::migrate(&mut c, &opts(), &Silent).await.unwrap();
    let url = db.url();
    let waiting = migrate::bots_waiting_for_token(&c.client).await.unwrap();
    assert!(waiting.contains(&"main_bot".to_string()), "{waiting:?}");
    let placeholder_check = || {
        let url = url.clone();
        move || {
            let a = cli().args(["validate", "--json", "--database-url", &url]).assert().success();
            let report: Value = serde_json::from_slice(&a.get_output().stdout).unwrap();
            let checks = report["checks"].as_array().expect("validate --json lists its checks").clone();
            checks.into_iter().find(|c| c["id"] == "bot.token_placeholder").expect("the placeholder check")
        }
    };
    let before = placeholder_check()();
    assert_eq!(before["passed"], false);
    assert!(before["examples"].to_string().contains("main_bot"), "{before}");

    let a = cli()
        .args(["bot", "set-token", "--yes", "--bot", "main_bot", "--json", "--database-url", &url])
        .write_stdin(format!("{TOKEN}\n"))
        .assert()
        .success();
    let out = String::from_utf8_lossy(&a.get_output().stdout).to_string();
    assert!(!out.contains(TOKEN), "{out}");
    let set: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(set["replaced_placeholder"], true);
    let still = migrate::bots_waiting_for_token(&c.client).await.unwrap();
    assert!(!still.contains(&"main_bot".to_string()), "{still:?}");
    assert_eq!(still.len(), waiting.len() - 1, "only that bot changed");
    let after = placeholder_check()();
    assert!(!after["examples"].to_string().contains("main_bot"), "validate no longer warns about main_bot: {after}");
    assert_eq!(after["count"].as_i64().unwrap(), before["count"].as_i64().unwrap() - 1);

    // The old bulk step, now a command: one public token per active deployment.
    let a = cli()
        .args(["token", "create", "--yes", "--public-for-all", "--json", "--database-url", &url])
        .assert()
        .success();
    let all: Value = serde_json::from_slice(&a.get_output().stdout).unwrap();
    let deployments: i64 = c
        .query_one("SELECT count(*) FROM course_deployment WHERE is_active IS NOT FALSE", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(all["created"].as_array().unwrap().len() as i64, deployments);

    // A chat with an active legacy run on main_bot enrols through a token: the
    // legacy run ends, the new run has every link and the legacy columns.
    let main: i32 = c.query_one("SELECT bot_id FROM bot WHERE bot_name = 'main_bot'", &[]).await.unwrap().get(0);
    let legacy_run: i32 = c
        .query_one(
            "INSERT INTO run (chat_id, username, botname, course_id, utm_source, utm_campaign) \
             VALUES (9001, 'zoe', 'main_bot', 'intro', NULL, NULL) RETURNING run_id",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let dep = ops::deployment_for(&c.client, "intro", "main_bot", 1).await.unwrap().expect("intro is deployed to main_bot");
    let token = ops::create_token(&c.client, dep.deployment_id, TokenType::Personal, TokenOptions { max_uses: Some(1), ..Default::default() })
        .await
        .unwrap();
    let e = ops::enrol(&c.client, token.payload.expose(), 9001, Some("zoe"), "main_bot").await.unwrap();
    assert_eq!(e.ended_previous_run, Some(legacy_run));
    assert_eq!((e.bot_id, e.deployment_id, e.account_id), (main, dep.deployment_id, 1));
    let r = c
        .query_one(
            "SELECT botname, course_id, deployment_id, token_id, is_active FROM run WHERE run_id = $1",
            &[&e.run_id],
        )
        .await
        .unwrap();
    assert_eq!(r.get::<_, Option<String>>(0).as_deref(), Some("main_bot"));
    assert_eq!(r.get::<_, Option<String>>(1).as_deref(), Some("intro"));
    assert_eq!(r.get::<_, Option<i32>>(2), Some(dep.deployment_id));
    assert_eq!(r.get::<_, Option<i32>>(3), Some(token.token_id));
    assert!(r.get::<_, bool>(4));
    let active: i64 = c
        .query_one("SELECT count(*) FROM run WHERE bot_id = $1 AND chat_id = 9001 AND is_active", &[&main])
        .await
        .unwrap()
        .get(0);
    assert_eq!(active, 1);
    // The legacy bot carries on with the run: a message, then the course end.
    c.execute(
        "INSERT INTO conversation (chat_id, username, course_id, element_id, element_type, role, json, report, score, maxscore, run_id) \
         VALUES (9001, 'zoe', 'intro', 'e1', 'message', 'user', '{}', NULL, 0, 0, $1)",
        &[&e.run_id],
    )
    .await
    .unwrap();
    c.execute("UPDATE run SET is_ended = true WHERE run_id = $1", &[&e.run_id]).await.unwrap();
    let ended: bool = c.query_one("SELECT NOT is_active FROM run WHERE run_id = $1", &[&e.run_id]).await.unwrap().get(0);
    assert!(ended);
    // The personal token had one use.
    let err = ops::enrol(&c.client, token.payload.expose(), 9002, None, "main_bot").await.unwrap_err();
    assert!(matches!(err, profochat_saas::Error::TokenRefused { reason: profochat_saas::error::TokenRefusal::UsedUp }));

    // What the operator commands and the enrolment wrote keeps every rule.
    let a = cli().args(["validate", "--json", "--database-url", &url]).assert().success();
    let report: Value = serde_json::from_slice(&a.get_output().stdout).unwrap();
    let critical: Vec<&Value> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["severity"] == "critical" && c["passed"] == false)
        .collect();
    assert!(critical.is_empty(), "{critical:?}");

    // The listing commands read the migrated data.
    for args in [&["bot", "list"][..], &["account", "list"], &["deployment", "list"], &["token", "list"], &["member", "list"]] {
        let mut all = args.to_vec();
        all.extend(["--json", "--database-url", &url]);
        let a = cli().args(&all).assert().success();
        let v: Value = serde_json::from_slice(&a.get_output().stdout).unwrap();
        assert!(v.is_array(), "{args:?}");
        assert!(!v.to_string().contains(TOKEN), "{args:?}");
    }
}

/// After the next steps `migrate` prints (an owner, public tokens for all), rollback
/// would have to save them; `token delete` and `member remove --yes` (after its
/// warning) leave nothing the legacy schema cannot hold.
#[tokio::test]
async fn token_delete_and_removing_the_last_owner_clear_the_way_for_rollback() {
    let (db, mut c) = legacy_with_anomalies().await;
    let fp = profochat_saas::fingerprint::take(&*c).await.unwrap();
    migrate::migrate(&mut c, &opts(), &Silent).await.unwrap();
    let url = db.url();
    cli().args(["member", "add", "--yes", "--telegram-user-id", "42", "--role", "owner", "--database-url", &url]).assert().success();
    let all = cli().args(["token", "create", "--yes", "--public-for-all", "--json", "--database-url", &url]).assert().success();
    let all: Value = serde_json::from_slice(&all.get_output().stdout).unwrap();
    let ids: Vec<String> = all["created"].as_array().unwrap().iter().map(|t| t["token_id"].to_string()).collect();
    assert!(!ids.is_empty());
    let out = cli().args(["rollback", "--dry-run", "--database-url", &url]).assert().success();
    let listed = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(listed.contains("account members") && listed.contains("enrollment tokens"), "{listed}");

    for id in &ids {
        cli().args(["token", "delete", id, "--yes", "--database-url", &url]).assert().success();
    }
    let out = cli().args(["member", "remove", "--telegram-user-id", "42", "--yes", "--database-url", &url]).assert().success();
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("last active owner"));
    let dir = tempfile::tempdir().unwrap();
    let out = cli().args(["rollback", "--yes", "--backup-dir"]).arg(dir.path()).args(["--database-url", &url]).assert().success();
    assert!(!String::from_utf8_lossy(&out.get_output().stdout).contains("Saved first"));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing needed saving");
    assert_eq!(profochat_saas::fingerprint::take(&*c).await.unwrap(), fp, "the legacy rows, exactly");
    let ledger: bool = c.query_one("SELECT to_regclass('schema_migrations') IS NULL", &[]).await.unwrap().get(0);
    assert!(ledger, "the ledger the migration created went with it");
}
