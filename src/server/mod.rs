//! Finding a PostgreSQL server to work on: a configured one, the local one, or a
//! private throwaway cluster. Used by `demo` and the test harness.

pub mod cluster;
pub mod tools;

pub use cluster::TempCluster;
pub use tools::{find_tool, Tool};

use crate::conn::{self, ConnSettings, Host, SslMode};

/// Settings for the local server's maintenance database, if one answers:
/// the default unix socket, then 127.0.0.1:5432; as the current user, then `postgres`.
pub async fn find_local() -> Option<ConnSettings> {
    let mut users = vec![];
    if let Ok(u) = std::env::var("PGUSER") {
        users.push(u);
    }
    if let Some(u) = crate::conn::settings::os_user() {
        users.push(u);
    }
    users.push("postgres".into());
    users.dedup();
    let mut hosts = vec![];
    for dir in ["/var/run/postgresql", "/tmp"] {
        if std::path::Path::new(dir).join(".s.PGSQL.5432").exists() {
            hosts.push(Host::Socket(dir.into()));
        }
    }
    hosts.push(Host::Tcp("127.0.0.1".into()));
    for host in &hosts {
        for user in &users {
            let s = ConnSettings {
                host: host.clone(),
                port: 5432,
                user: user.clone(),
                password: None,
                dbname: "postgres".into(),
                sslmode: SslMode::Disable,
                sslrootcert: None,
                connect_timeout: Some(std::time::Duration::from_secs(3)),
                application_name: "profochat-saas".into(),
            };
            if let Ok(db) = conn::connect(&s).await {
                let can_create = db
                    .query_one("SELECT rolsuper OR rolcreatedb FROM pg_roles WHERE rolname = current_user", &[])
                    .await
                    .map(|r| r.get::<_, bool>(0))
                    .unwrap_or(false);
                if can_create {
                    return Some(s);
                }
            }
        }
    }
    None
}

/// A server to create throwaway databases on: the given one, else the local one,
/// else a private cluster (kept alive by the returned guard).
pub async fn find_server(given: Option<ConnSettings>) -> crate::Result<(ConnSettings, Option<TempCluster>)> {
    if let Some(s) = given {
        return Ok((s, None));
    }
    if let Some(s) = find_local().await {
        return Ok((s, None));
    }
    let cluster = tokio::task::spawn_blocking(TempCluster::start)
        .await
        .map_err(|e| crate::Error::Tool {
            tool: "initdb".into(),
            message: format!("starting a private cluster failed: {e}"),
            hint: "Set DATABASE_URL to a server where a database may be created.".into(),
        })??;
    Ok((cluster.settings(), Some(cluster)))
}

/// A fresh database on the server, dropped when the guard is dropped unless kept.
pub struct ScratchDb {
    pub admin: ConnSettings,
    pub settings: ConnSettings,
    pub keep: bool,
}

impl ScratchDb {
    /// Creates `name` (it must not exist yet).
    pub async fn create(admin: &ConnSettings, name: &str) -> crate::Result<ScratchDb> {
        let db = conn::connect(admin).await?;
        db.batch_execute(&format!("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'", crate::sql::ident(name)))
            .await
            .map_err(|e| crate::Error::query(format!("creating database {name:?}"), &e, "Nothing was changed."))?;
        Ok(ScratchDb {
            admin: admin.clone(),
            settings: admin.with_dbname(name),
            keep: false,
        })
    }

    /// Creates `name` as a copy of `template` (which must have no other connections).
    pub async fn create_from(admin: &ConnSettings, name: &str, template: &str) -> crate::Result<ScratchDb> {
        let db = conn::connect(admin).await?;
        db.batch_execute(&format!("CREATE DATABASE {} TEMPLATE {}", crate::sql::ident(name), crate::sql::ident(template)))
            .await
            .map_err(|e| crate::Error::query(format!("copying database {template:?} to {name:?}"), &e, "Nothing was changed."))?;
        Ok(ScratchDb {
            admin: admin.clone(),
            settings: admin.with_dbname(name),
            keep: false,
        })
    }

    /// Drops the database now.
    pub async fn drop_now(mut self) -> crate::Result<()> {
        self.remove().await
    }

    /// Drops the database now, for an owner that keeps the guard; the guard then
    /// does nothing more on drop, whether this succeeded or not.
    pub async fn remove(&mut self) -> crate::Result<()> {
        self.keep = true;
        drop_database(&self.admin, &self.settings.dbname).await
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        // Drop may run inside a runtime (a failed or interrupted command): the
        // statement runs on a private runtime in its own thread.
        let admin = self.admin.clone();
        let name = self.settings.dbname.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(drop_database(&admin, &name)).ok()
        })
        .join();
    }
}

async fn drop_database(admin: &ConnSettings, name: &str) -> crate::Result<()> {
    let db = conn::connect(admin).await?;
    let forced = db
        .batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", crate::sql::ident(name)))
        .await;
    // Servers before PostgreSQL 13 know no FORCE; a plain DROP needs the sessions gone.
    let result = match forced {
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::SYNTAX_ERROR) => {
            db.batch_execute(&format!("DROP DATABASE IF EXISTS {}", crate::sql::ident(name))).await
        }
        other => other,
    };
    result.map_err(|e| crate::Error::query(format!("dropping the scratch database {name:?}"), &e, "The database is left in place."))?;
    Ok(())
}
