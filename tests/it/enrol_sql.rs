//! Enrolment from SQL, as an application in any language calls it: `psql` against a
//! database migrated by `migrate` (its compatibility triggers in place).

use std::process::{Command, Output, Stdio};

use profochat_saas::migrate;
use profochat_saas::ops::{self, TokenOptions, TokenType};
use profochat_saas::report::Silent;
use profochat_saas::sql::literal;

use crate::harness::TestDb;
use crate::migrate::{legacy_with_anomalies, opts};

/// `psql` with the SQLSTATE in its error messages; stops at the first error.
fn psql(db: &TestDb, sql: &str) -> Command {
    let tool = profochat_saas::server::find_tool("psql", None)
        .unwrap_or_else(|e| panic!("these tests run psql, as an application would: {e}"));
    let mut cmd = Command::new(tool.path);
    cmd.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose", "-d", &db.url(), "-c", sql])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// `psql` that first waits for the shared side of advisory lock `gate`, then runs `sql`.
fn psql_gated(db: &TestDb, gate: i64, sql: &str) -> Command {
    let mut cmd = psql(db, &format!("SELECT pg_advisory_lock_shared({gate})"));
    cmd.args(["-c", sql]);
    cmd
}

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).trim().to_string(), String::from_utf8_lossy(&o.stderr).trim().to_string())
}

fn enrol_sql(payload: &str, chat_id: i64, bot: &str) -> String {
    format!(
        "SELECT run_id || ' ' || deployment_id || ' ' || bot_name || ' ' || coalesce(ended_previous_run::text, '-') \
           FROM profochat_saas.enrol({}, {chat_id}, 'student', {})",
        literal(payload),
        literal(bot)
    )
}

