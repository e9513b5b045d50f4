//! Enrollment tokens through the binary: never in logs or error output, deleted without
//! their runs, created with the enrolment SQL where no link can be made; and the
//! commands that ask first.

use super::*;

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
