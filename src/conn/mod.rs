//! Reaching the database: settings, TLS and one connected client.

pub mod settings;
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
    let mut cause = pg_error_text(e);
    if let Some(p) = &settings.password {
        if !p.expose().is_empty() {
            cause = cause.replace(p.expose(), "***");
        }
    }
    let code = e.as_db_error().map(|d| d.code().code().to_string());
    let hint = match code.as_deref() {
        Some("28P01") | Some("28000") => {
            "Check the user name and password (DATABASE_URL, --database-url or PGPASSWORD); a password containing '@', ':' or '/' must be percent-encoded in a URL (%40, %3A, %2F).".to_string()
        }
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
