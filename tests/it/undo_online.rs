//! `migrate --abort` online: the undo in short batches while the legacy bot writes,
//! killed (as kill -9) inside and between its steps, named by `status`, resumed by the
//! same command to the exact legacy database (the bot's rows kept), with the no-loss
//! proof of the way back; `--offline` keeps the one-transaction undo.

use std::process::{Output, Stdio};

use profochat_saas::fingerprint;
use profochat_saas::schema::{self, SchemaState};

use crate::faults::matrix::{all_written_present, cli_blocking, kill_at, without_written, Writer};
use crate::harness::{bin, cli, TestDb};
use crate::migrate::{catalog, legacy_with_anomalies};
use crate::online::{crash, seeded, status, text, wait_for_the_killed_session};

/// Over 1000 runs: the archive pass takes several batches.
const RUNS: u64 = 1100;

fn abort_args(db: &TestDb, dir: &std::path::Path) -> Vec<String> {
    ["migrate", "--abort", "--yes", "--database-url", &db.url(), "--backup-dir", &dir.display().to_string()].iter().map(|s| s.to_string()).collect()
}

/// `migrate --abort --crash-at WHERE`: the abort must die at that point, by a signal.
fn crash_abort(db: &TestDb, dir: &std::path::Path, at: &str) -> Output {
    crate::online::crash_at(&abort_args(db, dir), at)
}

fn abort_ok(db: &TestDb, dir: &std::path::Path, extra: &[&str]) -> String {
    let out = cli().args(abort_args(db, dir)).args(extra).assert();
    let o = out.get_output();
    assert!(o.status.success(), "the abort failed:\n{}\n{}", text(&o.stdout), text(&o.stderr));
    text(&o.stdout)
}

async fn status_of_last_migration(c: &profochat_saas::conn::Db) -> String {
    c.query_one("SELECT status FROM profochat_saas.migration ORDER BY migration_id DESC LIMIT 1", &[]).await.unwrap().get(0)
}

/// Killed (as kill -9) at `at` inside the abort: `status` names the abort and its step,
/// a forward `migrate` is refused, and `migrate --abort` again resumes it to the exact
/// legacy database (catalog and rows), with its proof (or, `--offline`, finishes it in
/// one transaction).
async fn killed_in_the_abort_then_resumed(at: &str, named: &str, offline: bool) {
    let (db, c, bot) = seeded(RUNS).await;
    let cat = catalog(&c).await;
    let fp = fingerprint::take(&*c).await.unwrap();
    crash(&db, &bot, "after:keys");
    wait_for_the_killed_session(&c).await;
    let dir = tempfile::tempdir().unwrap();
    crash_abort(&db, dir.path(), at);
    wait_for_the_killed_session(&c).await;

    assert_eq!(status_of_last_migration(&c).await, "aborting", "{at}");
    assert_eq!(schema::inspect(&c).await.unwrap().state, SchemaState::MigrationInProgress, "{at}");
    // Until the switch back, a bot switched to the legacy interface sees its tables as
    // before, whatever the batches gave back already; the duplicate bans and
    // participants the migration archived it sees again once the backfills' undo gave
    // them back (during the migration the legacy reads answered alike without them).
    let legacy = db.connect().await;
    legacy.batch_execute("SET search_path = profochat_legacy, public").await.unwrap();
    let mut seen = fingerprint::take(&*legacy).await.unwrap();
    let mut expected = fp.clone();
    if named != "switch back" {
        for t in ["bannedparticipants", "courseparticipants"] {
            seen.tables.remove(t);
            expected.tables.remove(t);
        }
    }
    assert_eq!(seen, expected, "{at}: the legacy interface during the abort");
    let st = status(&db);
    assert!(st.contains("aborting") && st.contains(&format!("Abort:     abort under way: step {named}")), "{at}: {st}");
    let json = cli().args(["status", "--json", "--database-url", &db.url()]).assert().success();
    let v: serde_json::Value = serde_json::from_slice(&json.get_output().stdout).unwrap();
    assert!(v["undo_progress"]["where"].as_str().unwrap().contains(named), "{at}: {v}");
    // The way forward is not mixed into an abort under way.
    let out = cli().args(["migrate", "--yes", "--skip-backup", "--database-url", &db.url()]).assert().failure();
    let err = text(&out.get_output().stderr);
    assert!(err.contains("abort") && err.contains("migrate --abort"), "{at}: {err}");
    assert_eq!(status_of_last_migration(&c).await, "aborting", "{at}: the refused migrate changed nothing");

    let out = abort_ok(&db, dir.path(), if offline { &["--offline"] } else { &[] });
    assert_eq!(out.contains("No-loss proof of the way back: 8 tables equal to before the migration"), !offline, "{at}: {out}");
    assert_eq!(catalog(&c).await, cat, "{at}: the catalog");
    assert_eq!(fingerprint::take(&*c).await.unwrap(), fp, "{at}: the legacy tables");
    assert_eq!(schema::inspect(&c).await.unwrap().state, SchemaState::Legacy, "{at}");
    let st = status(&db);
    assert!(st.contains("State:     legacy") && !st.contains("Abort:"), "{at}: {st}");
}

