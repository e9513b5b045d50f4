//! `seed-legacy`: fills an empty database with the legacy schema and a realistic
//! dataset holding every anomaly, then says what it wrote.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use profochat_saas::seed::{self, SeedManifest, SeedOptions, SeedTarget};
use profochat_saas::sql::LEGACY_TABLES;

use crate::cli::{connect, output, ConfirmArgs, ConnArgs, OutputArgs};

pub async fn run(conn: &ConnArgs, runs: u64, seed: u64, profile: seed::Profile, confirm: &ConfirmArgs, out: &OutputArgs) -> Result<ExitCode> {
    let mut db = connect(conn).await?;
    let target = seed::check_target(&db).await?;
    let what = match target {
        SeedTarget::Empty => "create the legacy schema in",
        SeedTarget::EmptyLegacy => "fill the empty legacy tables of",
    };
    output::confirm(
        &format!("This will {what} {} and load a generated dataset of {runs} runs (seed {seed}). Proceed?", db.settings.display_target()),
        confirm.yes,
    ).await?;
    let reporter = output::TerminalReporter::new(out.json);
    let started = Instant::now();
    let manifest = seed::generate_profile(&mut db, &SeedOptions { runs, seed }, profile, &reporter).await?;
    let elapsed = started.elapsed();
    if out.json {
        output::print_json(&manifest)?;
        return Ok(ExitCode::SUCCESS);
    }

    let total = manifest.total_rows();
    let per_second = total as f64 / elapsed.as_secs_f64().max(0.001);
    println!(
        "Seeded {} with seed {seed} and {runs} runs: {} rows in {} ({} rows/s).",
        db.settings.display_target(),
        thousands(total),
        output::format_duration(elapsed),
        thousands(per_second.round() as u64)
    );
    println!();
    let mut rows = output::table(&["table", "rows"]);
    for table in LEGACY_TABLES {
        rows.add_row(vec![table.to_string(), thousands(manifest.rows.get(table).copied().unwrap_or(0))]);
    }
    println!("{rows}");
    println!();
    println!("Anomalies written (rows without a bot name count as {}):", manifest.default_bot);
    println!("{}", anomalies(&manifest));
    println!();
    println!("Next: run `profochat-saas plan` on this database to see what the migration would do with them.");
    Ok(ExitCode::SUCCESS)
}

fn anomalies(m: &SeedManifest) -> comfy_table::Table {
    let mut t = output::table(&["anomaly", "count"]);
    let mut add = |what: &str, value: String| {
        t.add_row(vec![what.to_string(), value]);
    };
    add("bots", format!("{}: {}", m.bot_names.len(), m.bot_names.join(", ")));
    add("rows without a bot name", per_table(&m.null_bot_rows));
    add(
        "bots in one table only",
        list_or_none(m.bots_only_in.iter().map(|(table, bots)| format!("{table}: {}", bots.join(", ")))),
    );
    add(
        "course ids with no course row",
        format!("{} ({}); rows: {}", m.missing_course_ids.len(), m.missing_course_ids.join(", "), per_table(&m.missing_course_refs)),
    );
    add("rows without a course_id", per_table(&m.null_course_rows));
    add("course ids under several bots, identical", list_or_none(m.identical_copies.iter().cloned()));
    add("course ids under several bots, differing", list_or_none(m.differing_copies.iter().cloned()));
    add("conversation rows pointing at no run", thousands(m.orphan_run_refs));
    add("conversation rows without a run_id", thousands(m.null_run_refs));
    add(
        "chats with several unfinished runs on one bot",
        format!("{} ({} runs beyond the newest)", thousands(m.duplicate_active_groups), thousands(m.runs_to_deactivate)),
    );
    add("duplicate participants", thousands(m.duplicate_participants));
    add("duplicate bans", thousands(m.duplicate_bans));
    add("runs with is_ended NULL", thousands(m.null_is_ended_runs));
    add("waiting elements with is_waiting NULL", thousands(m.null_is_waiting));
    add("conversation rows with JSON over 64 KiB", thousands(m.large_json_rows));
    t
}

fn per_table(counts: &BTreeMap<String, u64>) -> String {
    list_or_none(counts.iter().map(|(table, n)| format!("{table} {}", thousands(*n))))
}

fn list_or_none(items: impl Iterator<Item = String>) -> String {
    let v: Vec<String> = items.collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join("; ")
    }
}

/// 1234567 -> "1,234,567".
fn thousands(n: u64) -> String {
    crate::cli::output::thousands(n)
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands() {
        assert_eq!(super::thousands(0), "0");
        assert_eq!(super::thousands(999), "999");
        assert_eq!(super::thousands(1000), "1,000");
        assert_eq!(super::thousands(1_234_567), "1,234,567");
        assert_eq!(crate::cli::output::thousands(-1234i64), "-1,234");
    }
}
