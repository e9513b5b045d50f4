//! What a database is: legacy, partly migrated, migrated, or not a ProfoChatBot
//! database at all, with the evidence. `status` shows it; every other command
//! checks it before acting.

pub mod catalog;
pub mod leftovers;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::conn::Db;
use crate::error::{Error, Result};
use crate::sql::LEGACY_TABLES;
use crate::target::{self, ADDED_COLUMNS, NEW_TABLES, STATE_SCHEMA};

/// The oldest server this tool supports, and why.
pub const MIN_SERVER_VERSION_NUM: i32 = 110000;
pub const MIN_SERVER_VERSION: &str = "11";
pub const MIN_SERVER_WHY: &str =
    "the migration relies on instant ADD COLUMN with a default and on hashtextextended() for fingerprints, both new in PostgreSQL 11";

/// The state of a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SchemaState {
    /// No tables at all.
    Empty,
    /// Tables, but not ProfoChatBot's.
    NotProfochat,
    /// Some legacy tables exist, others are missing.
    IncompleteLegacy,
    /// The legacy schema, untouched.
    Legacy,
    /// Some target tables or columns exist, but the migration is not complete
    /// (by hand, by an older script, or an interrupted run).
    PartlyMigrated,
    /// An online migration between its first step and its switch, running or
    /// interrupted: `migrate` resumes it, `migrate --abort` undoes it.
    MigrationInProgress,
    /// Migrated; secondary indexes still missing, invalid (an interrupted or failed
    /// build) or of an older shape, or the migration not yet recorded as completed:
    /// running `migrate` again finishes them.
    IndexesPending,
    /// Migrated by an older profochat-saas: keys and indexes under older names or of
    /// older shapes (course's primary key (course_id, account_id)), upstream's migration
    /// ledger or the enrolment function missing. The data is migrated; `migrate` brings
    /// the schema to the current target (`upgrade_needed` says what differs).
    Outdated,
    /// Fully migrated.
    Migrated,
}

impl MigrationRecord {
    /// The recorded status, typed (None for a status this version does not know).
    pub fn status(&self) -> Option<crate::state::MigrationStatus> {
        crate::state::MigrationStatus::parse(&self.status)
    }
}

impl SchemaStatus {
    /// Migrated, and `finish` removed the legacy interface since.
    pub fn finished(&self) -> bool {
        self.state.is_migrated()
            && self.last_migration.as_ref().and_then(|m| m.status()) == Some(crate::state::MigrationStatus::Finished)
    }
}

impl SchemaState {
    pub fn describe(self) -> &'static str {
        match self {
            SchemaState::Empty => "empty (no tables)",
            SchemaState::NotProfochat => "not a ProfoChatBot database",
            SchemaState::IncompleteLegacy => "an incomplete ProfoChatBot database (legacy tables missing)",
            SchemaState::Legacy => "legacy (single-tenant, not migrated)",
            SchemaState::PartlyMigrated => "partly migrated",
            SchemaState::MigrationInProgress => "an online migration in progress (running, or interrupted: `migrate` resumes it, `migrate --abort` undoes it)",
            SchemaState::IndexesPending => "migrated, secondary indexes pending",
            SchemaState::Outdated => {
                "migrated, by an older profochat-saas or changed by hand since (keys, indexes or functions differ from the current target)"
            }
            SchemaState::Migrated => "migrated (multi-tenant SaaS schema)",
        }
    }

    /// Whether the SaaS schema is usable (data and keys are in place).
    pub fn is_migrated(self) -> bool {
        matches!(self, SchemaState::Migrated | SchemaState::IndexesPending | SchemaState::Outdated)
    }
}

