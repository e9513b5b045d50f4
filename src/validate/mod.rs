//! Checks every rule of the target schema and of the derived values on a live
//! database: structure (tables, columns, keys, foreign keys, indexes), the default
//! account, bots and their tokens, courses, deployments, runs, waiting elements,
//! conversations, bans, participants, members, enrollment tokens and the tool's state.
//!
//! Validation only reads. It takes any client, so that `migrate` can run it inside
//! its own transaction before the commit.

mod checks;

use std::collections::HashSet;

use serde::Serialize;
use tokio_postgres::types::Json;
use tokio_postgres::GenericClient;

use crate::error::{Error, Result};
use crate::state::{MigrationStatus, Orphans, RecordedOptions};
use crate::target::STATE_SCHEMA;

/// How much a failed check matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The schema or the data breaks a rule: validation fails.
    Critical,
    /// Something to act on, but the database works.
    Warning,
    /// A count worth knowing; never a failure.
    Info,
}

/// What validation needs to know about how the migration ran.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidateOptions {
    /// The migration ran with `--orphans keep`: conversation rows may point at runs
    /// that do not exist, and conversation_run_id_fkey is NOT VALID on purpose.
    pub orphans_kept: bool,
    /// Validation runs inside the migration transaction, right after it validated
    /// the foreign keys: a check that a validated key proves reads the catalog
    /// instead of scanning the table again.
    pub keys_just_validated: bool,
    /// `finish` ran: the legacy interface and the compatibility triggers must be gone.
    pub finished: bool,
    /// Validation for the online migration's switch (before it and inside it): its
    /// temporary index on run (chat_id), dropped right after, is not an unexpected index.
    pub switching: bool,
}

impl ValidateOptions {
    /// The options of the newest migration recorded in `profochat_saas.migration`
    /// (its `options` column, e.g. `{"orphans": "keep"}`); the defaults if none is recorded.
    pub async fn from_state<C: GenericClient + Sync>(client: &C) -> Result<Self> {
        let q = |e: tokio_postgres::Error| Error::query("reading the migration options", &e, "Nothing was changed.");
        if !crate::schema::state_table_exists(client).await? {
            return Ok(Self::default());
        }
        let row = client
            .query_opt(include_str!("../../sql/validate/options.sql"), &[])
            .await
            .map_err(q)?;
        let finished = row.as_ref().is_some_and(|r| {
            r.get::<_, Option<String>>(1).as_deref().and_then(MigrationStatus::parse) == Some(MigrationStatus::Finished)
        });
        let options = match &row {
            Some(r) => Some(r.try_get::<_, Json<RecordedOptions>>(0).map_err(q)?.0),
            None => None,
        };
        Ok(Self {
            orphans_kept: options.is_some_and(|o| o.orphans == Orphans::Keep),
            keys_just_validated: false,
            finished,
            switching: false,
        })
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    /// Stable identifier, e.g. `run.bot_id_matches_botname`.
    pub id: String,
    /// The rule, as a sentence.
    pub rule: String,
    pub severity: Severity,
    /// Whether the rule holds. Info checks always pass; their count is for reading.
    pub passed: bool,
    /// How many rows (or objects) break the rule; for info checks, how many it counts.
    pub count: i64,
    /// Up to ten offending rows or objects, as text. Never secrets.
    pub examples: Vec<String>,
    /// What to do about it, when the check did not pass.
    pub hint: Option<String>,
}

impl CheckResult {
    /// PASS, FAIL (critical), WARN (warning) or info (an info check that counted something).
    pub fn label(&self) -> &'static str {
        match (self.severity, self.passed) {
            (Severity::Info, _) if self.count > 0 || !self.examples.is_empty() => "info",
            (_, true) => "PASS",
            (Severity::Critical, false) => "FAIL",
            (Severity::Warning, false) => "WARN",
            (Severity::Info, false) => "info",
        }
    }
}

/// Every check, in a stable order.
#[derive(Debug, Clone, Serialize)]
pub struct ValidationReport {
    pub checks: Vec<CheckResult>,
}

impl ValidationReport {
    /// Critical checks that did not pass.
    pub fn critical_failures(&self) -> usize {
        self.count_failed(Severity::Critical)
    }

    /// Warning checks that did not pass.
    pub fn warnings(&self) -> usize {
        self.count_failed(Severity::Warning)
    }

    /// Checks that passed (info checks always do).
    pub fn passed_checks(&self) -> usize {
        self.checks.iter().filter(|c| c.passed).count()
    }

    /// Whether the database passes: no critical failure (warnings do not fail it).
    pub fn passed(&self) -> bool {
        self.critical_failures() == 0
    }

