//! `finish` (SPEC §4): after it, exactly the target schema; before it, schema changes
//! that would break the compatibility layer are refused, naming `finish`.

use profochat_saas::migrate;
use profochat_saas::report::Silent;
use profochat_saas::validate::{self, ValidateOptions};

use crate::harness::cli;
use crate::migrate::{legacy_with_anomalies, opts};

async fn count(c: &profochat_saas::conn::Db, sql: &str) -> i64 {
    c.query_one(sql, &[]).await.unwrap_or_else(|e| panic!("{sql}: {e}")).get(0)
}

const LEFTOVERS: &str = "SELECT (SELECT count(*) FROM pg_namespace WHERE nspname = 'profochat_legacy')
     + (SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal AND tgname LIKE 'profochat%')
     + (SELECT count(*) FROM pg_event_trigger WHERE evtname LIKE 'profochat%')
     + (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = 'profochat_saas' AND (p.proname LIKE 'compat%' OR p.proname LIKE 'legacy%' OR p.proname LIKE 'guard%'
                                                 OR p.proname IN ('bot_id_for', 'course_for', 'ensure_course', 'deployment_for', 'default_bot')))
     + (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'profochat_saas' AND c.relname LIKE 'legacy%')";

#[tokio::test]
async fn migrate_finish_validate_round_trip() {
    let (db, mut c) = legacy_with_anomalies().await;
    migrate::migrate(&mut c, &opts(), &Silent).await.unwrap();
    assert!(count(&c, LEFTOVERS).await > 0, "the legacy interface and the compatibility layer are in place before finish");
    // Something the legacy bot wrote through the interface, kept in the archive by finish.
    c.batch_execute(
        "SET search_path = profochat_legacy, public;
         INSERT INTO conversation (chat_id, course_id, run_id, element_id) VALUES (999, 'intro', 4711, 'x');
         SET search_path = public;",
    )
    .await
    .unwrap();

    // No terminal and no --yes: refused, nothing changed.
    let out = cli().args(["finish", "--database-url", &db.url()]).assert().code(5);
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("--yes"));
    assert!(count(&c, LEFTOVERS).await > 0);
    // A dry run changes nothing either.
    let out = cli().args(["finish", "--dry-run", "--database-url", &db.url()]).assert().success();
    assert!(String::from_utf8_lossy(&out.get_output().stdout).contains("nothing was changed"));
    assert!(count(&c, LEFTOVERS).await > 0);

    let out = cli().args(["finish", "--yes", "--database-url", &db.url()]).assert().success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(stdout.contains("Finished"), "{stdout}");
    assert_eq!(count(&c, LEFTOVERS).await, 0, "nothing of the legacy interface or the compatibility layer is left");
    crate::upstream::assert_catalog_is_upstreams(&c).await;
    assert_eq!(count(&c, "SELECT count(*) FROM profochat_saas.migration WHERE status = 'finished'").await, 1);
    assert_eq!(
        count(&c, "SELECT count(*) FROM profochat_saas.archive WHERE table_name = 'profochat_saas.legacy_conversation_run' AND row ->> 'run_id' = '4711'").await,
        1,
        "the legacy interface's state is kept in the archive"
    );
    // Only the public schema and the tool's state schema hold anything of ours.
    assert_eq!(
        count(&c, "SELECT count(*) FROM pg_namespace WHERE nspname NOT IN ('public', 'profochat_saas') AND nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'").await,
        0
    );

    let v = validate::validate(&c.client, &ValidateOptions::from_state(&c.client).await.unwrap()).await.unwrap();
    assert_eq!(v.critical_failures(), 0, "{:?}", v.checks.iter().filter(|c| !c.passed).collect::<Vec<_>>());
    assert!(v.check("state.legacy_interface").unwrap().passed && v.check("state.compat_triggers").unwrap().passed);
    cli().args(["validate", "--database-url", &db.url()]).assert().success();

    let out = cli().args(["status", "--database-url", &db.url()]).assert().success();
    assert!(String::from_utf8_lossy(&out.get_output().stdout).contains("finished"));
    // Again: nothing to do. Rollback in place is no longer possible, and says what is.
    let out = cli().args(["finish", "--yes", "--database-url", &db.url()]).assert().success();
    assert!(String::from_utf8_lossy(&out.get_output().stdout).contains("finished already"));
    let out = cli().args(["rollback", "--yes", "--database-url", &db.url()]).assert().code(4);
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("restore"));
    // A migrate after finish changes nothing.
    let r = migrate::migrate(&mut c, &opts(), &Silent).await.unwrap();
    assert_eq!(r.outcome, migrate::Outcome::AlreadyMigrated);
    assert_eq!(count(&c, LEFTOVERS).await, 0);
    // The schema is the application's now.
    c.batch_execute("ALTER TABLE course ADD COLUMN upstream_0004 int").await.unwrap();
}

