//! `bot set-token`: from standard input or a variable, stored and shown masked; a
//! malformed or taken token refused without being echoed.

use super::*;

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
