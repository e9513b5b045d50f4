//! The analysis shared by `plan` and `migrate` (sql/migrate/analysis.sql): what this
//! database holds, which anomalies it has, and what the migration will do about each.
//! Both commands run the same SQL, so the plan always agrees with the migration.

use std::collections::BTreeMap;

use serde::Serialize;
use tokio_postgres::GenericClient;

use crate::error::{Error, Result};
use crate::sql::{ident, LEGACY_TABLES};

const ANALYSIS: &str = include_str!("../../sql/migrate/analysis.sql");
const PLANNED_DEPLOYMENTS: &str = include_str!("../../sql/plan/deployments.sql");
const COLLAPSES: &str = include_str!("../../sql/plan/collapses.sql");

/// The statements that read the analysis's temporary tables back.
mod read_sql {
    pub const PARAMS_RESET: &str = include_str!("../../sql/migrate/analysis_read/params_reset.sql");
    pub const PARAMS: &str = include_str!("../../sql/migrate/analysis_read/params.sql");
    pub const CONVERSATION_ROWS: &str = include_str!("../../sql/migrate/analysis_read/conversation_rows.sql");
    pub const BOTS: &str = include_str!("../../sql/migrate/analysis_read/bots.sql");
    pub const NULL_BOT: &str = include_str!("../../sql/migrate/analysis_read/null_bot.sql");
    pub const COURSE_PLAN: &str = include_str!("../../sql/migrate/analysis_read/course_plan.sql");
    pub const MISSING_COURSES: &str = include_str!("../../sql/migrate/analysis_read/missing_courses.sql");
    pub const MISSING_COURSE_REFS: &str = include_str!("../../sql/migrate/analysis_read/missing_course_refs.sql");
    pub const NULL_COURSE: &str = include_str!("../../sql/migrate/analysis_read/null_course.sql");
    pub const ANOMALY_COUNTS: &str = include_str!("../../sql/migrate/analysis_read/anomaly_counts.sql");
    pub const COUNTS: &str = include_str!("../../sql/migrate/analysis_read/counts.sql");
    pub const HAS_SAAS_TABLES: &str = include_str!("../../sql/migrate/analysis_read/has_saas_tables.sql");
}

/// One course copy of a course_id present under several bots, and its outcome.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CourseCopy {
    pub course_id: String,
    pub bot_name: String,
    /// Whether all copies of this course_id are identical.
    pub identical: bool,
    pub action: CourseAction,
    /// The course this copy becomes or joins.
    pub new_course_id: String,
}

/// What the migration does with one copy of a course_id present under several bots.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CourseAction {
    /// Keeps the id.
    Keep,
    /// Identical to the kept copy: one course, deployed to this bot too.
    Merge,
    /// Differs: becomes `new_course_id`.
    Rename,
}

impl CourseAction {
    pub const ALL: [CourseAction; 3] = [CourseAction::Keep, CourseAction::Merge, CourseAction::Rename];

    /// As the analysis writes it (`mig_course_plan.action`, sql/migrate/analysis.sql).
    pub fn as_str(self) -> &'static str {
        match self {
            CourseAction::Keep => "keep",
            CourseAction::Merge => "merge",
            CourseAction::Rename => "rename",
        }
    }

    pub fn parse(s: &str) -> Option<CourseAction> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// A course id that rows reference but no course row holds.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MissingCourse {
    pub course_id: String,
    pub referenced_by: Vec<String>,
    pub references: i64,
    /// The legacy `bot_name` the created row gets.
    pub bot_name: String,
}

