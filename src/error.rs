//! Typed errors of the library. Each variant maps to one documented exit code
//! (see `ExitStatus` and the README), and its message is one paragraph that says
//! what happened, what was left unchanged and what to do next.

use std::fmt;

/// Exit codes of the `profochat-saas` binary. Documented in the README; never renumber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitStatus {
    Success = 0,
    /// An unexpected failure (a bug, an I/O error outside the database).
    Failure = 1,
    /// Bad command-line usage (clap's own code).
    Usage = 2,
    /// The server could not be reached, or refused the login.
    Connection = 3,
    /// The database is not in a state this command works on
    /// (not a ProfoChatBot database, not migrated, server too old, missing table).
    State = 4,
    /// The command refused to act: a decision is needed (a flag), or no confirmation.
    Refused = 5,
    /// `validate` (or the validation inside `migrate`) found a critical problem.
    ValidationFailed = 6,
    /// A migration or rollback failed and was rolled back: nothing changed.
    RolledBack = 7,
    /// An external tool (`pg_dump`, `pg_restore`, `initdb`) failed or is unsuitable.
    Tool = 8,
    /// Acting would lose data (for example `rollback` after SaaS-only data was written).
    WouldLoseData = 9,
    /// A named object (bot, account, deployment, token, backup file) does not exist.
    NotFound = 10,
    /// An enrollment token was refused (used up, expired, revoked, wrong deployment or bot).
    TokenRefused = 11,
    /// The migration is committed, but a step after the commit did not finish (a
    /// secondary index build failed, or waited in vain for an earlier build): the data
    /// is migrated and in use; `migrate` again finishes what is pending.
    Unfinished = 12,
    /// An online migration stopped before its switch (a step failed, a lock was not
    /// granted in time): what its committed steps did stays, the legacy bot is
    /// unaffected; `migrate` resumes it, `migrate --abort` undoes it.
    Stopped = 13,
    /// Interrupted by the operator (Ctrl-C).
    Interrupted = 130,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// The library's error type.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Connection settings could not be understood. Nothing was contacted.
    #[error("invalid connection settings: {message}. Nothing was changed. {hint}")]
    Config { message: String, hint: String },

    /// The command line combines things that do not go together.
    #[error("{message}. Nothing was done. {hint}")]
    Usage { message: String, hint: String },

    /// The server did not answer or refused the login.
    #[error("could not connect to {target}: {cause}. Nothing was changed. {hint}")]
    Connect {
        target: String,
        cause: String,
        hint: String,
    },

    /// A statement failed. `context` says what the tool was doing.
    #[error("{context} failed: {cause}. {unchanged}")]
    Query {
        context: String,
        cause: String,
        unchanged: String,
    },

    /// The server is older than the oldest version this tool supports.
    #[error("the server runs PostgreSQL {found}, but profochat-saas needs PostgreSQL {minimum} or newer ({why}). Nothing was changed. Upgrade the server, or migrate a copy restored on a newer server.")]
    ServerVersion {
        found: String,
        minimum: String,
        why: String,
    },

    /// The database is not in a state this command can work on.
    #[error("{message}. Nothing was changed. {hint}")]
    State { message: String, hint: String },

    /// The command refused to act until the operator decides something.
    #[error("{message}. Nothing was changed. {hint}")]
    Refused { message: String, hint: String },

    /// Validation found critical problems.
    #[error("validation found {critical} critical problem(s): {summary}. {hint}")]
    ValidationFailed {
        critical: usize,
        summary: String,
        hint: String,
    },

    /// A migration phase failed; the transaction was rolled back.
    #[error("{phase} failed: {cause}. The transaction was rolled back: the database is exactly as it was before. {hint}")]
    PhaseFailed {
        phase: String,
        cause: String,
        hint: String,
    },

    /// A statement of the migration failed; its transaction was rolled back.
    #[error("{context} failed: {cause}. The migration was rolled back: the database is exactly as it was before. {hint}")]
    RolledBack {
        context: String,
        cause: String,
        hint: String,
    },

    /// The connected user lacks a privilege the command needs. Nothing was changed.
    #[error("permission denied: {user} cannot {what}. Nothing was changed. {hint}")]
    Privileges { user: String, what: String, hint: String },

    /// The migration committed, but a step after the commit did not finish.
    #[error("the migration is committed, but {what}: {}. The data, keys, compatibility triggers and legacy interface are in place and in use; `profochat-saas status` shows what is pending. {hint}", .failures.join("; "))]
    Unfinished { what: String, failures: Vec<String>, hint: String },

    /// An online migration stopped before its switch, in `step`.
    #[error("the online migration stopped in step {}: {cause}. {hint}", .step.name())]
    Stopped { step: crate::state::OnlineStep, cause: String, hint: String },

    /// An external tool failed or is unsuitable.
    #[error("{tool}: {message}. {hint}")]
    Tool {
        tool: String,
        message: String,
        hint: String,
    },

    /// Acting would lose data.
    #[error("{message}: {}. Nothing was changed. {hint}", .items.join("; "))]
    WouldLoseData {
        message: String,
        items: Vec<String>,
        hint: String,
    },

    /// A named object does not exist.
    #[error("{kind} {name} does not exist. Nothing was changed. {hint}")]
    NotFound {
        kind: String,
        name: String,
        hint: String,
    },

    /// An enrollment token was refused.
    #[error("the enrollment token was refused: {reason}. Nothing was changed. {}", .reason.hint())]
    TokenRefused { reason: TokenRefusal },

    /// A file could not be read or written.
    #[error("{context}: {source}. {hint}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
        hint: String,
    },

    /// The operator interrupted the command (Ctrl-C, SIGTERM).
    #[error("interrupted by {signal}. {unchanged}")]
    Interrupted { signal: String, unchanged: String },
}

