//! Running `pg_dump` and `pg_restore`: the connection goes in the environment, and
//! what they print is cleaned of secrets before it reaches an error message.

use std::process::Stdio;

use tokio::process::Command;

use crate::conn::ConnSettings;
use crate::error::redact_key_detail;
use crate::server::Tool;

/// A command for `tool` that connects with `settings`, never prompts for a
/// password, and is killed if the caller goes away (Ctrl-C).
pub(super) fn command(tool: &Tool, settings: &ConnSettings) -> Command {
    let mut cmd = Command::new(&tool.path);
    // Settings from the caller's environment must not override the configured ones.
    for var in ["PGSERVICE", "PGOPTIONS", "PGPASSWORD", "PGSSLROOTCERT", "PGCONNECT_TIMEOUT", "PGTARGETSESSIONATTRS"] {
        cmd.env_remove(var);
    }
    cmd.envs(settings.libpq_env())
        .arg("--no-password")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

/// A libpq connection string naming only the database: for `pg_restore -d`, whose
/// other settings come from the environment. Quoted so that any name is taken literally.
pub(super) fn dbname_conninfo(dbname: &str) -> String {
    let escaped = dbname.replace('\\', "\\\\").replace('\'', "\\'");
    format!("dbname='{escaped}'")
}

/// Tool output made fit to show: the password replaced, key values of secret columns
/// (`Key (bot_token)=(…)`) masked.
pub(super) fn scrub(text: &str, settings: &ConnSettings) -> String {
    let mut out: String = text.lines().map(redact_key_detail).collect::<Vec<_>>().join("\n");
    if let Some(p) = &settings.password {
        if !p.expose().is_empty() {
            out = out.replace(p.expose(), "***");
        }
    }
    out
}

/// The lines of a tool's standard error that explain a failure, as one paragraph.
pub(super) fn failure_summary(stderr: &str, settings: &ConnSettings) -> String {
    let lines: Vec<&str> = stderr.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let important: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.contains("error:") || l.contains("ERROR:") || l.contains("DETAIL:") || l.contains("from TOC entry") || l.contains("FATAL:"))
        .collect();
    let chosen: Vec<&str> = if important.is_empty() {
        lines.iter().rev().take(5).rev().copied().collect()
    } else {
        important.into_iter().take(8).collect()
    };
    let text = if chosen.is_empty() { "(it printed nothing)".to_string() } else { chosen.join("; ") };
    // The caller's sentence goes on after it.
    let text = text.trim_end_matches('.').to_string();
    scrub(&text, settings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conn::Secret;

    fn settings_with_password(pw: &str) -> ConnSettings {
        let mut s = ConnSettings::from_url("postgres://bob@localhost/profo", &|_| None).unwrap();
        s.password = Some(Secret::new(pw));
        s
    }

    #[test]
    fn conninfo_quotes_any_name() {
        assert_eq!(dbname_conninfo("profo"), "dbname='profo'");
        assert_eq!(dbname_conninfo("it's a\\b"), "dbname='it\\'s a\\\\b'");
    }

    #[test]
    fn scrubbing_removes_passwords_and_token_values() {
        let s = settings_with_password("hunter2");
        let text = "pg_restore: error: could not execute query: ERROR:  could not create unique index \"bot_bot_token_key\"\n\
                    DETAIL:  Key (bot_token)=(123456789:AAHsecretsecret) is duplicated.\n\
                    connection to server failed: password hunter2 rejected";
        let out = failure_summary(text, &s);
        assert!(!out.contains("hunter2"), "{out}");
        assert!(!out.contains("AAHsecret"), "{out}");
        assert!(out.contains("bot_bot_token_key"), "{out}");
        assert!(!out.contains('\n'), "{out}");
    }

    #[test]
    fn summary_of_silence_says_so() {
        let s = settings_with_password("x");
        assert_eq!(failure_summary("", &s), "(it printed nothing)");
    }
}
