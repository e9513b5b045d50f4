//! The archive itself: `pg_restore -l`'s header, and whether this `pg_restore` can read it.

use std::path::Path;

use std::process::Stdio;

use super::ArchiveInfo;
use crate::error::{Error, Result};
use crate::server::Tool;

/// Refuses an archive written by a newer `pg_dump` than this `pg_restore`.
pub fn check_dump_version(pg_restore: &Tool, dumped_by: &str) -> Result<()> {
    let Some(dump_major) = leading_major(dumped_by) else {
        return Ok(());
    };
    if pg_restore.major >= dump_major {
        return Ok(());
    }
    Err(Error::Tool {
        tool: "pg_restore".into(),
        message: format!(
            "{} is version {}, but the backup was written by pg_dump {}; an older pg_restore cannot be trusted to read it",
            pg_restore.path.display(),
            pg_restore.version,
            dumped_by.split_whitespace().next().unwrap_or(dumped_by)
        ),
        hint: format!("Nothing was changed. Install the PostgreSQL {dump_major} client programs (apt-get install postgresql-client-{dump_major}) and run again."),
    })
}

fn leading_major(version: &str) -> Option<u32> {
    version.trim().split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// Reads the header of `pg_restore -l FILE`.
pub(crate) fn parse_archive_listing(text: &str) -> ArchiveInfo {
    let mut info = ArchiveInfo::default();
    let mut listed = 0;
    for line in text.lines() {
        let Some(comment) = line.strip_prefix(';') else {
            if !line.trim().is_empty() {
                listed += 1;
            }
            continue;
        };
        let comment = comment.trim();
        if let Some(v) = comment.strip_prefix("Archive created at ") {
            info.created = v.trim().to_string();
        } else if let Some((key, value)) = comment.split_once(':') {
            let value = value.trim().to_string();
            match key.trim() {
                "dbname" => info.dbname = value,
                "TOC Entries" => info.toc_entries = value.parse().unwrap_or(0),
                "Dumped from database version" => info.dumped_from_server = value,
                "Dumped by pg_dump version" => info.dumped_by_pg_dump = value,
                _ => {}
            }
        }
    }
    if info.toc_entries == 0 {
        info.toc_entries = listed;
    }
    info
}

pub(super) async fn read_archive(pg_restore: &Tool, file: &Path) -> Result<ArchiveInfo> {
    let out = tokio::process::Command::new(&pg_restore.path)
        .arg("--list")
        .arg(file)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| Error::Tool {
            tool: "pg_restore".into(),
            message: format!("cannot start {}: {e}", pg_restore.path.display()),
            hint: "Nothing was changed.".into(),
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let cause = stderr.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ");
        return Err(Error::Tool {
            tool: "pg_restore".into(),
            message: format!("{} (version {}) cannot read {}: {cause}", pg_restore.path.display(), pg_restore.version, file.display()),
            hint: "Nothing was changed. If the backup comes from a newer PostgreSQL, install its client programs; otherwise the file is damaged or incomplete (an interrupted copy?): try another backup.".into(),
        });
    }
    Ok(parse_archive_listing(&String::from_utf8_lossy(&out.stdout)))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    const LISTING: &str = ";\n; Archive created at 2026-11-24 19:40:05 UTC\n;     dbname: bk_probe\n;     TOC Entries: 55\n;     Compression: -1\n;     Dump Version: 1.14-0\n;     Format: CUSTOM\n;     Dumped from database version: 15.20 (Debian 15.20-0+deb12u1)\n;     Dumped by pg_dump version: 16.4 (Debian 16.4-1)\n;\n;\n; Selected TOC Entries:\n;\n226; 1259 17429 TABLE public bannedparticipants root\n225; 1259 17428 SEQUENCE public bannedparticipant_id_seq root\n";

    fn pg_restore(major: u32, version: &str) -> Tool {
        Tool {
            name: "pg_restore".into(),
            path: PathBuf::from("/usr/bin/pg_restore"),
            major,
            version: version.into(),
        }
    }

    #[test]
    fn archive_header_is_read() {
        let info = parse_archive_listing(LISTING);
        assert_eq!(info.dbname, "bk_probe");
        assert_eq!(info.toc_entries, 55);
        assert_eq!(info.dumped_from_server, "15.20 (Debian 15.20-0+deb12u1)");
        assert_eq!(info.dumped_by_pg_dump, "16.4 (Debian 16.4-1)");
        assert_eq!(info.created, "2026-11-24 19:40:05 UTC");
    }

    #[test]
    fn without_a_count_the_listed_entries_are_counted() {
        let info = parse_archive_listing("; Selected TOC Entries:\n1; 2 3 TABLE a\n4; 5 6 TABLE b\n");
        assert_eq!(info.toc_entries, 2);
    }

    #[test]
    fn pg_restore_older_than_the_dump_is_refused_naming_both() {
        let err = check_dump_version(&pg_restore(15, "15.20"), "16.4 (Debian 16.4-1)").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("15.20") && text.contains("pg_dump 16.4"), "{text}");
        assert_eq!(err.exit_status(), crate::ExitStatus::Tool);
        assert!(check_dump_version(&pg_restore(16, "16.1"), "16.4").is_ok());
        assert!(check_dump_version(&pg_restore(15, "15.2"), "9.6.24").is_ok());
        assert!(check_dump_version(&pg_restore(15, "15.2"), "").is_ok());
    }

}
