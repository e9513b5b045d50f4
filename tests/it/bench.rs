//! `bench`: without a writer as before; with one, the legacy bot's writes run during
//! the migration and each is counted and timed.

use profochat_saas::bench::{self, writer::Statement, WriterOptions};
use profochat_saas::report::Silent;

use crate::harness::admin;

#[tokio::test]
async fn the_writer_runs_every_legacy_write_during_the_migration_and_times_it() {
    let w = WriterOptions { rate: 60, connections: 3 };
    let r = bench::run(&admin(), 300, 1, 1, bench::Setup::online(), Some(w), &Silent).await.unwrap();
    let round = &r.rounds[0];
    let wr = round.writer.as_ref().expect("a writer report");
    assert_eq!((wr.rate, wr.connections), (60, 3));
    // A second before the migration at 60 per second, then the migration.
    assert!(wr.all.run >= 60, "{:?}", wr.all);
    assert_eq!(wr.all.failed, 0, "{:?}", wr.errors);
    assert_eq!(wr.per_statement.len(), 5, "every write of SPEC §1: {:?}", wr.per_statement);
    for s in [Statement::StartCourse, Statement::Message, Statement::Delay, Statement::DelayDone, Statement::CourseEnd] {
        assert!(wr.per_statement.iter().any(|p| p.statement == s.describe() && p.run > 0), "{s:?}");
    }
    assert_eq!(wr.per_statement.iter().map(|p| p.run).sum::<u64>(), wr.all.run);
    assert!(wr.all.max_ms >= wr.all.p99_ms && wr.all.p99_ms >= wr.all.p50_ms && wr.all.p50_ms > 0.0);
    assert!(round.legacy_rows > 0 && round.rows_per_second > 0.0);
    // The slowest writes, slowest first, the first one the maximum; a write is set against
    // the migration's steps only when it was due while the migration ran (the writer's
    // first second is before it).
    assert_eq!(wr.slowest.len(), bench::writer::SLOWEST);
    assert_eq!(wr.slowest[0].ms, wr.all.max_ms);
    assert!(wr.slowest.windows(2).all(|w| w[0].ms >= w[1].ms));
    for s in &wr.slowest {
        if s.due_after_ms < 990.0 {
            assert!(s.during.is_empty(), "{s:?}");
        }
        assert!(s.during.iter().all(|d| !d.is_empty() && !d.starts_with("round ")), "{s:?}");
    }
}

#[tokio::test]
async fn without_a_writer_the_benchmark_is_as_before() {
    let r = bench::run(&admin(), 200, 1, 1, bench::Setup::online(), None, &Silent).await.unwrap();
    assert!(r.writer.is_none() && r.rounds[0].writer.is_none());
    assert!(r.rounds[0].phases.iter().any(|(s, _)| s == "no-loss proof"));
    assert!(r.median_migrate_ms > 0);
}

/// `bench --template DB`: each round migrates a copy of the database (left as it was),
/// and each step is timed once (an online step's own parts are inside its time).
#[tokio::test]
async fn a_template_is_copied_for_each_round_and_left_as_it_was() {
    let tpl = crate::harness::TestDb::empty().await;
    let m = {
        let mut c = tpl.connect().await;
        profochat_saas::seed::generate(&mut c, &profochat_saas::seed::SeedOptions { runs: 120, seed: 3 }, &Silent).await.unwrap()
    };
    let setup = bench::Setup { template: Some(tpl.name.clone()), default_bot: Some(m.default_bot.clone()), ..bench::Setup::online() };
    let r = bench::run(&admin(), 0, 1, 2, setup, None, &Silent).await.unwrap();
    assert_eq!(r.rounds.len(), 2);
    for round in &r.rounds {
        assert_eq!(round.legacy_rows, m.total_rows());
        let steps: Vec<&str> = round.phases.iter().map(|(s, _)| s.as_str()).collect();
        let mut unique = steps.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), steps.len(), "each step once: {steps:?}");
        for s in ["expand", "chat index", "backfill run", "lookup indexes", "indexes", "switch"] {
            assert!(steps.contains(&s), "{s} in {steps:?}");
        }
        // The backfill's rows per second: of each backfilled table, over its step.
        let (step, ms) = round.phases.iter().find(|(s, _)| s == "backfill run").unwrap();
        let rate = round.backfill_rows_per_second.iter().find(|(s, _)| s == step).map(|(_, r)| *r).unwrap();
        let runs = m.rows["run"] as f64;
        assert!((rate - runs / (*ms).max(1) as f64 * 1000.0).abs() < 1.0, "{rate} for {runs} runs in {ms} ms");
        assert_eq!(round.backfill_rows_per_second.len(), 6, "{:?}", round.backfill_rows_per_second);
    }
    let c = tpl.connect().await;
    assert_eq!(profochat_saas::schema::inspect(&c).await.unwrap().state, profochat_saas::schema::SchemaState::Legacy);
}

