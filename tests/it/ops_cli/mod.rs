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
async fn set_token_from_standard_input_stores_it_and_shows_it_masked() {
    let s = setup().await;
    let url = s.db.url();
    assert!(has_placeholder(&s.db, "alpha_bot").await);
    let (count, examples) = validate_placeholders(&s.db).await;
    assert_eq!(count, 2);
    assert!(examples.iter().any(|e| e.contains("'alpha_bot'")), "{examples:?}");
    let a = cli()
        .args(["bot", "set-token", "--yes", "-vv", "--bot", "alpha_bot", "--database-url", &url])
        .env("PROFOCHAT_SAAS_LOG", "trace")
        .write_stdin(format!("{TOKEN}\n"))
        .assert()
        .success();
    let (out, err) = texts(&a);
    assert!(out.contains("123456789:••••"), "{out}");
    assert!(out.contains("standard input"), "{out}");
    assert!(out.contains("placeholder"), "{out}");
    assert!(err.contains("bot token set"), "tracing output is captured: {err}");
    assert_hidden(&out, TOKEN);
    assert_hidden(&err, TOKEN);
    assert_eq!(stored_token(&s.db, "alpha_bot").await, TOKEN);
    assert!(!has_placeholder(&s.db, "alpha_bot").await, "set-token replaces the placeholder");
    assert!(has_placeholder(&s.db, "beta_bot").await, "other bots are left alone");
    let (count, examples) = validate_placeholders(&s.db).await;
    assert_eq!(count, 1, "validate no longer warns about alpha_bot: {examples:?}");
    assert!(!examples.iter().any(|e| e.contains("alpha_bot")), "{examples:?}");
    assert!(examples.iter().any(|e| e.contains("'beta_bot'")), "{examples:?}");

    // bot list shows it masked, and still names the bot that waits for a token.
    let a = cli().args(["bot", "list", "--database-url", &url]).assert().success();
    let (out, err) = texts(&a);
    assert_hidden(&out, TOKEN);
    assert!(out.contains("123456789:••••wQ"), "{out}");
    assert!(out.contains("wait for a real token: beta_bot"), "{out}");
    assert!(err.is_empty(), "{err}");
    let v = json(&cli().args(["bot", "list", "--json", "--database-url", &url]).assert().success());
    let bots = v.as_array().unwrap();
    assert_eq!(bots.len(), 2);
    assert_eq!(bots[0]["bot_name"], "alpha_bot");
    assert_eq!(bots[0]["has_real_token"], true);
    assert_eq!(bots[1]["has_real_token"], false);
    assert_hidden(&v.to_string(), TOKEN);
}

#[tokio::test]
async fn set_token_from_an_environment_variable() {
    let s = setup().await;
    let url = s.db.url();
    let a = cli()
        .args(["bot", "set-token", "--yes", "-vv", "--bot", "beta_bot", "--token-env", "BETA_TOKEN", "--json", "--database-url", &url])
        .env("BETA_TOKEN", TOKEN)
        .assert()
        .success();
    let (out, err) = texts(&a);
    assert_hidden(&out, TOKEN);
    assert_hidden(&err, TOKEN);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["bot_name"], "beta_bot");
    assert_eq!(v["source"], serde_json::json!({"kind": "env", "name": "BETA_TOKEN"}));
    assert_eq!(v["replaced_placeholder"], true);
    assert_eq!(stored_token(&s.db, "beta_bot").await, TOKEN);
    assert!(!has_placeholder(&s.db, "beta_bot").await);

    // A missing variable is named, and nothing changes.
    let a = cli()
        .args(["bot", "set-token", "--yes", "--bot", "alpha_bot", "--token-env", "NOT_SET_ANYWHERE", "--database-url", &url])
        .assert()
        .code(2);
    assert!(texts(&a).1.contains("NOT_SET_ANYWHERE"));

    // BOT_API_TOKEN (the legacy .env's variable) is used for BOT_NAME's bot...
    let a = cli()
        .args(["bot", "set-token", "--yes", "--bot", "alpha_bot", "--json", "--database-url", &url])
        .env("BOT_API_TOKEN", OTHER_TOKEN)
        .env("BOT_NAME", "alpha_bot")
        .assert()
        .success();
    assert_eq!(json(&a)["source"]["name"], "BOT_API_TOKEN");
    assert_eq!(stored_token(&s.db, "alpha_bot").await, OTHER_TOKEN);
    // ...but not for another bot: then standard input is read.
    let a = cli()
        .args(["bot", "set-token", "--yes", "--bot", "beta_bot", "--json", "--database-url", &url])
        .env("BOT_API_TOKEN", OTHER_TOKEN)
        .env("BOT_NAME", "alpha_bot")
        .write_stdin("")
        .assert()
        .code(2);
    let (out, err) = texts(&a);
    assert!(err.contains("no token was given on standard input"), "{err}");
    assert_hidden(&format!("{out}{err}"), OTHER_TOKEN);
    assert_eq!(stored_token(&s.db, "beta_bot").await, TOKEN);
}

