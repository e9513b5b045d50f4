//! Operating the SaaS schema: enrolment through tokens (concurrency, refusals, runs),
//! tokens and their links, and the library side of members, accounts and deployments.

use std::sync::Arc;

use profochat_saas::conn::{self, Db};
use profochat_saas::error::TokenRefusal;
use profochat_saas::ops::{self, BotRef, Role, StartPayload, TokenOptions, TokenType};
use profochat_saas::target::PLACEHOLDER_TOKEN_PREFIX;
use profochat_saas::Error;

use crate::harness::TestDb;

/// Ids of what [`setup`] creates.
pub struct Setup {
    pub db: TestDb,
    pub client: Db,
    pub alpha: i32,
    pub beta: i32,
    /// intro on alpha (prod)
    pub intro_alpha: i32,
    /// advanced on alpha (prod)
    pub advanced_alpha: i32,
    /// intro on beta (prod)
    pub intro_beta: i32,
}

/// A migrated database with two bots holding placeholder tokens, two courses and
/// three deployments in the default account.
pub async fn setup() -> Setup {
    let db = TestDb::legacy().await;
    let client = db.connect().await;
    crate::fixtures::apply_target_schema(&client).await;
    client
        .execute(
            "INSERT INTO bot (account_id, bot_name, bot_token, display_name) VALUES \
             (1, 'alpha_bot', $1 || 'alpha', 'alpha_bot'), (1, 'beta_bot', $1 || 'beta', 'beta_bot')",
            &[&PLACEHOLDER_TOKEN_PREFIX],
        )
        .await
        .unwrap();
    client
        .batch_execute(
            "INSERT INTO course (course_id, bot_name, account_id, yaml) VALUES \
               ('intro', 'alpha_bot', 1, 'x'), ('advanced', 'alpha_bot', 1, 'y');
             INSERT INTO course_deployment (course_id, account_id, bot_id, environment) VALUES \
               ('intro', 1, (SELECT bot_id FROM bot WHERE bot_name = 'alpha_bot'), 'prod'),
               ('advanced', 1, (SELECT bot_id FROM bot WHERE bot_name = 'alpha_bot'), 'prod'),
               ('intro', 1, (SELECT bot_id FROM bot WHERE bot_name = 'beta_bot'), 'prod');",
        )
        .await
        .unwrap();
    let id = |sql: &'static str| {
        let c = &client;
        async move { c.query_one(sql, &[]).await.unwrap().get::<_, i32>(0) }
    };
    let alpha = id("SELECT bot_id FROM bot WHERE bot_name = 'alpha_bot'").await;
    let beta = id("SELECT bot_id FROM bot WHERE bot_name = 'beta_bot'").await;
    let dep = |course: &'static str, bot: i32| {
        let c = &client;
        async move {
            c.query_one("SELECT deployment_id FROM course_deployment WHERE course_id = $1 AND bot_id = $2", &[&course, &bot])
                .await
                .unwrap()
                .get::<_, i32>(0)
        }
    };
    let intro_alpha = dep("intro", alpha).await;
    let advanced_alpha = dep("advanced", alpha).await;
    let intro_beta = dep("intro", beta).await;
    Setup {
        db,
        client,
        alpha,
        beta,
        intro_alpha,
        advanced_alpha,
        intro_beta,
    }
}

async fn count(c: &tokio_postgres::Client, sql: &str, params: &[&(dyn tokio_postgres::types::ToSql + Sync)]) -> i64 {
    c.query_one(sql, params).await.unwrap().get(0)
}

fn refusal<T: std::fmt::Debug>(r: Result<T, Error>) -> TokenRefusal {
    match r {
        Err(Error::TokenRefused { reason }) => reason,
        other => panic!("expected a token refusal, got {other:?}"),
    }
}

