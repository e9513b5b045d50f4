//! Turning library events and results into what people read: progress on a
//! terminal, plain lines in pipes, tables, JSON, and confirmation prompts.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use profochat_saas::report::{Event, Level, Reporter};

/// Whether colour may be used on standard error (NO_COLOR honoured, terminals only).
pub fn color() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

pub fn error_label() -> &'static str {
    if color() {
        "\x1b[1;31merror:\x1b[0m"
    } else {
        "error:"
    }
}

pub fn warning_label() -> &'static str {
    if color() {
        "\x1b[1;33mwarning:\x1b[0m"
    } else {
        "warning:"
    }
}

pub fn init_tracing(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("PROFOCHAT_SAAS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("profochat_saas={level}")));
    // tokio-postgres logs bind parameters (bot and enrollment tokens) at debug level,
    // and the server's NOTICEs at info level: those only with -v.
    let postgres_level = if verbose == 0 { "tokio_postgres=warn" } else { "tokio_postgres=info" };
    let filter = match postgres_level.parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(color())
        .without_time()
        .try_init();
}

/// Shows progress on standard error: a spinner or bar on a terminal, one line per
/// finished step in a pipe, nothing at all with `quiet` (for `--json`).
pub struct TerminalReporter {
    quiet: bool,
    tty: bool,
    bar: Mutex<Option<ProgressBar>>,
    after_commit: Option<String>,
}

impl TerminalReporter {
    pub fn new(quiet: bool) -> Self {
        TerminalReporter {
            quiet,
            tty: std::io::stderr().is_terminal(),
            bar: Mutex::new(None),
            after_commit: None,
        }
    }

    /// What an interruption leaves once the library reports a commit.
    pub fn after_commit(mut self, note: impl Into<String>) -> Self {
        self.after_commit = Some(note.into());
        self
    }
}

impl Reporter for TerminalReporter {
    fn event(&self, event: Event<'_>) {
        if let Event::Committed { what } = event {
            crate::cli::signals::set_note(match &self.after_commit {
                Some(note) => note.clone(),
                None => format!(
                    "{} and stays; what came after it may be unfinished: run `profochat-saas status` to see where the database stands.",
                    capitalize(what)
                ),
            });
            return;
        }
        if self.quiet {
            if let Event::Note { level: Level::Warning, message } = event {
                eprintln!("{} {message}", warning_label());
            }
            return;
        }
        let mut bar = self.bar.lock().unwrap_or_else(|p| p.into_inner());
        match event {
            Event::Started { step, total } => {
                if self.tty {
                    let pb = match total {
                        Some(t) => ProgressBar::new(t).with_style(
                            ProgressStyle::with_template("  {spinner} {msg} [{bar:30}] {pos}/{len} ({elapsed})")
                                .unwrap_or_else(|_| ProgressStyle::default_bar())
                                .progress_chars("=> "),
                        ),
                        None => ProgressBar::new_spinner().with_style(
                            ProgressStyle::with_template("  {spinner} {msg} ({elapsed})")
                                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                        ),
                    };
                    pb.set_message(step.to_string());
                    pb.enable_steady_tick(Duration::from_millis(120));
                    *bar = Some(pb);
                }
            }
            Event::Progress { done } => {
                if let Some(pb) = bar.as_ref() {
                    pb.set_position(done);
                }
            }
            Event::Finished { step, elapsed, summary } => {
                if let Some(pb) = bar.take() {
                    pb.finish_and_clear();
                }
                let tick = if color() { "\x1b[32m✓\x1b[0m" } else { "✓" };
                let mut summary = separate_counts(summary);
                // A backfill counts the key values its batches covered, not rows.
                if let Some(t) = step.strip_prefix("online: backfill ").and_then(profochat_saas::state::BackfillTable::parse) {
                    summary = summary.replace("keys ", &format!("{} values ", t.batched_by()));
                }
                let summary = &summary;
                if summary.is_empty() {
                    eprintln!("  {tick} {step} ({})", format_duration(elapsed));
                } else {
                    eprintln!("  {tick} {step}: {summary} ({})", format_duration(elapsed));
                }
            }
            Event::Committed { .. } => {}
            Event::Note { level, message } => {
                let print = |s: &str| match level {
                    Level::Info => eprintln!("  {s}"),
                    Level::Warning => eprintln!("{} {s}", warning_label()),
                };
                match bar.as_ref() {
                    Some(pb) => pb.suspend(|| print(message)),
                    None => print(message),
                }
            }
        }
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{}m{:02}s", ms / 60_000, (ms / 1000) % 60)
    }
}

/// Asks before a command changes a database. With `--yes` it does not ask; with no
/// terminal and no `--yes` it refuses rather than waits.
pub async fn confirm(question: &str, yes: bool) -> Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(profochat_saas::Error::refused(
            format!("{question} — confirmation needed, but there is no terminal to ask on"),
            "Run it again with --yes to proceed without asking.",
        )
        .into());
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let answer = crate::cli::signals::with_note("Nothing was changed.", crate::cli::signals::read_line(None)).await?;
    if matches!(answer.trim().to_lowercase().as_str(), "y" | "yes" | "д" | "да") {
        Ok(())
    } else {
        Err(profochat_saas::Error::refused("you answered no", "Run it again and answer yes (or pass --yes) to proceed.").into())
    }
}

