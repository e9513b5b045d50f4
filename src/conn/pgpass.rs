//! The password file, read as libpq reads it: `~/.pgpass`, or the file `PGPASSFILE`
//! (or the `passfile` connection parameter) names; lines of
//! `hostname:port:database:username:password`, `*` matching anything, `\` escaping
//! `:` and `\`, `#` starting a comment; the first matching line wins. A file that
//! group or others may read is ignored, as libpq ignores it.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::settings::{EnvLookup, Host};

/// Why the password file gave no password (for hints).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Found(String),
    /// No file at this path.
    NoFile(PathBuf),
    /// The file exists but group or others may read it: ignored.
    TooOpen(PathBuf),
    /// The file holds no line for this connection.
    NoMatch(PathBuf),
    /// No home directory and no PGPASSFILE: nowhere to look.
    Nowhere,
}

/// The password file's path: `passfile`, else `PGPASSFILE`, else `$HOME/.pgpass`.
pub fn path(passfile: Option<&str>, env: EnvLookup<'_>) -> Option<PathBuf> {
    if let Some(p) = passfile.filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    if let Some(p) = env("PGPASSFILE").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    env("HOME").filter(|h| !h.is_empty()).map(|h| Path::new(&h).join(".pgpass"))
}

/// The password for this connection from the password file, if any.
pub fn lookup(file: Option<PathBuf>, host: &Host, port: u16, dbname: &str, user: &str) -> Lookup {
    let Some(file) = file else {
        return Lookup::Nowhere;
    };
    let Ok(meta) = std::fs::metadata(&file) else {
        return Lookup::NoFile(file);
    };
    if !meta.is_file() {
        return Lookup::NoFile(file);
    }
    if meta.permissions().mode() & 0o077 != 0 {
        return Lookup::TooOpen(file);
    }
    let Ok(text) = std::fs::read_to_string(&file) else {
        return Lookup::NoFile(file);
    };
    match find(&text, &host_name(host), &port.to_string(), dbname, user) {
        Some(p) => Lookup::Found(p),
        None => Lookup::NoMatch(file),
    }
}

/// The host as the password file names it: a unix socket in a default directory is
/// `localhost`, as libpq has it.
fn host_name(host: &Host) -> String {
    match host {
        Host::Tcp(h) if h.is_empty() => "localhost".into(),
        Host::Tcp(h) => h.clone(),
        Host::Socket(p) if super::settings::is_default_socket_dir(p) => "localhost".into(),
        Host::Socket(p) => p.display().to_string(),
    }
}

/// The first line of `text` that matches, its password unescaped.
pub fn find(text: &str, host: &str, port: &str, dbname: &str, user: &str) -> Option<String> {
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields = split(line);
        if fields.len() < 5 {
            continue;
        }
        let matches = |field: &str, value: &str| field == "*" || field == value;
        if matches(&fields[0], host) && matches(&fields[1], port) && matches(&fields[2], dbname) && matches(&fields[3], user) {
            // A ':' the password holds unescaped belongs to the password.
            return Some(fields[4..].join(":"));
        }
    }
    None
}

/// Splits a line at unescaped ':'; `\:` and `\\` stand for ':' and '\'.
fn split(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    fields.last_mut().expect("one field at least").push(next);
                }
            }
            ':' => fields.push(String::new()),
            c => fields.last_mut().expect("one field at least").push(c),
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_match_as_libpq_matches_them() {
        let text = "# comment\n\
                    db.example.com:5432:profo:bob:first\n\
                    *:*:*:bob:p\\:w\\\\d\n\
                    localhost:5433:*:*:local\n";
        assert_eq!(find(text, "db.example.com", "5432", "profo", "bob").as_deref(), Some("first"));
        assert_eq!(find(text, "other", "1", "x", "bob").as_deref(), Some("p:w\\d"));
        assert_eq!(find(text, "localhost", "5433", "any", "alice").as_deref(), Some("local"));
        assert_eq!(find(text, "localhost", "5432", "any", "alice"), None);
    }

    #[test]
    fn a_file_others_may_read_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pgpass");
        std::fs::write(&f, "*:*:*:*:secret\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        let host = Host::Tcp("h".into());
        assert_eq!(lookup(Some(f.clone()), &host, 5432, "d", "u"), Lookup::TooOpen(f.clone()));
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(lookup(Some(f), &host, 5432, "d", "u"), Lookup::Found("secret".into()));
    }
}
