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

/// A plan's scan of a relation: its name and whether an index finds the rows.
#[derive(Debug)]
struct Scan {
    rel: String,
    grows: bool,
    indexed: bool,
    /// Its filter: what an index could find the rows by.
    filter: String,
}

/// Each relation's indexes, by their leading column.
type Indexes = BTreeMap<String, BTreeSet<String>>;

/// Whether a scan without an index could have one: an index of its relation leads with
/// a column the scan (or the join above it) compares for equality. The planner reads a
/// few rows whole, and switches to the index once there are many.
fn could_use_index(scan: &Scan, join_filter: &str, indexes: &Indexes) -> bool {
    let text = format!("{} {join_filter}", scan.filter);
    indexes.get(&scan.rel).is_some_and(|cols| cols.iter().any(|c| text.contains(&format!("{c} =")) || text.contains(&format!("= {c})")) || text.contains(&format!(".{c})"))))
}

fn grows(node: &Value) -> bool {
    let rel = node["Relation Name"].as_str().unwrap_or_default();
    let schema = node["Schema"].as_str().unwrap_or_default();
    !(SMALL.contains(&rel) || schema == "pg_catalog" || schema == "information_schema" || rel.starts_with("pg_"))
}

fn children(node: &Value) -> impl Iterator<Item = &Value> {
    node["Plans"].as_array().into_iter().flatten()
}

fn relationship(node: &Value) -> &str {
    node["Parent Relationship"].as_str().unwrap_or_default()
}

/// The CTEs of a plan that read growing relations.
fn growing_ctes(node: &Value, out: &mut BTreeSet<String>) {
    for c in children(node) {
        if let Some(name) = c["Subplan Name"].as_str().and_then(|n| n.strip_prefix("CTE ")) {
            let mut s = vec![];
            scans(c, out, &mut s);
            if s.iter().any(|s| s.grows) {
                out.insert(name.to_string());
            }
        }
        growing_ctes(c, out);
    }
}

/// The scans of a subtree, not those of its InitPlans (run once) or SubPlans (checked on their own).
fn scans(node: &Value, ctes: &BTreeSet<String>, out: &mut Vec<Scan>) {
    let kind = node["Node Type"].as_str().unwrap_or_default();
    match kind {
        "Seq Scan" | "Sample Scan" | "Tid Range Scan" => out.push(Scan {
            rel: node["Relation Name"].as_str().unwrap_or_default().into(),
            grows: grows(node),
            indexed: false,
            filter: node["Filter"].as_str().unwrap_or_default().into(),
        }),
        "Index Scan" | "Index Only Scan" | "Bitmap Heap Scan" | "Tid Scan" => out.push(Scan {
            rel: node["Relation Name"].as_str().unwrap_or_default().into(),
            grows: grows(node),
            indexed: true,
            filter: String::new(),
        }),
        "CTE Scan" | "WorkTable Scan" => {
            let name = node["CTE Name"].as_str().unwrap_or_default();
            out.push(Scan { rel: format!("CTE {name}"), grows: ctes.contains(name) || kind == "WorkTable Scan", indexed: false, filter: String::new() })
        }
        _ => {}
    }
    for c in children(node) {
        if !matches!(relationship(c), "InitPlan" | "SubPlan") {
            scans(c, ctes, out);
        }
    }
}

