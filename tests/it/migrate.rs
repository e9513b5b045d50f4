//! `migrate`: every derivation rule of SPEC §3 on a dataset with every anomaly,
//! atomicity under injected failures, idempotency, dry runs, partly migrated
//! databases, and the legacy bot's statements after the migration.

use predicates::prelude::*;
use profochat_saas::conn::Db;
use profochat_saas::fingerprint;
use profochat_saas::migrate::{self, MigrateOptions, Orphans, Outcome};
use profochat_saas::plan;
use profochat_saas::report::Silent;

use crate::harness::{cli, TestDb};

pub const ANOMALIES: &str = include_str!("data/anomalies.sql");

pub fn opts() -> MigrateOptions {
    MigrateOptions {
        default_bot: Some("main_bot".into()),
        index_jobs: 2,
        ..MigrateOptions::default()
    }
}

pub async fn legacy_with_anomalies() -> (TestDb, Db) {
    let db = TestDb::legacy().await;
    let c = db.connect().await;
    c.batch_execute(ANOMALIES).await.expect("anomalies dataset");
    (db, c)
}

/// Everything in the catalog that a migration could add or change.
pub async fn catalog(c: &Db) -> Vec<String> {
    let rows = c
        .query(
            "SELECT 'rel ' || n.nspname || '.' || c.relname || ' ' || c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%'
             UNION ALL SELECT 'col ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
               FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
               LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
              WHERE n.nspname = 'public' AND a.attnum > 0 AND NOT a.attisdropped
             UNION ALL SELECT 'con ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE connamespace = 'public'::regnamespace
             UNION ALL SELECT 'trg ' || tgrelid::regclass || ' ' || tgname FROM pg_trigger WHERE NOT tgisinternal
             UNION ALL SELECT 'fn ' || p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_temp%'
             UNION ALL SELECT 'nsp ' || nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg_%' AND nspname <> 'information_schema'
             UNION ALL SELECT 'seq ' || sequencename || ' ' || coalesce(last_value, 0) FROM pg_sequences WHERE schemaname = 'public'
             ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    rows.iter().map(|r| r.get(0)).collect()
}

async fn one<T: for<'a> tokio_postgres::types::FromSql<'a>>(c: &Db, sql: &str) -> T {
    c.query_one(sql, &[]).await.unwrap_or_else(|e| panic!("{sql}: {e}")).get(0)
}

#[tokio::test]
async fn every_derivation_rule_holds_and_the_proof_balances() {
    let (_db, mut c) = legacy_with_anomalies().await;
    let before = fingerprint::take(&*c).await.unwrap();
    let r = migrate::migrate(&mut c, &opts(), &Silent).await.unwrap();
    assert_eq!(r.outcome, Outcome::Migrated);
    assert!(r.indexes.failed.is_empty(), "{:?}", r.indexes.failed);

    // Default account.
    assert_eq!(one::<String>(&c, "SELECT name || '/' || slug || '/' || plan FROM account WHERE account_id = 1").await, "Default Account/default/free");
    // Bots: every name of the six columns, display name = name, placeholder tokens.
    let bots: Vec<String> = c.query("SELECT bot_name FROM bot WHERE account_id = 1 AND display_name = bot_name ORDER BY bot_name", &[]).await.unwrap().iter().map(|r| r.get(0)).collect();
    assert_eq!(bots, ["ban_only_bot", "main_bot", "second_bot", "settings_only_bot", "waiting_only_bot", "бот «кавычки» 'q'"]);
    assert_eq!(one::<i64>(&c, "SELECT count(*) FROM bot WHERE bot_token LIKE 'profochat-saas-placeholder-%'").await, 6);
    assert_eq!(one::<i64>(&c, "SELECT count(DISTINCT bot_token) FROM bot").await, 6);
    assert_eq!(r.bots_waiting_for_token.len(), 6);

    // NULL bot names belong to the default bot; gen_settings keeps NULL.
    let main: i32 = one(&c, "SELECT bot_id FROM bot WHERE bot_name = 'main_bot'").await;
    assert_eq!(one::<i32>(&c, "SELECT bot_id FROM run WHERE run_id = 3").await, main);
    assert_eq!(one::<i32>(&c, "SELECT bot_id FROM waiting_element WHERE waiting_element_id = 4").await, main);
    assert_eq!(one::<Option<i32>>(&c, "SELECT bot_id FROM gen_settings WHERE id = 1").await, None);
    assert_eq!(one::<i32>(&c, "SELECT bot_id FROM gen_settings WHERE id = 2").await, main);
    assert_eq!(one::<i64>(&c, "SELECT count(*) FROM gen_settings WHERE account_id = 1").await, 3);
    // Legacy columns keep their values (botname stays NULL).
    assert_eq!(one::<Option<String>>(&c, "SELECT botname FROM run WHERE run_id = 3").await, None);

    // Courses created from references.
    let created: Vec<String> = c
        .query("SELECT course_id FROM course WHERE metadata ->> 'created_from' = 'references' AND title = course_id ORDER BY 1", &[])
        .await.unwrap().iter().map(|r| r.get(0)).collect();
    assert_eq!(created, ["conv_only_course", "participants_course", "waiting_course", "yaml_course"]);
    // Identical copies: one course, deployed to each bot.
    assert_eq!(one::<i64>(&c, "SELECT count(*) FROM course WHERE course_id = 'shared'").await, 1);
    assert_eq!(
        one::<i64>(&c, "SELECT count(*) FROM course_deployment d JOIN bot b USING (bot_id) WHERE d.course_id = 'shared' AND b.bot_name IN ('main_bot', 'second_bot', 'бот «кавычки» ''q''')").await,
        3
    );
    assert_eq!(one::<i64>(&c, "SELECT count(*) FROM course_element WHERE course_id = 'shared'").await, 1);
    // Differing copies: the content most rows use keeps the id (second_bot's: two runs,
    // a waiting element, an element), the other is renamed and its rows follow.
    assert_eq!(one::<String>(&c, "SELECT yaml FROM course WHERE course_id = 'diverged'").await, "name: diverged v2");
    assert_eq!(one::<String>(&c, "SELECT yaml || '/' || bot_name FROM course WHERE course_id = 'diverged__main_bot'").await, "name: diverged v1/main_bot");
    assert_eq!(one::<i64>(&c, "SELECT count(*) FROM run WHERE course_id = 'diverged' AND run_id IN (4, 10)").await, 2);
    assert_eq!(one::<String>(&c, "SELECT course_id FROM run WHERE run_id = 9").await, "diverged__main_bot");
    assert_eq!(one::<i64>(&c, "SELECT count(*) FROM conversation WHERE course_id = 'diverged' AND conversation_id IN (3, 4)").await, 2);
    assert_eq!(one::<String>(&c, "SELECT course_id FROM conversation WHERE conversation_id = 7").await, "diverged__main_bot");
    assert_eq!(one::<String>(&c, "SELECT course_id FROM waiting_element WHERE waiting_element_id = 2").await, "diverged");
    assert_eq!(one::<String>(&c, "SELECT course_id FROM course_element WHERE course_element_id = 7").await, "diverged");
    assert_eq!(one::<String>(&c, "SELECT course_id FROM course_element WHERE course_element_id = 6").await, "diverged__main_bot");

    // Deployments: one per distinct (course, bot) pair, prod; every run with a course has its deployment.
    assert_eq!(r.deployments, 11);
    assert_eq!(one::<i64>(&c, "SELECT count(*) FROM course_deployment WHERE environment = 'prod'").await, 11);
    assert_eq!(
        one::<i64>(&c, "SELECT count(*) FROM run r JOIN course_deployment d USING (deployment_id) WHERE d.course_id = r.course_id AND d.bot_id = r.bot_id").await,
        9
    );
    assert_eq!(one::<Option<i32>>(&c, "SELECT deployment_id FROM run WHERE run_id = 8").await, None);

    // is_active = not ended; only the newest unfinished run of a chat on a bot stays active.
    let active: Vec<i32> = c.query("SELECT run_id FROM run WHERE is_active ORDER BY run_id", &[]).await.unwrap().iter().map(|r| r.get(0)).collect();
    assert_eq!(active, [3, 6, 7, 8, 9, 10]);
    assert_eq!(one::<i64>(&c, "SELECT count(*) FROM run WHERE ended_at IS NOT NULL").await, 0, "end times were never recorded");

    // Waiting elements: the newest run of the same chat, course and bot; created_at stays NULL.
    let w: Vec<(i32, Option<i32>)> = c.query("SELECT waiting_element_id, run_id FROM waiting_element ORDER BY 1", &[]).await.unwrap().iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(w, [(1, Some(3)), (2, Some(10)), (3, None), (4, Some(3))]);
    assert_eq!(one::<i64>(&c, "SELECT count(*) FROM waiting_element WHERE created_at IS NOT NULL").await, 0);

    // Orphans detached and archived; NULL run_id kept.
    assert_eq!(one::<Option<i32>>(&c, "SELECT run_id FROM conversation WHERE conversation_id = 5").await, None);
    assert_eq!(
        one::<String>(&c, "SELECT row ->> 'run_id' FROM profochat_saas.archive WHERE table_name = 'conversation' AND key = '{\"conversation_id\": 5}'").await,
        "5000"
    );
    // Duplicates keep the oldest row.
    let bans: Vec<i32> = c.query("SELECT bannedparticipant_id FROM bannedparticipants ORDER BY 1", &[]).await.unwrap().iter().map(|r| r.get(0)).collect();
    assert_eq!(bans, [1, 4, 5]);
    let parts: Vec<i32> = c.query("SELECT courseparticipant_id FROM courseparticipants ORDER BY 1", &[]).await.unwrap().iter().map(|r| r.get(0)).collect();
    assert_eq!(parts, [1, 3, 5, 6, 7]);

    // The proof: equal fingerprints, every difference archived.
    assert!(r.proof.iter().all(|p| p.equal), "{:?}", r.proof);
    for p in &r.proof {
        assert_eq!(p.before, before.tables[&p.table], "{}", p.table);
        assert_eq!(p.rows_now, p.before.rows - p.archived_deleted + p.archived_inserted, "{}", p.table);
    }
    // course 2 merged + 1 renamed + 4 created, course_element 2 merged + 1 renamed,
    // run 1 renamed + 2 deactivated, conversation 1 renamed + 1 orphan, 2 participants, 2 bans.
    assert_eq!(r.archived_total(), 19);
    // Nothing is deleted for good: every archived deleted row is complete.
    assert_eq!(
        one::<i64>(&c, "SELECT count(*) FROM profochat_saas.archive WHERE action = 'deleted' AND row IS NULL").await,
        0
    );
    let state: String = one(&c, "SELECT status FROM profochat_saas.migration").await;
    assert_eq!(state, "completed");
}

#[tokio::test]
async fn plan_dry_run_and_migration_agree_and_dry_run_leaves_nothing() {
    let (_db, mut c) = legacy_with_anomalies().await;
    let cat = catalog(&c).await;
    let fp = fingerprint::take(&*c).await.unwrap();
    let p = plan::plan(&mut c, &opts()).await.unwrap();
    assert!(p.ready);
    assert_eq!(catalog(&c).await, cat, "plan changes nothing");

    let mut dry = opts();
    dry.dry_run = true;
    let d = migrate::migrate(&mut c, &dry, &Silent).await.unwrap();
    assert_eq!(d.outcome, Outcome::DryRun);
    assert_eq!(catalog(&c).await, cat, "dry run leaves nothing behind");
    assert_eq!(fingerprint::take(&*c).await.unwrap(), fp);

    // The dry run is the one-transaction migration, rolled back: it agrees with that path.
    let r = migrate::migrate(&mut c, &MigrateOptions { single_transaction: true, ..opts() }, &Silent).await.unwrap();
    // The same phases and counts; the dry run only counts the indexes it would build.
    let counts = |rep: &migrate::MigrationReport| {
        rep.phases
            .iter()
            .map(|p| {
                let mut c = p.counts.clone();
                if let Some(n) = c.remove("indexes_deferred") {
                    c.insert("indexes_built".into(), n);
                }
                (p.name, c)
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(counts(&d), counts(&r));
    assert_eq!(d.deployments, r.deployments);
    assert_eq!(p.analysis.deployments_to_create, r.deployments);
    let data = &r.phases.iter().find(|p| p.name == "data").unwrap().counts;
    assert_eq!(data["bots_created"], p.bots.len() as i64);
    assert_eq!(data["courses_created"], p.created_courses.len() as i64);
    let links = &r.phases.iter().find(|p| p.name == "links").unwrap().counts;
    assert_eq!(links["runs_deactivated"], p.analysis.runs_to_deactivate);
    assert_eq!(links["orphans_detached"], p.analysis.orphan_run_refs);
    assert_eq!(d.archived_total(), r.archived_total());
}

#[tokio::test]
async fn a_failure_in_any_phase_leaves_the_database_exactly_as_it_was() {
    let (_db, mut c) = legacy_with_anomalies().await;
    let cat = catalog(&c).await;
    let fp = fingerprint::take(&*c).await.unwrap();
    // The one-transaction path (`--offline`): all or nothing.
    for phase in migrate::phases::PHASES {
        let mut o = opts();
        o.single_transaction = true;
        o.fail_in_phase = Some(phase.number().to_string());
        let err = migrate::migrate(&mut c, &o, &Silent).await.unwrap_err();
        let text = err.to_string();
        assert!(text.contains(&phase.label()), "{text}");
        assert!(text.contains("exactly as it was"), "{text}");
        assert_eq!(err.exit_status().code(), 7);
        assert_eq!(catalog(&c).await, cat, "catalog after a failure in {}", phase.label());
        assert_eq!(fingerprint::take(&*c).await.unwrap(), fp, "data after a failure in {}", phase.label());
    }
    // And through the CLI (hidden test hook).
    let out = cli().args(["migrate", "--offline", "--yes", "--skip-backup", "--default-bot", "main_bot", "--fail-in-phase", "links", "--database-url", &_db.url()]).assert().code(7);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("phase 3 (links) failed") && err.contains("nothing") || err.contains("exactly as it was"), "{err}");
    assert_eq!(catalog(&c).await, cat);
}

#[tokio::test]
async fn second_migrate_changes_nothing_and_says_so() {
    let (db, mut c) = legacy_with_anomalies().await;
    migrate::migrate(&mut c, &opts(), &Silent).await.unwrap();
    let cat = catalog(&c).await;
    let fp = fingerprint::take(&*c).await.unwrap();
    let r = migrate::migrate(&mut c, &opts(), &Silent).await.unwrap();
    assert_eq!(r.outcome, Outcome::AlreadyMigrated);
    assert_eq!(catalog(&c).await, cat);
    assert_eq!(fingerprint::take(&*c).await.unwrap(), fp);
    cli()
        .args(["migrate", "--yes", "--skip-backup", "--database-url", &db.url()])
        .assert()
        .success()
        .stdout(predicate::str::contains("migrated already").and(predicate::str::contains("nothing was changed")));
}

#[tokio::test]
async fn refuses_without_a_default_bot_and_names_the_flag() {
    let (db, c) = legacy_with_anomalies().await;
    let cat = catalog(&c).await;
    let out = cli().args(["migrate", "--yes", "--skip-backup", "--database-url", &db.url()]).assert().code(5);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("--default-bot") && err.contains("Nothing was changed"), "{err}");
    assert_eq!(catalog(&c).await, cat);
    // The plan says the same, as a decision.
    cli()
        .args(["plan", "--database-url", &db.url()])
        .assert()
        .success()
        .stdout(predicate::str::contains("Decisions needed").and(predicate::str::contains("--default-bot")));
    // BOT_NAME names it too.
    cli().env("BOT_NAME", "main_bot").args(["plan", "--database-url", &db.url()]).assert().success().stdout(predicate::str::contains("Ready"));
}

#[tokio::test]
async fn course_conflicts_fail_refuses() {
    let (db, c) = legacy_with_anomalies().await;
    let cat = catalog(&c).await;
    let out = cli()
        .args(["migrate", "--yes", "--skip-backup", "--default-bot", "main_bot", "--course-conflicts", "fail", "--database-url", &db.url()])
        .assert()
        .code(5);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("diverged"), "{err}");
    assert_eq!(catalog(&c).await, cat);
}

#[tokio::test]
async fn orphans_keep_keeps_the_value_and_adds_the_key_not_valid() {
    let (_db, mut c) = legacy_with_anomalies().await;
    let mut o = opts();
    o.orphans = Orphans::Keep;
    let r = migrate::migrate(&mut c, &o, &Silent).await.unwrap();
    assert!(r.proof.iter().all(|p| p.equal));
    assert_eq!(one::<Option<i32>>(&c, "SELECT run_id FROM conversation WHERE conversation_id = 5").await, Some(5000));
    assert!(!one::<bool>(&c, "SELECT convalidated FROM pg_constraint WHERE conname = 'conversation_run_id_fkey'").await);
}

#[tokio::test]
async fn no_terminal_and_no_yes_refuses() {
    let (db, c) = legacy_with_anomalies().await;
    let cat = catalog(&c).await;
    let out = cli().args(["migrate", "--skip-backup", "--default-bot", "main_bot", "--database-url", &db.url()]).assert().code(5);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("--yes"), "{err}");
    assert_eq!(catalog(&c).await, cat);
}