mod killed {
    use super::*;

    /// Inside the archive pass, once its first batch committed.
    #[tokio::test]
    async fn inside_the_second_batch_of_the_backfills_undo() {
        killed_in_the_abort_then_resumed("inside:undo backfills:2", "undo backfills, 1 batches done", false).await;
    }
    /// The same, finished by `migrate --abort --offline` (one transaction).
    #[tokio::test]
    async fn inside_the_second_batch_of_the_backfills_undo_then_finished_offline() {
        killed_in_the_abort_then_resumed("inside:undo backfills:2", "undo backfills, 1 batches done", true).await;
    }
    #[tokio::test]
    async fn after_the_keys_went() {
        killed_in_the_abort_then_resumed("after:undo keys", "undo backfills, 0 batches done", false).await;
    }
    /// Inside the last transaction, before its commit: nothing of it stays.
    #[tokio::test]
    async fn inside_the_switch_back() {
        killed_in_the_abort_then_resumed("inside:switch back", "switch back", false).await;
    }
    #[tokio::test]
    async fn after_the_proof_before_the_switch_back() {
        killed_in_the_abort_then_resumed("after:undo proof", "switch back", false).await;
    }
}

/// The legacy bot writes (the statements of `bench --writer`) before the migration,
/// through it, through its kill after the keys step, and through an abort that is
/// killed in its pass over the bot's rows and resumed: not one statement fails, every
/// row it wrote is there, and the rest is exactly the legacy database of before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abort_killed_and_resumed_while_the_bot_writes_keeps_its_rows_and_gives_back_the_rest_exactly() {
    let (db, mut c, bot) = seeded(RUNS).await;
    let before = fingerprint::take(&*c).await.unwrap();
    // The catalog without the sequences' positions (the bot's inserts move them).
    let schema_only = |v: Vec<String>| v.into_iter().filter(|l| !l.starts_with("seq ") && !l.contains("_seq")).collect::<Vec<_>>();
    let cat = schema_only(catalog(&c).await);
    let writer = Writer::start(&db).await;
    kill_at(&db, &c, &bot, "after:keys").await;
    let dir = tempfile::tempdir().unwrap();
    let mut args = abort_args(&db, dir.path());
    args.extend(["--crash-at".to_string(), "inside:undo application rows:1".to_string()]);
    let (ok, out) = cli_blocking(args).await;
    assert!(!ok, "the abort should have been killed in its pass over the bot's rows:\n{out}");
    wait_for_the_killed_session(&c).await;
    assert_eq!(status_of_last_migration(&c).await, "aborting");
    let (ok, out) = cli_blocking(abort_args(&db, dir.path())).await;
    assert!(ok, "the resumed abort failed:\n{out}");
    let w = writer.stop().await;
    assert!(out.contains("No-loss proof of the way back: 8 tables equal to before the migration"), "{out}");
    assert!(!out.contains(" 0 rows written meanwhile"), "the bot's rows are counted: {out}");
    assert_eq!(schema::inspect(&c).await.unwrap().state, SchemaState::Legacy);
    assert_eq!(schema_only(catalog(&c).await), cat, "the catalog");
    all_written_present(&c, &w, "abort").await;
    assert_eq!(without_written(&mut c, &w).await, before, "the legacy rows of before, exactly");
}

