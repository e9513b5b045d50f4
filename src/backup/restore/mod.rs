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

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use chrono::Local;
use serde::Serialize;
use tokio::io::{AsyncBufReadExt, BufReader};

use super::{derived_db_name, has_dump_magic, process, read_sidecar, RESTORE_STEP};
use crate::conn::{self, ConnSettings, Db};
use crate::error::{pg_error_text, Error, Result};
use crate::report::Reporter;
use crate::server::{find_tool, tools::major_of, Tool};
use crate::sql::{ident, literal};

const DATABASE_SQL: &str = include_str!("../../sql/backup/database.sql");
const SESSIONS_SQL: &str = include_str!("../../sql/backup/sessions.sql");
const TERMINATE_SQL: &str = include_str!("../../sql/backup/terminate.sql");

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

/// Restores as planned. On failure the configured database is as it was, and the
/// partly restored database is removed.
pub async fn restore(plan: &RestorePlan, reporter: &dyn Reporter) -> Result<RestoreOutcome> {
    let started = Instant::now();
    let admin = conn::connect(&plan.maintenance).await?;
    let untouched = match &plan.target {
        RestoreTarget::Replace => format!("The database {:?} was not touched.", plan.database),
        RestoreTarget::Into(_) => "No existing database was touched.".to_string(),
    };

    create_database(&admin, &plan.staging, plan.model.as_ref()).await.map_err(|e| Error::Query {
        context: format!("creating the database {:?}", plan.staging),
        cause: pg_error_text(&e),
        unchanged: format!("{untouched} Check that the user may create databases (CREATEDB)."),
    })?;
    let staging_settings = plan.settings.with_dbname(&plan.staging);
    let items = match run_pg_restore(plan, &staging_settings, reporter).await {
        Ok(items) => items,
        Err(cause) => {
            let dropped = drop_database(&admin, &plan.staging).await;
            return Err(Error::Tool {
                tool: "pg_restore".into(),
                message: format!("restoring {} into the new database {:?} failed: {cause}", plan.file.display(), plan.staging),
                hint: format!(
                    "{untouched} {} If it failed on a role that does not exist on this server, create that role first; if it failed on the archive itself, try another backup.",
                    if dropped { format!("The partly restored database {:?} was removed.", plan.staging) } else { format!("The partly restored database {:?} could not be removed: drop it by hand.", plan.staging) }
                ),
            });
        }
    };

    apply_database_properties(&admin, plan, reporter).await;

    let mut sessions_terminated = 0;
    if plan.target == RestoreTarget::Replace {
        match swap(&admin, plan).await {
            Ok(ended) => sessions_terminated = ended,
            Err(e) => {
                let dropped = drop_database(&admin, &plan.staging).await;
                let removed = if dropped {
                    format!("the restored copy {:?} was removed", plan.staging)
                } else {
                    format!("the restored copy {:?} is left over: drop it by hand", plan.staging)
                };
                return Err(match e {
                    SwapError::Busy(sessions) => Error::refused(
                        format!(
                            "the backup was restored, but database {:?} cannot be replaced: {}; {removed}",
                            plan.database,
                            sessions.describe()
                        ),
                        "Stop the bot (or the other clients) and run again, or add --terminate-connections to end those sessions.",
                    ),
                    SwapError::Failed(cause) => Error::Query {
                        context: format!("swapping {:?} in place of {:?}", plan.staging, plan.database),
                        cause,
                        unchanged: format!("{untouched} {}.", capitalize(&removed)),
                    },
                });
            }
        }
    }
    Ok(RestoreOutcome {
        file: plan.file.clone(),
        database: plan.database.clone(),
        previous_copy: plan.previous_copy.clone(),
        items_restored: items,
        sessions_terminated,
        elapsed_ms: started.elapsed().as_millis() as u64,
    })
}