#[tokio::test]
async fn json_report_and_legacy_dry_run_spelling() {
    let (db, c) = legacy_with_anomalies().await;
    let cat = catalog(&c).await;
    // The old scripts' `migrate.sh --dry-run`, BOT_NAME from the environment.
    cli()
        .env("DATABASE_URL", db.url())
        .env("BOT_NAME", "main_bot")
        .arg("--dry-run")
        .assert()
        .success()
        .stdout(predicate::str::contains("Dry run"));
    assert_eq!(catalog(&c).await, cat);
    let out = cli()
        .args(["migrate", "--json", "--yes", "--skip-backup", "--default-bot", "main_bot", "--database-url", &db.url()])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["outcome"], "migrated");
    assert_eq!(v["proof"].as_array().unwrap().len(), 8);
    let text = String::from_utf8_lossy(&out.get_output().stdout);
    assert!(!text.contains("profochat-saas-placeholder-"), "no token in the report");
}

#[tokio::test]
async fn a_hand_half_migrated_database_is_finished() {
    let (_db, mut c) = legacy_with_anomalies().await;
    // What an older script or a DBA may have done: an account, a bot table without
    // keys and with a NULL token, some columns, one bot already there.
    c.batch_execute(
        "CREATE TABLE account (account_id serial primary key, name text not null, slug text not null);
         INSERT INTO account (name, slug) VALUES ('Default Account', 'default');
         CREATE TABLE bot (bot_id serial primary key, account_id int4 not null, bot_name text not null, bot_token text);
         INSERT INTO bot (account_id, bot_name) VALUES (1, 'main_bot');
         ALTER TABLE run ADD COLUMN account_id int4, ADD COLUMN bot_id int4;
         UPDATE run SET bot_id = 1 WHERE botname = 'main_bot';
         ALTER TABLE course ADD COLUMN account_id int4 DEFAULT 1;",
    )
    .await
    .unwrap();
    let st = profochat_saas::schema::inspect(&c).await.unwrap();
    assert_eq!(st.state, profochat_saas::schema::SchemaState::PartlyMigrated);
    let p = plan::plan(&mut c, &opts()).await.unwrap();
    assert!(p.bots.iter().any(|b| b.name == "main_bot" && b.exists));
    let r = migrate::migrate(&mut c, &opts(), &Silent).await.unwrap();
    assert!(r.proof.iter().all(|p| p.equal));
    assert_eq!(one::<i64>(&c, "SELECT count(*) FROM bot").await, 6);
    assert_eq!(one::<i64>(&c, "SELECT count(*) FROM bot WHERE bot_token IS NULL").await, 0);
    assert_eq!(one::<i64>(&c, "SELECT count(*) FROM run WHERE bot_id IS NULL OR account_id IS NULL").await, 0);
    assert_eq!(profochat_saas::schema::inspect(&c).await.unwrap().state, profochat_saas::schema::SchemaState::Migrated);
}

