//! The operator commands through the binary: JSON everywhere, clear errors with
//! their exit codes, and secrets that never show.

use std::sync::{Arc, Mutex};

use profochat_saas::error::TokenRefusal;
use profochat_saas::ops::{self, TokenOptions, TokenType};
use profochat_saas::target::PLACEHOLDER_TOKEN_PREFIX;
use profochat_saas::validate;
use profochat_saas::Error;
use serde_json::Value;

use crate::harness::{cli, TestDb};
use crate::ops::setup;

mod bot_tokens;
mod enrolment;

/// Shaped like a Telegram token, so it passes the format check.
const TOKEN: &str = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ";
const OTHER_TOKEN: &str = "987654321:ZZxy_-cvQH1vGWJxfSeofSAs0K5PALDq12x";

fn texts(a: &assert_cmd::assert::Assert) -> (String, String) {
    let o = a.get_output();
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

fn json(a: &assert_cmd::assert::Assert) -> Value {
    let (out, err) = texts(a);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}\nstderr: {err}"))
}

/// Neither the token nor a telling piece of its secret part appears.
fn assert_hidden(text: &str, token: &str) {
    let secret = token.split_once(':').map(|(_, s)| s).unwrap_or(token);
    assert!(!text.contains(token), "token shown in: {text}");
    for piece in secret.as_bytes().chunks(8).filter(|c| c.len() == 8) {
        let piece = std::str::from_utf8(piece).unwrap();
        assert!(!text.contains(piece), "part of the token ({piece}) shown in: {text}");
    }
}

async fn stored_token(db: &TestDb, bot: &str) -> String {
    db.connect()
        .await
        .query_one("SELECT bot_token FROM bot WHERE bot_name = $1", &[&bot])
        .await
        .unwrap()
        .get(0)
}

/// What `validate` says about placeholder tokens: how many bots, and which.
async fn validate_placeholders(db: &TestDb) -> (i64, Vec<String>) {
    let c = db.connect().await;
    let opts = validate::ValidateOptions::from_state(&c.client).await.unwrap();
    let report = validate::validate(&c.client, &opts).await.unwrap();
    let check = report.check("bot.token_placeholder").expect("validate has the placeholder check");
    (check.count, check.examples.clone())
}

/// The condition `validate` warns about: the bot's token is still a placeholder.
async fn has_placeholder(db: &TestDb, bot: &str) -> bool {
    let n: i64 = db
        .connect()
        .await
        .query_one(
            "SELECT count(*) FROM bot WHERE bot_token LIKE $1 || '%' AND bot_name = $2",
            &[&PLACEHOLDER_TOKEN_PREFIX, &bot],
        )
        .await
        .unwrap()
        .get(0);
    n > 0
}

#[tokio::test]
async fn every_command_answers_in_json() {
    let s = setup().await;
    let url = s.db.url();
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--json", "--database-url", &url]);
        let a = cli().args(&all).assert().success();
        let (_, err) = texts(&a);
        assert!(err.is_empty(), "{args:?}: stderr: {err}");
        json(&a)
    };

    let acct = run(&["account", "create", "--yes", "--name", "Acme School", "--slug", "acme", "--plan", "pro"]);
    assert_eq!(acct["slug"], "acme");
    assert!(acct["account_id"].as_i64().unwrap() > 1);
    let accounts = run(&["account", "list"]);
    assert_eq!(accounts.as_array().unwrap().len(), 2);
    assert_eq!(accounts[0]["bots"], 2);
    assert_eq!(accounts[0]["deployments"], 3);

    let m = run(&["member", "add", "--yes", "--account", "1", "--telegram-user-id", "5001", "--username", "olga", "--role", "owner"]);
    assert_eq!(m["action"], "added");
    assert_eq!(m["member"]["role"], "owner");
    let m = run(&["member", "add", "--yes", "--telegram-user-id", "5002", "--role", "viewer"]);
    assert_eq!(m["member"]["role"], "viewer");
    let members = run(&["member", "list", "--account", "1"]);
    assert_eq!(members.as_array().unwrap().len(), 2);
    assert_eq!(members[0]["telegram_username"], "olga");
    let removed = run(&["member", "remove", "--telegram-user-id", "5002", "--yes"]);
    assert_eq!(removed["telegram_user_id"], 5002);

    let bots = run(&["bot", "list"]);
    assert_eq!(bots.as_array().unwrap().len(), 2);
    let set = {
        let a = cli()
            .args(["bot", "set-token", "--yes", "--bot", "alpha_bot", "--json", "--database-url", &url])
            .write_stdin(TOKEN)
            .assert()
            .success();
        json(&a)
    };
    assert_eq!(set["source"]["kind"], "stdin");

    let d = run(&["deployment", "create", "--yes", "--course", "advanced", "--bot", "beta_bot", "--environment", "test"]);
    let dep = d["deployment_id"].as_i64().unwrap();
    assert_eq!(d["environment"], "test");
    let list = run(&["deployment", "list", "--bot", "beta_bot"]);
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(list.as_array().unwrap().iter().any(|x| x["deployment_id"] == dep && x["active_tokens"] == 0));

    let dep_s = dep.to_string();
    let t = run(&["token", "create", "--yes", "--deployment", &dep_s, "--type", "group", "--max-uses", "5", "--expires-in", "12h"]);
    assert_eq!(t["token_type"], "group");
    assert_eq!(t["max_uses"], 5);
    assert!(t["expires_at"].is_string());
    let link = t["deep_link"].as_str().unwrap();
    assert!(link.starts_with(&format!("https://t.me/beta_bot?start=cd_{dep}_")), "{link}");
    assert!(link.ends_with(t["token"].as_str().unwrap()));
    let tokens = run(&["token", "list", "--deployment", &dep_s]);
    assert_eq!(tokens.as_array().unwrap().len(), 1);
    assert_eq!(tokens[0]["state"], "active");
    assert_eq!(tokens[0]["deep_link"], link);
    let id = t["token_id"].as_i64().unwrap().to_string();
    let r = run(&["token", "revoke", &id, "--yes"]);
    assert_eq!(r["was_active"], true);
    assert_eq!(run(&["token", "list"])[0]["state"], "revoked");

    let all = run(&["token", "create", "--yes", "--public-for-all"]);
    assert_eq!(all["created"].as_array().unwrap().len(), 4);
    assert!(all["skipped"].as_array().unwrap().is_empty());
    let again = run(&["token", "create", "--yes", "--public-for-all"]);
    assert!(again["created"].as_array().unwrap().is_empty());
    assert_eq!(again["skipped"].as_array().unwrap().len(), 4);
    assert_eq!(again["skipped"][0]["reason"], "has_public_token");
}

