//! The legacy bot's role: its rights moved to the legacy interface and given back, the
//! tool's tables out of reach, missing privileges as exit status 4.

use super::*;

/// `legacy-role ROLE` moves the legacy bot's rights from the public tables to the
/// legacy interface: it can no longer read, change or delete any account's rows in
/// public, and works through the interface as before; `status` shows it; `rollback`
/// gives back exactly the grants it had.
#[tokio::test]
async fn legacy_role_moves_the_bots_rights_to_the_interface_and_rollback_gives_them_back() {
    let (db, mut c) = legacy_with_anomalies().await;
    let bot = legacy_bot_role(&db, &c).await;
    migrate::migrate(&mut c, &opts(), &Silent).await.unwrap();
    let before = grants(&c, &bot.name).await;
    assert!(before.iter().any(|g| g == "public.run DELETE NO"), "{before:?}");
    assert!(before.iter().any(|g| g == "profochat_legacy.run SELECT NO"), "the interface mirrors the table rights: {before:?}");

    let out = cli().args(["legacy-role", &bot.name, "--yes", "--database-url", &db.url()]).assert().success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(stdout.contains("public tables: none"), "{stdout}");
    assert!(public_only(&grants(&c, &bot.name).await).iter().all(|g| g.contains("_seq") && g.contains("USAGE")), "only USAGE on sequences stays in public");

    let b = bot.connect().await;
    for sql in [
        "SELECT count(*) FROM public.run",
        "SELECT count(*) FROM public.conversation",
        "UPDATE public.run SET username = 'x'",
        "DELETE FROM public.run",
        "INSERT INTO public.run (chat_id, botname, course_id) VALUES (5, 'main_bot', 'intro')",
        "SELECT count(*) FROM public.bot",
        "SELECT count(*) FROM public.account",
        "SELECT setval('public.run_run_id_seq1', 1)",
    ] {
        let e = b.batch_execute(sql).await.expect_err(sql);
        assert_eq!(e.code().map(|c| c.code()), Some("42501"), "{sql}: {e}");
    }
    // Through the interface (its search_path, which the tool's own connections replace), as before.
    b.batch_execute("RESET search_path").await.unwrap();
    let path: String = b.query_one("SHOW search_path", &[]).await.unwrap().get(0);
    assert!(path.starts_with("profochat_legacy"), "{path}");
    let runs: i64 = b.query_one("SELECT count(*) FROM run", &[]).await.unwrap().get(0);
    assert!(runs > 0);
    b.batch_execute(
        "INSERT INTO run (chat_id, botname, course_id) VALUES (515151, 'main_bot', 'intro');
         INSERT INTO conversation (chat_id, course_id, run_id, element_id) VALUES (515151, 'intro', (SELECT max(run_id) FROM run WHERE chat_id = 515151), 'e1');
         UPDATE run SET username = 'renamed' WHERE chat_id = 515151;",
    )
    .await
    .expect("the legacy bot writes through the interface");
    drop(b);
    assert_eq!(count(&c, "SELECT count(*) FROM run WHERE chat_id = 515151 AND username = 'renamed' AND account_id = 1 AND bot_id IS NOT NULL").await, 1);

    let out = cli().args(["status", "--database-url", &db.url()]).assert().success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(stdout.contains(&format!("role \"{}\": public tables: none; legacy interface: 8 view(s)", bot.name)), "{stdout}");

    // --unset gives back exactly what it had, and takes back what the interface gave.
    cli().args(["legacy-role", &bot.name, "--unset", "--yes", "--database-url", &db.url()]).assert().success();
    assert_eq!(grants(&c, &bot.name).await, before, "--unset gives back exactly the grants the role had");
    cli().args(["legacy-role", &bot.name, "--yes", "--database-url", &db.url()]).assert().success();
    assert!(!grants(&c, &bot.name).await.iter().any(|g| g.starts_with("public.run ")));

    cli().args(["rollback", "--yes", "--database-url", &db.url()]).assert().success();
    assert_eq!(public_only(&grants(&c, &bot.name).await), public_only(&before), "rollback gives back exactly the grants the role had");
    let path: i64 = count(&c, &format!("SELECT count(*) FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole WHERE r.rolname = '{}'", bot.name)).await;
    assert_eq!(path, 0, "its search_path is reset");
}