/// `bench --scale`: every step at every size, on dense data, the databases dropped after.
#[tokio::test]
async fn scale_times_every_step_at_every_size_and_says_how_it_grew() {
    let r = bench::scale(&admin(), &[120, 360], 2, profochat_saas::seed::Profile::Dense, &bench::ScalePart::ALL, &Silent).await.unwrap();
    assert_eq!(r.sizes, vec![120, 360]);
    assert!(r.run_rows[1] > 2 * r.run_rows[0], "{:?}", r.run_rows);
    let steps: Vec<&str> = r.steps.iter().map(|s| s.step.as_str()).collect();
    assert_eq!(steps, bench::SCALE_STEPS.to_vec());
    for s in &r.steps {
        assert_eq!(s.seconds.len(), 2, "{s:?}");
        assert!(s.seconds.iter().all(|x| *x > 0.0), "{s:?}");
        let g = s.growth();
        assert!(g[0].is_none() && (g[1].unwrap() - s.seconds[1] / s.seconds[0]).abs() < 1e-9, "{s:?}");
    }
    let c = profochat_saas::conn::connect(&admin()).await.unwrap();
    let left: i64 = c
        .query_one("SELECT count(*) FROM pg_database WHERE datname LIKE $1", &[&format!("profochat_bench_scale_{}_%", std::process::id())])
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "the benchmark's databases are dropped");
}

/// `bench --faults`: each trial kills the migration where it says, takes its way out
/// while the writer runs, and reports the outcome, the rows lost and the longest wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fault_matrix_reports_each_trial() {
    let exe = std::path::PathBuf::from(env!("CARGO_BIN_EXE_profochat-saas"));
    let trials = bench::faults::run(&admin(), &["inside:keys:1"], 300, 1, 40, 2, &exe, bench::faults::Trials::Matrix, &Silent).await.unwrap();
    assert_eq!(trials.len(), 2, "{trials:?}");
    assert_eq!(
        trials.iter().map(|t| t.recovery.as_str()).collect::<Vec<_>>(),
        ["migrate", "migrate --abort"]
    );
    for t in &trials {
        assert_eq!((t.outcome.as_str(), t.rows_lost, t.writer_failed), ("exact", 0, 0), "{t:?}");
        assert!(t.writer_statements >= 40 && t.max_write_wait_ms > 0.0, "{t:?}");
    }
    assert!(bench::faults::POINTS.contains(&"inside:keys:1") && bench::faults::POINTS.contains(&"after:switch"));
}

/// `bench --undo`: the way back only — `migrate --abort` from each point, and `rollback`
/// after a completed migration — each exact with the writer's rows, its wait measured
/// while the way back ran.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_undo_benchmark_aborts_and_rolls_back_exactly() {
    let exe = std::path::PathBuf::from(env!("CARGO_BIN_EXE_profochat-saas"));
    let trials = bench::faults::run(&admin(), &["after:keys", "after:switch"], 300, 1, 40, 2, &exe, bench::faults::Trials::Undo, &Silent).await.unwrap();
    assert_eq!(
        trials.iter().map(|t| (t.point.as_str(), t.recovery.as_str())).collect::<Vec<_>>(),
        [("after:keys", "migrate --abort"), (bench::faults::COMPLETED, "rollback")],
        "after the switch the way back is rollback, not abort"
    );
    for t in &trials {
        assert_eq!((t.outcome.as_str(), t.rows_lost, t.writer_failed), ("exact", 0, 0), "{t:?}");
        assert!(t.writer_statements >= 40 && t.max_write_wait_way_out_ms > 0.0, "{t:?}");
    }
}

