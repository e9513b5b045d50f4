//! `plan` on seeded data: every anomaly kind of SPEC §1 with exactly the counts the
//! generator made; then `migrate` does what the plan said and validates.

use std::collections::BTreeMap;

use profochat_saas::conn::Db;
use profochat_saas::migrate::{self, MigrateOptions};
use profochat_saas::plan::{self, Plan};
use profochat_saas::report::Silent;
use profochat_saas::seed::{self, SeedManifest, SeedOptions};
use profochat_saas::validate;

use crate::harness::{cli, TestDb};

async fn seeded(runs: u64, seed_value: u64) -> (TestDb, Db, SeedManifest) {
    let db = TestDb::empty().await;
    let mut c = db.connect().await;
    let m = seed::generate(&mut c, &SeedOptions { runs, seed: seed_value }, &Silent).await.unwrap();
    (db, c, m)
}

fn u(m: &BTreeMap<String, u64>) -> BTreeMap<String, i64> {
    m.iter().filter(|(_, v)| **v > 0).map(|(k, v)| (k.clone(), *v as i64)).collect()
}

fn anomaly(p: &Plan, kind: &str) -> i64 {
    p.anomalies.iter().find(|a| a.kind == kind).unwrap_or_else(|| panic!("plan has no anomaly {kind}")).count
}

#[tokio::test]
async fn plan_counts_every_anomaly_exactly_as_generated() {
    for (runs, s) in [(300, 1), (500, 7)] {
        let (_db, mut c, m) = seeded(runs, s).await;
        let opts = MigrateOptions {
            default_bot: Some(m.default_bot.clone()),
            ..MigrateOptions::default()
        };
        let p = plan::plan(&mut c, &opts).await.unwrap();
        let a = &p.analysis;
        assert!(p.ready, "{:?}", p.decisions);
        assert_eq!(a.rows, m.rows.iter().map(|(k, v)| (k.clone(), *v as i64)).collect::<BTreeMap<_, _>>());
        assert_eq!(a.bots.keys().cloned().collect::<Vec<_>>(), m.bot_names, "several bots");
        assert_eq!(anomaly(&p, "several_bots"), m.bot_names.len() as i64);
        assert_eq!(a.bots_only_in(), m.bots_only_in, "bots only in one table");
        assert_eq!(a.null_bot_rows, u(&m.null_bot_rows), "NULL bot names");
        assert_eq!(anomaly(&p, "null_bot_rows"), m.null_bot_rows.values().sum::<u64>() as i64);
        assert_eq!(a.missing_courses.iter().map(|c| c.course_id.clone()).collect::<Vec<_>>(), m.missing_course_ids);
        assert_eq!(a.missing_course_refs, u(&m.missing_course_refs), "rows naming missing courses");
        assert_eq!(a.null_course_rows, u(&m.null_course_rows), "NULL course ids");
        assert_eq!(a.identical_copies(), m.identical_copies);
        assert_eq!(a.differing_copies(), m.differing_copies);
        assert_eq!(a.orphan_run_refs, m.orphan_run_refs as i64, "orphan run ids");
        assert_eq!(a.null_run_refs, m.null_run_refs as i64);
        assert_eq!(a.duplicate_active_groups, m.duplicate_active_groups as i64);
        assert_eq!(a.runs_to_deactivate, m.runs_to_deactivate as i64);
        assert_eq!(a.duplicate_participants, m.duplicate_participants as i64);
        assert_eq!(a.duplicate_bans, m.duplicate_bans as i64);
        assert_eq!(a.null_is_ended_runs, m.null_is_ended_runs as i64);
        assert_eq!(a.null_is_waiting, m.null_is_waiting as i64);
        assert_eq!(a.large_json_rows, m.large_json_rows as i64);
        // Each anomaly kind of SPEC §1 is present in the data and reported.
        for kind in [
            "several_bots", "null_bot_rows", "bots_only_in_one_table", "missing_course", "null_course_id",
            "identical_course_copies", "differing_course_copies", "orphan_run_refs", "null_run_refs",
            "duplicate_active_runs", "duplicate_participants", "duplicate_bans", "null_flags", "large_json",
        ] {
            assert!(anomaly(&p, kind) > 0, "{kind} at runs={runs}");
        }
    }
}