#[tokio::test]
async fn schema_changes_before_finish_are_refused_naming_finish() {
    let (_db, mut c) = legacy_with_anomalies().await;
    migrate::migrate(&mut c, &opts(), &Silent).await.unwrap();
    // A column the legacy interface's views use: PostgreSQL's own dependency check
    // refuses it before the guard (which works on the objects a statement changed) runs;
    // with CASCADE the guard refuses dropping the views.
    for ddl in ["ALTER TABLE course ALTER COLUMN course_id TYPE varchar(100)", "ALTER TABLE run DROP COLUMN botname"] {
        let e = c.batch_execute(ddl).await.expect_err(ddl);
        let db = e.as_db_error().unwrap();
        assert!(db.message().contains("refused until `profochat-saas finish`") || db.message().contains("depend") || db.message().contains("used by a view"), "{ddl}: {}", db.message());
    }
    for ddl in [
        "ALTER TABLE run DROP COLUMN botname CASCADE",
        "ALTER TABLE bot RENAME TO bots",
        "ALTER TABLE IF EXISTS public.\"run\" ADD COLUMN x int",
        "ALTER TABLE IF EXISTS public.\"run\" ADD COLUMN x int",
        "DROP TABLE gen_settings CASCADE",
    ] {
        let e = c.batch_execute(ddl).await.expect_err(ddl);
        let db = e.as_db_error().unwrap_or_else(|| panic!("{ddl}: {e}"));
        assert!(db.message().contains("refused until `profochat-saas finish`"), "{ddl}: {}", db.message());
        assert!(db.hint().unwrap_or_default().contains("profochat-saas finish"));
    }
    assert_eq!(count(&c, "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'run' AND column_name = 'botname'").await, 1);
    // Index builds stay allowed; tables of the application's own too.
    c.batch_execute("CREATE INDEX upstream_extra ON run (username); CREATE TABLE app_table (id int); ALTER TABLE app_table ADD COLUMN x int; DROP TABLE app_table")
        .await
        .unwrap();
    // The legacy bot's writes still work.
    c.batch_execute("INSERT INTO run (chat_id, botname, course_id) VALUES (1, 'main_bot', 'intro')").await.unwrap();
}

#[tokio::test]
async fn finish_refuses_a_legacy_database_and_a_failed_validation() {
    let (db, mut c) = legacy_with_anomalies().await;
    let out = cli().args(["finish", "--yes", "--database-url", &db.url()]).assert().code(4);
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("nothing to finish"));
    migrate::migrate(&mut c, &opts(), &Silent).await.unwrap();
    c.batch_execute("UPDATE run SET bot_id = (SELECT bot_id FROM bot WHERE bot_name = 'second_bot') WHERE run_id = 1")
        .await
        .unwrap();
    let out = cli().args(["finish", "--yes", "--database-url", &db.url()]).assert().code(6);
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("run.bot_id_matches_botname"));
    assert!(count(&c, LEFTOVERS).await > 0, "nothing was removed");
}

