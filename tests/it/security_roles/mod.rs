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

mod guard;
mod rights;
mod tenant;

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