#[tokio::test]
async fn an_interrupted_index_build_is_seen_by_status_and_finished_by_migrate() {
    let (db, mut c) = legacy_with_anomalies().await;
    migrate::migrate(&mut c, &opts(), &Silent).await.unwrap();
    // What an interrupted build leaves: indexes missing, one invalid (from a concurrent build).
    c.batch_execute(
        "DROP INDEX idx_conversation_run; DROP INDEX idx_run_chat;
         UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'idx_waiting_date'::regclass;",
    )
    .await
    .unwrap();
    let st = profochat_saas::schema::inspect(&c).await.unwrap();
    assert_eq!(st.state, profochat_saas::schema::SchemaState::IndexesPending);
    assert_eq!(st.secondary_indexes_missing, ["idx_run_chat", "idx_conversation_run"]);
    assert_eq!(st.secondary_indexes_invalid, ["idx_waiting_date"]);
    cli()
        .args(["status", "--database-url", &db.url()])
        .assert()
        .success()
        .stdout(predicate::str::contains("indexes pending").and(predicate::str::contains("Run `profochat-saas migrate` again")));
    let fp = fingerprint::take(&*c).await.unwrap();
    let r = migrate::migrate(&mut c, &opts(), &Silent).await.unwrap();
    assert_eq!(r.outcome, Outcome::IndexesFinished);
    assert_eq!(r.indexes.built.len(), 3);
    let st = profochat_saas::schema::inspect(&c).await.unwrap();
    assert_eq!(st.state, profochat_saas::schema::SchemaState::Migrated);
    assert_eq!(fingerprint::take(&*c).await.unwrap(), fp);
}

