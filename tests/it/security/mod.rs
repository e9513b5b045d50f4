//! The compatibility layer and the legacy interface, attacked by the weakest roles: a
//! role with only the legacy bot's rights (or rights on the interface only) shadowing
//! every name the layer uses in its temporary schema; a role with USAGE on the tool's
//! schemas calling every function directly; a leaky function reading the legacy views;
//! another account's ids in every write of the interface; same-named bots and courses
//! in a second account; enrolment under the legacy search_path.

use std::process::{Command, Stdio};

use profochat_saas::conn::{self, ConnSettings, Db};
use profochat_saas::migrate;
use profochat_saas::ops::{self, TokenOptions, TokenType};
use profochat_saas::report::Silent;
use profochat_saas::sql::{ident, literal};

use crate::harness::{self, TestDb};
use crate::migrate::{legacy_with_anomalies, opts};

mod accounts;
mod functions;

async fn migrated() -> (TestDb, Db) {
    let (db, mut c) = legacy_with_anomalies().await;
    migrate::migrate(&mut c, &opts(), &Silent).await.expect("migrate");
    (db, c)
}

const LEGACY_TABLES: &str =
    "conversation, run, waiting_element, course, course_element, courseparticipants, bannedparticipants, gen_settings";

/// A login role of its own for one test, dropped (with what it owns) at the end.
struct Role {
    name: String,
    settings: ConnSettings,
}

impl Role {
    /// `grants` are run by the owner with `{role}` replaced by the role's name.
    async fn create(db: &TestDb, owner: &Db, tag: &str, grants: &[&str]) -> Role {
        let name = format!("pcs_sec_{tag}_{}_{}", std::process::id(), rand::random::<u32>());
        owner.batch_execute(&format!("CREATE ROLE {} LOGIN", ident(&name))).await.expect("create role");
        let mut settings = db.settings.clone();
        settings.user = name.clone();
        let role = Role { name, settings };
        for g in grants {
            owner.batch_execute(&g.replace("{role}", &ident(&role.name))).await.unwrap_or_else(|e| panic!("{g}: {e}"));
        }
        role
    }

    async fn connect(&self) -> Db {
        conn::connect(&self.settings).await.expect("connect as the test role")
    }

    fn url(&self) -> String {
        self.settings.secret_url()
    }
}

impl Drop for Role {
    fn drop(&mut self) {
        let mut in_db = self.settings.clone();
        let admin = harness::admin();
        in_db.user = admin.user.clone();
        in_db.password = admin.password.clone();
        let name = self.name.clone();
        harness::block_on(async move {
            if let Ok(c) = conn::connect(&in_db).await {
                let _ = c.batch_execute(&format!("DROP OWNED BY {}", ident(&name))).await;
            }
            if let Ok(c) = conn::connect(&admin).await {
                let _ = c.batch_execute(&format!("DROP ROLE IF EXISTS {}", ident(&name))).await;
            }
        });
    }
}

fn sqlstate(e: &tokio_postgres::Error) -> String {
    e.code().map(|c| c.code().to_string()).unwrap_or_else(|| e.to_string())
}

async fn one_i64(c: &Db, sql: &str) -> i64 {
    c.query_one(sql, &[]).await.unwrap_or_else(|e| panic!("{sql}: {e}")).get(0)
}

async fn one_bool(c: &Db, sql: &str) -> bool {
    c.query_one(sql, &[]).await.unwrap_or_else(|e| panic!("{sql}: {e}")).get(0)
}

/// `pwn()` logs who ran it and tries to make the session's user a superuser; a temporary
/// view `account` runs it when read, and otherwise answers as the real one (the default
/// bot main_bot), so that a write whose bot is the default one goes through.
const PWN: &str = r#"
CREATE FUNCTION pg_temp.pwn() RETURNS boolean LANGUAGE plpgsql AS $pwn$
BEGIN
    INSERT INTO public.attack_log (who) VALUES (current_user::text);
    BEGIN
        EXECUTE format('ALTER ROLE %I SUPERUSER', session_user);
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
    RETURN true;
END $pwn$;
CREATE TEMP VIEW account AS
SELECT 1::int4 AS account_id, CASE WHEN pg_temp.pwn() THEN jsonb_build_object('default_bot', 'main_bot') END AS settings;
"#;

/// Every name the layer reads or writes, shadowed in the caller's temporary schema by a
/// view that runs `pg_temp.pwn()` when read, and every function name it calls by a
/// temporary function that does the same.
const SHADOW: &str = r#"
DROP VIEW pg_temp.account;
DO $do$
DECLARE
    t text;
    cols text;
    f text;
