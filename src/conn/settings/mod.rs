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

    /// Parses a `postgres://` or `postgresql://` URL, or a libpq `key=value` string.
    /// Parts it leaves out come from the `PG*` variables and then libpq's defaults, as
    /// with `psql`; with no password, the password file's. No error ever shows a part
    /// of the string that could be a password.
    pub fn from_url(url: &str, env: EnvLookup<'_>) -> Result<Self> {
        let url = url.trim();
        if is_conninfo(url) {
            return Self::from_conninfo(url, env);
        }
        let mut passfile = None;
        let parsed = Self::parse_url(url, env, &mut passfile);
        let mut s = match parsed {
            // An '@' after the first '/', '?' or '#' of the authority: the user name or
            // password holds one of those characters unencoded, and whatever the parser
            // made of the rest would quote a piece of the password.
            Err(_) if userinfo_not_encoded(url) => return Err(unencoded_userinfo()),
            Ok(_) if userinfo_not_encoded(url) && !query_holds_the_at(url) => return Err(unencoded_userinfo()),
            other => other?,
        };
        s.fill_password_from_file(passfile.as_deref(), env);
        Ok(s)
    }

    fn parse_url(url: &str, env: EnvLookup<'_>, passfile: &mut Option<String>) -> Result<Self> {
        let mut s = Self::pg_env_defaults(env)?;
        let rest = url
            .strip_prefix("postgresql://")
            .or_else(|| url.strip_prefix("postgres://"))
            .ok_or_else(|| Error::Config {
                message: format!(
                    "the database URL must start with postgres:// or postgresql:// (it starts with {:?})",
                    url.split("://").next().filter(|p| *p != url).unwrap_or("something else")
                ),
                hint: "Example: postgresql://user:password@localhost:5432/profochatbot, or a libpq string: host=localhost dbname=profochatbot user=bob".into(),
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
                hint: ENCODING_HINT.into(),
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
                    "passfile" => *passfile = Some(value),
                    other => s.set_common(other, value, "the database URL")?,
                }
            }
        }
        Ok(s)
    }

    /// Parses a libpq connection string: `host=db.example.com port=5432 dbname=profo
    /// user=bob password='it''s secret'` (values with spaces in single quotes, `\'`
    /// and `\\` escaping). Unset keys come from the `PG*` variables, as with libpq.
    pub fn from_conninfo(conninfo: &str, env: EnvLookup<'_>) -> Result<Self> {
        let mut s = Self::pg_env_defaults(env)?;
        let mut passfile = None;
        let mut host_given = false;
        let mut dbname_given = false;
        for (key, value) in conninfo_pairs(conninfo)? {
            match key.as_str() {
                "host" | "hostaddr" => {
                    if value.contains(',') {
                        return Err(Error::Config {
                            message: "the connection string names several hosts; profochat-saas migrates one server at a time".into(),
                            hint: "Name the primary server only.".into(),
                        });
                    }
                    host_given = true;
                    s.host = if value.is_empty() { default_host() } else { host_from_str(&value) };
                }
                "passfile" => passfile = Some(value),
                "dbname" => {
                    dbname_given = true;
                    s.dbname = value;
                }
                other => s.set_common(other, value, "the connection string")?,
            }
        }
        if !host_given && env("PGHOST").is_none() {
            s.host = default_host();
        }
        if !dbname_given && env("PGDATABASE").is_none() {
            s.dbname = s.user.clone();
        }
        s.fill_password_from_file(passfile.as_deref(), env);
        Ok(s)
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

/// How to write the characters a URL reserves in a user name or password.
pub const ENCODING_HINT: &str = "In a URL, percent-encode these characters of the user name and password: \
    '@' as %40, ':' as %3A, '/' as %2F, '?' as %3F, '#' as %23 (for example s3cret%2F12 for s3cret/12); \
    or give the password in PGPASSWORD or ~/.pgpass instead.";

fn unencoded_userinfo() -> Error {
    Error::Config {
        message: "the database URL has an '@' after a '/', '?' or '#': the user name or password holds one of '@ : / ? #' unencoded".into(),
        hint: ENCODING_HINT.into(),
    }
}

/// Whether an '@' comes after the first '/', '?' or '#' of the authority while the
/// authority itself holds none: `postgresql://bob:pa/ss@host/db`.
fn userinfo_not_encoded(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("postgresql://").or_else(|| url.strip_prefix("postgres://")) else {
        return false;
    };
    let Some(end) = rest.find(['/', '?', '#']) else {
        return false;
    };
    !rest[..end].contains('@') && rest[end..].contains('@')
}

/// Whether the first '@' after the authority sits in a query value
/// (`postgresql:///db?user=bob@corp`), where it is allowed.
fn query_holds_the_at(url: &str) -> bool {
    let rest = url.strip_prefix("postgresql://").or_else(|| url.strip_prefix("postgres://")).unwrap_or(url);
    let (Some(q), Some(at)) = (rest.find('?'), rest.find('@')) else {
        return false;
    };
    if at < q || rest.find('#').is_some_and(|h| h < at) || !rest[..q].contains('/') {
        return false;
    }
    // The '@' is in the value of the query's key=value pair it belongs to.
    rest[q + 1..at].split('&').next_back().is_some_and(|pair| pair.contains('='))
}

/// Whether a connection string is a libpq `key=value` string rather than a URL.
fn is_conninfo(s: &str) -> bool {
    !s.starts_with("postgresql://") && !s.starts_with("postgres://") && !s.contains("://") && s.contains('=')
}

/// The `key=value` pairs of a libpq connection string.
fn conninfo_pairs(s: &str) -> Result<Vec<(String, String)>> {
    let bad = |message: &str| Error::Config {
        message: format!("the connection string cannot be read: {message}"),
        hint: "Write key=value pairs separated by spaces, values with spaces or quotes in single quotes: \
               host=localhost dbname=profo user=bob password='my secret'."
            .into(),
    };
    let mut out = vec![];
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') {
            // Never quote the word: it may be half of a password with a space in it.
            return Err(bad("a word is not followed by '='"));
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            value.push(n);
                        }
                    }
                    '\'' => {
                        closed = true;
                        break;
                    }
                    c => value.push(c),
                }
            }
            if !closed {
                return Err(bad("a quoted value has no closing quote"));
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                chars.next();
                if c == '\\' {
                    if let Some(n) = chars.next() {
                        value.push(n);
                    }
                } else {
                    value.push(c);
                }
            }
        }
        if key.is_empty() {
            return Err(bad("a value has no key before its '='"));
        }
        out.push((key, value));
    }
    Ok(out)
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
    fn unencoded_slash_question_mark_and_hash_are_refused_without_a_fragment() {
        for url in [
            "postgresql://bob:Zq9x/Wv4k@localhost/profo",
            "postgresql://bob:Zq9x?Wv4k@localhost/profo",
            "postgresql://bob:Zq9x#Wv4k@localhost/profo",
            "postgresql://bob:Zq9x?a=Wv4k@localhost/profo",
        ] {
            let err = ConnSettings::from_url(url, &no_env).unwrap_err().to_string();
            assert!(!err.contains("Zq9x") && !err.contains("Wv4k"), "{url}: {err}");
            assert!(err.contains("%2F") && err.contains("%3F") && err.contains("%23") && err.contains("%40") && err.contains("%3A"), "{err}");
        }
        // An '@' in a query value is allowed.
        assert_eq!(parse("postgresql://localhost/profo?user=bob@corp").user, "bob@corp");
        assert_eq!(parse("postgresql:///profo?user=bob@corp&sslmode=disable").user, "bob@corp");
    }

    #[test]
    fn libpq_connection_strings() {
        let s = parse("host=db.example.com port=6543 dbname=profo user=bob password='it\\'s a secret' sslmode=require connect_timeout=1");
        assert_eq!(s.host, Host::Tcp("db.example.com".into()));
        assert_eq!((s.port, s.dbname.as_str(), s.user.as_str()), (6543, "profo", "bob"));
        assert_eq!(s.password.unwrap().expose(), "it's a secret");
        assert_eq!(s.sslmode, SslMode::Require);
        assert_eq!(s.connect_timeout, Some(Duration::from_secs(2)), "libpq counts less than 2 s as 2");
        let s = parse("host = /var/run/postgresql dbname=profo");
        assert_eq!(s.host, Host::Socket("/var/run/postgresql".into()));
        let err = ConnSettings::from_url("host=h password='unterminated", &no_env).unwrap_err().to_string();
        assert!(err.contains("closing quote") && !err.contains("unterminated"), "{err}");
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

    #[test]
    fn round_trip_through_secret_url() {
        let s = parse("postgres://b%C3%B6b:p%40ss@localhost:5433/%D0%B1%D0%B0%D0%B7%D0%B0?sslmode=require");
        let again = parse(&s.secret_url());
        assert_eq!(s, again);
    }
}
