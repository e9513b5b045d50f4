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