/// Everything the analysis found.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Analysis {
    pub rows: BTreeMap<String, i64>,
    /// Bot name → the legacy tables it appears in.
    pub bots: BTreeMap<String, Vec<String>>,
    pub default_bot: Option<String>,
    pub null_bot_rows: BTreeMap<String, i64>,
    pub course_copies: Vec<CourseCopy>,
    pub missing_courses: Vec<MissingCourse>,
    pub missing_course_refs: BTreeMap<String, i64>,
    pub null_course_rows: BTreeMap<String, i64>,
    pub orphan_run_refs: i64,
    pub null_run_refs: i64,
    pub duplicate_active_groups: i64,
    pub runs_to_deactivate: i64,
    pub duplicate_bans: i64,
    pub duplicate_participants: i64,
    /// Each group of duplicate bans: which rows go and which stays.
    pub ban_collapses: Vec<String>,
    /// Each group of duplicate participants: which rows go and which stays.
    pub participant_collapses: Vec<String>,
    pub null_is_ended_runs: i64,
    pub null_is_waiting: i64,
    pub large_json_rows: i64,
    pub deployments_to_create: i64,
}

impl Analysis {
    /// Course ids under several bots whose copies are all identical.
    pub fn identical_copies(&self) -> Vec<String> {
        self.conflict_ids(true)
    }

    /// Course ids under several bots with at least two differing copies.
    pub fn differing_copies(&self) -> Vec<String> {
        self.conflict_ids(false)
    }

    fn conflict_ids(&self, identical: bool) -> Vec<String> {
        let mut ids: Vec<String> = self
            .course_copies
            .iter()
            .filter(|c| c.identical == identical)
            .map(|c| c.course_id.clone())
            .collect();
        ids.dedup();
        ids
    }

    pub fn total_null_bot_rows(&self) -> i64 {
        self.null_bot_rows.values().sum()
    }

    /// Bot names that appear in exactly one table, by table.
    pub fn bots_only_in(&self) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (bot, tables) in &self.bots {
            if let [only] = tables.as_slice() {
                out.entry(only.clone()).or_default().push(bot.clone());
            }
        }
        out
    }
}

fn q(e: tokio_postgres::Error) -> Error {
    Error::query("analysing the legacy data", &e, "Nothing was changed.")
}

/// Runs the analysis inside the caller's transaction (it creates temporary tables
/// that vanish at its end) and reads the findings back.
pub async fn run<C: GenericClient + Sync>(client: &C, default_bot: Option<&str>, migration_id: Option<i32>) -> Result<Analysis> {
    client
        .batch_execute(read_sql::PARAMS_RESET)
        .await
        .map_err(q)?;
    client
        .execute(read_sql::PARAMS, &[&default_bot, &migration_id])
        .await
        .map_err(q)?;
    let work = |e: super::work::WorkError| e.into_query("analysing the legacy data", "Nothing was changed.");
    super::work::settle(client, read_sql::PARAMS).await.map_err(work)?;
    super::work::run(client, ANALYSIS).await.map_err(work)?;
    read(client, default_bot).await
}

