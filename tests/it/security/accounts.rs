//! Another account: its rows out of reach of a leaky function and of the interface's
//! writes, enrolment that names nothing of it, its same-named courses; and the write
//! note's setting.

use super::*;

/// Rows of account 2 in every table the legacy interface shows, each carrying `SECRET2`
/// (or chat id 777002) in its text columns; a same-named bot `main_bot` in account 2.
const ACCOUNT_2: &str = "
INSERT INTO account (account_id, name, slug) VALUES (2, 'Other SECRET2', 'other-secret2');
INSERT INTO bot (account_id, bot_name, bot_token, display_name) VALUES
    (2, 'main_bot', 'SECRET2-token-main', 'SECRET2 main'),
    (2, 'SECRET2_bot', 'SECRET2-token-own', 'SECRET2 own');
INSERT INTO course (course_id, bot_name, account_id, creator_id, yaml, title) VALUES
    ('SECRET2_course', 'SECRET2_bot', 2, 777002, 'SECRET2 yaml', 'SECRET2'),
    ('future_course', 'main_bot', 2, 777002, 'SECRET2 future', 'SECRET2 future');
INSERT INTO course_element (element_id, json, element_type, course_id, bot_name, account_id) VALUES
    ('SECRET2_e', 'SECRET2 json', 'SECRET2', 'SECRET2_course', 'SECRET2_bot', 2),
    ('f1', 'SECRET2 future json', 'message', 'future_course', 'main_bot', 2);
INSERT INTO course_deployment (course_id, account_id, bot_id) VALUES
    ('SECRET2_course', 2, (SELECT bot_id FROM bot WHERE account_id = 2 AND bot_name = 'SECRET2_bot')),
    ('future_course', 2, (SELECT bot_id FROM bot WHERE account_id = 2 AND bot_name = 'main_bot'));
INSERT INTO run (chat_id, username, botname, course_id, account_id, bot_id, deployment_id, is_active) VALUES
    (777002, 'SECRET2_user', 'SECRET2_bot', 'SECRET2_course', 2, (SELECT bot_id FROM bot WHERE account_id = 2 AND bot_name = 'SECRET2_bot'),
     (SELECT deployment_id FROM course_deployment WHERE account_id = 2 AND course_id = 'SECRET2_course'), true);
INSERT INTO conversation (chat_id, username, course_id, element_id, element_type, role, json, report, run_id, account_id) VALUES
    (777002, 'SECRET2_user', 'SECRET2_course', 'SECRET2_e', 'SECRET2', 'user', 'SECRET2 message', 'SECRET2',
     (SELECT run_id FROM run WHERE chat_id = 777002), 2);
INSERT INTO waiting_element (chat_id, waiting_till_date, is_waiting, element_id, course_id, botname, account_id, bot_id, run_id) VALUES
    (777002, now(), true, 'SECRET2_e', 'SECRET2_course', 'SECRET2_bot', 2, (SELECT bot_id FROM bot WHERE account_id = 2 AND bot_name = 'SECRET2_bot'),
     (SELECT run_id FROM run WHERE chat_id = 777002));
INSERT INTO courseparticipants (course_id, username, account_id, chat_id) VALUES ('SECRET2_course', 'SECRET2_user', 2, 777002);
INSERT INTO bannedparticipants (botname, chat_id, ban_reason, account_id, bot_id) VALUES
    ('SECRET2_bot', 777002, 'SECRET2', 2, (SELECT bot_id FROM bot WHERE account_id = 2 AND bot_name = 'SECRET2_bot'));
INSERT INTO gen_settings (id, bot_name, s_key, s_value, account_id, bot_id) VALUES
    (777002, 'SECRET2_bot', 'allowed', 'SECRET2', 2, (SELECT bot_id FROM bot WHERE account_id = 2 AND bot_name = 'SECRET2_bot'));
";