#[tokio::test]
async fn a_malformed_or_taken_token_is_refused_without_being_echoed() {
    let s = setup().await;
    let url = s.db.url();
    for bad in ["not-a-telegram-token-but-secret", "123456789:tooShortSecretValue", "abcdefghi:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ"] {
        let a = cli()
            .args(["bot", "set-token", "--yes", "-vv", "--bot", "alpha_bot", "--database-url", &url])
            .write_stdin(format!("{bad}\n"))
            .assert()
            .code(2);
        let (out, err) = texts(&a);
        assert!(err.contains("is not a Telegram bot token"), "{err}");
        assert!(err.contains("keeps its token"), "{err}");
        assert!(!out.contains(bad) && !err.contains(bad), "{out}{err}");
        assert!(!err.contains("tooShortSecret") && !err.contains("not-a-telegram"), "{err}");
        assert!(has_placeholder(&s.db, "alpha_bot").await);
    }
    cli()
        .args(["bot", "set-token", "--yes", "--bot", "alpha_bot", "--database-url", &url])
        .write_stdin(TOKEN)
        .assert()
        .success();
    let a = cli()
        .args(["bot", "set-token", "--yes", "--bot", "beta_bot", "--database-url", &url])
        .write_stdin(TOKEN)
        .assert()
        .code(5);
    let (out, err) = texts(&a);
    assert!(err.contains("already belongs to bot \"alpha_bot\""), "{err}");
    assert_hidden(&format!("{out}{err}"), TOKEN);
    assert!(has_placeholder(&s.db, "beta_bot").await);
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

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_enrollment_token_value_in_logs_or_error_output() {
    let mut s = setup().await;
    let url = s.db.url();
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // A current-thread test runtime: every library call below runs on this thread.
    let guard = tracing::subscriber::set_default(subscriber);

    let c = &s.client.client;
    let limited = ops::create_token(c, s.intro_alpha, TokenType::Group, TokenOptions { max_uses: Some(1), ..Default::default() })
        .await
        .unwrap();
    let revoked = ops::create_token(c, s.intro_alpha, TokenType::Public, TokenOptions::default()).await.unwrap();
    ops::revoke_token(c, revoked.token_id).await.unwrap();
    let foreign = ops::create_token(c, s.advanced_alpha, TokenType::Public, TokenOptions::default()).await.unwrap();
    let mut errors = Vec::new();
    let db = s.db.connect().await;
    ops::enrol(&db.client, limited.payload.expose(), 1, None, "alpha_bot").await.unwrap();
    for payload in [
        limited.payload.expose().to_string(),
        revoked.payload.expose().to_string(),
        format!("cd_{}_{}", s.intro_alpha, foreign.token.expose()),
        format!("cd_{}_{}", s.intro_alpha, "unknownTOKENvalue1234567"),
    ] {
        let e = ops::enrol(&db.client, &payload, 2, None, "alpha_bot").await.unwrap_err();
        assert!(matches!(e, profochat_saas::Error::TokenRefused { .. }));
        errors.push(e.to_string());
    }
    assert_eq!(
        ops::resolve_start_payload(c, revoked.payload.expose(), "alpha_bot").await.unwrap_err().to_string(),
        profochat_saas::Error::TokenRefused { reason: TokenRefusal::Revoked }.to_string()
    );
    ops::create_public_for_all(&mut s.client, TokenOptions::default()).await.unwrap();
    let c = &s.client.client;
    let all = ops::list_tokens(c, None).await.unwrap();
    // A unique violation on the token column: the server's detail names the value.
    let dup = c
        .execute("INSERT INTO enrollment_token (deployment_id, token) VALUES ($1, $2)", &[&s.intro_alpha, &limited.token.expose()])
        .await
        .unwrap_err();
    errors.push(profochat_saas::Error::query("inserting", &dup, "Nothing was changed.").to_string());
    drop(guard);

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("enrollment token created"), "the library logged: {log}");
    assert!(log.contains("enrollment token refused"), "the library logged: {log}");
    assert!(errors.last().unwrap().contains("already exists"), "{errors:?}");
    let mut values: Vec<String> = all.iter().map(|t| t.token.expose().to_string()).collect();
    values.push("unknownTOKENvalue1234567".into());
    assert!(values.len() >= 5);
    for v in &values {
        assert!(!log.contains(v.as_str()), "token in the log: {log}");
        for e in &errors {
            assert!(!e.contains(v.as_str()), "token in an error: {e}");
        }
    }

    // The binary, at its most verbose, with tokio-postgres asked for its statement log too.
    let dep = s.intro_beta.to_string();
    let a = cli()
        .args(["token", "create", "--yes", "-vvv", "--deployment", &dep, "--json", "--database-url", &url])
        .env("PROFOCHAT_SAAS_LOG", "trace,tokio_postgres=trace")
        .assert()
        .success();
    let (out, err) = texts(&a);
    let created: Value = serde_json::from_str(&out).unwrap();
    let value = created["token"].as_str().unwrap().to_string();
    assert!(err.contains("enrollment token created"), "{err}");
    assert!(!err.contains(&value), "token in the log: {err}");
    let a = cli()
        .args(["token", "list", "-vvv", "--database-url", &url])
        .env("PROFOCHAT_SAAS_LOG", "trace")
        .assert()
        .success();
    let (out, err) = texts(&a);
    assert!(out.contains(&value), "the operator sees the link: {out}");
    assert!(!err.contains(&value), "{err}");
    let id = created["token_id"].as_i64().unwrap().to_string();
    let a = cli()
        .args(["token", "revoke", "-vvv", &id, "--yes", "--database-url", &url])
        .env("PROFOCHAT_SAAS_LOG", "trace")
        .assert()
        .success();
    let (out, err) = texts(&a);
    assert!(!out.contains(&value) && !err.contains(&value), "{out}{err}");
    let a = cli()
        .args(["token", "create", "--yes", "-vvv", "--public-for-all", "--database-url", &url])
        .env("PROFOCHAT_SAAS_LOG", "debug")
        .assert()
        .success();
    let (_, err) = texts(&a);
    for v in &values {
        assert!(!err.contains(v.as_str()), "{err}");
    }
}

