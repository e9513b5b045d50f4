//! Security seen from the roles around a migrated database (SPEC §4): the DDL guard by
//! object identity (refuses what breaks the layer, passes every other role's and
//! schema's DDL, no setting any role may set turns it off), the legacy bot's role moved
//! from the public tables to the legacy interface, tenant isolation by row-level
//! security, and missing privileges as exit status 4 on every command.

use profochat_saas::conn::{self, ConnSettings, Db};
use profochat_saas::migrate;
use profochat_saas::report::Silent;

use crate::harness::{admin, cli, TestDb};
use crate::migrate::{catalog, legacy_with_anomalies, opts};

/// A login role with a unique name, dropped (with what it owns and its grants in the
/// test database) at the end.
pub struct TestRole {
    pub name: String,
    db: ConnSettings,
}

impl TestRole {
    pub async fn create(db: &TestDb, what: &str) -> TestRole {
        let name = format!("pcs_{what}_{}_{}", std::process::id(), rand::random::<u16>());
        let c = db.connect().await;
        c.batch_execute(&format!("CREATE ROLE {name} LOGIN; GRANT CONNECT ON DATABASE \"{}\" TO {name};", db.name))
            .await
            .unwrap();
        TestRole { name, db: db.settings.clone() }
    }

    pub fn settings(&self) -> ConnSettings {
        let mut s = self.db.clone();
        s.user = self.name.clone();
        s.password = None;
        s
    }

    pub fn url(&self) -> String {
        self.settings().secret_url()
    }

    pub async fn connect(&self) -> Db {
        conn::connect(&self.settings()).await.expect("connect as the test role")
    }
}

impl Drop for TestRole {
    fn drop(&mut self) {
        let name = self.name.clone();
        let admin = admin();
        let db = self.db.clone();
        crate::harness::block_on(async move {
            if let Ok(c) = conn::connect(&db).await {
                let _ = c.batch_execute(&format!("SET profochat_saas.allow_ddl = on; DROP OWNED BY {name} CASCADE")).await;
            }
            if let Ok(c) = conn::connect(&admin).await {
                for _ in 0..50 {
                    match c.batch_execute(&format!("DROP ROLE IF EXISTS {name}")).await {
                        Ok(_) => break,
                        Err(_) => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
                    }
                }
            }
        });
    }
}

const REFUSED: &str = "refused until `profochat-saas finish`";

async fn count(c: &Db, sql: &str) -> i64 {
    c.query_one(sql, &[]).await.unwrap_or_else(|e| panic!("{sql}: {e}")).get(0)
}

async fn migrated() -> (TestDb, Db) {
    let (db, mut c) = legacy_with_anomalies().await;
    migrate::migrate(&mut c, &opts(), &Silent).await.unwrap();
    (db, c)
}

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
         CREATE TABLE app_table (id int); ALTER TABLE app_table ADD COLUMN x int; DROP TABLE app_table;",
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

/// A role with the legacy bot's usual rights: read and write the 8 legacy tables and
/// use their sequences, granted before the migration (the legacy interface gives it
/// the same rights on its views).
async fn legacy_bot_role(db: &TestDb, c: &Db) -> TestRole {
    let bot = TestRole::create(db, "legacybot").await;
    c.batch_execute(&format!(
        "GRANT USAGE ON SCHEMA public TO {0};
         GRANT SELECT, INSERT, UPDATE, DELETE ON conversation, run, waiting_element, course, course_element,
                                                courseparticipants, bannedparticipants, gen_settings TO {0};
         GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {0};
         GRANT SELECT ON course TO {0} WITH GRANT OPTION;",
        bot.name
    ))
    .await
    .unwrap();
    bot
}

