//! Connection settings: a `postgres://` URL or the standard `PG*` variables,
//! parsed into one struct that can connect, be shown with the password masked,
//! and be handed to `pg_dump`/`pg_restore` without putting the password on a
//! command line.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use percent_encoding::percent_decode_str;

use crate::error::{Error, Result};

/// libpq's `sslmode`, as far as it matters here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SslMode {
    Disable,
    Allow,
    #[default]
    Prefer,
    /// Encrypt, but do not verify the server's certificate (as libpq does).
    Require,
    /// Encrypt and verify the certificate chain, not the host name.
    VerifyCa,
    /// Encrypt and verify the chain and the host name.
    VerifyFull,
}

impl SslMode {
    pub fn parse(value: &str) -> Result<Self> {
        Ok(match value {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(Error::Config {
                    message: format!("unknown sslmode {other:?}"),
                    hint: "Use one of disable, allow, prefer, require, verify-ca, verify-full.".into(),
                })
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// Where the server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Tcp(String),
    /// A directory holding the server's unix socket.
    Socket(PathBuf),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Tcp(h) => f.write_str(h),
            Host::Socket(p) => write!(f, "{}", p.display()),
        }
    }
}

/// A password that never shows itself in `Debug` or `Display`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The secret itself: only for handing it to the server or a child process.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Everything needed to reach one database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnSettings {
    pub host: Host,
    pub port: u16,
    pub user: String,
    pub password: Option<Secret>,
    pub dbname: String,
    pub sslmode: SslMode,
    /// CA file for `verify-ca` / `verify-full` (libpq's `sslrootcert`).
    pub sslrootcert: Option<PathBuf>,
    pub connect_timeout: Option<Duration>,
    pub application_name: String,
}

/// Looks up an environment variable; injected so tests never touch the real environment.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Everything but RFC 3986's unreserved characters is encoded in URL parts.
const URL_COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

const DEFAULT_SOCKET_DIRS: [&str; 2] = ["/var/run/postgresql", "/tmp"];

impl ConnSettings {
    /// Settings from the `PG*` variables alone, with libpq's defaults.
    pub fn from_pg_env(env: EnvLookup<'_>) -> Result<Self> {
        let user = env("PGUSER")
            .or_else(|| env("USER"))
            .unwrap_or_else(|| "postgres".to_string());
        let host = match env("PGHOST") {
            Some(h) if !h.is_empty() => host_from_str(&h),
            _ => default_host(),
        };
        let port = match env("PGPORT") {
            Some(p) => parse_port(&p)?,
            None => 5432,
        };
        let sslmode = match env("PGSSLMODE") {
            Some(m) => SslMode::parse(&m)?,
            None => SslMode::Prefer,
        };
        Ok(ConnSettings {
            host,
            port,
            dbname: env("PGDATABASE").unwrap_or_else(|| user.clone()),
            user,
            password: env("PGPASSWORD").map(Secret),
            sslmode,
            sslrootcert: env("PGSSLROOTCERT").map(PathBuf::from),
            connect_timeout: env("PGCONNECT_TIMEOUT")
                .and_then(|s| s.parse::<u64>().ok())
                .map(Duration::from_secs),
            application_name: env("PGAPPNAME").unwrap_or_else(|| "profochat-saas".into()),
        })
    }

