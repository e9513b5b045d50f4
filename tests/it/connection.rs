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
    // TLS needs TCP; the local server has ssl = on with a self-signed certificate.
    s.host = conn::Host::Tcp("127.0.0.1".into());
    s.port = 5432;
    let probe = conn::connect(&s.with_dbname("postgres")).await;
    if probe.is_err() || !probe.as_ref().unwrap().query_one("SHOW ssl", &[]).await.map(|r| r.get::<_, String>(0) == "on").unwrap_or(false) {
        eprintln!("skipped: the local server on 127.0.0.1:5432 does not offer TLS");
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
    assert!(text.contains("127.0.0.1:5432"), "{text}");

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
