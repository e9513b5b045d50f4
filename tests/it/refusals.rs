//! `plan` and `migrate` share their refusals and decisions (`migrate::decisions`): on the
//! same database, `plan` lists exactly the decisions that the library's `migrate` and
//! the command refuse with, and both change nothing.

use profochat_saas::fingerprint;
use profochat_saas::migrate::{self, CourseConflicts, MigrateOptions};
use profochat_saas::migrate::decisions;
use profochat_saas::plan::{self, DecisionKind};
use profochat_saas::report::Silent;
use profochat_saas::ExitStatus;

use crate::harness::{cli, TestDb};
use crate::migrate::{catalog, legacy_with_anomalies, opts};

fn with(default_bot: Option<&str>, conflicts: CourseConflicts) -> MigrateOptions {
    MigrateOptions {
        default_bot: default_bot.map(str::to_string),
        course_conflicts: conflicts,
        ..opts()
    }
}

#[tokio::test]
async fn plan_lists_exactly_what_the_library_migrate_refuses_with() {
    let (db, mut c) = legacy_with_anomalies().await;
    let cat = catalog(&c).await;
    let fp = fingerprint::take(&*c).await.unwrap();
    let cases = [
        (with(None, CourseConflicts::Rename), vec![DecisionKind::DefaultBot]),
        (with(Some("main_bot"), CourseConflicts::Fail), vec![DecisionKind::CourseConflicts]),
        (with(None, CourseConflicts::Fail), vec![DecisionKind::DefaultBot, DecisionKind::CourseConflicts]),
    ];
    for (o, kinds) in cases {
        let p = plan::plan(&mut c, &o).await.unwrap();
        assert!(!p.ready);
        assert_eq!(p.decisions.iter().map(|d| d.kind).collect::<Vec<_>>(), kinds);
        let expected = decisions::require_decided(&p.decisions).unwrap_err().to_string();
        let err = migrate::migrate(&mut c, &o, &Silent).await.unwrap_err();
        assert_eq!(err.exit_status(), ExitStatus::Refused);
        assert_eq!(err.to_string(), expected, "the library refuses with the plan's decisions");
        // The refused transaction's rollback goes out with the next statement on this
        // connection: send one before the command below blocks this thread.
        c.batch_execute("SELECT 1").await.unwrap();
        // And the command says the same, before any backup or question.
        let mut cmd = cli();
        cmd.args(["migrate", "--yes", "--database-url", &db.url(), "--backup-dir", "/nonexistent/never-written"]);
        if let Some(b) = &o.default_bot {
            cmd.args(["--default-bot", b]);
        }
        if o.course_conflicts == CourseConflicts::Fail {
            cmd.args(["--course-conflicts", "fail"]);
        }
        let out = cmd.assert().code(5);
        let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
        assert!(stderr.contains(&expected), "{stderr}\nexpected: {expected}");
        assert_eq!(catalog(&c).await, cat, "a refusal changes nothing");
        assert_eq!(fingerprint::take(&*c).await.unwrap(), fp);
    }
    // Decided: the plan is ready and the migration runs.
    let o = with(Some("main_bot"), CourseConflicts::Rename);
    assert!(plan::plan(&mut c, &o).await.unwrap().decisions.is_empty());
    migrate::migrate(&mut c, &o, &Silent).await.unwrap();
}

#[tokio::test]
async fn plan_and_migrate_agree_on_the_action_for_each_state() {
    let (db, mut c) = legacy_with_anomalies().await;
    assert_eq!(plan::plan(&mut c, &opts()).await.unwrap().action, decisions::Action::Migrate);
    migrate::migrate(&mut c, &opts(), &Silent).await.unwrap();
    let p = plan::plan(&mut c, &opts()).await.unwrap();
    assert_eq!(p.action, decisions::Action::Nothing);
    assert!(p.nothing_to_do);
    assert_eq!(migrate::migrate(&mut c, &opts(), &Silent).await.unwrap().outcome, migrate::Outcome::AlreadyMigrated);
    let name = profochat_saas::target::secondary_indexes()[0].name.clone();
    c.batch_execute(&format!("DROP INDEX {}", profochat_saas::sql::ident(&name))).await.unwrap();
    assert_eq!(plan::plan(&mut c, &opts()).await.unwrap().action, decisions::Action::FinishIndexes);
    cli()
        .args(["plan", "--default-bot", "main_bot", "--database-url", &db.url()])
        .assert()
        .success()
        .stdout(predicates::str::contains(format!("`migrate` builds the secondary indexes still missing or invalid ({name})")));
    assert_eq!(migrate::migrate(&mut c, &opts(), &Silent).await.unwrap().outcome, migrate::Outcome::IndexesFinished);
}

#[tokio::test]
async fn a_database_that_is_not_profochat_is_refused_alike() {
    let db = TestDb::empty().await;
    let mut c = db.connect().await;
    c.batch_execute("CREATE TABLE invoices (id int)").await.unwrap();
    let p = plan::plan(&mut c, &opts()).await.unwrap_err();
    let m = migrate::migrate(&mut c, &opts(), &Silent).await.unwrap_err();
    assert_eq!(p.to_string(), m.to_string());
    assert_eq!(m.exit_status(), ExitStatus::State);
}