async fn one(c: &tokio_postgres::Client, sql: &str) -> i64 {
    c.query_one(sql, &[]).await.unwrap().get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_psql_sessions_through_a_token_of_ten_uses_make_ten_runs_and_another_bot_is_refused() {
    let (db, mut c) = legacy_with_anomalies().await;
    migrate::migrate(&mut c, &opts(), &Silent).await.unwrap();
    let dep = ops::deployment_for(&c.client, "intro", "main_bot", 1).await.unwrap().expect("intro is deployed to main_bot");
    let token = ops::create_token(&c.client, dep.deployment_id, TokenType::Group, TokenOptions { max_uses: Some(10), ..Default::default() })
        .await
        .unwrap();
    let payload = token.payload.expose().to_string();
    let runs_before = one(&c, "SELECT count(*) FROM run").await;

    // 50 sessions, released at the same moment: each waits for an advisory lock this
    // test holds until all 50 wait. A session refused for lack of connection slots
    // (other tests share the server) comes again in the next round.
    const GATE: i64 = 4_242_424;
    let mut results: Vec<Option<Output>> = (0..50).map(|_| None).collect();
    for _round in 0..20 {
        let pending: Vec<usize> = (0..50).filter(|i| results[*i].is_none()).collect();
        if pending.is_empty() {
            break;
        }
        c.execute("SELECT pg_advisory_lock($1)", &[&GATE]).await.unwrap();
        let mut children: Vec<(usize, std::process::Child)> = pending
            .iter()
            .map(|i| {
                let mut cmd = psql_gated(&db, GATE, &enrol_sql(&payload, 70_000 + *i as i64, "main_bot"));
                (*i, cmd.spawn().expect("psql runs"))
            })
            .collect();
        let started = std::time::Instant::now();
        loop {
            let mut running = 0_i64;
            for (_, child) in children.iter_mut() {
                if child.try_wait().unwrap().is_none() {
                    running += 1;
                }
            }
            let waiting = one(
                &c,
                &format!("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND classid = 0 AND objid = {GATE}"),
            )
            .await;
            if waiting >= running || started.elapsed() > std::time::Duration::from_secs(60) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        c.execute("SELECT pg_advisory_unlock($1)", &[&GATE]).await.unwrap();
        for (i, child) in children {
            let out = child.wait_with_output().unwrap();
            let (_, err) = text(&out);
            if !(err.contains("too many clients") || err.contains("53300")) {
                results[i] = Some(out);
            }
        }
        if results.iter().any(|r| r.is_none()) {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
    let outs: Vec<Output> = results.into_iter().map(|r| r.expect("every session got a connection")).collect();
    let ok: Vec<&Output> = outs.iter().filter(|o| o.status.success()).collect();
    let refused: Vec<&Output> = outs.iter().filter(|o| !o.status.success()).collect();
    assert_eq!((ok.len(), refused.len()), (10, 40));
    for o in &ok {
        let (out, _) = text(o);
        let out = out.lines().last().unwrap_or_default();
        let fields: Vec<&str> = out.split(' ').collect();
        assert_eq!(fields[1..3], [dep.deployment_id.to_string().as_str(), "main_bot"], "{out}");
    }
    for o in &refused {
        let (_, err) = text(o);
        assert!(err.contains("PC005") && err.contains("used up"), "{err}");
        assert!(!err.contains(token.token.expose()), "the token is never in an error: {err}");
    }
    assert_eq!(one(&c, "SELECT count(*) FROM run").await, runs_before + 10);
    let row = c
        .query_one(
            "SELECT count(*), count(DISTINCT chat_id), bool_and(is_active), bool_and(account_id = 1 AND deployment_id = $2 AND botname = 'main_bot'
                                                                                   AND course_id = 'intro' AND bot_id IS NOT NULL)
               FROM run WHERE token_id = $1",
            &[&token.token_id, &dep.deployment_id],
        )
        .await
        .unwrap();
    assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1), row.get::<_, bool>(2), row.get::<_, bool>(3)), (10, 10, true, true));
    let uses: i32 = c.query_one("SELECT current_uses FROM enrollment_token WHERE token_id = $1", &[&token.token_id]).await.unwrap().get(0);
    assert_eq!(uses, 10);

    // A token of main_bot's deployment, received by second_bot: refused, nothing written.
    let other = ops::create_token(&c.client, dep.deployment_id, TokenType::Public, TokenOptions::default()).await.unwrap();
    let o = psql(&db, &enrol_sql(other.payload.expose(), 80_001, "second_bot")).output().unwrap();
    let (_, err) = text(&o);
    assert!(!o.status.success());
    assert!(err.contains("ERROR:  PC006:") && err.contains("for bot 'main_bot'") && err.contains("not for bot 'second_bot'"), "{err}");
    assert_eq!(one(&c, "SELECT count(*) FROM run WHERE chat_id = 80001").await, 0);
    let uses: i32 = c.query_one("SELECT current_uses FROM enrollment_token WHERE token_id = $1", &[&other.token_id]).await.unwrap().get(0);
    assert_eq!(uses, 0);
    // On its own bot it enrols, and a second /start of the chat ends the first run.
    let first = psql(&db, &enrol_sql(other.payload.expose(), 80_001, "main_bot")).output().unwrap();
    assert!(first.status.success(), "{:?}", text(&first));
    let second = psql(&db, &enrol_sql(other.payload.expose(), 80_001, "main_bot")).output().unwrap();
    let (out1, _) = text(&first);
    let (out2, _) = text(&second);
    let first_run = out1.split(' ').next().unwrap();
    assert!(out2.ends_with(&format!(" {first_run}")), "the second names the run it ended: {out2}");
    assert_eq!(one(&c, "SELECT count(*) FROM run WHERE chat_id = 80001 AND is_active").await, 1);
}

