//! Restoring a backup, in two steps: [`prepare_restore`] checks everything without
//! changing anything (the file, the tools, the target, other sessions), so the caller
//! can show what will happen and ask; [`restore`] then does it.
//!
//! The configured database is never restored into directly: the backup goes into a
//! fresh database first, and only when that succeeded are the two swapped by renaming
//! (in one transaction), keeping the old one under a `_before_restore_` name.
//!
//! A file that is not a custom-format dump is refused with exit status 4 (the input
//! is not something this command works on); a missing file is `NotFound` (10).
//!
//! The planning is here; the archive's header in [`archive`], the database's own
//! properties in [`properties`], the restore itself in [`run`].

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::Local;
use serde::Serialize;

use super::{derived_db_name, has_dump_magic, read_sidecar};
use crate::conn::{self, ConnSettings, Db};
use crate::error::{Error, Result};
use crate::server::{find_tool, tools::major_of, Tool};

mod archive;
mod properties;
mod run;

use archive::read_archive;
pub use archive::check_dump_version;
use properties::read_database_properties;
pub use run::restore;

const DATABASE_SQL: &str = include_str!("../../../sql/backup/database.sql");
const SESSIONS_SQL: &str = include_str!("../../../sql/backup/sessions.sql");
const TERMINATE_SQL: &str = include_str!("../../../sql/backup/terminate.sql");

/// How long sessions that are closing are waited for before a restore in place refuses.
const SESSION_PATIENCE: Duration = Duration::from_secs(3);

/// Where a backup goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "name")]
pub enum RestoreTarget {
    /// Replace the configured database (safely: restore beside it, then swap).
    Replace,
    /// A new database of this name, which must not exist.
    Into(String),
}

/// What `pg_restore -l` says about an archive.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ArchiveInfo {
    /// The database it was dumped from.
    pub dbname: String,
    pub created: String,
    /// Entries of the table of contents (what `pg_restore -v` works through).
    pub toc_entries: u64,
    pub dumped_from_server: String,
    pub dumped_by_pg_dump: String,
}

/// Other client sessions on a database.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Sessions {
    pub count: i64,
    pub applications: Vec<String>,
}

impl Sessions {
    fn describe(&self) -> String {
        format!(
            "{} other {} connected (applications: {})",
            self.count,
            if self.count == 1 { "session is" } else { "sessions are" },
            self.applications.join(", ")
        )
    }
}

/// Facts about an existing database that a replacement must match.
#[derive(Debug, Clone)]
struct DatabaseFacts {
    encoding: String,
    collate: String,
    ctype: String,
    owner: String,
    owned_by_me: bool,
}

/// Everything checked and decided before a restore; nothing has changed yet.
#[derive(Debug, Clone, Serialize)]
pub struct RestorePlan {
    pub file: PathBuf,
    pub size_bytes: u64,
    pub archive: ArchiveInfo,
    /// The backup's sidecar, if it has one.
    pub sidecar: Option<serde_json::Value>,
    pub target: RestoreTarget,
    /// The database that will hold the restored data.
    pub database: String,
    /// Where pg_restore writes: a new database (the target itself with --into).
    pub staging: String,
    /// With `Replace`: the name the current database will be kept under.
    pub previous_copy: Option<String>,
    /// Other sessions on the configured database when it was checked.
    pub other_sessions: Sessions,
    pub terminate_connections: bool,
    pub server_version: String,
    pub pg_restore_version: String,
    /// How the restored database is shown to people (never with the password).
    pub target_display: String,
    #[serde(skip)]
    settings: ConnSettings,
    #[serde(skip)]
    maintenance: ConnSettings,
    #[serde(skip)]
    pg_restore: Tool,
    #[serde(skip)]
    model: Option<DatabaseFacts>,
    /// The backup's database-level properties, given to the restored database.
    pub database_properties: DatabaseProperties,
}

/// What the backup says of its database itself: owner, privileges (`GRANT … ON
/// DATABASE`), comment, connection limit and settings (`ALTER DATABASE … SET`,
/// `ALTER ROLE … IN DATABASE … SET`). `pg_restore` applies these only when it creates
/// the database itself, which a restore beside the current database cannot let it do.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DatabaseProperties {
    pub owner: Option<String>,
    /// How many statements restore them (their text is not shown: a setting may hold anything).
    pub statements: usize,
    #[serde(skip)]
    sql: Vec<String>,
    /// Why they could not be read from the archive, if so.
    pub unreadable: Option<String>,
}

