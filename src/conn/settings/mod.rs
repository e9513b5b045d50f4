//! Connection settings: a `postgres://` URL or the standard `PG*` variables,
//! parsed into one struct that can connect, be shown with the password masked,
//! and be handed to `pg_dump`/`pg_restore` without putting the password on a
//! command line. Parsed from a URL ([`url`]) or a libpq string ([`conninfo`]), the
//! gaps filled from the `PG*` variables and the password file (here), handed on in
//! [`forms`].

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};

mod conninfo;
mod forms;
mod url;

pub use url::ENCODING_HINT;

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

const DEFAULT_SOCKET_DIRS: [&str; 2] = ["/var/run/postgresql", "/tmp"];

/// The name of the operating-system user the process runs as (its effective uid, as
/// libpq's `pg_fe_getauthname` reads it from the password database).
pub fn os_user() -> Option<String> {
    let mut buf = vec![0u8; 4096];
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    loop {
        // SAFETY: buf outlives the call and the read of pw_name below; result is
        // either null or points at pwd.
        let rc = unsafe { libc::getpwuid_r(libc::geteuid(), &mut pwd, buf.as_mut_ptr().cast(), buf.len(), &mut result) };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 4, 0);
            continue;
        }
        if rc != 0 || result.is_null() || pwd.pw_name.is_null() {
            return None;
        }
        // SAFETY: pw_name is a NUL-terminated string inside buf.
        let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
        return Some(name.to_string_lossy().into_owned()).filter(|n| !n.is_empty());
    }
}

impl ConnSettings {
    /// Settings from the `PG*` variables alone, with libpq's defaults; with no
    /// password, the password file's (`~/.pgpass`, `PGPASSFILE`), as libpq reads it.
    pub fn from_pg_env(env: EnvLookup<'_>) -> Result<Self> {
        let mut s = Self::pg_env_defaults(env)?;
        s.fill_password_from_file(None, env);
        Ok(s)
    }

    /// The `PG*` variables and libpq's defaults, without the password file.
    fn pg_env_defaults(env: EnvLookup<'_>) -> Result<Self> {
        // libpq's rule: PGUSER, else the name of the operating-system user the process
        // runs as (never $USER, which cron, systemd and containers often leave unset or stale).
        let user = env("PGUSER").or_else(os_user).unwrap_or_else(|| "postgres".to_string());
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
            connect_timeout: env("PGCONNECT_TIMEOUT").and_then(|s| s.trim().parse::<u64>().ok()).and_then(timeout_from_secs),
            application_name: env("PGAPPNAME").unwrap_or_else(|| "profochat-saas".into()),
        })
    }

    /// A parameter URLs and connection strings share. `source` names where it came from.
    fn set_common(&mut self, key: &str, value: String, source: &str) -> Result<()> {
        match key {
            "sslmode" => self.sslmode = SslMode::parse(&value)?,
            "sslrootcert" => self.sslrootcert = Some(PathBuf::from(value)),
            "host" => self.host = host_from_str(&value),
            "port" => self.port = parse_port(&value)?,
            "user" => self.user = value,
            "password" => self.password = Some(Secret(value)),
            "dbname" => self.dbname = value,
            "connect_timeout" => {
                let secs = value.trim().parse::<u64>().map_err(|_| Error::Config {
                    message: format!("connect_timeout must be a whole number of seconds, not {value:?}"),
                    hint: "Example: connect_timeout=10".into(),
                })?;
                self.connect_timeout = timeout_from_secs(secs);
            }
            "application_name" => self.application_name = value,
            // Options libpq knows that do not change how this tool connects.
            "target_session_attrs" | "options" | "keepalives" | "keepalives_idle" | "keepalives_interval"
            | "keepalives_count" | "sslcompression" | "channel_binding" | "gssencmode" | "client_encoding"
            | "fallback_application_name" | "sslcert" | "sslkey" | "sslcrl" | "requirepeer" | "krbsrvname"
            | "gsslib" | "tcp_user_timeout" | "replication" | "service" => {}
            other => {
                // Only a name that looks like one is quoted: a piece of a mistyped
                // password is never shown.
                let name = if !other.is_empty() && other.len() <= 40 && other.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                    format!(" {other:?}")
                } else {
                    String::new()
                };
                return Err(Error::Config {
                    message: format!("unknown parameter{name} in {source}"),
                    hint: "Supported: sslmode, sslrootcert, host, port, user, password, passfile, dbname, connect_timeout, application_name.".into(),
                });
            }
        }
        Ok(())
    }

    /// With no password given, the password file's for this host, port, database and
    /// user (`passfile`, else `PGPASSFILE`, else `~/.pgpass`), as libpq does.
    fn fill_password_from_file(&mut self, passfile: Option<&str>, env: EnvLookup<'_>) {
        if self.password.as_ref().is_some_and(|p| !p.0.is_empty()) {
            return;
        }
        let file = super::pgpass::path(passfile, env);
        if let super::pgpass::Lookup::Found(p) = super::pgpass::lookup(file, &self.host, self.port, &self.dbname, &self.user) {
            self.password = Some(Secret(p));
        }
    }

    /// The same server, another database.
    pub fn with_dbname(&self, dbname: impl Into<String>) -> Self {
        let mut s = self.clone();
        s.dbname = dbname.into();
        s
    }

}

