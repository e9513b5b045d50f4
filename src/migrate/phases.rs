//! The phases of `migrate --offline`: the steps ([`super::steps`]) over the whole key
//! range, in the order its one transaction runs them, each under the number and name of
//! the old scripts (the progress lines, `plan` and the test hook `--fail-in-phase` use
//! them). What a phase does, applies and checks is its step's [`WholeRange`] form.

use super::analysis::Analysis;
use super::options::MigrateOptions;
use super::steps::{backfill, expand, finalize, indexes, keys, prepare, Whole, WholeRange};
use crate::error::{Error, Result};

pub use super::steps::finalize::{install_legacy_interface, legacy_interface_sql, COMPAT_TRIGGERS};
pub use super::steps::{summarize, Counts};

/// One phase of the migration: a step over the whole key range.
pub struct Phase {
    number: u8,
    name: &'static str,
    /// The short name `--fail-in-phase` also accepts.
    id: &'static str,
    step: &'static dyn WholeRange,
}

/// The phases, in order. Phase 6 of the old scripts no longer exists; the numbers are kept.
pub const PHASES: [Phase; 7] = [
    Phase { number: 0, name: "account", id: "account", step: &expand::Account },
    Phase { number: 1, name: "new tables", id: "tables", step: &expand::Tables },
    Phase { number: 2, name: "data", id: "data", step: &prepare::Prepare },
    Phase { number: 3, name: "links", id: "links", step: &backfill::Links },
    Phase { number: 4, name: "foreign keys", id: "keys", step: &keys::Keys },
    Phase { number: 5, name: "indexes", id: "indexes", step: &indexes::Indexes },
    Phase { number: 7, name: "finalize", id: "finalize", step: &finalize::Finalize },
];

/// The last phase: the no-loss proof and the validation before the commit fail in its name.
pub const FINALIZE: &Phase = &PHASES[6];

impl Phase {
    pub fn number(&self) -> u8 {
        self.number
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// "phase 2 (data)".
    pub fn label(&self) -> String {
        format!("phase {} ({})", self.number, self.name)
    }

    /// Whether `spec` (a number or a name, from the test hook) names this phase.
    pub fn matches(&self, spec: &str) -> bool {
        spec == self.number.to_string() || spec.eq_ignore_ascii_case(self.name) || spec == self.id
    }

    /// What the phase will do on this database (for `plan`).
    pub fn describe(&self, a: &Analysis, opts: &MigrateOptions) -> Vec<String> {
        self.step.describe_whole(a, opts)
    }

    /// Applies the phase inside the migration transaction, then its check.
    pub(crate) async fn apply(&self, w: &Whole<'_>) -> Result<Counts> {
        let counts = self.step.apply_whole(w).await.map_err(|e| self.failed(e.to_string()))?;
        if let Some(sql) = self.step.check_whole(w.opts) {
            let bad = w.count(sql).await.map_err(|e| self.failed(crate::error::pg_error_text(&e)))?;
            if bad != 0 {
                let statement = sql.lines().filter(|l| !l.trim_start().starts_with("--")).collect::<Vec<_>>().join(" ");
                return Err(self.failed(format!("its check found {bad} thing(s) not done ({})", statement.split_whitespace().collect::<Vec<_>>().join(" "))));
            }
        }
        if w.opts.fail_in_phase.as_deref().is_some_and(|spec| self.matches(spec)) {
            return Err(self.failed("failure injected by the test hook --fail-in-phase".into()));
        }
        Ok(counts)
    }

    pub fn failed(&self, cause: String) -> Error {
        Error::PhaseFailed {
            phase: self.label(),
            cause,
            hint: "Fix the cause and run `profochat-saas migrate` again; `profochat-saas plan` shows what it will do.".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test hook names a phase by its number, its name or its short name.
    #[test]
    fn a_phase_is_named_by_its_number_its_name_or_its_short_name() {
        for (spec, number) in [("3", 3), ("links", 3), ("foreign keys", 4), ("keys", 4), ("tables", 1), ("New Tables", 1), ("7", 7)] {
            let found: Vec<u8> = PHASES.iter().filter(|p| p.matches(spec)).map(|p| p.number()).collect();
            assert_eq!(found, vec![number], "{spec}");
        }
    }
}
