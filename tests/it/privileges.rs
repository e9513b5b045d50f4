//! Before `migrate` changes anything it checks that the user may: alter the legacy
//! tables, create schemas and tables, and read what the backup reads. A read-only user
//! is told by name what it cannot do (exit 4), with nothing changed and no backup
//! directory left behind.

use profochat_saas::migrate;
use profochat_saas::report::Silent;

use crate::harness::{admin, cli, TestDb};
use crate::migrate::{catalog, legacy_with_anomalies, opts};

/// A login role that may read the legacy tables and nothing more; dropped at the end.
struct ReadOnlyRole {
    name: String,
    db: profochat_saas::conn::ConnSettings,
}

impl ReadOnlyRole {
    async fn create(db: &TestDb) -> ReadOnlyRole {
        let name = format!("pcs_ro_{}_{}", std::process::id(), rand::random::<u16>());
        let c = db.connect().await;
        c.batch_execute(&format!(
            "CREATE ROLE {name} LOGIN;
             GRANT CONNECT ON DATABASE \"{db}\" TO {name};
             GRANT USAGE ON SCHEMA public TO {name};
             GRANT SELECT ON ALL TABLES IN SCHEMA public TO {name};",
            db = db.name
        ))
        .await
        .unwrap();
        ReadOnlyRole { name, db: db.settings.clone() }
    }
}

impl Drop for ReadOnlyRole {
    fn drop(&mut self) {
        let name = self.name.clone();
        let admin = admin();
        let db = self.db.clone();
        crate::harness::block_on(async move {
            // Its grants in the test database (and on the database itself) go first.
            if let Ok(c) = profochat_saas::conn::connect(&db).await {
                let _ = c.batch_execute(&format!("DROP OWNED BY {name}")).await;
            }
            if let Ok(c) = profochat_saas::conn::connect(&admin).await {
                for _ in 0..50 {
                    if c.batch_execute(&format!("DROP ROLE IF EXISTS {name}")).await.is_ok() {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
            }
        });
    }
}

#[tokio::test]
async fn a_read_only_user_is_refused_by_name_before_anything_changes() {
    let (db, c) = legacy_with_anomalies().await;
    let role = ReadOnlyRole::create(&db).await;
    let before = catalog(&c).await;
    let mut settings = db.settings.clone();
    settings.user = role.name.clone();
    let url = settings.secret_url();
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().join("backups");

    let started = std::time::Instant::now();
    let a = cli()
        .args(["migrate", "--yes", "--default-bot", "main_bot", "--backup-dir"])
        .arg(&backups)
        .args(["--database-url", &url])
        .assert()
        .code(4);
    let err = String::from_utf8_lossy(&a.get_output().stderr).to_string();
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "no lock timeout: {:?}", started.elapsed());
    assert!(err.contains(&format!("permission denied: {} cannot alter the 8 legacy tables", role.name)), "{err}");
    assert!(err.contains("create schemas in database"), "{err}");
    assert!(err.contains("_seq"), "the sequences the backup must read are named: {err}");
    assert!(err.contains("Nothing was changed"), "{err}");
    assert!(!err.contains("lock"), "{err}");
    assert!(!backups.exists(), "no backup directory is left behind");
    assert_eq!(catalog(&c).await, before);

    // --dry-run and --skip-backup are refused the same way; the library too.
    for extra in ["--dry-run", "--skip-backup"] {
        let a = cli().args(["migrate", "--yes", "--default-bot", "main_bot", extra, "--database-url", &url]).assert().code(4);
        assert!(String::from_utf8_lossy(&a.get_output().stderr).contains("permission denied"));
    }
    let mut ro = profochat_saas::conn::connect(&settings).await.unwrap();
    let e = migrate::migrate(&mut ro, &opts(), &Silent).await.unwrap_err();
    assert!(e.to_string().starts_with(&format!("permission denied: {} cannot", role.name)), "{e}");
    assert_eq!(e.exit_status(), profochat_saas::ExitStatus::State);
    drop(ro);
    assert_eq!(catalog(&c).await, before);

    // The owner migrates it.
    cli().args(["migrate", "--yes", "--skip-backup", "--default-bot", "main_bot", "--database-url", &db.url()]).assert().success();
    c.batch_execute(&format!("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {0}; REVOKE ALL ON SCHEMA public FROM {0}; REVOKE ALL ON DATABASE \"{1}\" FROM {0}", role.name, db.name))
        .await
        .unwrap();
}
