//! Reaching the database: settings, TLS and one connected client.

mod pgpass;
pub mod short_lock;
pub mod settings;
pub mod snapshot;
mod tls;

pub use settings::{ConnSettings, Host, Secret, SslMode};

use tokio_postgres::Client;

use crate::error::{pg_error_text, Error, Result};

/// One open connection. The connection task runs on the tokio runtime and ends
/// when the client is dropped.
pub struct Db {
    pub client: Client,
    pub settings: ConnSettings,
    /// Whether the connection is encrypted.
    pub tls: bool,
}

impl std::ops::Deref for Db {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl std::ops::DerefMut for Db {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.client
    }
}

/// Connects, choosing TLS from `sslmode`. A failure names host, port, database and
/// user, the cause, and what to check; never the password.
pub async fn connect(settings: &ConnSettings) -> Result<Db> {
    // connect_timeout bounds the whole connection, as with libpq: a host that drops
    // packets, or a server that accepts and never answers, ends in "timed out".
    let limit = settings.connect_timeout.unwrap_or(DEFAULT_CONNECT_LIMIT);
    match tokio::time::timeout(limit, connect_now(settings)).await {
        Ok(result) => result,
        Err(_) => Err(timed_out(settings, limit)),
    }
}

/// How long a connection may take when `connect_timeout` is not set.
const DEFAULT_CONNECT_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Whether the server asked for a password and none was given.
pub fn password_missing(e: &Error) -> bool {
    matches!(e, Error::Connect { cause, .. } if cause.contains(PASSWORD_MISSING))
}

const PASSWORD_MISSING: &str = "password missing";

fn timed_out(settings: &ConnSettings, after: std::time::Duration) -> Error {
    Error::Connect {
        target: settings.display_target(),
        cause: format!(
            "timed out after {} s ({})",
            after.as_secs(),
            if settings.connect_timeout.is_some() { "connect_timeout" } else { "no connect_timeout given, the default limit" }
        ),
        hint: "Check that the host is reachable from here (a firewall that drops packets looks like this) and that host and port are right; \
               connect_timeout=N in the URL (or PGCONNECT_TIMEOUT) sets how many seconds to wait."
            .into(),
    }
}

async fn connect_now(settings: &ConnSettings) -> Result<Db> {
    let config = settings.pg_config();
    // Like libpq, TLS is never used over a unix socket.
    let plain = settings.sslmode == SslMode::Disable || matches!(settings.host, settings::Host::Socket(_));
    let result = match plain {
        true => config
            .connect(tokio_postgres::NoTls)
            .await
            .map(|(client, conn)| (client, spawn(conn), false)),
        false => {
            let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls::client_config(settings)?);
            config
                .connect(tls)
                .await
                .map(|(client, conn)| (client, spawn(conn), true))
        }
    };
    match result {
        Ok((client, (), encrypted_requested)) => {
            client
                .batch_execute(include_str!("../../sql/conn/session.sql"))
                .await
                .map_err(|e| connect_error(settings, &e))?;
            // With `prefer` the server may have declined TLS; ask it.
            let tls = encrypted_requested
                && client
                    .query_one("SELECT coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false)", &[])
                    .await
                    .map(|r| r.get::<_, bool>(0))
                    .unwrap_or(false);
            Ok(Db {
                client,
                settings: settings.clone(),
                tls,
            })
        }
        Err(e) => Err(connect_error(settings, &e)),
    }
}

fn spawn<S, T>(conn: tokio_postgres::Connection<S, T>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!("connection closed: {}", pg_error_text(&e));
        }
    });
}

fn connect_error(settings: &ConnSettings, e: &tokio_postgres::Error) -> Error {
    let timed_out = std::error::Error::source(e)
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut);
    if timed_out {
        let limit = settings.connect_timeout.unwrap_or(std::time::Duration::from_secs(10));
        return self::timed_out(settings, limit);
    }
    let mut cause = pg_error_text(e);
    if let Some(p) = &settings.password {
        if !p.expose().is_empty() {
            cause = cause.replace(p.expose(), "***");
        }
    }
    let code = e.as_db_error().map(|d| d.code().code().to_string());
    let hint = match code.as_deref() {
        Some("28P01") | Some("28000") => format!(
            "Check the user name and password (DATABASE_URL, --database-url, PGPASSWORD or ~/.pgpass). {}",
            settings::ENCODING_HINT
        ),
        _ if cause.contains(PASSWORD_MISSING) => format!(
            "The server asks for a password and none was given: put it in DATABASE_URL or --database-url, in PGPASSWORD, \
             or in ~/.pgpass (or the file PGPASSFILE names; libpq's format, mode 0600){}; on a terminal profochat-saas asks for it. {}",
            pgpass_note(settings),
            settings::ENCODING_HINT
        ),
        Some("3D000") => "Check the database name; `psql -l` lists the databases on the server.".to_string(),
        _ if cause.contains("TLS") || cause.contains("certificate") || cause.contains("tls") => {
            "Check sslmode (disable, prefer, require, verify-ca, verify-full) and sslrootcert.".to_string()
        }
        _ => "Check that the server is running and that host and port are right (DATABASE_URL, --database-url or PGHOST/PGPORT).".to_string(),
    };
    Error::Connect {
        target: settings.display_target(),
        cause,
        hint,
    }
}

/// Why the password file gave nothing, when it exists.
fn pgpass_note(settings: &ConnSettings) -> String {
    let env = |k: &str| std::env::var(k).ok();
    match pgpass::lookup(pgpass::path(None, &env), &settings.host, settings.port, &settings.dbname, &settings.user) {
        pgpass::Lookup::TooOpen(f) => format!(" ({} was ignored: group or others may read it; chmod 600 it)", f.display()),
        pgpass::Lookup::NoMatch(f) => format!(" ({} has no line for this host, port, database and user)", f.display()),
        _ => String::new(),
    }
}