static JSON_PRINTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether the command already printed its JSON document: an error after it (validation
/// that failed, a state the report describes) adds no second document.
pub fn json_printed() -> bool {
    JSON_PRINTED.load(std::sync::atomic::Ordering::SeqCst)
}

/// Prints a value as pretty JSON on standard output.
pub fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    JSON_PRINTED.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// A table in the house style: no colour in pipes, UTF-8 borders on terminals.
pub fn table(header: &[&str]) -> comfy_table::Table {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
        .set_header(header.iter().map(comfy_table::Cell::new));
    if !std::io::stdout().is_terminal() {
        t.load_preset(comfy_table::presets::ASCII_MARKDOWN).force_no_tty();
    } else if t.width().is_some_and(|w| w < 40) {
        // A terminal that reports no size (0 columns, as some ptys do) would squeeze
        // every column to one character.
        let columns = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).filter(|c| *c >= 40);
        t.set_width(columns.unwrap_or(120));
    }
    t
}

/// A summary with the thousands of its counts separated: a run of four or more digits
/// that stands as a word of its own ("2859 rows", "(1200)"), never a part of a name, a
/// decimal, a date or a time ("15.20", "2026-12-07", "run_1000").
pub fn separate_counts(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        let run: String = chars[start..i].iter().collect();
        let before_ok = start == 0 || matches!(chars[start - 1], ' ' | '(');
        let after_ok = i == chars.len() || matches!(chars[i], ' ' | ',' | ')' | ';') && !(chars[i] == ',' && chars.get(i + 1).is_some_and(|c| c.is_ascii_digit()));
        match run.parse::<i128>() {
            Ok(n) if run.len() >= 4 && before_ok && after_ok => out.push_str(&thousands(n)),
            _ => out.push_str(&run),
        }
    }
    out
}

/// A count with thousands separators: 1234567 -> "1,234,567" (every count the tool
/// prints is written this way).
pub fn thousands<N: Into<i128>>(n: N) -> String {
    let n: i128 = n.into();
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The exit status when standard output is closed under the tool (a pipe whose reader
/// ended, as in `profochat-saas validate | head -1`): 141, what a shell reports for a
/// program ended by SIGPIPE, as `git` ends. Nothing more is printed.
pub const CLOSED_STDOUT: u8 = 141;

/// Whether an error is a write to a closed pipe.
pub fn is_closed_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|e| e.downcast_ref::<std::io::Error>())
        .any(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
        || err.chain().filter_map(|e| e.downcast_ref::<serde_json::Error>()).any(|e| e.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe))
}

/// A `println!` to a closed standard output panics in Rust: end the process at that
/// point, quietly, with [`CLOSED_STDOUT`] (or when standard error is closed, likewise).
/// Every other panic keeps its message.
pub fn end_quietly_when_stdout_closes() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to std") && (message.contains("Broken pipe") || message.contains("os error 32")) {
            std::process::exit(CLOSED_STDOUT.into());
        }
        default(info);
    }));
}

/// The width long lines are wrapped to: the terminal's, at most 100 columns; 100 in pipes.
pub fn text_width() -> usize {
    let columns = std::env::var("COLUMNS").ok().and_then(|c| c.parse::<usize>().ok()).filter(|c| *c >= 40);
    columns.unwrap_or(100).min(100)
}

/// `text` wrapped at word boundaries to `width` columns: the first line starts with
/// `first`, the others with `rest`.
pub fn wrap(text: &str, width: usize, first: &str, rest: &str) -> Vec<String> {
    let mut lines = vec![];
    let mut line = first.to_string();
    let mut empty = true;
    for word in text.split_whitespace() {
        let fits = line.chars().count() + usize::from(!empty) + word.chars().count() <= width;
        if !empty && !fits {
            lines.push(std::mem::replace(&mut line, rest.to_string()));
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    lines.push(line);
    lines
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_in_summaries_get_separators_and_nothing_else_does() {
        let f = super::separate_counts;
        assert_eq!(f("2859 rows, 1.3 MB"), "2,859 rows, 1.3 MB");
        assert_eq!(f("legacy rows 194337"), "legacy rows 194,337");
        assert_eq!(f("batches 1, keys 300 (1200)"), "batches 1, keys 300 (1,200)");
        for same in ["PostgreSQL 15.20", "2026-12-07 13:35:14", "run_1000", "#1234x", "a 1,234 b", "v1000"] {
            assert_eq!(f(same), same);
        }
    }

    #[test]
    fn wrap_breaks_at_words_within_the_width() {
        let lines = super::wrap("one two three four five six", 12, "  - ", "    ");
        assert_eq!(lines, ["  - one two", "    three", "    four", "    five six"]);
        assert!(lines.iter().all(|l| l.chars().count() <= 12));
        assert_eq!(super::wrap("", 10, "> ", "  "), ["> "]);
    }
}
