//! The online migration (the default): killed like kill -9 at every step boundary and
//! inside a batch, it is named by `status` and resumed by `migrate` with at most one
//! batch redone and nothing lost; `migrate --abort` from every step gives back the
//! exact legacy database; a legacy writer during the migration loses nothing; and the
//! refusals (nothing to abort, another migrate running).

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use profochat_saas::conn::Db;
use profochat_saas::fingerprint::{self, Fingerprints};
use profochat_saas::migrate::{self, online, MigrateOptions, Outcome};
use profochat_saas::report::{Event, Reporter, Silent};
use profochat_saas::schema::{self, SchemaState};
use profochat_saas::seed::{self, SeedOptions};
use profochat_saas::state::{BackfillTable, OnlineProgress, OnlineStep};
use profochat_saas::validate;

use crate::harness::{bin, cli, TestDb};
use crate::migrate::{catalog, legacy_with_anomalies};

mod abort;
mod analysis_reuse;
mod crash;
mod refusals;
mod writer;

pub(crate) use writer::{legacy_writer, Written};

/// A legacy database filled by the generator: every anomaly kind from 50 runs on,
/// about ten conversation rows per run.
pub(crate) async fn seeded(runs: u64) -> (TestDb, Db, String) {
    let db = TestDb::empty().await;
    let mut c = db.connect().await;
    let m = seed::generate(&mut c, &SeedOptions { runs, seed: 5 }, &Silent).await.unwrap();
    (db, c, m.default_bot)
}

pub(crate) fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `migrate --crash-at WHERE`: the process must die at that point, by a signal, as
/// kill -9 would end it (no core file).
pub(crate) fn crash(db: &TestDb, bot: &str, at: &str) -> Output {
    let args = ["migrate", "--yes", "--skip-backup", "--default-bot", bot, "--database-url", &db.url()].map(String::from);
    crash_at(&args, at)
}

