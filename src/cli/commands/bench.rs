//! `bench`: seed, migrate, measure; median of several rounds and peak memory.

use std::process::ExitCode;

use anyhow::Result;
use profochat_saas::{bench, server};

use crate::cli::{output, settings_from_args, ConnArgs, OutputArgs};

/// The server to benchmark on: the configured one, else the local one, else a private
/// throwaway cluster (kept alive by the returned guard).
async fn server_of(conn: &ConnArgs) -> Result<(profochat_saas::conn::ConnSettings, Option<server::TempCluster>)> {
    let given = if conn.database_url.is_some() || std::env::var_os("DATABASE_URL").is_some() {
        Some(settings_from_args(conn)?)
    } else {
        None
    };
    Ok(server::find_server(given).await?)
}

pub async fn run(
    conn: &ConnArgs,
    runs: u64,
    seed: u64,
    repeat: u32,
    setup: bench::Setup,
    writer: Option<bench::WriterOptions>,
    out: &OutputArgs,
) -> Result<ExitCode> {
    let (server_settings, _cluster) = server_of(conn).await?;
    if !out.json {
        match &setup.template {
            Some(t) => eprintln!(
                "Benchmark: copies of database {t:?}, {repeat} round(s), on the server of {}",
                server_settings.display_target()
            ),
            None => eprintln!(
                "Benchmark: {runs} runs (about {} conversation rows), {repeat} round(s), on the server of {}",
                runs * 10,
                server_settings.display_target()
            ),
        }
    }
    let reporter = output::TerminalReporter::new(out.json);
    if let (Some(w), false) = (writer, out.json) {
        eprintln!(
            "Writer: the legacy bot's writes at {} statements per second on {} connections, open-loop, during each migration",
            w.rate, w.connections
        );
    }
    let r = bench::run(&server_settings, runs, seed, repeat, setup, writer, &reporter).await?;
    if out.json {
        output::print_json(&r)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut header = vec!["step".to_string()];
    header.extend((1..=r.rounds.len()).map(|i| format!("round {i}")));
    let mut t = output::table(&header.iter().map(String::as_str).collect::<Vec<_>>());
    let steps: Vec<String> = r.rounds[0].phases.iter().map(|(s, _)| s.clone()).collect();
    for (i, step) in steps.iter().enumerate() {
        let mut row = vec![step.clone()];
        for round in &r.rounds {
            let rate = round.backfill_rows_per_second.iter().find(|(s, _)| s == step).map(|(_, r)| format!(" ({r:.0} rows/s)"));
            row.push(round.phases.get(i).map(|(_, ms)| format!("{}{}", ms_text(*ms), rate.unwrap_or_default())).unwrap_or_default());
        }
        t.add_row(row);
    }
    let mut total = vec!["migrate total".to_string()];
    total.extend(r.rounds.iter().map(|x| ms_text(x.migrate_ms)));
    t.add_row(total);
    let mut rate = vec!["legacy rows per second".to_string()];
    rate.extend(r.rounds.iter().map(|x| format!("{:.0}", x.rows_per_second)));
    t.add_row(rate);
    if r.writer.is_some() {
        let line = |name: &str, f: &dyn Fn(&bench::writer::WriterReport) -> String| {
            let mut row = vec![name.to_string()];
            row.extend(r.rounds.iter().map(|x| x.writer.as_ref().map(f).unwrap_or_default()));
            row
        };
        t.add_row(line("writes: max latency", &|w| ms_f(w.all.max_ms)));
        t.add_row(line("writes: p99 latency", &|w| ms_f(w.all.p99_ms)));
        t.add_row(line("writes: p50 latency", &|w| ms_f(w.all.p50_ms)));
        t.add_row(line("writes: run / failed", &|w| format!("{} / {}", w.all.run, w.all.failed)));
        t.add_row(line("writes: waited over 1 s", &|w| w.all.over_1s.to_string()));
    }
    let mut seeding = vec![if r.template.is_some() { "(counting the copy's rows, not counted)" } else { "(seeding, not counted)" }.to_string()];
    seeding.extend(r.rounds.iter().map(|x| ms_text(x.seed_ms)));
    t.add_row(seeding);
    println!("{t}");
    println!(
        "PostgreSQL {}, {} conversation rows, {}.",
        r.server_version,
        r.rounds[0].conversation_rows,
        if r.single_transaction { "offline: one transaction, indexes inside".to_string() } else { format!("online: short locks, key batches, indexes and keys built concurrently on {} connection(s)", r.index_jobs) }
    );
    println!("Median migrate time: {}", ms_text(r.median_migrate_ms));
    if let Some(w) = r.rounds.last().and_then(|x| x.writer.as_ref()) {
        println!();
        let mut ws = output::table(&["write (last round)", "run", "failed", "p50", "p99", "max", "over 1 s"]);
        for s in w.per_statement.iter().chain(std::iter::once(&w.all)) {
            ws.add_row(vec![
                s.statement.clone(),
                s.run.to_string(),
                s.failed.to_string(),
                ms_f(s.p50_ms),
                ms_f(s.p99_ms),
                ms_f(s.max_ms),
                s.over_1s.to_string(),
            ]);
        }
        println!("{ws}");
        println!(
            "Writer: {} statements per second due on {} connections for {:.1} s (from 1 s before the migration to its end); latency counts from when each statement was due.",
            w.rate, w.connections, w.seconds
        );
        for (e, n) in &w.errors {
            println!("  failed {n}×: {e}");
        }
        if !w.slowest.is_empty() {
            println!("Slowest writes (last round), with the steps under way when each was due:");
            print_slowest(&w.slowest);
        }
    }
    match r.peak_rss_kib {
        Some(k) => println!("Peak memory of profochat-saas: {:.1} MiB", k as f64 / 1024.0),
        None => println!("Peak memory of profochat-saas: not available on this system"),
    }
    Ok(ExitCode::SUCCESS)
}

/// `bench --legacy-reads`: the legacy bot's hot reads, legacy schema against the legacy interface.
pub async fn legacy_reads(conn: &ConnArgs, runs: u64, seed: u64, samples: i64, out: &OutputArgs) -> Result<ExitCode> {
    let (server_settings, _cluster) = server_of(conn).await?;
    if !out.json {
        eprintln!(
            "Legacy reads: {runs} runs, {samples} parameter sets per statement, on the server of {}",
            server_settings.display_target()
        );
    }
    let reporter = output::TerminalReporter::new(out.json);
    let r = bench::legacy_reads(&server_settings, runs, seed, samples, &reporter).await?;
    if out.json {
        output::print_json(&r)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = output::table(&["statement", "samples", "legacy median", "legacy p95", "interface median", "interface p95", "ratio"]);
    for x in &r.reads {
        t.add_row(vec![
            x.statement.to_string(),
            x.samples.to_string(),
            us_text(x.legacy_median_us),
            us_text(x.legacy_p95_us),
            us_text(x.interface_median_us),
            us_text(x.interface_p95_us),
            format!("{:.2}×", x.ratio),
        ]);
    }
    println!("{t}");
    println!(
        "PostgreSQL {}, {} conversation rows; legacy schema against the legacy interface (search_path {}) of a migrated copy.",
        r.server_version,
        r.conversation_rows,
        profochat_saas::legacy::SEARCH_PATH
    );
    Ok(ExitCode::SUCCESS)
}

fn us_text(us: u64) -> String {
    if us >= 10_000 {
        format!("{:.1} ms", us as f64 / 1000.0)
    } else {
        format!("{:.3} ms", us as f64 / 1000.0)
    }
}

fn ms_f(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else {
        format!("{ms:.1} ms")
    }
}

fn ms_text(ms: u64) -> String {
    format!("{:.2} s", ms as f64 / 1000.0)
}

/// `bench --scale`: each step's seconds at each size, and its growth from one size to the next.
pub async fn scale(
    conn: &ConnArgs,
    sizes: &[u64],
    seed: u64,
    profile: profochat_saas::seed::Profile,
    parts: &[bench::ScalePart],
    out: &OutputArgs,
) -> Result<ExitCode> {
    let (server_settings, _cluster) = server_of(conn).await?;
    if !out.json {
        eprintln!(
            "Scale benchmark: {} runs ({profile} profile), on the server of {}",
            sizes.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", "),
            server_settings.display_target()
        );
    }
    let reporter = output::TerminalReporter::new(out.json);
    let parts = if parts.is_empty() { &bench::ScalePart::ALL[..] } else { parts };
    let r = bench::scale(&server_settings, sizes, seed, profile, parts, &reporter).await?;
    if out.json {
        output::print_json(&r)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut header = vec!["step".to_string()];
    for (i, runs) in r.sizes.iter().enumerate() {
        header.push(format!("{runs} runs"));
        if i > 0 {
            header.push(format!("growth ×{:.1} runs", *runs as f64 / r.sizes[i - 1].max(1) as f64));
        }
    }
    let mut t = output::table(&header.iter().map(String::as_str).collect::<Vec<_>>());
    for step in &r.steps {
        let mut row = vec![step.step.clone()];
        for (i, (s, g)) in step.seconds.iter().zip(step.growth()).enumerate() {
            row.push(format!("{s:.2} s"));
            if i > 0 {
                row.push(g.map(|g| format!("{g:.2}×")).unwrap_or_default());
            }
        }
        t.add_row(row);
    }
    println!("{t}");
    println!(
        "PostgreSQL {}, seed {}, {} profile; legacy rows: {}; run rows: {}. Growth: the step's time at a size over its time at the size before.",
        r.server_version,
        r.seed,
        r.profile,
        r.legacy_rows.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", "),
        r.run_rows.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", "),
    );
    Ok(ExitCode::SUCCESS)
}