#[tokio::test]
async fn token_delete_removes_the_row_and_keeps_the_runs_it_enrolled() {
    let s = setup().await;
    let url = s.db.url();
    let c = &s.client.client;
    let t = ops::create_token(c, s.intro_alpha, TokenType::Group, TokenOptions::default()).await.unwrap();
    let a = ops::enrol(c, t.payload.expose(), 501, Some("ann"), "alpha_bot").await.unwrap();
    let b = ops::enrol(c, t.payload.expose(), 502, None, "alpha_bot").await.unwrap();
    let id = t.token_id.to_string();
    // It asks; with no terminal and no --yes it refuses and keeps the token.
    let out = cli().args(["token", "delete", &id, "--database-url", &url]).assert().code(5);
    assert!(texts(&out).1.contains("--yes"), "{}", texts(&out).1);
    assert_eq!(ops::list_tokens(c, None).await.unwrap().len(), 1);
    let out = cli().args(["token", "delete", &id, "--yes", "--json", "--database-url", &url]).assert().success();
    let v = json(&out);
    assert_eq!((v["token_id"].as_i64(), v["uses"].as_i64(), v["runs_detached"].as_i64()), (Some(t.token_id as i64), Some(2), Some(2)));
    assert!(!texts(&out).0.contains(t.token.expose()), "the token value is not repeated");
    assert!(ops::list_tokens(c, None).await.unwrap().is_empty(), "the row is gone");
    for run in [a.run_id, b.run_id] {
        let r = c.query_one("SELECT token_id, metadata ->> 'deleted_enrollment_token_id', is_active FROM run WHERE run_id = $1", &[&run]).await.unwrap();
        assert_eq!(r.get::<_, Option<i32>>(0), None);
        assert_eq!(r.get::<_, Option<String>>(1), Some(t.token_id.to_string()));
        assert!(r.get::<_, bool>(2), "the run goes on");
    }
    // Its links enrol nobody; deleting it again is a clear not-found.
    let err = ops::enrol(c, t.payload.expose(), 503, None, "alpha_bot").await.unwrap_err();
    assert!(matches!(err, Error::TokenRefused { reason: TokenRefusal::Unknown }), "{err}");
    let out = cli().args(["token", "delete", &id, "--yes", "--database-url", &url]).assert().code(10);
    assert!(texts(&out).1.contains(&format!("enrollment token {id} does not exist")));
    // Human output.
    let t2 = ops::create_token(c, s.intro_alpha, TokenType::Public, TokenOptions::default()).await.unwrap();
    let out = cli().args(["token", "delete", &t2.token_id.to_string(), "--yes", "--database-url", &url]).assert().success();
    assert!(texts(&out).0.contains(&format!("Deleted token #{} of deployment {}", t2.token_id, s.intro_alpha)), "{}", texts(&out).0);
}