/// What in a plan grows faster than the data.
fn faults(node: &Value, ctes: &BTreeSet<String>, indexes: &Indexes, out: &mut Vec<String>) {
    let kind = node["Node Type"].as_str().unwrap_or_default();
    let mut own = vec![];
    scans(node, ctes, &mut own);
    let reads_growing = own.iter().any(|s| s.grows);
    if kind == "Nested Loop" {
        let side = |r: &str| {
            let mut s = vec![];
            for c in children(node).filter(|c| relationship(c) == r) {
                scans(c, ctes, &mut s);
            }
            s
        };
        let (outer, inner) = (side("Outer"), side("Inner"));
        let join_filter = node["Join Filter"].as_str().unwrap_or_default();
        let unindexed = inner.iter().find(|s| s.grows && !s.indexed && !could_use_index(s, join_filter, indexes));
        if let (Some(o), Some(i)) = (outer.iter().find(|s| s.grows), unindexed) {
            out.push(format!("Nested Loop: for each row of {} it reads {} without an index", o.rel, i.rel));
        }
    }
    for c in children(node) {
        let name = c["Subplan Name"].as_str().unwrap_or_default();
        if relationship(c) == "SubPlan" && !name.starts_with("hashed") && reads_growing {
            let mut inside = vec![];
            scans(c, ctes, &mut inside);
            if let Some(i) = inside.iter().find(|s| s.grows && !s.indexed && !could_use_index(s, "", indexes)) {
                let per = own.iter().find(|s| s.grows).map(|s| s.rel.clone()).unwrap_or_default();
                out.push(format!("plain {name}: for each row of {per} it reads {} without an index", i.rel));
            }
        }
        faults(c, ctes, indexes, out);
    }
}

fn plan_faults(explain: &Value, indexes: &Indexes) -> Vec<String> {
    let plan = &explain[0]["Plan"];
    let mut ctes = BTreeSet::new();
    growing_ctes(plan, &mut ctes);
    let mut out = vec![];
    faults(plan, &ctes, indexes, &mut out);
    out
}

/// Files the online backfill runs once per batch of keys: a statement there that reads a
/// growing relation whole reads it once per batch, and the batches grow with the data.
const BATCHED: &[&str] = &[
    "migrate/online/backfill_run.sql",
    "migrate/online/backfill_waiting_element.sql",
    "migrate/online/backfill_conversation.sql",
    "migrate/online/backfill_conversation_orphans.sql",
    "migrate/online/backfill_bannedparticipants.sql",
    "migrate/online/backfill_courseparticipants.sql",
    "migrate/online/backfill_gen_settings.sql",
];

/// Relations a batch may read whole: they grow with the courses (a few thousand rows at
/// a million runs), not with the rows batched.
const PER_BATCH_WHOLE: &[&str] = &["course", "course_deployment", "legacy_course_map", "bot"];

/// Growing relations a statement run once per batch reads whole.
fn whole_reads(node: &Value, out: &mut Vec<String>) {
    if node["Node Type"].as_str() == Some("Seq Scan") && grows(node) {
        let rel = node["Relation Name"].as_str().unwrap_or_default();
        if !PER_BATCH_WHOLE.contains(&rel) {
            out.push(format!("each batch reads {rel} whole (Seq Scan)"));
        }
    }
    for c in children(node) {
        whole_reads(c, out);
    }
}

/// What the guard knows it finds and leaves, each with why.
const ALLOWED_FINDINGS: &[(&str, &str)] = &[(
    "migrate/online/proof_after.sql",
    "reads the change log, which holds the legacy bot's writes during the online migration (its rate × the migration's time), not the legacy data",
)];

async fn indexes(client: &Client) -> Indexes {
    let rows = client
        .query(
            "SELECT c.relname::text, a.attname::text FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
               JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0]
              WHERE c.relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)",
            &[],
        )
        .await
        .expect("reading the indexes");
    let mut out = Indexes::new();
    for r in rows {
        out.entry(r.get(0)).or_default().insert(r.get(1));
    }
    out
}

/// How a statement is handled.
#[derive(Debug, PartialEq)]
enum Kind {
    /// A query: EXPLAINed.
    Query,
    /// A DO block: run with auto_explain.
    Block,
    /// Schema changes and settings: no plan.
    NoPlan,
}

fn kind(statement: &str) -> Kind {
    let code = code_only(statement, false).trim().to_ascii_uppercase();
    let words: Vec<&str> = code.split_whitespace().collect();
    let first = words.first().copied().unwrap_or_default();
    match first {
        "SELECT" | "INSERT" | "UPDATE" | "DELETE" | "WITH" | "VALUES" | "TABLE" | "MERGE" => Kind::Query,
        "DO" => Kind::Block,
        "CREATE" if words.iter().take(8).any(|w| *w == "TABLE") && words.contains(&"AS") && !words.contains(&"VIEW") && !words.contains(&"FUNCTION") => Kind::Query,
        _ => Kind::NoPlan,
    }
}

