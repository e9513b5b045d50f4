//! `demo`: the whole job on a throwaway database with a realistic legacy dataset.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use profochat_saas::conn::ConnSettings;
use profochat_saas::demo::{Cleanup, Demo, DemoOptions, DemoReport, DemoStep, DEFAULT_SEED};

use crate::cli::commands::{migrate, plan, validate};
use crate::cli::{output, OutputArgs};

const STEPS: usize = 5;

pub async fn run(keep: bool, runs: u64, out: &OutputArgs) -> Result<ExitCode> {
    let json = out.json;
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
            print_step(s, kept);
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
        print_summary(&report);
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
            "The demo stopped early; its database {name} is kept (--keep): {}",
            demo.database().masked_url()
        ),
        (_, false) => format!("The demo stopped early; the private cluster is stopped and removed, with the demo database {name}."),
        (false, true) => format!("The demo stopped early; removing the demo database {name}."),
    }
}

fn heading(n: usize, title: &str) {
    println!();
    println!("[{n}/{STEPS}] {title}");
    println!();
}

fn print_step(step: DemoStep<'_>, backup_kept: bool) {
    match step {
        DemoStep::Seeded(d) => {
            heading(1, "Legacy dataset");
            println!(
                "Seeded {} rows in the 8 legacy tables ({} runs, seed {}), with every anomaly real databases have.",
                d.total_rows(),
                d.runs,
                d.seed
            );
            println!("Rows without a bot name were written by {:?}: the demo names it as the default bot.", d.default_bot);
        }
        DemoStep::Planned(p) => {
            heading(2, "Plan: what `migrate` will do with this database");
            plan::print_rows(p);
            println!();
            plan::print_bots(p);
            println!();
            plan::print_anomalies(p, true);
            if !p.decisions.is_empty() {
                println!();
                for d in &p.decisions {
                    println!("Decision needed: {} — {}", d.problem, d.flag);
                }
            }
        }
        DemoStep::BackedUp(b) => {
            heading(3, "Backup");
            match (&b.info, &b.skipped) {
                (Some(info), _) => {
                    println!(
                        "pg_dump wrote {} ({}), with the legacy fingerprints beside it.",
                        info.path.display(),
                        profochat_saas::backup::human_bytes(info.size_bytes)
                    );
                    if backup_kept {
                        println!("It is kept with the demo database (--keep).");
                    } else {
                        println!("On your database the same file goes to ./backups; here it is removed at the end.");
                    }
                }
                (None, Some(why)) => println!("No backup: {why}"),
                (None, None) => println!("No backup."),
            }
            println!();
            println!("Migrating (progress on standard error)…");
        }
        DemoStep::Migrated(r) => {
            heading(4, "Migration");
            migrate::print_outcome(r);
        }
        DemoStep::Validated(v) => {
            heading(5, "Validation of the migrated database (after the commit and the index builds)");
            validate::print_human(v, false);
        }
    }
}

fn print_summary(r: &DemoReport) {
    migrate::print_next_steps(&r.migration);
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
    println!(
        "Demo done: {} legacy rows migrated with {} bots, {} deployments and {} archived changes.",
        r.dataset.total_rows(),
        r.plan.bots.len(),
        r.migration.deployments,
        r.migration.archived_total()
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