    /// The check with this id.
    pub fn check(&self, id: &str) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.id == id)
    }

    /// The checks that did not pass, critical first.
    pub fn failed(&self) -> impl Iterator<Item = &CheckResult> {
        let critical = self
            .checks
            .iter()
            .filter(|c| !c.passed && c.severity == Severity::Critical);
        let other = self
            .checks
            .iter()
            .filter(|c| !c.passed && c.severity != Severity::Critical);
        critical.chain(other)
    }

    /// "N checks: X passed, Y warnings, Z critical failures".
    pub fn summary(&self) -> String {
        format!(
            "{} checks: {} passed, {} warning{}, {} critical failure{}",
            self.checks.len(),
            self.passed_checks(),
            self.warnings(),
            if self.warnings() == 1 { "" } else { "s" },
            self.critical_failures(),
            if self.critical_failures() == 1 { "" } else { "s" },
        )
    }

    /// The critical checks that did not pass, as "id (count)", for an error message.
    pub fn critical_list(&self) -> String {
        self.checks
            .iter()
            .filter(|c| !c.passed && c.severity == Severity::Critical)
            .map(|c| format!("{} ({})", c.id, c.count))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// This report with the results of `other` in place of the checks of the same id.
    pub fn with(mut self, other: ValidationReport) -> ValidationReport {
        for r in other.checks {
            match self.checks.iter_mut().find(|c| c.id == r.id) {
                Some(c) => *c = r,
                None => self.checks.push(r),
            }
        }
        self
    }

    /// The error that a failed validation is: the ids of the critical failures.
    /// `None` when validation passed.
    pub fn failure_error(&self) -> Option<Error> {
        let failed: Vec<&str> = self
            .checks
            .iter()
            .filter(|c| !c.passed && c.severity == Severity::Critical)
            .map(|c| c.id.as_str())
            .collect();
        if failed.is_empty() {
            return None;
        }
        Some(Error::ValidationFailed {
            critical: failed.len(),
            summary: failed.join(", "),
            hint: "Nothing was changed by validation. The checks above say what breaks each rule and what to do; \
                   run `profochat-saas validate` again after fixing it."
                .into(),
        })
    }

    fn count_failed(&self, severity: Severity) -> usize {
        self.checks
            .iter()
            .filter(|c| !c.passed && c.severity == severity)
            .count()
    }
}

/// Runs every check on the database the client is connected to (its current schema).
pub async fn validate<C: GenericClient + Sync>(client: &C, opts: &ValidateOptions) -> Result<ValidationReport> {
    let catalog = Catalog::read(client).await?;
    let mut results = Vec::new();
    for check in checks::all(opts) {
        results.push(check.run(client, &catalog).await?);
    }
    let later = crate::schema::catalog::upstream(client).await?.later;
    if !later.is_empty() {
        changed_by_upstream(&mut results, &later);
    }
    Ok(ValidationReport { checks: results })
}

/// Upstream's own later migrations (recorded in schema_migrations after 0003) change
/// the shape this tool made: course ids become integers (0004), keys and checks are
/// replaced (0004, 0007), tables are added. The rules of 0003's shape that no longer
/// hold are what they changed: information, not failure. The data rules still apply.
fn changed_by_upstream(results: &mut Vec<CheckResult>, later: &[String]) {
    let versions = later.join(", ");
    for r in results.iter_mut().filter(|r| r.id.starts_with("structure.") && !r.passed) {
        r.severity = Severity::Info;
        r.passed = true;
        r.hint = Some(format!(
            "Changed by upstream's migration(s) {versions}, applied after 0003: upstream's schema now, not a failure. \
             Upstream's own tooling manages the schema from here."
        ));
    }
    results.push(CheckResult {
        id: "state.upstream_later_migrations".into(),
        rule: "Upstream's migrations recorded in schema_migrations after the 0003 that the migration made (applied since).".into(),
        severity: Severity::Info,
        passed: true,
        count: later.len() as i64,
        examples: later.to_vec(),
        hint: None,
    });
}

/// Runs only the checks whose id `pick` accepts (in their stable order).
pub async fn validate_only<C: GenericClient + Sync>(client: &C, opts: &ValidateOptions, pick: &(dyn Fn(&str) -> bool + Sync)) -> Result<ValidationReport> {
    let catalog = Catalog::read(client).await?;
    let mut results = Vec::new();
    for check in checks::all(opts).into_iter().filter(|c| pick(c.id)) {
        results.push(check.run(client, &catalog).await?);
    }
    Ok(ValidationReport { checks: results })
}

/// The tables and columns that exist: `table`, `table.column`, and for the state
/// schema `profochat_saas.table` and `profochat_saas.table.column`.
struct Catalog {
    names: HashSet<String>,
}

impl Catalog {
    async fn read<C: GenericClient + Sync>(client: &C) -> Result<Self> {
        let rows = client
            .query(include_str!("../../sql/validate/catalog.sql"), &[&STATE_SCHEMA])
            .await
            .map_err(|e| Error::query("reading the catalog for validation", &e, "Nothing was changed."))?;
        let mut names = HashSet::new();
        for r in rows {
            let table: String = r.get(0);
            let column: Option<String> = r.get(1);
            if let Some(c) = column {
                names.insert(format!("{table}.{c}"));
            }
            names.insert(table);
        }
        Ok(Catalog { names })
    }

    /// The names in `needs` that do not exist.
    fn missing<'a>(&self, needs: &[&'a str]) -> Vec<&'a str> {
        needs.iter().copied().filter(|n| !self.names.contains(*n)).collect()
    }
}