#[tokio::test]
async fn a_leaky_function_reads_no_row_of_another_account_through_the_legacy_views() {
    let (db, c) = migrated().await;
    c.batch_execute(ACCOUNT_2).await.expect("account 2");
    let reader = Role::create(
        &db,
        &c,
        "leak",
        &["GRANT USAGE ON SCHEMA profochat_legacy TO {role}", "GRANT SELECT ON ALL TABLES IN SCHEMA profochat_legacy TO {role}"],
    )
    .await;
    let columns: Vec<(String, String)> = c
        .query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns
              WHERE table_schema = 'profochat_legacy' ORDER BY table_name, ordinal_position",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let views: std::collections::BTreeSet<&str> = columns.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(views.len(), 8, "{views:?}");
    let mut leaked = vec![];
    for view in views {
        let mut sql = String::from(
            "CREATE FUNCTION pg_temp.leak(text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 IMMUTABLE AS \
             $$BEGIN RAISE NOTICE 'leak: %', $1; RETURN true; END$$;",
        );
        for (_, col) in columns.iter().filter(|(t, _)| t == view) {
            sql.push_str(&format!(" SELECT count(*) FROM profochat_legacy.{} WHERE pg_temp.leak({}::text);", ident(view), ident(col)));
        }
        let (ok, _, err) = psql_as(&reader, &sql);
        assert!(ok, "{view}: {err}");
        assert!(err.contains("leak: "), "the function ran at all on {view}: {err}");
        if err.contains("SECRET2") || err.contains("777002") {
            leaked.push(format!("{view}: {}", err.lines().filter(|l| l.contains("SECRET2") || l.contains("777002")).collect::<Vec<_>>().join(" | ")));
        }
    }
    assert!(leaked.is_empty(), "account 2's rows leaked: {leaked:#?}");
}