/// `finish` takes back what the interface gave and gives back the role's own table
/// rights (the legacy bot is stopped; the public tables are the schema now).
#[tokio::test]
async fn finish_removes_the_interface_grants_and_gives_the_tables_rights_back() {
    let (db, mut c) = legacy_with_anomalies().await;
    let bot = legacy_bot_role(&db, &c).await;
    let legacy = public_only(&grants(&c, &bot.name).await);
    migrate::migrate(&mut c, &opts(), &Silent).await.unwrap();
    cli().args(["legacy-role", &bot.name, "--yes", "--database-url", &db.url()]).assert().success();
    // Twice changes nothing more.
    cli().args(["legacy-role", &bot.name, "--yes", "--database-url", &db.url()]).assert().success();
    assert!(!public_only(&grants(&c, &bot.name).await).iter().any(|g| g.starts_with("public.run ")));
    cli().args(["finish", "--yes", "--database-url", &db.url()]).assert().success();
    let after = grants(&c, &bot.name).await;
    assert!(after.iter().all(|g| !g.starts_with("profochat_legacy.")), "{after:?}");
    assert_eq!(public_only(&after), legacy, "finish gives back the role's table rights, and no grant of the interface stays");
}

/// Every command run as a role that lacks USAGE on the tool's schema exits 4, naming
/// the privilege, the object and what to grant (SQLSTATE 42501 mapped in one place).
#[tokio::test]
async fn every_command_exits_4_naming_the_missing_privilege() {
    let (db, c) = migrated().await;
    let weak = TestRole::create(&db, "nousage").await;
    c.batch_execute(&format!("GRANT USAGE ON SCHEMA public TO {0}; GRANT SELECT ON ALL TABLES IN SCHEMA public TO {0};", weak.name))
        .await
        .unwrap();
    let url = weak.url();
    let before = catalog(&c).await;
    let commands: Vec<Vec<&str>> = vec![
        vec!["status"],
        vec!["validate"],
        vec!["plan"],
        vec!["finish", "--yes"],
        vec!["rollback", "--yes"],
        vec!["bot", "list"],
        vec!["member", "list"],
        vec!["token", "list"],
        vec!["deployment", "list"],
        vec!["legacy-role", &weak.name, "--yes"],
        vec!["tenant", "isolate", "--role", &weak.name, "--yes"],
    ];
    for args in commands {
        let a = cli().args(&args).args(["--database-url", &url]).assert();
        let o = a.get_output();
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(4), "{args:?}: {err}");
        assert!(err.contains("permission denied"), "{args:?}: {err}");
        assert!(err.contains("schema profochat_saas (USAGE)"), "{args:?}: the privilege and object are named: {err}");
        assert!(err.contains("GRANT USAGE ON SCHEMA profochat_saas TO"), "{args:?}: what to grant: {err}");
    }
    // With --json, the error object says so too.
    let a = cli().args(["status", "--json", "--database-url", &url]).assert().code(4);
    let v: serde_json::Value = serde_json::from_slice(&a.get_output().stdout).unwrap();
    assert_eq!(v["error"]["kind"], "privileges");
    assert_eq!(catalog(&c).await, before, "nothing changed");
}

/// `migrate --legacy-role ROLE` moves the role's rights as `legacy-role` does.
#[tokio::test]
async fn migrate_with_legacy_role_moves_the_rights_too() {
    let (db, c) = legacy_with_anomalies().await;
    let bot = legacy_bot_role(&db, &c).await;
    cli()
        .args(["migrate", "--yes", "--skip-backup", "--default-bot", "main_bot", "--legacy-role", &bot.name, "--database-url", &db.url()])
        .assert()
        .success();
    let g = grants(&c, &bot.name).await;
    assert!(!g.iter().any(|g| g.starts_with("public.run ") || g.starts_with("public.conversation ")), "{g:?}");
    assert!(g.iter().any(|g| g == "profochat_legacy.run INSERT NO"), "{g:?}");
    let b = bot.connect().await;
    let e = b.batch_execute("SELECT 1 FROM public.run LIMIT 1").await.expect_err("no right on public.run");
    assert_eq!(e.code().map(|c| c.code()), Some("42501"));
}

