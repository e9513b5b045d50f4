//! The refusals and decisions of `plan` and `migrate`, in one place. Both call these
//! functions: `plan` reports what they return, `migrate` refuses with it, so the two
//! can never disagree about whether (and why) a database can be migrated.
//!
//! Everything here is pure: it looks at the schema state, the analysis and the
//! options, never at the database itself.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::{Error, Result};
use super::analysis::Analysis;
use super::options::{CourseConflicts, MigrateOptions};
use crate::schema::{SchemaState, SchemaStatus};

/// What `migrate` does with a database in a given state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Run the whole migration (a legacy or partly migrated database).
    Migrate,
    /// The data and keys are migrated; build the secondary indexes still missing or
    /// invalid, and record the migration as completed.
    FinishIndexes,
    /// Migrated by an older profochat-saas (older key and index names, no ledger, no
    /// enrolment function, no legacy interface): bring it to the current target.
    Upgrade,
    /// An online migration stopped before its switch: resume it where it stopped.
    Resume,
    /// Migrated already: change nothing.
    Nothing,
}

/// The action for a database in `state`, or the refusal when it cannot be migrated.
pub fn action(status: &SchemaStatus, target: &str) -> Result<Action> {
    match status.state {
        SchemaState::Legacy | SchemaState::PartlyMigrated => Ok(Action::Migrate),
        SchemaState::IndexesPending => Ok(Action::FinishIndexes),
        SchemaState::MigrationInProgress
            if status.last_migration.as_ref().and_then(|m| m.status()) == Some(crate::state::MigrationStatus::Aborting) =>
        {
            Err(Error::state(
                format!("{target} has an abort of its online migration under way (stopped, or running elsewhere)"),
                "An abort is finished, not resumed forward: run `profochat-saas migrate --abort` again (`profochat-saas status` shows where it stands).",
            ))
        }
        SchemaState::MigrationInProgress => Ok(Action::Resume),
        SchemaState::Outdated => Ok(Action::Upgrade),
        SchemaState::Migrated => Ok(Action::Nothing),
        SchemaState::Empty => Err(Error::state(
            format!("{target} is empty (no tables): it is not a ProfoChatBot database"),
            "Point --database-url / DATABASE_URL at the ProfoChatBot database (or try `profochat-saas demo`).",
        )),
        SchemaState::NotProfochat => Err(Error::state(
            format!(
                "{target} is not a ProfoChatBot database: none of the legacy tables (conversation, run, course, …) exist; it holds {}",
                status.other_tables.join(", ")
            ),
            "Point --database-url / DATABASE_URL at the ProfoChatBot database.",
        )),
        SchemaState::IncompleteLegacy => Err(Error::state(
            format!(
                "{target} is an incomplete ProfoChatBot database: the legacy tables {} are missing",
                status.legacy_tables_missing.join(", ")
            ),
            "Restore the missing tables (or the database from a backup) and run `profochat-saas plan` again.",
        )),
    }
}

/// Where the default bot's name comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DefaultBotSource {
    /// `--default-bot NAME`, or the legacy `BOT_NAME`.
    Option,
    /// The legacy tables name exactly one bot.
    OnlyBot,
}

impl DefaultBotSource {
    pub fn describe(self) -> &'static str {
        match self {
            DefaultBotSource::Option => "--default-bot / BOT_NAME",
            DefaultBotSource::OnlyBot => "the only bot",
        }
    }

    /// The same, said for a database whose legacy tables name no bot at all.
    pub fn describe_for(self, bots: &BTreeMap<String, Vec<String>>) -> &'static str {
        match self {
            DefaultBotSource::Option if bots.is_empty() => {
                "--default-bot / BOT_NAME; the legacy tables name no bot, so every row belongs to it and the migration creates it"
            }
            other => other.describe(),
        }
    }
}

/// The bot that rows without a bot name belong to, and why; `None` when none can be named.
pub fn default_bot(opts: &MigrateOptions, bots: &BTreeMap<String, Vec<String>>) -> Option<(String, DefaultBotSource)> {
    if let Some(b) = &opts.default_bot {
        return Some((b.clone(), DefaultBotSource::Option));
    }
    match bots.keys().collect::<Vec<_>>().as_slice() {
        [only] => Some(((*only).clone(), DefaultBotSource::OnlyBot)),
        _ => None,
    }
}

/// What kind of decision the operator still has to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    /// `--default-bot` (or `BOT_NAME`) names none of the legacy bot names.
    UnknownDefaultBot,
    /// Rows have no bot name and no default bot can be named.
    DefaultBot,
    /// Course ids differ between bots and `--course-conflicts fail` was given.
    CourseConflicts,
}

