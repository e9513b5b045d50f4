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
