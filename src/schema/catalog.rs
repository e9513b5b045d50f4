//! The keys and indexes of the application's tables, compared with the target's:
//! upstream's names and definitions (SPEC §2), and upstream's migration ledger and the
//! enrolment function beside them. `status` and `plan` read this to tell a database
//! that an older profochat-saas migrated, `migrate` to know which indexes to build,
//! `validate` to check the names.

use serde::Serialize;
use tokio_postgres::GenericClient;

use crate::error::{Error, Result};
use crate::target::{self, IndexDef, KeyDef, KeyKind};

const CATALOG: &str = include_str!("../../sql/status/catalog.sql");
const UPSTREAM: &str = include_str!("../../sql/status/upstream.sql");
const LEDGER_VERSIONS: &str = include_str!("../../sql/status/ledger_versions.sql");

/// A constraint or an index of an application table, as `sql/status/catalog.sql` reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// `constraint` or `index`.
    pub kind: String,
    pub table: String,
    pub name: String,
    pub definition: String,
    pub valid: bool,
    /// For an index: the constraint it belongs to.
    pub backs: Option<String>,
}

impl Entry {
    fn is_constraint(&self) -> bool {
        self.kind == "constraint"
    }
}

/// The keys and indexes of the application's tables in the current schema.
pub async fn read<C: GenericClient + Sync>(client: &C) -> Result<Vec<Entry>> {
    let tables: Vec<String> = target::application_tables().iter().map(|t| t.to_string()).collect();
    let rows = client
        .query(CATALOG, &[&tables])
        .await
        .map_err(|e| Error::query("reading the keys and indexes", &e, "Nothing was changed."))?;
    Ok(rows
        .iter()
        .map(|r| Entry {
            kind: r.get(0),
            table: r.get(1),
            name: r.get(2),
            definition: r.get(3),
            valid: r.get(4),
            backs: r.get(5),
        })
        .collect())
}

/// What differs from upstream's keys: each key missing, on another table, of another
/// definition, or a constraint where upstream has a plain unique index. One sentence each.
pub fn key_problems(entries: &[Entry]) -> Vec<String> {
    target::keys().iter().filter_map(|k| key_problem(entries, k)).collect()
}

/// The problems of these keys (primary, unique keys and unique indexes), with their
/// indexes left invalid by an interrupted build: `validate`'s structure.unique_keys.
pub fn unique_key_problems(entries: &[Entry], keys: &[KeyDef]) -> Vec<String> {
    keys.iter()
        .filter_map(|k| {
            key_problem(entries, k).or_else(|| {
                let index = entries.iter().find(|e| !e.is_constraint() && e.name == k.name);
                index
                    .is_some_and(|i| !i.valid)
                    .then(|| format!("{}.{} is invalid (an interrupted build)", k.table, k.name))
            })
        })
        .collect()
}

fn key_problem(entries: &[Entry], k: &KeyDef) -> Option<String> {
    let found = match k.kind {
        KeyKind::Constraint => entries.iter().find(|e| e.is_constraint() && e.name == k.name),
        KeyKind::UniqueIndex => entries.iter().find(|e| !e.is_constraint() && e.name == k.name),
    };
    let Some(e) = found else {
        return Some(format!("{}.{} is missing", k.table, k.name));
    };
    if e.table != k.table {
        return Some(format!("{} is on table {} instead of {}", k.name, e.table, k.table));
    }
    if e.definition != k.definition {
        return Some(format!("{}.{} is {} instead of upstream's {}", k.table, k.name, e.definition, k.definition));
    }
    if k.kind == KeyKind::UniqueIndex {
        if let Some(c) = &e.backs {
            return Some(format!("{}.{} is the index of constraint {c}; upstream has a unique index without a constraint", k.table, k.name));
        }
    }
    None
}

