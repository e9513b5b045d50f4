//! Listing backups: every `*.dump` in the backup directory, newest first, with what
//! its sidecar says (or "unknown" where there is none).

use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset};
use serde::Serialize;

use super::{read_sidecar, time_from_file_name, FILE_EXTENSION};
use crate::error::{Error, Result};

/// What the backup directory holds.
#[derive(Debug, Clone, Serialize)]
pub struct Listing {
    pub dir: PathBuf,
    /// False when the directory does not exist (no backup was ever taken there).
    pub dir_exists: bool,
    /// Newest first.
    pub backups: Vec<BackupEntry>,
}

/// One backup file.
#[derive(Debug, Clone, Serialize)]
pub struct BackupEntry {
    pub path: PathBuf,
    pub name: String,
    pub size_bytes: u64,
    /// From the sidecar, else the file name, else the file's modification time.
    pub created_at: Option<DateTime<FixedOffset>>,
    /// The source as a masked URL, if the sidecar says.
    pub source: Option<String>,
    /// The database it was dumped from: from the dump's header, else its sidecar.
    pub database: Option<String>,
    pub server_version: Option<String>,
    /// `legacy`, `migrated`, ... if the sidecar says.
    pub schema_state: Option<String>,
    pub has_sidecar: bool,
}

/// Lists the backups in `dir`. A missing directory is not an error: it holds none.
pub fn list(dir: &Path) -> Result<Listing> {
    let read = match std::fs::read_dir(dir) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Listing {
                dir: dir.to_path_buf(),
                dir_exists: false,
                backups: vec![],
            })
        }
        Err(e) => {
            return Err(Error::io(
                format!("cannot read the backup directory {}", dir.display()),
                e,
                "Nothing was changed. Check its permissions, or name another with --backup-dir.",
            ))
        }
    };
    let mut backups = vec![];
    for entry in read.flatten() {
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_string) else {
            continue;
        };
        if name.starts_with('.') || path.extension().and_then(|e| e.to_str()) != Some(FILE_EXTENSION) {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        let sidecar = read_sidecar(&path);
        let field = |key: &str| {
            sidecar
                .as_ref()
                .and_then(|s| s.get(key))
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        let created_at = field("created_at")
            .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
            .or_else(|| time_from_file_name(&name))
            .or_else(|| {
                meta.modified()
                    .ok()
                    .map(|m| DateTime::<chrono::Local>::from(m).fixed_offset())
            });
        backups.push(BackupEntry {
            size_bytes: meta.len(),
            created_at,
            source: field("source"),
            // The dump's own header says which database it holds; the sidecar is a fallback.
            database: super::read_header(&path).map(|h| h.dbname).or_else(|| field("database")),
            server_version: field("server_version"),
            schema_state: field("schema_state"),
            has_sidecar: sidecar.is_some(),
            path,
            name,
        });
    }
    backups.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| b.name.cmp(&a.name)));
    Ok(Listing {
        dir: dir.to_path_buf(),
        dir_exists: true,
        backups,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_directory_lists_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let l = list(&dir.path().join("nope")).unwrap();
        assert!(!l.dir_exists);
        assert!(l.backups.is_empty());
    }

    #[test]
    fn newest_first_with_sidecar_facts_and_unknowns() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("profochatbot_backup_20200101_000000.dump"), b"PGDMP").unwrap();
        std::fs::write(d.join("profochatbot_backup_20230101_000000.dump"), b"PGDMP").unwrap();
        std::fs::write(
            d.join("profochatbot_backup_20230101_000000.dump.json"),
            br#"{"created_at":"2023-01-01T00:00:00+00:00","source":"postgresql://u:***@h:5432/db","schema_state":"legacy"}"#,
        )
        .unwrap();
        std::fs::write(d.join("notes.txt"), b"x").unwrap();
        std::fs::write(d.join(".profochatbot_backup_x.dump.1.partial"), b"x").unwrap();
        let l = list(d).unwrap();
        let names: Vec<&str> = l.backups.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["profochatbot_backup_20230101_000000.dump", "profochatbot_backup_20200101_000000.dump"]);
        assert_eq!(l.backups[0].schema_state.as_deref(), Some("legacy"));
        assert!(l.backups[0].has_sidecar);
        assert_eq!(l.backups[1].schema_state, None);
        assert!(!l.backups[1].has_sidecar);
        assert!(l.backups[1].created_at.is_some());
    }
}