#[tokio::test]
async fn migrate_on_seeded_data_does_what_the_plan_said_and_validates() {
    let (_db, mut c, m) = seeded(400, 3).await;
    let opts = MigrateOptions {
        default_bot: Some(m.default_bot.clone()),
        index_jobs: 2,
        ..MigrateOptions::default()
    };
    let p = plan::plan(&mut c, &opts).await.unwrap();
    let r = migrate::migrate(&mut c, &opts, &Silent).await.unwrap();
    assert!(r.proof.iter().all(|t| t.equal), "{:?}", r.proof);
    assert_eq!(r.deployments, p.analysis.deployments_to_create);
    let data = &r.phases.iter().find(|ph| ph.name == "data" || ph.name == "prepare").unwrap().counts;
    assert_eq!(data["bots_created"], p.bots.len() as i64);
    assert_eq!(data["courses_created"], m.missing_course_ids.len() as i64);
    let archived_runs = r.proof.iter().find(|t| t.table == "run").unwrap().archived_updated;
    assert!(archived_runs >= m.runs_to_deactivate as i64);
    let bans = r.proof.iter().find(|t| t.table == "bannedparticipants").unwrap();
    assert_eq!(bans.archived_deleted, m.duplicate_bans as i64);
    let v = validate::validate(&*c, &validate::ValidateOptions::default()).await.unwrap();
    assert_eq!(v.critical_failures(), 0, "{:#?}", v.checks.iter().filter(|c| !c.passed).collect::<Vec<_>>());
}

#[tokio::test]
async fn plan_json_and_text_on_seeded_data() {
    let (db, _c, m) = seeded(200, 2).await;
    let out = cli().args(["plan", "--json", "--default-bot", &m.default_bot, "--database-url", &db.url()]).assert().success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["ready"], true);
    assert_eq!(v["analysis"]["orphan_run_refs"], m.orphan_run_refs);
    // -v: every table, group and course.
    let out = cli().args(["plan", "-v", "--default-bot", &m.default_bot, "--database-url", &db.url()]).assert().success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    for needle in ["Anomalies and their outcome", "Courses merged, renamed or created", "Ready:", &m.identical_copies[0], &m.differing_copies[0]] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    // By default: one screen, the decision (here: ready) first, the totals per anomaly.
    let out = cli().args(["plan", "--default-bot", &m.default_bot, "--database-url", &db.url()]).assert().success();
    let short = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(short.lines().count() <= 60, "{} lines:\n{short}", short.lines().count());
    let ready = short.lines().position(|l| l.starts_with("Ready:")).expect("Ready line");
    let anomalies = short.lines().position(|l| l.starts_with("Anomalies found")).expect("anomalies");
    assert!(ready < anomalies, "the decision comes first:\n{short}");
    assert!(short.lines().skip(2).filter(|l| !l.starts_with("Ready:")).all(|l| l.chars().count() <= 100), "{short}");
    assert!(text.lines().count() > short.lines().count());
}

/// `plan`'s default output on the seeded dataset: one screen, decisions first.
#[tokio::test]
async fn plan_default_output_on_seeded_data_snapshot() {
    let (db, _c, m) = seeded(2000, 1).await;
    let out = cli().args(["plan", "--default-bot", &m.default_bot, "--database-url", &db.url()]).assert().success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(stdout.lines().count() <= 60, "{stdout}");
    insta::with_settings!({filters => vec![
        (r"(?m)^Plan for .*$", "Plan for [target]"),
        (r"(?m)^Server: PostgreSQL [^ ]+.* — state:", "Server: PostgreSQL [version] — state:"),
        (r"--database-url \S+", "--database-url [url]"),
    ]}, {
        insta::assert_snapshot!(stdout);
    });
    // Without a default bot where one is needed: the decision comes first.
    let out = cli().args(["plan", "--database-url", &db.url()]).env_remove("BOT_NAME").assert().success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    let first_paragraph: Vec<&str> = stdout.lines().skip(3).take(2).collect();
    assert!(first_paragraph[0].starts_with("Decisions needed"), "{stdout}");
}

/// A misspelt --default-bot makes `plan` exit 5, as `migrate` refuses it.
#[tokio::test]
async fn plan_with_a_default_bot_that_names_no_bot_exits_5() {
    let (db, _c, _m) = seeded(200, 2).await;
    let out = cli().args(["plan", "--default-bot", "no_such_bot", "--database-url", &db.url()]).assert().code(5);
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(stdout.contains("Decisions needed") && stderr.contains("\"no_such_bot\""), "{stdout}\n{stderr}");
}