/// Gives the restored database the backup's owner, privileges and settings (else, for
/// a backup that holds none, the replaced database's owner). What cannot be applied (a
/// role missing on this server, a privilege the user lacks) is said, not fatal: the
/// data is restored.
async fn apply_database_properties(admin: &Db, plan: &RestorePlan, reporter: &dyn Reporter) {
    let props = &plan.database_properties;
    if let Some(why) = &props.unreadable {
        reporter.warn(&format!(
            "the backup's database-level privileges and settings could not be read ({why}); the restored database {:?} has the server's defaults: check them with \\l+ and \\drds in psql",
            plan.database
        ));
    }
    let mut failed = vec![];
    for stmt in &props.sql {
        let sql = retarget(stmt, &plan.archive.dbname, &plan.staging);
        if let Err(e) = admin.batch_execute(&sql).await {
            failed.push(pg_error_text(&e));
        }
    }
    if !failed.is_empty() {
        reporter.warn(&format!(
            "{} of the backup's {} database-level privileges and settings could not be given to {:?}: {}",
            failed.len(),
            props.sql.len(),
            plan.database,
            failed.join("; ")
        ));
    }
    // The owner last: changing it first could take away the right to grant.
    let owner = props
        .owner
        .clone()
        .or_else(|| plan.model.as_ref().filter(|m| !m.owned_by_me).map(|m| m.owner.clone()));
    if let Some(owner) = owner.filter(|o| *o != plan.settings.user) {
        let sql = format!("ALTER DATABASE {} OWNER TO {}", ident(&plan.staging), ident(&owner));
        if let Err(e) = admin.batch_execute(&sql).await {
            reporter.warn(&format!(
                "the restored database {:?} is owned by {:?}, not by {owner:?} as in the backup: {}",
                plan.database,
                plan.settings.user,
                pg_error_text(&e)
            ));
        }
    }
}

/// The backup's database-level statements, from `pg_restore --create` limited to the
/// database's own entries. `CREATE DATABASE` is left out (the database exists) and the
/// owner is kept apart, to be set last.
async fn read_database_properties(pg_restore: &Tool, file: &Path) -> DatabaseProperties {
    match database_statements(pg_restore, file).await {
        Ok((owner, sql)) => DatabaseProperties {
            owner,
            statements: sql.len(),
            sql,
            unreadable: None,
        },
        Err(why) => DatabaseProperties {
            unreadable: Some(why),
            ..DatabaseProperties::default()
        },
    }
}

async fn database_statements(pg_restore: &Tool, file: &Path) -> std::result::Result<(Option<String>, Vec<String>), String> {
    let run = |args: Vec<std::ffi::OsString>| async move {
        let out = tokio::process::Command::new(&pg_restore.path)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|e| format!("cannot start {}: {e}", pg_restore.path.display()))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; "));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let listing = run(vec!["--create".into(), "--list".into(), file.into()]).await?;
    let (owner, entries) = database_entries(&listing);
    if entries.is_empty() {
        return Ok((owner, vec![]));
    }
    let list = tempfile::NamedTempFile::new().map_err(|e| format!("cannot write a temporary list file: {e}"))?;
    std::fs::write(list.path(), entries.join("\n") + "\n").map_err(|e| format!("cannot write a temporary list file: {e}"))?;
    let script = run(vec!["--create".into(), "--use-list".into(), list.path().into(), "--file=-".into(), file.into()]).await?;
    Ok((owner, database_sql(&script)))
}

/// From `pg_restore --create --list`: the database's owner and the entries that belong
/// to the database itself (its comment, privileges and properties).
pub(crate) fn database_entries(listing: &str) -> (Option<String>, Vec<String>) {
    let mut owner = None;
    let mut entries = vec![];
    for line in listing.lines().filter(|l| !l.starts_with(';')) {
        // "ID; CATALOG-OID OBJECT-OID DESCRIPTION SCHEMA TAG OWNER"
        let mut parts = line.splitn(4, ' ');
        let Some(desc) = parts.nth(3) else {
            continue;
        };
        if let Some(rest) = desc.strip_prefix("DATABASE - ") {
            // "DATABASE - name owner": the owner is the last word.
            owner = rest.rsplit_once(' ').map(|(_, o)| o.to_string());
        } else if desc.starts_with("DATABASE PROPERTIES - ") || desc.starts_with("COMMENT - DATABASE ") || desc.starts_with("ACL - DATABASE ") || desc.starts_with("SECURITY LABEL - DATABASE ") {
            entries.push(line.to_string());
        }
    }
    (owner, entries)
}

/// The SQL statements of a `pg_restore --file=-` script, without psql's meta-commands,
/// the session settings, `CREATE DATABASE` and the owner change.
pub(crate) fn database_sql(script: &str) -> Vec<String> {
    let mut out = vec![];
    let mut current = String::new();
    for line in script.lines() {
        if current.is_empty() {
            let t = line.trim();
            if t.is_empty() || t.starts_with("--") || t.starts_with('\\') {
                continue;
            }
        }
        if !current.is_empty() {
            current.push('\n');
        }
        current.push_str(line);
        // A statement ends with ';' outside a string literal.
        if current.trim_end().ends_with(';') && current.matches('\'').count() % 2 == 0 {
            let stmt = std::mem::take(&mut current);
            let upper = stmt.trim_start().to_uppercase();
            let skip = upper.starts_with("SET ")
                || upper.starts_with("RESET ")
                || upper.starts_with("SELECT PG_CATALOG.SET_CONFIG")
                || upper.starts_with("CREATE DATABASE ")
                || (upper.starts_with("ALTER DATABASE ") && upper.contains(" OWNER TO "));
            if !skip {
                out.push(stmt.trim().to_string());
            }
        }
    }
    out
}