#[tokio::test]
async fn human_output_has_tables_links_and_next_steps() {
    let s = setup().await;
    let url = s.db.url();
    let dep = s.intro_beta.to_string();
    let a = cli().args(["token", "create", "--yes", "--deployment", &dep, "--database-url", &url]).assert().success();
    let (out, _) = texts(&a);
    assert!(out.contains(&format!("https://t.me/beta_bot?start=cd_{dep}_")), "{out}");
    assert!(out.contains("unlimited uses, never expires"), "{out}");
    let (out, _) = texts(&cli().args(["token", "list", "--database-url", &url]).assert().success());
    assert!(out.contains("| ID") && out.contains("Deep links:"), "{out}");
    let (out, _) = texts(&cli().args(["deployment", "list", "--database-url", &url]).assert().success());
    assert!(out.contains("2 active deployment(s) have no usable token"), "{out}");
    let (out, _) = texts(&cli().args(["account", "list", "--database-url", &url]).assert().success());
    assert!(out.contains("Default Account"), "{out}");
    let (out, _) = texts(&cli().args(["member", "list", "--database-url", &url]).assert().success());
    assert!(out.contains("has no members"), "{out}");
    let (out, _) = texts(
        &cli()
            .args(["deployment", "create", "--yes", "--course", "advanced", "--bot", "beta_bot", "--database-url", &url])
            .assert()
            .success(),
    );
    assert!(out.contains("token create --deployment"), "{out}");
}