    /// Parses a `postgres://` or `postgresql://` URL. Parts the URL leaves out come
    /// from the `PG*` variables and then libpq's defaults, as with `psql`.
    pub fn from_url(url: &str, env: EnvLookup<'_>) -> Result<Self> {
        let mut s = Self::from_pg_env(env)?;
        let url = url.trim();
        let rest = url
            .strip_prefix("postgresql://")
            .or_else(|| url.strip_prefix("postgres://"))
            .ok_or_else(|| Error::Config {
                message: format!(
                    "the database URL must start with postgres:// or postgresql:// (it starts with {:?})",
                    url.split("://").next().filter(|p| *p != url).unwrap_or("something else")
                ),
                hint: "Example: postgresql://user:password@localhost:5432/profochatbot".into(),
            })?;
        let (before_query, query) = match rest.split_once('?') {
            Some((a, q)) => (a, Some(q)),
            None => (rest, None),
        };
        let (authority, path) = match before_query.split_once('/') {
            Some((a, p)) => (a, p),
            None => (before_query, ""),
        };
        if authority.matches('@').count() > 1 {
            return Err(Error::Config {
                message: "the database URL has more than one '@' before the host: an '@' inside the user name or password must be percent-encoded".into(),
                hint: "Write '@' in the password as %40 (for example s3cret%4012 for s3cret@12); likewise ':' as %3A, '/' as %2F, '#' as %23.".into(),
            });
        }
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        if let Some(userinfo) = userinfo {
            let (user, password) = match userinfo.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (userinfo, None),
            };
            if !user.is_empty() {
                s.user = decode(user, "user name")?;
            }
            if let Some(p) = password {
                s.password = Some(Secret(decode(p, "password")?));
            }
        }
        if !hostport.is_empty() {
            let (host, port) = split_host_port(hostport)?;
            if !host.is_empty() {
                s.host = host_from_str(&decode(host, "host")?);
            }
            if let Some(port) = port {
                s.port = parse_port(port)?;
            }
        } else if env("PGHOST").is_none() {
            s.host = default_host();
        }
        if !path.is_empty() {
            s.dbname = decode(path, "database name")?;
        } else if env("PGDATABASE").is_none() {
            s.dbname = s.user.clone();
        }
        if let Some(query) = query {
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                let value = decode(value, key)?;
                match key {
                    "sslmode" => s.sslmode = SslMode::parse(&value)?,
                    "sslrootcert" => s.sslrootcert = Some(PathBuf::from(value)),
                    "host" => s.host = host_from_str(&value),
                    "port" => s.port = parse_port(&value)?,
                    "user" => s.user = value,
                    "password" => s.password = Some(Secret(value)),
                    "dbname" => s.dbname = value,
                    "connect_timeout" => {
                        let secs = value.parse::<u64>().map_err(|_| Error::Config {
                            message: format!("connect_timeout must be a whole number of seconds, not {value:?}"),
                            hint: "Example: ?connect_timeout=10".into(),
                        })?;
                        s.connect_timeout = Some(Duration::from_secs(secs));
                    }
                    "application_name" => s.application_name = value,
                    // Options libpq knows that do not change how this tool connects.
                    "target_session_attrs" | "options" | "keepalives" | "keepalives_idle"
                    | "sslcompression" | "channel_binding" | "gssencmode" => {}
                    other => {
                        return Err(Error::Config {
                            message: format!("unknown parameter {other:?} in the database URL"),
                            hint: "Supported: sslmode, sslrootcert, host, port, user, password, dbname, connect_timeout, application_name.".into(),
                        })
                    }
                }
            }
        }
        Ok(s)
    }

    /// The same server, another database.
    pub fn with_dbname(&self, dbname: impl Into<String>) -> Self {
        let mut s = self.clone();
        s.dbname = dbname.into();
        s
    }

    /// How the target is shown to people: never with the password.
    pub fn display_target(&self) -> String {
        let host = match &self.host {
            Host::Tcp(h) => format!("{h}:{}", self.port),
            Host::Socket(p) => format!("socket {}/.s.PGSQL.{}", p.display(), self.port),
        };
        format!("database {:?} on {host} as user {:?}", self.dbname, self.user)
    }

    /// A URL for people and reports: the password replaced by `***`.
    pub fn masked_url(&self) -> String {
        self.url(false)
    }

    /// A URL with the password, for a child process's environment or a test; never for display.
    pub fn secret_url(&self) -> String {
        self.url(true)
    }

    fn url(&self, with_password: bool) -> String {
        let enc = |s: &str| percent_encoding::utf8_percent_encode(s, URL_COMPONENT).to_string();
        let auth = match (&self.password, with_password) {
            (Some(p), true) => format!("{}:{}@", enc(&self.user), enc(p.expose())),
            (Some(_), false) => format!("{}:***@", enc(&self.user)),
            (None, _) => format!("{}@", enc(&self.user)),
        };
        let mut url = match &self.host {
            Host::Tcp(h) if h.contains(':') => format!("postgresql://{auth}[{h}]:{}/{}", self.port, enc(&self.dbname)),
            Host::Tcp(h) => format!("postgresql://{auth}{h}:{}/{}", self.port, enc(&self.dbname)),
            Host::Socket(p) => format!(
                "postgresql://{auth}/{}?host={}&port={}",
                enc(&self.dbname),
                enc(&p.display().to_string()),
                self.port
            ),
        };
        // The secret form always names sslmode, so a child process connects the same way.
        if with_password || self.sslmode != SslMode::Prefer {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str("sslmode=");
            url.push_str(self.sslmode.as_str());
        }
        url
    }

    /// Arguments and environment for `pg_dump`, `pg_restore` and `psql`: the password
    /// travels in `PGPASSWORD`, never on the command line where `ps` would show it.
    pub fn libpq_env(&self) -> Vec<(String, String)> {
        let mut env = vec![
            ("PGHOST".to_string(), self.host.to_string()),
            ("PGPORT".to_string(), self.port.to_string()),
            ("PGUSER".to_string(), self.user.clone()),
            ("PGDATABASE".to_string(), self.dbname.clone()),
            ("PGSSLMODE".to_string(), self.sslmode.as_str().to_string()),
            ("PGAPPNAME".to_string(), self.application_name.clone()),
        ];
        if let Some(p) = &self.password {
            env.push(("PGPASSWORD".to_string(), p.expose().to_string()));
        }
        if let Some(c) = &self.sslrootcert {
            env.push(("PGSSLROOTCERT".to_string(), c.display().to_string()));
        }
        if let Some(t) = self.connect_timeout {
            env.push(("PGCONNECT_TIMEOUT".to_string(), t.as_secs().to_string()));
        }
        env
    }

    /// The `tokio_postgres` configuration (TLS is chosen separately, see `conn::connect`).
    pub fn pg_config(&self) -> tokio_postgres::Config {
        let mut c = tokio_postgres::Config::new();
        match &self.host {
            Host::Tcp(h) => c.host(h),
            Host::Socket(p) => c.host_path(p),
        };
        c.port(self.port)
            .user(&self.user)
            .dbname(&self.dbname)
            .application_name(&self.application_name)
            .connect_timeout(self.connect_timeout.unwrap_or(Duration::from_secs(10)));
        if let Some(p) = &self.password {
            c.password(p.expose());
        }
        // "already exists, skipping" notices of idempotent DDL are noise here.
        c.options("-c client_min_messages=warning");
        c.ssl_mode(match self.sslmode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Allow | SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                tokio_postgres::config::SslMode::Require
            }
        });
        c
    }
}