/// A decision the operator must make before `migrate` will run: `plan` lists it,
/// `migrate` refuses with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub kind: DecisionKind,
    /// What is undecided, with the counts.
    pub problem: String,
    /// The flag (and its values) that decides it.
    pub flag: String,
}

impl Decision {
    /// The refusal `migrate` gives for this decision (exit status 5).
    pub fn refusal(&self) -> Error {
        Error::refused(self.problem.clone(), format!("Decide with {}.", self.flag))
    }
}

/// The decisions still missing for this analysis and these options, in a fixed order.
/// For a database whose data is migrated already (`data_migrated`), only the default
/// bot's name is checked: the other decisions were made when it was migrated.
pub fn pending(opts: &MigrateOptions, default_bot: Option<&str>, a: &Analysis, data_migrated: bool) -> Vec<Decision> {
    let mut out = vec![];
    // A default bot named by --default-bot (or BOT_NAME) must be one of the bot names the
    // legacy tables hold: a typo would otherwise create a bot that never ran and give it
    // every row without a bot name. A database that names no bot takes any name.
    if let Some(d) = opts.default_bot.as_deref() {
        if !a.bots.is_empty() && !a.bots.contains_key(d) {
            let names = a.bots.keys().map(|b| format!("{b:?}")).collect::<Vec<_>>().join(", ");
            out.push(Decision {
                kind: DecisionKind::UnknownDefaultBot,
                problem: format!("--default-bot / BOT_NAME names {d:?}, which is none of the {} bot names in the legacy tables ({names})", a.bots.len()),
                flag: format!("--default-bot set to one of {names}"),
            });
        }
    }
    if data_migrated {
        return out;
    }
    let null_rows = a.total_null_bot_rows();
    if null_rows > 0 && default_bot.is_none() {
        out.push(Decision {
            kind: DecisionKind::DefaultBot,
            problem: format!(
                "{null_rows} rows have no bot name ({}) and there are {} bots, so it is not clear which bot they belong to",
                fmt_counts(&a.null_bot_rows),
                a.bots.len()
            ),
            flag: format!(
                "--default-bot NAME (or BOT_NAME in the environment / .env); bots: {}",
                a.bots.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        });
    }
    let differing = a.differing_copies();
    if !differing.is_empty() && opts.course_conflicts == CourseConflicts::Fail {
        out.push(Decision {
            kind: DecisionKind::CourseConflicts,
            problem: format!(
                "{} course ids exist under several bots with different content ({}), and --course-conflicts fail refuses to rename them",
                differing.len(),
                differing.join(", ")
            ),
            flag: "--course-conflicts rename (the default), which gives the other copies new ids; `profochat-saas plan` lists them".into(),
        });
    }
    out
}

/// Refuses with the first pending decision (all of them when there are several).
pub fn require_decided(decisions: &[Decision]) -> Result<()> {
    match decisions {
        [] => Ok(()),
        [one] => Err(one.refusal()),
        many => Err(Error::refused(
            many.iter().map(|d| d.problem.as_str()).collect::<Vec<_>>().join("; and "),
            format!("Decide with {}.", many.iter().map(|d| d.flag.as_str()).collect::<Vec<_>>().join("; and with ")),
        )),
    }
}

/// "conversation 3, run 2".
pub(crate) fn fmt_counts(m: &BTreeMap<String, i64>) -> String {
    m.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::analysis::{CourseAction, CourseCopy};
    use crate::error::ExitStatus;

    fn bots(names: &[&str]) -> BTreeMap<String, Vec<String>> {
        names.iter().map(|n| (n.to_string(), vec!["run".to_string()])).collect()
    }

    fn analysis(bot_names: &[&str], null_rows: i64, differing: bool) -> Analysis {
        let mut a = Analysis { bots: bots(bot_names), ..Analysis::default() };
        if null_rows > 0 {
            a.null_bot_rows.insert("run".into(), null_rows);
        }
        for (bot, yaml_differs) in [("a", false), ("b", differing)] {
            a.course_copies.push(CourseCopy {
                course_id: "c1".into(),
                bot_name: bot.into(),
                identical: !differing,
                action: if bot == "a" {
                    CourseAction::Keep
                } else if yaml_differs {
                    CourseAction::Rename
                } else {
                    CourseAction::Merge
                },
                new_course_id: if yaml_differs { "c1__b".into() } else { "c1".into() },
            });
        }
        a
    }

    fn status(state: SchemaState) -> SchemaStatus {
        SchemaStatus {
            state,
            database: "db".into(),
            server_version: "15".into(),
            server_version_num: 150000,
            schema: "public".into(),
            legacy_tables_found: vec![],
            legacy_tables_missing: vec!["run".into()],
            new_tables_found: vec![],
            new_tables_missing: vec![],
            added_columns_found: vec![],
            added_columns_missing: vec![],
            secondary_indexes_missing: vec![],
            secondary_indexes_invalid: vec![],
            secondary_indexes_different: vec![],
            upgrade_needed: vec![],
            upstream_since: vec![],
            changed_by_upstream: vec![],
            other_tables: vec!["invoices".into()],
            other_tables_count: 1,
            last_migration: None,
        }
    }

    #[test]
    fn the_option_wins_else_the_only_bot_else_none() {
        let named = MigrateOptions { default_bot: Some("x".into()), ..MigrateOptions::default() };
        assert_eq!(default_bot(&named, &bots(&["a", "b"])), Some(("x".into(), DefaultBotSource::Option)));
        let none = MigrateOptions::default();
        assert_eq!(default_bot(&none, &bots(&["a"])), Some(("a".into(), DefaultBotSource::OnlyBot)));
        assert_eq!(default_bot(&none, &bots(&["a", "b"])), None);
        assert_eq!(default_bot(&none, &bots(&[])), None);
    }

    #[test]
    fn rows_without_a_bot_need_a_default_bot_only_when_there_are_such_rows() {
        let opts = MigrateOptions::default();
        let a = analysis(&["a", "b"], 3, false);
        let d = pending(&opts, None, &a, false);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].kind, DecisionKind::DefaultBot);
        assert!(d[0].problem.starts_with("3 rows have no bot name (run 3)"), "{}", d[0].problem);
        assert!(d[0].flag.contains("--default-bot") && d[0].flag.contains("a, b"), "{}", d[0].flag);
        assert!(pending(&opts, Some("a"), &a, false).is_empty());
        assert!(pending(&opts, None, &analysis(&["a", "b"], 0, false), false).is_empty());
    }

    #[test]
    fn differing_copies_refuse_only_with_course_conflicts_fail() {
        let a = analysis(&["a", "b"], 0, true);
        assert!(pending(&MigrateOptions::default(), None, &a, false).is_empty(), "rename is the default");
        let fail = MigrateOptions { course_conflicts: CourseConflicts::Fail, ..MigrateOptions::default() };
        let d = pending(&fail, None, &a, false);
        assert_eq!(d.iter().map(|d| d.kind).collect::<Vec<_>>(), [DecisionKind::CourseConflicts]);
        assert!(d[0].problem.contains("1 course ids") && d[0].problem.contains("c1"), "{}", d[0].problem);
        assert!(pending(&fail, None, &analysis(&["a", "b"], 0, false), false).is_empty(), "identical copies merge");
    }

    #[test]
    fn the_refusal_names_every_pending_decision_and_exits_5() {
        let fail = MigrateOptions { course_conflicts: CourseConflicts::Fail, ..MigrateOptions::default() };
        let d = pending(&fail, None, &analysis(&["a", "b"], 2, true), false);
        assert_eq!(d.len(), 2);
        let e = require_decided(&d).unwrap_err();
        assert_eq!(e.exit_status(), ExitStatus::Refused);
        let text = e.to_string();
        assert!(text.contains("--default-bot") && text.contains("--course-conflicts rename") && text.contains("Nothing was changed"), "{text}");
        let e = require_decided(&d[..1]).unwrap_err().to_string();
        assert!(e.contains("Decide with --default-bot NAME") && !e.contains("course-conflicts"), "{e}");
        assert!(require_decided(&[]).is_ok());
    }

    #[test]
    fn the_state_decides_the_action_or_the_refusal() {
        assert_eq!(action(&status(SchemaState::Legacy), "db").unwrap(), Action::Migrate);
        assert_eq!(action(&status(SchemaState::PartlyMigrated), "db").unwrap(), Action::Migrate);
        assert_eq!(action(&status(SchemaState::IndexesPending), "db").unwrap(), Action::FinishIndexes);
        assert_eq!(action(&status(SchemaState::Migrated), "db").unwrap(), Action::Nothing);
        for (state, needle) in [
            (SchemaState::Empty, "is empty"),
            (SchemaState::NotProfochat, "it holds invoices"),
            (SchemaState::IncompleteLegacy, "the legacy tables run are missing"),
        ] {
            let e = action(&status(state), "db").unwrap_err();
            assert_eq!(e.exit_status(), ExitStatus::State);
            assert!(e.to_string().contains(needle), "{e}");
        }
    }
}