#[tokio::test]
async fn single_transaction_builds_every_index_inside_and_is_migrated_at_once() {
    let (_db, mut c) = legacy_with_anomalies().await;
    let mut o = opts();
    o.single_transaction = true;
    let r = migrate::migrate(&mut c, &o, &Silent).await.unwrap();
    assert_eq!(r.indexes.built.len(), 0, "nothing left for after the commit");
    assert_eq!(r.phases.iter().find(|p| p.name == "indexes").unwrap().counts["indexes_built"], 51);
    let st = profochat_saas::schema::inspect(&c).await.unwrap();
    assert_eq!(st.state, profochat_saas::schema::SchemaState::Migrated);
    assert!(st.secondary_indexes_missing.is_empty() && st.secondary_indexes_invalid.is_empty());
}

#[tokio::test]
async fn bot_api_token_fills_that_bots_token_and_never_shows() {
    let (db, c) = legacy_with_anomalies().await;
    let token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ";
    let out = cli()
        .env("BOT_NAME", "main_bot")
        .env("BOT_API_TOKEN", token)
        .args(["migrate", "--yes", "--skip-backup", "-v", "--database-url", &db.url()])
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string() + &String::from_utf8_lossy(&out.get_output().stderr);
    assert!(!text.contains("AAHdqTcv"), "the token is never printed:\n{text}");
    assert_eq!(one::<String>(&c, "SELECT bot_token FROM bot WHERE bot_name = 'main_bot'").await, token);
    // The other bots wait for theirs, and the next steps name them.
    assert_eq!(one::<i64>(&c, "SELECT count(*) FROM bot WHERE bot_token LIKE 'profochat-saas-placeholder-%'").await, 5);
    assert!(text.contains("bot set-token --bot second_bot"), "{text}");
    assert!(!text.contains("bot set-token --bot main_bot"), "{text}");
    let rec: String = one(&c, "SELECT options::text FROM profochat_saas.migration").await;
    assert!(!rec.contains("AAHdqTcv"), "{rec}");
}

