//! No statement of the tool may grow faster than its data. A dense database is seeded
//! and brought, step by step, to the state each SQL file runs in (its work tables
//! present and analysed, as the tool leaves them); every statement of every file that
//! `migrate` (offline and online), `migrate --abort`, `rollback`, `finish`, `validate`
//! and `plan` run is EXPLAINed (no ANALYZE), and its plan must hold no plain SubPlan
//! and no Nested Loop that reads, per row of a relation that grows with the data, a
//! growing relation without an index. DO blocks cannot be EXPLAINed: auto_explain
//! shows the plans of the statements they run, which are checked alike, as are those of
//! the session's helper functions (pg_temp.*, helpers.sql) a statement calls.
//!
//! The test data is small; production data is a thousand times larger. So that the
//! planner decides as it would there (a hash that fits in memory here would not
//! there), the session runs with the smallest work_mem: a statement that stays linear
//! only with a large work_mem must set it itself (SET LOCAL, said in its file's header).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use profochat_saas::migrate::work::{code_only, settle, split_statements};
use profochat_saas::migrate::{self, MigrateOptions};
use profochat_saas::report::{Event, Reporter};
use profochat_saas::seed::{self, Profile, SeedOptions};
use serde_json::Value;
use tokio_postgres::{AsyncMessage, Client};

use crate::harness::TestDb;

mod guard;

use guard::Guard;

const RUNS: u64 = 6000;
const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/sql/");

/// Relations that do not grow with the data: one row, one per bot or per legacy
/// table, or the catalog.
const SMALL: &[&str] = &[
    "account", "account_member", "bot", "enrollment_token", "gen_settings", "schema_migrations",
    "migration", "online_progress", "online_params", "mig_params", "mig_batch", "mig_bots",
    "mig_bot_source", "mig_null_bot", "mig_null_course", "mig_counts", "finish_params",
];

/// SQL files the guard does not EXPLAIN, each with why.
const NOT_EXPLAINED: &[(&str, &str)] = &[
    ("migrate/online/change_log_trigger.sql", "a trigger function template: runs once per row the bot writes, by key"),
    ("migrate/online/change_log_attach.sql", "attaches a trigger: no query"),
    ("migrate/online/change_log_remove.sql", "drops functions and triggers: no query"),
    ("migrate/online/chat_index.sql", "CREATE INDEX CONCURRENTLY: one sort of run"),
    ("migrate/online/chat_index_drop.sql", "DROP INDEX CONCURRENTLY: no query"),
    ("migrate/run/index_session.sql", "session settings of the index builds: no query"),
    ("migrate/run/index_builds_running.sql", "reads pg_stat_activity, which grows with sessions, not data"),
    ("migrate/enrol.sql", "creates the enrolment functions: each enrols one chat, by key"),
    ("migrate/online/change_log.sql", "creates the change log and its functions: no query over data"),
    ("migrate/online/leftovers.sql", "reads the catalog (pg_trigger, to_regclass), which grows with the schema, not the data"),
];

/// DO blocks whose statements auto_explain cannot show because the block never runs
/// them on the test data, with why they cannot grow faster than the data.
const DO_BLOCKS_ALLOWED: &[(&str, &str)] = &[];

async fn dense(runs: u64) -> (TestDb, String) {
    let db = TestDb::empty().await;
    let mut c = db.connect().await;
    let m = seed::generate_profile(&mut c, &SeedOptions { runs, seed: 3 }, Profile::Dense, &profochat_saas::report::Silent).await.expect("seed");
    c.batch_execute("VACUUM ANALYZE").await.unwrap();
    (db, m.default_bot)
}

