//! Connection settings against real servers: TLS modes, wrong passwords,
//! unreachable hosts. No password ever appears in output.

use predicates::prelude::*;
use profochat_saas::conn::{self, ConnSettings, SslMode};
use profochat_saas::server::TempCluster;

use crate::harness::{cli, TestDb};

#[tokio::test]
async fn sslmode_require_encrypts_against_local_tls_server() {
    let db = TestDb::legacy().await;
    let mut s = db.settings.clone();
    // TLS needs TCP: the harness's server (TEST_DATABASE_URL or the local one) over
    // TCP, on its own host and port; a server reached by a unix socket is asked on
    // the loopback address at the same port.
    if let conn::Host::Socket(_) = s.host {
        s.host = conn::Host::Tcp("127.0.0.1".into());
    }
    let target = format!("{}:{}", match &s.host { conn::Host::Tcp(h) => h.clone(), conn::Host::Socket(d) => d.display().to_string() }, s.port);
    let probe = conn::connect(&s.with_dbname(&db.name)).await;
    if probe.is_err() || !probe.as_ref().unwrap().query_one("SHOW ssl", &[]).await.map(|r| r.get::<_, String>(0) == "on").unwrap_or(false) {
        eprintln!("skipped: the test server at {target} does not offer TLS");
        return;
    }
    s.sslmode = SslMode::Require;
    let c = conn::connect(&s).await.expect("sslmode=require connects without verifying");
    assert!(c.tls, "the connection is encrypted");
    let ssl: bool = c
        .query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    assert!(ssl);

    // verify-full refuses the self-signed certificate, and says why.
    s.sslmode = SslMode::VerifyFull;
    let err = conn::connect(&s).await.err().expect("verify-full must reject a self-signed certificate");
    let text = err.to_string();
    assert!(text.contains(&target), "{text}");

    // disable does not encrypt.
    s.sslmode = SslMode::Disable;
    let c = conn::connect(&s).await.unwrap();
    assert!(!c.tls);
}

#[test]
fn wrong_password_is_exit_3_and_never_shows_the_password() {
    let cluster = match TempCluster::start_with_password(Some("right-pass")) {
        Ok(c) => c,
        Err(e) => panic!("could not start a password-protected cluster: {e}"),
    };
    let url = format!("postgresql://postgres:wr%40ng-s3cret@127.0.0.1:{}/postgres", cluster.port());
    for cmd in ["status", "plan"] {
        let out = cli().args([cmd, "--database-url", &url]).assert().code(3);
        let text = String::from_utf8_lossy(&out.get_output().stderr).to_string() + &String::from_utf8_lossy(&out.get_output().stdout);
        assert!(!text.contains("wr@ng-s3cret") && !text.contains("wr%40ng-s3cret"), "{text}");
        assert!(text.contains("password"), "{text}");
        assert!(text.contains("127.0.0.1"), "{text}");
        assert!(!text.contains("panicked") && !text.contains("RUST_BACKTRACE"), "{text}");
        assert_eq!(text.trim().lines().count(), 1, "one paragraph: {text}");
    }
    // The right password works.
    let url = format!("postgresql://postgres:right-pass@127.0.0.1:{}/postgres", cluster.port());
    cli().args(["status", "--database-url", &url]).assert().code(4).stderr(predicate::str::contains("empty"));
}

#[test]
fn unreachable_host_is_exit_3_with_host_port_database_user() {
    let url = "postgresql://alice:topsecret@127.0.0.1:1/profo?connect_timeout=2";
    for cmd in ["status", "plan"] {
        let out = cli().args([cmd, "--database-url", url]).assert().code(3);
        let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
        assert!(err.contains("127.0.0.1:1") && err.contains("\"profo\"") && err.contains("\"alice\""), "{err}");
        assert!(!err.contains("topsecret"), "{err}");
        assert!(err.contains("Nothing was changed"), "{err}");
    }
}

/// With $USER unset (cron, systemd, containers) and no PGUSER, the user is the
/// operating-system user, as libpq (psql) takes it, and the messages name that one.
#[test]
fn without_user_or_pguser_the_user_is_the_operating_system_user() {
    let id = std::process::Command::new("id").arg("-un").output().unwrap();
    let me = String::from_utf8_lossy(&id.stdout).trim().to_string();
    let out = cli()
        .args(["status"])
        .env_remove("USER")
        .env_remove("PGUSER")
        .env("PGHOST", "127.0.0.1")
        .env("PGPORT", "1")
        .env("PGCONNECT_TIMEOUT", "2")
        .assert()
        .code(3);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains(&format!("as user \"{me}\"")) || err.contains(&format!("user \"{me}\"")), "{err}");
    assert!(me == "postgres" || !err.contains("\"postgres\""), "{err}");
}