#[tokio::test]
async fn token_create_prints_the_enrolment_in_sql_and_a_note_instead_of_a_dead_link() {
    let s = setup().await;
    let url = s.db.url();
    let c = &s.client.client;
    // A username-shaped bot gets its link; the SQL example names the bot and the payload.
    let a = cli().args(["token", "create", "--yes", "--deployment", &s.intro_alpha.to_string(), "--database-url", &url]).assert().success();
    let (out, _) = texts(&a);
    assert!(out.contains(&format!("https://t.me/alpha_bot?start=cd_{}_", s.intro_alpha)), "{out}");
    assert!(out.contains("SELECT run_id, deployment_id, ended_previous_run") && out.contains("profochat_saas.enrol('cd_"), "{out}");
    assert!(out.contains("bot => 'alpha_bot')"), "{out}");
    // The printed SQL is what an application runs: it enrols.
    let sql = out.lines().skip_while(|l| !l.trim_start().starts_with("SELECT")).map(str::trim).collect::<Vec<_>>().join(" ");
    let row = c.query_one(sql.as_str(), &[]).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    assert_eq!(row.get::<_, i32>(1), s.intro_alpha);
    // A bot name that cannot be a Telegram username gets a note, no t.me link.
    c.batch_execute(&format!(
        "INSERT INTO bot (account_id, bot_name, bot_token, display_name) VALUES (1, 'бот «кавычки»', '{PLACEHOLDER_TOKEN_PREFIX}q', 'q');
         INSERT INTO course_deployment (course_id, account_id, bot_id) SELECT 'intro', 1, bot_id FROM bot WHERE bot_name = 'бот «кавычки»';"
    ))
    .await
    .unwrap();
    let dep: i32 = c
        .query_one("SELECT deployment_id FROM course_deployment d JOIN bot b USING (bot_id) WHERE b.bot_name = 'бот «кавычки»'", &[])
        .await
        .unwrap()
        .get(0);
    let a = cli().args(["token", "create", "--yes", "--deployment", &dep.to_string(), "--database-url", &url]).assert().success();
    let (out, _) = texts(&a);
    assert!(!out.contains("https://t.me/бот") && !out.contains("t.me/%"), "no dead link: {out}");
    assert!(out.contains("cannot be a Telegram username") && out.contains(&format!("/start cd_{dep}_")), "{out}");
    let a = cli().args(["token", "create", "--yes", "--deployment", &dep.to_string(), "--json", "--database-url", &url]).assert().success();
    let v = json(&a);
    assert!(v["deep_link"].is_null(), "{v}");
    assert!(v["deep_link_note"].as_str().unwrap().contains("cannot be a Telegram username"));
    assert!(v["enrol_sql"].as_str().unwrap().contains("bot => 'бот «кавычки»'"));
    let listed = run_list(&url);
    let noted = listed.iter().filter(|t| t["deployment_id"] == dep).collect::<Vec<_>>();
    assert_eq!(noted.len(), 2);
    assert!(noted.iter().all(|t| t["deep_link"].is_null() && t["deep_link_note"].is_string()));
    let (out, _) = texts(&cli().args(["token", "list", "--database-url", &url]).assert().success());
    assert!(out.contains("cannot be a Telegram username"), "{out}");
}