/// Indexes of a list that are missing, invalid (an interrupted build) or of another
/// definition than the list's (an older version's shape under upstream's name).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IndexProblems {
    pub missing: Vec<String>,
    pub invalid: Vec<String>,
    pub different: Vec<String>,
}

impl IndexProblems {
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.invalid.is_empty() && self.different.is_empty()
    }

    /// Each problem as a sentence naming the table and the index.
    pub fn sentences(entries: &[Entry], defs: &[IndexDef]) -> Vec<String> {
        let mut out = vec![];
        for d in defs {
            let found = entries.iter().find(|e| !e.is_constraint() && e.name == d.name);
            match found {
                None => out.push(format!("{}.{} is missing", d.table, d.name)),
                Some(e) if e.table != d.table => out.push(format!("{}.{} is on table {}", d.table, d.name, e.table)),
                Some(e) if !e.valid => out.push(format!("{}.{} is invalid (an interrupted build)", d.table, d.name)),
                Some(e) if e.definition != d.shape() => {
                    out.push(format!("{}.{} is {} instead of upstream's {}", d.table, d.name, e.definition, d.shape()))
                }
                Some(_) => {}
            }
        }
        out
    }
}

/// The problems of these indexes, by name.
pub fn index_problems(entries: &[Entry], defs: &[IndexDef]) -> IndexProblems {
    let mut p = IndexProblems::default();
    for d in defs {
        match entries.iter().find(|e| !e.is_constraint() && e.name == d.name) {
            None => p.missing.push(d.name.clone()),
            Some(e) if !e.valid => p.invalid.push(d.name.clone()),
            Some(e) if e.table != d.table || e.definition != d.shape() => p.different.push(d.name.clone()),
            Some(_) => {}
        }
    }
    p
}

/// Keys and indexes of the application's tables that upstream's catalog does not have
/// (names of an older profochat-saas, or made by hand): "table.name (definition)".
pub fn unexpected(entries: &[Entry]) -> Vec<String> {
    let keys = target::keys();
    let indexes: Vec<IndexDef> = target::secondary_indexes().into_iter().chain(target::legacy_indexes()).collect();
    entries
        .iter()
        .filter(|e| {
            let known_key = keys.iter().any(|k| k.name == e.name);
            let known_index = !e.is_constraint() && (indexes.iter().any(|i| i.name == e.name) || e.backs.is_some());
            !known_key && !known_index
        })
        .map(|e| format!("{} {}.{} ({})", e.kind, e.table, e.name, e.definition))
        .collect()
}

/// Upstream's migration ledger and the enrolment function.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Upstream {
    /// `schema_migrations` exists.
    pub ledger: bool,
    /// Those of upstream's migrations that it records.
    pub versions_recorded: Vec<String>,
    /// `profochat_saas.enrol(payload, chat_id, username, bot)` exists.
    pub enrol_function: bool,
    /// Upstream's later migrations recorded after ours (e.g. 0004, 0005): the upstream
    /// project's own tooling changed the schema since.
    pub later: Vec<String>,
}

impl Upstream {
    /// What the ledger lacks, one sentence each.
    pub fn ledger_problems(&self) -> Vec<String> {
        if !self.ledger {
            return vec!["upstream's migration ledger schema_migrations is missing".to_string()];
        }
        let missing: Vec<&str> = target::UPSTREAM_MIGRATIONS
            .iter()
            .map(|m| m.0)
            .filter(|v| !self.versions_recorded.iter().any(|r| r == v))
            .collect();
        if missing.is_empty() {
            vec![]
        } else {
            vec![format!("schema_migrations does not record upstream's {}", missing.join(" and "))]
        }
    }

    /// Whether the enrolment function is missing, as a sentence.
    pub fn enrol_problems(&self) -> Vec<String> {
        if self.enrol_function {
            vec![]
        } else {
            vec!["the enrolment function profochat_saas.enrol(payload, chat_id, username, bot) is missing".to_string()]
        }
    }