/// The next steps come from the database: only what is still to do, and after `finish`
/// never the legacy interface (gone), `finish` or `rollback`.
#[tokio::test]
async fn next_steps_name_only_what_is_left_and_nothing_of_the_legacy_interface_after_finish() {
    let (db, mut c) = legacy_with_anomalies().await;
    migrate::migrate(&mut c, &opts(), &Silent).await.unwrap();
    let again = || {
        let out = cli().args(["migrate", "--yes", "--database-url", &db.url()]).env_remove("BOT_NAME").assert().success();
        String::from_utf8_lossy(&out.get_output().stdout).to_string()
    };
    let stdout = again();
    assert!(stdout.contains("migrated already") && stdout.contains("Next steps:"), "{stdout}");
    for step in ["bot set-token", "profochat_legacy", "member add", "token create --public-for-all", "profochat-saas finish", "rollback"] {
        assert!(stdout.contains(step), "a fresh migration still needs {step:?}:\n{stdout}");
    }
    // The operator does those: real tokens, an owner, a link for every deployment.
    c.batch_execute("UPDATE bot SET bot_token = (1000000 + bot_id)::text || ':AAH' || repeat('a', 32)").await.unwrap();
    cli().args(["member", "add", "--yes", "--telegram-user-id", "4242", "--role", "owner", "--database-url", &db.url()]).assert().success();
    cli().args(["token", "create", "--yes", "--public-for-all", "--database-url", &db.url()]).assert().success();
    let stdout = again();
    for step in ["bot set-token", "member add", "token create"] {
        assert!(!stdout.contains(step), "{step:?} is done and not to be done again:\n{stdout}");
    }
    assert!(stdout.contains("profochat-saas finish"), "{stdout}");

    let out = cli().args(["finish", "--yes", "--database-url", &db.url()]).assert().success();
    let after_finish = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    // (What finish removes is listed before its question; what follows "Finished" is the outcome.)
    let after_finish = after_finish[after_finish.find("Finished").expect("Finished")..].to_string();
    let stdout = again();
    for text in [&after_finish, &stdout] {
        assert!(text.contains("finished") && text.contains("nothing is left to do"), "{text}");
        for gone in ["search_path=", "profochat_legacy,", "legacy-role", "rollback", "profochat-saas finish", "Next steps"] {
            assert!(!text.contains(gone), "{gone:?} after finish:\n{text}");
        }
    }
    // No role can be pointed at the legacy interface any more.
    for args in [vec!["legacy-role", "postgres", "--yes"], vec!["migrate", "--yes", "--legacy-role", "postgres"]] {
        let out = cli().args(&args).args(["--database-url", &db.url()]).assert().code(4);
        let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
        assert!(err.contains("is finished"), "{args:?}: {err}");
    }
    let out = cli().args(["status", "--json", "--database-url", &db.url()]).assert().success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert!(v["legacy_interface"]["url"].is_null(), "{v}");
    let settings: i64 = count(&c, "SELECT count(*) FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = current_database()").await;
    assert_eq!(settings, 0, "no search_path was set");
    // What becomes to do again after finish is named: a deployment without a link.
    c.batch_execute("UPDATE enrollment_token SET is_active = false WHERE token_id = (SELECT min(token_id) FROM enrollment_token)").await.unwrap();
    let stdout = again();
    assert!(stdout.contains("Still to do") && stdout.contains("token create --public-for-all") && !stdout.contains("rollback"), "{stdout}");
}

/// A login role that may connect; dropped at the end (its settings reset by finish).
struct LegacyRole(String, profochat_saas::conn::ConnSettings);

impl Drop for LegacyRole {
    fn drop(&mut self) {
        let (name, db) = (self.0.clone(), self.1.clone());
        crate::harness::block_on(async move {
            if let Ok(c) = profochat_saas::conn::connect(&db).await {
                let _ = c.batch_execute(&format!("ALTER ROLE {name} IN DATABASE \"{}\" RESET ALL; DROP OWNED BY {name}", db.dbname)).await;
            }
            if let Ok(c) = profochat_saas::conn::connect(&crate::harness::admin()).await {
                for _ in 0..50 {
                    if c.batch_execute(&format!("DROP ROLE IF EXISTS {name}")).await.is_ok() {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
            }
        });
    }
}

/// `finish` refuses (exit 5, naming each) while the legacy bot seems to run: a session
/// of a role set to the legacy interface, a session using the legacy interface right
/// now, a session that wrote in the legacy shape and is still connected, a
/// legacy-shaped write within --quiet-for; --force finishes anyway.
#[tokio::test]
async fn finish_refuses_while_the_legacy_bot_is_connected_or_wrote_recently() {
    let (db, mut c) = legacy_with_anomalies().await;
    migrate::migrate(&mut c, &opts(), &Silent).await.unwrap();
    let finish = |extra: &[&str]| {
        let mut args = vec!["finish", "--yes", "--database-url"];
        let url = db.url();
        args.push(&url);
        args.extend(extra);
        let out = cli().args(&args).assert();
        let o = out.get_output().clone();
        (o.status.code().unwrap_or(-1), String::from_utf8_lossy(&o.stdout).to_string(), String::from_utf8_lossy(&o.stderr).to_string())
    };

    // 1. A session of a role set to the legacy interface.
    let role = LegacyRole(format!("pcs_legacy_bot_{}_{}", std::process::id(), rand::random::<u16>()), db.settings.clone());
    c.batch_execute(&format!("CREATE ROLE {} LOGIN; GRANT CONNECT ON DATABASE \"{}\" TO {0}", role.0, db.name)).await.unwrap();
    cli().args(["legacy-role", &role.0, "--yes", "--database-url", &db.url()]).assert().success();
    let mut as_bot = db.settings.clone();
    as_bot.user = role.0.clone();
    let bot = profochat_saas::conn::connect(&as_bot).await.unwrap();
    let bot_pid: i32 = bot.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0);
    let (code, _, err) = finish(&[]);
    assert_eq!(code, 5, "{err}");
    assert!(err.contains(&format!("session {bot_pid}")) && err.contains(&role.0) && err.contains("--force"), "{err}");
    assert!(count(&c, LEFTOVERS).await > 0, "nothing was changed");
    // A dry run names it and changes nothing.
    let out = cli().args(["finish", "--dry-run", "--database-url", &db.url()]).assert().success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(stdout.contains("would refuse") && stdout.contains(&format!("session {bot_pid}")), "{stdout}");
    drop(bot);

    // 2. A session inside a statement or transaction on the legacy interface.
    let reader = db.connect().await;
    reader.batch_execute("BEGIN; SELECT count(*) FROM profochat_legacy.run").await.unwrap();
    let reader_pid: i32 = reader.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0);
    let wait_gone = |pid: i32| {
        let c = &c;
        async move {
            for _ in 0..100 {
                let n: i64 = c.query_one("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", &[&pid]).await.unwrap().get(0);
                if n == 0 {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            panic!("session {pid} did not end");
        }
    };
    wait_gone(bot_pid).await;
    let (code, _, err) = finish(&[]);
    assert_eq!(code, 5, "{err}");
    assert!(err.contains(&format!("session {reader_pid}")) && err.contains("profochat_legacy"), "{err}");
    drop(reader);
    wait_gone(reader_pid).await;

    // 3. A legacy-shaped write (a course start on the public tables, as a bot that has
    //    not switched writes it), its session still connected, then gone.
    let writer = db.connect().await;
    writer
        .batch_execute("INSERT INTO run (chat_id, username, botname, course_id, is_ended) VALUES (424242, 'u', 'main_bot', 'intro', false)")
        .await
        .unwrap();
    let writer_pid: i32 = writer.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0);
    let (code, _, err) = finish(&[]);
    assert_eq!(code, 5, "{err}");
    assert!(err.contains(&format!("session {writer_pid}")) && err.contains("legacy-shaped write"), "{err}");
    drop(writer);
    wait_gone(writer_pid).await;
    let (code, _, err) = finish(&[]);
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("a legacy-shaped write arrived") && err.contains("quiet period of 10 min"), "{err}");
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let (code, _, err) = finish(&["--quiet-for", "1h"]);
    assert_eq!(code, 5, "{err}");
    assert!(count(&c, LEFTOVERS).await > 0, "nothing was changed");