/// What a restore did.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreOutcome {
    pub file: PathBuf,
    pub database: String,
    /// The replaced database, kept under this name.
    pub previous_copy: Option<String>,
    pub items_restored: u64,
    pub sessions_terminated: i64,
    pub elapsed_ms: u64,
}

/// Checks the file, the tools and the target without changing anything.
pub async fn prepare_restore(
    settings: &ConnSettings,
    file: &Path,
    target: RestoreTarget,
    terminate_connections: bool,
) -> Result<RestorePlan> {
    prepare_restore_checked(settings, file, target, terminate_connections, true).await
}

/// [`prepare_restore`]; with `from_other_database` false, a backup of another database
/// than the configured one does not replace it (a restore `--into` a new database may
/// take any).
pub async fn prepare_restore_checked(
    settings: &ConnSettings,
    file: &Path,
    target: RestoreTarget,
    terminate_connections: bool,
    from_other_database: bool,
) -> Result<RestorePlan> {
    let meta = match std::fs::metadata(file) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::NotFound {
                kind: "backup file".into(),
                name: file.display().to_string(),
                hint: "`profochat-saas backups` lists the backups in ./backups (use --backup-dir DIR for another directory).".into(),
            })
        }
        Err(e) => {
            return Err(Error::io(format!("cannot read {}", file.display()), e, "Nothing was changed."));
        }
    };
    let magic = if meta.is_file() { has_dump_magic(file) } else { Ok(false) };
    match magic {
        Ok(true) => {}
        Ok(false) => return Err(not_a_dump(file)),
        Err(e) => return Err(Error::io(format!("cannot read {}", file.display()), e, "Nothing was changed.")),
    }

    if let RestoreTarget::Into(name) = &target {
        if name.trim().is_empty() || name.len() > 63 || name.contains('\0') {
            return Err(Error::Config {
                message: format!("{name:?} cannot be a database name (1 to 63 bytes, no NUL)"),
                hint: "Nothing was changed. Choose another name with --into.".into(),
            });
        }
    }
    let configured = settings.dbname.clone();
    let maintenance_db = connect_maintenance(settings, &configured).await?;
    let maintenance = maintenance_db.settings.clone();
    let (version_num, server_version): (i32, String) = {
        let row = maintenance_db
            .query_one("SELECT current_setting('server_version_num')::int4, current_setting('server_version')", &[])
            .await
            .map_err(|e| Error::query("reading the server version", &e, "Nothing was changed."))?;
        (row.get(0), row.get(1))
    };
    let pg_restore = find_tool("pg_restore", Some(major_of(version_num)))?;
    let archive = read_archive(&pg_restore, file).await?;
    check_dump_version(&pg_restore, &archive.dumped_by_pg_dump)?;
    if target == RestoreTarget::Replace && !from_other_database && !archive.dbname.is_empty() && archive.dbname != configured {
        return Err(Error::refused(
            format!(
                "{} is a backup of database {:?}, not of {configured:?}, the configured database it would replace",
                file.display(),
                archive.dbname
            ),
            "`profochat-saas backups` shows each backup's database. Restore it beside the configured one with --into NAME, \
             or pass --from-other-database if it really is to replace it.",
        ));
    }
    let database_properties = read_database_properties(&pg_restore, file).await;

    let configured_facts = database_facts(&maintenance_db, &configured).await?;
    let stamp = Local::now().format("%Y%m%d_%H%M%S").to_string();
    let (database, staging, previous_copy, other_sessions) = match &target {
        RestoreTarget::Into(name) => {
            if database_facts(&maintenance_db, name).await?.is_some() {
                return Err(Error::state(
                    format!("database {name:?} already exists on the server, and --into only restores into a new database"),
                    "Choose another name with --into, or drop that database first if you no longer need it.",
                ));
            }
            (name.clone(), name.clone(), None, Sessions::default())
        }
        RestoreTarget::Replace => {
            let staging = free_db_name(&maintenance_db, &configured, &format!("_restore_{stamp}")).await?;
            let (previous, sessions) = if configured_facts.is_some() {
                let previous = free_db_name(&maintenance_db, &configured, &format!("_before_restore_{stamp}")).await?;
                let patience = if terminate_connections { Duration::ZERO } else { SESSION_PATIENCE };
                let sessions = settled_sessions(&maintenance_db, &configured, patience).await?;
                if sessions.count > 0 && !terminate_connections {
                    return Err(busy(&configured, &sessions));
                }
                (Some(previous), sessions)
            } else {
                (None, Sessions::default())
            };
            (configured.clone(), staging, previous, sessions)
        }
    };

    Ok(RestorePlan {
        file: file.to_path_buf(),
        size_bytes: meta.len(),
        sidecar: read_sidecar(file),
        archive,
        target,
        target_display: settings.with_dbname(&database).display_target(),
        database,
        staging,
        previous_copy,
        other_sessions,
        terminate_connections,
        server_version,
        pg_restore_version: pg_restore.version.clone(),
        settings: settings.clone(),
        maintenance,
        pg_restore,
        model: configured_facts,
        database_properties,
    })
}