    /// Everything missing, one sentence each.
    pub fn problems(&self) -> Vec<String> {
        let mut out = self.ledger_problems();
        out.extend(self.enrol_problems());
        out
    }
}

/// Reads whether the ledger records upstream's migrations and the enrolment function exists.
pub async fn upstream<C: GenericClient + Sync>(client: &C) -> Result<Upstream> {
    let q = |e: tokio_postgres::Error| Error::query("reading upstream's migration ledger", &e, "Nothing was changed.");
    let row = client.query_one(UPSTREAM, &[&target::ENROL_FUNCTION]).await.map_err(q)?;
    let mut u = Upstream {
        ledger: row.get(0),
        versions_recorded: vec![],
        enrol_function: row.get(1),
        later: vec![],
    };
    if u.ledger {
        let versions: Vec<String> = target::UPSTREAM_MIGRATIONS.iter().map(|m| m.0.to_string()).collect();
        u.versions_recorded = client
            .query(LEDGER_VERSIONS, &[&versions])
            .await
            .map_err(q)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let ours = target::UPSTREAM_MIGRATIONS.iter().map(|m| m.0).max().unwrap_or_default();
        u.later = client
            .query(include_str!("../../sql/status/upstream_later.sql"), &[&ours])
            .await
            .map_err(q)?
            .iter()
            .map(|r| r.get(0))
            .collect();
    }
    Ok(u)
}

/// Why a migrated database needs `migrate` to reach the current target: keys under
/// older names or of older shapes, the ledger or the enrolment function missing.
/// Empty when it is current.
pub async fn upgrade_needed<C: GenericClient + Sync>(client: &C) -> Result<Vec<String>> {
    let entries = read(client).await?;
    let mut out = key_problems(&entries);
    out.extend(upstream(client).await?.problems());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: &str, table: &str, name: &str, definition: &str) -> Entry {
        Entry {
            kind: kind.into(),
            table: table.into(),
            name: name.into(),
            definition: definition.into(),
            valid: true,
            backs: None,
        }
    }

    #[test]
    fn an_older_course_key_and_a_unique_constraint_are_named() {
        let mut entries: Vec<Entry> = target::keys()
            .iter()
            .map(|k| {
                let kind = if k.kind == KeyKind::Constraint { "constraint" } else { "index" };
                entry(kind, &k.table, &k.name, &k.definition)
            })
            .collect();
        assert!(key_problems(&entries).is_empty());
        let pk = entries.iter_mut().find(|e| e.name == "course_pkey").unwrap();
        pk.definition = "PRIMARY KEY (course_id, account_id)".into();
        entries.iter_mut().find(|e| e.name == "bannedparticipants_unique").unwrap().backs = Some("bannedparticipants_unique".into());
        entries.retain(|e| e.name != "course_deployment_bot_fkey");
        let p = key_problems(&entries);
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].contains("course_pkey is PRIMARY KEY (course_id, account_id) instead of upstream's PRIMARY KEY (course_id, bot_name)"), "{p:?}");
        assert!(p.iter().any(|s| s == "course_deployment.course_deployment_bot_fkey is missing"), "{p:?}");
        assert!(p.iter().any(|s| s.contains("bannedparticipants_unique is the index of constraint")), "{p:?}");
        entries.push(entry("index", "run", "idx_run_bot_id", "run USING btree (bot_id)"));
        assert_eq!(unexpected(&entries), ["index run.idx_run_bot_id (run USING btree (bot_id))"]);
    }

    #[test]
    fn upstream_problems() {
        let u = Upstream { ledger: true, versions_recorded: vec!["0001".into()], enrol_function: false, later: vec![] };
        let p = u.problems();
        assert_eq!(p.len(), 2);
        assert!(p[0].contains("0003"));
        assert!(Upstream { ledger: true, versions_recorded: vec!["0001".into(), "0003".into()], enrol_function: true, later: vec![] }.problems().is_empty());
    }
}