    // --force finishes although a session of the legacy role is connected.
    let bot = profochat_saas::conn::connect(&as_bot).await.unwrap();
    let (code, out, err) = finish(&["--force"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(count(&c, LEFTOVERS).await, 0);
    drop(bot);
}

/// A quiet period shorter than the time since the last legacy-shaped write lets finish
/// run; the writes the application makes in the new shape are not counted.
#[tokio::test]
async fn finish_runs_once_the_legacy_writes_are_older_than_the_quiet_period() {
    let (db, mut c) = legacy_with_anomalies().await;
    migrate::migrate(&mut c, &opts(), &Silent).await.unwrap();
    // The application's write: with its bot and deployment.
    {
        let app = db.connect().await;
        app.batch_execute(
            "INSERT INTO run (chat_id, username, botname, course_id, is_ended, bot_id, deployment_id, account_id)
             SELECT 515151, 'u', b.bot_name, d.course_id, false, b.bot_id, d.deployment_id, 1
               FROM course_deployment d JOIN bot b ON b.bot_id = d.bot_id ORDER BY d.deployment_id LIMIT 1",
        )
        .await
        .unwrap();
    }
    assert_eq!(count(&c, "SELECT count(*) FROM profochat_saas.legacy_write").await, 0, "a write in the new shape is not legacy-shaped");
    {
        let bot = db.connect().await;
        bot.batch_execute("INSERT INTO run (chat_id, username, botname, course_id, is_ended) VALUES (616161, 'u', 'main_bot', 'intro', false)")
            .await
            .unwrap();
        // A second write within 10 seconds does not write the note again.
        bot.batch_execute("UPDATE run SET is_ended = true WHERE chat_id = 616161").await.unwrap();
    }
    assert_eq!(count(&c, "SELECT count(*) FROM profochat_saas.legacy_write").await, 1);
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let out = cli().args(["finish", "--yes", "--quiet-for", "2s", "--database-url", &db.url()]).assert().success();
    // No member, no token: it says that nothing shows the application switched.
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("nothing shows that the application uses the new schema"), "{err}");
    assert_eq!(count(&c, LEFTOVERS).await, 0);
    assert_eq!(count(&c, "SELECT count(*) FROM pg_class WHERE relname = 'legacy_write'").await, 0);
}
