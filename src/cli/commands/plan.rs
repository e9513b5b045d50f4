//! `plan`: what `migrate` would do here, read-only.

use std::process::ExitCode;

use anyhow::Result;
use profochat_saas::migrate::analysis::CourseAction;
use profochat_saas::plan::{self, Plan};

use profochat_saas::conn::ConnSettings;

use crate::cli::{connect, output, ConnArgs, CourseConflicts, Orphans, OutputArgs, PolicyArgs};

pub async fn run(conn: &ConnArgs, policy: &PolicyArgs, out: &OutputArgs, verbose: u8) -> Result<ExitCode> {
    let mut db = connect(conn).await?;
    let opts = crate::cli::commands::migrate::options(policy, None);
    let files = crate::cli::commands::courses::read_all(&policy.courses_yml)?;
    let p = plan::plan(&mut db, &opts).await?;
    // Upstream's own later migrations ran here: the schema is theirs; nothing to plan.
    if p.upstream_managed() {
        let st = &p.status;
        if out.json {
            output::print_json(&serde_json::json!({ "status": st, "nothing_to_do": true }))?;
        } else {
            println!(
                "{} is migrated; upstream migrations {} applied since: `migrate` has nothing to do here, upstream's own tooling manages the schema \
                 (`profochat-saas status` lists what they changed).",
                db.settings.display_target(),
                st.upstream_since.join(", ")
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let yaml = crate::cli::commands::courses::coverage(&db, p.status.state.is_migrated(), &files).await?;
    if out.json {
        let mut v = serde_json::to_value(&p)?;
        v["yaml_courses"] = serde_json::to_value(&yaml)?;
        output::print_json(&v)?;
    } else if verbose > 0 {
        print(&p, &migrate_command(conn, policy, &db.settings));
        crate::cli::commands::courses::print_coverage(&yaml);
    } else {
        print_summary(&p, &migrate_command(conn, policy, &db.settings));
        crate::cli::commands::courses::print_coverage(&yaml);
    }
    if let Some(e) = p.refusal() {
        return Err(e.into());
    }
    Ok(ExitCode::SUCCESS)
}

/// The decisions, or that `migrate` is ready, first.
fn print_decisions(p: &Plan, migrate_command: &str) {
    let width = output::text_width();
    if p.decisions.is_empty() {
        // One line, however long: the command is copied from it.
        println!("Ready: `{migrate_command}` will do what follows (it takes a backup first).");
        if migrate_command.contains(":***@") {
            println!("(*** stands for the password of --database-url.)");
        }
    } else {
        println!("Decisions needed before `migrate` will run:");
        for d in &p.decisions {
            for l in output::wrap(&d.problem, width, "  - ", "    ") {
                println!("{l}");
            }
            for l in output::wrap(&format!("decide with: {}", d.flag), width, "    ", "      ") {
                println!("{l}");
            }
        }
    }
}

/// One screen: the decisions (or "Ready") first, then the totals: rows, bots, each
/// anomaly found with its count and outcome, courses; `plan -v` shows every group.
pub fn print_summary(p: &Plan, migrate_command: &str) {
    if !print_header(p) {
        return;
    }
    let width = output::text_width();
    println!();
    print_decisions(p, migrate_command);
    println!();
    let total: i64 = p.analysis.rows.values().sum();
    let mut by_size: Vec<(&String, &i64)> = p.analysis.rows.iter().collect();
    by_size.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let tables = by_size.iter().map(|(t, n)| format!("{t} {}", output::thousands(**n))).collect::<Vec<_>>().join(", ");
    for l in output::wrap(&format!("Legacy rows: {} in {} tables ({tables}).", output::thousands(total), p.analysis.rows.len()), width, "", "  ") {
        println!("{l}");
    }
    let names = p.bots.iter().map(|b| b.name.as_str()).collect::<Vec<_>>().join(", ");
    let default = match (&p.default_bot, p.default_bot_source) {
        (Some(d), Some(src)) => format!("rows without a bot name go to {d:?} ({src})"),
        _ => "no default bot named".to_string(),
    };
    for l in output::wrap(&format!("Bots: {} to create ({names}); {default}.", p.bots.len()), width, "", "  ") {
        println!("{l}");
    }
    let found: Vec<_> = p.anomalies.iter().filter(|a| a.count > 0 && a.kind != "several_bots").collect();
    println!();
    if found.is_empty() {
        println!("Anomalies: none found.");
    } else {
        println!("Anomalies found, with what `migrate` does about them:");
        for a in &found {
            for l in output::wrap(&format!("{}: {} → {}", a.description, output::thousands(a.count), a.outcome), width, "  - ", "    ") {
                println!("{l}");
            }
        }
    }
    let count = |action: CourseAction| p.course_outcomes.iter().filter(|c| c.action == action).count();
    let (merged, renamed, created) = (count(CourseAction::Merge), count(CourseAction::Rename), p.created_courses.len());
    if merged + renamed + created > 0 {
        println!();
        println!("Courses: {merged} copies merged, {renamed} renamed, {created} created from references.");
    }
    println!();
    for l in output::wrap(
        &format!(
            "Online by default, in {} steps that each commit on their own (`migrate --offline`: one transaction). \
             `profochat-saas plan -v` lists every table, bot, group, course and step; `--json` gives all of it.",
            p.online_steps.len()
        ),
        width,
        "",
        "",
    ) {
        println!("{l}");
    }
}

/// The target and its state, and for a database that is not legacy what `migrate`
/// would do with it; false when that is all there is to say.
fn print_header(p: &Plan) -> bool {
    println!("Plan for {}", p.target);
    println!("Server: PostgreSQL {} — state: {}", p.status.server_version, p.status.state.describe());
    if p.nothing_to_do {
        println!();
        println!("The database is migrated already: `migrate` would change nothing.");
        return false;
    }
    if p.status.state == profochat_saas::schema::SchemaState::Outdated {
        println!();
        println!(
            "Migrated (migration #{}), by an older profochat-saas or changed by hand since. Its data is migrated; what differs from the current target:",
            p.status.last_migration.as_ref().map(|m| m.migration_id).unwrap_or_default()
        );
        for d in &p.status.upgrade_needed {
            println!("  - {d}");
        }
        if !p.status.secondary_indexes_missing.is_empty() || !p.status.secondary_indexes_different.is_empty() {
            println!(
                "  - secondary indexes to build under upstream's names: {} missing, {} of an older shape",
                p.status.secondary_indexes_missing.len(),
                p.status.secondary_indexes_different.len()
            );
        }
        println!();
        println!(
            "Ready: `profochat-saas migrate` renames the keys and indexes of older versions (a catalog change), replaces those of \
             another shape (course's primary key becomes (course_id, bot_name) again, with the unique key (course_id, account_id) \
             that the foreign keys reference), records upstream's 0001 and 0003 in schema_migrations and installs \
             profochat_saas.enrol and the legacy interface, in one transaction (it takes a backup first); then it builds the secondary \
             indexes. No row changes."
        );
        return false;
    }
    if p.action == plan::Action::FinishIndexes {
        let pending: Vec<&String> = p.status.secondary_indexes_missing.iter().chain(&p.status.secondary_indexes_invalid).collect();
        println!();
        println!(
            "The data is migrated; `migrate` builds the secondary indexes still missing or invalid ({}) and records the migration as completed.",
            if pending.is_empty() { "none: only the record".to_string() } else { pending.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ") }
        );
        return false;
    }
    if !p.status.new_tables_found.is_empty() || !p.status.added_columns_found.is_empty() {
        println!(
            "Partly migrated: found SaaS tables [{}] and {} of the added columns; `migrate` completes the rest.",
            p.status.new_tables_found.join(", "),
            p.status.added_columns_found.len()
        );
    }
    true
}

/// The `migrate` command with every flag `plan` was given, ready to paste. A password
/// in --database-url is never repeated: it shows as ***.
pub fn migrate_command(conn: &ConnArgs, policy: &PolicyArgs, settings: &ConnSettings) -> String {
    let mut cmd = vec!["profochat-saas".to_string(), "migrate".into()];
    if let Some(url) = conn.database_url.as_ref().filter(|u| !u.trim().is_empty()) {
        // Only a URL given on the command line is repeated; DATABASE_URL and .env stay where they are.
        if std::env::args().any(|a| a == "--database-url" || a.starts_with("--database-url=")) {
            let shown = if settings.password.is_some() { settings.masked_url() } else { url.clone() };
            cmd.extend(["--database-url".into(), shell_word(&shown)]);
        }
    }
    if conn.no_dotenv {
        cmd.push("--no-dotenv".into());
    }
    if let Some(bot) = policy.default_bot.as_ref().filter(|b| !b.trim().is_empty()) {
        cmd.extend(["--default-bot".into(), shell_word(bot)]);
    }
    for f in &policy.courses_yml {
        let arg = match &f.bot {
            Some(b) => format!("{b}={}", f.file.display()),
            None => f.file.display().to_string(),
        };
        cmd.extend(["--courses-yml".into(), shell_word(&arg)]);
    }
    if policy.course_conflicts != CourseConflicts::Rename {
        cmd.extend(["--course-conflicts".into(), "fail".into()]);
    }
    if policy.orphans != Orphans::Detach {
        cmd.extend(["--orphans".into(), "keep".into()]);
    }
    cmd.join(" ")
}

/// Quotes a word for a shell command line the operator may copy.
fn shell_word(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+:=@%,".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Everything (`plan -v`): the decisions first, then every table, bot, anomaly with
/// its groups, course, phase and online step.
pub fn print(p: &Plan, migrate_command: &str) {
    if !print_header(p) {
        return;
    }
    println!();
    print_decisions(p, migrate_command);
    println!();
    print_rows(p);
    println!();
    print_bots(p);
    println!();
    print_anomalies(p, false);
    if !p.course_outcomes.is_empty() || !p.created_courses.is_empty() {
        println!();
        let mut c = output::table(&["course", "bot", "outcome"]);
        for co in &p.course_outcomes {
            let outcome = match co.action {
                CourseAction::Keep => "keeps the id".to_string(),
                CourseAction::Merge => format!("identical: merged into {}", co.new_course_id),
                CourseAction::Rename => format!("differs: renamed to {}", co.new_course_id),
            };
            c.add_row(vec![co.course_id.clone(), co.bot_name.clone(), outcome]);
        }
        for m in &p.created_courses {
            c.add_row(vec![
                m.course_id.clone(),
                m.bot_name.clone(),
                format!("created from {} references ({})", m.references, m.referenced_by.join(", ")),
            ]);
        }
        println!("Courses merged, renamed or created:\n{c}");
    }
    println!();
    println!("Phases:");
    for ph in &p.phases {
        println!("  {} {}", ph.number, ph.name);
        for a in &ph.actions {
            println!("      - {a}");
        }
    }
    println!();
    println!("Online (the default; `migrate --offline` does the phases in one transaction instead), in steps that each commit on their own:");
    for st in &p.online_steps {
        println!("  {:>2} {}: {}", st.number, st.name, st.does);
    }
}

/// The legacy tables and their rows.
pub fn print_rows(p: &Plan) {
    let mut rows = output::table(&["table", "rows"]);
    for (t, n) in &p.analysis.rows {
        rows.add_row(vec![t.clone(), output::thousands(*n)]);
    }
    println!("Legacy rows:\n{rows}");
}

/// The bots to create and the default bot.
pub fn print_bots(p: &Plan) {
    let mut bots = output::table(&["bot", "found in", "token"]);
    for b in &p.bots {
        let found = if b.found_in.is_empty() { "(default bot, named by option)".to_string() } else { b.found_in.join(", ") };
        bots.add_row(vec![format!("{}{}", b.name, if b.exists { " (exists)" } else { "" }), found, b.token.to_string()]);
    }
    println!("Bots to create ({}):\n{bots}", p.bots.len());
    match (&p.default_bot, p.default_bot_source) {
        (Some(d), Some(src)) => println!("Default bot for rows without a bot name: {d:?} ({src})"),
        _ => println!("Default bot: none named"),
    }
}

/// Every anomaly kind, its count, outcome and details; `compact` leaves out the kinds
/// not found and the bots' tables (the bots table shows them).
pub fn print_anomalies(p: &Plan, compact: bool) {
    let mut an = output::table(&["anomaly", "count", "outcome"]);
    for a in p.anomalies.iter().filter(|a| !compact || a.count > 0) {
        let mut desc = a.description.clone();
        // Every detail: each is a table, a bot or a course the operator may need to check.
        let details = if compact && a.kind == "several_bots" { &[][..] } else { &a.details[..] };
        for d in details {
            desc.push_str("\n  ");
            desc.push_str(d);
        }
        an.add_row(vec![desc, output::thousands(a.count), a.outcome.clone()]);
    }
    println!("Anomalies and their outcome:\n{an}");
}