fn decode(s: &str, what: &str) -> Result<String> {
    percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| Error::Config {
            message: format!("the {what} in the database URL is not valid UTF-8 after percent-decoding"),
            hint: "Check the %XX escapes in the URL.".into(),
        })
}

fn split_host_port(hostport: &str) -> Result<(&str, Option<&str>)> {
    if let Some(rest) = hostport.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(|| Error::Config {
            message: "the IPv6 address in the database URL has no closing ']'".into(),
            hint: "Example: postgresql://user@[::1]:5432/db".into(),
        })?;
        let port = after.strip_prefix(':');
        return Ok((host, port.filter(|p| !p.is_empty())));
    }
    if hostport.contains(',') {
        return Err(Error::Config {
            message: "the database URL names several hosts; profochat-saas migrates one server at a time".into(),
            hint: "Name the primary server only.".into(),
        });
    }
    Ok(match hostport.rsplit_once(':') {
        Some((h, p)) => (h, Some(p).filter(|p| !p.is_empty())),
        None => (hostport, None),
    })
}

fn parse_port(p: &str) -> Result<u16> {
    p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| Error::Config {
        message: format!("the port {p:?} is not a number from 1 to 65535"),
        hint: "If the password contains ':' or '@', percent-encode it (%3A, %40).".into(),
    })
}

fn host_from_str(h: &str) -> Host {
    if h.starts_with('/') {
        Host::Socket(PathBuf::from(h))
    } else {
        Host::Tcp(h.to_string())
    }
}