#[tokio::test]
async fn another_accounts_ids_in_the_interfaces_writes_change_nothing_of_it() {
    let (db, c) = migrated().await;
    c.batch_execute(ACCOUNT_2).await.expect("account 2");
    let iface = Role::create(
        &db,
        &c,
        "ids",
        &[
            "GRANT USAGE ON SCHEMA profochat_legacy TO {role}",
            "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA profochat_legacy TO {role}",
            "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}",
        ],
    )
    .await;
    let run2 = one_i64(&c, "SELECT run_id::int8 FROM run WHERE chat_id = 777002").await;
    let conv2 = one_i64(&c, "SELECT conversation_id::int8 FROM conversation WHERE chat_id = 777002").await;
    let wait2 = one_i64(&c, "SELECT waiting_element_id::int8 FROM waiting_element WHERE chat_id = 777002").await;
    let elem2 = one_i64(&c, "SELECT course_element_id FROM course_element WHERE element_id = 'SECRET2_e'").await;
    let before = one_i64(&c, "SELECT hashtext(string_agg(t::text, '|' ORDER BY t::text))::int8 FROM (
                                 SELECT r::text AS t FROM run r WHERE account_id = 2 UNION ALL SELECT x::text FROM conversation x WHERE account_id = 2
                                 UNION ALL SELECT w::text FROM waiting_element w WHERE account_id = 2 UNION ALL SELECT e::text FROM course_element e WHERE account_id = 2
                                 UNION ALL SELECT k::text FROM course k WHERE account_id = 2 UNION ALL SELECT g::text FROM gen_settings g WHERE account_id = 2
                                 UNION ALL SELECT b::text FROM bannedparticipants b WHERE account_id = 2 UNION ALL SELECT p::text FROM courseparticipants p WHERE account_id = 2) s").await;

    let b = iface.connect().await;
    b.batch_execute("SET search_path = profochat_legacy, public").await.unwrap();
    // A message naming account 2's run: kept as the legacy schema would keep it (no
    // foreign key there), never attached to that run.
    let conv: i32 = b
        .query_one(
            &format!("INSERT INTO conversation (chat_id, course_id, username, element_id, element_type, run_id, json, role, report, score, maxscore)
                      VALUES (9200, 'intro', 'mallory', 'e1', 'message', {run2}, '{{}}', 'user', NULL, 1, 1) RETURNING conversation_id"),
            &[],
        )
        .await
        .expect("insert")
        .get(0);
    let shown: Option<i32> = b.query_one(&format!("SELECT run_id FROM conversation WHERE conversation_id = {conv}"), &[]).await.unwrap().get(0);
    assert_eq!(shown.map(i64::from), Some(run2), "the interface shows the run_id as written");
    // An existing message moved to account 2's run by an update.
    let conv1: i32 = b.query_one("SELECT conversation_id FROM conversation ORDER BY conversation_id LIMIT 1", &[]).await.unwrap().get(0);
    b.batch_execute(&format!("UPDATE conversation SET run_id = {run2} WHERE conversation_id = {conv1}")).await.expect("update");
    let counts = [
        (format!("UPDATE run SET is_ended = TRUE WHERE run_id = {run2}"), 0),
        (format!("UPDATE run SET is_ended = TRUE WHERE chat_id = 777002 AND botname = 'SECRET2_bot'"), 0),
        (format!("DELETE FROM run WHERE run_id = {run2}"), 0),
        (format!("UPDATE conversation SET json = 'x' WHERE conversation_id = {conv2}"), 0),
        (format!("DELETE FROM conversation WHERE conversation_id = {conv2}"), 0),
        (format!("UPDATE waiting_element SET is_waiting = FALSE WHERE waiting_element_id = {wait2}"), 0),
        (format!("DELETE FROM waiting_element WHERE waiting_element_id = {wait2}"), 0),
        (format!("UPDATE course_element SET json = 'x' WHERE course_element_id = {elem2}"), 0),
        (format!("DELETE FROM course_element WHERE course_element_id = {elem2}"), 0),
        ("UPDATE course SET yaml = 'x' WHERE course_id = 'SECRET2_course'".to_string(), 0),
        ("DELETE FROM course WHERE course_id = 'SECRET2_course'".to_string(), 0),
        ("UPDATE gen_settings SET s_value = 'x' WHERE bot_name = 'SECRET2_bot'".to_string(), 0),
        ("DELETE FROM bannedparticipants WHERE chat_id = 777002".to_string(), 0),
        ("DELETE FROM courseparticipants WHERE course_id = 'SECRET2_course'".to_string(), 0),
    ];
    for (sql, expected) in counts {
        let n = b.execute(sql.as_str(), &[]).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert_eq!(n, expected, "{sql}");
    }
    drop(b);
    let attached = one_i64(&c, &format!("SELECT count(*) FROM conversation WHERE run_id = {run2} AND account_id = 1")).await;
    assert_eq!(attached, 0, "no account-1 message is attached to account 2's run");
    let after = one_i64(&c, "SELECT hashtext(string_agg(t::text, '|' ORDER BY t::text))::int8 FROM (
                                 SELECT r::text AS t FROM run r WHERE account_id = 2 UNION ALL SELECT x::text FROM conversation x WHERE account_id = 2
                                 UNION ALL SELECT w::text FROM waiting_element w WHERE account_id = 2 UNION ALL SELECT e::text FROM course_element e WHERE account_id = 2
                                 UNION ALL SELECT k::text FROM course k WHERE account_id = 2 UNION ALL SELECT g::text FROM gen_settings g WHERE account_id = 2
                                 UNION ALL SELECT b::text FROM bannedparticipants b WHERE account_id = 2 UNION ALL SELECT p::text FROM courseparticipants p WHERE account_id = 2) s").await;
    assert_eq!(before, after, "account 2's rows are as they were");

    // The same message written to the public tables by a bot that has not switched.
    c.batch_execute(&format!(
        "INSERT INTO conversation (chat_id, course_id, username, element_id, element_type, run_id, json, role) VALUES (9201, 'intro', 'm', 'e1', 'message', {run2}, '{{}}', 'user')"
    ))
    .await
    .unwrap();
    assert_eq!(one_i64(&c, &format!("SELECT count(*) FROM conversation WHERE run_id = {run2} AND account_id = 1")).await, 0);
    c.batch_execute("SET search_path = profochat_legacy, public").await.unwrap();
    assert_eq!(one_i64(&c, &format!("SELECT count(*) FROM conversation WHERE chat_id = 9201 AND run_id = {run2}")).await, 1);
}

async fn sql_error(c: &Db, sql: &str, params: &[&(dyn tokio_postgres::types::ToSql + Sync)]) -> (String, String) {
    match c.query(sql, params).await {
        Ok(r) => panic!("{sql} was not refused: {} rows", r.len()),
        Err(e) => {
            let db = e.as_db_error().expect("a server error");
            (db.code().code().to_string(), format!("{} {}", db.message(), db.hint().unwrap_or("")))
        }
    }
}

#[tokio::test]
async fn enrol_identifies_the_bot_exactly_and_names_nothing_of_another_account() {
    let (_db, c) = migrated().await;
    c.batch_execute(ACCOUNT_2).await.expect("account 2");
    let main1: i32 = c.query_one("SELECT bot_id FROM bot WHERE account_id = 1 AND bot_name = 'main_bot'", &[]).await.unwrap().get(0);
    let dep1 = ops::deployment_for(&c.client, "intro", "main_bot", 1).await.unwrap().expect("intro on main_bot");
    let t1 = ops::create_token(&c.client, dep1.deployment_id, TokenType::Public, TokenOptions::default()).await.unwrap();
    let dep2: i32 = c.query_one("SELECT deployment_id FROM course_deployment WHERE account_id = 2 AND course_id = 'future_course'", &[]).await.unwrap().get(0);
    let own2: i32 = c.query_one("SELECT deployment_id FROM course_deployment WHERE account_id = 2 AND course_id = 'SECRET2_course'", &[]).await.unwrap().get(0);
    let t2 = ops::create_token(&c.client, dep2, TokenType::Public, TokenOptions::default()).await.unwrap();
    let t2own = ops::create_token(&c.client, own2, TokenType::Public, TokenOptions::default()).await.unwrap();
    let secrets = |t: &ops::CreatedToken| vec![t.token.expose().to_string(), format!("#{}", t.token_id)];
    let mut foreign: Vec<String> = vec!["SECRET2".into(), "future_course".into(), format!("deployment {dep2}"), format!("deployment {own2}")];
    foreign.extend(secrets(&t2));
    foreign.extend(secrets(&t2own));
    let clean = |m: &str| {
        for f in &foreign {
            assert!(!m.contains(f.as_str()), "the refusal names another account's {f:?}: {m}");
        }
    };

    // The name names a bot of each account: refused whatever the token, nothing written.
    for t in [&t1, &t2] {
        let (code, m) = sql_error(&c, "SELECT * FROM profochat_saas.enrol($1, 5, 'u', 'main_bot')", &[&t.payload.expose()]).await;
        assert_eq!(code, "PC010", "{m}");
        assert!(m.contains("bot_id"), "the refusal says to pass bot_id: {m}");
        clean(&m);
        let (code, _) = sql_error(&c, "SELECT * FROM profochat_saas.enrolment_token($1, 'main_bot')", &[&t.payload.expose()]).await;
        assert_eq!(code, "PC010");
    }
    assert_eq!(one_i64(&c, "SELECT count(*) FROM run WHERE chat_id = 5").await, 0);
    // By bot_id: exactly that bot.
    let r = c
        .query_one("SELECT run_id, account_id, bot_id, deployment_id FROM profochat_saas.enrol($1, 5, 'u', $2::int4)", &[&t1.payload.expose(), &main1])
        .await
        .expect("enrol by bot_id");
    assert_eq!((r.get::<_, i32>(1), r.get::<_, i32>(2), r.get::<_, i32>(3)), (1, main1, dep1.deployment_id));
    let r = c.query_one("SELECT bot_id FROM profochat_saas.enrolment_token($1, $2::int4)", &[&t1.payload.expose(), &main1]).await.unwrap();
    assert_eq!(r.get::<_, i32>(0), main1);
    // Account 2's tokens received by account 1's bot: refused, naming none of account 2's objects.
    for t in [&t2, &t2own] {
        let (code, m) = sql_error(&c, "SELECT * FROM profochat_saas.enrol($1, 6, 'u', $2::int4)", &[&t.payload.expose(), &main1]).await;
        assert_eq!(code, "PC006", "{m}");
        clean(&m);
    }
    // Account 2's own token through a bot name that only account 1 has.
    let (code, m) = sql_error(&c, "SELECT * FROM profochat_saas.enrol($1, 6, 'u', 'second_bot')", &[&t2own.payload.expose()]).await;
    assert_eq!(code, "PC006", "{m}");
    clean(&m);
    // A payload naming account 2's deployment with account 1's token: refused without naming it.
    let (code, m) = sql_error(
        &c,
        "SELECT * FROM profochat_saas.enrol($1, 6, 'u', $2::int4)",
        &[&format!("cd_{own2}_{}", t1.token.expose()), &main1],
    )
    .await;
    assert_eq!(code, "PC007", "{m}");
    assert_eq!(one_i64(&c, "SELECT count(*) FROM run WHERE chat_id = 6").await, 0);

    // Under the legacy bot's search_path, by bot_id and by a unique name.
    c.batch_execute("SET search_path = profochat_legacy, public").await.unwrap();
    let r = c
        .query_one("SELECT account_id, bot_id FROM profochat_saas.enrol($1, 7, 'u', $2::int4)", &[&t1.payload.expose(), &main1])
        .await
        .expect("enrol under the legacy search_path");
    assert_eq!((r.get::<_, i32>(0), r.get::<_, i32>(1)), (1, main1));
    let dep_second = ops::deployment_for(&c.client, "diverged", "second_bot", 1).await.unwrap().expect("diverged on second_bot");
    let ts = ops::create_token(&c.client, dep_second.deployment_id, TokenType::Public, TokenOptions::default()).await.unwrap();
    let r = c
        .query_one("SELECT account_id, bot_name FROM profochat_saas.enrol($1, 8, 'u', 'second_bot')", &[&ts.payload.expose()])
        .await
        .expect("enrol by a unique name under the legacy search_path");
    assert_eq!((r.get::<_, i32>(0), r.get::<_, String>(1)), (1, "second_bot".to_string()));
    // The library calls the same function.
    let e = ops::enrol_bot_id(&c.client, t1.payload.expose(), 9, Some("u"), main1).await.expect("library enrol by bot_id");
    assert_eq!((e.account_id, e.bot_id), (1, main1));
    let refused = ops::enrol(&c.client, t1.payload.expose(), 10, Some("u"), "main_bot").await.expect_err("ambiguous name");
    assert!(!format!("{refused}").contains("SECRET2"), "{refused}");
}

#[tokio::test]
async fn a_same_named_course_of_another_account_changes_nothing_of_the_legacy_bots_start_and_publish() {
    let (_db, c) = migrated().await;
    c.batch_execute(ACCOUNT_2).await.expect("account 2");
    let main1 = "(SELECT bot_id FROM bot WHERE account_id = 1 AND bot_name = 'main_bot')";
    let acct2 = "SELECT string_agg(t, '|' ORDER BY t) FROM (SELECT k::text AS t FROM course k WHERE account_id = 2
                 UNION ALL SELECT e::text FROM course_element e WHERE account_id = 2 UNION ALL SELECT d::text FROM course_deployment d WHERE account_id = 2) s";
    let before: String = c.query_one(acct2, &[]).await.unwrap().get(0);

    // A bot that has not switched: /start of future_course through the public tables.
    c.batch_execute("INSERT INTO run (course_id, username, chat_id, botname) VALUES ('future_course', 'u', 9300, 'main_bot')")
        .await
        .expect("/start through the public tables");
    // The switched bot: /start, then publish, then its reads.
    c.batch_execute("SET search_path = profochat_legacy, public").await.unwrap();
    let run: i32 = c
        .query_one("INSERT INTO run (course_id, username, chat_id, botname, utm_source, utm_campaign) VALUES ('future_course', 'u', 9301, 'main_bot', NULL, NULL) RETURNING run_id", &[])
        .await
        .expect("/start through the interface")
        .get(0);
    let rows: Vec<(Option<String>, Option<String>)> = c
        .query("SELECT course_id, botname FROM run WHERE chat_id IN (9300, 9301) ORDER BY chat_id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(rows, vec![(Some("future_course".into()), Some("main_bot".into())); 2]);
    c.batch_execute(
        "DELETE FROM course_element WHERE course_id = 'future_course' AND bot_name = 'main_bot';
         DELETE FROM course WHERE course_id = 'future_course' AND bot_name = 'main_bot';
         INSERT INTO course (course_id, bot_name, creator_id, yaml) VALUES ('future_course', 'main_bot', 1, 'name: future');",
    )
    .await
    .expect("publish through the interface");
    for el in ["f1", "f2"] {
        c.query_one(
            &format!("INSERT INTO course_element (bot_name, course_id, element_id, json, element_type) VALUES ('main_bot', 'future_course', '{el}', '{{}}', 'message') RETURNING course_element_id"),
            &[],
        )
        .await
        .expect("publish an element");
    }
    let courses: Vec<String> = c.query("SELECT course_id FROM course WHERE bot_name = 'main_bot' AND course_id = 'future_course'", &[]).await.unwrap().iter().map(|r| r.get(0)).collect();
    assert_eq!(courses, vec!["future_course".to_string()]);
    let yaml: String = c.query_one("SELECT yaml FROM course WHERE course_id = 'future_course' AND bot_name = 'main_bot' LIMIT 1", &[]).await.unwrap().get(0);
    assert_eq!(yaml, "name: future");
    let elems: Vec<(String, String)> = c
        .query("SELECT element_id, json FROM course_element WHERE course_id = 'future_course' AND bot_name = 'main_bot' ORDER BY course_element_id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(elems, vec![("f1".to_string(), "{}".to_string()), ("f2".to_string(), "{}".to_string())]);
    let found: i32 = c
        .query_one("SELECT run_id FROM run WHERE chat_id = 9301 AND course_id = 'future_course' ORDER BY date_inserted DESC LIMIT 1", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(found, run);
    // Published again, as the legacy bot does on every edit.
    c.batch_execute(
        "DELETE FROM course_element WHERE course_id = 'future_course' AND bot_name = 'main_bot';
         DELETE FROM course WHERE course_id = 'future_course' AND bot_name = 'main_bot';
         INSERT INTO course (course_id, bot_name, creator_id, yaml) VALUES ('future_course', 'main_bot', 1, 'name: future 2');",
    )
    .await
    .expect("publish again");
    let yaml: String = c.query_one("SELECT yaml FROM course WHERE course_id = 'future_course' AND bot_name = 'main_bot' LIMIT 1", &[]).await.unwrap().get(0);
    assert_eq!(yaml, "name: future 2");
    assert_eq!(one_i64(&c, "SELECT count(*) FROM course_element WHERE course_id = 'future_course' AND bot_name = 'main_bot'").await, 0);

    c.batch_execute("SET search_path = public").await.unwrap();
    // Both runs are account 1's, on main_bot, on a deployment of an account-1 course.
    assert!(
        one_bool(&c, &format!(
            "SELECT count(*) = 2 AND bool_and(r.account_id = 1 AND r.bot_id = {main1} AND d.account_id = 1 AND d.bot_id = {main1}
                                              AND d.course_id = r.course_id AND k.account_id = 1)
               FROM run r JOIN course_deployment d ON d.deployment_id = r.deployment_id
               JOIN course k ON k.course_id = d.course_id AND k.account_id = 1
              WHERE r.chat_id IN (9300, 9301)"
        ))
        .await
    );
    let after: String = c.query_one(acct2, &[]).await.unwrap().get(0);
    assert_eq!(before, after, "account 2's course, elements and deployments are as they were");
}

/// The session setting that spaces out the notes of legacy-shaped writes is one any role
/// may set (in its session, its role's or the database's defaults), to anything: no
/// value of it ever fails a write of the legacy bot (a cast error in a compatibility
/// trigger), and one that is not a past time noted there does not keep a write from
/// being noted for `finish`.
#[tokio::test]
async fn no_value_of_the_write_note_setting_fails_or_hides_a_legacy_write() {
    let (db, c) = migrated().await;
    let bot = Role::create(
        &db,
        &c,
        "noted",
        &[
            &format!("GRANT SELECT, INSERT, UPDATE, DELETE ON {LEGACY_TABLES} TO {{role}}"),
            "GRANT USAGE ON SCHEMA profochat_legacy TO {role}",
            "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA profochat_legacy TO {role}",
            "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}",
        ],
    )
    .await;
    let mut chat = 9300;
    for value in ["garbage", " 1", "-5", "1e99", "99999999999999999999999", "9999999999", "NaN"] {
        for schema in ["public", "profochat_legacy"] {
            chat += 1;
            let b = bot.connect().await;
            b.execute("SELECT set_config('profochat_saas.legacy_write_noted', $1, false)", &[&value]).await.unwrap();
            legacy_writes(&b, schema, chat, &format!("noted_{chat}")).await;
            assert_written_with_links(&c, chat, &format!("noted_{chat}")).await;
            let pid: i32 = b.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0);
            assert!(
                one_bool(&c, &format!("SELECT count(*) = 1 FROM profochat_saas.legacy_write WHERE pid = {pid} AND at > now() - interval '1 minute'")).await,
                "a write with the setting {value:?} was noted"
            );
        }
    }
    // The same as the database's default, for every new session.
    c.batch_execute(&format!("ALTER DATABASE {} SET profochat_saas.legacy_write_noted = 'x'", ident(&db.name))).await.unwrap();
    let b = bot.connect().await;
    legacy_writes(&b, "profochat_legacy", 9399, "noted_db").await;
    assert_written_with_links(&c, 9399, "noted_db").await;
    c.batch_execute(&format!("ALTER DATABASE {} RESET profochat_saas.legacy_write_noted", ident(&db.name))).await.unwrap();
}
