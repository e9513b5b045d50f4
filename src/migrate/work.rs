//! The migration's work tables: the session-local tables of the analysis (pg_temp
//! `mig_*`) and the copies the online migration keeps in the tool's schema
//! (`profochat_saas.online_*`). Every SQL file that creates or writes one runs through
//! [`run`], statement by statement: after each statement, a work table it created gets
//! the indexes [`WORK_TABLES`] declares for it (the keys other statements join it by),
//! and every work table it created or wrote is ANALYZEd before the next statement
//! reads it. A work table that [`WORK_TABLES`] does not know is an error, so a new one
//! cannot be read unindexed or with guessed statistics.

use std::collections::BTreeSet;

use tokio_postgres::GenericClient;

use crate::sql::ident;

/// Each work table and the column lists it is indexed on (the keys it is joined or
/// looked up by). An empty list: the table holds a handful of rows (one per legacy
/// table or fewer) or is only ever read whole.
pub const WORK_TABLES: &[(&str, &[&[&str]])] = &[
    // One row.
    ("mig_params", &[]),
    ("mig_batch", &[]),
    ("online_params", &[]),
    // Read whole, grouped by bot name into mig_bots.
    ("mig_bot_source", &[]),
    ("mig_bots", &[&["bot_name"]]),
    // At most one row per legacy table.
    ("mig_null_bot", &[]),
    ("mig_null_course", &[]),
    ("mig_counts", &[]),
    ("mig_course_copy", &[&["course_id", "bot_name"]]),
    ("mig_course_bot_refs", &[&["course_id", "bot_name"]]),
    ("mig_course_plan", &[&["course_id", "bot_name"], &["new_course_id"]]),
    ("mig_conversation_stats", &[&["course_id"]]),
    ("mig_course_refs", &[&["course_id"]]),
    ("mig_course_map", &[&["course_id", "bot_name"]]),
    ("mig_missing_course", &[&["course_id"]]),
    ("mig_run_deactivate", &[&["run_id"]]),
    ("mig_run_dup_groups", &[&["bot_name", "chat_id"]]),
    ("mig_ban_dups", &[&["bannedparticipant_id"]]),
    ("mig_participant_dups", &[&["courseparticipant_id"]]),
    ("mig_orphans", &[&["conversation_id"], &["run_id"]]),
    ("mig_moved_runs", &[&["run_id"]]),
    ("mig_deployment", &[&["course_id", "bot_id"]]),
    // The online copies (persist.sql gives them their primary keys; the orphans are
    // also read by run_id range, one backfill batch at a time).
    ("online_run_deactivate", &[&["run_id"]]),
    ("online_ban_dups", &[&["bannedparticipant_id"]]),
    ("online_participant_dups", &[&["courseparticipant_id"]]),
    ("online_orphans", &[&["conversation_id"], &["run_id"]]),
];

/// The schema of the persisted work tables.
const TOOL_SCHEMA: &str = "profochat_saas";

/// The declared indexes of a work table, or None if it is not a work table.
pub fn keys_of(table: &str) -> Option<&'static [&'static [&'static str]]> {
    WORK_TABLES.iter().find(|(t, _)| *t == table).map(|(_, k)| *k)
}

/// Whether a relation name is one of the migration's work tables by its name.
pub fn is_work_table_name(table: &str) -> bool {
    table.starts_with("mig_") || table.starts_with("online_")
}

/// A work table the registry does not know, or a statement that failed.
#[derive(Debug)]
pub enum WorkError {
    Statement(tokio_postgres::Error),
    Undeclared(String),
}

impl From<tokio_postgres::Error> for WorkError {
    fn from(e: tokio_postgres::Error) -> Self {
        WorkError::Statement(e)
    }
}

impl WorkError {
    /// As the tool's error: what it was doing, the cause, what stayed unchanged.
    pub fn into_query(self, context: &str, unchanged: &str) -> crate::error::Error {
        crate::error::Error::Query { context: context.into(), cause: self.to_string(), unchanged: unchanged.into() }
    }
}