async fn read<C: GenericClient + Sync>(client: &C, default_bot: Option<&str>) -> Result<Analysis> {
    let mut a = Analysis {
        default_bot: default_bot.map(str::to_string),
        ..Analysis::default()
    };
    for t in LEGACY_TABLES {
        // conversation, the biggest table, was counted by the analysis's one pass over it.
        let sql = match t {
            "conversation" => read_sql::CONVERSATION_ROWS.to_string(),
            _ => format!("SELECT count(*) FROM {}", ident(t)),
        };
        let n: i64 = client
            .query_one(&sql, &[])
            .await
            .map_err(q)?
            .get(0);
        a.rows.insert(t.to_string(), n);
    }
    for r in client.query(read_sql::BOTS, &[]).await.map_err(q)? {
        a.bots.insert(r.get(0), r.get(1));
    }
    for r in client.query(read_sql::NULL_BOT, &[]).await.map_err(q)? {
        a.null_bot_rows.insert(r.get(0), r.get(1));
    }
    for r in client
        .query(read_sql::COURSE_PLAN, &[])
        .await
        .map_err(q)?
    {
        a.course_copies.push(CourseCopy {
            course_id: r.get(0),
            bot_name: r.get(1),
            identical: r.get(2),
            action: {
                let action: String = r.get(3);
                CourseAction::parse(&action).ok_or_else(|| Error::Query {
                    context: "analysing the legacy data".into(),
                    cause: format!("the course plan names an unknown action {action:?}"),
                    unchanged: "Nothing was changed.".into(),
                })?
            },
            new_course_id: r.get(4),
        });
    }
    for r in client
        .query(read_sql::MISSING_COURSES, &[])
        .await
        .map_err(q)?
    {
        a.missing_courses.push(MissingCourse {
            course_id: r.get(0),
            referenced_by: r.get(1),
            references: r.get(2),
            bot_name: r.get(3),
        });
    }
    for r in client
        .query(read_sql::MISSING_COURSE_REFS, &[])
        .await
        .map_err(q)?
    {
        a.missing_course_refs.insert(r.get(0), r.get(1));
    }
    for r in client.query(read_sql::NULL_COURSE, &[]).await.map_err(q)? {
        a.null_course_rows.insert(r.get(0), r.get(1));
    }
    let r = client.query_one(read_sql::ANOMALY_COUNTS, &[]).await.map_err(q)?;
    a.orphan_run_refs = r.get(0);
    a.duplicate_active_groups = r.get(1);
    a.runs_to_deactivate = r.get(2);
    a.duplicate_bans = r.get(3);
    a.duplicate_participants = r.get(4);
    for r in client.query(COLLAPSES, &[]).await.map_err(q)? {
        let (table, line): (String, String) = (r.get(0), r.get(1));
        if table == "bannedparticipants" {
            a.ban_collapses.push(line);
        } else {
            a.participant_collapses.push(line);
        }
    }
    for r in client.query(read_sql::COUNTS, &[]).await.map_err(q)? {
        let (what, n): (String, i64) = (r.get(0), r.get(1));
        match what.as_str() {
            "conversation_null_run_id" => a.null_run_refs = n,
            "run_null_is_ended" => a.null_is_ended_runs = n,
            "waiting_null_is_waiting" => a.null_is_waiting = n,
            "conversation_large_json" => a.large_json_rows = n,
            _ => {}
        }
    }
    let has_saas_tables: bool = client
        .query_one(read_sql::HAS_SAAS_TABLES, &[])
        .await
        .map_err(q)?
        .get(0);
    let sql = if has_saas_tables {
        PLANNED_DEPLOYMENTS.to_string()
    } else {
        // No deployments exist yet: leave out the check against them.
        PLANNED_DEPLOYMENTS
            .split("  AND NOT EXISTS (")
            .next()
            .unwrap_or(PLANNED_DEPLOYMENTS)
            .to_string()
    };
    a.deployments_to_create = client.query_one(&sql, &[]).await.map_err(q)?.get(0);
    Ok(a)
}

const BOT_NAMES: &str = include_str!("../../sql/migrate/bot_names.sql");

/// The distinct bot names of the legacy tables.
pub async fn legacy_bot_names<C: GenericClient + Sync>(client: &C) -> Result<BTreeMap<String, Vec<String>>> {
    let rows = client.query(BOT_NAMES, &[]).await.map_err(|e| Error::query("reading bot names", &e, "The transaction was rolled back: nothing was changed."))?;
    Ok(rows.iter().map(|r| (r.get::<_, String>(0), vec![])).collect())
}

#[cfg(test)]
mod course_action_tests {
    use super::*;

    #[test]
    fn every_action_the_analysis_writes_is_a_course_action() {
        for a in CourseAction::ALL {
            assert_eq!(CourseAction::parse(a.as_str()), Some(a));
            assert_eq!(serde_json::to_value(a).unwrap(), a.as_str());
        }
        let end = ANALYSIS.find("END AS action").expect("the course plan's action");
        let case = &ANALYSIS[ANALYSIS[..end].rfind("CASE").unwrap()..end];
        let written: Vec<&str> = case.split('\'').skip(1).step_by(2).collect();
        assert!(!written.is_empty());
        for w in written {
            assert!(CourseAction::parse(w).is_some(), "{w:?} is no CourseAction");
        }
    }
}