BEGIN
    FOREACH t IN ARRAY ARRAY['account', 'account_member', 'bot', 'course_deployment', 'enrollment_token', 'course',
                             'course_element', 'run', 'conversation', 'waiting_element', 'courseparticipants',
                             'bannedparticipants', 'gen_settings', 'legacy_course_map', 'legacy_course_name',
                             'legacy_hidden_course', 'legacy_course_copy', 'legacy_element_copy',
                             'legacy_conversation_run', 'migration', 'archive', 'change_log'] LOOP
        SELECT string_agg(format('NULL::%s AS %I', format_type(a.atttypid, a.atttypmod), a.attname), ', ' ORDER BY a.attnum)
          INTO cols
          FROM pg_attribute a
         WHERE a.attrelid = (SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                              WHERE c.relname = t AND n.nspname IN ('public', 'profochat_saas')
                              ORDER BY n.nspname = 'public' DESC LIMIT 1)
           AND a.attnum > 0 AND NOT a.attisdropped;
        EXECUTE format('CREATE TEMP VIEW %I AS SELECT %s WHERE pg_temp.pwn()', t, cols);
    END LOOP;
    FOREACH f IN ARRAY ARRAY['default_bot()', 'bot_id_for(text)', 'course_for(text, text)', 'course_for_write(text, text)',
                             'course_claim(text, text)', 'ensure_course(text, text)', 'deployment_for(text, int4)',
                             'start_payload(text)', 'md5(text)', 'now()', 'random()', 'current_setting(text, boolean)',
                             'hashint8(int8)', 'pg_advisory_xact_lock(int4, int4)', 'clock_timestamp()'] LOOP
        EXECUTE format('CREATE FUNCTION pg_temp.%s RETURNS boolean LANGUAGE sql AS %L', f, 'SELECT pg_temp.pwn()');
    END LOOP;
END $do$;
"#;

/// Every write of SPEC §1, into `schema`, for chat `chat` and a course published as `course`.
pub(crate) async fn legacy_writes(c: &Db, schema: &str, chat: i64, course: &str) {
    let s = schema;
    let run: i32 = c
        .query_one(
            &format!("INSERT INTO {s}.run (course_id, username, chat_id, botname, utm_source, utm_campaign) VALUES ('intro', 'mallory', {chat}, 'main_bot', 'ads', NULL) RETURNING run_id"),
            &[],
        )
        .await
        .expect("start a course")
        .get(0);
    c.query_one(
        &format!("INSERT INTO {s}.run (course_id, username, chat_id, botname, utm_source, utm_campaign) VALUES ('intro', 'mallory', {chat}, 'fresh_bot_{chat}', NULL, NULL) RETURNING run_id"),
        &[],
    )
    .await
    .expect("start a course on a new bot");
    c.query_one(
        &format!("INSERT INTO {s}.conversation (chat_id, course_id, username, element_id, element_type, run_id, json, role, report, score, maxscore) VALUES ({chat}, 'intro', 'mallory', 'e1', 'message', {run}, '{{}}', 'user', NULL, 1, 1) RETURNING conversation_id"),
        &[],
    )
    .await
    .expect("a message");
    let wait: i32 = c
        .query_one(
            &format!("INSERT INTO {s}.waiting_element (chat_id, waiting_till_date, is_waiting, element_id, course_id, botname) VALUES ({chat}, now(), TRUE, 'e2', 'intro', 'main_bot') RETURNING waiting_element_id"),
            &[],
        )
        .await
        .expect("a delay")
        .get(0);
    c.batch_execute(&format!("UPDATE {s}.waiting_element SET is_waiting = FALSE WHERE waiting_element_id = {wait}")).await.expect("delay done");
    c.batch_execute(&format!("UPDATE {s}.run SET is_ended = TRUE WHERE chat_id = {chat} AND botname = 'main_bot' AND course_id = 'intro'"))
        .await
        .expect("course end");
    c.batch_execute(&format!(
        "INSERT INTO {s}.bannedparticipants (botname, chat_id, ban_reason)
         SELECT 'main_bot', chat_id, 'spam' FROM (SELECT DISTINCT c.chat_id FROM {s}.conversation c JOIN {s}.run r ON r.run_id = c.run_id
                                                   WHERE r.botname = 'main_bot' AND c.chat_id = {chat}) x
          WHERE chat_id NOT IN (SELECT chat_id FROM {s}.bannedparticipants WHERE botname = 'main_bot' AND chat_id IS NOT NULL)"
    ))
    .await
    .expect("auto-ban");
    let course = literal(course);
    c.batch_execute(&format!(
        "DELETE FROM {s}.course_element WHERE course_id = {course} AND bot_name = 'main_bot';
         DELETE FROM {s}.course WHERE course_id = {course} AND bot_name = 'main_bot';
         INSERT INTO {s}.course (course_id, bot_name, creator_id, yaml) VALUES ({course}, 'main_bot', 1, 'name: published');"
    ))
    .await
    .expect("publish a course");
    c.query_one(
        &format!("INSERT INTO {s}.course_element (bot_name, course_id, element_id, json, element_type) VALUES ('main_bot', {course}, 'p1', '{{}}', 'message') RETURNING course_element_id"),
        &[],
    )
    .await
    .expect("publish an element");
}

