//! `demo`: the whole job on a throwaway database with a realistic legacy dataset.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use profochat_saas::conn::ConnSettings;
use profochat_saas::demo::{Cleanup, Demo, DemoOptions, DemoReport, DemoStep, Stage, DEFAULT_SEED, drop_command};

use crate::cli::commands::{migrate, plan, validate};
use crate::cli::{output, signals, OutputArgs};

pub async fn run(keep: bool, runs: u64, out: &OutputArgs) -> Result<ExitCode> {
    let json = out.json;
    signals::set_note("Nothing outside the demo was changed.");
    let reporter = output::TerminalReporter::new(json);
    let server = configured_server()?;
    if !json {
        println!("profochat-saas demo: the whole migration on a throwaway database, with no configuration.");
        println!();
    }
    let opts = DemoOptions {
        server,
        runs,
        seed: DEFAULT_SEED,
        keep,
    };
    let mut demo = Demo::start(&opts, &reporter).await?;
    let database = demo.database().dbname.clone();
    // Declared after `demo`, so dropped first: an interrupted demo says what happens
    // to its database before the database goes.
    let mut notice = InterruptNotice(Some(interrupted_message(&demo, keep)));
    if !json {
        println!("Server:   {} — {}", demo.server().kind.describe(), demo.server().target);
        let fate = match (keep, demo.can_keep()) {
            (false, _) => "removed at the end; --keep keeps it",
            (true, true) => "kept at the end (--keep)",
            (true, false) => "--keep cannot keep it: the private cluster ends with the demo",
        };
        println!("Database: {database} (created for the demo; {fate})");
    }

    let kept = keep && demo.can_keep();
    let mut step = |s: DemoStep<'_>| {
        if !json {
            print_step(s, runs, kept);
        }
    };
    let result = demo.run(&reporter, &mut step).await;
    notice.0 = None;
    let cleanup = demo.finish().await;

    let report = match result {
        Ok(report) => report,
        Err(e) => {
            print_cleanup(&cleanup, true);
            return Err(e.into());
        }
    };
    if json {
        output::print_json(&json_report(&report, &cleanup)?)?;
    } else {
        print_summary(&report, &cleanup);
        print_cleanup(&cleanup, false);
    }
    match report.validation.failure_error() {
        Some(err) => Err(err.into()),
        None => Ok(ExitCode::SUCCESS),
    }
}

/// `DATABASE_URL` (environment or .env) names the server to create the demo database on.
fn configured_server() -> Result<Option<ConnSettings>> {
    let env = |k: &str| std::env::var(k).ok();
    match env("DATABASE_URL") {
        Some(url) if !url.trim().is_empty() => Ok(Some(ConnSettings::from_url(&url, &env)?)),
        _ => Ok(None),
    }
}

struct InterruptNotice(Option<String>);

impl Drop for InterruptNotice {
    fn drop(&mut self) {
        if let Some(message) = self.0.take() {
            eprintln!("{message}");
        }
    }
}

fn interrupted_message(demo: &Demo, keep: bool) -> String {
    let name = &demo.database().dbname;
    match (keep, demo.can_keep()) {
        (true, true) => format!(
            "The demo stopped early; its database {name} is kept (--keep): {}\n  drop it: {}",
            demo.database().masked_url(),
            drop_command(demo.admin(), name)
        ),
        (_, false) => format!("The demo stopped early; the private cluster is stopped and removed, with the demo database {name}."),
        (false, true) => format!("The demo stopped early; removing the demo database {name}."),
    }
}

fn print_step(step: DemoStep<'_>, runs: u64, backup_kept: bool) {
    match step {
        DemoStep::Begins(stage) => {
            let title = match stage {
                Stage::Seed => format!("Legacy dataset: {runs} runs with every anomaly real databases have"),
                Stage::Plan => "Plan: what `migrate` will do with this database".into(),
                Stage::Backup => "Backup".into(),
                Stage::Migrate => "Migration: online, in steps that each commit on their own, as `migrate` runs by default".into(),
                Stage::Validate => "Validation of the migrated database".into(),
            };
            println!();
            println!("[{}/{}] {title}", stage.number(), Stage::ALL.len());
            println!();
        }
        DemoStep::Seeded(m) => {
            println!();
            println!(
                "Seeded {} rows in the 8 legacy tables (seed {}). Rows without a bot name were written by {:?}: \
                 the demo names it as the default bot (--default-bot on your database).",
                output::thousands(m.total_rows() as i64),
                m.seed,
                m.default_bot
            );
        }
        DemoStep::Planned(p) => {
            println!();
            plan::print_rows(p);
            println!();
            plan::print_bots(p);
            println!();
            plan::print_anomalies(p, true);
            for d in &p.decisions {
                println!("Decision needed: {} — {}", d.problem, d.flag);
            }
        }
        DemoStep::BackedUp(b) => {
            println!();
            match (&b.info, &b.skipped) {
                (Some(info), _) => {
                    println!(
                        "{} ({})",
                        info.path.display(),
                        profochat_saas::backup::human_bytes(info.size_bytes)
                    );
                    if backup_kept {
                        println!("It is kept with the demo database (--keep).");
                    } else {
                        println!("On your database `migrate` writes it to ./backups; the demo removes it at the end.");
                    }
                }
                (None, Some(why)) => println!("No backup: {why}"),
                (None, None) => println!("No backup."),
            }
        }
        // The validation has a stage of its own, next.
        DemoStep::Migrated(r) => migrate::print_outcome(r, false),
        DemoStep::Validated(v) => {
            println!();
            validate::print_human(v, false);
        }
    }
}