/// The last migration recorded in the state table.
#[derive(Debug, Clone, Serialize)]
pub struct MigrationRecord {
    pub migration_id: i32,
    pub schema_version: i32,
    pub tool_version: String,
    pub status: String,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// What `status` found, with the evidence.
#[derive(Debug, Clone, Serialize)]
pub struct SchemaStatus {
    pub state: SchemaState,
    pub database: String,
    pub server_version: String,
    pub server_version_num: i32,
    pub schema: String,
    pub legacy_tables_found: Vec<String>,
    pub legacy_tables_missing: Vec<String>,
    pub new_tables_found: Vec<String>,
    pub new_tables_missing: Vec<String>,
    /// `table.column` of the added columns that exist.
    pub added_columns_found: Vec<String>,
    pub added_columns_missing: Vec<String>,
    pub secondary_indexes_missing: Vec<String>,
    pub secondary_indexes_invalid: Vec<String>,
    /// Secondary indexes that exist under their name with another definition (an older
    /// version's shape): `migrate` builds them again.
    pub secondary_indexes_different: Vec<String>,
    /// For a migrated database: what differs from the current target beyond secondary
    /// indexes (keys under older names or of older shapes, upstream's ledger, the
    /// enrolment function), one sentence each. Non-empty means [`SchemaState::Outdated`].
    pub upgrade_needed: Vec<String>,
    /// Upstream's later migrations recorded in schema_migrations after the 0003 a
    /// migration here records (e.g. 0004, 0005, 0007, 0008): the upstream project
    /// manages the schema since. Non-empty means migrated, whatever they changed.
    pub upstream_since: Vec<String>,
    /// What differs from upstream's 0003 shape on such a database (keys, indexes,
    /// tables, columns): what those migrations changed, for information.
    pub changed_by_upstream: Vec<String>,
    /// Other tables in the schema (the first few), as evidence for "not ProfoChatBot".
    pub other_tables: Vec<String>,
    pub other_tables_count: usize,
    pub last_migration: Option<MigrationRecord>,
}

/// Reads the server version and refuses servers older than the minimum.
pub async fn check_server_version(db: &Db) -> Result<(i32, String)> {
    let row = db
        .query_one("SELECT current_setting('server_version_num')::int4, current_setting('server_version')", &[])
        .await
        .map_err(|e| Error::query("reading the server version", &e, "Nothing was changed."))?;
    let (num, text): (i32, String) = (row.get(0), row.get(1));
    if num < MIN_SERVER_VERSION_NUM {
        return Err(Error::ServerVersion {
            found: text,
            minimum: MIN_SERVER_VERSION.into(),
            why: MIN_SERVER_WHY.into(),
        });
    }
    Ok((num, text))
}

/// Inspects the database.
pub async fn inspect(db: &Db) -> Result<SchemaStatus> {
    let (num, version) = check_server_version(db).await?;
    let q = |e: tokio_postgres::Error| Error::query("inspecting the schema", &e, "Nothing was changed.");
    let schema: String = db.query_one("SELECT current_schema()::text", &[]).await.map_err(q)?.get(0);
    let rows = db.query(include_str!("../../sql/status/inspect.sql"), &[]).await.map_err(q)?;
    let mut tables: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in rows {
        let t: String = r.get(0);
        let c: Option<String> = r.get(1);
        let entry = tables.entry(t).or_default();
        if let Some(c) = c {
            entry.insert(c);
        }
    }
    let has = |t: &str| tables.contains_key(t);
    let legacy_found: Vec<String> = LEGACY_TABLES.iter().filter(|t| has(t)).map(|t| t.to_string()).collect();
    let legacy_missing: Vec<String> = LEGACY_TABLES.iter().filter(|t| !has(t)).map(|t| t.to_string()).collect();
    let new_found: Vec<String> = NEW_TABLES.iter().filter(|t| has(t)).map(|t| t.to_string()).collect();
    let new_missing: Vec<String> = NEW_TABLES.iter().filter(|t| !has(t)).map(|t| t.to_string()).collect();
    let mut cols_found = vec![];
    let mut cols_missing = vec![];
    for (t, cols) in ADDED_COLUMNS {
        for c in *cols {
            let name = format!("{t}.{c}");
            if tables.get(*t).is_some_and(|s| s.contains(*c)) {
                cols_found.push(name);
            } else if has(t) {
                cols_missing.push(name);
            }
        }
    }
    // Upstream's migration ledger belongs to the application's schema too.
    let known: BTreeSet<&str> = LEGACY_TABLES.iter().chain(NEW_TABLES.iter()).copied().chain([target::LEDGER_TABLE]).collect();
    let other: Vec<String> = tables.keys().filter(|t| !known.contains(t.as_str())).cloned().collect();

    let last_migration = last_migration(db).await?;

    let entries = if new_missing.is_empty() && legacy_missing.is_empty() {
        catalog::read(&**db).await?
    } else {
        vec![]
    };
    let mut indexes = if entries.is_empty() {
        catalog::IndexProblems::default()
    } else {
        catalog::index_problems(&entries, &target::secondary_indexes())
    };
    let mut upgrade_needed = vec![];
    let mut upstream_since = vec![];
    let mut changed_by_upstream = vec![];
    // An online migration recorded as under way (or its abort): also before its first
    // step committed (no new table or column yet), so that `status` names it and
    // `migrate --abort` removes its record.
    let in_progress = last_migration
        .as_ref()
        .is_some_and(|m| m.status().is_some_and(crate::state::MigrationStatus::online_unswitched));

    let state = if tables.is_empty() {
        SchemaState::Empty
    } else if legacy_found.is_empty() {
        SchemaState::NotProfochat
    } else if !legacy_missing.is_empty() {
        SchemaState::IncompleteLegacy
    } else if new_found.is_empty() && cols_found.is_empty() && !in_progress {
        SchemaState::Legacy
    } else {
        let completed = last_migration
            .as_ref()
            .is_some_and(|m| m.status().is_some_and(|s| s.migrated()));
        // A migration recorded as `indexes_pending` is finished by `migrate` even when
        // every index exists (interrupted between the last build and the record).
        let pending = last_migration
            .as_ref()
            .is_some_and(|m| m.status() == Some(crate::state::MigrationStatus::IndexesPending));
        if completed {
            upstream_since = catalog::upstream(&**db).await?.later;
        }
        if in_progress {
            SchemaState::MigrationInProgress
        } else if completed && !upstream_since.is_empty() {
            // Upstream's own later migrations ran here: the schema is theirs to change.
            // What differs from 0003's shape is what they changed, not work for `migrate`.
            changed_by_upstream.extend(new_missing.iter().map(|t| format!("table {t} is gone")));
            changed_by_upstream.extend(cols_missing.iter().map(|c| format!("column {c} is gone")));
            changed_by_upstream.extend(catalog::key_problems(&entries));
            changed_by_upstream
                .extend(catalog::IndexProblems::sentences(&entries, &target::secondary_indexes()).into_iter());
            indexes = catalog::IndexProblems::default();
            SchemaState::Migrated
        } else if completed && new_missing.is_empty() && cols_missing.is_empty() {
            upgrade_needed = catalog::key_problems(&entries);
            upgrade_needed.extend(catalog::upstream(&**db).await?.problems());
            if !upgrade_needed.is_empty() {
                SchemaState::Outdated
            } else if indexes.is_empty() && !pending {
                SchemaState::Migrated
            } else {
                SchemaState::IndexesPending
            }
        } else {
            SchemaState::PartlyMigrated
        }
    };

    Ok(SchemaStatus {
        state,
        database: db.settings.dbname.clone(),
        server_version: version,
        server_version_num: num,
        schema,
        legacy_tables_found: legacy_found,
        legacy_tables_missing: legacy_missing,
        new_tables_found: new_found,
        new_tables_missing: new_missing,
        added_columns_found: cols_found,
        added_columns_missing: cols_missing,
        secondary_indexes_missing: indexes.missing,
        secondary_indexes_invalid: indexes.invalid,
        secondary_indexes_different: indexes.different,
        upgrade_needed,
        upstream_since,
        changed_by_upstream,
        other_tables_count: other.len(),
        other_tables: other.into_iter().take(10).collect(),
        last_migration,
    })
}

/// The newest row of the state table, if the tool ever ran here.
pub async fn last_migration(db: &Db) -> Result<Option<MigrationRecord>> {
    let q = |e: tokio_postgres::Error| Error::query("reading the migration state", &e, "Nothing was changed.");
    if !state_table_exists(&**db).await? {
        return Ok(None);
    }
    let row = db
        .query_opt(
            "SELECT migration_id, schema_version, tool_version, status, started_at, finished_at \
               FROM profochat_saas.migration ORDER BY migration_id DESC LIMIT 1",
            &[],
        )
        .await
        .map_err(q)?;
    Ok(row.map(|r| MigrationRecord {
        migration_id: r.get(0),
        schema_version: r.get(1),
        tool_version: r.get(2),
        status: r.get(3),
        started_at: r.get(4),
        finished_at: r.get(5),
    }))
}

/// Whether the tool's state table exists (the tool ever migrated this database).
pub async fn state_table_exists<C: tokio_postgres::GenericClient + Sync>(client: &C) -> Result<bool> {
    Ok(client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&format!("{STATE_SCHEMA}.migration")])
        .await
        .map_err(|e| Error::query("reading the migration state", &e, "Nothing was changed."))?
        .get(0))
}

/// Secondary indexes of phase 5 that are missing, left invalid by an interrupted
/// build, or of another definition (an older version's shape under upstream's name).
pub async fn index_state<C: tokio_postgres::GenericClient + Sync>(client: &C) -> Result<catalog::IndexProblems> {
    let entries = catalog::read(client).await?;
    Ok(catalog::index_problems(&entries, &target::secondary_indexes()))
}

/// Refuses unless the database is migrated (for the commands that operate the new schema).
pub async fn require_migrated(db: &Db) -> Result<SchemaStatus> {
    let status = inspect(db).await?;
    if status.state.is_migrated() {
        return Ok(status);
    }
    Err(Error::state(
        format!("{} is {}, but this command works on a migrated database", db.settings.display_target(), status.state.describe()),
        match status.state {
            SchemaState::Legacy | SchemaState::PartlyMigrated => "Run `profochat-saas plan`, then `profochat-saas migrate` first.",
            _ => "Check --database-url / DATABASE_URL: it should point at the ProfoChatBot database.",
        },
    ))
}