/// The role's own grants on the tables, views and sequences of the public schema and
/// the legacy interface, as the catalog lists them.
async fn grants(c: &Db, role: &str) -> Vec<String> {
    c.query(
        "SELECT table_schema || '.' || table_name || ' ' || privilege_type || ' ' || is_grantable
           FROM information_schema.role_table_grants WHERE grantee = $1
         UNION ALL
         SELECT n.nspname || '.' || s.relname || ' ' || x.privilege_type || ' ' || x.is_grantable
           FROM pg_class s JOIN pg_namespace n ON n.oid = s.relnamespace CROSS JOIN LATERAL aclexplode(s.relacl) x
          WHERE s.relkind = 'S' AND x.grantee = (SELECT oid FROM pg_roles WHERE rolname = $1)
         ORDER BY 1",
        &[&role],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

fn public_only(g: &[String]) -> Vec<String> {
    g.iter().filter(|l| l.starts_with("public.")).cloned().collect()
}

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

/// Account 2, written by the new application: a bot, a course, a deployment, a run, a
/// message, a waiting element, a ban, a participant, a setting, an element.
const ACCOUNT_2: &str = "
    INSERT INTO account (account_id, name, slug) VALUES (2, 'Second', 'second');
    INSERT INTO bot (bot_id, account_id, bot_name, bot_token, display_name) VALUES (900, 2, 'second_account_bot', 'tok-900', 'Second');
    INSERT INTO course (course_id, bot_name, account_id, yaml) VALUES ('acc2_course', 'second_account_bot', 2, 'account 2');
    INSERT INTO course_element (course_id, account_id, bot_name, element_id, json) VALUES ('acc2_course', 2, 'second_account_bot', 'x1', '{}');
    INSERT INTO course_deployment (deployment_id, course_id, account_id, bot_id) VALUES (900, 'acc2_course', 2, 900);
    INSERT INTO run (run_id, chat_id, botname, course_id, account_id, bot_id, deployment_id) VALUES (90000, 100, 'second_account_bot', 'acc2_course', 2, 900, 900);
    INSERT INTO conversation (chat_id, course_id, run_id, account_id, element_id) VALUES (100, 'acc2_course', 90000, 2, 'x1');
    INSERT INTO waiting_element (chat_id, course_id, botname, account_id, bot_id, run_id) VALUES (100, 'acc2_course', 'second_account_bot', 2, 900, 90000);
    INSERT INTO bannedparticipants (botname, chat_id, account_id, bot_id, excluded) VALUES ('second_account_bot', 100, 2, 900, 0);
    INSERT INTO courseparticipants (course_id, username, account_id) VALUES ('acc2_course', 'alice', 2);
    INSERT INTO gen_settings (id, bot_name, s_key, s_value, account_id, bot_id) VALUES (900, 'second_account_bot', 'allowed', '9', 2, 900);";

/// Rows per account of every table with account_id, as the owner sees them.
async fn rows_by_account(c: &Db) -> Vec<String> {
    let mut out = vec![];
    for t in tables_with_account_id(c).await {
        let rows = c
            .query(&format!("SELECT account_id, md5(string_agg(x::text, '|' ORDER BY x::text)) FROM {t} x GROUP BY 1 ORDER BY 1"), &[])
            .await
            .unwrap();
        for r in rows {
            out.push(format!("{t} {:?} {}", r.get::<_, Option<i32>>(0), r.get::<_, String>(1)));
        }
    }
    out
}

async fn tables_with_account_id(c: &Db) -> Vec<String> {
    c.query(
        "SELECT c.relname::text FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'account_id'
          WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' ORDER BY 1",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

/// `tenant isolate --role app`: with profochat.account_id = 2 the role sees and changes
/// none of account 1's rows and vice versa, unset it sees none; enrol works under it;
/// other roles and the tool are not affected; validate checks the policies; --undo
/// removes them.
#[tokio::test]
async fn tenant_isolation_keeps_each_account_to_its_own_rows() {
    let (db, mut c) = migrated().await;
    c.batch_execute(ACCOUNT_2).await.unwrap();
    let app = TestRole::create(&db, "app").await;
    let other = TestRole::create(&db, "reporting").await;
    c.batch_execute(&format!(
        "GRANT USAGE ON SCHEMA public, profochat_saas TO {0}, {1};
         GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {0};
         GRANT SELECT ON ALL TABLES IN SCHEMA public TO {1};
         GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {0};
         GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA profochat_saas TO {0};",
        app.name, other.name
    ))
    .await
    .unwrap();
    let tables = tables_with_account_id(&c).await;
    assert!(tables.len() >= 12, "{tables:?}");

    // Changing: asks first; no terminal and no --yes is refused.
    cli().args(["tenant", "isolate", "--role", &app.name, "--database-url", &db.url()]).assert().code(5);
    let out = cli().args(["tenant", "isolate", "--role", &app.name, "--yes", "--database-url", &db.url()]).assert().success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(stdout.contains(&format!("isolated on {} table(s)", tables.len())), "{stdout}");
    assert!(stdout.contains("SET LOCAL profochat.account_id"), "{stdout}");
    let before = rows_by_account(&c).await;

    let a = app.connect().await;
    // Unset: no row at all.
    for t in &tables {
        assert_eq!(count(&a, &format!("SELECT count(*) FROM {t}")).await, 0, "{t} with no account set");
    }
    a.batch_execute("BEGIN; SET LOCAL profochat.account_id = ''").await.unwrap();
    assert_eq!(count(&a, "SELECT count(*) FROM run").await, 0, "empty: no row");
    a.batch_execute("COMMIT").await.unwrap();
    for (mine, theirs) in [(2, 1), (1, 2)] {
        a.batch_execute(&format!("BEGIN; SET LOCAL profochat.account_id = {mine}")).await.unwrap();
        for t in &tables {
            assert_eq!(count(&a, &format!("SELECT count(*) FROM {t} WHERE account_id IS DISTINCT FROM {mine}")).await, 0, "{t} as {mine}");
            assert!(count(&a, &format!("SELECT count(*) FROM {t}")).await > 0 || *t == "account_member" || *t == "enrollment_token", "{t}: account {mine} sees its own rows");
        }
        let changed = a.execute(&format!("UPDATE run SET username = username WHERE account_id = {theirs}"), &[]).await.unwrap();
        assert_eq!(changed, 0, "account {mine} changes none of account {theirs}'s runs");
        let changed = a.execute(&format!("DELETE FROM conversation WHERE account_id = {theirs}"), &[]).await.unwrap();
        assert_eq!(changed, 0);
        a.batch_execute("SAVEPOINT s").await.unwrap();
        let e = a
            .batch_execute(&format!("INSERT INTO gen_settings (bot_name, s_key, s_value, account_id) VALUES ('x', 'k', 'v', {theirs})"))
            .await
            .expect_err("a row of the other account is refused");
        assert_eq!(e.code().map(|c| c.code()), Some("42501"), "{e}");
        a.batch_execute("ROLLBACK TO SAVEPOINT s").await.unwrap();
        let e = a
            .batch_execute(&format!("UPDATE bot SET account_id = {theirs}"))
            .await
            .expect_err("moving a row to the other account is refused");
        assert_eq!(e.code().map(|c| c.code()), Some("42501"), "{e}");
        a.batch_execute("ROLLBACK").await.unwrap();
    }
    assert_eq!(rows_by_account(&c).await, before, "nothing of either account changed");

    // A role that was not isolated reads what it did; the tool's own commands too.
    let o = other.connect().await;
    assert!(count(&o, "SELECT count(*) FROM run WHERE account_id = 1").await > 0);
    assert_eq!(count(&o, "SELECT count(*) FROM run WHERE account_id = 2").await, 1);
    drop(o);
    cli().args(["bot", "list", "--database-url", &db.url()]).assert().success();

    // enrol under row-level security, called by the isolated role for its account.
    let dep = profochat_saas::ops::deployment_for(&c.client, "intro", "main_bot", 1).await.unwrap().expect("intro on main_bot");
    let token = profochat_saas::ops::create_token(&c.client, dep.deployment_id, profochat_saas::ops::TokenType::Public, Default::default())
        .await
        .unwrap();
    a.batch_execute("BEGIN; SET LOCAL profochat.account_id = 1").await.unwrap();
    let run_id: i32 = a
        .query_one("SELECT run_id FROM profochat_saas.enrol($1, 777001, 'student', 'main_bot')", &[&token.payload.expose()])
        .await
        .expect("enrol under row-level security")
        .get(0);
    assert_eq!(count(&a, &format!("SELECT count(*) FROM run WHERE run_id = {run_id} AND chat_id = 777001")).await, 1, "the role sees the run enrol started");
    a.batch_execute("COMMIT").await.unwrap();

    // validate checks the policies: one dropped is a critical failure naming it.
    cli().args(["validate", "--database-url", &db.url()]).assert().success();
    let oid: u32 = c.query_one("SELECT oid FROM pg_roles WHERE rolname = $1", &[&app.name]).await.unwrap().get(0);
    c.batch_execute(&format!("DROP POLICY profochat_tenant_{oid} ON waiting_element")).await.unwrap();
    let out = cli().args(["validate", "--database-url", &db.url()]).assert().code(6);
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(stdout.contains("security.tenant_isolation") && stdout.contains("waiting_element: no restrictive account policy"), "{stdout}");
    cli().args(["tenant", "isolate", "--role", &app.name, "--yes", "--database-url", &db.url()]).assert().success();
    cli().args(["validate", "--database-url", &db.url()]).assert().success();

    // --undo: the role sees every account again, row-level security is off.
    cli().args(["tenant", "isolate", "--role", &app.name, "--undo", "--yes", "--database-url", &db.url()]).assert().success();
    assert_eq!(count(&a, "SELECT count(*) FROM run WHERE account_id = 2").await, 1);
    assert_eq!(count(&c, "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relrowsecurity").await, 0);
    assert_eq!(count(&c, "SELECT count(*) FROM pg_policy WHERE polname LIKE 'profochat_tenant%'").await, 0);
    drop(a);
    cli().args(["validate", "--database-url", &db.url()]).assert().success();
    // A superuser is refused: row-level security never applies to it.
    let a = cli().args(["tenant", "isolate", "--role", &db.settings.user, "--yes", "--database-url", &db.url()]).assert().code(5);
    assert!(String::from_utf8_lossy(&a.get_output().stderr).contains("superuser"));
    let _ = &mut c;
}

/// Rollback removes the isolation first (its policies name account_id).
#[tokio::test]
async fn rollback_removes_the_tenant_isolation() {
    let (db, c) = migrated().await;
    let app = TestRole::create(&db, "apprb").await;
    cli().args(["tenant", "isolate", "--role", &app.name, "--yes", "--database-url", &db.url()]).assert().success();
    cli().args(["rollback", "--yes", "--database-url", &db.url()]).assert().success();
    assert_eq!(count(&c, "SELECT count(*) FROM pg_policy WHERE polname LIKE 'profochat_tenant%'").await, 0);
    assert_eq!(count(&c, "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relrowsecurity").await, 0);
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

/// The legacy bot's role, switched to the legacy interface (after a YAML import) and
/// isolated by `tenant isolate` too: the interface is account 1's by construction (its
/// views and write functions run as the tool's role, which no role's policy restricts),
/// so every §1 statement through it works for account 1 whatever the role's
/// profochat.account_id says, and reaches no row of account 2; the public tables stay
/// closed to it.
#[tokio::test]
async fn an_isolated_legacy_role_works_through_the_interface_for_account_1_alone() {
    let (db, c) = legacy_with_anomalies().await;
    c.batch_execute(crate::courses_yml::LEGACY).await.unwrap();
    let bot = legacy_bot_role(&db, &c).await;
    cli()
        .args(["migrate", "--yes", "--skip-backup", "--default-bot", "main_bot", "--legacy-role", &bot.name, "--database-url", &db.url()])
        .args(crate::courses_yml::args())
        .assert()
        .success();
    c.batch_execute(ACCOUNT_2).await.unwrap();
    let out = cli().args(["tenant", "isolate", "--role", &bot.name, "--yes", "--database-url", &db.url()]).assert().success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(stdout.contains("legacy interface"), "isolating the legacy bot's role says what it changes: {stdout}");
    let account2 = rows_by_account(&c).await.into_iter().filter(|r| r.contains(" Some(2) ")).collect::<Vec<_>>();

    let mut chat = 616100;
    for setting in [None, Some("2"), Some("1"), Some(""), Some("not a number")] {
        chat += 1;
        let b = bot.connect().await;
        // The role's own search_path (the interface's), which the tool's connections replace.
        b.batch_execute("RESET search_path").await.unwrap();
        if let Some(s) = setting {
            b.execute("SELECT set_config('profochat.account_id', $1, false)", &[&s]).await.unwrap();
        }
        let runs = count(&b, "SELECT count(*) FROM run").await;
        assert_eq!(runs, count(&c, "SELECT count(*) FROM profochat_legacy.run").await, "with {setting:?} the interface shows account 1's runs");
        assert_eq!(count(&b, "SELECT count(*) FROM run WHERE botname = 'second_account_bot'").await, 0);
        assert_eq!(count(&b, "SELECT count(*) FROM course_element WHERE course_id = 'db_course'").await, 1, "{setting:?}");
        crate::security::legacy_writes(&b, "profochat_legacy", chat, &format!("iso_{chat}")).await;
        crate::security::assert_written_with_links(&c, chat, &format!("iso_{chat}")).await;
        for sql in ["SELECT count(*) FROM public.run", "SELECT count(*) FROM public.course"] {
            let e = b.batch_execute(sql).await.expect_err(sql);
            // Not a number: its policy's cast may fail before the missing privilege shows.
            let expected = if setting == Some("not a number") { ["42501", "22P02"] } else { ["42501", "42501"] };
            assert!(e.code().is_some_and(|c| expected.contains(&c.code())), "{sql}: {e}");
        }
    }
    let after = rows_by_account(&c).await.into_iter().filter(|r| r.contains(" Some(2) ")).collect::<Vec<_>>();
    assert_eq!(after, account2, "nothing of account 2 changed");
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