/// A run whose date_inserted was never recorded, written after a dated one of the same
/// chat: the migration and `validate` agree which is the newest (the later run_id, the
/// one the legacy bot's own reads return), and validation has nothing to flag.
#[tokio::test]
async fn migration_and_validation_agree_on_runs_without_date_inserted() {
    let db = TestDb::legacy().await;
    let mut c = db.connect().await;
    c.batch_execute(
        "INSERT INTO course (course_id, bot_name, yaml) VALUES ('intro', 'main_bot', 'x');
         INSERT INTO run (run_id, chat_id, username, botname, course_id, date_inserted, is_ended) VALUES
           (1, 500, 'u', 'main_bot', 'intro', '2023-01-01 10:00', false),
           (2, 500, 'u', 'main_bot', 'intro', NULL, NULL),
           (3, 501, 'v', 'main_bot', 'intro', NULL, false),
           (4, 501, 'v', 'main_bot', 'intro', '2023-02-01 10:00', NULL);
         SELECT setval('run_run_id_seq1', 4);
         INSERT INTO waiting_element (waiting_element_id, chat_id, waiting_till_date, is_waiting, element_id, course_id, botname) VALUES
           (1, 500, now(), true, 'e1', 'intro', 'main_bot'), (2, 501, now(), true, 'e1', 'intro', 'main_bot');",
    )
    .await
    .unwrap();
    // What the legacy bot reads as the chat's run of a course, and whether it finished.
    let legacy_run = |chat: i64| format!("SELECT run_id FROM run WHERE chat_id = {chat} AND course_id = 'intro' ORDER BY date_inserted DESC LIMIT 1");
    let legacy_newest = |chat: i64| format!("SELECT run_id FROM run WHERE chat_id = {chat} AND botname = 'main_bot' ORDER BY run_id DESC LIMIT 1");
    assert_eq!(one::<i32>(&c, &legacy_run(500)).await, 2);
    assert_eq!(one::<i32>(&c, &legacy_newest(500)).await, 2);

    migrate::migrate(&mut c, &opts(), &Silent).await.unwrap();
    let active: Vec<i32> = c.query("SELECT run_id FROM run WHERE is_active ORDER BY run_id", &[]).await.unwrap().iter().map(|r| r.get(0)).collect();
    assert_eq!(active, vec![2, 4], "the newest run of each chat stays active");
    let links: Vec<(i32, Option<i32>)> = c
        .query("SELECT waiting_element_id, run_id FROM waiting_element ORDER BY 1", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(links, vec![(1, Some(2)), (2, Some(4))]);

    let vopts = profochat_saas::validate::ValidateOptions::from_state(&c.client).await.unwrap();
    let report = profochat_saas::validate::validate(&c.client, &vopts).await.unwrap();
    for id in ["run.inactive_unended_superseded", "waiting_element.run_is_newest", "run.one_active_per_chat"] {
        let check = report.check(id).unwrap_or_else(|| panic!("validate has {id}"));
        assert_eq!(check.count, 0, "{id}: {:?}", check.examples);
    }
    let out = cli().args(["validate", "--database-url", &db.url()]).assert().success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(!text.contains("set is_active = true"), "no hand SQL advised: {text}");
}

/// `--offline`: the whole migration, secondary indexes included, in one transaction.
#[tokio::test]
async fn offline_builds_everything_in_the_one_transaction() {
    let (db, c) = legacy_with_anomalies().await;
    crate::harness::cli()
        .args(["migrate", "--offline", "--yes", "--skip-backup", "--default-bot", "main_bot", "--database-url", &db.url()])
        .assert()
        .success();
    let st = profochat_saas::schema::inspect(&c).await.unwrap();
    assert_eq!(st.state, profochat_saas::schema::SchemaState::Migrated);
    let status: String = c.query_one("SELECT status FROM profochat_saas.migration", &[]).await.unwrap().get(0);
    assert_eq!(status, "completed", "no index was left for after the commit");
}

/// The legacy tables are locked in short attempts: a lock held for a while is waited
/// out; one held beyond the bound stops the migration with exit 7, nothing changed —
/// online (its first step) and offline alike.
#[tokio::test]
async fn the_legacy_tables_are_locked_in_short_attempts_up_to_a_bound() {
    let (db, mut c) = legacy_with_anomalies().await;
    let before = catalog(&c).await;
    let holder = db.connect().await;
    holder.batch_execute("BEGIN; LOCK TABLE run IN ACCESS SHARE MODE").await.unwrap();
    for single_transaction in [false, true] {
        let mut o = opts();
        o.single_transaction = single_transaction;
        o.lock_wait = Some(std::time::Duration::from_millis(1200));
        let err = migrate::migrate(&mut c, &o, &Silent).await.unwrap_err();
        assert_eq!(err.exit_status().code(), 7, "{err}");
        assert!(err.to_string().contains("attempt") && err.to_string().contains("lock"), "{err}");
        let now = catalog(&c).await;
        if single_transaction {
            // (The online attempt before it left the temporary index.)
            let before: Vec<&String> = before.iter().chain(now.iter().filter(|e| e.contains("profochat_saas_run_chat"))).collect();
            let mut now_sorted: Vec<&String> = now.iter().collect();
            let mut before_sorted = before.clone();
            now_sorted.sort();
            before_sorted.sort();
            assert_eq!(now_sorted, before_sorted, "nothing changed (offline)");
        } else {
            // Online, the temporary index on run (chat_id) is built before the preflight;
            // dropping it concurrently waits for the session that holds `run` as long as
            // the lock attempts did, then it is left, and the error says so. Nothing else.
            assert!(err.to_string().contains("profochat_saas_run_chat") && err.to_string().contains("is left"), "{err}");
            let extra: Vec<&String> = now.iter().filter(|e| !before.contains(e)).collect();
            assert!(!extra.is_empty() && extra.iter().all(|e| e.contains("profochat_saas_run_chat")), "{extra:?}");
            assert!(before.iter().all(|e| now.contains(e)), "nothing else changed (online)");
        }
    }
    let mut o = opts();
    // Released a second later: the next attempt gets it.
    let release = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
        holder.batch_execute("COMMIT").await.unwrap();
        holder
    });
    o.lock_wait = Some(std::time::Duration::from_secs(30));
    let r = migrate::migrate(&mut c, &o, &Silent).await.unwrap();
    assert_eq!(r.outcome, migrate::Outcome::Migrated);
    drop(release.await.unwrap());
}