async fn connect_retrying(settings: &conn::ConnSettings) -> Db {
    // Other test binaries share the server: wait for a free connection slot.
    for _ in 0..100 {
        match conn::connect(settings).await {
            Ok(db) => return db,
            Err(e) if e.to_string().contains("too many clients") || e.to_string().contains("53300") => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await
            }
            Err(e) => panic!("connect: {e}"),
        }
    }
    panic!("no free connection slot")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_enrolments_through_a_token_of_ten_uses_make_ten_runs() {
    let s = setup().await;
    let t = ops::create_token(
        &s.client.client,
        s.intro_alpha,
        TokenType::Group,
        TokenOptions {
            max_uses: Some(10),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let payload = t.payload.expose().to_string();

    let mut clients = Vec::new();
    for _ in 0..50 {
        clients.push(connect_retrying(&s.db.settings).await);
    }
    let start = Arc::new(tokio::sync::Barrier::new(50));
    let mut tasks = Vec::new();
    for (i, db) in clients.into_iter().enumerate() {
        let payload = payload.clone();
        let start = start.clone();
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            let chat_id = 1000 + i as i64;
            ops::enrol(&db.client, &payload, chat_id, Some("student"), "alpha_bot").await
        }));
    }
    let mut ok = 0;
    let mut used_up = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(e) => {
                assert_eq!(e.deployment_id, s.intro_alpha);
                assert_eq!(e.bot_id, s.alpha);
                assert_eq!(e.account_id, 1);
                assert_eq!(e.token_id, t.token_id);
                ok += 1;
            }
            Err(Error::TokenRefused { reason: TokenRefusal::UsedUp }) => used_up += 1,
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert_eq!((ok, used_up), (10, 40));
    let c = &s.client;
    assert_eq!(count(c, "SELECT count(*) FROM run WHERE token_id = $1", &[&t.token_id]).await, 10);
    assert_eq!(count(c, "SELECT count(*) FROM run", &[]).await, 10);
    let uses: i32 = c
        .query_one("SELECT current_uses FROM enrollment_token WHERE token_id = $1", &[&t.token_id])
        .await
        .unwrap()
        .get(0);
    assert_eq!(uses, 10);
    // The next one is refused too, and the refusal names no token.
    let db = s.db.connect().await;
    let err = ops::enrol(&db.client, &payload, 1, None, "alpha_bot").await.unwrap_err();
    assert!(matches!(err, Error::TokenRefused { reason: TokenRefusal::UsedUp }));
    assert!(!err.to_string().contains(t.token.expose()), "{err}");
    assert_eq!(err.exit_status().code(), 11);
}

