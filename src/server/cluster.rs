//! A private throwaway PostgreSQL cluster, for `demo` and the tests when no server
//! answers: `initdb` into a temporary directory, `pg_ctl start` on a unix socket in it,
//! stopped and removed on drop. A watchdog stops it too if this process dies.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::tools::find_tool;
use crate::conn::{ConnSettings, Host, SslMode};
use crate::error::{Error, Result};

/// A running private cluster. Dropping it stops the server and removes its files.
pub struct TempCluster {
    dir: PathBuf,
    pg_ctl: PathBuf,
    port: u16,
    run_as: Option<String>,
}

impl TempCluster {
    /// Creates and starts a cluster; PostgreSQL refuses to run as root, so as root
    /// the server runs as the `postgres` system user.
    pub fn start() -> Result<TempCluster> {
        Self::start_with_password(None)
    }

    /// Like [`TempCluster::start`]; with a password, the `postgres` user must log in
    /// with it (scram-sha-256) instead of being trusted. The server then also listens
    /// on 127.0.0.1, since password checks are what TCP clients meet.
    pub fn start_with_password(password: Option<&str>) -> Result<TempCluster> {
        let initdb = find_tool("initdb", None)?;
        let pg_ctl = find_tool("pg_ctl", None)?;
        let run_as = if is_root() { Some("postgres".to_string()) } else { None };
        let base = std::env::temp_dir().join(format!("profochat-saas-cluster-{}-{}", std::process::id(), rand::random::<u32>()));
        std::fs::create_dir_all(&base).map_err(|e| Error::io(format!("cannot create {}", base.display()), e, "Check TMPDIR."))?;
        let data = base.join("data");
        let port = 20000 + (rand::random::<u16>() % 20000);
        if let Some(user) = &run_as {
            chown(&base, user)?;
        }
        let mut args = vec!["-D".to_string(), data.display().to_string(), "-U".into(), "postgres".into(), "--no-sync".into(), "-E".into(), "UTF8".into(), "--locale=C".into()];
        if let Some(pw) = password {
            let pwfile = base.join("pwfile");
            std::fs::write(&pwfile, pw).map_err(|e| Error::io("cannot write the password file", e, "Check TMPDIR."))?;
            if let Some(user) = &run_as {
                chown(&pwfile, user)?;
            }
            args.extend(["-A".into(), "scram-sha-256".into(), format!("--pwfile={}", pwfile.display())]);
        } else {
            args.extend(["-A".into(), "trust".into()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&run_as, &initdb.path, &args, "initdb")?;
        let _ = std::fs::remove_file(base.join("pwfile"));
        let listen = if password.is_some() { "127.0.0.1" } else { "" };
        let opts = format!("-k {} -p {port} -c listen_addresses='{listen}' -c fsync=off -c synchronous_commit=off -c full_page_writes=off", base.display());
        run(
            &run_as,
            &pg_ctl.path,
            &["-D", &data.display().to_string(), "-o", &opts, "-l", &base.join("log").display().to_string(), "-w", "start"],
            "pg_ctl start",
        )?;
        let cluster = TempCluster {
            dir: base,
            pg_ctl: pg_ctl.path,
            port,
            run_as,
        };
        cluster.watchdog();
        Ok(cluster)
    }

    /// Settings for the `postgres` database of this cluster.
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn settings(&self) -> ConnSettings {
        ConnSettings {
            host: Host::Socket(self.dir.clone()),
            port: self.port,
            user: "postgres".into(),
            password: None,
            dbname: "postgres".into(),
            sslmode: SslMode::Disable,
            sslrootcert: None,
            connect_timeout: None,
            application_name: "profochat-saas".into(),
        }
    }

    /// `pg_ctl restart -m fast`: every session is ended, as a server restart ends them,
    /// and the server starts again with the same options.
    pub fn restart_fast(&self) -> Result<()> {
        let log = self.dir.join("log").display().to_string();
        run(&self.run_as, &self.pg_ctl, &["-D", &self.data().display().to_string(), "-l", &log, "-m", "fast", "-w", "restart"], "pg_ctl restart")
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Stops the server if this process ends without dropping the cluster (a panic, a kill).
    fn watchdog(&self) {
        let script = format!(
            "while [ -d /proc/{pid} ]; do sleep 1; done; {ctl} -D '{data}' -m immediate stop >/dev/null 2>&1; rm -rf '{dir}'",
            pid = std::process::id(),
            ctl = self.pg_ctl.display(),
            data = self.data().display(),
            dir = self.dir.display()
        );
        let mut cmd = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--", "sh", "-c", &script]);
                c
            }
            None => {
                let mut c = Command::new("sh");
                c.args(["-c", &script]);
                c
            }
        };
        let _ = cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn();
    }
}

impl Drop for TempCluster {
    fn drop(&mut self) {
        let _ = run(
            &self.run_as,
            &self.pg_ctl,
            &["-D", &self.data().display().to_string(), "-m", "fast", "-w", "stop"],
            "pg_ctl stop",
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn chown(path: &Path, user: &str) -> Result<()> {
    run(&None, Path::new("chown"), &["-R", user, &path.display().to_string()], "chown")
}

fn run(run_as: &Option<String>, program: &Path, args: &[&str], what: &str) -> Result<()> {
    let mut cmd = match run_as {
        Some(user) => {
            let mut c = Command::new("runuser");
            c.args(["-u", user, "--"]).arg(program).args(args);
            c
        }
        None => {
            let mut c = Command::new(program);
            c.args(args);
            c
        }
    };
    let out = cmd.stdin(Stdio::null()).output().map_err(|e| Error::Tool {
        tool: what.into(),
        message: format!("could not start {}: {e}", program.display()),
        hint: "Install the PostgreSQL server programs (apt-get install postgresql).".into(),
    })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(Error::Tool {
            tool: what.into(),
            message: format!("failed ({}): {}", out.status, stderr.trim()),
            hint: "Nothing was changed on any existing server.".into(),
        });
    }
    Ok(())
}
