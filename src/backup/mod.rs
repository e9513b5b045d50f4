//! Backups of the ProfoChatBot database: `pg_dump` custom-format files named
//! `profochatbot_backup_YYYYMMDD_HHMMSS.dump` (as the old migrate.sh named them),
//! each with a `<file>.json` sidecar that says where it came from; listing them;
//! and restoring one into a new database or in place of the configured one.
//!
//! Files and sidecars are created with mode 0600 and their directory with 0700:
//! a dump holds bot tokens. Passwords travel to `pg_dump`/`pg_restore` in the
//! environment only, and the sidecar names the source with the password masked.

mod create;
mod header;
mod list;
mod process;
mod restore;

use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset, Local, NaiveDateTime, TimeZone};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fingerprint::Fingerprints;

pub use create::{create, create_named};
pub use header::{read_header, DumpHeader};
pub use list::{list, BackupEntry, Listing};
pub use restore::{
    check_dump_version, prepare_restore, prepare_restore_checked, restore, ArchiveInfo, RestoreOutcome, RestorePlan, RestoreTarget, Sessions,
};

/// The default backup directory, relative to the working directory (as migrate.sh had it).
pub const DEFAULT_DIR: &str = "backups";

/// How backup file names begin.
pub const FILE_PREFIX: &str = "profochatbot_backup_";
/// What `rollback` saves before it changes anything: what the legacy schema cannot hold.
pub const ROLLBACK_SAVE_PREFIX: &str = "profochatbot_rollback_";

/// The extension of backup files.
pub const FILE_EXTENSION: &str = "dump";

/// The first bytes of every `pg_dump` custom-format archive.
pub const DUMP_MAGIC: &[u8; 5] = b"PGDMP";

/// The step name under which `create` reports progress, in bytes written.
pub const DUMP_STEP: &str = "dumping the database";

/// The step name under which `restore` reports progress, in archive items.
pub const RESTORE_STEP: &str = "restoring";

/// A backup that was just written.
#[derive(Debug, Clone, Serialize)]
pub struct BackupInfo {
    pub path: PathBuf,
    pub size_bytes: u64,
    pub created_at: DateTime<FixedOffset>,
    /// Where the sidecar was written (`<path>.json`).
    pub sidecar_path: PathBuf,
    pub sidecar: Sidecar,
}

/// What a backup holds, written beside it as `<file>.json`. Never a password or token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sidecar {
    /// "profochat-saas".
    pub tool: String,
    pub tool_version: String,
    pub created_at: DateTime<FixedOffset>,
    /// The source database as a URL with the password masked.
    pub source: String,
    pub database: String,
    pub server_version: String,
    pub pg_dump_version: String,
    /// The schema state when the dump was taken (`legacy`, `migrated`, ...).
    pub schema_state: String,
    /// Whether the sidecar's facts and the dump come from one snapshot of the database.
    pub consistent_snapshot: bool,
    /// Per legacy table: rows and hash, taken in the dump's snapshot. None when the
    /// database does not hold the eight legacy tables.
    #[serde(default)]
    pub fingerprints: Option<Fingerprints>,
}

/// `<dir>/profochatbot_backup_YYYYMMDD_HHMMSS.dump` for this moment.
pub fn file_name_for(time: &DateTime<Local>) -> String {
    format!("{FILE_PREFIX}{}.{FILE_EXTENSION}", time.format("%Y%m%d_%H%M%S"))
}

/// The `n`th candidate name for a backup taken at `time`: the plain name first, then
/// `_2`, `_3`, ... when several backups are taken within one second.
#[cfg(test)]
fn candidate_name(time: &DateTime<Local>, n: u32) -> String {
    candidate_name_with(FILE_PREFIX, time, n)
}

fn candidate_name_with(prefix: &str, time: &DateTime<Local>, n: u32) -> String {
    if n <= 1 {
        format!("{prefix}{}.{FILE_EXTENSION}", time.format("%Y%m%d_%H%M%S"))
    } else {
        format!("{prefix}{}_{n}.{FILE_EXTENSION}", time.format("%Y%m%d_%H%M%S"))
    }
}

/// The time in a backup's file name, read as local time.
pub fn time_from_file_name(name: &str) -> Option<DateTime<FixedOffset>> {
    let stamp = name.strip_prefix(FILE_PREFIX).or_else(|| name.strip_prefix(ROLLBACK_SAVE_PREFIX))?.get(..15)?;
    let naive = NaiveDateTime::parse_from_str(stamp, "%Y%m%d_%H%M%S").ok()?;
    Local.from_local_datetime(&naive).earliest().map(|t| t.fixed_offset())
}

/// The sidecar's path for a backup file.
pub fn sidecar_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_os_string();
    name.push(".json");
    PathBuf::from(name)
}

