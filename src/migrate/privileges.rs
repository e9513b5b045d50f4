//! Before `migrate` changes anything: may the connected user do what it needs?
//! ALTER the legacy tables (their owner, a member of the owning role, or a superuser),
//! create the state schema and the new tables, and — when a backup is taken — read
//! every table and sequence for `pg_dump`. A user who may not is told so at once,
//! by name, instead of meeting a lock timeout or a half-written backup later.

use tokio_postgres::GenericClient;

use crate::error::{Error, Result};
use crate::sql::{ident, LEGACY_TABLES};

const PRIVILEGES_SQL: &str = include_str!("../../sql/preflight/privileges.sql");

/// What the connected user lacks, as read from the catalog.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Missing {
    pub user: String,
    pub database: String,
    pub schema: String,
    /// Legacy tables the user may not alter, and their owners.
    pub tables_not_owned: Vec<String>,
    pub table_owners: Vec<String>,
    pub create_schema: bool,
    pub create_in_schema: bool,
    /// Tables and sequences `pg_dump` could not read.
    pub unreadable: Vec<String>,
}

/// Reads what the user may do. `for_backup` adds the objects `pg_dump` must read.
pub async fn missing<C: GenericClient + Sync>(client: &C, for_backup: bool) -> Result<Missing> {
    let tables: Vec<String> = LEGACY_TABLES.iter().map(|t| t.to_string()).collect();
    let row = client
        .query_one(PRIVILEGES_SQL, &[&tables])
        .await
        .map_err(|e| Error::query("checking the user's privileges", &e, "Nothing was changed."))?;
    let superuser: bool = row.get("superuser");
    let mut m = Missing {
        user: row.get("user_name"),
        database: row.get("database"),
        schema: row.get::<_, Option<String>>("schema").unwrap_or_else(|| "public".into()),
        ..Missing::default()
    };
    if superuser {
        return Ok(m);
    }
    m.tables_not_owned = row.get("tables_not_owned");
    m.table_owners = row.get("table_owners");
    m.create_schema = !row.get::<_, bool>("create_schema");
    m.create_in_schema = !row.get::<_, bool>("create_in_schema");
    if for_backup {
        m.unreadable = row.get("unreadable");
    }
    Ok(m)
}

impl Missing {
    pub fn is_empty(&self) -> bool {
        self.tables_not_owned.is_empty() && !self.create_schema && !self.create_in_schema && self.unreadable.is_empty()
    }

    /// The refusal: "permission denied: USER cannot …", what to run instead.
    pub fn error(&self) -> Option<Error> {
        if self.is_empty() {
            return None;
        }
        let mut cannot = vec![];
        let mut grants = vec![];
        let owners = &self.table_owners;
        if !self.tables_not_owned.is_empty() {
            let tables = if self.tables_not_owned.len() == LEGACY_TABLES.len() {
                format!("the {} legacy tables", LEGACY_TABLES.len())
            } else {
                format!("the legacy tables {}", list(&self.tables_not_owned))
            };
            cannot.push(format!(
                "alter {tables} (owned by {}; ALTER TABLE needs their owner or a superuser)",
                owners.iter().map(|o| format!("{o:?}")).collect::<Vec<_>>().join(", ")
            ));
        }
        if self.create_schema {
            cannot.push(format!("create schemas in database {:?}", self.database));
            grants.push(format!("GRANT CREATE ON DATABASE {} TO {};", ident(&self.database), ident(&self.user)));
        }
        if self.create_in_schema {
            cannot.push(format!("create tables in schema {:?}", self.schema));
            grants.push(format!("GRANT CREATE ON SCHEMA {} TO {};", ident(&self.schema), ident(&self.user)));
        }
        if !self.unreadable.is_empty() {
            cannot.push(format!("read {} for the backup", list(&self.unreadable)));
        }
        let mut hint = match owners.as_slice() {
            [] => "Run `profochat-saas migrate` as the owner of the legacy tables or a superuser".to_string(),
            [one] => format!("Run `profochat-saas migrate` as {one:?} (the owner of the legacy tables) or a superuser"),
            many => format!("Run `profochat-saas migrate` as a superuser (the legacy tables have several owners: {})", many.join(", ")),
        };
        if owners.is_empty() && !grants.is_empty() {
            hint.push_str(&format!(", or have a superuser run: {}", grants.join(" ")));
        }
        hint.push('.');
        if !self.unreadable.is_empty() && owners.is_empty() && grants.is_empty() {
            hint = "Run `profochat-saas migrate` as a user who may read the whole database (pg_dump reads every table and sequence), or a superuser.".into();
        }
        Some(Error::Privileges {
            user: self.user.clone(),
            what: cannot.join(", nor "),
            hint,
        })
    }
}

/// Refuses (exit status 4, nothing changed) unless the user may migrate, and with
/// `for_backup` also back up, this database.
pub async fn require<C: GenericClient + Sync>(client: &C, for_backup: bool) -> Result<()> {
    match missing(client, for_backup).await?.error() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn list(items: &[String]) -> String {
    const SHOWN: usize = 8;
    if items.len() <= SHOWN {
        items.join(", ")
    } else {
        format!("{} and {} more", items[..SHOWN].join(", "), items.len() - SHOWN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_only_user_is_told_everything_it_lacks() {
        let m = Missing {
            user: "reader".into(),
            database: "profo".into(),
            schema: "public".into(),
            tables_not_owned: vec!["conversation".into(), "run".into()],
            table_owners: vec!["postgres".into()],
            create_schema: true,
            create_in_schema: true,
            unreadable: vec!["public.run_run_id_seq".into()],
        };
        let e = m.error().unwrap();
        let text = e.to_string();
        assert!(text.starts_with("permission denied: reader cannot alter the legacy tables conversation"), "{text}");
        assert!(text.contains("create schemas in database \"profo\""), "{text}");
        assert!(text.contains("public.run_run_id_seq"), "{text}");
        assert!(text.contains("Nothing was changed"), "{text}");
        assert!(text.contains("as \"postgres\""), "{text}");
        assert_eq!(e.exit_status(), crate::ExitStatus::State);
        assert!(Missing::default().error().is_none());
    }
}