fn run_list(url: &str) -> Vec<Value> {
    json(&cli().args(["token", "list", "--json", "--database-url", url]).assert().success()).as_array().unwrap().clone()
}

/// `member add`, `bot set-token`, `token create`, `account create` and `deployment
/// create` change the database: they ask on a
/// terminal (an answer other than yes changes nothing), refuse with exit 5 when there
/// is no terminal and no --yes, and accept --yes.
#[tokio::test]
async fn member_add_set_token_and_token_create_ask_first_and_accept_yes() {
    let s = setup().await;
    let url = s.db.url();
    let c = s.db.connect().await;
    let state = || async {
        let r = c
            .query_one(
                "SELECT (SELECT count(*) FROM account_member) + (SELECT count(*) FROM enrollment_token)
                      + (SELECT count(*) FROM account) + (SELECT count(*) FROM course_deployment)
                      + (SELECT count(*) FROM bot WHERE bot_token NOT LIKE 'profochat-saas-placeholder-%')",
                &[],
            )
            .await
            .unwrap();
        r.get::<_, i64>(0)
    };
    let dep = s.intro_alpha.to_string();
    let cases: [&[&str]; 5] = [
        &["member", "add", "--telegram-user-id", "77", "--role", "owner"],
        &["bot", "set-token", "--bot", "alpha_bot"],
        &["token", "create", "--deployment", &dep],
        &["account", "create", "--name", "Second", "--slug", "second"],
        &["deployment", "create", "--course", "advanced", "--bot", "beta_bot"],
    ];
    for args in cases {
        let before = state().await;
        let mut all = args.to_vec();
        all.extend(["--database-url", &url]);
        let a = cli().args(&all).write_stdin(TOKEN).assert().code(5);
        let (_, err) = texts(&a);
        assert!(err.contains("--yes") && err.contains("no terminal"), "{args:?}: {err}");
        assert_eq!(state().await, before, "{args:?} changed the database without --yes");

        let mut cmd = crate::harness::bin();
        cmd.args(&all);
        let mut t = crate::pty::Term::spawn(cmd);
        t.expect("[y/N]", std::time::Duration::from_secs(60));
        t.send(b"n\r");
        assert_eq!(t.exit_code(std::time::Duration::from_secs(30)), 5, "{}", t.output());
        assert_eq!(state().await, before, "{args:?} changed the database after \"no\"");

        all.push("--yes");
        cli().args(&all).write_stdin(TOKEN).assert().success();
        assert!(state().await > before, "{args:?} --yes did nothing");
    }
}
