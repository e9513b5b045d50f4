//! Taking a backup: `pg_dump -Fc` of the configured database, written through its
//! standard output into a private temporary file that is put in place only when the
//! dump succeeded.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use chrono::Local;
use tokio::io::AsyncReadExt;

use super::process;
use super::{
    candidate_name_with, create_private, ensure_dir, place_without_overwrite, sidecar_path, temp_name, write_private,
    BackupInfo, Sidecar, TempFile, DUMP_STEP,
};
use crate::conn::{self, ConnSettings, Db};
use crate::error::{Error, Result};
use crate::fingerprint::{self, Fingerprints};
use crate::report::Reporter;
use crate::schema::{self, SchemaState};
use crate::server::{find_tool, tools::major_of};

const FINGERPRINT_STEP: &str = "fingerprinting the legacy tables";

const NOTHING_WRITTEN: &str = "The database was not changed and no backup file was left behind.";

/// Dumps the configured database into `<dir>/profochatbot_backup_YYYYMMDD_HHMMSS.dump`
/// (mode 0600; `dir` is created with 0700 if missing) and writes its sidecar.
/// A name that exists gets a `_2`, `_3`, ... suffix: nothing is ever overwritten.
/// Progress is reported in bytes written under [`DUMP_STEP`].
pub async fn create(settings: &ConnSettings, dir: &Path, reporter: &dyn Reporter) -> Result<BackupInfo> {
    create_named(settings, dir, super::FILE_PREFIX, reporter).await
}

/// The same, under `<dir>/<prefix>YYYYMMDD_HHMMSS.dump` (e.g. what `rollback` saves).
pub async fn create_named(settings: &ConnSettings, dir: &Path, prefix: &str, reporter: &dyn Reporter) -> Result<BackupInfo> {
    let db = conn::connect(settings).await?;
    let snapshot = export_snapshot(&db).await;
    if snapshot.is_none() {
        reporter.warn("the server could not export a snapshot; the facts recorded beside the backup are read just before the dump, not in the same snapshot");
    }
    let status = schema::inspect(&db).await?;
    if matches!(status.state, SchemaState::Empty | SchemaState::NotProfochat | SchemaState::IncompleteLegacy) {
        reporter.warn(&format!(
            "{} is {}; backing it up anyway",
            settings.display_target(),
            status.state.describe()
        ));
    }
    let fingerprints = match status.legacy_tables_missing.is_empty() {
        true => take_fingerprints(&db, snapshot.is_some(), reporter).await,
        false => None,
    };
    let pg_dump = find_tool("pg_dump", Some(major_of(status.server_version_num)))?;
    let mut new_dir = ensure_dir(dir)?;

    let created = Local::now();
    let first_name = candidate_name_with(prefix, &created, 1);
    let mut tmp = TempFile::new(temp_name(dir, &first_name));
    let file = create_private(&tmp.path).map_err(|e| {
        Error::io(
            format!("cannot create a file in the backup directory {}", dir.display()),
            e,
            "Nothing was changed. Check that the directory is writable, or choose another with --backup-dir.",
        )
    })?;

    let started = Instant::now();
    reporter.started(DUMP_STEP, None);
    let size_bytes = run_pg_dump(&pg_dump, settings, snapshot.as_deref(), file, &tmp.path, reporter).await?;
    reporter.finished(DUMP_STEP, started.elapsed(), &super::human_bytes(size_bytes));
    if snapshot.is_some() {
        // The snapshot only had to live as long as pg_dump needed it.
        let _ = db.batch_execute("COMMIT").await;
    }

    let sidecar = Sidecar {
        tool: env!("CARGO_PKG_NAME").to_string(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        created_at: created.fixed_offset(),
        source: settings.masked_url(),
        database: settings.dbname.clone(),
        server_version: status.server_version.clone(),
        pg_dump_version: pg_dump.version.clone(),
        schema_state: serde_json::to_value(status.state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| "unknown".into()),
        consistent_snapshot: snapshot.is_some(),
        fingerprints,
    };
    let sidecar_json = serde_json::to_vec_pretty(&sidecar).map_err(|e| {
        Error::io("cannot encode the backup description", std::io::Error::other(e), NOTHING_WRITTEN)
    })?;
    let mut sidecar_tmp = TempFile::new(temp_name(dir, &format!("{first_name}.json")));
    write_private(&sidecar_tmp.path, &sidecar_json).map_err(|e| {
        Error::io(format!("cannot write the backup description in {}", dir.display()), e, NOTHING_WRITTEN)
    })?;

    let path = place(dir, prefix, &created, &tmp.path, &sidecar_tmp.path)?;
    tmp.disarm();
    sidecar_tmp.disarm();
    new_dir.keep();
    sync_dir(dir);
    Ok(BackupInfo {
        sidecar_path: sidecar_path(&path),
        path,
        size_bytes,
        created_at: created.fixed_offset(),
        sidecar,
    })
}

/// Fingerprints of the legacy tables, read in the dump's snapshot, for proving later
/// that a restore or a rollback gave back the same rows. A failure costs the sidecar
/// its fingerprints, not the backup.
async fn take_fingerprints(db: &Db, in_transaction: bool, reporter: &dyn Reporter) -> Option<Fingerprints> {
    // A failed statement must not end the transaction that holds the dump's snapshot.
    if in_transaction && db.batch_execute("SAVEPOINT fingerprints").await.is_err() {
        return None;
    }
    let started = Instant::now();
    reporter.started(FINGERPRINT_STEP, None);
    match fingerprint::take(&db.client).await {
        Ok(f) => {
            let rows: i64 = f.tables.values().map(|t| t.rows).sum();
            reporter.finished(FINGERPRINT_STEP, started.elapsed(), &format!("{rows} rows in {} tables", f.tables.len()));
            Some(f)
        }
        Err(e) => {
            if in_transaction {
                let _ = db.batch_execute("ROLLBACK TO SAVEPOINT fingerprints").await;
            }
            reporter.finished(FINGERPRINT_STEP, started.elapsed(), "failed");
            reporter.warn(&format!("the backup's description will have no fingerprints: {e}"));
            None
        }
    }
}

/// Starts a read-only REPEATABLE READ transaction and exports its snapshot. `None`
/// when the server cannot (the transaction is then rolled back).
async fn export_snapshot(db: &Db) -> Option<String> {
    if db.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY").await.is_err() {
        return None;
    }
    match db.query_one(include_str!("../../sql/backup/snapshot.sql"), &[]).await {
        Ok(row) => Some(row.get(0)),
        Err(e) => {
            tracing::debug!("pg_export_snapshot failed: {}", crate::error::pg_error_text(&e));
            let _ = db.batch_execute("ROLLBACK").await;
            None
        }
    }
}