impl std::fmt::Display for WorkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WorkError::Statement(e) => write!(f, "{}", crate::error::pg_error_text(e)),
            WorkError::Undeclared(t) => write!(
                f,
                "work table {t} has no declared keys (src/migrate/work.rs, WORK_TABLES): it would be read unindexed"
            ),
        }
    }
}

/// Runs a SQL file statement by statement (inside the caller's transaction when the
/// file's tables are ON COMMIT DROP), indexing and analysing the work tables each
/// statement creates or writes before the next one runs.
pub async fn run<C: GenericClient + Sync>(client: &C, sql: &str) -> Result<(), WorkError> {
    for statement in split_statements(sql) {
        client.batch_execute(&statement).await?;
        settle(client, &statement).await?;
    }
    Ok(())
}

/// After `statement`: indexes the work tables it created, ANALYZEs those it created
/// or wrote, and any work table never analysed yet.
pub async fn settle<C: GenericClient + Sync>(client: &C, statement: &str) -> Result<(), WorkError> {
    let written = written_tables(statement);
    // Work tables of this session (pg_temp) and of the tool's schema, with whether they
    // were ever analysed (reltuples < 0: never).
    let rows = client
        .query(
            "SELECT n.nspname = $1 AS persisted, c.relname::text, c.reltuples < 0 AS unanalysed,
                    array(SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i WHERE i.indrelid = c.oid) AS indexes
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind = 'r'
                AND (c.relnamespace = pg_my_temp_schema() OR (n.nspname = $1 AND c.relname LIKE 'online\\_%'))",
            &[&TOOL_SCHEMA],
        )
        .await?;
    for row in rows {
        let persisted: bool = row.get(0);
        let name: String = row.get(1);
        let unanalysed: bool = row.get(2);
        let indexes: Vec<String> = row.get(3);
        let is_written = written.contains(&name);
        if !unanalysed && !is_written {
            continue;
        }
        if (persisted && keys_of(&name).is_none()) || !is_work_table_name(&name) {
            // The tool's state tables (online_progress …), and pg_temp tables of other
            // parts of the tool (their own one-row parameters).
            continue;
        }
        let keys = keys_of(&name).ok_or_else(|| WorkError::Undeclared(name.clone()))?;
        let qualified = if persisted { format!("{}.{}", ident(TOOL_SCHEMA), ident(&name)) } else { format!("pg_temp.{}", ident(&name)) };
        for cols in keys {
            let list = cols.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ");
            // An index (or key) whose leading columns are these already serves.
            let covered = indexes.iter().any(|d| {
                d.split_once(" USING btree (")
                    .map(|(_, rest)| rest.replace(' ', "").starts_with(&cols.join(",")))
                    .unwrap_or(false)
            });
            if !covered {
                client.batch_execute(&format!("CREATE INDEX ON {qualified} ({list})")).await?;
            }
        }
        client.batch_execute(&format!("ANALYZE {qualified}")).await?;
    }
    Ok(())
}

/// The relations a statement creates or writes, by name (unqualified, lower case).
pub fn written_tables(statement: &str) -> BTreeSet<String> {
    let words: Vec<String> = code_only(statement, true)
        .split(|c: char| c.is_whitespace() || c == '(' || c == ';' || c == ',')
        .filter(|w| !w.is_empty())
        .map(|w| w.to_ascii_lowercase())
        .collect();
    let mut out = BTreeSet::new();
    let name = |w: &str| w.rsplit('.').next().unwrap_or(w).trim_matches('"').to_string();
    for (i, w) in words.iter().enumerate() {
        let next = |k: usize| words.get(i + k).map(String::as_str).unwrap_or("");
        match w.as_str() {
            "into" if i > 0 && words[i - 1] == "insert" => {
                out.insert(name(next(1)));
            }
            "update" if next(1) != "set" => {
                out.insert(name(next(1)));
            }
            "from" if i > 0 && words[i - 1] == "delete" => {
                out.insert(name(next(1)));
            }
            "table" if i > 0 && matches!(words[i - 1].as_str(), "create" | "temp" | "temporary" | "unlogged" | "alter") => {
                let mut k = 1;
                while matches!(next(k), "if" | "not" | "exists" | "only") {
                    k += 1;
                }
                out.insert(name(next(k)));
            }
            _ => {}
        }
    }
    out
}

