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
    found.sort_by(|a, b| b.major.cmp(&a.major));
    found.dedup_by(|a, b| a.path == b.path);
    let Some(newest) = found.first().cloned() else {
        return Err(Error::Tool {
            tool: name.into(),
            message: format!("{name} was not found on PATH nor under /usr/lib/postgresql/*/bin"),
            hint: format!("Install the PostgreSQL client programs (Debian/Ubuntu: apt-get install postgresql-client), or add the directory holding {name} to PATH."),
        });
    };
    match server_major {
        Some(server) if newest.major < server => Err(Error::Tool {
            tool: name.into(),
            message: format!(
                "{} is version {}, older than the server (PostgreSQL {server}); it cannot work with a newer server",
                newest.path.display(),
                newest.version
            ),
            hint: format!("Install the PostgreSQL {server} client programs (apt-get install postgresql-client-{server}) and run again."),
        }),
        _ => Ok(newest),
    }
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
