//! `postgres://` URLs: parsing them, and explaining a user name or password whose
//! reserved characters were not percent-encoded without quoting a piece of it.

use percent_encoding::percent_decode_str;

use std::path::PathBuf;

use super::conninfo::is_conninfo;
use super::{default_host, host_from_str, parse_port, ConnSettings, EnvLookup, Secret, SslMode};
use crate::error::{Error, Result};

impl ConnSettings {
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

#[cfg(test)]
mod tests {
    use super::super::tests::{no_env, parse};
    use super::super::*;

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

}
