//! The DDL guard: each form refused on the layer's objects, no setting any role may set
//! turns it off, every other role's and schema's DDL passes.

use super::*;

/// Every form of schema change that would break the layer silently, by the owner of
/// everything (the migrating superuser), without the override: refused naming finish,
/// and the catalog is as it was.
#[tokio::test]
async fn the_guard_refuses_each_ddl_form_on_the_layers_objects_naming_finish() {
    let (_db, c) = migrated().await;
    let before = catalog(&c).await;
    for ddl in [
        "DROP TRIGGER profochat_saas_compat ON run",
        "DROP TRIGGER profochat_saas_compat ON public.gen_settings",
        "DROP FUNCTION profochat_saas.compat_run() CASCADE",
        "DROP FUNCTION profochat_saas.legacy_run_write() CASCADE",
        "DROP VIEW profochat_legacy.run",
        "DROP VIEW profochat_legacy.conversation CASCADE",
        "DROP SCHEMA profochat_legacy CASCADE",
        "CREATE RULE swallow AS ON INSERT TO run DO INSTEAD NOTHING",
        "CREATE RULE swallow AS ON INSERT TO profochat_legacy.run DO INSTEAD NOTHING",
        "CREATE TRIGGER sneak BEFORE UPDATE ON run FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()",
        "CREATE TRIGGER sneak BEFORE UPDATE ON bot FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()",
        "CREATE CONSTRAINT TRIGGER sneak AFTER INSERT ON conversation FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()",
        "CREATE TRIGGER sneak INSTEAD OF UPDATE ON profochat_legacy.run FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()",
        "DROP SEQUENCE run_run_id_seq1 CASCADE",
        "DROP SEQUENCE conversation_conversation_id_seq CASCADE",
        "ALTER SEQUENCE run_run_id_seq1 RENAME TO run_seq",
        "ALTER TABLE run ADD COLUMN x int",
        "ALTER TABLE run DISABLE TRIGGER profochat_saas_compat",
        "ALTER TABLE run ALTER COLUMN botname DROP DEFAULT",
        "ALTER TABLE run RENAME TO runs",
        "ALTER TABLE run RENAME COLUMN botname TO bot",
        "ALTER TABLE bot RENAME TO bots",
        "ALTER TABLE course_deployment DROP COLUMN is_active CASCADE",
        "ALTER VIEW profochat_legacy.run RENAME TO runs",
        "ALTER SCHEMA profochat_legacy RENAME TO legacy",
        "ALTER FUNCTION profochat_saas.compat_run() RENAME TO compat_run_old",
        "ALTER TRIGGER profochat_saas_compat ON run RENAME TO compat_old",
        "DROP TABLE gen_settings CASCADE",
        "DROP TABLE profochat_saas.legacy_course_map",
    ] {
        let e = c.batch_execute(ddl).await.expect_err(ddl);
        let db = e.as_db_error().unwrap_or_else(|| panic!("{ddl}: {e}"));
        assert!(db.message().contains(REFUSED), "{ddl}: {}", db.message());
        assert!(db.hint().unwrap_or_default().contains("profochat-saas finish"), "{ddl}");
    }
    assert_eq!(catalog(&c).await, before, "every refused statement was rolled back");
    // The legacy bot's write still gets its links.
    c.batch_execute("INSERT INTO run (chat_id, botname, course_id) VALUES (424242, 'main_bot', 'intro')").await.unwrap();
    assert_eq!(count(&c, "SELECT count(*) FROM run WHERE chat_id = 424242 AND bot_id IS NOT NULL AND account_id = 1").await, 1);
    // Index builds stay allowed, and so do COMMENT and GRANT.
    c.batch_execute("CREATE INDEX app_run_username ON run (username); DROP INDEX app_run_username; COMMENT ON TABLE run IS 'runs'")
        .await
        .unwrap();
}