/// Why an enrollment token was refused. `profochat_saas.enrol` raises each with its
/// SQLSTATE (class PC, documented in the README).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenRefusal {
    Malformed,
    Unknown,
    Revoked,
    Expired,
    UsedUp,
    WrongBot,
    WrongDeployment,
    DeploymentInactive,
}

impl TokenRefusal {
    pub const ALL: [TokenRefusal; 8] = [
        TokenRefusal::Malformed,
        TokenRefusal::Unknown,
        TokenRefusal::Revoked,
        TokenRefusal::Expired,
        TokenRefusal::UsedUp,
        TokenRefusal::WrongBot,
        TokenRefusal::WrongDeployment,
        TokenRefusal::DeploymentInactive,
    ];

    /// The SQLSTATE that `profochat_saas.enrol` raises for it (sql/migrate/enrol.sql).
    pub fn sqlstate(self) -> &'static str {
        match self {
            TokenRefusal::Malformed => "PC001",
            TokenRefusal::Unknown => "PC002",
            TokenRefusal::Revoked => "PC003",
            TokenRefusal::Expired => "PC004",
            TokenRefusal::UsedUp => "PC005",
            TokenRefusal::WrongBot => "PC006",
            TokenRefusal::WrongDeployment => "PC007",
            TokenRefusal::DeploymentInactive => "PC008",
        }
    }

    /// The refusal a SQLSTATE stands for.
    pub fn from_sqlstate(code: &str) -> Option<TokenRefusal> {
        TokenRefusal::ALL.into_iter().find(|r| r.sqlstate() == code)
    }

    /// What to do about it.
    pub fn hint(self) -> &'static str {
        match self {
            TokenRefusal::Malformed => "Pass the text after /start as the bot received it: cd_<deployment_id>_<token>.",
            TokenRefusal::Unknown => "The link may be mistyped or its token deleted; `profochat-saas token list` shows the tokens.",
            TokenRefusal::Revoked | TokenRefusal::Expired | TokenRefusal::UsedUp => {
                "Create a new token with `profochat-saas token create --deployment ID` and share its link."
            }
            TokenRefusal::WrongBot => {
                "A token enrols only on the bot its deployment is on: share the link of a token of a deployment on this bot."
            }
            TokenRefusal::WrongDeployment => "Share the link printed for the token: it names the token's own deployment.",
            TokenRefusal::DeploymentInactive => "Activate the deployment, or share a token of an active one.",
        }
    }
}

