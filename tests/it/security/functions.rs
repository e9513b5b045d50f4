//! The layer's functions against the weakest roles: a temporary schema shadowing every
//! name the layer uses, every function called directly with USAGE only, the change log's
//! functions.

use super::*;

#[tokio::test]
async fn temp_schema_shadowing_runs_no_code_of_the_caller_as_another_role() {
    let (db, c) = migrated().await;
    c.batch_execute("CREATE TABLE public.attack_log (who text, at timestamptz DEFAULT clock_timestamp()); GRANT INSERT ON public.attack_log TO PUBLIC")
        .await
        .unwrap();
    let bot = Role::create(
        &db,
        &c,
        "bot",
        &[
            &format!("GRANT SELECT, INSERT, UPDATE, DELETE ON {LEGACY_TABLES} TO {{role}}"),
            "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}",
        ],
    )
    .await;
    let iface = Role::create(
        &db,
        &c,
        "iface",
        &[
            "GRANT USAGE ON SCHEMA profochat_legacy TO {role}",
            "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA profochat_legacy TO {role}",
            "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}",
        ],
    )
    .await;

    let a = bot.connect().await;
    let b = iface.connect().await;
    b.batch_execute("SET search_path = profochat_legacy, public").await.unwrap();
    // A start without a bot name (the default bot's), with `account` shadowed: through the
    // public tables as the legacy bot's role, through the interface as a role with rights
    // on it only.
    for (c, schema, chat) in [(&a, "public", 9000), (&b, "profochat_legacy", 9003)] {
        c.batch_execute(PWN).await.expect("the attacker's temporary objects");
        c.batch_execute(&format!("INSERT INTO {schema}.run (course_id, username, chat_id, botname) VALUES ('intro', 'mallory', {chat}, NULL)"))
            .await
            .expect("a start of the default bot");
    }
    let ran: Vec<String> = c.query("SELECT who FROM public.attack_log", &[]).await.unwrap().iter().map(|r| r.get(0)).collect();
    assert!(ran.is_empty(), "the attacker's temporary code ran, as {ran:?}");
    for r in [&bot, &iface] {
        let su: bool = c.query_one("SELECT rolsuper FROM pg_roles WHERE rolname = $1", &[&r.name]).await.unwrap().get(0);
        assert!(!su, "{} became a superuser", r.name);
    }
    // Every name shadowed, and every write of §1.
    a.batch_execute(SHADOW).await.expect("the attacker's temporary objects");
    legacy_writes(&a, "public", 9001, "pub_a").await;
    b.batch_execute(SHADOW).await.expect("the attacker's temporary objects");
    legacy_writes(&b, "profochat_legacy", 9002, "pub_b").await;
    drop(a);
    drop(b);

    assert!(
        one_bool(&c, "SELECT count(*) = 2 AND bool_and(account_id = 1 AND bot_id = (SELECT bot_id FROM bot WHERE account_id = 1 AND bot_name = 'main_bot')
                                                     AND deployment_id IS NOT NULL AND is_active)
                        FROM run WHERE chat_id IN (9000, 9003)").await,
        "the default bot's starts are main_bot's, in account 1"
    );
    let ran: Vec<String> = c.query("SELECT who FROM public.attack_log", &[]).await.unwrap().iter().map(|r| r.get(0)).collect();
    assert!(ran.is_empty(), "the attacker's temporary code ran, as {ran:?}");
    for r in [&bot, &iface] {
        let su: bool = c.query_one("SELECT rolsuper FROM pg_roles WHERE rolname = $1", &[&r.name]).await.unwrap().get(0);
        assert!(!su, "{} became a superuser", r.name);
    }
    assert_written_with_links(&c, 9001, "pub_a").await;
    assert_written_with_links(&c, 9002, "pub_b").await;
    // Every definer function pins a search_path that ends with pg_temp.
    let loose: Vec<String> = c
        .query(
            "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
              WHERE p.prosecdef AND n.nspname IN ('profochat_saas', 'profochat_legacy')
                AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) s
                                 WHERE s LIKE 'search_path=%' AND s LIKE '%pg_temp' AND s NOT LIKE '%$user%')",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(loose.is_empty(), "definer functions without a pinned search_path: {loose:?}");
}

