//! Finding the PostgreSQL client programs (`pg_dump`, `pg_restore`, `initdb`,
//! `pg_ctl`) and checking their version against the server's.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};

/// A located program and its major version.
#[derive(Debug, Clone)]
pub struct Tool {
    pub name: String,
    pub path: PathBuf,
    /// Major version, e.g. 15.
    pub major: u32,
    /// The full version text, e.g. "15.20".
    pub version: String,
}

/// Finds `name`: every candidate on `PATH` and under `/usr/lib/postgresql/*/bin`,
/// preferring the newest. With `server_major`, a tool older than the server is refused
/// (pg_dump cannot dump a newer server); the newest one at least that old is chosen.
pub fn find_tool(name: &str, server_major: Option<u32>) -> Result<Tool> {
    let mut candidates: Vec<PathBuf> = which::which_all(name).map(|it| it.collect()).unwrap_or_default();
    if let Ok(dirs) = std::fs::read_dir("/usr/lib/postgresql") {
        for d in dirs.flatten() {
            let p = d.path().join("bin").join(name);
            if p.exists() {
                candidates.push(p);
            }
        }
    }
    let mut found: Vec<Tool> = candidates.iter().filter_map(|p| probe(name, p)).collect();
    found.sort_by_key(|t| std::cmp::Reverse(t.major));
    found.dedup_by(|a, b| a.path == b.path);
    let Some(newest) = found.first().cloned() else {
        return Err(Error::Tool {
            tool: name.into(),
            message: format!("{name} was not found on PATH nor under /usr/lib/postgresql/*/bin"),
            hint: format!("Install the PostgreSQL client programs (Debian/Ubuntu: apt-get install postgresql-client), or add the directory holding {name} to PATH."),
        });
    };
    match server_major {
        Some(server) => check_version(&newest, server).map(|()| newest),
        None => Ok(newest),
    }
}

/// Refuses a client program older than the server it must work with: `pg_dump`
/// cannot dump a newer server, `pg_restore` may not read what a newer one wrote.
pub fn check_version(tool: &Tool, server_major: u32) -> Result<()> {
    if tool.major >= server_major {
        return Ok(());
    }
    Err(Error::Tool {
        tool: tool.name.clone(),
        message: format!(
            "{} is version {}, older than the server (PostgreSQL {server_major}); it cannot work with a newer server",
            tool.path.display(),
            tool.version
        ),
        hint: format!(
            "Nothing was changed. Install the PostgreSQL {server_major} client programs (apt-get install postgresql-client-{server_major}) and run again."
        ),
    })
}

fn probe(name: &str, path: &Path) -> Option<Tool> {
    let out = Command::new(path).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // "pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)"
    let version = text.split_whitespace().nth(2)?.to_string();
    let major = version.split(['.', 'b', 'r']).next()?.parse().ok()?;
    Some(Tool {
        name: name.into(),
        path: path.to_path_buf(),
        major,
        version,
    })
}

/// Reads the major version from `server_version_num` (e.g. 150020 → 15).
pub fn major_of(server_version_num: i32) -> u32 {
    (server_version_num / 10000) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(major: u32, version: &str) -> Tool {
        Tool {
            name: "pg_dump".into(),
            path: PathBuf::from("/usr/lib/postgresql/14/bin/pg_dump"),
            major,
            version: version.into(),
        }
    }

    #[test]
    fn older_tool_than_server_is_refused_naming_both_versions() {
        let err = check_version(&tool(14, "14.11"), 16).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("14.11"), "{text}");
        assert!(text.contains("PostgreSQL 16"), "{text}");
        assert!(text.contains("postgresql-client-16"), "{text}");
        assert_eq!(err.exit_status(), crate::ExitStatus::Tool);
    }

    #[test]
    fn same_or_newer_tool_is_accepted() {
        assert!(check_version(&tool(16, "16.2"), 16).is_ok());
        assert!(check_version(&tool(17, "17.0"), 15).is_ok());
    }

    #[test]
    fn server_major_from_version_num() {
        assert_eq!(major_of(150020), 15);
        assert_eq!(major_of(110022), 11);
    }
}
