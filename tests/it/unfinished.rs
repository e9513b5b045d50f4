//! Honest outcomes: online, an index that cannot be built stops the migration in its
//! indexes step (exit 13) and a re-run finishes it; on a migrated database whose
//! indexes are pending, one that cannot be built ends `migrate` with exit status 12 and
//! the reason (the migration stays committed), `status` says what is pending and a
//! later `migrate` finishes it; a re-run that meets an earlier build still open on the
//! server waits for it, or says so; a migration recorded as pending never stays so.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use predicates::prelude::*;
use profochat_saas::migrate::{self, MigrateOptions, Outcome};
use profochat_saas::report::{Event, Reporter, Silent};
use profochat_saas::schema::{self, SchemaState};
use profochat_saas::{Error, ExitStatus};

use crate::harness::cli;
use crate::migrate::{legacy_with_anomalies, opts};

async fn recorded_status(c: &profochat_saas::conn::Db) -> String {
    c.query_one("SELECT status FROM profochat_saas.migration ORDER BY migration_id DESC LIMIT 1", &[])
        .await
        .unwrap()
        .get(0)
}

/// Keeps the warnings.
#[derive(Default, Clone)]
struct Notes(Arc<Mutex<Vec<String>>>);

impl Reporter for Notes {
    fn event(&self, event: Event<'_>) {
        if let Event::Note { message, .. } = event {
            self.0.lock().unwrap().push(message.to_string());
        }
    }
}

/// Online, the secondary indexes are a step before the switch: one that cannot be built
/// stops the migration there (exit 13), named with the reason; nothing is switched, and
/// a re-run once the name is free builds it and completes the migration.
#[tokio::test]
async fn an_index_whose_name_is_taken_stops_the_online_migration_in_step_indexes_with_13_and_a_rerun_finishes_it() {
    let (db, c) = legacy_with_anomalies().await;
    // Another object holds the name of one of the secondary indexes.
    let name = profochat_saas::target::secondary_indexes().into_iter().find(|i| i.table == "conversation").unwrap().name;
    c.batch_execute(&format!("CREATE TABLE {} (note text)", profochat_saas::sql::ident(&name))).await.unwrap();
    let out = cli()
        .args(["migrate", "--yes", "--skip-backup", "--default-bot", "main_bot", "--database-url", &db.url()])
        .assert()
        .code(13);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    for needle in [
        "the online migration stopped in step indexes".to_string(),
        format!("{name} (the name is taken by a table of that name"),
        "`profochat-saas migrate` resumes it".into(),
        "`profochat-saas migrate --abort`".into(),
    ] {
        assert!(stderr.contains(needle.as_str()), "{needle:?} missing from:\n{stderr}");
    }
    // Not switched: still in progress, in step indexes, and `status` says so.
    let st = schema::inspect(&c).await.unwrap();
    assert_eq!(st.state, SchemaState::MigrationInProgress);
    assert_eq!(recorded_status(&c).await, "in_progress");
    cli()
        .args(["status", "--database-url", &db.url()])
        .assert()
        .success()
        .stdout(predicate::str::contains("Online:    step indexes under way"));
    // A re-run with the cause still there: the same stop, and the library says so too.
    let mut db_c = db.connect().await;
    let err = migrate::migrate(&mut db_c, &opts(), &Silent).await.unwrap_err();
    assert_eq!(err.exit_status(), ExitStatus::Stopped);
    match &err {
        Error::Stopped { step, cause, .. } => {
            assert_eq!(step.name(), "indexes");
            assert!(cause.contains(name.as_str()), "{cause}");
        }
        other => panic!("{other:?}"),
    }
    // Cause removed: the re-run builds it and switches.
    c.batch_execute(&format!("ALTER TABLE {} RENAME TO conversation_notes", profochat_saas::sql::ident(&name))).await.unwrap();
    cli()
        .args(["migrate", "--yes", "--skip-backup", "--database-url", &db.url()])
        .assert()
        .success()
        .stdout(predicate::str::contains("Migrated"));
    let st = schema::inspect(&c).await.unwrap();
    assert_eq!(st.state, SchemaState::Migrated);
    assert!(st.secondary_indexes_missing.is_empty() && st.secondary_indexes_invalid.is_empty());
    assert_eq!(recorded_status(&c).await, "completed");
}