/// `migrate --abort --offline` keeps the one-transaction undo: exact, and no batches,
/// no proof of its own (the transaction holds the tables).
#[tokio::test]
async fn the_offline_abort_is_one_transaction_and_exact() {
    let (db, c) = legacy_with_anomalies().await;
    let cat = catalog(&c).await;
    let fp = fingerprint::take(&*c).await.unwrap();
    crash(&db, "main_bot", "after:keys");
    wait_for_the_killed_session(&c).await;
    let dir = tempfile::tempdir().unwrap();
    let out = cli().args(abort_args(&db, dir.path())).arg("--offline").assert();
    let o = out.get_output();
    assert!(o.status.success(), "{}\n{}", text(&o.stdout), text(&o.stderr));
    let (stdout, stderr) = (text(&o.stdout), text(&o.stderr));
    assert!(!stdout.contains("No-loss proof of the way back") && !stderr.contains("undo backfills"), "{stdout}\n{stderr}");
    assert_eq!(catalog(&c).await, cat);
    assert_eq!(fingerprint::take(&*c).await.unwrap(), fp);
    assert_eq!(schema::inspect(&c).await.unwrap().state, SchemaState::Legacy);
}

/// `rollback` after a completed online migration runs online too: the bot writes
/// throughout (before the migration, through it and through the rollback), the rollback
/// is killed (as kill -9) inside its pass over the links once a batch committed,
/// `status` names it, and `rollback` again resumes it: not one statement of the bot
/// fails, every row it wrote is there, and the rest is exactly the legacy database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_killed_and_resumed_while_the_bot_writes_keeps_its_rows_and_gives_back_the_rest_exactly() {
    let (db, mut c, bot) = seeded(RUNS).await;
    let before = fingerprint::take(&*c).await.unwrap();
    let schema_only = |v: Vec<String>| v.into_iter().filter(|l| !l.starts_with("seq ") && !l.contains("_seq")).collect::<Vec<_>>();
    let cat = schema_only(catalog(&c).await);
    let writer = Writer::start(&db).await;
    let (ok, out) = cli_blocking(
        ["migrate", "--yes", "--skip-backup", "--default-bot", &bot, "--database-url", &db.url()].iter().map(|s| s.to_string()).collect(),
    )
    .await;
    assert!(ok, "the migration failed:\n{out}");
    assert_eq!(schema::inspect(&c).await.unwrap().state, SchemaState::Migrated);
    let dir = tempfile::tempdir().unwrap();
    let rollback = |extra: &[&str]| {
        let mut v: Vec<String> =
            ["rollback", "--yes", "--database-url", &db.url(), "--backup-dir", &dir.path().display().to_string()].iter().map(|s| s.to_string()).collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let (ok, out) = cli_blocking(rollback(&["--crash-at", "inside:undo links:conversation:2"])).await;
    assert!(!ok, "the rollback should have been killed in its pass over the links:\n{out}");
    wait_for_the_killed_session(&c).await;
    assert_eq!(status_of_last_migration(&c).await, "aborting");
    let st = status(&db);
    assert!(
        st.contains("Abort:     rollback under way: step undo links, table conversation, 1 batches done") && st.contains("`profochat-saas rollback` resumes it"),
        "{st}"
    );
    let (ok, out) = cli_blocking(rollback(&[])).await;
    assert!(ok, "the resumed rollback failed:\n{out}");
    let w = writer.stop().await;
    assert_eq!(schema::inspect(&c).await.unwrap().state, SchemaState::Legacy);
    assert_eq!(schema_only(catalog(&c).await), cat, "the catalog");
    all_written_present(&c, &w, "rollback").await;
    assert_eq!(without_written(&mut c, &w).await, before, "the legacy rows of before, exactly");
}