/// `bench --undo --points`: an unknown kill point is refused by name before anything is
/// seeded, with the points there are.
#[test]
fn an_unknown_kill_point_is_refused_with_the_known_ones() {
    let out = crate::harness::cli()
        .args(["bench", "--undo", "--points", "after:keys,after:lunch", "--database-url", "postgres://127.0.0.1:1/none"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("after:lunch") && err.contains("inside:keys:1"), "{err}");
}

/// `bench --compare-upstream`: online, offline and upstream's 0003 on copies of one
/// seeded database, each once per round, the order turned every round; medians, ratios,
/// our steps, the cleaning upstream's copy needed; the copies dropped.
#[tokio::test]
async fn the_comparison_runs_online_offline_and_upstreams_script_on_copies_of_one_database() {
    use bench::upstream::{CompareOptions, Variant};
    let opts = CompareOptions {
        runs: 300,
        seed: 1,
        profile: profochat_saas::seed::Profile::Dense,
        template: None,
        default_bot: None,
        rounds: 2,
        index_jobs: 2,
        upstream_script: crate::fixtures::upstream_0003(),
    };
    let r = bench::upstream::compare(&admin(), &opts, &Silent).await.unwrap();
    assert!(r.legacy_rows > 0 && r.conversation_rows > 0 && r.runs > 0, "{r:?}");
    assert!(r.upstream_ledger_script.ends_with("0001_create_schema_migrations.sql"), "{}", r.upstream_ledger_script);
    assert_eq!(r.rounds.len(), 2);
    assert_eq!(r.rounds[0].order, [Variant::Online, Variant::Offline, Variant::Upstream]);
    assert_eq!(r.rounds[1].order, [Variant::Offline, Variant::Upstream, Variant::Online]);
    for round in &r.rounds {
        assert_eq!(round.runs.iter().map(|x| x.variant).collect::<Vec<_>>(), round.order, "run in the round's order");
        for x in &round.runs {
            assert!(x.total_ms > 0, "{x:?}");
            match x.variant {
                Variant::Upstream => assert!(x.phases.is_empty(), "{x:?}"),
                _ => assert!(!x.phases.is_empty(), "{x:?}"),
            }
        }
        assert!(round.of(Variant::Online).unwrap().phases.iter().any(|(s, _)| s == "backfill run"), "{round:?}");
    }
    let m = &r.medians;
    assert!(m.online_ms > 0 && m.offline_ms > 0 && m.upstream_ms > 0, "{m:?}");
    assert!((m.online_over_offline - m.online_ms as f64 / m.offline_ms as f64).abs() < 1e-9);
    assert!((m.online_over_upstream - m.online_ms as f64 / m.upstream_ms as f64).abs() < 1e-9);
    assert!((m.offline_over_upstream - m.offline_ms as f64 / m.upstream_ms as f64).abs() < 1e-9);
    for (v, steps) in [(Variant::Online, &r.online_steps), (Variant::Offline, &r.offline_steps)] {
        let first: Vec<&String> = r.rounds[0].of(v).unwrap().phases.iter().map(|(s, _)| s).collect();
        assert_eq!(steps.iter().map(|(s, _)| s).collect::<Vec<_>>(), first, "{v:?}: a median for every step");
    }
    // The dense data holds every row upstream's 0003 cannot carry.
    assert_eq!(r.cleaning.len(), bench::upstream::CLEANING.len());
    assert!(r.cleaning.iter().all(|c| c.rows > 0), "{:?}", r.cleaning);
    let c = profochat_saas::conn::connect(&admin()).await.unwrap();
    let left: i64 = c
        .query_one("SELECT count(*) FROM pg_database WHERE datname LIKE $1", &[&format!("profochat_bench_upstream_{}_%", std::process::id())])
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "the benchmark's databases are dropped");
}