fn print_summary(r: &DemoReport, c: &Cleanup) {
    // The backup is named only when it outlives the demo (--keep).
    let restore = match (&c.backup_kept, &c.kept_url) {
        (Some(file), Some(url)) => Some(format!("profochat-saas restore {} --database-url '{url}'", file.display())),
        _ => None,
    };
    // The legacy bot's URL is named only when the database outlives the demo (--keep).
    let mut m = r.migration.clone();
    if c.kept_url.is_none() {
        m.legacy_url.clear();
    }
    migrate::print_next_steps(&migrate::next_steps_of(&m), &m.legacy_url, restore.as_deref());
    println!();
    println!("To do the same on your database:");
    println!("  echo 'DATABASE_URL=postgresql://user:password@host:5432/profochatbot' > .env");
    println!("  profochat-saas plan       # exact counts, every anomaly and its outcome, the decisions it needs");
    println!("  profochat-saas migrate    # backup, migration, validation, next steps");
    println!();
    let t = &r.timings;
    let d = |ms: u64| output::format_duration(Duration::from_millis(ms));
    let mut timings = output::table(&["seed", "plan", "backup", "migrate", "validate", "total"]);
    timings.add_row(vec![d(t.seed_ms), d(t.plan_ms), d(t.backup_ms), d(t.migrate_ms), d(t.validate_ms), d(t.total_ms)]);
    let proven = !r.migration.proof.is_empty() && r.migration.proof.iter().all(|p| p.equal);
    println!(
        "Demo done: {} legacy rows migrated, {} bots, {} deployments, {} archived changes{}.",
        r.dataset.total_rows(),
        r.plan.bots.len(),
        r.migration.deployments,
        r.migration.archived_total(),
        if proven { ", every legacy row accounted for" } else { "" }
    );
    println!("{timings}");
}

fn print_cleanup(c: &Cleanup, failed: bool) {
    // After a failure stdout may be a pipe that nobody reads: say it on stderr.
    let say = |line: String| {
        if failed {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    };
    if c.cluster_removed {
        if c.keep_impossible {
            say(format!(
                "--keep could not keep {}: it lived in the private cluster, which is stopped and removed now. \
                 Set DATABASE_URL (or run a local server) to keep a demo database.",
                c.database
            ));
        } else {
            say(format!("Removed the demo database {} with the private cluster it ran on.", c.database));
        }
        return;
    }
    if let Some(url) = &c.kept_url {
        say(format!("Kept the demo database {}:", c.database));
        say(format!("  connect:   psql '{url}'"));
        say(format!("  try:       profochat-saas status --database-url '{url}'"));
        if let Some(cmd) = &c.drop_command {
            say(format!("  drop it:   {cmd}"));
        }
        if let Some(b) = &c.backup_kept {
            say(format!("  backup:    {}", b.display()));
        }
        if url.contains(":***@") {
            say("  (*** stands for the password of DATABASE_URL)".into());
        }
        return;
    }
    match (&c.error, c.database_removed) {
        (_, true) => say(format!("Removed the demo database {}.", c.database)),
        (Some(e), false) => {
            eprintln!(
                "{} the demo database {} could not be removed: {e}",
                output::warning_label(),
                c.database
            );
            if let Some(cmd) = &c.drop_command {
                eprintln!("  drop it with: {cmd}");
            }
        }
        (None, false) => say(format!("The demo database {} is left in place.", c.database)),
    }
}

fn json_report(r: &DemoReport, c: &Cleanup) -> Result<serde_json::Value> {
    let mut v = serde_json::to_value(r)?;
    v["validation"]["passed"] = r.validation.passed().into();
    v["validation"]["critical_failures"] = r.validation.critical_failures().into();
    v["validation"]["warnings"] = r.validation.warnings().into();
    v["cleanup"] = serde_json::to_value(c)?;
    Ok(v)
}
