//! The migration's phases, as values in one ordered list. Each has a number and a
//! name (those the old scripts used), says what it will do (for `plan`), and
//! applies itself inside the migration transaction, through the work of the steps
//! ([`super::steps`]) over the whole key range.

use tokio_postgres::Transaction;

use super::analysis::{Analysis, CourseAction};
use super::options::{MigrateOptions, Orphans};
use crate::error::{pg_error_text, Error, Result};
use crate::target;
use crate::state::BackfillTable;

pub use super::steps::prepare::{install_legacy_interface, legacy_interface_sql, COMPAT_TRIGGERS};
use super::steps::prepare;

const LINKS: &str = include_str!("../../sql/migrate/3_links.sql");
const LINKS_WHOLE_RANGE: &str = include_str!("../../sql/migrate/3_links_whole_range.sql");
/// The conversation backfill's orphans, over the whole range (3_links_whole_range.sql).
const ORPHANS_DETACH: &str = include_str!("../../sql/migrate/online/backfill_conversation_orphans.sql");
const RUNS_WITHOUT_DEPLOYMENT: &str = include_str!("../../sql/migrate/3_runs_without_deployment.sql");
const ENSURE_INDEX: &str = include_str!("../../sql/migrate/5_ensure_index.sql");


/// One phase of the migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Account,
    Tables,
    Data,
    Links,
    Keys,
    Indexes,
    Finalize,
}

/// The phases, in order. Phase 6 of the old scripts no longer exists; the numbers are kept.
pub const PHASES: [Phase; 7] = [
    Phase::Account,
    Phase::Tables,
    Phase::Data,
    Phase::Links,
    Phase::Keys,
    Phase::Indexes,
    Phase::Finalize,
];

pub use super::steps::{summarize, Counts};

impl Phase {
    pub fn number(self) -> u8 {
        match self {
            Phase::Account => 0,
            Phase::Tables => 1,
            Phase::Data => 2,
            Phase::Links => 3,
            Phase::Keys => 4,
            Phase::Indexes => 5,
            Phase::Finalize => 7,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Phase::Account => "account",
            Phase::Tables => "new tables",
            Phase::Data => "data",
            Phase::Links => "links",
            Phase::Keys => "foreign keys",
            Phase::Indexes => "indexes",
            Phase::Finalize => "finalize",
        }
    }

    /// "phase 2 (data)".
    pub fn label(self) -> String {
        format!("phase {} ({})", self.number(), self.name())
    }

    /// Whether `spec` (a number or a name, from the test hook) names this phase.
    pub fn matches(self, spec: &str) -> bool {
        spec == self.number().to_string() || spec.eq_ignore_ascii_case(self.name()) || spec == format!("{:?}", self).to_lowercase()
    }

    /// What the phase will do on this database (for `plan`).
    pub fn describe(self, a: &Analysis, opts: &MigrateOptions) -> Vec<String> {
        match self {
            Phase::Account => vec![
                "create table account and the default account (1, 'Default Account', slug 'default', plan 'free')".into(),
                "add account_id (default 1) to the 8 legacy tables".into(),
            ],
            Phase::Tables => vec![
                "create account_member, bot, course_deployment, enrollment_token".into(),
                format!(
                    "add {} new columns to the legacy tables",
                    target::ADDED_COLUMNS.iter().map(|(_, c)| c.len()).sum::<usize>() - 8
                ),
            ],
            Phase::Data => {
                let merged = a.course_copies.iter().filter(|c| c.action == CourseAction::Merge).count();
                let renamed = a.course_copies.iter().filter(|c| c.action == CourseAction::Rename).count();
                vec![
                    format!(
                        "create {} bots{}",
                        a.bots.len() + usize::from(a.default_bot.as_ref().is_some_and(|d| !a.bots.contains_key(d))),
                        if opts.bot_token.is_some() { " (one token from BOT_API_TOKEN, placeholders for the others)" } else { " with placeholder tokens" }
                    ),
                    format!("merge {merged} identical course copies, rename {renamed} differing copies"),
                    format!("create {} courses that rows reference but no course row holds", a.missing_courses.len()),
                    format!("create {} course deployments (environment prod)", a.deployments_to_create),
                ]
            }
            Phase::Links => vec![
                format!("link {} runs to their bot and deployment; deactivate {} older unfinished runs", a.rows["run"], a.runs_to_deactivate),
                format!("link {} waiting elements to their bot and run", a.rows["waiting_element"]),
                match opts.orphans {
                    Orphans::Detach => format!("detach {} conversation rows from runs that no longer exist", a.orphan_run_refs),
                    Orphans::Keep => format!("keep {} conversation run_ids that point at no run", a.orphan_run_refs),
                },
                format!("archive {} duplicate bans and {} duplicate participants", a.duplicate_bans, a.duplicate_participants),
            ],
            Phase::Keys => vec![
                format!("{} unique keys, {} foreign keys, NOT NULL on bot_id", target::UNIQUE_KEYS.len(), target::FOREIGN_KEYS.len()),
                "upstream's names and keys: course keeps its primary key (course_id, bot_name) and gets the unique key (course_id, account_id) the foreign keys reference".into(),
            ],
            Phase::Indexes => vec![if opts.single_transaction {
                format!("{} secondary indexes, inside the transaction", target::secondary_indexes().len())
            } else {
                format!(
                    "{} secondary indexes, after the commit, {} at a time",
                    target::secondary_indexes().len(),
                    opts.index_jobs.max(1)
                )
            }],
            Phase::Finalize => vec![
                "install the triggers that link what a legacy bot writes to the public tables".into(),
                "create the legacy interface: schema profochat_legacy, the 8 legacy tables as the legacy bot knows them".into(),
                "refuse schema changes to the tables the compatibility layer reads until `finish` (event triggers; needs a superuser)".into(),
                "prove no loss (fingerprints before = after, apart from archived changes), validate, record the migration".into(),
            ],
        }
    }

