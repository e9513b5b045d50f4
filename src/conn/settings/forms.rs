//! The forms the settings are handed on in: shown to people (never with the password),
//! a URL, a child process's libpq environment, the driver's configuration.

use std::time::Duration;

use super::{ConnSettings, Host, SslMode};

/// Everything but RFC 3986's unreserved characters is encoded in URL parts.
const URL_COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

impl ConnSettings {
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

#[cfg(test)]
mod tests {
    use super::super::tests::parse;

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
    fn round_trip_through_secret_url() {
        let s = parse("postgres://b%C3%B6b:p%40ss@localhost:5433/%D0%B1%D0%B0%D0%B7%D0%B0?sslmode=require");
        let again = parse(&s.secret_url());
        assert_eq!(s, again);
    }
}