#[tokio::test]
async fn every_function_of_the_tool_refuses_a_role_with_usage_only() {
    let (db, mut c) = migrated().await;
    let weak = Role::create(&db, &c, "usage", &["GRANT USAGE ON SCHEMA profochat_saas, profochat_legacy TO {role}"]).await;
    // An application role that may enrol by hand (its rights on the tables) gets the
    // enrolment functions, and only those.
    let app = Role::create(
        &db,
        &c,
        "app",
        &[
            "GRANT USAGE ON SCHEMA profochat_saas TO {role}",
            "GRANT SELECT ON bot, course_deployment TO {role}",
            "GRANT SELECT, UPDATE ON enrollment_token TO {role}",
            "GRANT SELECT, INSERT, UPDATE ON run TO {role}",
            "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}",
        ],
    )
    .await;
    // Grants to PUBLIC and to the weak role, and default privileges, left behind by
    // anyone: installing the functions again (CREATE OR REPLACE keeps a function's
    // privileges; a function made anew gets the default ones) leaves none of them.
    c.batch_execute(&format!(
        "BEGIN;
         SET LOCAL profochat_saas.allow_ddl = on;
         GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA profochat_saas, profochat_legacy TO PUBLIC;
         GRANT EXECUTE ON FUNCTION profochat_saas.bot_id_for(text) TO {weak};
         ALTER DEFAULT PRIVILEGES IN SCHEMA profochat_saas GRANT EXECUTE ON FUNCTIONS TO PUBLIC, {weak};
         DROP FUNCTION profochat_saas.course_claim(text, text);
         COMMIT;",
        weak = ident(&weak.name)
    ))
    .await
    .unwrap();
    {
        let tx = c.client.transaction().await.unwrap();
        tx.batch_execute("SET LOCAL profochat_saas.allow_ddl = on").await.unwrap();
        migrate::phases::install_legacy_interface(&tx, false).await.expect("install again");
        migrate::upstream::install(&tx, 0, "again").await.expect("enrolment functions again");
        tx.commit().await.unwrap();
    }
    let calls = assert_no_function_callable(&c, &weak).await;
    assert!(calls.len() >= 20, "the tool's functions: {calls:?}");
    assert!(calls.iter().any(|f| f.starts_with("profochat_saas.bot_id_for(")), "{calls:?}");
    assert!(calls.iter().any(|f| f.starts_with("profochat_saas.enrol(")), "{calls:?}");
    c.batch_execute(&format!("ALTER DEFAULT PRIVILEGES IN SCHEMA profochat_saas REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC, {}", ident(&weak.name)))
        .await
        .unwrap();

    // The application's role enrols, by bot_id and by name, and reaches nothing else.
    let dep = ops::deployment_for(&c.client, "intro", "main_bot", 1).await.unwrap().expect("intro on main_bot");
    let token = ops::create_token(&c.client, dep.deployment_id, TokenType::Public, TokenOptions::default()).await.unwrap();
    let main1: i32 = c.query_one("SELECT bot_id FROM bot WHERE account_id = 1 AND bot_name = 'main_bot'", &[]).await.unwrap().get(0);
    let a = app.connect().await;
    let e = ops::enrol_bot_id(&a.client, token.payload.expose(), 4242, Some("u"), main1).await.expect("the application enrols by bot_id");
    assert_eq!((e.account_id, e.bot_id, e.deployment_id), (1, main1, dep.deployment_id));
    ops::enrol(&a.client, token.payload.expose(), 4243, Some("u"), "main_bot").await.expect("the application enrols by name");
    let err = a.simple_query("SELECT profochat_saas.bot_id_for('x')").await.expect_err("not the application's");
    assert_eq!(sqlstate(&err), "42501");
    drop(a);
}

/// Calls every function of profochat_saas and profochat_legacy (from pg_proc) as `role`:
/// each must be refused for lack of EXECUTE. Returns the functions called.
async fn assert_no_function_callable(c: &Db, role: &Role) -> Vec<String> {
    let calls: Vec<(String, String)> = c
        .query(
            "SELECT p.oid::regprocedure::text,
                    format('SELECT %I.%I(%s)', n.nspname, p.proname,
                           coalesce((SELECT string_agg('NULL::' || format_type(t, NULL), ', ' ORDER BY o)
                                       FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY u(t, o)), ''))
               FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
              WHERE n.nspname IN ('profochat_saas', 'profochat_legacy')
              ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let w = role.connect().await;
    let mut allowed = vec![];
    for (f, call) in &calls {
        match w.simple_query(call).await {
            Err(e) if sqlstate(&e) == "42501" => {}
            other => allowed.push(format!("{f}: {:?}", other.map(|_| "ran").map_err(|e| sqlstate(&e)))),
        }
    }
    assert!(allowed.is_empty(), "a role with USAGE only reached: {allowed:#?}");
    calls.into_iter().map(|(f, _)| f).collect()
}

#[tokio::test]
async fn the_change_logs_functions_are_neither_callable_nor_hijacked() {
    let (db, c) = legacy_with_anomalies().await;
    c.batch_execute(profochat_saas::target::sql::STATE).await.unwrap();
    c.batch_execute("INSERT INTO profochat_saas.migration (schema_version, tool_version, status) VALUES (1, 't', 'running')")
        .await
        .unwrap();
    migrate::changes::install(&c).await.expect("change log");
    c.batch_execute("CREATE TABLE public.attack_log (who text, at timestamptz DEFAULT clock_timestamp()); GRANT INSERT ON public.attack_log TO PUBLIC")
        .await
        .unwrap();
    let weak = Role::create(&db, &c, "cl_usage", &["GRANT USAGE ON SCHEMA profochat_saas TO {role}"]).await;
    let calls = assert_no_function_callable(&c, &weak).await;
    assert!(calls.iter().any(|f| f.starts_with("profochat_saas.change_log_run(")), "{calls:?}");
    let bot = Role::create(
        &db,
        &c,
        "cl_bot",
        &[
            &format!("GRANT SELECT, INSERT, UPDATE, DELETE ON {LEGACY_TABLES} TO {{role}}"),
            "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}",
        ],
    )
    .await;
    let a = bot.connect().await;
    a.batch_execute(PWN).await.unwrap();
    a.batch_execute(SHADOW).await.unwrap();
    a.batch_execute(
        "INSERT INTO public.run (run_id, course_id, username, chat_id, botname) VALUES (9500, 'intro', 'm', 9500, 'main_bot');
         UPDATE public.run SET is_ended = TRUE WHERE run_id = 9500;
         DELETE FROM public.run WHERE run_id = 9500;",
    )
    .await
    .expect("the bot's writes during the migration");
    drop(a);
    assert_eq!(one_i64(&c, "SELECT count(*) FROM public.attack_log").await, 0, "the attacker's temporary code ran");
    assert_eq!(
        one_i64(&c, "SELECT count(*) FROM profochat_saas.change_log WHERE table_name = 'run' AND key = '{\"run_id\": 9500}'").await,
        3,
        "the three writes are logged"
    );
}