/// Upstream's 0003 fails on the dense legacy data as it is, and runs to its end on the
/// same data cleaned as the comparison cleans it, leaving upstream's schema and every
/// conversation row.
#[tokio::test]
async fn upstreams_script_needs_the_cleaning_and_leaves_its_schema() {
    let (db, m) = crate::fixtures::dense_legacy(300, 2).await;
    let script = crate::fixtures::upstream_0003();
    {
        let raw = db.connect().await;
        let dir = script.parent().unwrap();
        raw.batch_execute(&std::fs::read_to_string(dir.join("0001_create_schema_migrations.sql")).unwrap()).await.unwrap();
        let e = raw.batch_execute(&std::fs::read_to_string(&script).unwrap()).await.expect_err("0003 on the raw data");
        let text = profochat_saas::error::pg_error_text(&e);
        assert!(text.contains("conversation_run_id_fkey") || text.contains("_unique"), "{text}");
    }
    let u = bench::upstream::run_upstream(&db.settings, &script).await.unwrap();
    assert!(u.total_ms > 0 && u.cleaned.iter().all(|c| c.rows > 0), "{u:?}");
    let c = db.connect().await;
    let one = |sql: &'static str| {
        let c = &c;
        async move { c.query_one(sql, &[]).await.unwrap_or_else(|e| panic!("{sql}: {e}")).get::<_, i64>(0) }
    };
    assert_eq!(one("SELECT count(*) FROM schema_migrations WHERE version IN ('0001', '0003')").await, 2);
    assert_eq!(one("SELECT count(*) FROM account").await, 1);
    assert!(one("SELECT count(*) FROM bot").await > 0);
    assert_eq!(
        one("SELECT count(*) FROM information_schema.columns WHERE table_name = 'run' AND column_name IN ('bot_id', 'deployment_id', 'account_id')").await,
        3
    );
    assert_eq!(one("SELECT count(*) FROM run WHERE botname IS NOT NULL AND bot_id IS NULL").await, 0);
    assert_eq!(
        one("SELECT count(*) FROM pg_indexes WHERE indexname IN ('run_one_active_per_bot_chat', 'courseparticipants_unique', 'bannedparticipants_unique')").await,
        3
    );
    assert_eq!(one("SELECT count(*) FROM conversation").await as u64, m.rows["conversation"], "the cleaning keeps every conversation row");
}

/// The command: `--json` gives the comparison's report; a path that is not there is
/// refused before any database is created.
#[test]
fn the_comparison_command_prints_its_report_as_json_and_refuses_a_missing_script() {
    let url = admin().secret_url();
    let script = crate::fixtures::upstream_0003();
    let out = crate::harness::cli()
        .args(["bench", "--runs", "100", "--profile", "dense", "--repeat", "1", "--json", "--database-url", &url, "--compare-upstream"])
        .arg(&script)
        .assert()
        .success();
    let r: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).expect("JSON on stdout");
    assert_eq!(r["rounds"].as_array().map(Vec::len), Some(1), "{r}");
    assert_eq!(r["rounds"][0]["order"], serde_json::json!(["online", "offline", "upstream"]));
    for k in ["online_ms", "offline_ms", "upstream_ms", "online_over_offline", "online_over_upstream", "offline_over_upstream"] {
        assert!(r["medians"][k].as_f64().is_some_and(|x| x > 0.0), "{k}: {r}");
    }
    assert_eq!(r["upstream_script"], serde_json::json!(script.display().to_string()));
    let missing = script.with_file_name("not_here_0003.sql");
    crate::harness::cli()
        .args(["bench", "--database-url", &url, "--compare-upstream"])
        .arg(&missing)
        .assert()
        .failure()
        .stderr(predicates::str::contains("cannot read upstream's 0003"));
}