#[tokio::test]
async fn refused_tokens_say_why_and_change_nothing() {
    let s = setup().await;
    let c = &s.client.client;
    let new = |dep: i32| ops::create_token(c, dep, TokenType::Public, TokenOptions::default());
    let expired = new(s.intro_alpha).await.unwrap();
    c.execute("UPDATE enrollment_token SET expires_at = now() - interval '1 minute' WHERE token_id = $1", &[&expired.token_id])
        .await
        .unwrap();
    let revoked = new(s.intro_alpha).await.unwrap();
    let r = ops::revoke_token(c, revoked.token_id).await.unwrap();
    assert!(r.was_active);
    assert!(!ops::revoke_token(c, revoked.token_id).await.unwrap().was_active);
    let foreign = new(s.advanced_alpha).await.unwrap();
    let inactive_dep = new(s.intro_beta).await.unwrap();
    c.execute("UPDATE course_deployment SET is_active = false WHERE deployment_id = $1", &[&s.intro_beta]).await.unwrap();
    let good = new(s.intro_alpha).await.unwrap();

    let foreign_payload = StartPayload::format(s.intro_alpha, foreign.token.expose());
    let unknown_payload = StartPayload::format(s.intro_alpha, "AAAAAAAAAAAAAAAAAAAAAAAA");
    let cases: Vec<(String, &str, TokenRefusal)> = vec![
        (expired.payload.expose().into(), "alpha_bot", TokenRefusal::Expired),
        (revoked.payload.expose().into(), "alpha_bot", TokenRefusal::Revoked),
        (foreign_payload, "alpha_bot", TokenRefusal::WrongDeployment),
        (unknown_payload, "alpha_bot", TokenRefusal::Unknown),
        (inactive_dep.payload.expose().into(), "beta_bot", TokenRefusal::DeploymentInactive),
        // A token of a deployment on beta_bot, received by alpha_bot.
        (inactive_dep.payload.expose().into(), "alpha_bot", TokenRefusal::WrongBot),
        (good.payload.expose().into(), "beta_bot", TokenRefusal::WrongBot),
        ("cd_abc".into(), "alpha_bot", TokenRefusal::Malformed),
        (format!("cd_{}_{}", s.intro_alpha, "bad token!"), "alpha_bot", TokenRefusal::Malformed),
        (format!("cd_{}_{}", s.intro_alpha, "x".repeat(70)), "alpha_bot", TokenRefusal::Malformed),
        (format!("cd_0{}_{}", s.intro_alpha, good.token.expose()), "alpha_bot", TokenRefusal::Malformed),
        (format!("cd_99999999999_{}", good.token.expose()), "alpha_bot", TokenRefusal::Malformed),
        ("".into(), "alpha_bot", TokenRefusal::Malformed),
    ];
    let db = s.db.connect().await;
    for (payload, bot, reason) in &cases {
        assert_eq!(refusal(ops::resolve_start_payload(c, payload, bot).await), *reason, "resolve {payload} on {bot}");
        let err = ops::enrol(&db.client, payload, 7, None, bot).await.unwrap_err();
        let text = err.to_string();
        assert_eq!(err.exit_status().code(), 11, "{text}");
        assert_eq!(refusal::<()>(Err(err)), *reason, "enrol {payload} on {bot}");
        assert!(text.contains(&reason.to_string()), "{text}");
        assert!(text.contains("Nothing was changed") && text.contains(reason.hint()), "{text}");
        for t in [&expired, &revoked, &foreign, &inactive_dep, &good] {
            assert!(!text.contains(t.token.expose()), "{text}");
        }
    }
    // A bare unknown token is unknown; no bot named is a usage error.
    assert_eq!(refusal(ops::enrol(&db.client, "no-such-token-at-all-here", 7, None, "alpha_bot").await), TokenRefusal::Unknown);
    let err = ops::enrol(&db.client, good.payload.expose(), 7, None, " ").await.unwrap_err();
    assert!(matches!(err, Error::Usage { .. }), "{err}");
    assert_eq!(count(c, "SELECT count(*) FROM run", &[]).await, 0);
    assert_eq!(count(c, "SELECT coalesce(sum(current_uses), 0) FROM enrollment_token", &[]).await, 0);

    // The good token resolves to its deployment and enrols.
    let resolved = ops::resolve_start_payload(c, good.payload.expose(), "alpha_bot").await.unwrap();
    assert_eq!((resolved.deployment_id, resolved.bot_id, resolved.course_id.as_str()), (s.intro_alpha, s.alpha, "intro"));
    assert_eq!(resolved.bot_name, "alpha_bot");
    let e = ops::enrol(&db.client, good.payload.expose(), 7, Some("ann"), "alpha_bot").await.unwrap();
    assert_eq!(e.deployment_id, s.intro_alpha);
    assert_eq!(e.bot_name, "alpha_bot");
    // A bare token enrols too.
    let e2 = ops::enrol(&db.client, good.token.expose(), 8, None, "alpha_bot").await.unwrap();
    assert_eq!(e2.token_id, good.token_id);
    let uses: i32 = c.query_one("SELECT current_uses FROM enrollment_token WHERE token_id = $1", &[&good.token_id]).await.unwrap().get(0);
    assert_eq!(uses, 2);
}

