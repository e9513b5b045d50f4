//! What is refused or only reported while an online migration is in progress or
//! interrupted, and how the report names the steps.

use super::*;

#[tokio::test]
async fn abort_with_nothing_in_progress_is_a_clear_error_with_exit_4() {
    let (db, mut c) = legacy_with_anomalies().await;
    let cat = catalog(&c).await;
    let out = cli().args(["migrate", "--abort", "--yes", "--database-url", &db.url()]).assert().code(4);
    let err = text(&out.get_output().stderr);
    assert!(err.contains("no online migration in progress") && err.contains("legacy") && err.contains("Nothing to abort"), "{err}");
    assert_eq!(catalog(&c).await, cat);
    // Once migrated, abort is the wrong tool and says which is the right one.
    migrate::migrate(&mut c, &crate::migrate::opts(), &Silent).await.unwrap();
    let cat = catalog(&c).await;
    let out = cli().args(["migrate", "--abort", "--yes", "--database-url", &db.url()]).assert().code(4);
    let err = text(&out.get_output().stderr);
    assert!(err.contains("no online migration in progress") && err.contains("profochat-saas rollback"), "{err}");
    assert_eq!(catalog(&c).await, cat);
}

/// One online migrate at a time: while one runs (here held up in its first step by a
/// lock the test holds), a second `migrate` and `migrate --abort` are refused (exit 5)
/// and change nothing; the first then completes.
#[tokio::test]
async fn a_second_migrate_or_an_abort_while_one_runs_is_refused_with_5() {
    let (db, c) = legacy_with_anomalies().await;
    let holder = db.connect().await;
    holder.batch_execute("BEGIN; LOCK TABLE conversation IN SHARE MODE").await.unwrap();
    let mut first = bin()
        .args(["migrate", "--yes", "--skip-backup", "--default-bot", "main_bot", "--database-url", &db.url()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // It has recorded its start and waits for the lock, holding the migration lock.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if migration_lock_held(&c).await && online::progress(&c.client).await.unwrap().is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "the first migrate never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cat = catalog(&c).await;
    let out = cli().args(["migrate", "--yes", "--skip-backup", "--default-bot", "main_bot", "--database-url", &db.url()]).assert().code(5);
    let err = text(&out.get_output().stderr);
    assert!(err.contains("another `profochat-saas migrate` is running") && err.contains("Nothing was changed"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let out = cli().args(["migrate", "--abort", "--yes", "--database-url", &db.url(), "--backup-dir"]).arg(dir.path()).assert().code(5);
    let err = text(&out.get_output().stderr);
    assert!(err.contains("is running") && err.contains("Nothing was changed"), "{err}");
    assert_eq!(catalog(&c).await, cat, "the refused commands changed nothing");

    holder.batch_execute("COMMIT").await.unwrap();
    let code = crate::pty::exit_code(&mut first, Duration::from_secs(120));
    let mut stderr = String::new();
    use std::io::Read;
    first.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(schema::inspect(&c).await.unwrap().state, SchemaState::Migrated);
}

/// A dry run is the one-transaction migration rolled back: with an online migration in
/// progress it has nothing it may run, so it changes nothing (it must not resume it).
#[tokio::test]
async fn a_dry_run_while_an_online_migration_is_in_progress_changes_nothing() {
    let (db, c) = legacy_with_anomalies().await;
    crash(&db, "main_bot", "after:expand");
    wait_for_the_killed_session(&c).await;
    let p = progress(&c).await;
    let cat = catalog(&c).await;
    let fp = fingerprint::take(&*c).await.unwrap();
    let out = cli().args(["migrate", "--dry-run", "--default-bot", "main_bot", "--database-url", &db.url()]).assert();
    let o = out.get_output();
    assert_eq!(catalog(&c).await, cat, "the dry run changed the catalog:\n{}\n{}", text(&o.stdout), text(&o.stderr));
    assert_eq!(progress(&c).await, p, "the dry run moved the online migration on");
    assert_eq!(fingerprint::take(&*c).await.unwrap(), fp);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains("online migration in progress") && err.contains("Nothing was changed"), "{err}");
}

/// `validate` during an online migration that has not switched: not a list of
/// "critical problems", but where the migration stands (as `status` says), the rules
/// that hold already and those pending until the switch, and exit status 13 with what
/// to do (resume or abort).
#[tokio::test]
async fn validate_during_an_interrupted_online_migration_says_where_it_stands_and_exits_13() {
    let (db, c, bot) = seeded(60).await;
    crash(&db, &bot, "after:prepare");
    wait_for_the_killed_session(&c).await;
    let st = status(&db);
    let at = st.lines().find_map(|l| l.strip_prefix("Online:")).expect("status names the step").trim().to_string();
    let out = cli().args(["validate", "--database-url", &db.url()]).assert().code(13);
    let (stdout, stderr) = (text(&out.get_output().stdout), text(&out.get_output().stderr));
    assert!(stdout.contains(&format!("in progress ({at})")) && stdout.contains("pending"), "{at}\n{stdout}");
    assert!(!stdout.contains("critical") && !stdout.contains("FAIL") && !stderr.contains("critical"), "{stdout}\n{stderr}");
    assert!(stderr.contains("migrate --abort") && stderr.contains("resume"), "{stderr}");
    let out = cli().args(["validate", "--json", "--database-url", &db.url()]).assert().code(13);
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["passed"], false);
    assert!(v["pending"].as_array().is_some_and(|p| !p.is_empty()) && v["checks_passed"].as_u64().unwrap() > 0, "{v}");
    // Once resumed to the end, validate passes.
    cli().args(["migrate", "--yes", "--skip-backup", "--database-url", &db.url()]).assert().success();
    cli().args(["validate", "--database-url", &db.url()]).assert().success();
}

/// `migrate`'s report says what it did without misleading: online its rows are steps
/// (the indexes one of them, not counted twice), a backfill counts the key values its
/// batches covered (conversation: run_id values, not rows), counts carry thousands
/// separators; on a finished database it says "finished" and nothing of the legacy bot.
#[tokio::test]
async fn the_online_report_names_steps_key_values_and_counts_plainly() {
    let (db, _c, bot) = seeded(300).await;
    let out = cli().args(["migrate", "--yes", "--skip-backup", "--default-bot", &bot, "--database-url", &db.url()]).assert().success();
    let stdout = text(&out.get_output().stdout);
    assert!(stdout.contains("| step ") && !stdout.contains("| phase "), "{stdout}");
    assert!(!stdout.contains("(after commit)"), "the indexes are one step, not counted twice:\n{stdout}");
    assert!(stdout.contains("backfill conversation") && stdout.contains("run_id values"), "{stdout}");
    assert!(!stdout.contains(", keys "), "{stdout}");
    let conversation = stdout.lines().find(|l| l.starts_with("| conversation")).expect("the proof's conversation row");
    assert!(conversation.contains(','), "thousands separators: {conversation}");
    // The progress lines say the same.
    let stderr = text(&out.get_output().stderr);
    assert!(stderr.contains("backfill conversation: batches") && stderr.contains("run_id values") && !stderr.contains(", keys "), "{stderr}");
    assert!(stderr.contains("legacy rows 3,"), "{stderr}");
}

/// `migrate --offline` on an interrupted online migration refuses before anything (exit
/// 4), says what to run instead, and says once that nothing was changed.
#[tokio::test]
async fn offline_on_an_interrupted_online_migration_refuses_with_one_clear_message() {
    let (db, c) = legacy_with_anomalies().await;
    crash(&db, "main_bot", "after:prepare");
    wait_for_the_killed_session(&c).await;
    let out = cli()
        .args(["migrate", "--offline", "--yes", "--skip-backup", "--database-url", &db.url()])
        .assert()
        .code(4);
    let err = text(&out.get_output().stderr);
    assert!(err.contains("has an online migration in progress") && err.contains("migrate --abort"), "{err}");
    assert_eq!(err.matches("Nothing was changed.").count(), 1, "{err}");
    assert_eq!(schema::inspect(&c).await.unwrap().state, SchemaState::MigrationInProgress);
}