/// The command `args` with `--crash-at WHERE`: it must die at that point, by a signal,
/// as kill -9 would end it (no core file).
pub(crate) fn crash_at(args: &[String], at: &str) -> Output {
    let mut cmd = bin();
    cmd.args(args).args(["--crash-at", at]).stdin(Stdio::null());
    unsafe {
        cmd.pre_exec(|| {
            let none = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
            libc::setrlimit(libc::RLIMIT_CORE, &none);
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    assert!(
        !out.status.success() && out.status.signal().is_some(),
        "{at}: the process should have died by a signal, it ended with {:?}\nstdout: {}\nstderr: {}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

/// Whether a session holds the migration lock of `migrate` on this database.
async fn migration_lock_held(c: &Db) -> bool {
    c.query_one(
        "SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = ($1::int8 & x'ffffffff'::int8)::oid
            AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        &[&profochat_saas::state::ADVISORY_KEY],
    )
    .await
    .unwrap()
    .get(0)
}

/// After kill -9 the server may still run the killed client's last statement for a
/// moment (its session ends when it next talks to the client): waits for that.
pub(crate) async fn wait_for_the_killed_session(c: &Db) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while migration_lock_held(c).await {
        assert!(Instant::now() < deadline, "the killed migrate's session never ended");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub(crate) fn status(db: &TestDb) -> String {
    let out = cli().args(["status", "--database-url", &db.url()]).assert().success();
    text(&out.get_output().stdout)
}

async fn progress(c: &Db) -> OnlineProgress {
    online::progress(&c.client).await.unwrap().expect("an online migration in progress")
}

async fn last_migration_id(c: &Db) -> i32 {
    c.query_one("SELECT max(migration_id) FROM profochat_saas.migration", &[]).await.unwrap().get(0)
}

async fn key_range(c: &Db, t: BackfillTable) -> (i64, i64) {
    let r = c
        .query_one(&format!("SELECT min({k})::int8, max({k})::int8 FROM {t}", k = t.key(), t = t.table()), &[])
        .await
        .unwrap();
    (r.get(0), r.get(1))
}

/// After the resumed migration: the proof of the report equal for all eight tables, no
/// critical failure in `validate`, and the legacy tables reconstructed through the
/// archive exactly as they were before.
async fn assert_completed_and_nothing_lost(db: &TestDb, c: &Db, before: &Fingerprints, stdout: &str) {
    let first_word = |l: &str| l.split(|ch: char| !(ch.is_alphanumeric() || ch == '_')).find(|w| !w.is_empty()).map(str::to_string);
    let proof: Vec<&str> = stdout
        .lines()
        .filter(|l| first_word(l).is_some_and(|w| profochat_saas::sql::LEGACY_TABLES.contains(&w.as_str())))
        .collect();
    assert_eq!(proof.len(), 8, "the proof names the 8 legacy tables:\n{stdout}");
    assert!(proof.iter().all(|l| l.contains("equal") && !l.contains("DIFFERS")), "{stdout}");
    assert_eq!(schema::inspect(c).await.unwrap().state, SchemaState::Migrated);
    let status: String = c.query_one("SELECT status FROM profochat_saas.migration ORDER BY migration_id DESC LIMIT 1", &[]).await.unwrap().get(0);
    assert_eq!(status, "completed");
    assert!(!chat_index_exists(c).await, "the temporary index is dropped at the switch");
    let out = cli().args(["validate", "--database-url", &db.url()]).assert();
    let o = out.get_output();
    assert!(o.status.success(), "validate: {}\n{}", text(&o.stdout), text(&o.stderr));
    let id = last_migration_id(c).await;
    assert_eq!(&fingerprint::take_reconstructed(&**c, id).await.unwrap(), before, "the legacy tables through the archive");
}

pub(crate) async fn chat_index_exists(c: &Db) -> bool {
    c.query_one("SELECT to_regclass('profochat_saas_run_chat') IS NOT NULL", &[]).await.unwrap().get(0)
}

/// From the step "chat index" on, the legacy bot's course end (SPEC §1) and the
/// compatibility layer's supersede find a chat's runs through the temporary index,
/// not by reading the whole table; a build killed halfway (an invalid index) is
/// dropped and built again by the resumed migration, and the switch drops it.
#[tokio::test]
async fn the_bot_finds_a_chats_runs_through_the_temporary_index_until_the_switch() {
    let (db, c, bot) = seeded(60).await;
    crash(&db, &bot, "after:chat index");
    wait_for_the_killed_session(&c).await;
    let plan = |sql: &'static str| {
        let c = &c;
        async move {
            c.batch_execute("SET enable_seqscan = off").await.unwrap();
            let rows = c.query(sql, &[]).await.unwrap();
            c.batch_execute("RESET enable_seqscan").await.unwrap();
            rows.iter().map(|r| r.get::<_, String>(0)).collect::<Vec<_>>().join("\n")
        }
    };
    let end = plan("EXPLAIN UPDATE run SET is_ended = TRUE WHERE chat_id = 42 AND botname = 'main_bot' AND course_id = 'x'").await;
    assert!(end.contains("profochat_saas_run_chat"), "{end}");
    let supersede = plan("EXPLAIN UPDATE run SET is_active = false WHERE bot_id = 1 AND chat_id = 42 AND is_active").await;
    assert!(supersede.contains("profochat_saas_run_chat"), "{supersede}");

    // As a killed CREATE INDEX CONCURRENTLY leaves it: present, not valid.
    c.batch_execute("UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'profochat_saas_run_chat'::regclass").await.unwrap();
    c.batch_execute("UPDATE profochat_saas.online_progress SET done = 'expand', current = 'chat index'").await.unwrap();
    crash(&db, &bot, "after:chat index");
    wait_for_the_killed_session(&c).await;
    let valid: bool = c
        .query_one("SELECT indisvalid FROM pg_index WHERE indexrelid = 'profochat_saas_run_chat'::regclass", &[])
        .await
        .unwrap()
        .get(0);
    assert!(valid, "the invalid leftover is built again");
    let out = cli().args(["migrate", "--yes", "--skip-backup", "--database-url", &db.url()]).assert();
    let o = out.get_output();
    assert!(o.status.success(), "{}\n{}", text(&o.stdout), text(&o.stderr));
    assert!(!chat_index_exists(&c).await, "the switch drops the temporary index");
}

/// A kill right after the switch committed leaves the migration completed and its
/// temporary index in place: `validate` names it (critical: the cleanup is unfinished)
/// and says what drops it, and `migrate` drops it.
#[tokio::test]
async fn a_kill_right_after_the_switch_leaves_the_temporary_index_for_validate_to_name_and_finish_to_drop() {
    let (db, c, bot) = seeded(60).await;
    crash(&db, &bot, "after:switch");
    wait_for_the_killed_session(&c).await;
    assert_eq!(schema::inspect(&c).await.unwrap().state, SchemaState::Migrated);
    assert!(chat_index_exists(&c).await);
    let out = cli().args(["validate", "--database-url", &db.url()]).assert().failure();
    let stdout = text(&out.get_output().stdout);
    assert!(stdout.contains("profochat_saas_run_chat") && stdout.contains("DROP INDEX CONCURRENTLY profochat_saas_run_chat"), "{stdout}");
    assert!(stdout.contains("state.online_leftovers") && stdout.contains("the temporary index profochat_saas_run_chat"), "{stdout}");
    cli().args(["migrate", "--yes", "--skip-backup", "--database-url", &db.url()]).assert().success();
    assert!(!chat_index_exists(&c).await);
}

/// The application may create courses in another account while the migration runs:
/// they are not legacy courses, and the switch does not take them for ones.
#[tokio::test]
async fn a_course_of_another_account_created_during_the_online_migration_does_not_stop_the_switch() {
    let (db, c, bot) = seeded(60).await;
    crash(&db, &bot, "after:keys");
    wait_for_the_killed_session(&c).await;
    c.batch_execute(
        "INSERT INTO account (account_id, name, slug) VALUES (2, 'Second', 'second');
         INSERT INTO bot (account_id, bot_name, bot_token, display_name) VALUES (2, 'app_bot', 'tok-app', 'App bot');
         INSERT INTO course (course_id, bot_name, account_id, yaml) VALUES ('app_intro', 'app_bot', 2, 'app intro');",
    )
    .await
    .unwrap();
    let out = cli().args(["migrate", "--yes", "--skip-backup", "--database-url", &db.url()]).assert();
    let o = out.get_output();
    assert!(o.status.success(), "{}\n{}", text(&o.stdout), text(&o.stderr));
    let validate = cli().args(["validate", "--database-url", &db.url()]).assert().success();
    let stdout = text(&validate.get_output().stdout);
    assert!(!stdout.contains("app_intro"), "{stdout}");
}