fn not_a_dump(file: &Path) -> Error {
    Error::state(
        format!("{} is not a pg_dump custom-format backup (it does not start with the PGDMP signature)", file.display()),
        "Give a .dump file written by `profochat-saas backup` or `pg_dump -Fc`; a plain SQL dump is restored with `psql -f FILE`.",
    )
}

fn busy(database: &str, sessions: &Sessions) -> Error {
    Error::refused(
        format!("database {database:?} cannot be replaced while it is in use: {}", sessions.describe()),
        "Stop the bot (or the other clients) and run again, or add --terminate-connections to end those sessions.",
    )
}

/// The maintenance database: `postgres`, else `template1` (never `avoid`, the one to be renamed).
async fn connect_maintenance(settings: &ConnSettings, avoid: &str) -> Result<Db> {
    let mut first_error = None;
    for name in ["postgres", "template1"] {
        if name == avoid {
            continue;
        }
        match conn::connect(&settings.with_dbname(name)).await {
            Ok(db) => return Ok(db),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.expect("at least one maintenance database was tried"))
}

async fn database_facts(db: &Db, name: &str) -> Result<Option<DatabaseFacts>> {
    let row = db
        .query_opt(DATABASE_SQL, &[&name])
        .await
        .map_err(|e| Error::query("looking up a database", &e, "Nothing was changed."))?;
    Ok(row.map(|r| DatabaseFacts {
        encoding: r.get(1),
        collate: r.get(2),
        ctype: r.get(3),
        owner: r.get(4),
        owned_by_me: r.get(5),
    }))
}

/// Other sessions on `name`, giving sessions that are just closing (a client that
/// disconnected a moment ago) up to `patience` to go away.
async fn settled_sessions(db: &Db, name: &str, patience: Duration) -> Result<Sessions> {
    let deadline = Instant::now() + patience;
    loop {
        let sessions = other_sessions(db, name).await?;
        if sessions.count == 0 || Instant::now() >= deadline {
            return Ok(sessions);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn other_sessions(db: &Db, name: &str) -> Result<Sessions> {
    let row = db
        .query_one(SESSIONS_SQL, &[&name])
        .await
        .map_err(|e| Error::query("counting the sessions on the database", &e, "Nothing was changed."))?;
    Ok(Sessions {
        count: row.get(0),
        applications: row.get(1),
    })
}

/// `base` + `suffix`, or with `_2`, `_3`, ... if taken.
async fn free_db_name(db: &Db, base: &str, suffix: &str) -> Result<String> {
    for n in 1..100 {
        let suffix = if n == 1 { suffix.to_string() } else { format!("{suffix}_{n}") };
        let name = derived_db_name(base, &suffix);
        if database_facts(db, &name).await?.is_none() {
            return Ok(name);
        }
    }
    Err(Error::state(
        format!("too many databases named {base}{suffix}_N exist"),
        "Drop the old restore copies you no longer need.",
    ))
}