/// A database partly migrated by hand (an account table without slug or sequence, a
/// bot_id column on run) is finished by `migrate`, and validates.
#[tokio::test]
async fn a_schema_partly_made_by_hand_is_finished() {
    let (_db, mut c) = legacy_with_anomalies().await;
    c.batch_execute(
        "CREATE TABLE account (account_id int PRIMARY KEY, name text);
         INSERT INTO account VALUES (1, NULL);
         ALTER TABLE run ADD COLUMN bot_id int;",
    )
    .await
    .unwrap();
    assert_eq!(profochat_saas::schema::inspect(&c).await.unwrap().state, profochat_saas::schema::SchemaState::PartlyMigrated);
    migrate::migrate(&mut c, &opts(), &Silent).await.expect("migrate finishes it");
    let v = profochat_saas::validate::validate(&c.client, &Default::default()).await.unwrap();
    assert_eq!(v.critical_failures(), 0, "{:?}", v.checks.iter().filter(|c| !c.passed).collect::<Vec<_>>());
    let n: i64 = c.query_one("INSERT INTO account (name, slug) VALUES ('Second', 'second') RETURNING account_id::int8", &[]).await.unwrap().get(0);
    assert!(n > 1);
}

/// A small table's index is built in one scan under a short lock, not concurrently: a
/// concurrent build would wait for the snapshot another session holds open (it waits
/// for every older transaction), the plain build does not; a table over 1 MiB still
/// goes concurrently (indexes.rs, Build).
#[tokio::test]
async fn a_small_tables_index_is_built_without_waiting_for_other_transactions() {
    let (db, mut c) = legacy_with_anomalies().await;
    migrate::migrate(&mut c, &opts(), &Silent).await.unwrap();
    c.batch_execute("DROP INDEX idx_bot_name; DROP INDEX idx_banned_chat").await.unwrap();
    let small: i64 = one(&c, "SELECT max(pg_relation_size(to_regclass(t)))::int8 FROM unnest(ARRAY['bot', 'bannedparticipants']) t").await;
    assert!(small <= profochat_saas::migrate::indexes::SMALL_TABLE);
    // Another session in the middle of a transaction, its snapshot taken.
    let other = db.connect().await;
    other.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM course").await.unwrap();
    let only = ["idx_bot_name", "idx_banned_chat"];
    let built = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        profochat_saas::migrate::indexes::build_missing_of(&c.settings, 2, Some(&only), &Silent),
    )
    .await
    .expect("the builds waited for the other session's transaction")
    .unwrap();
    assert!(built.failed.is_empty(), "{:?}", built.failed);
    let mut names = built.built.clone();
    names.sort();
    assert_eq!(names, ["idx_banned_chat", "idx_bot_name"]);
    let valid: i64 = one(&c, "SELECT count(*) FROM pg_index WHERE indisvalid AND indexrelid IN ('idx_bot_name'::regclass, 'idx_banned_chat'::regclass)").await;
    assert_eq!(valid, 2);
    other.batch_execute("ROLLBACK").await.unwrap();
}