impl fmt::Display for TokenRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TokenRefusal::Unknown => "no such token",
            TokenRefusal::Revoked => "the token was revoked",
            TokenRefusal::Expired => "the token has expired",
            TokenRefusal::UsedUp => "the token is used up (it reached its maximum number of uses)",
            TokenRefusal::WrongBot => "the token belongs to a deployment on another bot",
            TokenRefusal::WrongDeployment => "the token belongs to another deployment",
            TokenRefusal::DeploymentInactive => "the deployment is not active",
            TokenRefusal::Malformed => "the start payload is not of the form cd_<deployment_id>_<token>",
        })
    }
}

impl Error {
    /// The documented exit code for this error.
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            Error::Config { .. } | Error::Usage { .. } => ExitStatus::Usage,
            Error::Connect { .. } => ExitStatus::Connection,
            Error::Query { .. } => ExitStatus::Failure,
            Error::ServerVersion { .. } | Error::State { .. } => ExitStatus::State,
            Error::Refused { .. } => ExitStatus::Refused,
            Error::ValidationFailed { .. } => ExitStatus::ValidationFailed,
            Error::PhaseFailed { .. } | Error::RolledBack { .. } => ExitStatus::RolledBack,
            Error::Privileges { .. } => ExitStatus::State,
            Error::Unfinished { .. } => ExitStatus::Unfinished,
            Error::Stopped { .. } => ExitStatus::Stopped,
            Error::Tool { .. } => ExitStatus::Tool,
            Error::WouldLoseData { .. } => ExitStatus::WouldLoseData,
            Error::NotFound { .. } => ExitStatus::NotFound,
            Error::TokenRefused { .. } => ExitStatus::TokenRefused,
            Error::Io { .. } => ExitStatus::Failure,
            Error::Interrupted { .. } => ExitStatus::Interrupted,
        }
    }

    /// A failed statement, with what the tool was doing and what stayed unchanged. A
    /// missing privilege becomes [`Error::Privileges`] (see [`Error::from_privilege`]).
    pub fn query(context: impl Into<String>, err: &tokio_postgres::Error, unchanged: impl Into<String>) -> Self {
        let context = context.into();
        if let Some(e) = Error::from_privilege(&context, err) {
            return e;
        }
        Error::Query {
            context: context.into(),
            cause: pg_error_text(err),
            unchanged: unchanged.into(),
        }
    }

    /// The one place where a statement refused for a missing privilege (SQLSTATE 42501
    /// insufficient_privilege, 0LP01 invalid_grant_operation, 0L000 invalid_grantor)
    /// becomes [`Error::Privileges`] (exit status 4): the privilege and the object
    /// named, and what to grant. `context` says what the tool was doing. Any other
    /// error: None.
    pub fn from_privilege(context: &str, err: &tokio_postgres::Error) -> Option<Self> {
        let db = err.as_db_error()?;
        if !PRIVILEGE_STATES.contains(&db.code().code()) {
            return None;
        }
        let message = db.message();
        let (what, grant) = privilege_needed(message);
        let hint = match grant {
            Some(grant) => format!(
                "Run it as the role that migrated the database (the owner of schema profochat_saas) or a superuser, or have one grant what is missing: {grant}"
            ),
            None => "Run it as the role that migrated the database (the owner of schema profochat_saas) or a superuser.".to_string(),
        };
        let what = if context.is_empty() { format!("{what} ({message})") } else { format!("{what} ({message}), needed for {context}") };
        Some(Error::Privileges { user: "the connected role".into(), what, hint })
    }

    /// This error as the outcome of a migration whose transaction was open when it
    /// happened: a failed statement becomes [`Error::RolledBack`] (exit status 7), so
    /// that a rolled-back migration always ends the same way. Refusals, interruptions
    /// and errors that already say so are kept.
    pub fn rolled_back(self) -> Self {
        match self {
            Error::Query { context, cause, .. } => Error::RolledBack {
                context,
                cause,
                hint: "Fix the cause and run `profochat-saas migrate` again; `profochat-saas status` shows the database as it was.".into(),
            },
            other => other,
        }
    }

    /// A short, stable name of the kind of error, for `--json` output.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Config { .. } => "config",
            Error::Usage { .. } => "usage",
            Error::Connect { .. } => "connect",
            Error::Query { .. } => "query",
            Error::ServerVersion { .. } => "server_version",
            Error::State { .. } => "state",
            Error::Refused { .. } => "refused",
            Error::ValidationFailed { .. } => "validation_failed",
            Error::PhaseFailed { .. } => "phase_failed",
            Error::RolledBack { .. } => "rolled_back",
            Error::Privileges { .. } => "privileges",
            Error::Unfinished { .. } => "unfinished",
            Error::Stopped { .. } => "stopped",
            Error::Tool { .. } => "tool",
            Error::WouldLoseData { .. } => "would_lose_data",
            Error::NotFound { .. } => "not_found",
            Error::TokenRefused { .. } => "token_refused",
            Error::Io { .. } => "io",
            Error::Interrupted { .. } => "interrupted",
        }
    }

    /// The same error, `note` added to what it tells the operator to do (for the errors
    /// that have no hint, to what it says was left unchanged or why).
    pub fn with_note(mut self, note: &str) -> Self {
        match &mut self {
            Error::Config { hint, .. }
            | Error::Usage { hint, .. }
            | Error::Connect { hint, .. }
            | Error::State { hint, .. }
            | Error::Refused { hint, .. }
            | Error::ValidationFailed { hint, .. }
            | Error::PhaseFailed { hint, .. }
            | Error::RolledBack { hint, .. }
            | Error::Privileges { hint, .. }
            | Error::Unfinished { hint, .. }
            | Error::Stopped { hint, .. }
            | Error::Tool { hint, .. }
            | Error::WouldLoseData { hint, .. }
            | Error::NotFound { hint, .. }
            | Error::Io { hint, .. } => hint.push_str(note),
            Error::Query { unchanged, .. } => unchanged.push_str(note),
            Error::ServerVersion { why, .. } => why.push_str(note),
            Error::TokenRefused { .. } | Error::Interrupted { .. } => {}
        }
        self
    }

    /// Bad input with a hint (exit status 2).
    pub fn usage(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::Usage {
            message: message.into(),
            hint: hint.into(),
        }
    }

    /// A state error with a hint.
    pub fn state(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::State {
            message: message.into(),
            hint: hint.into(),
        }
    }

    /// A refusal with a hint.
    pub fn refused(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::Refused {
            message: message.into(),
            hint: hint.into(),
        }
    }

    /// An I/O error on a path, with a hint.
    pub fn io(context: impl Into<String>, source: std::io::Error, hint: impl Into<String>) -> Self {
        Error::Io {
            context: context.into(),
            source,
            hint: hint.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The SQLSTATEs of a missing privilege.
const PRIVILEGE_STATES: [&str; 3] = ["42501", "0LP01", "0L000"];

/// From PostgreSQL's message, what the role cannot do and the GRANT that gives it
/// (`<role>` stands for the role the command connects as).
fn privilege_needed(message: &str) -> (String, Option<String>) {
    let object = |prefix: &str| message.strip_prefix(prefix).map(|o| o.trim().to_string());
    if let Some(o) = object("permission denied for schema ") {
        return (format!("use schema {o} (USAGE)"), Some(format!("GRANT USAGE ON SCHEMA {o} TO <role>;")));
    }
    for kind in ["table", "view", "materialized view", "foreign table"] {
        if let Some(o) = object(&format!("permission denied for {kind} ")) {
            return (
                format!("read or write {kind} {o} (SELECT, INSERT, UPDATE or DELETE)"),
                Some(format!("GRANT SELECT, INSERT, UPDATE, DELETE ON {o} TO <role>; (only those the command needs)")),
            );
        }
    }
    if let Some(o) = object("permission denied for sequence ") {
        return (format!("use sequence {o} (USAGE)"), Some(format!("GRANT USAGE, SELECT ON SEQUENCE {o} TO <role>;")));
    }
    for kind in ["function", "procedure"] {
        if let Some(o) = object(&format!("permission denied for {kind} ")) {
            return (format!("call {kind} {o} (EXECUTE)"), Some(format!("GRANT EXECUTE ON FUNCTION {o} TO <role>;")));
        }
    }
    if let Some(o) = object("permission denied for database ") {
        return (format!("use database {o} (CONNECT, CREATE)"), Some(format!("GRANT CONNECT, CREATE ON DATABASE {o} TO <role>;")));
    }
    if let Some(rest) = object("must be owner of ") {
        return (format!("change {rest} (its owner's right)"), None);
    }
    ("do it".to_string(), None)
}

/// The text of a PostgreSQL error for a human: severity, message, detail and hint,
/// with key values of secret columns (`bot_token`, `token`) masked.
pub fn pg_error_text(err: &tokio_postgres::Error) -> String {
    if let Some(db) = err.as_db_error() {
        let mut text = format!("{} ({})", db.message(), db.code().code());
        if let Some(detail) = db.detail() {
            text.push_str(": ");
            text.push_str(&redact_key_detail(detail));
        }
        if let Some(hint) = db.hint() {
            text.push_str(" (hint: ");
            text.push_str(hint);
            text.push(')');
        }
        if let Some(table) = db.table() {
            if !text.contains(table) {
                text.push_str(&format!(" [table {table}]"));
            }
        }
        return text;
    }
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}

/// PostgreSQL puts key values into constraint-violation details
/// (`Key (bot_token)=(123:AA…) already exists.`). Secret columns must never be shown.
pub fn redact_key_detail(detail: &str) -> String {
    const SECRET_COLUMNS: [&str; 3] = ["bot_token", "token", "password"];
    let Some(start) = detail.find("Key (") else {
        return detail.to_string();
    };
    let rest = &detail[start + 5..];
    let Some(close) = rest.find(")=(") else {
        return detail.to_string();
    };
    let columns = &rest[..close];
    let secret = columns
        .split(',')
        .map(str::trim)
        .any(|c| SECRET_COLUMNS.contains(&c.trim_matches('"')));
    if secret {
        format!("{}Key ({columns})=(•••) {}", &detail[..start], after_values(&rest[close + 3..]))
    } else {
        detail.to_string()
    }
}

fn after_values(s: &str) -> &str {
    // The value list ends at the last ")" before the sentence that follows.
    match s.rfind(") ") {
        Some(i) => &s[i + 2..],
        None => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_missing_privilege_names_the_privilege_and_the_grant() {
        let (what, grant) = privilege_needed("permission denied for schema profochat_saas");
        assert_eq!(what, "use schema profochat_saas (USAGE)");
        assert_eq!(grant.unwrap(), "GRANT USAGE ON SCHEMA profochat_saas TO <role>;");
        let (what, grant) = privilege_needed("permission denied for table run");
        assert!(what.contains("table run") && grant.unwrap().contains("ON run"));
        let (what, grant) = privilege_needed("permission denied for function enrol");
        assert!(what.contains("EXECUTE") && grant.unwrap().contains("EXECUTE ON FUNCTION enrol"));
        let (what, grant) = privilege_needed("must be owner of table run");
        assert_eq!((what.as_str(), grant), ("change table run (its owner's right)", None));
    }

    #[test]
    fn secret_key_values_are_masked() {
        let d = "Key (bot_token)=(123456:ABCdef) already exists.";
        let r = redact_key_detail(d);
        assert!(!r.contains("ABCdef"), "{r}");
        assert!(r.contains("already exists"), "{r}");
        let d = "Key (bot_id, chat_id)=(1, 2) already exists.";
        assert_eq!(redact_key_detail(d), d);
    }
}