#[test]
fn url_with_unencoded_at_explains_percent_encoding() {
    let out = cli().args(["status", "--database-url", "postgresql://bob:p@ss@localhost/profo"]).assert().code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("%40"), "{err}");
    assert!(!err.contains("p@ss"), "{err}");
}

#[tokio::test]
async fn database_url_from_dotenv_and_pg_variables() {
    let db = TestDb::legacy().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), format!("DATABASE_URL={}\n", db.url())).unwrap();
    cli().current_dir(dir.path()).arg("status").assert().success().stdout(predicate::str::contains("legacy"));
    // --no-dotenv ignores it, and the PG* variables are used instead.
    let s = &db.settings;
    let mut cmd = cli();
    cmd.current_dir(dir.path())
        .args(["status", "--no-dotenv"])
        .env("PGHOST", s.host.to_string())
        .env("PGPORT", s.port.to_string())
        .env("PGUSER", &s.user)
        .env("PGDATABASE", &s.dbname);
    cmd.assert().success().stdout(predicate::str::contains("legacy"));
}

#[test]
fn percent_encoded_socket_url_connects() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let db = TestDb::legacy().await;
        if let conn::Host::Socket(dir) = &db.settings.host {
            let enc = dir.display().to_string().replace('/', "%2F");
            let url = format!("postgresql://{}@{}:{}/{}", db.settings.user, enc, db.settings.port, db.name);
            let env = |_: &str| None;
            let s = ConnSettings::from_url(&url, &env).unwrap();
            conn::connect(&s).await.expect("socket URL connects");
        }
    });
}

/// One password-protected private cluster for the tests below (password "right-pass").
fn password_cluster() -> &'static TempCluster {
    static CLUSTER: std::sync::OnceLock<TempCluster> = std::sync::OnceLock::new();
    CLUSTER.get_or_init(|| TempCluster::start_with_password(Some("right-pass")).expect("a password-protected cluster"))
}

fn all_output(a: &assert_cmd::assert::Assert) -> String {
    let o = a.get_output();
    String::from_utf8_lossy(&o.stderr).to_string() + &String::from_utf8_lossy(&o.stdout)
}

#[test]
fn an_unencoded_slash_question_mark_or_hash_in_the_password_is_never_shown() {
    // Each password has two telling halves around the character that was not encoded.
    for url in [
        "postgresql://bob:Zq9x/Wv4k@localhost:5432/profo",
        "postgresql://bob:Zq9x?Wv4k@localhost/profo",
        "postgresql://bob:Zq9x#Wv4k@localhost/profo",
        "postgresql://bob:Zq9x?a=Wv4k@localhost/profo",
        "postgresql://bob:Zq9x/Wv4k?sslmode=require@localhost/profo",
        "postgres://Zq9x/Wv4k@db.example.com/profo",
    ] {
        let a = cli().args(["status", "--database-url", url]).assert().code(2);
        let text = all_output(&a);
        assert!(!text.contains("Zq9x") && !text.contains("Wv4k"), "{url}: {text}");
        for enc in ["'@' as %40", "':' as %3A", "'/' as %2F", "'?' as %3F", "'#' as %23"] {
            assert!(text.contains(enc), "{url}: the hint names {enc}: {text}");
        }
        assert!(!text.contains("panicked"), "{text}");
    }
}