#[tokio::test]
async fn every_refusal_has_its_sqlstate_in_psql() {
    let s = crate::ops::setup().await;
    let c = &s.client.client;
    let new = |dep: i32, max: Option<i32>| ops::create_token(c, dep, TokenType::Public, TokenOptions { max_uses: max, ..Default::default() });
    let good = new(s.intro_alpha, None).await.unwrap();
    let revoked = new(s.intro_alpha, None).await.unwrap();
    ops::revoke_token(c, revoked.token_id).await.unwrap();
    let expired = new(s.intro_alpha, None).await.unwrap();
    c.execute("UPDATE enrollment_token SET expires_at = now() - interval '1 second' WHERE token_id = $1", &[&expired.token_id])
        .await
        .unwrap();
    let used = new(s.intro_alpha, Some(1)).await.unwrap();
    ops::enrol(c, used.payload.expose(), 1, None, "alpha_bot").await.unwrap();
    let inactive = new(s.advanced_alpha, None).await.unwrap();
    c.execute("UPDATE course_deployment SET is_active = false WHERE deployment_id = $1", &[&s.advanced_alpha]).await.unwrap();
    let cases: Vec<(String, String, &str)> = vec![
        (enrol_sql("cd_1", 5, "alpha_bot"), "malformed".into(), "PC001"),
        (enrol_sql(&format!("cd_{}_AAAAAAAAAAAAAAAAAAAAAAAA", s.intro_alpha), 5, "alpha_bot"), "unknown".into(), "PC002"),
        (enrol_sql(revoked.payload.expose(), 5, "alpha_bot"), "revoked".into(), "PC003"),
        (enrol_sql(expired.payload.expose(), 5, "alpha_bot"), "expired".into(), "PC004"),
        (enrol_sql(used.payload.expose(), 5, "alpha_bot"), "used up".into(), "PC005"),
        (enrol_sql(good.payload.expose(), 5, "beta_bot"), "not for bot".into(), "PC006"),
        (enrol_sql(&format!("cd_{}_{}", s.intro_beta, good.token.expose()), 5, "alpha_bot"), "payload names deployment".into(), "PC007"),
        (enrol_sql(inactive.payload.expose(), 5, "alpha_bot"), "not active".into(), "PC008"),
        (format!("SELECT * FROM profochat_saas.enrol({}, NULL, 'x', 'alpha_bot')", literal(good.payload.expose())), "no chat id".into(), "PC009"),
        (enrol_sql(good.payload.expose(), 5, ""), "no bot named".into(), "PC009"),
    ];
    let runs = one(c, "SELECT count(*) FROM run").await;
    for (sql, words, code) in &cases {
        let o = psql(&s.db, sql).output().unwrap();
        let (_, err) = text(&o);
        assert!(!o.status.success(), "{sql}");
        assert!(err.contains(&format!("ERROR:  {code}:")), "{code} for {sql}: {err}");
        assert!(err.contains(words.as_str()), "{words:?} for {sql}: {err}");
        assert!(err.contains("HINT:"), "a refusal says what to do: {err}");
        for t in [&good, &revoked, &expired, &used, &inactive] {
            assert!(!err.contains(t.token.expose()), "{err}");
        }
    }
    assert_eq!(one(c, "SELECT count(*) FROM run").await, runs, "no refusal wrote a run");
    // The payload reader is strict where Telegram is.
    for (payload, ok) in [
        (format!("cd_{}_{}", s.intro_alpha, good.token.expose()), true),
        (good.token.expose().to_string(), true),
        (format!(" cd_{}_{} ", s.intro_alpha, good.token.expose()), true),
        (format!("cd_0{}_{}", s.intro_alpha, good.token.expose()), false),
        (format!("cd_2147483648_{}", good.token.expose()), false),
        ("cd_1_a b".into(), false),
        ("cd__abc".into(), false),
        (format!("cd_1_{}", "a".repeat(60)), false),
        ("x".repeat(65), false),
    ] {
        let r = c.query_one("SELECT token FROM profochat_saas.start_payload($1)", &[&payload]).await;
        assert_eq!(r.is_ok(), ok, "{payload:?}: {r:?}");
    }
}