/// Runs pg_dump with its standard output on `file` (opened here, mode 0600), and
/// reports the file's growth. A regular file as standard output is seekable, so
/// pg_dump records the data offsets that let `pg_restore --jobs` jump straight to
/// each table. Returns the size.
async fn run_pg_dump(
    tool: &crate::server::Tool,
    settings: &ConnSettings,
    snapshot: Option<&str>,
    file: std::fs::File,
    tmp_path: &Path,
    reporter: &dyn Reporter,
) -> Result<u64> {
    let write_error = |e: std::io::Error| {
        Error::io(
            format!("writing the backup in {} failed", tmp_path.parent().unwrap_or(tmp_path).display()),
            e,
            format!("{NOTHING_WRITTEN} Free some space or choose another directory with --backup-dir."),
        )
    };
    let to_sync = file.try_clone().map_err(write_error)?;
    let mut cmd = process::command(tool, settings);
    cmd.arg("--format=custom");
    if let Some(id) = snapshot {
        cmd.arg(format!("--snapshot={id}"));
    }
    cmd.stdout(Stdio::from(file)).stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| Error::Tool {
        tool: "pg_dump".into(),
        message: format!("cannot start {}: {e}", tool.path.display()),
        hint: NOTHING_WRITTEN.into(),
    })?;
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let stderr_task = tokio::spawn(async move {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf).await;
        String::from_utf8_lossy(&buf).into_owned()
    });

    let mut ticker = tokio::time::interval(std::time::Duration::from_millis(200));
    let exit = loop {
        tokio::select! {
            exit = child.wait() => break exit,
            _ = ticker.tick() => {
                if let Ok(meta) = to_sync.metadata() {
                    reporter.progress(meta.len());
                }
            }
        }
    };
    let exit = exit.map_err(|e| Error::Tool {
        tool: "pg_dump".into(),
        message: format!("waiting for it failed: {e}"),
        hint: NOTHING_WRITTEN.into(),
    })?;
    let stderr = stderr_task.await.unwrap_or_default();
    if !exit.success() {
        return Err(Error::Tool {
            tool: "pg_dump".into(),
            message: format!(
                "dumping {} failed ({exit}): {}",
                settings.display_target(),
                process::failure_summary(&stderr, settings)
            ),
            hint: format!("{NOTHING_WRITTEN} Fix the cause above and run again."),
        });
    }
    to_sync.sync_all().map_err(write_error)?;
    let written = to_sync.metadata().map_err(write_error)?.len();
    reporter.progress(written);
    for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
        reporter.warn(&process::scrub(line, settings));
    }
    if written < super::DUMP_MAGIC.len() as u64 {
        return Err(Error::Tool {
            tool: "pg_dump".into(),
            message: format!("it ended successfully but wrote only {written} bytes"),
            hint: NOTHING_WRITTEN.into(),
        });
    }
    Ok(written)
}

/// Puts the dump and its sidecar in place under the first free name.
fn place(dir: &Path, prefix: &str, created: &chrono::DateTime<Local>, dump_tmp: &Path, sidecar_tmp: &Path) -> Result<PathBuf> {
    let fail = |e: std::io::Error| {
        Error::io(
            format!("cannot put the backup in place in {}", dir.display()),
            e,
            "The database was not changed. Check the directory's permissions and run again.",
        )
    };
    for n in 1..=1000 {
        let dest = dir.join(candidate_name_with(prefix, created, n));
        let dest_sidecar = sidecar_path(&dest);
        if dest.exists() || dest_sidecar.exists() {
            continue;
        }
        match place_without_overwrite(dump_tmp, &dest) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(fail(e)),
        }
        if let Err(e) = place_without_overwrite(sidecar_tmp, &dest_sidecar) {
            let _ = std::fs::remove_file(&dest);
            return Err(fail(e));
        }
        return Ok(dest);
    }
    Err(fail(std::io::Error::from(std::io::ErrorKind::AlreadyExists)))
}

/// Makes the new directory entries durable; a failure here only weakens crash safety.
fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}