#[tokio::test]
async fn unknown_bots_accounts_deployments_and_tokens_exit_10() {
    let s = setup().await;
    let url = s.db.url();
    let cases: &[(&[&str], &str)] = &[
        (&["bot", "set-token", "--yes", "--bot", "ghost_bot"], "bot \"ghost_bot\" in account 1 does not exist"),
        (&["bot", "set-token", "--yes", "--bot", "alpha_bot", "--account", "9"], "account 9 does not exist"),
        (&["member", "add", "--yes", "--account", "9", "--telegram-user-id", "1"], "account 9 does not exist"),
        (&["member", "list", "--account", "9"], "account 9 does not exist"),
        (&["member", "remove", "--telegram-user-id", "555"], "member 555 of account 1 does not exist"),
        (&["deployment", "create", "--yes", "--course", "intro", "--bot", "ghost_bot"], "bot \"ghost_bot\" in account 1 does not exist"),
        (&["deployment", "create", "--yes", "--course", "ghost", "--bot", "alpha_bot"], "course \"ghost\" in account 1 does not exist"),
        (&["deployment", "list", "--bot", "ghost_bot"], "bot \"ghost_bot\" does not exist"),
        (&["deployment", "list", "--account", "9"], "account 9 does not exist"),
        (&["token", "create", "--yes", "--deployment", "9999"], "deployment 9999 does not exist"),
        (&["token", "list", "--deployment", "9999"], "deployment 9999 does not exist"),
        (&["token", "revoke", "9999"], "enrollment token 9999 does not exist"),
    ];
    for (args, message) in cases {
        let mut all = args.to_vec();
        all.extend(["--database-url", &url]);
        let a = cli().args(&all).write_stdin(TOKEN).assert().code(10);
        let (out, err) = texts(&a);
        assert!(err.contains(message), "{args:?}: {err}");
        assert!(err.contains("Nothing was changed"), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: one paragraph: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
        assert_hidden(&err, TOKEN);
    }
    // The hint names what does exist.
    let a = cli().args(["bot", "set-token", "--yes", "--bot", "ghost_bot", "--database-url", &url]).assert().code(10);
    assert!(texts(&a).1.contains("alpha_bot, beta_bot"));
    assert!(!has_placeholder(&s.db, "ghost_bot").await);
}

#[tokio::test]
async fn commands_refuse_a_legacy_database_with_exit_4() {
    let db = TestDb::legacy().await;
    let url = db.url();
    let commands: &[&[&str]] = &[
        &["bot", "list"],
        &["bot", "set-token", "--yes", "--bot", "alpha_bot"],
        &["member", "add", "--yes", "--telegram-user-id", "1"],
        &["member", "list"],
        &["member", "remove", "--telegram-user-id", "1", "--yes"],
        &["account", "create", "--yes", "--name", "A", "--slug", "a"],
        &["account", "list"],
        &["deployment", "list"],
        &["deployment", "create", "--yes", "--course", "c", "--bot", "b"],
        &["token", "create", "--yes", "--deployment", "1"],
        &["token", "create", "--yes", "--public-for-all"],
        &["token", "list"],
        &["token", "revoke", "1", "--yes"],
    ];
    for args in commands {
        let mut all = args.to_vec();
        all.extend(["--json", "--database-url", &url]);
        let a = cli().args(&all).write_stdin(TOKEN).assert().code(4);
        let (_, err) = texts(&a);
        assert!(err.contains("legacy (single-tenant, not migrated)"), "{args:?}: {err}");
        assert!(err.contains("profochat-saas migrate"), "{args:?}: {err}");
    }
    let tables: i64 = db
        .connect()
        .await
        .query_one("SELECT count(*) FROM information_schema.tables WHERE table_name IN ('bot', 'account')", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(tables, 0, "nothing was created");
}

#[tokio::test]
async fn refusals_of_the_operator_commands() {
    let s = setup().await;
    let url = s.db.url();
    let c = &s.client.client;
    let t = ops::create_token(c, s.intro_alpha, TokenType::Public, TokenOptions::default()).await.unwrap();
    let id = t.token_id.to_string();
    // Destructive commands ask; with no terminal and no --yes they refuse.
    let a = cli().args(["token", "revoke", &id, "--database-url", &url]).assert().code(5);
    assert!(texts(&a).1.contains("--yes"));
    assert_eq!(ops::list_tokens(c, None).await.unwrap()[0].state, ops::TokenState::Active);
    cli().args(["member", "add", "--yes", "--telegram-user-id", "1", "--role", "owner", "--database-url", &url]).assert().success();
    let a = cli().args(["member", "remove", "--telegram-user-id", "1", "--database-url", &url]).assert().code(5);
    assert!(texts(&a).1.contains("--yes"));
    // Demoting the last owner is refused; removing it is done only after a warning, when confirmed.
    let a = cli()
        .args(["member", "add", "--yes", "--telegram-user-id", "1", "--role", "viewer", "--database-url", &url])
        .assert()
        .code(5);
    assert!(texts(&a).1.contains("last active owner"));
    let a = cli().args(["member", "remove", "--telegram-user-id", "1", "--database-url", &url]).assert().code(5);
    let (_, err) = texts(&a);
    assert!(err.contains("last active owner of account 1") && err.contains("--yes"), "{err}");
    assert_eq!(ops::list_members(c, 1).await.unwrap().len(), 1, "still there");
    let a = cli().args(["member", "remove", "--telegram-user-id", "1", "--yes", "--database-url", &url]).assert().success();
    let (out, err) = texts(&a);
    assert!(err.contains("last active owner of account 1") && err.contains("member add --account 1"), "the warning: {err}");
    assert!(out.contains("Removed 1 (owner)") && out.contains("no active owner now"), "{out}");
    assert!(ops::list_members(c, 1).await.unwrap().is_empty());
    // Duplicates are named.
    let a = cli().args(["account", "create", "--yes", "--name", "X", "--slug", "default", "--database-url", &url]).assert().code(5);
    assert!(texts(&a).1.contains("already used by account 1"), "{}", texts(&a).1);
    let a = cli()
        .args(["deployment", "create", "--yes", "--course", "intro", "--bot", "alpha_bot", "--database-url", &url])
        .assert()
        .code(5);
    assert!(texts(&a).1.contains(&format!("already deployed to bot \"alpha_bot\" in environment \"prod\" of account 1 (deployment {})", s.intro_alpha)));
    // Bad durations and limits.
    let dep = s.intro_alpha.to_string();
    let a = cli().args(["token", "create", "--yes", "--deployment", &dep, "--expires-in", "soon", "--database-url", &url]).assert().code(5);
    assert!(texts(&a).1.contains("is not a duration"));
    cli().args(["token", "create", "--yes", "--deployment", &dep, "--max-uses", "0", "--database-url", &url]).assert().code(5);
    cli().args(["token", "create", "--yes", "--public-for-all", "--type", "group", "--database-url", &url]).assert().code(5);
}