#[test]
fn the_password_file_is_read_as_libpq_reads_it() {
    let cluster = password_cluster();
    let url = format!("postgresql://postgres@127.0.0.1:{}/postgres", cluster.port());
    let home = tempfile::tempdir().unwrap();
    let pgpass = home.path().join(".pgpass");
    use std::os::unix::fs::PermissionsExt;
    let write = |path: &std::path::Path, text: &str, mode: u32| {
        std::fs::write(path, text).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    // ~/.pgpass: a line for another server first, then the one that matches.
    write(&pgpass, &format!("other.host:5432:*:*:wrong\n127.0.0.1:{}:*:postgres:right-pass\n", cluster.port()), 0o600);
    // The empty cluster answers "empty" (exit 4): the login worked.
    cli().args(["status", "--database-url", &url]).env("HOME", home.path()).assert().code(4);
    // PGPASSFILE names another file.
    let other = home.path().join("elsewhere");
    write(&other, "*:*:*:*:right-pass\n", 0o600);
    cli().args(["status", "--database-url", &url]).env("HOME", "/nonexistent").env("PGPASSFILE", &other).assert().code(4);
    // A libpq connection string is served by it too.
    let conninfo = format!("host=127.0.0.1 port={} user=postgres dbname=postgres", cluster.port());
    cli().args(["status", "--database-url", &conninfo]).env("HOME", home.path()).assert().code(4);
    // A file others may read is ignored, as libpq ignores it, and the hint says why.
    write(&pgpass, "*:*:*:*:right-pass\n", 0o644);
    let a = cli().args(["status", "--database-url", &url]).env("HOME", home.path()).assert().code(3);
    let text = all_output(&a);
    assert!(text.contains("chmod 600"), "{text}");
    assert!(!text.contains("right-pass"), "{text}");
}

#[test]
fn a_missing_password_gets_password_advice_and_is_asked_for_on_a_terminal() {
    let cluster = password_cluster();
    let url = format!("postgresql://postgres@127.0.0.1:{}/postgres", cluster.port());
    // No terminal: refused at once, with what to do about the password.
    let a = cli().args(["status", "--database-url", &url]).env("HOME", "/nonexistent").assert().code(3);
    let text = all_output(&a);
    assert!(text.contains("asks for a password and none was given"), "{text}");
    assert!(text.contains("PGPASSWORD") && text.contains(".pgpass"), "{text}");
    assert!(!text.contains("Check that the server is running"), "{text}");

    // On a terminal it is asked for, hidden, and the login works.
    let mut cmd = crate::harness::bin();
    cmd.args(["status", "--database-url", &url]).env("HOME", "/nonexistent");
    let mut t = crate::pty::Term::spawn(cmd);
    t.expect("Password for user postgres", std::time::Duration::from_secs(30));
    t.send(b"right-pass\r");
    assert_eq!(t.exit_code(std::time::Duration::from_secs(30)), 4, "{}", t.output());
    let out = t.output();
    assert!(out.contains("empty"), "{out}");
    assert!(!out.contains("right-pass"), "the password is not echoed: {out}");
    assert!(t.echoes(), "the terminal echoes again");
}

#[tokio::test]
async fn a_libpq_key_value_string_is_accepted() {
    let db = TestDb::legacy().await;
    let s = &db.settings;
    let conninfo = format!("host='{}' port={} user='{}' dbname = '{}' application_name=ops", s.host, s.port, s.user, db.name);
    cli().args(["status", "--database-url", &conninfo]).assert().success().stdout(predicate::str::contains("legacy"));
    // The same through DATABASE_URL.
    cli().arg("status").env("DATABASE_URL", &conninfo).assert().success().stdout(predicate::str::contains("legacy"));
    // A value with a space that is not quoted is an error that quotes nothing of it.
    let a = cli().args(["status", "--database-url", "host=localhost password=Zq9x Wv4k dbname=x"]).assert().code(2);
    let text = all_output(&a);
    assert!(!text.contains("Zq9x") && !text.contains("Wv4k"), "{text}");
    assert!(text.contains("single quotes"), "{text}");
}

#[test]
fn a_server_that_never_answers_times_out_as_connect_timeout_says() {
    // A listener that never accepts: the connection is made by the kernel, and then
    // nothing ever answers — like a host whose packets are dropped.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    for (args, env) in [
        (vec!["status".to_string(), "--database-url".into(), format!("postgresql://bob:topsecret@127.0.0.1:{port}/profo?connect_timeout=2")], None),
        (vec!["plan".to_string(), "--database-url".into(), format!("host=127.0.0.1 port={port} user=bob dbname=profo")], Some("2")),
    ] {
        let started = std::time::Instant::now();
        let mut cmd = cli();
        cmd.args(&args).timeout(std::time::Duration::from_secs(20));
        if let Some(t) = env {
            cmd.env("PGCONNECT_TIMEOUT", t);
        }
        let a = cmd.assert().code(3);
        let took = started.elapsed();
        let text = all_output(&a);
        assert!(text.contains("timed out after 2 s"), "{text}");
        assert!(text.contains(&format!("127.0.0.1:{port}")) && !text.contains("topsecret"), "{text}");
        assert!(took < std::time::Duration::from_secs(10), "connect_timeout=2 took {took:?}");
    }
    drop(silent);
}
