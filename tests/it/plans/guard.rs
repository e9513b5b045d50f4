//! The guard: its own session EXPLAINs each statement of a file (and what auto_explain
//! shows of the DO blocks), and what a plan may not hold.

use super::*;

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

/// Files the online backfill runs once per batch of keys (as its step says): a statement
/// there that reads a growing relation whole reads it once per batch, and the batches grow
/// with the data.
fn batched(file: &str) -> bool {
    profochat_saas::migrate::steps::backfill::files().contains(&(file, true)) || UNDO_BATCHED.contains(&file)
}

/// Files the online way back runs once per batch of keys.
const UNDO_BATCHED: &[&str] = &["rollback/undo_archive.sql", "rollback/undo_app_rows.sql", "rollback/undo_links.sql"];

/// Relations a batch may read whole: they grow with the courses (a few thousand rows at
/// a million runs), not with the rows batched.
const PER_BATCH_WHOLE: &[&str] = &["course", "course_deployment", "legacy_course_map", "bot"];

/// Whether a condition compares a column with a parameter as a range bound (`>= $2`,
/// `< $3`): the batch's key range.
fn range_on_parameter(condition: &str) -> bool {
    ["> $", ">= $", "< $", "<= $"].iter().any(|op| condition.contains(op))
}

/// Growing relations a statement run once per batch reads whole, or through an index
/// that finds more than the batch: its key range a filter on every row the index finds.
fn whole_reads(node: &Value, out: &mut Vec<String>) {
    let kind = node["Node Type"].as_str().unwrap_or_default();
    let rel = node["Relation Name"].as_str().unwrap_or_default();
    if kind == "Seq Scan" && grows(node) && !PER_BATCH_WHOLE.contains(&rel) {
        out.push(format!("each batch reads {rel} whole (Seq Scan)"));
    }
    if matches!(kind, "Index Scan" | "Index Only Scan" | "Bitmap Heap Scan") && grows(node) && !PER_BATCH_WHOLE.contains(&rel) {
        let filter = node["Filter"].as_str().unwrap_or_default();
        if range_on_parameter(filter) && !range_on_parameter(node["Index Cond"].as_str().unwrap_or_default()) {
            let index = node["Index Name"].as_str().unwrap_or("a bitmap of indexes");
            out.push(format!("each batch reads every row of {rel} that {index} finds, its key range only a filter ({filter})"));
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
pub(super) struct Guard {
    client: Client,
    notices: Arc<Mutex<Vec<String>>>,
    pub(super) findings: Vec<String>,
    /// Findings in ALLOWED_FINDINGS.
    pub(super) allowed: Vec<String>,
    pub(super) explained: BTreeSet<String>,
    pub(super) statements: usize,
    pub(super) blocks: usize,
}

impl Guard {
    pub(super) async fn connect(db: &TestDb) -> Guard {
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
    pub(super) async fn file(&mut self, file: &str, run: bool) {
        // The tool's functions name the tables as {{schema}}.table: here they are in public.
        let sql = std::fs::read_to_string(format!("{DIR}{file}")).expect(file).replace("{{schema}}", "public");
        self.file_with(file, &sql, run, &[]).await
    }

    pub(super) async fn file_with(&mut self, file: &str, sql: &str, run: bool, args: &[&(dyn tokio_postgres::types::ToSql + Sync)]) {
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
                    if batched(file) {
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
                    if batched(file) {
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

    pub(super) async fn sql(&self, sql: &str) {
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
