//! libpq `key=value` connection strings.

use super::{default_host, host_from_str, ConnSettings, EnvLookup};
use crate::error::{Error, Result};

impl ConnSettings {
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
}

/// Whether a connection string is a libpq `key=value` string rather than a URL.
pub(super) fn is_conninfo(s: &str) -> bool {
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::tests::{no_env, parse};
    use super::super::*;

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

}