/// Migrates, then runs `rollback` while a session holds `table` locked; once the rollback
/// waits for it, that session runs `write` and commits. Returns the rollback's exit code
/// and standard error.
async fn rollback_while_written(db: &TestDb, c: &profochat_saas::conn::Db, bot: &str, table: &str, write: &str, dir: &std::path::Path) -> (Option<i32>, String) {
    let (ok, out) = cli_blocking(
        ["migrate", "--yes", "--skip-backup", "--default-bot", bot, "--database-url", &db.url()].iter().map(|s| s.to_string()).collect(),
    )
    .await;
    assert!(ok, "the migration failed:\n{out}");
    let holder = db.connect().await;
    holder.batch_execute(&format!("BEGIN; LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")).await.unwrap();
    let child = bin()
        .args(["rollback", "--yes", "--database-url", &db.url(), "--backup-dir", &dir.display().to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    crate::interrupt::wait_for_a_lock_wait(c, table).await;
    holder.batch_execute(&format!("{write}; COMMIT")).await.unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).to_string())
}

/// The online way back keeps what the legacy schema cannot hold: an account the
/// application adds while the rollback runs (after it looked, before its last
/// transaction) makes that transaction refuse to switch back, with the row kept; the
/// same command again saves it to a file first and finishes in one transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_written_during_an_online_rollback_is_kept_then_saved_before_the_way_back() {
    let (db, c, bot) = seeded(RUNS).await;
    let dir = tempfile::tempdir().unwrap();
    // The rollback has looked (nothing to save) and waits for the account table.
    let (code, stderr) = rollback_while_written(&db, &c, &bot, "account", "INSERT INTO account (name, slug) VALUES ('Second', 'second')", dir.path()).await;
    assert_eq!(code, Some(5), "the switch back should have refused:\n{stderr}");
    assert!(stderr.contains("accounts other than the default account") && stderr.contains("Nothing was switched back"), "{stderr}");
    let kept: i64 = c.query_one("SELECT count(*) FROM account WHERE slug = 'second'", &[]).await.unwrap().get(0);
    assert_eq!(kept, 1, "the application's row is kept");
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "nothing was saved yet: {:?}", dir.path());

    let (ok, out) = cli_blocking(
        ["rollback", "--yes", "--database-url", &db.url(), "--backup-dir", &dir.path().display().to_string()].iter().map(|s| s.to_string()).collect(),
    )
    .await;
    assert!(ok, "the rollback again failed:\n{out}");
    assert_eq!(schema::inspect(&c).await.unwrap().state, SchemaState::Legacy);
    let saved: Vec<_> = std::fs::read_dir(dir.path()).unwrap().filter_map(|e| e.ok()).map(|e| e.path()).collect();
    assert_eq!(saved.iter().filter(|p| p.extension().is_some_and(|e| e == "dump")).count(), 1, "what the legacy schema cannot hold is saved first: {saved:?}");
    use std::os::unix::fs::PermissionsExt;
    for p in &saved {
        assert_eq!(std::fs::metadata(p).unwrap().permissions().mode() & 0o077, 0, "{} is readable by its owner only", p.display());
    }
}

/// The last transaction of the online way back checks every row again under its locks:
/// a run the application gives a UTM medium (a change of a new column only, which the
/// change log does not record) while the rollback waits for those locks makes the switch
/// back refuse, with the value kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_value_written_after_the_whole_check_still_stops_the_switch_back() {
    let (db, c, bot) = seeded(RUNS).await;
    let dir = tempfile::tempdir().unwrap();
    // Only the last transaction locks account_member (no key of a legacy table names it):
    // past its passes, the rollback waits for it.
    let (code, stderr) =
        rollback_while_written(&db, &c, &bot, "account_member", "UPDATE run SET utm_medium = 'spring' WHERE run_id = (SELECT min(run_id) FROM run)", dir.path()).await;
    assert_eq!(code, Some(5), "the switch back should have refused:\n{stderr}");
    assert!(stderr.contains("values in the new columns") && stderr.contains("Nothing was switched back"), "{stderr}");
    let kept: i64 = c.query_one("SELECT count(*) FROM run WHERE utm_medium = 'spring'", &[]).await.unwrap().get(0);
    assert_eq!(kept, 1, "the application's value is kept");
}