    /// Applies the phase inside the migration transaction.
    pub async fn apply(self, tx: &Transaction<'_>, a: &Analysis, opts: &MigrateOptions) -> Result<Counts> {
        let fail = |e: tokio_postgres::Error| self.failed(pg_error_text(&e));
        let mut counts = Counts::new();
        match self {
            Phase::Account => {
                tx.batch_execute(target::sql::ACCOUNT).await.map_err(fail)?;
            }
            Phase::Tables => {
                tx.batch_execute(target::sql::TABLES).await.map_err(fail)?;
            }
            Phase::Data => counts = prepare::data(tx, a, opts).await.map_err(fail)?,
            Phase::Links => {
                let work = |e: super::work::WorkError| self.failed(e.to_string());
                super::work::run(tx, LINKS).await.map_err(work)?;
                // The small tables: the online backfill's statements, over every key.
                super::work::run(tx, LINKS_WHOLE_RANGE).await.map_err(work)?;
                for t in [BackfillTable::Bannedparticipants, BackfillTable::Courseparticipants, BackfillTable::GenSettings] {
                    tx.batch_execute(super::steps::backfill::table_sql(t)).await.map_err(fail)?;
                }
                if opts.orphans == Orphans::Detach {
                    tx.batch_execute(ORPHANS_DETACH).await.map_err(fail)?;
                    counts.insert("orphans_detached".into(), a.orphan_run_refs);
                }
                counts.insert("runs_deactivated".into(), a.runs_to_deactivate);
                counts.insert("bans_archived".into(), a.duplicate_bans);
                counts.insert("participants_archived".into(), a.duplicate_participants);
                counts.insert(
                    "runs_without_deployment".into(),
                    count(tx, RUNS_WITHOUT_DEPLOYMENT).await.map_err(fail)?,
                );
            }
            Phase::Keys => counts = super::steps::keys::whole_range(tx, opts).await.map_err(fail)?,
            Phase::Indexes => {
                if opts.single_transaction {
                    tx.batch_execute(target::sql::HELPERS).await.map_err(fail)?;
                    for idx in target::secondary_indexes() {
                        tx.execute(ENSURE_INDEX, &[&idx.name, &index_definition(&idx.statement)])
                            .await
                            .map_err(fail)?;
                    }
                    counts.insert("indexes_built".into(), target::secondary_indexes().len() as i64);
                } else {
                    counts.insert("indexes_deferred".into(), target::secondary_indexes().len() as i64);
                }
            }
            Phase::Finalize => {
                install_legacy_interface(tx, false).await.map_err(fail)?;
                counts.insert(
                    "ddl_guard_event_triggers".into(),
                    count(tx, "SELECT count(*) FROM pg_event_trigger WHERE evtname LIKE 'profochat\\_saas\\_guard%'").await.map_err(fail)?,
                );
                counts.insert("compat_triggers".into(), COMPAT_TRIGGERS);
                counts.insert("legacy_interface_views".into(), 8);
            }
        }
        self.check(tx, opts).await?;
        if let Some(spec) = &opts.fail_in_phase {
            if self.matches(spec) {
                return Err(self.failed("failure injected by the test hook --fail-in-phase".into()));
            }
        }
        Ok(counts)
    }

    /// What must hold once the phase applied: a cheap query that counts violations.
    /// (The full `validate` runs at the end of phase 7.)
    fn check_sql(self, opts: &MigrateOptions) -> Option<&'static str> {
        Some(match self {
            Phase::Account => include_str!("../../sql/migrate/checks/0_account.sql"),
            Phase::Tables => include_str!("../../sql/migrate/checks/1_tables.sql"),
            Phase::Data => prepare::DATA_CHECK,
            Phase::Links => include_str!("../../sql/migrate/checks/3_links.sql"),
            Phase::Keys => include_str!("../../sql/migrate/checks/4_keys.sql"),
            Phase::Indexes if opts.single_transaction => include_str!("../../sql/migrate/checks/5_indexes.sql"),
            Phase::Indexes => return None,
            Phase::Finalize => include_str!("../../sql/migrate/checks/7_finalize.sql"),
        })
    }

    async fn check(self, tx: &Transaction<'_>, opts: &MigrateOptions) -> Result<()> {
        let Some(sql) = self.check_sql(opts) else {
            return Ok(());
        };
        let bad = count(tx, sql).await.map_err(|e| self.failed(pg_error_text(&e)))?;
        if bad != 0 {
            let statement = sql.lines().filter(|l| !l.trim_start().starts_with("--")).collect::<Vec<_>>().join(" ");
            return Err(self.failed(format!("its check found {bad} thing(s) not done ({})", statement.split_whitespace().collect::<Vec<_>>().join(" "))));
        }
        Ok(())
    }

    pub fn failed(self, cause: String) -> Error {
        Error::PhaseFailed {
            phase: self.label(),
            cause,
            hint: "Fix the cause and run `profochat-saas migrate` again; `profochat-saas plan` shows what it will do.".into(),
        }
    }
}

/// "ON table (cols) WHERE …" from a full CREATE INDEX statement.
pub fn index_definition(statement: &str) -> String {
    match statement.find(" ON ") {
        Some(i) => statement[i + 1..].to_string(),
        None => statement.to_string(),
    }
}

async fn count(tx: &Transaction<'_>, sql: &str) -> std::result::Result<i64, tokio_postgres::Error> {
    Ok(tx.query_one(sql, &[]).await?.get(0))
}