/// The owner's override counts for the owning role only: any role may set it, and for
/// the legacy tables' own (non-superuser) owner it changes nothing.
#[tokio::test]
async fn the_override_setting_does_not_disable_the_guard_for_a_role_that_is_not_the_tools() {
    let (db, mut c) = legacy_with_anomalies().await;
    let owner = TestRole::create(&db, "tblown").await;
    for t in profochat_saas::sql::LEGACY_TABLES {
        c.batch_execute(&format!("ALTER TABLE {t} OWNER TO {}", owner.name)).await.unwrap();
    }
    migrate::migrate(&mut c, &opts(), &Silent).await.unwrap();
    let before = catalog(&c).await;
    let o = owner.connect().await;
    for ddl in [
        "ALTER TABLE run ADD COLUMN x int",
        "DROP TRIGGER profochat_saas_compat ON run",
        "CREATE RULE swallow AS ON INSERT TO run DO INSTEAD NOTHING",
        "CREATE TRIGGER sneak BEFORE UPDATE ON run FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()",
        "ALTER TABLE run DISABLE TRIGGER profochat_saas_compat",
        "ALTER TABLE run RENAME COLUMN botname TO bot",
    ] {
        for setting in ["SET profochat_saas.allow_ddl = on", "SET LOCAL profochat_saas.allow_ddl = on"] {
            let sql = format!("BEGIN; {setting}; {ddl}; COMMIT");
            let e = o.batch_execute(&sql).await.expect_err(&sql);
            let _ = o.batch_execute("ROLLBACK").await;
            assert!(e.as_db_error().map(|d| d.message().contains(REFUSED)).unwrap_or(false), "{sql}: {e}");
        }
    }
    drop(o);
    assert_eq!(catalog(&c).await, before);
    // The tool's owning role may, for one transaction.
    c.batch_execute("BEGIN; SET LOCAL profochat_saas.allow_ddl = on; ALTER TABLE run ADD COLUMN x int; ROLLBACK").await.unwrap();
    let e = c.batch_execute("ALTER TABLE run ADD COLUMN x int").await.expect_err("the override lasted one transaction");
    assert!(e.as_db_error().unwrap().message().contains(REFUSED));
}

/// Another role's and another schema's DDL is never failed by the guard: an
/// unprivileged role's own tables and temporary tables (named like the guarded ones),
/// and a superuser's tables of the same names in another schema.
#[tokio::test]
async fn the_guard_never_fails_another_roles_or_another_schemas_ddl() {
    let (db, c) = migrated().await;
    let app = TestRole::create(&db, "appddl").await;
    c.batch_execute(&format!("CREATE SCHEMA app_own AUTHORIZATION {0}", app.name)).await.unwrap();
    let a = app.connect().await;
    a.batch_execute(
        "CREATE TABLE app_own.run (id int); ALTER TABLE app_own.run ADD COLUMN x int; ALTER TABLE app_own.run RENAME COLUMN x TO y;
         CREATE RULE r AS ON INSERT TO app_own.run DO INSTEAD NOTHING;
         CREATE TRIGGER t BEFORE UPDATE ON app_own.run FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger();
         ALTER TABLE app_own.run RENAME TO bot; DROP TABLE app_own.bot;
         CREATE TEMP TABLE run (id int); ALTER TABLE pg_temp.run ADD COLUMN x int; DROP TABLE pg_temp.run;
         CREATE TEMP TABLE conversation (id serial); ALTER TABLE pg_temp.conversation RENAME TO c2; DROP TABLE pg_temp.c2;
         CREATE FUNCTION app_own.compat_run() RETURNS int LANGUAGE sql AS 'SELECT 1'; DROP FUNCTION app_own.compat_run();
         CREATE SEQUENCE app_own.run_run_id_seq1; DROP SEQUENCE app_own.run_run_id_seq1 CASCADE;",
    )
    .await
    .expect("an unprivileged role's own DDL");
    drop(a);
    c.batch_execute(
        "CREATE SCHEMA other_schema; CREATE TABLE other_schema.bot (id int); CREATE TABLE other_schema.run (id int);
         ALTER TABLE other_schema.run ADD COLUMN x int; CREATE VIEW other_schema.v AS SELECT 1 AS one;
         DROP TABLE other_schema.bot; DROP TABLE other_schema.run CASCADE; DROP SCHEMA other_schema CASCADE;
         CREATE TABLE app_table (id int); ALTER TABLE app_table ADD COLUMN x int; DROP TABLE app_table;
         CREATE TABLE app_ref (id int, account_id int4 REFERENCES account (account_id)); DROP TABLE app_ref;",
    )
    .await
    .expect("a superuser's DDL in another schema");
}