/// Reads a sidecar as loose JSON (older or newer tool versions may differ in fields).
pub fn read_sidecar(file: &Path) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(sidecar_path(file)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Whether `file` starts with the custom-format signature.
pub fn has_dump_magic(file: &Path) -> std::io::Result<bool> {
    let mut head = [0u8; 5];
    let mut f = std::fs::File::open(file)?;
    let mut read = 0;
    while read < head.len() {
        match f.read(&mut head[read..])? {
            0 => return Ok(false),
            n => read += n,
        }
    }
    Ok(&head == DUMP_MAGIC)
}

/// Creates the backup directory (and parents) with mode 0700 if it is missing. The
/// returned guard removes a directory created here if the backup fails or is
/// interrupted before a file is put in it: no empty `backups/` is left behind.
fn ensure_dir(dir: &Path) -> Result<NewDir> {
    if dir.is_dir() {
        return Ok(NewDir { path: None });
    }
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|e| {
        Error::io(
            format!("cannot create the backup directory {}", dir.display()),
            e,
            "Nothing was changed. Choose another directory with --backup-dir, or fix its permissions.",
        )
    })?;
    Ok(NewDir { path: Some(dir.to_path_buf()) })
}

/// A directory this backup created; removed on drop unless kept, and only if empty.
struct NewDir {
    path: Option<PathBuf>,
}

impl NewDir {
    fn keep(&mut self) {
        self.path = None;
    }
}

impl Drop for NewDir {
    fn drop(&mut self) {
        if let Some(p) = &self.path {
            let _ = std::fs::remove_dir(p);
        }
    }
}

/// Opens a new file with mode 0600; fails if it exists.
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)
}

/// Puts `tmp` in place as `dest` without ever replacing an existing file.
fn place_without_overwrite(tmp: &Path, dest: &Path) -> std::io::Result<()> {
    match std::fs::hard_link(tmp, dest) {
        Ok(()) => std::fs::remove_file(tmp),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(e),
        // Some file systems have no hard links; a checked rename is the next best.
        Err(_) if !dest.exists() => std::fs::rename(tmp, dest),
        Err(_) => Err(std::io::Error::from(std::io::ErrorKind::AlreadyExists)),
    }
}

/// Writes `bytes` to a new 0600 file at `path` (which must not exist), synced.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = create_private(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// A temporary file that is removed when dropped, unless it was put in place.
struct TempFile {
    path: PathBuf,
    armed: bool,
}

impl TempFile {
    fn new(path: PathBuf) -> Self {
        TempFile { path, armed: true }
    }
    fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A temporary name in `dir` that listings never show.
fn temp_name(dir: &Path, final_name: &str) -> PathBuf {
    dir.join(format!(".{final_name}.{:08x}.partial", rand::random::<u32>()))
}

/// A size for people: "512 B", "1.5 KiB", "12.3 MiB", "2.0 GiB".
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A database name made of `base` and `suffix` that fits PostgreSQL's 63-byte limit:
/// `base` is shortened (on a character boundary) rather than letting the server
/// truncate the suffix away.
pub fn derived_db_name(base: &str, suffix: &str) -> String {
    const MAX: usize = 63;
    let room = MAX.saturating_sub(suffix.len());
    let mut end = base.len().min(room);
    while !base.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{suffix}", &base[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_follow_the_old_scripts() {
        let t = Local.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(file_name_for(&t), "profochatbot_backup_20240102_030405.dump");
        assert_eq!(candidate_name(&t, 1), "profochatbot_backup_20240102_030405.dump");
        assert_eq!(candidate_name(&t, 3), "profochatbot_backup_20240102_030405_3.dump");
        let back = time_from_file_name(&candidate_name(&t, 3)).unwrap();
        assert_eq!(back, t.fixed_offset());
        assert!(time_from_file_name("other.dump").is_none());
        assert!(time_from_file_name("profochatbot_backup_2024.dump").is_none());
    }

    #[test]
    fn derived_names_fit_in_63_bytes_and_keep_the_suffix() {
        assert_eq!(derived_db_name("profo", "_restore_20240101_000000"), "profo_restore_20240101_000000");
        let long = "б".repeat(40); // 80 bytes
        let name = derived_db_name(&long, "_before_restore_20240101_000000");
        assert!(name.len() <= 63, "{}", name.len());
        assert!(name.ends_with("_before_restore_20240101_000000"));
        assert!(name.starts_with('б'));
    }

    #[test]
    fn sizes_for_people() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(5 * 1024 * 1024), "5.0 MiB");
        assert_eq!(human_bytes(3 * 1024 * 1024 * 1024), "3.0 GiB");
    }

    #[test]
    fn sidecar_sits_beside_the_file() {
        assert_eq!(sidecar_path(Path::new("b/x.dump")), PathBuf::from("b/x.dump.json"));
    }

    #[test]
    fn placing_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("a.dump");
        std::fs::write(&dest, b"old").unwrap();
        let tmp = dir.path().join("tmp");
        std::fs::write(&tmp, b"new").unwrap();
        assert!(place_without_overwrite(&tmp, &dest).is_err());
        assert_eq!(std::fs::read(&dest).unwrap(), b"old");
        let dest2 = dir.path().join("b.dump");
        place_without_overwrite(&tmp, &dest2).unwrap();
        assert_eq!(std::fs::read(&dest2).unwrap(), b"new");
        assert!(!tmp.exists());
    }

    #[test]
    fn magic_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("g");
        std::fs::write(&good, b"PGDMP\x01\x0e").unwrap();
        let bad = dir.path().join("b");
        std::fs::write(&bad, b"-- PostgreSQL database dump").unwrap();
        let short = dir.path().join("s");
        std::fs::write(&short, b"PG").unwrap();
        assert!(has_dump_magic(&good).unwrap());
        assert!(!has_dump_magic(&bad).unwrap());
        assert!(!has_dump_magic(&short).unwrap());
    }
}
