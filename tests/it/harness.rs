//! The test harness: every test gets its own fresh database on a real PostgreSQL
//! server, cloned from a per-process template that holds the legacy schema.
//! Databases of passing tests are dropped; a failing test's database is kept for
//! inspection and its name printed.
//!
//! The server is `TEST_DATABASE_URL` if set, else the local one, else a private
//! throwaway cluster started with the installed `initdb`/`pg_ctl`.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use profochat_saas::conn::{self, ConnSettings, Db};
use profochat_saas::server::TempCluster;
use profochat_saas::sql::{ident, LEGACY_SCHEMA};

struct Server {
    admin: ConnSettings,
    template: String,
    _cluster: Option<TempCluster>,
}

static SERVER: OnceLock<Server> = OnceLock::new();
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Runs a future to completion on a private runtime in its own thread, so that it
/// can be used from sync code (Drop) and from inside any test's runtime.
pub fn block_on<F, T>(f: F) -> T
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("test runtime")
            .block_on(f)
    })
    .join()
    .expect("harness thread panicked")
}

fn server() -> &'static Server {
    SERVER.get_or_init(|| {
        let (admin, cluster) = block_on(async {
            if let Ok(url) = std::env::var("TEST_DATABASE_URL") {
                let env = |k: &str| std::env::var(k).ok();
                let s = ConnSettings::from_url(&url, &env).expect("TEST_DATABASE_URL is not a valid URL");
                return (s, None);
            }
            if let Some(s) = profochat_saas::server::find_local().await {
                return (s, None);
            }
            let cluster = TempCluster::start().expect("no PostgreSQL server answers and a private one could not be started");
            (cluster.settings(), Some(cluster))
        });
        let template = format!("pcs_template_{}", std::process::id());
        let tpl = template.clone();
        let a = admin.clone();
        block_on(async move {
            let db = conn::connect(&a).await.expect("connect to the test server");
            db.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", ident(&tpl))).await.expect("drop old template");
            db.batch_execute(&format!("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'", ident(&tpl)))
                .await
                .expect("create template");
            let t = conn::connect(&a.with_dbname(&tpl)).await.expect("connect to template");
            t.batch_execute(LEGACY_SCHEMA).await.expect("legacy schema");
            drop(t);
            db.batch_execute(&format!("ALTER DATABASE {} WITH IS_TEMPLATE true", ident(&tpl))).await.expect("mark template");
        });
        // The template goes when the test process ends.
        unsafe {
            libc::atexit(drop_template);
        }
        Server {
            admin,
            template,
            _cluster: cluster,
        }
    })
}

extern "C" fn drop_template() {
    if let Some(s) = SERVER.get() {
        let admin = s.admin.clone();
        let tpl = s.template.clone();
        let _ = std::panic::catch_unwind(move || {
            block_on(async move {
                if let Ok(db) = conn::connect(&admin).await {
                    let _ = db.batch_execute(&format!("ALTER DATABASE {} WITH IS_TEMPLATE false", ident(&tpl))).await;
                    let _ = db.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", ident(&tpl))).await;
                }
            })
        });
    }
}

/// Settings of the test server's maintenance database.
pub fn admin() -> ConnSettings {
    server().admin.clone()
}

/// A fresh database for one test.
pub struct TestDb {
    pub name: String,
    pub settings: ConnSettings,
    keep: bool,
}

impl TestDb {
    /// A database holding the empty legacy schema.
    pub async fn legacy() -> TestDb {
        let tpl = server().template.clone();
        Self::create(Some(tpl)).await
    }

    /// A database with no tables at all.
    pub async fn empty() -> TestDb {
        Self::create(None).await
    }

    async fn create(template: Option<String>) -> TestDb {
        let s = server();
        let test = std::thread::current()
            .name()
            .unwrap_or("test")
            .rsplit("::")
            .next()
            .unwrap_or("test")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(30)
            .collect::<String>();
        let name = format!(
            "pcs_t_{}_{}_{}_{}",
            test,
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            rand::random::<u16>()
        );
        let admin = s.admin.clone();
        let n = name.clone();
        block_on(async move {
            let db = conn::connect(&admin).await.expect("connect to the test server");
            let sql = match template {
                Some(t) => format!("CREATE DATABASE {} TEMPLATE {}", ident(&n), ident(&t)),
                None => format!("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'", ident(&n)),
            };
            db.batch_execute(&sql).await.expect("create test database");
        });
        TestDb {
            settings: s.admin.with_dbname(&name),
            name,
            keep: false,
        }
    }

    pub async fn connect(&self) -> Db {
        conn::connect(&self.settings).await.expect("connect to the test database")
    }

    /// A URL with the password, for the binary under test.
    pub fn url(&self) -> String {
        self.settings.secret_url()
    }

    /// Keep this database after the test (for debugging).
    pub fn keep(&mut self) {
        self.keep = true;
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if std::thread::panicking() || self.keep {
            eprintln!("test database kept for inspection: {}", self.name);
            return;
        }
        let admin = server().admin.clone();
        let name = self.name.clone();
        block_on(async move {
            if let Ok(db) = conn::connect(&admin).await {
                let _ = db.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", ident(&name))).await;
            }
        });
    }
}

/// The binary under test, run in an empty directory (no stray .env), with only the
/// environment a test gives it.
pub fn cli() -> assert_cmd::Command {
    assert_cmd::Command::from_std(bin())
}

/// The binary under test as a plain `std::process::Command`, set up like [`cli`]: for
/// tests that drive it on a terminal or send it signals.
pub fn bin() -> std::process::Command {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("profochat-saas"));
    let dir = std::env::temp_dir().join("pcs-cli-cwd");
    std::fs::create_dir_all(&dir).expect("cwd");
    cmd.current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("BOT_NAME")
        .env_remove("BOT_API_TOKEN")
        .env_remove("PGPASSWORD")
        .env("NO_COLOR", "1");
    cmd
}