/// Every table and sequence of the tool's state schema, including those made later by
/// the YAML import, `legacy-role` and `tenant isolate`, is out of reach of a role with
/// USAGE on the schema (which the application needs for enrol), even where default
/// privileges grant every new table to PUBLIC and to that role.
#[tokio::test]
async fn the_tools_tables_are_out_of_reach_of_a_role_with_usage_only_whatever_the_default_privileges() {
    let db = TestDb::legacy().await;
    let c = db.connect().await;
    c.batch_execute(crate::courses_yml::LEGACY).await.unwrap();
    let bot = legacy_bot_role(&db, &c).await;
    let weak = TestRole::create(&db, "usageonly").await;
    c.batch_execute(&format!(
        "ALTER DEFAULT PRIVILEGES GRANT ALL ON TABLES TO PUBLIC, {0};
         ALTER DEFAULT PRIVILEGES GRANT ALL ON SEQUENCES TO PUBLIC, {0};
         ALTER DEFAULT PRIVILEGES GRANT EXECUTE ON FUNCTIONS TO PUBLIC, {0};",
        weak.name
    ))
    .await
    .unwrap();
    cli()
        .args(["migrate", "--yes", "--skip-backup", "--default-bot", "bot_a", "--legacy-role", &bot.name, "--database-url", &db.url()])
        .args(crate::courses_yml::args())
        .assert()
        .success();
    let app = TestRole::create(&db, "isolated").await;
    cli().args(["tenant", "isolate", "--role", &app.name, "--yes", "--database-url", &db.url()]).assert().success();
    c.batch_execute(&format!("GRANT USAGE ON SCHEMA profochat_saas TO {}", weak.name)).await.unwrap();
    let relations: Vec<(String, String)> = c
        .query(
            "SELECT format('%I.%I', n.nspname, c.relname), c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'profochat_saas' AND c.relkind IN ('r', 'p', 'v', 'm', 'S') ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let names: Vec<&str> = relations.iter().map(|r| r.0.as_str()).collect();
    for t in ["legacy_write", "legacy_hidden_element", "legacy_role_grant", "guarded_object", "tenant_isolation", "tenant_isolation_table", "archive"] {
        assert!(names.contains(&format!("profochat_saas.{t}").as_str()), "{t} in {names:?}");
    }
    let w = weak.connect().await;
    let mut reached = vec![];
    for (rel, kind) in &relations {
        let tries = if kind == "S" {
            vec![format!("SELECT nextval('{rel}')"), format!("SELECT last_value FROM {rel}")]
        } else {
            vec![format!("SELECT count(*) FROM {rel}"), format!("DELETE FROM {rel}"), format!("TRUNCATE {rel}")]
        };
        for sql in tries {
            match w.batch_execute(&sql).await {
                Err(e) if e.code().map(|c| c.code()) == Some("42501") => {}
                other => reached.push(format!("{sql}: {:?}", other.map_err(|e| e.to_string()))),
            }
        }
    }
    // Every function of both schemas: none callable; each definer one with the pinned search_path.
    c.batch_execute(&format!("GRANT USAGE ON SCHEMA profochat_legacy TO {}", weak.name)).await.unwrap();
    let functions: Vec<(String, String, bool, Option<Vec<String>>)> = c
        .query(
            "SELECT p.oid::regprocedure::text,
                    format('SELECT %I.%I(%s)', n.nspname, p.proname,
                           coalesce((SELECT string_agg('NULL::' || format_type(t, NULL), ', ' ORDER BY o)
                                       FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY u(t, o)), '')),
                    p.prosecdef, p.proconfig::text[]
               FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
              WHERE n.nspname IN ('profochat_saas', 'profochat_legacy') AND p.prorettype <> 'trigger'::regtype
                AND p.prorettype <> 'event_trigger'::regtype
             UNION ALL
             SELECT p.oid::regprocedure::text, '', p.prosecdef, p.proconfig::text[]
               FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
              WHERE n.nspname IN ('profochat_saas', 'profochat_legacy') AND p.prorettype IN ('trigger'::regtype, 'event_trigger'::regtype)
              ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert!(functions.len() >= 25, "{functions:?}");
    for (f, call, definer, config) in &functions {
        if *definer {
            assert_eq!(config.as_deref(), Some(&["search_path=pg_catalog, pg_temp".to_string()][..]), "{f}");
        }
        let public: bool = c
            .query_one("SELECT has_function_privilege('public', $1::text::regprocedure, 'EXECUTE')", &[f])
            .await
            .unwrap()
            .get(0);
        assert!(!public, "{f} is callable by PUBLIC");
        // The enrolment functions run with the caller's rights: a grant made to a role by
        // name (here by default privileges) is kept, and gives it nothing it lacks.
        if !call.is_empty() && *definer {
            match w.simple_query(call).await {
                Err(e) if e.code().map(|c| c.code()) == Some("42501") => {}
                other => reached.push(format!("{call}: {:?}", other.map(|_| ()).map_err(|e| e.to_string()))),
            }
        }
    }
    assert!(reached.is_empty(), "a role with USAGE only reached: {reached:#?}");
    c.batch_execute(&format!(
        "ALTER DEFAULT PRIVILEGES REVOKE ALL ON TABLES FROM PUBLIC, {0};
         ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC, {0};
         ALTER DEFAULT PRIVILEGES REVOKE ALL ON SEQUENCES FROM PUBLIC, {0};",
        weak.name
    ))
    .await
    .unwrap();
}

/// Every §1 statement, as the legacy bot's own role after `legacy-role` moved its rights
/// and `tenant isolate` isolated it, through the legacy interface: the same answers and
/// effects as on the legacy schema (the replay suite, run as that role).
#[tokio::test]
async fn the_legacy_bots_role_switched_and_isolated_answers_every_statement_as_before() {
    let (_a, ca, b, cb) = crate::replay::pair(crate::replay::anomalies, "main_bot").await;
    let bot = legacy_bot_role(&b, &cb).await;
    cli().args(["legacy-role", &bot.name, "--yes", "--database-url", &b.url()]).assert().success();
    cli().args(["tenant", "isolate", "--role", &bot.name, "--yes", "--database-url", &b.url()]).assert().success();
    let r = bot.connect().await;
    r.batch_execute("RESET search_path").await.unwrap();
    let t = crate::replay::replay(&ca, &r, "main_bot").await;
    assert!(t.kinds.len() >= 20, "every kind of read ran: {:?}", t.kinds);
    drop(r);
    crate::replay::assert_linked(&cb).await;
}

/// `finish` after a YAML import, `legacy-role` and `tenant isolate`: every object the
/// layer added is gone (the write note, the hidden elements, the moved rights' record,
/// the guard's list, the interface, the layer's functions and event triggers), the
/// catalog and columns are upstream's, the isolation stays, and upstream's later
/// migrations apply as they do after a plain finish.
#[tokio::test]
async fn finish_after_an_import_legacy_role_and_isolation_leaves_upstreams_schema() {
    let db = TestDb::legacy().await;
    let c = db.connect().await;
    c.batch_execute(crate::courses_yml::LEGACY).await.unwrap();
    let bot = legacy_bot_role(&db, &c).await;
    cli()
        .args(["migrate", "--yes", "--skip-backup", "--default-bot", "bot_a", "--legacy-role", &bot.name, "--database-url", &db.url()])
        .args(crate::courses_yml::args())
        .assert()
        .success();
    let app = TestRole::create(&db, "finapp").await;
    cli().args(["tenant", "isolate", "--role", &app.name, "--yes", "--database-url", &db.url()]).assert().success();
    cli().args(["finish", "--yes", "--force", "--database-url", &db.url()]).assert().success();
    for t in ["legacy_write", "legacy_hidden_element", "legacy_hidden_course", "legacy_role_grant", "legacy_role", "guarded_object"] {
        assert_eq!(count(&c, &format!("SELECT count(*) FROM pg_class WHERE oid = to_regclass('profochat_saas.{t}')")).await, 0, "{t} is gone");
    }
    assert_eq!(count(&c, "SELECT count(*) FROM pg_namespace WHERE nspname = 'profochat_legacy'").await, 0);
    assert_eq!(count(&c, "SELECT count(*) FROM pg_event_trigger WHERE evtname LIKE 'profochat%'").await, 0);
    assert_eq!(count(&c, "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal AND tgname LIKE 'profochat%'").await, 0);
    let left: Vec<String> = c
        .query("SELECT proname::text FROM pg_proc WHERE pronamespace = 'profochat_saas'::regnamespace AND proname !~ '^(enrol|enrolment_|start_payload)' ORDER BY 1", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(left.is_empty(), "functions of the layer left: {left:?}");
    assert_eq!(count(&c, "SELECT count(*) FROM pg_policy WHERE polname LIKE 'profochat_tenant%'").await, 24, "the isolation stays");
    crate::upstream_after_finish::assert_columns_are_upstreams(&c).await;
    let applied = crate::upstream_after_finish::apply_upstreams_later_migrations(&c).await;
    assert_eq!(applied, ["0004", "0005", "0007", "0008"], "upstream's later migrations that apply");
}

/// An application's role isolated while it holds rights on the legacy interface's views
/// would still read account 1's rows through them: `tenant isolate` names those rights
/// and the REVOKE that takes them; a role without them gets no such line.
#[tokio::test]
async fn tenant_isolate_names_rights_on_the_legacy_interface() {
    let (db, c) = migrated().await;
    c.batch_execute(ACCOUNT_2).await.unwrap();
    let app = TestRole::create(&db, "ifaceapp").await;
    let plain = TestRole::create(&db, "plainapp").await;
    c.batch_execute(&format!(
        "GRANT USAGE ON SCHEMA public, profochat_legacy TO {0}, {1};
         GRANT SELECT ON ALL TABLES IN SCHEMA public TO {0}, {1};
         GRANT SELECT ON ALL TABLES IN SCHEMA profochat_legacy TO {0};",
        app.name, plain.name
    ))
    .await
    .unwrap();
    let out = cli().args(["tenant", "isolate", "--role", &app.name, "--yes", "--database-url", &db.url()]).assert().success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(stdout.contains("has rights on the legacy interface"), "{stdout}");
    assert!(stdout.contains(&format!("REVOKE ALL ON ALL TABLES IN SCHEMA profochat_legacy FROM \"{}\";", app.name)), "{stdout}");
    // What the line warns of: through the interface, account 1's rows, whatever the setting says.
    let a = app.connect().await;
    a.batch_execute("SET profochat.account_id = '2'").await.unwrap();
    assert_eq!(count(&a, "SELECT count(*) FROM public.run WHERE account_id = 1").await, 0);
    assert!(count(&a, "SELECT count(*) FROM profochat_legacy.run").await > 0);
    let out = cli().args(["tenant", "isolate", "--role", &plain.name, "--yes", "--database-url", &db.url()]).assert().success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(!stdout.contains("legacy interface"), "{stdout}");
}

/// The legacy interface's schema is open only to the roles that held rights on the legacy
/// tables (and to those `legacy-role` switches later), not to PUBLIC: a role with no
/// legacy rights cannot even look up the interface's names.
#[tokio::test]
async fn the_legacy_interface_is_closed_to_a_role_without_legacy_rights() {
    let (db, mut c) = legacy_with_anomalies().await;
    let bot = legacy_bot_role(&db, &c).await;
    let stranger = TestRole::create(&db, "stranger").await;
    c.batch_execute(&format!("GRANT USAGE ON SCHEMA public TO {}", stranger.name)).await.unwrap();
    migrate::migrate(&mut c, &opts(), &Silent).await.unwrap();

    let usage = |role: String| {
        let c = &c;
        async move {
            c.query_one("SELECT has_schema_privilege($1, 'profochat_legacy', 'USAGE')", &[&role]).await.unwrap().get::<_, bool>(0)
        }
    };
    assert!(usage(bot.name.clone()).await, "the legacy bot's role keeps its way in");
    assert!(!usage(stranger.name.clone()).await, "a role without legacy rights may not use the interface's schema");
    let public = count(
        &c,
        "SELECT count(*) FROM pg_namespace n CROSS JOIN LATERAL aclexplode(n.nspacl) x WHERE n.nspname = 'profochat_legacy' AND x.grantee = 0",
    )
    .await;
    assert_eq!(public, 0, "nothing of the interface's schema is granted to PUBLIC");
    let s = stranger.connect().await;
    for sql in ["SELECT count(*) FROM profochat_legacy.run", "SELECT 1 FROM profochat_legacy.conversation LIMIT 1"] {
        let e = s.batch_execute(sql).await.expect_err(sql);
        assert_eq!(e.code().map(|c| c.code()), Some("42501"), "{sql}: {e}");
    }
    drop(s);

    // A role given rights on the public tables after the migration gets the schema from
    // `legacy-role`, and works through the interface.
    let late = TestRole::create(&db, "latebot").await;
    c.batch_execute(&format!(
        "GRANT USAGE ON SCHEMA public TO {0};
         GRANT SELECT, INSERT, UPDATE, DELETE ON conversation, run, waiting_element, course, course_element,
                                                courseparticipants, bannedparticipants, gen_settings TO {0};",
        late.name
    ))
    .await
    .unwrap();
    assert!(!usage(late.name.clone()).await);
    cli().args(["legacy-role", &late.name, "--yes", "--database-url", &db.url()]).assert().success();
    assert!(usage(late.name.clone()).await);
    let l = late.connect().await;
    l.batch_execute("RESET search_path").await.unwrap();
    let runs: i64 = l.query_one("SELECT count(*) FROM run", &[]).await.unwrap().get(0);
    assert!(runs > 0);
}
