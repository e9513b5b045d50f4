//! `validate`: every rule of the SaaS schema checked on the live database.

use std::process::ExitCode;

use anyhow::Result;
use profochat_saas::schema::{self, SchemaState};
use profochat_saas::validate::{self, ValidateOptions, ValidationReport};

use crate::cli::{connect, output, ConnArgs, OutputArgs};

pub async fn run(conn: &ConnArgs, out: &OutputArgs) -> Result<ExitCode> {
    let db = connect(conn).await?;
    let status = schema::inspect(&db).await?;
    let not_migrated = |what: &str, hint: &str| {
        profochat_saas::Error::state(format!("{} is {what}", db.settings.display_target()), hint)
    };
    match status.state {
        SchemaState::Legacy => {
            return Err(not_migrated(
                "not migrated yet (legacy, single-tenant schema), so there is nothing to validate",
                "Run `profochat-saas plan` to see what the migration would do, then `profochat-saas migrate`.",
            )
            .into())
        }
        SchemaState::Empty | SchemaState::NotProfochat | SchemaState::IncompleteLegacy => {
            return Err(not_migrated(
                status.state.describe(),
                "Check --database-url / DATABASE_URL: it should point at the migrated ProfoChatBot database.",
            )
            .into())
        }
        // A partly migrated database is validated too: the report shows what is missing.
        SchemaState::PartlyMigrated | SchemaState::MigrationInProgress | SchemaState::IndexesPending | SchemaState::Outdated | SchemaState::Migrated => {}
    }

    let opts = ValidateOptions::from_state(&db.client).await?;
    let report = validate::validate(&db.client, &opts).await?;
    if status.state == SchemaState::MigrationInProgress {
        return in_progress(&db, &report, out).await;
    }

    if out.json {
        let mut v = serde_json::to_value(&report)?;
        v["target"] = db.settings.masked_url().into();
        v["state"] = serde_json::to_value(status.state)?;
        v["orphans_kept"] = opts.orphans_kept.into();
        v["passed"] = report.passed().into();
        v["critical_failures"] = report.critical_failures().into();
        v["warnings"] = report.warnings().into();
        output::print_json(&v)?;
    } else {
        println!("Database: {}", db.settings.display_target());
        println!("State:    {}", status.state.describe());
        if opts.orphans_kept {
            println!("Options:  the migration ran with --orphans keep (orphaned conversation rows are expected)");
        }
        println!();
        print_human(&report, true);
    }

    match report.failure_error() {
        Some(err) => Err(err.into()),
        None => Ok(ExitCode::SUCCESS),
    }
}

/// The checks (all, or only those that did not simply pass) with their examples,
/// the summary and the hints.
pub fn print_human(report: &ValidationReport, all: bool) {
    let mut table = output::table(&["Check", "Result", "Count", "Details"]);
    let shown: Vec<_> = report.checks.iter().filter(|c| all || c.label() != "PASS").collect();
    for c in &shown {
        let mut details = c.rule.clone();
        for e in &c.examples {
            details.push_str("\n  ");
            details.push_str(e);
        }
        // The check reads a few examples; say how many there are in all.
        if (c.examples.len() as i64) < c.count && !c.examples.is_empty() {
            details.push_str(&format!("\n  (the first {} of {})", c.examples.len(), c.count));
        }
        table.add_row(vec![c.id.clone(), c.label().to_string(), c.count.to_string(), details]);
    }
    if !shown.is_empty() {
        println!("{table}");
    }
    if !shown.is_empty() && shown.len() < report.checks.len() {
        println!("The other {} checks passed.", report.checks.len() - shown.len());
    }
    println!();
    println!("{}", report.summary());
    let hints: Vec<_> = report
        .failed()
        .filter_map(|c| c.hint.as_ref().map(|h| (c, h)))
        .collect();
    if !hints.is_empty() {
        println!();
        for (c, hint) in hints {
            println!("{} {}: {hint}", c.label(), c.id);
        }
    }
}

/// Validation while an online migration has not switched yet: the rules that hold
/// already are shown as passed, the others as pending (they hold once the migration
/// switches), and the command ends with exit status 13, as `migrate` does when the
/// migration stops before its switch, saying where it stands and what to do.
async fn in_progress(db: &profochat_saas::conn::Db, report: &ValidationReport, out: &OutputArgs) -> Result<ExitCode> {
    let progress = profochat_saas::migrate::online::progress(&db.client).await?;
    let at = progress.as_ref().map(|p| p.describe()).unwrap_or_else(|| "where it stopped".into());
    // A migration whose progress names no step has not done its first.
    let step = progress.as_ref().and_then(|p| p.current.or(p.done)).unwrap_or(profochat_saas::state::OnlineStep::Expand);
    let pending: Vec<&str> = report.checks.iter().filter(|c| !c.passed).map(|c| c.id.as_str()).collect();
    let passed = report.checks.iter().filter(|c| c.passed).count();
    if out.json {
        let mut v = serde_json::to_value(report)?;
        v["target"] = db.settings.masked_url().into();
        v["state"] = serde_json::to_value(SchemaState::MigrationInProgress)?;
        v["in_progress_at"] = at.clone().into();
        v["passed"] = false.into();
        v["checks_passed"] = passed.into();
        v["pending"] = serde_json::to_value(&pending)?;
        output::print_json(&v)?;
    } else {
        println!("Database: {}", db.settings.display_target());
        println!("State:    an online migration is in progress ({at}); it has not switched yet.");
        println!();
        let mut table = output::table(&["Check", "Result", "Count", "Details"]);
        for c in report.checks.iter().filter(|c| !c.passed) {
            table.add_row(vec![c.id.clone(), "pending".into(), output::thousands(c.count), c.rule.clone()]);
        }
        if !pending.is_empty() {
            println!("{table}");
        }
        println!(
            "{} checks: {passed} hold already; {} are pending: they hold once the migration switches.",
            report.checks.len(),
            pending.len()
        );
    }
    Err(profochat_saas::Error::Stopped {
        step,
        cause: format!("it has not switched yet ({at}), so only part of the rules can hold; validation is complete after the switch"),
        hint: "If no `profochat-saas migrate` is running, run it again to resume (the legacy bot keeps working meanwhile), \
               or `profochat-saas migrate --abort` to return to the legacy database; then `profochat-saas validate`."
            .into(),
    }
    .into())
}