/// Interrupts the online migration when a step starts, as a killed `migrate` would be.
struct StopAt(&'static str, tokio::sync::Notify);

impl Reporter for StopAt {
    fn event(&self, event: Event<'_>) {
        if let Event::Started { step, .. } = event {
            if step == self.0 {
                self.1.notify_one();
            }
        }
    }
}

/// Runs (or resumes) the online migration until `step` starts, or to its end (None).
async fn online_until(db: &TestDb, default_bot: &str, step: Option<&'static str>) {
    let mut c = db.connect().await;
    let opts = MigrateOptions { default_bot: Some(default_bot.to_string()), index_jobs: 1, ..MigrateOptions::default() };
    let stop = StopAt(step.unwrap_or("never"), tokio::sync::Notify::new());
    tokio::select! {
        r = migrate::migrate(&mut c, &opts, &stop) => {
            r.expect("online migration");
            assert!(step.is_none(), "the online migration ended before {step:?}");
        }
        _ = stop.1.notified() => {}
    }
    drop(c);
    // The interrupted session ends before the next one starts.
    let admin = db.connect().await;
    for _ in 0..100 {
        let others: i64 = admin
            .query_one("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()", &[])
            .await
            .unwrap()
            .get(0);
        if others == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The files every command runs, EXPLAINed in the state each runs in.
async fn explain_everything() -> Guard {
    // Offline: the migration transaction, phase by phase, as src/migrate/steps.rs and phases.rs run it.
    let (db, default_bot) = dense(RUNS).await;
    let mut g = Guard::connect(&db).await;
    g.sql("BEGIN; SET LOCAL profochat_saas.allow_ddl = on").await;
    g.file("migrate/run/lock_legacy.sql", true).await;
    g.file("migrate/bot_names.sql", false).await;
    g.file("migrate/analysis_read/params_reset.sql", true).await;
    let params = std::fs::read_to_string(format!("{DIR}migrate/analysis_read/params.sql")).unwrap();
    g.file_with("migrate/analysis_read/params.sql", &params, true, &[&Some(default_bot.clone()), &None::<i32>]).await;
    g.file("migrate/analysis.sql", true).await;
    for f in read_dir("migrate/analysis_read") {
        if !f.ends_with("params.sql") && !f.ends_with("params_reset.sql") {
            g.file(&f, false).await;
        }
    }
    // `plan` reads the analysis as it is here; before the SaaS tables exist, the
    // analysis leaves out the check against existing deployments (src/migrate/analysis.rs).
    let deployments = std::fs::read_to_string(format!("{DIR}plan/deployments.sql")).unwrap();
    let without = deployments.split("  AND NOT EXISTS (").next().unwrap().to_string();
    g.file_with("plan/deployments.sql", &without, false, &[]).await;
    g.file("plan/collapses.sql", false).await;
    g.file("state/schema.sql", true).await;
    g.file("migrate/helpers.sql", true).await;
    let record = std::fs::read_to_string(format!("{DIR}migrate/run/record_start.sql")).unwrap();
    g.file_with(
        "migrate/run/record_start.sql",
        &record,
        true,
        &[&1i32, &"test", &serde_json::json!({}), &serde_json::json!({}), &profochat_saas::state::MigrationStatus::Running.as_str()],
    )
    .await;
    for f in ["migrate/0_account.sql", "migrate/checks/0_account.sql", "migrate/1_tables.sql", "migrate/checks/1_tables.sql", "migrate/2_counts.sql"] {
        g.file(f, true).await;
    }
    g.file("migrate/2_data.sql", true).await;
    g.file("migrate/2_bot_token.sql", false).await;
    g.file("migrate/checks/2_data.sql", true).await;
    g.file("migrate/3_links.sql", true).await;
    g.file("migrate/3_links_whole_range.sql", true).await;
    for f in ["migrate/online/backfill_bannedparticipants.sql", "migrate/online/backfill_courseparticipants.sql", "migrate/online/backfill_gen_settings.sql"] {
        g.file(f, true).await;
    }
    g.file("migrate/online/backfill_conversation_orphans.sql", true).await;
    g.file("migrate/3_runs_without_deployment.sql", true).await;
    g.file("migrate/checks/3_links.sql", true).await;
    g.file("migrate/4_names.sql", true).await;
    g.file("migrate/4_constraints.sql", true).await;
    g.file("migrate/4_conversation_run_fk_exists.sql", true).await;
    g.file("migrate/4_conversation_run_fk.sql", true).await;
    g.file("migrate/4_conversation_run_fk_validate.sql", true).await;
    g.file("migrate/checks/4_keys.sql", true).await;
    g.file("migrate/5_ensure_index.sql", false).await;
    g.file("migrate/5_indexes.sql", true).await;
    g.file("migrate/checks/5_indexes.sql", true).await;
    g.file("migrate/8_legacy_state_from_archive.sql", false).await;
    g.file("migrate/7_legacy_write.sql", true).await;
    g.file("migrate/7_compat.sql", true).await;
    g.file("migrate/8_legacy_interface.sql", true).await;
    g.file("migrate/9_ddl_guard.sql", true).await;
    g.file("migrate/function_privileges.sql", true).await;
    g.file("migrate/checks/7_finalize.sql", true).await;
    for f in read_dir("migrate/run") {
        if !g.explained.contains(&f) && !NOT_EXPLAINED.iter().any(|(n, _)| *n == f) {
            g.file(&f, false).await;
        }
    }
    g.file("migrate/ledger.sql", true).await;
    g.file("migrate/ledger_record.sql", false).await;
    g.sql("COMMIT").await;
    // Migrated: validate, finish, rollback (each in a transaction rolled back); `plan`
    // and `migrate` on a migrated database analyse again, and count the deployments
    // to create against those that exist.
    g.sql("VACUUM ANALYZE").await;
    g.sql("BEGIN").await;
    g.file_with("migrate/analysis_read/params.sql", &params, true, &[&Some(default_bot.clone()), &None::<i32>]).await;
    g.file("migrate/analysis.sql", true).await;
    g.file("plan/deployments.sql", false).await;
    g.sql("ROLLBACK").await;
    for f in read_dir("validate") {
        g.file(&f, false).await;
    }
    g.sql("BEGIN; SET LOCAL profochat_saas.allow_ddl = on").await;
    for f in ["rollback/losses.sql", "migrate/drop_compat.sql", "rollback/undo_keys.sql", "rollback/drop_keys.sql", "rollback/unrename.sql", "rollback/drop_schema.sql"] {
        g.file(f, true).await;
    }
    g.sql("ROLLBACK; BEGIN; SET LOCAL profochat_saas.allow_ddl = on").await;
    g.sql("CREATE TEMP TABLE finish_params (migration_id int4) ON COMMIT DROP; INSERT INTO finish_params VALUES (1)").await;
    g.file("finish/legacy_writes.sql", false).await;
    g.file("finish/legacy_sessions.sql", false).await;
    g.file("migrate/drop_compat.sql", true).await;
    g.file("finish/finish.sql", true).await;
    g.file("finish/upstream_columns.sql", true).await;
    g.sql("ROLLBACK").await;
    let offline = (std::mem::take(&mut g.findings), g.statements, g.blocks, std::mem::take(&mut g.explained));
    drop(g);

    // Online: the migration interrupted as each step starts, the step's files EXPLAINed
    // in that state (and rolled back), then resumed.
    let (db, default_bot) = dense(RUNS).await;
    let mut g2 = Guard::connect(&db).await;
    online_until(&db, &default_bot, Some("online: prepare")).await;
    // The preflight keeps its analysis for the session; prepare compares the tables
    // with its snapshot and takes the analysis back (steps/prepare.rs, Preflight).
    g2.sql("BEGIN ISOLATION LEVEL REPEATABLE READ").await;
    g2.file_with("migrate/analysis_read/params.sql", &params, true, &[&Some(default_bot.clone()), &None::<i32>]).await;
    g2.file("migrate/analysis.sql", true).await;
    g2.file("migrate/online/analysis_max_keys.sql", false).await;
    g2.file("migrate/online/analysis_keep.sql", true).await;
    g2.sql("COMMIT").await;
    g2.sql("BEGIN; SET LOCAL profochat_saas.allow_ddl = on; SET LOCAL profochat_saas.backfill = on").await;
    g2.file("migrate/online/analysis_unchanged.sql", false).await;
    g2.file("migrate/helpers.sql", true).await;
    g2.file("migrate/analysis_read/params_reset.sql", true).await;
    g2.file_with("migrate/analysis_read/params.sql", &params, true, &[&Some(default_bot.clone()), &Some(1i32)]).await;
    g2.file("migrate/online/analysis_reuse.sql", true).await;
    g2.sql("ROLLBACK").await;
    g2.file("migrate/online/analysis_kept_drop.sql", true).await;
    g2.sql("BEGIN; SET LOCAL profochat_saas.allow_ddl = on; SET LOCAL profochat_saas.backfill = on").await;
    g2.file("migrate/helpers.sql", true).await;
    g2.file_with("migrate/analysis_read/params.sql", &params, true, &[&Some(default_bot.clone()), &Some(1i32)]).await;
    g2.file("migrate/analysis.sql", true).await;
    g2.file("migrate/online/persist.sql", true).await;
    g2.file("migrate/online/lock_share.sql", true).await;
    g2.file("migrate/2_data.sql", true).await;
    g2.sql("ROLLBACK").await;
    let steps: [(&str, &[&str]); 7] = [
        ("online: backfill run", &["migrate/online/backfill_run.sql"]),
        ("online: lookup indexes", &["migrate/online/settle_runs.sql"]),
        ("online: backfill waiting_element", &["migrate/online/backfill_waiting_element.sql"]),
        ("online: backfill conversation", &["migrate/online/backfill_conversation.sql", "migrate/online/backfill_conversation_orphans.sql"]),
        ("online: backfill bannedparticipants", &["migrate/online/backfill_bannedparticipants.sql"]),
        ("online: backfill courseparticipants", &["migrate/online/backfill_courseparticipants.sql"]),
        ("online: keys", &["migrate/online/keys_not_null.sql", "migrate/online/keys_not_null_done.sql"]),
    ];
    for (step, files) in steps {
        g2.sql("DISCARD TEMP").await;
        online_until(&db, &default_bot, Some(step)).await;
        // The session's helpers, then its views of the analysis (online.rs, RESTORE).
        g2.file("migrate/helpers.sql", true).await;
        g2.file("migrate/online/restore.sql", true).await;
        g2.sql("BEGIN; SET LOCAL profochat_saas.allow_ddl = on; SET LOCAL profochat_saas.backfill = on").await;
        // A batch in the middle of the keys, of the largest size the backfill takes.
        g2.sql("UPDATE mig_batch SET lo = (SELECT max(run_id) / 2 FROM run), hi = (SELECT max(run_id) / 2 + 50000 FROM run)").await;
        for f in files {
            g2.file(f, true).await;
        }
        g2.sql("ROLLBACK").await;
    }
    // The switch's proof reads the change log, which the switch drops.
    for f in ["migrate/online/proof_before.sql", "migrate/online/progress_read.sql", "migrate/online/progress_write.sql", "migrate/online/record_before.sql", "migrate/online/record_start.sql"] {
        g2.file(f, false).await;
    }
    for t in profochat_saas::sql::LEGACY_TABLES {
        let sql = profochat_saas::migrate::changes::proof_after_sql(t, profochat_saas::fingerprint::RowHash::Record);
        g2.file_with("migrate/online/proof_after.sql", &sql, false, &[]).await;
    }
    // The online abort from the same point: its steps' statements, in a transaction rolled back.
    g2.sql("BEGIN; SET LOCAL profochat_saas.allow_ddl = on; SET LOCAL profochat_saas.backfill = on").await;
    // (With the plan settings every batch of the way back runs with.)
    g2.sql(&format!("SELECT 1{}", profochat_saas::rollback::online::BATCH_PLAN)).await;
    for f in ["rollback/undo_progress.sql", "rollback/undo_progress_write.sql", "rollback/undo_progress_read.sql", "rollback/undo_keys.sql"] {
        g2.file(f, true).await;
    }
    for t in profochat_saas::rollback::online::BATCHED_TABLES {
        let sql = profochat_saas::rollback::online::archive_sql(t);
        g2.file_with("rollback/undo_archive.sql", &sql, true, &[]).await;
    }
    for f in ["rollback/undo_app_rows.sql", "rollback/undo_app_rows_from.sql", "rollback/undo_links.sql"] {
        g2.file(f, true).await;
    }
    g2.sql("SET LOCAL enable_hashjoin = on; SET LOCAL enable_mergejoin = on").await;
    // (Run by the last transaction once the keys went: EXPLAINed only.)
    g2.file("rollback/undo_courses.sql", false).await;
    for t in profochat_saas::sql::LEGACY_TABLES {
        let sql = profochat_saas::migrate::changes::proof_back_after_sql(t, profochat_saas::fingerprint::RowHash::Record);
        g2.file_with("rollback/undo_proof_after.sql", &sql, false, &[]).await;
    }
    g2.sql("ROLLBACK").await;
    // The abort, with every backfill done and the indexes built (still stopped before the keys).
    g2.sql("BEGIN; SET LOCAL profochat_saas.allow_ddl = on").await;
    for f in ["rollback/losses.sql", "migrate/drop_compat.sql", "rollback/undo_keys.sql", "rollback/drop_keys.sql", "rollback/unrename.sql", "migrate/online/drop.sql", "rollback/drop_schema.sql"] {
        g2.file(f, true).await;
    }
    g2.sql("ROLLBACK").await;
    // The switch and what follows it.
    g2.sql("DISCARD TEMP").await;
    online_until(&db, &default_bot, None).await;
    g2.sql("VACUUM ANALYZE").await;
    for f in read_dir("validate") {
        g2.file(&f, false).await;
    }
    g2.findings.extend(offline.0);
    g2.statements += offline.1;
    g2.blocks += offline.2;
    g2.explained.extend(offline.3);
    g2
}

fn read_dir(dir: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(format!("{DIR}{dir}"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| format!("{dir}/{}", e.file_name().to_string_lossy()))
        .filter(|f| f.ends_with(".sql"))
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn no_statement_grows_faster_than_its_data() {
    let g = explain_everything().await;
    assert!(g.statements > 150, "only {} statements were explained", g.statements);
    assert!(g.blocks > 0);
    eprintln!("{} statements EXPLAINed, {} DO blocks run under auto_explain; allowed: {:#?}", g.statements, g.blocks, g.allowed);
    let findings: BTreeSet<&String> = g.findings.iter().collect();
    assert!(findings.is_empty(), "plans that grow faster than their data:\n{}", findings.into_iter().cloned().collect::<Vec<_>>().join("\n"));
}

/// Every SQL file of the commands the guard covers is EXPLAINed, or listed with why not.
#[test]
fn the_guard_covers_every_sql_file_of_those_commands() {
    let listed: BTreeMap<&str, &str> = NOT_EXPLAINED.iter().copied().collect();
    let source = concat!(include_str!("mod.rs"), include_str!("guard.rs"));
    let mut missing = vec![];
    for dir in ["migrate", "migrate/analysis_read", "migrate/checks", "migrate/online", "migrate/run", "rollback", "finish", "validate", "plan"] {
        for f in read_dir(dir) {
            let named = source.contains(&format!("\"{f}\"")) || dir == "validate" || dir == "migrate/analysis_read"
                || (dir == "migrate/run" && !listed.contains_key(f.as_str()));
            if !named && !listed.contains_key(f.as_str()) {
                missing.push(f);
            }
        }
    }
    assert!(missing.is_empty(), "SQL files neither EXPLAINed by the guard nor listed in NOT_EXPLAINED: {missing:?}");
}
