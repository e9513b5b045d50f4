//! Signals: Ctrl-C on a terminal and SIGINT / SIGTERM sent to the process end every
//! command at once, with exit status 130 and a message that says what was left; a
//! partial backup never stays behind; a hidden prompt gives the terminal its echo back;
//! an interrupted online migration stops where it is and says how to resume or abort;
//! a resumed migration asks like any change.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::harness::{bin, cli, TestDb};
use crate::migrate::{catalog, legacy_with_anomalies};
use crate::pty::{self, Term};

const PROMPT_WAIT: Duration = Duration::from_secs(60);
/// "At once": well below anything a hang would take.
const AT_ONCE: Duration = Duration::from_secs(10);

#[tokio::test]
async fn ctrl_c_at_the_confirmation_prompt_ends_at_once_with_130_and_changes_nothing() {
    let (db, c) = legacy_with_anomalies().await;
    let before = catalog(&c).await;
    let mut cmd = bin();
    cmd.args(["migrate", "--skip-backup", "--default-bot", "main_bot", "--database-url", &db.url()]);
    let mut t = Term::spawn(cmd);
    t.expect("[y/N]", PROMPT_WAIT);
    let sent = Instant::now();
    t.send(b"\x03");
    assert_eq!(t.exit_code(AT_ONCE), 130, "{}", t.output());
    assert!(sent.elapsed() < Duration::from_secs(5), "it took {:?}", sent.elapsed());
    let out = t.output();
    assert!(out.contains("interrupted by Ctrl-C (SIGINT)") && out.contains("Nothing was changed"), "{out}");
    // The message starts on a line of its own, not after the question.
    assert!(out.lines().any(|l| l.trim_start().starts_with("error: interrupted")), "{out}");
    assert_eq!(catalog(&c).await, before);
}

#[tokio::test]
async fn ctrl_c_and_sigterm_at_the_hidden_token_prompt_end_at_once_and_give_the_echo_back() {
    let s = crate::ops::setup().await;
    for (how, key) in [("Ctrl-C", Some(b"\x03")), ("SIGTERM", None)] {
        let mut cmd = bin();
        cmd.args(["bot", "set-token", "--yes", "--bot", "alpha_bot", "--database-url", &s.db.url()]);
        let mut t = Term::spawn(cmd);
        t.expect("input is hidden", PROMPT_WAIT);
        t.send(b"12345:half-typed");
        std::thread::sleep(Duration::from_millis(200));
        assert!(!t.echoes(), "{how}: the prompt hides what is typed");
        match key {
            Some(k) => t.send(k),
            None => t.signal(libc::SIGTERM),
        }
        assert_eq!(t.exit_code(AT_ONCE), 130, "{how}: {}", t.output());
        let out = t.output();
        assert!(out.contains("interrupted by") && out.contains("Nothing was changed: bot \"alpha_bot\" keeps its token"), "{how}: {out}");
        assert!(!out.contains("half-typed"), "{how}: what was typed is never shown: {out}");
        assert!(t.echoes(), "{how}: the terminal echoes again after the interruption");
        let token: String = s.client.query_one("SELECT bot_token FROM bot WHERE bot_name = 'alpha_bot'", &[]).await.unwrap().get(0);
        assert!(token.starts_with(profochat_saas::target::PLACEHOLDER_TOKEN_PREFIX), "{how}: the token is unchanged");
    }
}

/// A table `pg_dump` must lock, held by another session: the dump waits, with its
/// partial file written, until the test lets go.
async fn block_pg_dump(db: &TestDb) -> profochat_saas::conn::Db {
    let c = db.connect().await;
    c.batch_execute("CREATE TABLE blocker (x int)").await.unwrap();
    let holder = db.connect().await;
    holder.batch_execute("BEGIN; LOCK TABLE blocker IN ACCESS EXCLUSIVE MODE").await.unwrap();
    holder
}