/// The statement with its comments and string literals blanked out (and the bodies of
/// DO blocks and functions, unless `bodies`).
pub fn code_only(sql: &str, bodies: bool) -> String {
    let mut out = String::with_capacity(sql.len());
    for (piece, is_code) in pieces(sql) {
        if is_code {
            out.push_str(piece);
        } else if bodies && piece.starts_with('$') {
            // $tag$ body $tag$
            let tag = piece[1..].find('$').map(|n| n + 2).unwrap_or(piece.len());
            let body = if piece.len() >= 2 * tag { &piece[tag..piece.len() - tag] } else { "" };
            out.push(' ');
            out.push_str(&code_only(body, true));
            out.push(' ');
        } else {
            out.push(' ');
        }
    }
    out
}

/// The SQL text cut into code and non-code (comments, quoted strings, dollar-quoted
/// bodies, quoted identifiers) pieces.
fn pieces(sql: &str) -> Vec<(&str, bool)> {
    let b = sql.as_bytes();
    let mut out = vec![];
    let mut i = 0;
    let mut start = 0;
    while i < b.len() {
        let end = if b[i] == b'-' && b.get(i + 1) == Some(&b'-') {
            Some(sql[i..].find('\n').map(|n| i + n).unwrap_or(b.len()))
        } else if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            Some(sql[i + 2..].find("*/").map(|n| i + 2 + n + 2).unwrap_or(b.len()))
        } else if b[i] == b'\'' || b[i] == b'"' {
            let q = b[i];
            let mut j = i + 1;
            loop {
                match b.get(j) {
                    None => break,
                    Some(&c) if c == q && b.get(j + 1) == Some(&q) => j += 2,
                    Some(&c) if c == q => {
                        j += 1;
                        break;
                    }
                    Some(_) => j += 1,
                }
            }
            Some(j)
        } else if b[i] == b'$' && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')) {
            // $tag$ … $tag$ (not $1, a parameter).
            let tag_end = sql[i + 1..].find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).map(|n| i + 1 + n);
            match tag_end {
                Some(t) if b[t] == b'$' && !b[i + 1..t].first().is_some_and(|c| c.is_ascii_digit()) => {
                    let tag = &sql[i..=t];
                    Some(sql[t + 1..].find(tag).map(|n| t + 1 + n + tag.len()).unwrap_or(b.len()))
                }
                _ => None,
            }
        } else {
            None
        };
        match end {
            Some(e) => {
                if start < i {
                    out.push((&sql[start..i], true));
                }
                out.push((&sql[i..e], false));
                i = e;
                start = e;
            }
            None => i += 1,
        }
    }
    if start < b.len() {
        out.push((&sql[start..], true));
    }
    out
}