/// What the writes of [`legacy_writes`] must have linked in the public tables.
pub(crate) async fn assert_written_with_links(c: &Db, chat: i64, course: &str) {
    let main = "(SELECT bot_id FROM bot WHERE account_id = 1 AND bot_name = 'main_bot')";
    let dep = format!("(SELECT deployment_id FROM course_deployment WHERE account_id = 1 AND course_id = 'intro' AND bot_id = {main})");
    assert!(
        one_bool(c, &format!(
            "SELECT count(*) = 1 AND bool_and(account_id = 1 AND bot_id = {main} AND deployment_id = {dep} AND is_ended AND NOT is_active)
               FROM run WHERE chat_id = {chat} AND botname = 'main_bot'"
        ))
        .await,
        "the run of chat {chat} is account 1's, on main_bot's intro deployment, ended"
    );
    assert!(
        one_bool(c, &format!(
            "SELECT count(*) = 1 AND bool_and(r.account_id = 1 AND r.bot_id = b.bot_id AND b.account_id = 1)
               FROM run r JOIN bot b ON b.bot_id = r.bot_id WHERE r.chat_id = {chat} AND r.botname = 'fresh_bot_{chat}' AND b.bot_name = 'fresh_bot_{chat}'"
        ))
        .await,
        "a run under a new bot name made an account-1 bot"
    );
    assert!(
        one_bool(c, &format!(
            "SELECT count(*) = 1 AND bool_and(c.account_id = 1 AND c.run_id = r.run_id)
               FROM conversation c JOIN run r ON r.chat_id = {chat} AND r.botname = 'main_bot' WHERE c.chat_id = {chat}"
        ))
        .await,
        "the message of chat {chat} is linked to its run"
    );
    assert!(
        one_bool(c, &format!(
            "SELECT count(*) = 1 AND bool_and(w.account_id = 1 AND w.bot_id = {main} AND w.run_id = r.run_id AND w.is_waiting = false)
               FROM waiting_element w JOIN run r ON r.chat_id = {chat} AND r.botname = 'main_bot' WHERE w.chat_id = {chat}"
        ))
        .await,
        "the delay of chat {chat} is linked and done"
    );
    assert!(
        one_bool(c, &format!("SELECT count(*) = 1 AND bool_and(account_id = 1 AND bot_id = {main}) FROM bannedparticipants WHERE chat_id = {chat}")).await,
        "the ban of chat {chat} is main_bot's"
    );
    let course = literal(course);
    assert!(
        one_bool(c, &format!(
            "SELECT count(*) = 1 AND bool_and(c.account_id = 1 AND c.yaml = 'name: published'
                    AND EXISTS (SELECT 1 FROM course_deployment d WHERE d.course_id = c.course_id AND d.account_id = 1 AND d.bot_id = {main})
                    AND (SELECT count(*) FROM course_element e WHERE e.course_id = c.course_id AND e.account_id = 1) = 1)
               FROM course c WHERE c.course_id = {course}"
        ))
        .await,
        "the published course {course} is account 1's, deployed to main_bot, with its element"
    );
}

/// `psql` as `role`, its NOTICEs on stderr.
fn psql_as(role: &Role, sql: &str) -> (bool, String, String) {
    let tool = profochat_saas::server::find_tool("psql", None).expect("psql");
    let o = Command::new(tool.path)
        .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", &role.url(), "-c", sql])
        .stdin(Stdio::null())
        .output()
        .expect("psql");
    (o.status.success(), String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}
