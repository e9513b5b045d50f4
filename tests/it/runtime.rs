//! The bot keeps running (SPEC §4): after the migration every legacy runtime
//! statement still succeeds, and what it writes gets its links; rows written
//! through the new columns get their legacy bot name.

use profochat_saas::migrate;
use profochat_saas::report::Silent;

use crate::migrate::{legacy_with_anomalies, opts};

async fn one<T: for<'a> tokio_postgres::types::FromSql<'a>>(c: &profochat_saas::conn::Db, sql: &str) -> T {
    c.query_one(sql, &[]).await.unwrap_or_else(|e| panic!("{sql}: {e}")).get(0)
}

#[tokio::test]
async fn legacy_statements_succeed_and_get_their_links() {
    let (_db, mut c) = legacy_with_anomalies().await;
    migrate::migrate(&mut c, &opts(), &Silent).await.unwrap();
    let main: i32 = one(&c, "SELECT bot_id FROM bot WHERE bot_name = 'main_bot'").await;
    let second: i32 = one(&c, "SELECT bot_id FROM bot WHERE bot_name = 'second_bot'").await;

    // Start a course: the run gets account, bot, deployment; the chat's previous
    // active run on that bot ends instead of failing the unique index.
    let run_id: i32 = one(&c, "INSERT INTO run (chat_id, username, botname, course_id, utm_source, utm_campaign) VALUES (100, 'alice', 'main_bot', 'intro', 'ads', 'x') RETURNING run_id").await;
    let row = c.query_one("SELECT account_id, bot_id, deployment_id, is_active FROM run WHERE run_id = $1", &[&run_id]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 1);
    assert_eq!(row.get::<_, i32>(1), main);
    let dep: i32 = row.get(2);
    assert_eq!(one::<String>(&c, &format!("SELECT course_id FROM course_deployment WHERE deployment_id = {dep} AND bot_id = {main}")).await, "intro");
    assert!(row.get::<_, bool>(3));
    assert_eq!(one::<i64>(&c, &format!("SELECT count(*) FROM run WHERE chat_id = 100 AND bot_id = {main} AND is_active")).await, 1);
    assert!(!one::<bool>(&c, "SELECT is_active FROM run WHERE run_id = 3").await, "the previous active run ended");
    assert!(one::<bool>(&c, "SELECT ended_at IS NOT NULL FROM run WHERE run_id = 3").await);

    // A run without a bot name (the single-bot era): the default bot.
    let r2: i32 = one(&c, "INSERT INTO run (chat_id, username, botname, course_id, utm_source, utm_campaign) VALUES (400, 'x', NULL, 'intro', NULL, NULL) RETURNING run_id").await;
    assert_eq!(one::<i32>(&c, &format!("SELECT bot_id FROM run WHERE run_id = {r2}")).await, main);
    // A run on a renamed course copy goes to that bot's copy; a new bot and a YAML course appear.
    let r3: i32 = one(&c, "INSERT INTO run (chat_id, username, botname, course_id, utm_source, utm_campaign) VALUES (105, 'eve', 'main_bot', 'diverged', NULL, NULL) RETURNING run_id").await;
    assert_eq!(one::<String>(&c, &format!("SELECT d.course_id FROM run r JOIN course_deployment d USING (deployment_id) WHERE r.run_id = {r3}")).await, "diverged__main_bot");
    let r4: i32 = one(&c, "INSERT INTO run (chat_id, username, botname, course_id, utm_source, utm_campaign) VALUES (7, 'n', 'brand_new_bot', 'new_yaml', NULL, NULL) RETURNING run_id").await;
    assert!(one::<bool>(&c, &format!("SELECT deployment_id IS NOT NULL AND bot_id IS NOT NULL FROM run WHERE run_id = {r4}")).await);
    assert!(one::<bool>(&c, "SELECT bot_token LIKE 'profochat-saas-placeholder-%' FROM bot WHERE bot_name = 'brand_new_bot'").await);

    // Every message.
    c.execute(
        "INSERT INTO conversation (chat_id, username, course_id, element_id, element_type, role, json, report, score, maxscore, run_id) VALUES (105, 'eve', 'diverged', 'd1', 'message', 'user', '{}', NULL, 1, 2, $1)",
        &[&r3],
    )
    .await
    .unwrap();
    assert_eq!(one::<String>(&c, "SELECT course_id || '/' || account_id FROM conversation ORDER BY conversation_id DESC LIMIT 1").await, "diverged__main_bot/1");

    // A delay element, then its update.
    let w: i32 = one(&c, "INSERT INTO waiting_element (chat_id, waiting_till_date, is_waiting, element_id, course_id, botname) VALUES (105, now(), true, 'd1', 'diverged', 'main_bot') RETURNING waiting_element_id").await;
    let row = c.query_one("SELECT bot_id, run_id, course_id, created_at IS NOT NULL FROM waiting_element WHERE waiting_element_id = $1", &[&w]).await.unwrap();
    assert_eq!(
        (row.get::<_, i32>(0), row.get::<_, Option<i32>>(1), row.get::<_, String>(2), row.get::<_, bool>(3)),
        (main, Some(r3), "diverged__main_bot".to_string(), true)
    );
    let _ = second;
    assert_eq!(c.execute("UPDATE waiting_element SET is_waiting = false WHERE waiting_element_id = $1", &[&w]).await.unwrap(), 1);

    // Course end.
    c.execute("UPDATE run SET is_ended = true WHERE run_id = $1", &[&run_id]).await.unwrap();
    assert!(one::<bool>(&c, &format!("SELECT NOT is_active AND ended_at IS NOT NULL FROM run WHERE run_id = {run_id}")).await);

    // Auto-ban, twice (the second is the same ban and is not written again).
    for _ in 0..2 {
        c.execute("INSERT INTO bannedparticipants (botname, chat_id, ban_reason, excluded) VALUES ('main_bot', 600, 'spam', 0)", &[]).await.unwrap();
    }
    assert_eq!(one::<i64>(&c, &format!("SELECT count(*) FROM bannedparticipants WHERE chat_id = 600 AND bot_id = {main}")).await, 1);

    // Course publishing: delete then insert the course and its elements, for a plain
    // course, a renamed copy and a merged (shared) copy.
    for (course, bot, yaml) in [("intro", "main_bot", "v2"), ("diverged", "main_bot", "v3"), ("shared", "second_bot", "v2")] {
        let tx = c.transaction().await.unwrap();
        tx.execute("DELETE FROM course WHERE course_id = $1 AND bot_name = $2", &[&course, &bot]).await.unwrap();
        tx.execute("DELETE FROM course_element WHERE course_id = $1 AND bot_name = $2", &[&course, &bot]).await.unwrap();
        tx.execute("INSERT INTO course (course_id, bot_name, creator_id, yaml) VALUES ($1, $2, 5, $3)", &[&course, &bot, &yaml]).await.unwrap();
        tx.execute(
            "INSERT INTO course_element (element_id, json, element_type, course_id, bot_name) VALUES ('e', '{}', 'message', $1, $2)",
            &[&course, &bot],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    assert_eq!(one::<String>(&c, "SELECT yaml FROM course WHERE course_id = 'intro'").await, "v2");
    assert_eq!(one::<i64>(&c, "SELECT count(*) FROM course_element WHERE course_id = 'intro'").await, 1);
    assert_eq!(one::<String>(&c, "SELECT yaml FROM course WHERE course_id = 'diverged__main_bot'").await, "v3");
    assert_eq!(one::<i64>(&c, "SELECT count(*) FROM course_element WHERE course_id = 'diverged__main_bot'").await, 1);
    assert_eq!(one::<String>(&c, "SELECT yaml FROM course WHERE course_id = 'diverged'").await, "name: diverged v2", "the other bot's copy is untouched");
    // The shared course stays as it was for the other bots; second_bot got its own copy.
    assert_eq!(one::<String>(&c, "SELECT yaml FROM course WHERE course_id = 'shared'").await, "name: shared");
    let own: String = one(&c, &format!("SELECT d.course_id FROM course_deployment d WHERE d.bot_id = {second} AND d.course_id LIKE 'shared%'")).await;
    assert_ne!(own, "shared");
    assert_eq!(one::<String>(&c, &format!("SELECT yaml FROM course WHERE course_id = '{own}'")).await, "v2");

    // Settings.
    c.execute("INSERT INTO gen_settings (id, bot_name, s_key, s_value) VALUES (50, 'second_bot', 'k', 'v')", &[]).await.unwrap();
    assert_eq!(one::<i32>(&c, "SELECT bot_id FROM gen_settings WHERE id = 50").await, second);
}

#[tokio::test]
async fn rows_written_through_the_new_columns_are_the_applications_own() {
    let (_db, mut c) = legacy_with_anomalies().await;
    migrate::migrate(&mut c, &opts(), &Silent).await.unwrap();
    let second: i32 = one(&c, "SELECT bot_id FROM bot WHERE bot_name = 'second_bot'").await;
    let dep: i32 = one(&c, &format!("SELECT deployment_id FROM course_deployment WHERE bot_id = {second} AND course_id = 'курс «один»'")).await;
    let bots: i64 = one(&c, "SELECT count(*) FROM bot").await;
    let run: i32 = c
        .query_one(
            "INSERT INTO run (chat_id, username, account_id, bot_id, deployment_id, course_id) VALUES (900, 'new', 1, $1, $2, 'курс «один»') RETURNING run_id",
            &[&second, &dep],
        )
        .await
        .unwrap()
        .get(0);
    // Nothing is filled in or changed: the row is exactly what the application wrote.
    let row = c.query_one("SELECT botname, course_id, deployment_id, is_active FROM run WHERE run_id = $1", &[&run]).await.unwrap();
    assert_eq!(row.get::<_, Option<String>>(0), None);
    assert_eq!(row.get::<_, String>(1), "курс «один»");
    assert_eq!(row.get::<_, i32>(2), dep);
    assert!(row.get::<_, bool>(3));
    c.execute("INSERT INTO bannedparticipants (account_id, bot_id, chat_id, excluded) VALUES (1, $1, 901, 0)", &[&second]).await.unwrap();
    assert_eq!(one::<Option<String>>(&c, "SELECT botname FROM bannedparticipants WHERE chat_id = 901").await, None);
    c.execute("INSERT INTO waiting_element (account_id, bot_id, chat_id, is_waiting, course_id) VALUES (1, $1, 900, true, 'diverged')", &[&second]).await.unwrap();
    let row = c.query_one("SELECT botname, course_id, run_id FROM waiting_element WHERE chat_id = 900", &[]).await.unwrap();
    assert_eq!(row.get::<_, Option<String>>(0), None);
    assert_eq!(row.get::<_, String>(1), "diverged", "no renamed copy is substituted");
    assert_eq!(row.get::<_, Option<i32>>(2), None, "no run is linked for it");
    assert_eq!(one::<i64>(&c, "SELECT count(*) FROM bot").await, bots, "no bot created");
}

/// The legacy bot's way in: the URL the next steps print, and its role's search_path.
#[tokio::test]
async fn the_legacy_bot_connects_by_the_printed_url_or_by_its_role() {
    let (db, c) = legacy_with_anomalies().await;
    let role = format!("pcs_legacy_bot_{}_{}", std::process::id(), rand::random::<u32>());
    c.batch_execute(&format!(
        "CREATE ROLE {role} LOGIN; GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role};
         GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role};"
    ))
    .await
    .unwrap();
    let out = crate::harness::cli()
        .args(["migrate", "--database-url", &db.url(), "--yes", "--skip-backup", "--default-bot", "main_bot", "--legacy-role", &role])
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    let url = stdout
        .split_whitespace()
        .find(|w| w.contains("options=-c%20search_path%3Dprofochat_legacy%2Cpublic"))
        .unwrap_or_else(|| panic!("no legacy URL in the next steps: {stdout}"))
        .to_string();
    assert!(stdout.contains(&format!("Role {role:?} now finds the legacy interface first")), "{stdout}");

    // By the URL: the legacy bot reads its renamed course under its old id.
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap_or_else(|e| panic!("{url}: {e}"));
    tokio::spawn(conn);
    let yaml: String = client
        .query_one("SELECT yaml FROM course WHERE course_id = 'diverged' AND bot_name = 'main_bot' LIMIT 1", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(yaml, "name: diverged v1");

    // By its role: the same, and its writes go through.
    let mut as_role = db.settings.clone();
    as_role.user = role.clone();
    as_role.password = None;
    // (The tool's own sessions leave the legacy interface out of their search_path.)
    let tool = profochat_saas::conn::connect(&as_role).await.unwrap();
    assert_eq!(one::<String>(&tool, "SHOW search_path").await, "public");
    // Its rights moved to the legacy interface: the public table is closed to it.
    let e = tool.query_one("SELECT count(*) FROM course WHERE course_id = 'diverged'", &[]).await.expect_err("no right on public.course");
    assert_eq!(e.code().map(|c| c.code()), Some("42501"), "{e}");
    drop(tool);
    let (raw, conn) = tokio_postgres::connect(&as_role.secret_url(), tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    let bot = profochat_saas::conn::Db { client: raw, settings: as_role.clone(), tls: false };
    assert_eq!(one::<String>(&bot, "SHOW search_path").await, "profochat_legacy, public");
    assert_eq!(one::<i64>(&bot, "SELECT count(*) FROM course WHERE course_id = 'diverged'").await, 2);
    let run: i32 = one(&bot, "INSERT INTO run (course_id, username, chat_id, botname, utm_source, utm_campaign) VALUES ('diverged', 'r', 4242, 'main_bot', NULL, NULL) RETURNING run_id").await;
    assert_eq!(one::<String>(&bot, &format!("SELECT course_id FROM run WHERE run_id = {run}")).await, "diverged");
    assert_eq!(one::<String>(&c, &format!("SELECT course_id FROM run WHERE run_id = {run}")).await, "diverged__main_bot");
    drop(bot);

    let out = crate::harness::cli().args(["status", "--database-url", &db.url()]).assert().success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(stdout.contains("Legacy interface: in place"), "{stdout}");
    assert!(stdout.contains(&role), "{stdout}");

    // Rollback sets the role back.
    crate::harness::cli().args(["rollback", "--database-url", &db.url(), "--yes"]).assert().success();
    let settings: i64 = one(
        &c,
        &format!("SELECT count(*) FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole WHERE r.rolname = '{role}'"),
    )
    .await;
    assert_eq!(settings, 0, "the role's search_path is reset");
    c.batch_execute(&format!("DROP OWNED BY {role}")).await.unwrap();
    drop(c);
    let admin = profochat_saas::conn::connect(&crate::harness::admin()).await.unwrap();
    admin.batch_execute(&format!("DROP ROLE {role}")).await.unwrap();
}

#[tokio::test]
async fn legacy_role_refuses_a_role_that_does_not_exist_and_a_legacy_database() {
    let (db, c) = legacy_with_anomalies().await;
    let out = crate::harness::cli().args(["legacy-role", "nobody_here", "--database-url", &db.url(), "--yes"]).assert().code(4);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(stderr.contains("no legacy interface"), "{stderr}");
    migrate::migrate(&mut profochat_saas::conn::connect(&db.settings).await.unwrap(), &opts(), &Silent).await.unwrap();
    let out = crate::harness::cli().args(["legacy-role", "nobody_here", "--database-url", &db.url(), "--yes"]).assert().code(10);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(stderr.contains("role nobody_here does not exist"), "{stderr}");
    assert_eq!(one::<i64>(&c, "SELECT count(*) FROM profochat_saas.legacy_role").await, 0);
}
