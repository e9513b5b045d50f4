//! How the library tells the caller what it is doing. The library never prints:
//! the CLI turns these events into text, progress bars or JSON; tests stay quiet.

use std::time::Duration;

/// How much a note matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Info,
    Warning,
}

/// One thing worth telling the operator.
#[derive(Debug, Clone)]
pub enum Event<'a> {
    /// A long step starts; `total` is the amount of work if known (rows, bytes, steps).
    Started { step: &'a str, total: Option<u64> },
    /// Progress within the current step.
    Progress { done: u64 },
    /// The step ended after `elapsed`; `summary` says what it did.
    Finished { step: &'a str, elapsed: Duration, summary: &'a str },
    /// A note that is not tied to progress.
    Note { level: Level, message: &'a str },
    /// What was done so far is durable now: an interruption from here on no longer
    /// undoes it. `what` says what was committed.
    Committed { what: &'a str },
}

/// Receives events. Implementations must be cheap: events come from hot loops.
pub trait Reporter: Send + Sync {
    fn event(&self, event: Event<'_>);

    fn started(&self, step: &str, total: Option<u64>) {
        self.event(Event::Started { step, total });
    }
    fn progress(&self, done: u64) {
        self.event(Event::Progress { done });
    }
    fn finished(&self, step: &str, elapsed: Duration, summary: &str) {
        self.event(Event::Finished { step, elapsed, summary });
    }
    fn info(&self, message: &str) {
        self.event(Event::Note { level: Level::Info, message });
    }
    fn warn(&self, message: &str) {
        self.event(Event::Note { level: Level::Warning, message });
    }
    fn committed(&self, what: &str) {
        self.event(Event::Committed { what });
    }
}

/// A reporter that drops everything: for tests and library users who do not care.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Reporter for Silent {
    fn event(&self, _event: Event<'_>) {}
}
