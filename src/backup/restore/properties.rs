//! The backup's database-level properties (owner, privileges, comment, settings), which
//! `pg_restore` applies only to a database it creates itself: read from the archive and
//! applied to the restored database.

use std::path::Path;
use std::process::Stdio;

use super::{DatabaseProperties, RestorePlan};
use crate::conn::Db;
use crate::error::pg_error_text;
use crate::report::Reporter;
use crate::server::Tool;
use crate::sql::ident;

/// Gives the restored database the backup's owner, privileges and settings (else, for
/// a backup that holds none, the replaced database's owner). What cannot be applied (a
/// role missing on this server, a privilege the user lacks) is said, not fatal: the
/// data is restored.
pub(super) async fn apply_database_properties(admin: &Db, plan: &RestorePlan, reporter: &dyn Reporter) {
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
pub(super) async fn read_database_properties(pg_restore: &Tool, file: &Path) -> DatabaseProperties {
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

#[cfg(test)]
mod tests {
    use super::*;

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

}