/// Whether a statement calls one of the session's helper functions (helpers.sql), whose
/// statements only auto_explain shows.
fn calls_helper(statement: &str) -> bool {
    code_only(statement, false).to_ascii_lowercase().contains("pg_temp.")
}

fn params_of(statement: &str) -> usize {
    let code = code_only(statement, false);
    let b = code.as_bytes();
    let mut n = 0;
    for (i, c) in b.iter().enumerate() {
        if *c == b'$' {
            let digits: String = code[i + 1..].chars().take_while(|c| c.is_ascii_digit()).collect();
            if let Ok(k) = digits.parse::<usize>() {
                n = n.max(k);
            }
        }
    }
    n
}

/// The guard's own session: its plans, what auto_explain says, what it found.
struct Guard {
    client: Client,
    notices: Arc<Mutex<Vec<String>>>,
    findings: Vec<String>,
    /// Findings in ALLOWED_FINDINGS.
    allowed: Vec<String>,
    explained: BTreeSet<String>,
    statements: usize,
    blocks: usize,
}

impl Guard {
    async fn connect(db: &TestDb) -> Guard {
        let (client, mut conn) = db.settings.pg_config().connect(tokio_postgres::NoTls).await.expect("connect");
        let notices = Arc::new(Mutex::new(vec![]));
        let sink = notices.clone();
        tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| conn.poll_message(cx));
            while let Some(Ok(m)) = messages.next().await {
                if let AsyncMessage::Notice(n) = m {
                    sink.lock().unwrap().push(n.message().to_string());
                }
            }
        });
        client
            .batch_execute(
                "SET work_mem = '64kB'; SET hash_mem_multiplier = 1; SET plan_cache_mode = force_generic_plan;
                 LOAD 'auto_explain'; SET auto_explain.log_min_duration = -1; SET auto_explain.log_nested_statements = on;
                 SET auto_explain.log_format = 'json'; SET auto_explain.log_level = 'notice'; SET client_min_messages = 'notice'",
            )
            .await
            .expect("session settings");
        Guard { client, notices, findings: vec![], allowed: vec![], explained: BTreeSet::new(), statements: 0, blocks: 0 }
    }

    /// EXPLAINs every statement of `file` (with `fill` replacing its placeholders), and
    /// runs it unless it takes parameters, so that the next ones see its effects; work
    /// tables are settled after each as the tool does.
    async fn file(&mut self, file: &str, run: bool) {
        // The tool's functions name the tables as {{schema}}.table: here they are in public.
        let sql = std::fs::read_to_string(format!("{DIR}{file}")).expect(file).replace("{{schema}}", "public");
        self.file_with(file, &sql, run, &[]).await
    }

    async fn file_with(&mut self, file: &str, sql: &str, run: bool, args: &[&(dyn tokio_postgres::types::ToSql + Sync)]) {
        self.explained.insert(file.to_string());
        for (i, statement) in split_statements(sql).into_iter().enumerate() {
            let at = format!("{file}, statement {} ({})", i + 1, head(&statement));
            let params = params_of(&statement);
            match kind(&statement) {
                Kind::Query if params > 0 && statement_starts_with(&statement, "CREATE") => {
                    // CREATE TABLE … AS SELECT $1, $2: one row of parameters (PREPARE cannot take it).
                }
                Kind::Query => {
                    self.statements += 1;
                    if run && calls_helper(&statement) {
                        self.notices.lock().unwrap().clear();
                        self.client.batch_execute("SET auto_explain.log_min_duration = 0").await.unwrap();
                    }
                    let body = statement.trim_end().trim_end_matches(';');
                    let plan: Value = if params == 0 {
                        self.client.query_one(&format!("EXPLAIN (FORMAT JSON) {body}"), &[]).await
                    } else {
                        self.client.batch_execute(&format!("DEALLOCATE ALL; PREPARE guard_statement AS {body}")).await.unwrap_or_else(|e| panic!("{at}: {e:?}"));
                        let nulls = vec!["NULL"; params].join(", ");
                        self.client.query_one(&format!("EXPLAIN (FORMAT JSON) EXECUTE guard_statement({nulls})"), &[]).await
                    }
                    .unwrap_or_else(|e| panic!("{at}: EXPLAIN failed: {e:?}"))
                    .get(0);
                    let ix = indexes(&self.client).await;
                    let mut found = plan_faults(&plan, &ix);
                    if BATCHED.contains(&file) {
                        whole_reads(&plan[0]["Plan"], &mut found);
                    }
                    for f in found {
                        self.finding(file, format!("{at}: {f}"));
                    }
                }
                Kind::Block => {
                    self.blocks += 1;
                    if run {
                        self.notices.lock().unwrap().clear();
                        self.client.batch_execute("SET auto_explain.log_min_duration = 0").await.unwrap();
                    }
                }
                Kind::NoPlan => {}
            }
            if run && (params == 0 || !args.is_empty()) {
                if params == 0 {
                    self.client.batch_execute(&statement).await
                } else {
                    self.client.execute(statement.as_str(), args).await.map(|_| ())
                }
                .unwrap_or_else(|e| panic!("{at}: {e:?}"));
                settle(&self.client, &statement).await.unwrap_or_else(|e| panic!("{at}: {e}"));
            }
            let nested = kind(&statement) == Kind::Block || (kind(&statement) == Kind::Query && calls_helper(&statement));
            if nested && run {
                self.client.batch_execute("SET auto_explain.log_min_duration = -1").await.unwrap();
                let notices: Vec<String> = std::mem::take(&mut *self.notices.lock().unwrap());
                let mut seen = BTreeSet::new();
                for n in notices {
                    let Some(json) = n.split_once("plan:").map(|(_, j)| j.trim()) else { continue };
                    let Ok(v) = serde_json::from_str::<Value>(json) else { continue };
                    let text = v["Query Text"].as_str().unwrap_or_default().to_string();
                    // The block itself, or the statement that calls the helper (EXPLAINed above).
                    if text.trim_start().to_ascii_uppercase().starts_with("DO") || text.trim() == statement.trim() || !seen.insert(text.clone()) {
                        continue;
                    }
                    self.statements += 1;
                    let ix = indexes(&self.client).await;
                    let mut found = plan_faults(&Value::Array(vec![v.clone()]), &ix);
                    if BATCHED.contains(&file) {
                        whole_reads(&v["Plan"], &mut found);
                    }
                    for f in found {
                        self.finding(file, format!("{at}, inside: {} — {f}", head(&text)));
                    }
                }
            } else if kind(&statement) == Kind::Block && !DO_BLOCKS_ALLOWED.iter().any(|(f, _)| *f == file) {
                self.findings.push(format!("{at}: a DO block the guard did not run, so its statements were not seen"));
            }
        }
    }

    fn finding(&mut self, file: &str, what: String) {
        if ALLOWED_FINDINGS.iter().any(|(f, _)| *f == file) {
            self.allowed.push(what);
        } else {
            self.findings.push(what);
        }
    }

    async fn sql(&self, sql: &str) {
        self.client.batch_execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    }
}

fn statement_starts_with(statement: &str, word: &str) -> bool {
    code_only(statement, false).trim_start().to_ascii_uppercase().starts_with(word)
}

fn head(statement: &str) -> String {
    let code = code_only(statement, false);
    let words: Vec<&str> = code.split_whitespace().take(8).collect();
    words.join(" ")
}

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
    for f in ["rollback/losses.sql", "migrate/drop_compat.sql", "rollback/drop_keys.sql", "rollback/unrename.sql", "rollback/drop_schema.sql"] {
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
    // The abort, with every backfill done and the indexes built (still stopped before the keys).
    g2.sql("BEGIN; SET LOCAL profochat_saas.allow_ddl = on").await;
    for f in ["rollback/losses.sql", "migrate/drop_compat.sql", "rollback/drop_keys.sql", "rollback/unrename.sql", "migrate/online/drop.sql", "rollback/drop_schema.sql"] {
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
    let source = include_str!("plans.rs");
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