/// `stmt` with the database `from` (as pg_dump wrote its name, quoted or not) renamed `to`.
pub(crate) fn retarget(stmt: &str, from: &str, to: &str) -> String {
    let quoted = ident(from);
    let mut candidates = vec![format!("DATABASE {quoted}")];
    if from.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
        candidates.push(format!("DATABASE {from}"));
    }
    for c in candidates {
        let mut search = 0;
        while let Some(i) = stmt[search..].find(&c) {
            let at = search + i;
            let end = at + c.len();
            let next = stmt[end..].chars().next();
            if matches!(next, None | Some(' ') | Some(';') | Some('\n')) {
                return format!("{}DATABASE {}{}", &stmt[..at], ident(to), &stmt[end..]);
            }
            search = end;
        }
    }
    stmt.to_string()
}

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

async fn read_archive(pg_restore: &Tool, file: &Path) -> Result<ArchiveInfo> {
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

async fn create_database(db: &Db, name: &str, model: Option<&DatabaseFacts>) -> std::result::Result<(), tokio_postgres::Error> {
    let mut sql = format!("CREATE DATABASE {} TEMPLATE template0", ident(name));
    if let Some(m) = model {
        sql.push_str(&format!(
            " ENCODING {} LC_COLLATE {} LC_CTYPE {}",
            literal(&m.encoding),
            literal(&m.collate),
            literal(&m.ctype)
        ));
    }
    db.batch_execute(&sql).await
}

async fn drop_database(db: &Db, name: &str) -> bool {
    db.batch_execute(&format!("DROP DATABASE IF EXISTS {}", ident(name))).await.is_ok()
}

enum SwapError {
    Busy(Sessions),
    Failed(String),
}

/// Renames the configured database away and the restored one into its place, in one
/// transaction. Returns how many sessions were ended.
async fn swap(admin: &Db, plan: &RestorePlan) -> std::result::Result<i64, SwapError> {
    let failed = |e: tokio_postgres::Error| SwapError::Failed(pg_error_text(&e));
    let Some(previous) = &plan.previous_copy else {
        let sql = format!("ALTER DATABASE {} RENAME TO {}", ident(&plan.staging), ident(&plan.database));
        return admin.batch_execute(&sql).await.map(|()| 0).map_err(failed);
    };
    let sql = format!(
        "BEGIN; ALTER DATABASE {db} RENAME TO {previous}; ALTER DATABASE {staging} RENAME TO {db}; COMMIT;",
        db = ident(&plan.database),
        previous = ident(previous),
        staging = ident(&plan.staging),
    );
    let mut terminated = 0;
    // Clients may reconnect between ending their sessions and the rename: try a few times.
    for attempt in 0..3 {
        let patience = if plan.terminate_connections { Duration::ZERO } else { SESSION_PATIENCE };
        let sessions = settled_sessions(admin, &plan.database, patience)
            .await
            .map_err(|e| SwapError::Failed(e.to_string()))?;
        if sessions.count > 0 {
            if !plan.terminate_connections {
                return Err(SwapError::Busy(sessions));
            }
            let row = admin.query_one(TERMINATE_SQL, &[&plan.database]).await.map_err(failed)?;
            terminated += row.get::<_, i64>(0);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        match admin.batch_execute(&sql).await {
            Ok(()) => return Ok(terminated),
            Err(e) => {
                let _ = admin.batch_execute("ROLLBACK").await;
                let in_use = e.as_db_error().is_some_and(|d| d.code().code() == "55006");
                if !in_use || attempt == 2 {
                    if in_use && !plan.terminate_connections {
                        let sessions = other_sessions(admin, &plan.database).await.unwrap_or_default();
                        return Err(SwapError::Busy(sessions));
                    }
                    return Err(failed(e));
                }
            }
        }
    }
    unreachable!("the loop returns on its last attempt")
}

/// Runs pg_restore into `target`, reporting items done. Returns the number of items,
/// or the cause of the failure (cleaned of secrets).
async fn run_pg_restore(plan: &RestorePlan, target: &ConnSettings, reporter: &dyn Reporter) -> std::result::Result<u64, String> {
    let mut cmd = process::command(&plan.pg_restore, target);
    cmd.args(["--verbose", "--exit-on-error", "--jobs=2"])
        .arg(format!("--dbname={}", process::dbname_conninfo(&target.dbname)))
        .arg(&plan.file)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("cannot start {}: {e}", plan.pg_restore.path.display()))?;
    let stderr = child.stderr.take().expect("stderr is piped");
    let total = plan.archive.toc_entries.max(1);
    let started = Instant::now();
    reporter.started(RESTORE_STEP, Some(total));
    let mut lines = BufReader::new(stderr).lines();
    let mut done: u64 = 0;
    let mut notable: Vec<String> = vec![];
    while let Ok(Some(line)) = lines.next_line().await {
        if is_item_done(&line) {
            done += 1;
            reporter.progress(done.min(total));
        } else if is_notable(&line) {
            if notable.len() >= 50 {
                notable.remove(0);
            }
            notable.push(line);
        }
    }
    let status = child.wait().await.map_err(|e| format!("waiting for pg_restore failed: {e}"))?;
    if !status.success() {
        return Err(format!("{status}: {}", process::failure_summary(&notable.join("\n"), target)));
    }
    reporter.progress(total);
    for line in notable.iter().filter(|l| l.contains("warning")) {
        reporter.warn(&process::scrub(line, target));
    }
    reporter.finished(RESTORE_STEP, started.elapsed(), &format!("{} archive items", done.min(total)));
    Ok(done.min(total))
}

/// `pg_restore -v` says "processing item N" (serial) or "finished item N" (parallel).
fn is_item_done(line: &str) -> bool {
    line.contains("processing item ") || line.contains("finished item ") || line.contains("processing missed item ")
}

fn is_notable(line: &str) -> bool {
    let lower = line.to_lowercase();
    lower.contains("error") || lower.contains("warning") || line.contains("DETAIL") || line.contains("HINT") || line.contains("TOC entry") || line.contains("FATAL")
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn the_database_s_own_entries_and_statements_are_picked() {
        let listing = ";\n; Archive\n;\n3344; 1262 101521 DATABASE - w12_acl w12_app\n3345; 0 0 COMMENT - DATABASE w12_acl w12_app\n\
                       3346; 0 0 ACL - DATABASE w12_acl w12_app\n3347; 0 0 DATABASE PROPERTIES - w12_acl w12_app\n214; 1259 101522 TABLE public t root\n";
        let (owner, entries) = database_entries(listing);
        assert_eq!(owner.as_deref(), Some("w12_app"));
        assert_eq!(entries.len(), 3);
        let script = "\\restrict abc\nSET statement_timeout = 0;\nSELECT pg_catalog.set_config('search_path', '', false);\n\
                      CREATE DATABASE w12_acl WITH TEMPLATE = template0;\nALTER DATABASE w12_acl OWNER TO w12_app;\n\\connect w12_acl\n\
                      COMMENT ON DATABASE w12_acl IS 'two\nlines; really';\nALTER DATABASE w12_acl SET search_path TO 'profochat_legacy', 'public';\n\
                      REVOKE CONNECT,TEMPORARY ON DATABASE w12_acl FROM PUBLIC;\n";
        let sql = database_sql(script);
        assert_eq!(sql.len(), 3, "{sql:?}");
        assert!(sql[0].starts_with("COMMENT ON DATABASE") && sql[0].ends_with("really';"), "{sql:?}");
        assert_eq!(retarget(&sql[2], "w12_acl", "w12_acl_restore_1"), "REVOKE CONNECT,TEMPORARY ON DATABASE \"w12_acl_restore_1\" FROM PUBLIC;");
        assert_eq!(retarget("ALTER ROLE a IN DATABASE \"My Db\" SET x TO 1;", "My Db", "n"), "ALTER ROLE a IN DATABASE \"n\" SET x TO 1;");
        assert_eq!(retarget("GRANT ALL ON DATABASE w12_acl_other TO x;", "w12_acl", "n"), "GRANT ALL ON DATABASE w12_acl_other TO x;");
    }

    #[test]
    fn progress_lines_are_recognised() {
        assert!(is_item_done("pg_restore: processing item 3417 ENCODING ENCODING"));
        assert!(is_item_done("pg_restore: finished item 3404 TABLE DATA run"));
        assert!(!is_item_done("pg_restore: launching item 3404 TABLE DATA run"));
        assert!(is_notable("pg_restore: error: could not execute query"));
        assert!(!is_notable("pg_restore: creating TABLE \"public.run\""));
    }
}