/// An upstream migration applied before finish stops at its first change of a guarded
/// table, naming finish, and changes nothing; after finish the schema is the
/// application's.
#[tokio::test]
async fn an_upstream_migration_before_finish_is_refused_naming_finish() {
    let (db, c) = migrated().await;
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/upstream/migrations/0004_course_id_to_int.sql");
    let Ok(sql) = std::fs::read_to_string(&path) else {
        eprintln!("skipped: {} is not there", path.display());
        return;
    };
    let before = catalog(&c).await;
    let e = c.batch_execute(&sql).await.expect_err("0004 before finish");
    let _ = c.batch_execute("ROLLBACK").await;
    let text = e.as_db_error().map(|d| d.message().to_string()).unwrap_or_else(|| e.to_string());
    assert!(text.contains(REFUSED), "{text}");
    assert_eq!(catalog(&c).await, before);
    cli().args(["finish", "--yes", "--database-url", &db.url()]).assert().success();
    c.batch_execute("ALTER TABLE course ADD COLUMN course_id_int int4; ALTER TABLE course DROP COLUMN course_id_int").await.unwrap();
}

/// The guard's list names only objects that exist: the online migration's change log,
/// dropped after the switch, leaves no oid behind for another role's object to inherit
/// (whose DDL the guard would then refuse).
#[tokio::test]
async fn the_guards_list_names_no_dropped_object() {
    let (db, c) = legacy_with_anomalies().await;
    cli().args(["migrate", "--yes", "--skip-backup", "--default-bot", "main_bot", "--database-url", &db.url()]).assert().success();
    assert!(count(&c, "SELECT count(*) FROM profochat_saas.guarded_object").await > 50);
    let stale: Vec<String> = c
        .query(
            "SELECT identity FROM profochat_saas.guarded_object g WHERE (pg_identify_object(g.classid, g.objid, 0)).identity IS NULL ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(stale.is_empty(), "the guard's list names dropped objects: {stale:?}");
}

/// What the layer added later depends on is guarded too: the record of legacy-shaped
/// writes (every compatibility trigger notes into it), its function, and the elements a
/// YAML import hid from the legacy view; the tool's own records made later
/// (`tenant isolate`) are not the layer's and stay the owner's to change.
#[tokio::test]
async fn the_guard_covers_the_write_note_and_the_hidden_elements() {
    let db = TestDb::legacy().await;
    let c = db.connect().await;
    c.batch_execute(crate::courses_yml::LEGACY).await.unwrap();
    cli()
        .args(["migrate", "--yes", "--skip-backup", "--default-bot", "bot_a", "--database-url", &db.url()])
        .args(crate::courses_yml::args())
        .assert()
        .success();
    let app = TestRole::create(&db, "guardapp").await;
    cli().args(["tenant", "isolate", "--role", &app.name, "--yes", "--database-url", &db.url()]).assert().success();
    assert!(count(&c, "SELECT count(*) FROM profochat_saas.legacy_hidden_element").await > 0, "the import hid elements");
    let before = catalog(&c).await;
    for ddl in [
        "DROP TABLE profochat_saas.legacy_write",
        "ALTER TABLE profochat_saas.legacy_write RENAME TO lw",
        "DROP FUNCTION profochat_saas.note_legacy_write() CASCADE",
        "DROP TABLE profochat_saas.legacy_hidden_element CASCADE",
        "ALTER TABLE profochat_saas.legacy_hidden_element ADD COLUMN x int",
    ] {
        let e = c.batch_execute(ddl).await.expect_err(ddl);
        let d = e.as_db_error().unwrap_or_else(|| panic!("{ddl}: {e}"));
        assert!(d.message().contains(REFUSED), "{ddl}: {}", d.message());
    }
    assert_eq!(catalog(&c).await, before);
    c.batch_execute("INSERT INTO run (chat_id, botname, course_id) VALUES (434343, 'bot_a', 'db_course')").await.unwrap();
    assert_eq!(count(&c, "SELECT count(*) FROM profochat_saas.legacy_write WHERE pid = pg_backend_pid()").await, 1, "the write was noted");
    c.batch_execute("ALTER TABLE profochat_saas.tenant_isolation ADD COLUMN note text; ALTER TABLE profochat_saas.tenant_isolation DROP COLUMN note")
        .await
        .expect("the tool's own record, not the layer's");
}