fn partial_files(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|r| r.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn sigint_and_sigterm_during_a_backup_remove_the_partial_file() {
    let (db, _c) = legacy_with_anomalies().await;
    let _holder = block_pg_dump(&db).await;
    for sig in [libc::SIGTERM, libc::SIGINT] {
        let dir = tempfile::tempdir().unwrap();
        let backups = dir.path().join("backups");
        let mut child = bin()
            .args(["backup", "--backup-dir"])
            .arg(&backups)
            .args(["--database-url", &db.url()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + PROMPT_WAIT;
        while !partial_files(&backups).iter().any(|f| f.ends_with(".partial")) {
            assert!(Instant::now() < deadline, "pg_dump never started writing");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
        assert_eq!(pty::exit_code(&mut child, AT_ONCE), 130, "signal {sig}");
        let mut err = String::new();
        use std::io::Read;
        child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        let name = if sig == libc::SIGTERM { "SIGTERM" } else { "SIGINT" };
        assert!(err.contains("interrupted by") && err.contains(name), "{err}");
        assert!(!backups.exists() || partial_files(&backups).is_empty(), "left behind: {:?}", partial_files(&backups));
    }
}

/// Waits until a session other than the test's waits for a lock on `table`.
pub(crate) async fn wait_for_a_lock_wait(c: &profochat_saas::conn::Db, table: &str) {
    let deadline = Instant::now() + PROMPT_WAIT;
    loop {
        let n: i64 = c
            .query_one(
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = $1::text::regclass
                    AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                &[&table],
            )
            .await
            .unwrap()
            .get(0);
        if n > 0 {
            return;
        }
        assert!(Instant::now() < deadline, "nothing ever waited for a lock on {table}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// SIGINT to a waiting online `migrate`: exit 130 at once, and a message that says the
/// migration stops where it is and how to go on or back — never that anything was
/// rolled back or left unchanged.
fn interrupt_and_check(child: &mut std::process::Child) -> String {
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    assert_eq!(pty::exit_code(child, AT_ONCE), 130);
    let mut err = String::new();
    use std::io::Read;
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    let message = err[err.find("error:").unwrap_or_else(|| panic!("no error message: {err}"))..].to_string();
    assert!(message.contains("interrupted by") && message.contains("SIGINT") && message.contains("online migration stops"), "{err}");
    assert!(message.contains("`profochat-saas status`") && message.contains("`profochat-saas migrate` resumes"), "how to resume: {message}");
    assert!(message.contains("`profochat-saas migrate --abort`"), "how to go back: {message}");
    for never in ["rolled back", "Nothing was changed", "nothing was changed", "unchanged"] {
        assert!(!message.contains(never), "{never:?} in: {message}");
    }
    err
}

fn spawn_migrate(db: &TestDb, extra: &[&str]) -> std::process::Child {
    bin()
        .args(["migrate", "--yes", "--skip-backup", "--default-bot", "main_bot", "--database-url", &db.url()])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The online migration made to wait by a lock the test holds on conversation, then
/// interrupted: first in its expand step (its short lock attempts wait), then, resumed
/// past the waiting elements, in a batch of the conversation backfill. Each time
/// `status` names the step, and in the end a plain `migrate` completes it.
#[tokio::test]
async fn an_interrupt_of_the_online_migration_says_it_stops_and_how_to_resume_or_abort() {
    let (db, c) = legacy_with_anomalies().await;
    let holder = db.connect().await;
    holder.batch_execute("BEGIN; LOCK TABLE conversation IN SHARE MODE").await.unwrap();
    let mut child = spawn_migrate(&db, &[]);
    wait_for_a_lock_wait(&c, "conversation").await;
    interrupt_and_check(&mut child);
    holder.batch_execute("COMMIT").await.unwrap();
    // (The server ends the interrupted session once it notices the client is gone.)
    crate::online::wait_for_the_killed_session(&c).await;
    let out = cli().args(["status", "--database-url", &db.url()]).assert().success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(text.contains("an online migration in progress") && text.contains("Online:    step expand under way"), "{text}");
    // The legacy tables are as they were: the expand step had not committed.
    assert!(c.query_one("SELECT to_regclass('bot') IS NULL", &[]).await.unwrap().get::<_, bool>(0));

    // Resumed, and ended like kill -9 after the waiting elements' backfill.
    let out = spawn_migrate(&db, &["--crash-at", "after:backfill waiting_element"]).wait_with_output().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert!(out.status.signal().is_some(), "{:?}: {}", out.status, String::from_utf8_lossy(&out.stderr));
    crate::online::wait_for_the_killed_session(&c).await;
    holder.batch_execute("BEGIN; LOCK TABLE conversation IN SHARE MODE").await.unwrap();
    let mut child = spawn_migrate(&db, &[]);
    wait_for_a_lock_wait(&c, "conversation").await;
    interrupt_and_check(&mut child);
    holder.batch_execute("COMMIT").await.unwrap();
    crate::online::wait_for_the_killed_session(&c).await;
    let out = cli().args(["status", "--database-url", &db.url()]).assert().success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(text.contains("Online:    step backfill conversation: 0 batches done"), "{text}");

    // A plain re-run completes it, and it validates.
    cli().args(["migrate", "--yes", "--skip-backup", "--database-url", &db.url()]).assert().success();
    let out = cli().args(["status", "--database-url", &db.url()]).assert().success();
    assert!(String::from_utf8_lossy(&out.get_output().stdout).contains("migrated (multi-tenant SaaS schema)"));
    cli().args(["validate", "--database-url", &db.url()]).assert().success();
}

#[tokio::test]
async fn a_resumed_migration_asks_like_any_change() {
    let (db, mut c) = legacy_with_anomalies().await;
    profochat_saas::migrate::migrate(&mut c, &crate::migrate::opts(), &profochat_saas::report::Silent).await.unwrap();
    c.batch_execute("DROP INDEX idx_run_chat").await.unwrap();
    let missing = || async { c.query_one("SELECT to_regclass('idx_run_chat') IS NULL", &[]).await.unwrap().get::<_, bool>(0) };

    // No terminal, no --yes: refused, nothing built.
    let out = cli().args(["migrate", "--database-url", &db.url()]).assert().code(5);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("confirmation needed") && err.contains("--yes"), "{err}");
    assert!(missing().await);

    // On a terminal it asks; "n" leaves it as it is.
    let mut cmd = bin();
    cmd.args(["migrate", "--database-url", &db.url()]);
    let mut t = Term::spawn(cmd);
    t.expect("missing secondary index", PROMPT_WAIT);
    t.expect("[y/N]", PROMPT_WAIT);
    t.send(b"n\r");
    assert_eq!(t.exit_code(AT_ONCE), 5, "{}", t.output());
    assert!(missing().await);

    // --yes builds it.
    cli().args(["migrate", "--yes", "--database-url", &db.url()]).assert().success();
    assert!(!missing().await);
}