#[tokio::test]
async fn a_build_that_fails_on_a_lock_gives_12_with_the_reason_and_a_rerun_finishes() {
    let (db, mut c) = legacy_with_anomalies().await;
    migrate::migrate(&mut c, &opts(), &Silent).await.unwrap();
    c.batch_execute(&format!(
        "DROP INDEX idx_waiting_date; ALTER DATABASE {} SET lock_timeout = '300ms'",
        profochat_saas::sql::ident(&db.name)
    ))
    .await
    .unwrap();
    // The test holds a lock that index builds on waiting_element conflict with.
    let holder = db.connect().await;
    holder
        .batch_execute("SET lock_timeout = 0; BEGIN; LOCK TABLE waiting_element IN SHARE ROW EXCLUSIVE MODE")
        .await
        .unwrap();
    let out = cli().args(["migrate", "--yes", "--skip-backup", "--database-url", &db.url()]).assert().code(12);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        stderr.contains("1 of 1 secondary indexes could not be built") && stderr.contains("idx_waiting_date (canceling statement due to lock timeout"),
        "{stderr}"
    );
    assert_eq!(schema::inspect(&c).await.unwrap().state, SchemaState::IndexesPending);
    holder.batch_execute("COMMIT").await.unwrap();
    let r = migrate::migrate(&mut c, &opts(), &Silent).await.unwrap();
    assert_eq!(r.outcome, Outcome::IndexesFinished);
    assert_eq!(r.indexes.built, ["idx_waiting_date"]);
    assert_eq!(schema::inspect(&c).await.unwrap().state, SchemaState::Migrated);
}

#[tokio::test]
async fn a_rerun_waits_for_an_earlier_build_still_open_or_says_so() {
    let (db, mut c) = legacy_with_anomalies().await;
    migrate::migrate(&mut c, &opts(), &Silent).await.unwrap();
    c.batch_execute("DROP INDEX idx_run_chat").await.unwrap();
    // An earlier build whose transaction is still open (its client went away mid-build).
    // (Its last statement is the CREATE INDEX, as for a client killed in the build.)
    let orphan = db.connect().await;
    let pid: i32 = orphan.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0);
    orphan.batch_execute("BEGIN; CREATE INDEX IF NOT EXISTS idx_run_chat ON run (bot_id, chat_id)").await.unwrap();

    // A short wait: it says so, naming the process and how to end it.
    let short = MigrateOptions { index_wait: Some(Duration::from_millis(600)), ..opts() };
    let err = migrate::migrate(&mut c, &short, &Silent).await.unwrap_err();
    assert_eq!(err.exit_status(), ExitStatus::Unfinished);
    let text = err.to_string();
    assert!(
        text.contains("an earlier index build is still running") && text.contains(&format!("process {pid}")) && text.contains(&format!("pg_cancel_backend({pid})")),
        "{text}"
    );
    assert_eq!(schema::inspect(&c).await.unwrap().state, SchemaState::IndexesPending);

    // A longer wait: the earlier build ends meanwhile, and the re-run finishes.
    let notes = Notes::default();
    let seen = notes.clone();
    let settings = db.settings.clone();
    let rerun = tokio::spawn(async move {
        let mut c = profochat_saas::conn::connect(&settings).await.unwrap();
        let long = MigrateOptions { index_wait: Some(Duration::from_secs(60)), ..opts() };
        migrate::migrate(&mut c, &long, &notes).await
    });
    while seen.0.lock().unwrap().is_empty() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    orphan.batch_execute("COMMIT").await.unwrap();
    let r = rerun.await.unwrap().unwrap();
    assert_eq!(r.outcome, Outcome::IndexesFinished);
    let warning = seen.0.lock().unwrap()[0].clone();
    assert!(warning.contains(&format!("process {pid}")) && warning.contains("idx_run_chat") && warning.contains("Waiting up to 60 s"), "{warning}");
    assert_eq!(schema::inspect(&c).await.unwrap().state, SchemaState::Migrated);
    assert_eq!(recorded_status(&c).await, "completed");
}

#[tokio::test]
async fn a_migration_left_recorded_as_pending_is_shown_and_finished() {
    let (db, mut c) = legacy_with_anomalies().await;
    migrate::migrate(&mut c, &opts(), &Silent).await.unwrap();
    // Interrupted after the last index build, before the record: every index exists.
    c.batch_execute("UPDATE profochat_saas.migration SET status = 'indexes_pending'").await.unwrap();
    let st = schema::inspect(&c).await.unwrap();
    assert_eq!(st.state, SchemaState::IndexesPending);
    assert!(st.secondary_indexes_missing.is_empty() && st.secondary_indexes_invalid.is_empty());
    cli()
        .args(["status", "--database-url", &db.url()])
        .assert()
        .success()
        .stdout(predicate::str::contains("indexes pending").and(predicate::str::contains("Run `profochat-saas migrate` again")));
    let r = migrate::migrate(&mut c, &opts(), &Silent).await.unwrap();
    assert_eq!(r.outcome, Outcome::IndexesFinished);
    assert!(r.indexes.built.is_empty());
    assert_eq!(recorded_status(&c).await, "completed");
    assert_eq!(schema::inspect(&c).await.unwrap().state, SchemaState::Migrated);
}