fn default_host() -> Host {
    DEFAULT_SOCKET_DIRS
        .iter()
        .map(PathBuf::from)
        .find(|d| d.join(".s.PGSQL.5432").exists())
        .map(Host::Socket)
        .unwrap_or_else(|| Host::Tcp("localhost".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn parse(url: &str) -> ConnSettings {
        ConnSettings::from_url(url, &no_env).unwrap()
    }

    #[test]
    fn full_url() {
        let s = parse("postgresql://bob:secret@db.example.com:6543/profo?sslmode=require");
        assert_eq!(s.user, "bob");
        assert_eq!(s.password.as_ref().unwrap().expose(), "secret");
        assert_eq!(s.host, Host::Tcp("db.example.com".into()));
        assert_eq!(s.port, 6543);
        assert_eq!(s.dbname, "profo");
        assert_eq!(s.sslmode, SslMode::Require);
    }

    #[test]
    fn percent_encoded_password() {
        let s = parse("postgres://bob:p%40ss%3Aw%2Ford%23@localhost/profo");
        assert_eq!(s.password.unwrap().expose(), "p@ss:w/ord#");
    }

    #[test]
    fn no_password() {
        let s = parse("postgres://bob@localhost/profo");
        assert!(s.password.is_none());
        assert_eq!(s.port, 5432);
    }

    #[test]
    fn unix_socket_in_query_and_encoded_host() {
        let s = parse("postgresql:///profo?host=/var/run/postgresql");
        assert_eq!(s.host, Host::Socket("/var/run/postgresql".into()));
        assert_eq!(s.dbname, "profo");
        let s = parse("postgresql://bob@%2Ftmp%2Fpg/profo");
        assert_eq!(s.host, Host::Socket("/tmp/pg".into()));
    }

    #[test]
    fn ipv6_host() {
        let s = parse("postgresql://bob@[::1]:5433/profo");
        assert_eq!(s.host, Host::Tcp("::1".into()));
        assert_eq!(s.port, 5433);
    }

    #[test]
    fn sslmodes() {
        for (m, want) in [
            ("disable", SslMode::Disable),
            ("prefer", SslMode::Prefer),
            ("require", SslMode::Require),
            ("verify-ca", SslMode::VerifyCa),
            ("verify-full", SslMode::VerifyFull),
        ] {
            assert_eq!(parse(&format!("postgres://h/d?sslmode={m}")).sslmode, want);
        }
        let err = ConnSettings::from_url("postgres://h/d?sslmode=bogus", &no_env).unwrap_err();
        assert!(err.to_string().contains("unknown sslmode"), "{err}");
    }

    #[test]
    fn unencoded_at_in_password_is_explained() {
        let err = ConnSettings::from_url("postgres://bob:p@ss@localhost/profo", &no_env).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("%40"), "{text}");
        assert!(!text.contains("p@ss"), "{text}");
    }

    #[test]
    fn wrong_scheme() {
        let err = ConnSettings::from_url("mysql://bob@localhost/profo", &no_env).unwrap_err();
        assert!(err.to_string().contains("postgres://"), "{err}");
    }

    #[test]
    fn masked_forms_never_show_the_password() {
        let s = parse("postgres://bob:hunter2@localhost:5432/profo");
        assert!(!s.masked_url().contains("hunter2"));
        assert!(s.masked_url().contains("***"));
        assert!(!s.display_target().contains("hunter2"));
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(s.secret_url().contains("hunter2"));
    }

    #[test]
    fn pg_env_fills_the_gaps() {
        let env = |k: &str| match k {
            "PGHOST" => Some("pg.internal".to_string()),
            "PGPORT" => Some("5555".to_string()),
            "PGUSER" => Some("alice".to_string()),
            "PGPASSWORD" => Some("pw".to_string()),
            "PGDATABASE" => Some("bots".to_string()),
            "PGSSLMODE" => Some("verify-full".to_string()),
            _ => None,
        };
        let s = ConnSettings::from_pg_env(&env).unwrap();
        assert_eq!((s.host.to_string().as_str(), s.port, s.user.as_str(), s.dbname.as_str()), ("pg.internal", 5555, "alice", "bots"));
        assert_eq!(s.sslmode, SslMode::VerifyFull);
        let u = ConnSettings::from_url("postgres:///other", &env).unwrap();
        assert_eq!(u.dbname, "other");
        assert_eq!(u.user, "alice");
        assert_eq!(u.host, Host::Tcp("pg.internal".into()));
    }

    #[test]
    fn round_trip_through_secret_url() {
        let s = parse("postgres://b%C3%B6b:p%40ss@localhost:5433/%D0%B1%D0%B0%D0%B7%D0%B0?sslmode=require");
        let again = parse(&s.secret_url());
        assert_eq!(s, again);
    }
}