/// The statements of a SQL file, in order, each with the comments that precede it;
/// empty statements (only comments or blanks) are left out.
pub fn split_statements(sql: &str) -> Vec<String> {
    let mut out = vec![];
    let mut current = String::new();
    for (piece, is_code) in pieces(sql) {
        if !is_code {
            current.push_str(piece);
            continue;
        }
        let mut rest = piece;
        while let Some(n) = rest.find(';') {
            current.push_str(&rest[..=n]);
            out.push(std::mem::take(&mut current));
            rest = &rest[n + 1..];
        }
        current.push_str(rest);
    }
    out.push(current);
    out.into_iter().filter(|s| !code_only(s, false).trim().trim_matches(';').trim().is_empty()).map(|s| s.trim().to_string()).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn splits_around_quotes_comments_and_bodies() {
        let sql = "-- a; comment\nSELECT 'x;y'; DO $$ BEGIN PERFORM 1; END $$;\n/* c; */ UPDATE \"a;b\" SET x = $1;\n-- trailing";
        let s = split_statements(sql);
        assert_eq!(s.len(), 3, "{s:?}");
        assert!(s[0].ends_with("SELECT 'x;y';"));
        assert!(s[1].starts_with("DO $$"));
        assert!(s[2].contains("$1"));
    }

    #[test]
    fn finds_written_tables() {
        let w = written_tables("WITH m AS (UPDATE run r SET x = 1 RETURNING r.run_id) INSERT INTO mig_moved_runs SELECT * FROM m");
        assert!(w.contains("run") && w.contains("mig_moved_runs"), "{w:?}");
        let w = written_tables("CREATE TEMP TABLE mig_x ON COMMIT DROP AS SELECT 1; ALTER TABLE profochat_saas.online_y ADD PRIMARY KEY (a)");
        assert!(w.contains("mig_x") && w.contains("online_y"), "{w:?}");
        assert!(written_tables("-- UPDATE mig_z\nSELECT 'INSERT INTO mig_q'").is_empty());
        let w = written_tables("DO $$ BEGIN UPDATE mig_course_plan SET x = 'a;b'; END $$");
        assert!(w.contains("mig_course_plan"), "{w:?}");
    }

    /// The SQL files that use the work tables (mig_*), in the order each path runs them
    /// (src/migrate/analysis.rs, offline.rs, online.rs, steps/); COMMIT ends a
    /// transaction, and the tables made ON COMMIT DROP go with it.
    const ANALYSIS: &[&str] = &[
        "migrate/analysis_read/params_reset.sql",
        "migrate/analysis_read/params.sql",
        "migrate/analysis.sql",
        "migrate/analysis_read/conversation_rows.sql",
        "migrate/analysis_read/bots.sql",
        "migrate/analysis_read/null_bot.sql",
        "migrate/analysis_read/course_plan.sql",
        "migrate/analysis_read/missing_courses.sql",
        "migrate/analysis_read/missing_course_refs.sql",
        "migrate/analysis_read/null_course.sql",
        "migrate/analysis_read/anomaly_counts.sql",
        "plan/collapses.sql",
        "migrate/analysis_read/counts.sql",
        "plan/deployments.sql",
    ];
    const COMMIT: &str = "COMMIT";
    /// The prepare step with the preflight's analysis kept (steps/prepare.rs, Preflight).
    const ANALYSIS_AGAIN: &[&str] =
        &["migrate/analysis_read/params_reset.sql", "migrate/analysis_read/params.sql", "migrate/online/analysis_reuse.sql"];
    const OFFLINE: &[&str] = &[
        "migrate/run/record_start.sql",
        "migrate/2_data.sql",
        "migrate/checks/2_data.sql",
        "migrate/3_links.sql",
        "migrate/3_links_whole_range.sql",
        "migrate/online/backfill_bannedparticipants.sql",
        "migrate/online/backfill_courseparticipants.sql",
        "migrate/online/backfill_gen_settings.sql",
        "migrate/online/backfill_conversation_orphans.sql",
        COMMIT,
    ];
    const ONLINE_PREPARE: &[&str] = &["migrate/online/persist.sql", "migrate/2_data.sql", "migrate/checks/2_data.sql", COMMIT];
    /// From the first backfill on, in the session that ran prepare or in a new one: the
    /// backfill's files as its step says ([`crate::migrate::steps::backfill::files`]).
    fn online_backfill() -> Vec<&'static str> {
        let files = crate::migrate::steps::backfill::files().into_iter().map(|(f, _)| f);
        std::iter::once("migrate/online/restore.sql").chain(files).chain(["migrate/online/drop.sql"]).collect()
    }

    /// The files the backfill's step names are the ones it runs.
    #[test]
    fn the_backfill_names_the_files_it_runs() {
        use crate::migrate::steps::backfill::{batch_file, table_sql};
        for t in crate::state::BackfillTable::ALL {
            assert_eq!(sql_file(batch_file(t)), table_sql(t), "{}", batch_file(t));
        }
    }

    /// Each path: `plan`, offline `migrate`, online `migrate` (its preflight rolled
    /// back, its prepare, its backfill), an online `migrate` resumed in a new session.
    fn paths() -> Vec<(&'static str, Vec<&'static str>)> {
        let cat = |parts: &[&[&'static str]]| parts.iter().flat_map(|p| p.iter().copied()).collect::<Vec<_>>();
        vec![
            ("plan", cat(&[ANALYSIS, &[COMMIT]])),
            ("migrate --offline", cat(&[ANALYSIS, OFFLINE])),
            ("migrate", cat(&[ANALYSIS, &[COMMIT], ANALYSIS, ONLINE_PREPARE, &online_backfill()])),
            ("migrate, resumed", online_backfill()),
            // The preflight's analysis kept for the session, taken back by prepare.
            (
                "migrate, the analysis kept",
                cat(&[ANALYSIS, &["migrate/online/analysis_keep.sql", COMMIT], ANALYSIS_AGAIN, ONLINE_PREPARE, &online_backfill()]),
            ),
        ]
    }

    fn sql_file(path: &str) -> String {
        std::fs::read_to_string(format!("{}/sql/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap_or_else(|e| panic!("sql/{path}: {e}"))
    }

    /// What a SQL file does with the work tables: those it reads that it did not create
    /// before, those it creates (table or view, and whether it goes at commit), those it drops.
    #[derive(Debug, Default)]
    struct Uses {
        reads: BTreeSet<String>,
        creates: BTreeSet<String>,
        on_commit_drop: BTreeSet<String>,
        views: BTreeSet<String>,
        drops: BTreeSet<String>,
    }

    impl Uses {
        fn any(&self) -> bool {
            !(self.reads.is_empty() && self.creates.is_empty() && self.drops.is_empty())
        }
    }

    /// The SQL without its comments; string literals and bodies stay (a work table named
    /// in a string, as the helpers of helpers.sql take them, is used).
    fn without_comments(sql: &str) -> String {
        let mut out = String::with_capacity(sql.len());
        for (piece, is_code) in pieces(sql) {
            if is_code {
                out.push_str(piece);
            } else if piece.starts_with("--") || piece.starts_with("/*") {
                out.push(' ');
            } else if piece.starts_with('$') {
                let tag = piece[1..].find('$').map(|n| n + 2).unwrap_or(piece.len());
                let body = if piece.len() >= 2 * tag { &piece[tag..piece.len() - tag] } else { "" };
                out.push(' ');
                out.push_str(&without_comments(body));
                out.push(' ');
            } else {
                out.push_str(piece);
            }
        }
        out
    }

    fn work_tables_named(text: &str) -> Vec<String> {
        text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| w.starts_with("mig_")).map(str::to_string).collect()
    }

    fn uses(sql: &str) -> Uses {
        let mut u = Uses::default();
        for statement in split_statements(sql) {
            let names = work_tables_named(&without_comments(&statement).to_ascii_lowercase());
            let code = code_only(&statement, false).to_ascii_lowercase();
            let words: Vec<&str> = code.split_whitespace().collect();
            if words.first() == Some(&"drop") {
                u.drops.extend(names);
                continue;
            }
            // CREATE [TEMP] TABLE|VIEW [IF NOT EXISTS] name
            let created = (words.first() == Some(&"create"))
                .then(|| words.iter().take(4).position(|w| *w == "table" || *w == "view"))
                .flatten()
                .and_then(|i| words[i + 1..].iter().find(|w| !matches!(**w, "if" | "not" | "exists")).map(|w| (words[i], *w)))
                .map(|(kind, name)| {
                    let name = name.rsplit('.').next().unwrap_or(name);
                    (kind, name.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).next().unwrap_or(name).to_string())
                })
                .filter(|(_, name)| name.starts_with("mig_"));
            if let Some((kind, name)) = &created {
                u.creates.insert(name.clone());
                if kind == &"view" {
                    u.views.insert(name.clone());
                }
                if code.contains("on commit drop") {
                    u.on_commit_drop.insert(name.clone());
                }
            }
            for n in names {
                if !u.creates.contains(&n) {
                    u.reads.insert(n);
                }
            }
        }
        u
    }

    /// The tables a header line (`-- reads: a, b`) lists; None without one.
    fn header(sql: &str, what: &str) -> Option<BTreeSet<String>> {
        let prefix = format!("-- {what}:");
        sql.lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .map(|rest| rest.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
    }

    fn all_sql_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                all_sql_files(&p, out);
            } else if p.extension().is_some_and(|x| x == "sql") {
                out.push(p);
            }
        }
    }

    #[test]
    fn finds_work_table_uses() {
        let u = uses(
            "-- reads: mig_z\nDROP TABLE IF EXISTS pg_temp.mig_a; CREATE TEMP TABLE mig_a ON COMMIT DROP AS SELECT * FROM mig_b;
             SELECT pg_temp.f('mig_c'); UPDATE mig_a SET x = 1; CREATE TEMP VIEW mig_d AS TABLE mig_a;
             DO $$ BEGIN PERFORM 1 FROM mig_e; END $$; -- mig_f",
        );
        let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        assert_eq!(u.reads, set(&["mig_b", "mig_c", "mig_e"]));
        assert_eq!(u.creates, set(&["mig_a", "mig_d"]));
        assert_eq!(u.on_commit_drop, set(&["mig_a"]));
        assert_eq!(u.views, set(&["mig_d"]));
        assert_eq!(u.drops, set(&["mig_a"]));
        assert_eq!(header("-- x\n-- reads: mig_a, mig_b\nSELECT 1", "reads"), Some(set(&["mig_a", "mig_b"])));
    }

    /// The work tables are a contract between the SQL files: each file says in its
    /// header which it reads, creates and drops; the headers say what the bodies do,
    /// and every table a file reads was created by a file that runs before it.
    #[test]
    fn every_work_table_a_file_reads_is_created_before_it() {
        let mut files = vec![];
        all_sql_files(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sql"), &mut files);
        let ordered: BTreeSet<&str> = paths().iter().flat_map(|(_, p)| p.iter().copied()).filter(|f| *f != COMMIT).collect();
        let mut problems = vec![];
        for f in &files {
            let name = f.strip_prefix(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sql")).unwrap().to_string_lossy().replace('\\', "/");
            let sql = std::fs::read_to_string(f).unwrap();
            let u = uses(&sql);
            for (what, body) in [("reads", &u.reads), ("creates", &u.creates), ("drops", &u.drops)] {
                match header(&sql, what) {
                    None if !body.is_empty() => problems.push(format!("{name}: {what} {body:?} but has no `-- {what}:` line")),
                    Some(listed) if &listed != body => problems.push(format!("{name}: its `-- {what}:` line lists {listed:?}, its statements {what} {body:?}")),
                    _ => {}
                }
            }
            for t in u.creates.difference(&u.views) {
                if keys_of(t).is_none() {
                    problems.push(format!("{name}: creates {t}, which WORK_TABLES does not declare"));
                }
            }
            if u.any() && !ordered.contains(name.as_str()) {
                problems.push(format!("{name}: uses work tables but is in no path of this test (paths())"));
            }
        }
        for (path, steps) in paths() {
            let mut present: BTreeMap<String, bool> = BTreeMap::new();
            for (i, step) in steps.iter().enumerate() {
                if *step == COMMIT {
                    present.retain(|_, goes| !*goes);
                    continue;
                }
                let sql = sql_file(step);
                let u = uses(&sql);
                for t in header(&sql, "reads").unwrap_or_default() {
                    if !present.contains_key(&t) {
                        problems.push(format!("{path}: {step} (file {}) reads {t}, which no file before it creates", i + 1));
                    }
                }
                for t in header(&sql, "drops").unwrap_or_default() {
                    present.remove(&t);
                }
                for t in header(&sql, "creates").unwrap_or_default() {
                    let goes = u.on_commit_drop.contains(&t);
                    present.insert(t, goes);
                }
            }
        }
        assert!(problems.is_empty(), "the work tables' contract:\n{}", problems.join("\n"));
    }

    #[test]
    fn every_declared_table_is_a_work_table() {
        for (t, _) in WORK_TABLES {
            assert!(is_work_table_name(t), "{t}");
        }
    }
}