/// libpq's connect_timeout: 0 waits indefinitely (here: the defaults), less than 2
/// seconds counts as 2.
fn timeout_from_secs(secs: u64) -> Option<Duration> {
    (secs > 0).then(|| Duration::from_secs(secs.max(2)))
}

/// Whether `dir` is one of the directories libpq looks for the server's socket in.
pub fn is_default_socket_dir(dir: &std::path::Path) -> bool {
    DEFAULT_SOCKET_DIRS.iter().any(|d| std::path::Path::new(d) == dir) || dir == std::path::Path::new("/run/postgresql")
}

fn parse_port(p: &str) -> Result<u16> {
    p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| Error::Config {
        message: format!("the port {p:?} is not a number from 1 to 65535"),
        hint: ENCODING_HINT.into(),
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
    #[test]
    fn the_default_user_is_the_operating_system_user_as_libpq_has_it() {
        let id = std::process::Command::new("id").arg("-un").output().expect("id -un");
        let expected = String::from_utf8_lossy(&id.stdout).trim().to_string();
        assert_eq!(super::os_user().as_deref(), Some(expected.as_str()));
        // No PGUSER: the OS user, whatever $USER says (the lookup never reads it).
        let env = |k: &str| (k == "USER").then(|| "someone_else".to_string());
        let s = super::ConnSettings::from_pg_env(&env).unwrap();
        assert_eq!(s.user, expected);
        assert_eq!(s.dbname, expected);
        let env = |k: &str| (k == "PGUSER").then(|| "alice".to_string());
        assert_eq!(super::ConnSettings::from_pg_env(&env).unwrap().user, "alice");
    }

    use super::*;

    pub(super) fn no_env(_: &str) -> Option<String> {
        None
    }

    pub(super) fn parse(url: &str) -> ConnSettings {
        ConnSettings::from_url(url, &no_env).unwrap()
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
    fn the_password_file_fills_a_missing_password() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pgpass");
        std::fs::write(&file, "db.example.com:5432:profo:bob:from-file\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let path = file.display().to_string();
        let env = move |k: &str| (k == "PGPASSFILE").then(|| path.clone());
        let s = ConnSettings::from_url("postgresql://bob@db.example.com/profo", &env).unwrap();
        assert_eq!(s.password.unwrap().expose(), "from-file");
        let s = ConnSettings::from_url("postgresql://bob:given@db.example.com/profo", &env).unwrap();
        assert_eq!(s.password.unwrap().expose(), "given", "a password given wins");
        let s = ConnSettings::from_url("postgresql://alice@db.example.com/profo", &env).unwrap();
        assert!(s.password.is_none());
    }

}