#[tokio::test]
async fn enrolment_ends_the_chats_previous_run_on_that_bot_only() {
    let s = setup().await;
    let c = &s.client.client;
    let new = |dep: i32| ops::create_token(c, dep, TokenType::Public, TokenOptions::default());
    let on_alpha_intro = new(s.intro_alpha).await.unwrap();
    let on_alpha_advanced = new(s.advanced_alpha).await.unwrap();
    let on_beta = new(s.intro_beta).await.unwrap();
    let db = s.db.connect().await;
    let chat = 4242_i64;

    let first = ops::enrol(&db.client, on_alpha_intro.payload.expose(), chat, Some("bob"), "alpha_bot").await.unwrap();
    assert_eq!(first.ended_previous_run, None);
    let other_bot = ops::enrol(&db.client, on_beta.payload.expose(), chat, Some("bob"), "beta_bot").await.unwrap();
    assert_eq!(other_bot.ended_previous_run, None, "a run on another bot is not ended");
    assert_eq!(other_bot.bot_id, s.beta);
    let other_chat = ops::enrol(&db.client, on_alpha_intro.payload.expose(), chat + 1, None, "alpha_bot").await.unwrap();
    let second = ops::enrol(&db.client, on_alpha_advanced.payload.expose(), chat, Some("bob"), "alpha_bot").await.unwrap();
    assert_eq!(second.ended_previous_run, Some(first.run_id));

    let run = c
        .query_one(
            "SELECT is_active, ended_at IS NOT NULL, is_ended FROM run WHERE run_id = $1",
            &[&first.run_id],
        )
        .await
        .unwrap();
    assert!(!run.get::<_, bool>(0));
    assert!(run.get::<_, bool>(1), "ended_at is set");
    assert_eq!(run.get::<_, Option<bool>>(2), None, "the legacy is_ended is left as it was");
    for id in [other_bot.run_id, other_chat.run_id, second.run_id] {
        let active: bool = c.query_one("SELECT is_active FROM run WHERE run_id = $1", &[&id]).await.unwrap().get(0);
        assert!(active, "run {id} stays active");
    }
    // The new run carries every link, and the legacy columns the bot reads.
    let r = c
        .query_one(
            "SELECT account_id, bot_id, deployment_id, token_id, chat_id, username, botname, course_id, is_active \
               FROM run WHERE run_id = $1",
            &[&second.run_id],
        )
        .await
        .unwrap();
    assert_eq!(r.get::<_, i32>(0), 1);
    assert_eq!(r.get::<_, i32>(1), s.alpha);
    assert_eq!(r.get::<_, Option<i32>>(2), Some(s.advanced_alpha));
    assert_eq!(r.get::<_, Option<i32>>(3), Some(on_alpha_advanced.token_id));
    assert_eq!(r.get::<_, i64>(4), chat);
    assert_eq!(r.get::<_, Option<String>>(5).as_deref(), Some("bob"));
    assert_eq!(r.get::<_, Option<String>>(6).as_deref(), Some("alpha_bot"));
    assert_eq!(r.get::<_, Option<String>>(7).as_deref(), Some("advanced"));
    assert!(r.get::<_, bool>(8));
    assert_eq!(count(c, "SELECT count(*) FROM run WHERE bot_id = $1 AND chat_id = $2 AND is_active", &[&s.alpha, &chat]).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_chat_enrolled_twice_at_once_keeps_one_active_run() {
    let s = setup().await;
    let c = &s.client.client;
    let a = ops::create_token(c, s.intro_alpha, TokenType::Public, TokenOptions::default()).await.unwrap();
    let b = ops::create_token(c, s.advanced_alpha, TokenType::Public, TokenOptions::default()).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..6 {
        let payload = if i % 2 == 0 { a.payload.expose().to_string() } else { b.payload.expose().to_string() };
        let db = s.db.connect().await;
        tasks.push(tokio::spawn(async move { ops::enrol(&db.client, &payload, 77, None, "alpha_bot").await }));
    }
    for t in tasks {
        t.await.unwrap().expect("every enrolment succeeds");
    }
    assert_eq!(count(c, "SELECT count(*) FROM run WHERE chat_id = 77", &[]).await, 6);
    assert_eq!(count(c, "SELECT count(*) FROM run WHERE chat_id = 77 AND is_active", &[]).await, 1);
}

#[tokio::test]
async fn tokens_are_unique_unguessable_and_fit_a_start_payload() {
    let s = setup().await;
    let c = &s.client.client;
    // The largest deployment id gives the longest payload.
    c.batch_execute(
        "INSERT INTO course_deployment (deployment_id, course_id, account_id, bot_id, environment) \
         SELECT 2147483647, 'intro', 1, bot_id, 'test' FROM bot WHERE bot_name = 'alpha_bot'",
    )
    .await
    .unwrap();
    let mut seen = std::collections::HashSet::new();
    for i in 0..100 {
        let dep = if i % 2 == 0 { s.intro_alpha } else { 2147483647 };
        let t = ops::create_token(c, dep, TokenType::Personal, TokenOptions::default()).await.unwrap();
        let value = t.token.expose();
        assert!(value.len() >= 22, "at least 128 bits: {}", value.len());
        assert!(value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
        assert!(seen.insert(value.to_string()), "tokens are unique");
        let payload = t.payload.expose();
        assert!(payload.len() <= 64, "{}", payload.len());
        assert_eq!(payload, format!("cd_{dep}_{value}"));
        assert_eq!(t.deep_link.as_ref().unwrap().expose(), format!("https://t.me/alpha_bot?start={payload}"));
        // The enrolment function reads it back.
        let parsed = c.query_one("SELECT deployment_id, token FROM profochat_saas.start_payload($1)", &[&payload]).await.unwrap();
        assert_eq!((parsed.get::<_, i32>(0), parsed.get::<_, String>(1).as_str()), (dep, value));
        assert!(!format!("{t:?}").contains(value), "Debug never shows a token");
    }
    let stored = count(c, "SELECT count(DISTINCT token) FROM enrollment_token", &[]).await;
    assert_eq!(stored, 100);
}

#[tokio::test]
async fn token_options_are_stored_and_checked() {
    let s = setup().await;
    let c = &s.client.client;
    let t = ops::create_token(
        c,
        s.intro_alpha,
        TokenType::External,
        TokenOptions {
            max_uses: Some(3),
            expires_in: Some(ops::parse_duration("7d").unwrap()),
            created_by: Some(99),
        },
    )
    .await
    .unwrap();
    let r = c
        .query_one(
            "SELECT token_type, max_uses, current_uses, created_by, \
                    abs(extract(epoch FROM expires_at - (now() + interval '7 days'))) < 60 \
               FROM enrollment_token WHERE token_id = $1",
            &[&t.token_id],
        )
        .await
        .unwrap();
    assert_eq!(r.get::<_, String>(0), "external");
    assert_eq!(r.get::<_, Option<i32>>(1), Some(3));
    assert_eq!(r.get::<_, Option<i32>>(2), Some(0));
    assert_eq!(r.get::<_, Option<i64>>(3), Some(99));
    assert!(r.get::<_, bool>(4), "expires in 7 days");
    let err = ops::create_token(c, s.intro_alpha, TokenType::Public, TokenOptions { max_uses: Some(0), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(err.exit_status().code(), 5, "{err}");
    let err = ops::create_token(c, 999_999, TokenType::Public, TokenOptions::default()).await.unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
    c.execute("UPDATE course_deployment SET is_active = false WHERE deployment_id = $1", &[&s.intro_beta]).await.unwrap();
    let err = ops::create_token(c, s.intro_beta, TokenType::Public, TokenOptions::default()).await.unwrap_err();
    assert!(err.to_string().contains("not active"), "{err}");
}

#[tokio::test]
async fn public_tokens_for_all_deployments_is_idempotent_and_flags_guessable_tokens() {
    let mut s = setup().await;
    let c = &s.client.client;
    // What the old scripts left: a guessable token named after the deployment.
    c.execute(
        "INSERT INTO enrollment_token (deployment_id, token, token_type) VALUES ($1, 'public_' || $1::int4::text, 'public')",
        &[&s.intro_alpha],
    )
    .await
    .unwrap();
    let weak_id: i32 = c.query_one("SELECT token_id FROM enrollment_token", &[]).await.unwrap().get(0);
    let personal = ops::create_token(c, s.advanced_alpha, TokenType::Personal, TokenOptions::default()).await.unwrap();
    c.execute("UPDATE course_deployment SET is_active = false WHERE deployment_id = $1", &[&s.intro_beta]).await.unwrap();

    let first = ops::create_public_for_all(&mut s.client, TokenOptions::default()).await.unwrap();
    let mut created: Vec<i32> = first.created.iter().map(|t| t.deployment_id).collect();
    created.sort();
    assert_eq!(created, vec![s.intro_alpha, s.advanced_alpha], "a personal token is no public one");
    assert!(first.created.iter().all(|t| t.token_type == TokenType::Public));
    assert_eq!(first.weak_token_ids, vec![weak_id]);
    assert_eq!(first.skipped.len(), 1);
    assert_eq!(first.skipped[0].deployment_id, s.intro_beta);
    assert_eq!(first.skipped[0].reason, ops::SkipReason::DeploymentInactive);
    assert_ne!(first.created[0].token.expose(), personal.token.expose());

    let second = ops::create_public_for_all(&mut s.client, TokenOptions::default()).await.unwrap();
    assert!(second.created.is_empty(), "running it again creates nothing");
    assert_eq!(second.skipped.len(), 3);
    assert!(second
        .skipped
        .iter()
        .any(|k| matches!(k.reason, ops::SkipReason::HasPublicToken { .. }) && k.deployment_id == s.intro_alpha));
    let c = &s.client.client;
    assert_eq!(count(c, "SELECT count(*) FROM enrollment_token WHERE token_type = 'public'", &[]).await, 3);
    let listed = ops::list_tokens(c, Some(s.intro_alpha)).await.unwrap();
    let weak = listed.iter().find(|t| t.token_id == weak_id).unwrap();
    assert!(!weak.strong);
    assert!(listed.iter().filter(|t| t.token_id != weak_id).all(|t| t.strong && t.deep_link.is_some()));
}

#[tokio::test]
async fn deployment_for_prefers_the_active_prod_deployment() {
    let s = setup().await;
    let c = &s.client.client;
    let test = ops::create_deployment(c, "intro", BotRef::Name("alpha_bot"), 1, "test").await.unwrap();
    assert_eq!(test.environment.as_deref(), Some("test"));
    let d = ops::deployment_for(c, "intro", "alpha_bot", 1).await.unwrap().unwrap();
    assert_eq!(d.deployment_id, s.intro_alpha);
    let d = ops::deployment_for(c, "intro", s.alpha, 1).await.unwrap().unwrap();
    assert_eq!(d.deployment_id, s.intro_alpha);
    c.execute("UPDATE course_deployment SET is_active = false WHERE deployment_id = $1", &[&s.intro_alpha]).await.unwrap();
    let d = ops::deployment_for(c, "intro", "alpha_bot", 1).await.unwrap().unwrap();
    assert_eq!(d.deployment_id, test.deployment_id, "the active test deployment when prod is off");
    assert!(ops::deployment_for(c, "advanced", "beta_bot", 1).await.unwrap().is_none());
    assert!(matches!(ops::deployment_for(c, "intro", "ghost_bot", 1).await, Err(Error::NotFound { .. })));
    // Duplicates and unknown courses are clear errors.
    let err = ops::create_deployment(c, "intro", BotRef::Name("alpha_bot"), 1, "test").await.unwrap_err();
    assert!(err.to_string().contains("already deployed"), "{err}");
    let err = ops::create_deployment(c, "nope", BotRef::Name("alpha_bot"), 1, "prod").await.unwrap_err();
    assert!(matches!(err, Error::NotFound { ref kind, .. } if kind == "course"), "{err}");
    assert!(err.to_string().contains("advanced, intro"), "{err}");
}

#[tokio::test]
async fn an_account_keeps_at_least_one_owner() {
    let mut s = setup().await;
    let db = &mut s.client;
    // An account without an owner may get members of any role.
    let v = ops::add_member(db, 1, 10, Some("@viewer"), Role::Viewer).await.unwrap();
    assert_eq!(v.action, ops::MemberAction::Added);
    assert_eq!(v.member.telegram_username.as_deref(), Some("viewer"));
    ops::remove_member(db, 1, 10, ops::LastOwner::Refuse).await.unwrap();
    ops::add_member(db, 1, 1, Some("olga"), Role::Owner).await.unwrap();
    ops::add_member(db, 1, 2, None, Role::Admin).await.unwrap();
    let err = ops::add_member(db, 1, 1, None, Role::Admin).await.unwrap_err();
    assert_eq!(err.exit_status().code(), 5);
    assert!(err.to_string().contains("last active owner"), "{err}");
    let err = ops::remove_member(db, 1, 1, ops::LastOwner::Refuse).await.unwrap_err();
    assert!(err.to_string().contains("last active owner"), "{err}");
    let change = ops::add_member(db, 1, 2, None, Role::Owner).await.unwrap();
    assert_eq!(change.action, ops::MemberAction::RoleChanged);
    assert_eq!(change.previous_role.as_deref(), Some("admin"));
    let same = ops::add_member(db, 1, 2, None, Role::Owner).await.unwrap();
    assert_eq!(same.action, ops::MemberAction::Unchanged);
    // Two owners now: either may go, but not both.
    let removed = ops::remove_member(db, 1, 1, ops::LastOwner::Refuse).await.unwrap();
    assert_eq!(removed.telegram_username.as_deref(), Some("olga"));
    assert!(ops::remove_member(db, 1, 2, ops::LastOwner::Refuse).await.is_err());
    let members = ops::list_members(&db.client, 1).await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].role.as_deref(), Some("owner"));
    assert!(matches!(ops::remove_member(db, 1, 12345, ops::LastOwner::Refuse).await, Err(Error::NotFound { .. })));
    // Asked for, the last owner goes too (what `member remove --yes` does after its warning).
    let last = ops::get_member(&db.client, 1, 2).await.unwrap();
    assert!(ops::is_last_active_owner(&db.client, &last).await.unwrap());
    ops::remove_member(db, 1, 2, ops::LastOwner::Remove).await.unwrap();
    assert!(ops::list_members(&db.client, 1).await.unwrap().is_empty());
    assert!(matches!(ops::add_member(db, 77, 1, None, Role::Owner).await, Err(Error::NotFound { .. })));
}

#[tokio::test]
async fn accounts_have_unique_valid_slugs_and_counts() {
    let s = setup().await;
    let c = &s.client.client;
    let a = ops::create_account(c, "Acme School", "acme", "pro").await.unwrap();
    assert!(a.account_id > 1);
    let err = ops::create_account(c, "Other", "acme", "free").await.unwrap_err();
    assert!(err.to_string().contains("already used by account"), "{err}");
    assert!(ops::create_account(c, "Bad", "Not A Slug", "free").await.is_err());
    let list = ops::list_accounts(c).await.unwrap();
    assert_eq!(list.len(), 2);
    let default = list.iter().find(|x| x.account.account_id == 1).unwrap();
    assert_eq!((default.bots, default.courses, default.deployments), (2, 2, 3));
}

mod props {
    use profochat_saas::ops::tokens::{format_duration, parse_duration};
    use proptest::prelude::*;
    use std::time::Duration;

    proptest! {
        #[test]
        fn a_number_and_a_unit_is_that_many_seconds(n in 1u64..10_000, unit in prop::sample::select(vec![('s', 1u64), ('m', 60), ('h', 3600), ('d', 86_400), ('w', 604_800)])) {
            prop_assume!(n * unit.1 <= 100 * 365 * 86_400);
            prop_assert_eq!(parse_duration(&format!("{n}{}", unit.0)).unwrap(), Duration::from_secs(n * unit.1));
        }

        #[test]
        fn formatted_durations_parse_back(secs in 1u64..(100 * 365 * 86_400)) {
            let d = Duration::from_secs(secs);
            prop_assert_eq!(parse_duration(&format_duration(d)).unwrap(), d);
        }

        #[test]
        fn garbage_is_never_a_duration(s in "[^0-9smhdw]{1,8}") {
            prop_assert!(parse_duration(&s).is_err());
        }
    }
}