/// `bench --faults` (the fault matrix) and `bench --undo` (the way back), one line per trial.
#[allow(clippy::too_many_arguments)]
pub async fn faults(conn: &ConnArgs, runs: u64, seed: u64, rate: u32, connections: usize, undo: bool, points: &[String], out: &OutputArgs) -> Result<ExitCode> {
    let (server_settings, _cluster) = server_of(conn).await?;
    let which = if undo { bench::faults::Trials::Undo } else { bench::faults::Trials::Matrix };
    if !out.json {
        eprintln!(
            "{}: {runs} runs per trial, the legacy bot writing {rate} statements per second, on the server of {}",
            if undo { "The way back" } else { "Fault matrix" },
            server_settings.display_target()
        );
    }
    let reporter = output::TerminalReporter::new(out.json);
    let exe = std::env::current_exe()?;
    let chosen: Vec<&str> = if points.is_empty() { bench::faults::POINTS.to_vec() } else { points.iter().map(String::as_str).collect() };
    let trials = bench::faults::run(&server_settings, &chosen, runs, seed, rate, connections, &exe, which, &reporter).await?;
    let exact = trials.iter().filter(|t| t.outcome == "exact").count();
    if out.json {
        output::print_json(&trials)?;
    } else {
        let mut t = output::table(&["killed at", "then", "outcome", "rows lost", "writes", "failed", "max write wait", "during the way out", "way out"]);
        for x in &trials {
            t.add_row(vec![
                x.point.clone(),
                x.recovery.clone(),
                x.outcome.clone(),
                x.rows_lost.to_string(),
                x.writer_statements.to_string(),
                x.writer_failed.to_string(),
                format!("{:.0} ms", x.max_write_wait_ms),
                format!("{:.0} ms", x.max_write_wait_way_out_ms),
                format!("{} ms", x.recovery_ms),
            ]);
        }
        println!("{t}");
        println!("{exact} of {} trials exact", trials.len());
        for x in &trials {
            if !x.slowest_way_out.is_empty() {
                println!("Slowest writes during the way out of {}, then {}:", x.point, x.recovery);
                print_slowest(&x.slowest_way_out);
            }
        }
    }
    Ok(if exact == trials.len() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// `bench --compare-upstream PATH`: the online and offline migrations and upstream's 0003
/// on copies of one database, per round, their medians and ratios, and ours by step.
pub async fn compare_upstream(conn: &ConnArgs, opts: &bench::upstream::CompareOptions, out: &OutputArgs) -> Result<ExitCode> {
    use bench::upstream::Variant;
    let (server_settings, _cluster) = server_of(conn).await?;
    if !out.json {
        let data = match &opts.template {
            Some(t) => format!("copies of database {t:?}"),
            None => format!("copies of one database of {} runs ({} profile)", opts.runs, opts.profile),
        };
        eprintln!(
            "Comparison with upstream's {}: {data}, {} round(s), on the server of {}",
            opts.upstream_script.display(),
            opts.rounds.max(1),
            server_settings.display_target()
        );
    }
    let reporter = output::TerminalReporter::new(out.json);
    let r = bench::upstream::compare(&server_settings, opts, &reporter).await?;
    if out.json {
        output::print_json(&r)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut header = vec!["".to_string()];
    header.extend((1..=r.rounds.len()).map(|i| format!("round {i}")));
    header.push("median".into());
    let mut t = output::table(&header.iter().map(String::as_str).collect::<Vec<_>>());
    let mut order = vec!["order".to_string()];
    order.extend(r.rounds.iter().map(|x| x.order.iter().map(|v| format!("{v:?}").to_lowercase()).collect::<Vec<_>>().join(", ")));
    order.push(String::new());
    t.add_row(order);
    let medians = [r.medians.online_ms, r.medians.offline_ms, r.medians.upstream_ms];
    for (v, median) in Variant::ALL.into_iter().zip(medians) {
        let mut row = vec![v.describe().to_string()];
        row.extend(r.rounds.iter().map(|x| x.of(v).map(|run| ms_text(run.total_ms)).unwrap_or_default()));
        row.push(ms_text(median));
        t.add_row(row);
    }
    let mut prep = vec!["(upstream's copy: 0001, cleaning, VACUUM ANALYZE; not counted)".to_string()];
    prep.extend(r.rounds.iter().map(|x| ms_text(x.upstream_preparation_ms)));
    prep.push(String::new());
    t.add_row(prep);
    println!("{t}");
    println!(
        "Medians: online / offline {:.2}×, online / upstream's 0003 {:.2}×, offline / upstream's 0003 {:.2}×.",
        r.medians.online_over_offline, r.medians.online_over_upstream, r.medians.offline_over_upstream
    );
    for (v, steps) in [(Variant::Online, &r.online_steps), (Variant::Offline, &r.offline_steps)] {
        println!();
        let mut header = vec![format!("{} by step", v.describe())];
        header.extend((1..=r.rounds.len()).map(|i| format!("round {i}")));
        header.push("median".into());
        let mut t = output::table(&header.iter().map(String::as_str).collect::<Vec<_>>());
        for (step, median) in steps {
            let mut row = vec![step.clone()];
            row.extend(r.rounds.iter().map(|x| {
                x.of(v).and_then(|run| run.phases.iter().find(|(s, _)| s == step)).map(|(_, ms)| ms_text(*ms)).unwrap_or_default()
            }));
            row.push(ms_text(*median));
            t.add_row(row);
        }
        println!("{t}");
    }
    println!();
    println!(
        "Upstream's copy, before its clock: its 0001 ({}), then the cleaning its 0003 needs (each row below would make one of its statements fail and the whole script roll back):",
        r.upstream_ledger_script
    );
    for c in &r.cleaning {
        println!("  {}: {} row(s) ({})", c.what, c.rows, c.why);
    }
    println!("then VACUUM ANALYZE of the cleaned tables and a checkpoint; 0003 then runs as one batch (its own BEGIN … COMMIT).");
    println!(
        "PostgreSQL {}, {} legacy rows ({} conversation rows); each variant on its own copy after a checkpoint, the order turned every round; our indexes on {} connection(s).",
        r.server_version, r.legacy_rows, r.conversation_rows, r.index_jobs
    );
    match r.peak_rss_kib {
        Some(k) => println!("Peak memory of profochat-saas: {:.1} MiB", k as f64 / 1024.0),
        None => println!("Peak memory of profochat-saas: not available on this system"),
    }
    Ok(ExitCode::SUCCESS)
}

/// The slowest writes, each with when it was due and the steps under way then.
fn print_slowest(slowest: &[bench::writer::SlowWrite]) {
    for s in slowest {
        let during = if s.during.is_empty() { "no step (before or after the migration)".to_string() } else { s.during.join(" › ") };
        println!("  {} after {:.1} s: {}: {during}", ms_f(s.ms), s.due_after_ms / 1000.0, s.statement);
    }
}
