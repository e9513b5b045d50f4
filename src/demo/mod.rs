//! `demo`: the whole job with no configuration. It finds a server (the one given,
//! the local one, or a private throwaway cluster), creates a fresh database, seeds
//! a realistic legacy dataset, then runs plan → backup → migrate → validate, and
//! removes what it created unless asked to keep it.
//!
//! [`Demo`] owns what it created: [`Demo::finish`] removes it and says what it did,
//! and dropping an unfinished `Demo` (a failure, an interrupted command) removes it
//! too, so that no demo database is left behind unannounced.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::backup::{self, BackupInfo};
use crate::conn::{self, ConnSettings};
use crate::error::{Error, Result};
use crate::migrate::{self, MigrateOptions, MigrationReport};
use crate::plan::{self, Plan};
use crate::report::Reporter;
use crate::seed::{self, SeedManifest, SeedOptions};
use crate::server::{self, ScratchDb, TempCluster};
use crate::validate::{self, ValidateOptions, ValidationReport};

/// How demo database names begin: `profochat_demo_<YYYYMMDD_HHMMSS>_<4 hex>`.
pub const DATABASE_PREFIX: &str = "profochat_demo_";

/// The dataset size when none is given.
pub const DEFAULT_RUNS: u64 = 2000;

/// The dataset's seed: the same size gives the same rows on every run of the demo.
pub const DEFAULT_SEED: u64 = 1;

/// What the demo is asked to do.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// The server to create the demo database on (`DATABASE_URL`); else the local
    /// server, else a private cluster.
    pub server: Option<ConnSettings>,
    /// Runs (courses started) in the dataset.
    pub runs: u64,
    pub seed: u64,
    /// Keep the demo database (and the backup) instead of removing them.
    pub keep: bool,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            server: None,
            runs: DEFAULT_RUNS,
            seed: DEFAULT_SEED,
            keep: false,
        }
    }
}

/// Which server the demo uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerKind {
    /// The server of `DATABASE_URL`.
    Configured,
    /// The local server, found on its default socket or port.
    Local,
    /// A cluster started for this demo with the installed `initdb`; it lives only
    /// while the demo runs.
    PrivateCluster,
}

impl ServerKind {
    pub fn describe(self) -> &'static str {
        match self {
            ServerKind::Configured => "the server of DATABASE_URL",
            ServerKind::Local => "the local server",
            ServerKind::PrivateCluster => "a private throwaway cluster (no server answered; started with initdb, removed at the end)",
        }
    }
}

/// The server the demo runs on.
#[derive(Debug, Clone, Serialize)]
pub struct DemoServer {
    pub kind: ServerKind,
    /// The database the demo database was created from, as `display_target()` shows it.
    pub target: String,
}

/// The backup step: the file, or why there is none.
#[derive(Debug, Clone, Serialize)]
pub struct DemoBackup {
    pub info: Option<BackupInfo>,
    /// Why no backup was taken (no suitable `pg_dump`): the demo goes on without one.
    pub skipped: Option<String>,
}

/// How long each step took, in milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Timings {
    pub seed_ms: u64,
    pub plan_ms: u64,
    pub backup_ms: u64,
    pub migrate_ms: u64,
    pub validate_ms: u64,
    /// From the start of the demo (finding the server) to the end of validation.
    pub total_ms: u64,
}

/// The demo's stages, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Seed,
    Plan,
    Backup,
    Migrate,
    Validate,
}

impl Stage {
    pub const ALL: [Stage; 5] = [Stage::Seed, Stage::Plan, Stage::Backup, Stage::Migrate, Stage::Validate];

    /// 1-based position among [`Stage::ALL`].
    pub fn number(self) -> usize {
        Stage::ALL.iter().position(|s| *s == self).unwrap_or(0) + 1
    }
}

/// A stage begins, or its result is there.
#[derive(Debug, Clone, Copy)]
pub enum DemoStep<'a> {
    Begins(Stage),
    Seeded(&'a SeedManifest),
    Planned(&'a Plan),
    BackedUp(&'a DemoBackup),
    Migrated(&'a MigrationReport),
    Validated(&'a ValidationReport),
}

/// Everything the demo did.
#[derive(Debug, Clone, Serialize)]
pub struct DemoReport {
    pub server: DemoServer,
    /// The demo database's name.
    pub database: String,
    pub dataset: SeedManifest,
    pub plan: Plan,
    pub backup: DemoBackup,
    pub migration: MigrationReport,
    /// Validation of the migrated database, after the commit and the index builds.
    pub validation: ValidationReport,
    pub timings: Timings,
}

/// What was removed or kept at the end.
#[derive(Debug, Clone, Serialize)]
pub struct Cleanup {
    /// The demo database's name.
    pub database: String,
    /// The demo database is gone (dropped, or removed with the private cluster).
    pub database_removed: bool,
    /// The kept database, as a URL with the password masked.
    pub kept_url: Option<String>,
    /// How to drop the kept database (a `psql` command, password masked).
    pub drop_command: Option<String>,
    /// --keep was asked, but the database lived in the private cluster, which ends with the demo.
    pub keep_impossible: bool,
    /// The private cluster was stopped and its files removed.
    pub cluster_removed: bool,
    /// The backup file, when it was kept.
    pub backup_kept: Option<PathBuf>,
    /// Why the database could not be dropped.
    pub error: Option<String>,
}

/// A demo in progress: the server, the demo database, and the backup directory.
pub struct Demo {
    server: DemoServer,
    database: ScratchDb,
    backup_dir: Option<tempfile::TempDir>,
    // Declared after `database`: the cluster must outlive the database's removal.
    cluster: Option<TempCluster>,
    keep: bool,
    runs: u64,
    seed: u64,
    started: Instant,
    finished: bool,
}

/// `profochat_demo_<YYYYMMDD_HHMMSS>_<4 random hex>`.
pub fn database_name(now: chrono::DateTime<chrono::Local>) -> String {
    format!("{DATABASE_PREFIX}{}_{:04x}", now.format("%Y%m%d_%H%M%S"), rand::random::<u16>())
}

impl Demo {
    /// Finds the server and creates the demo database (empty).
    pub async fn start(opts: &DemoOptions, reporter: &dyn Reporter) -> Result<Demo> {
        let started = Instant::now();
        if opts.runs > seed::MAX_RUNS {
            return Err(Error::refused(
                format!("--runs {} is more than the legacy int4 keys hold comfortably", opts.runs),
                format!("Use at most {} runs.", seed::MAX_RUNS),
            ));
        }
        let (admin, kind, cluster) = match &opts.server {
            Some(given) => (maintenance_of(given).await, ServerKind::Configured, None),
            None => match server::find_local().await {
                Some(local) => (local, ServerKind::Local, None),
                None => {
                    let step = "no server answers: starting a private PostgreSQL cluster";
                    reporter.started(step, None);
                    let t = Instant::now();
                    let cluster = tokio::task::spawn_blocking(TempCluster::start)
                        .await
                        .map_err(|e| Error::Tool {
                            tool: "initdb".into(),
                            message: format!("starting a private cluster failed: {e}"),
                            hint: "Set DATABASE_URL to a server where a database may be created.".into(),
                        })??;
                    reporter.finished(step, t.elapsed(), "initdb and pg_ctl start");
                    (cluster.settings(), ServerKind::PrivateCluster, Some(cluster))
                }
            },
        };
        let name = database_name(chrono::Local::now());
        let database = ScratchDb::create(&admin, &name).await.map_err(|e| match (kind, e) {
            (ServerKind::Configured, Error::Query { cause, .. }) => Error::state(
                format!("the demo could not create its database on {}: {cause}", admin.display_target()),
                "The demo needs a role that may create databases (CREATEDB). Unset DATABASE_URL to let it use the local server or a private one.",
            ),
            (_, e) => e,
        })?;
        Ok(Demo {
            server: DemoServer {
                kind,
                target: admin.display_target(),
            },
            database,
            backup_dir: None,
            cluster,
            keep: opts.keep,
            runs: opts.runs,
            seed: opts.seed,
            started,
            finished: false,
        })
    }

    pub fn server(&self) -> &DemoServer {
        &self.server
    }

    /// The demo database's connection settings.
    pub fn database(&self) -> &ConnSettings {
        &self.database.settings
    }

    /// The maintenance database the demo database was created from.
    pub fn admin(&self) -> &ConnSettings {
        &self.database.admin
    }

    /// Whether --keep can keep the database (not when it lives in the private cluster).
    pub fn can_keep(&self) -> bool {
        self.cluster.is_none()
    }

    /// Seeds, plans, backs up, migrates and validates; `on_step` sees each result
    /// as soon as it is there. A critical validation failure is in the report, not
    /// an error: the caller decides.
    pub async fn run(&mut self, reporter: &dyn Reporter, on_step: &mut (dyn FnMut(DemoStep<'_>) + Send)) -> Result<DemoReport> {
        let mut timings = Timings::default();
        let mut db = conn::connect(&self.database.settings).await?;

        on_step(DemoStep::Begins(Stage::Seed));
        let t = Instant::now();
        let dataset = seed::generate(&mut db, &SeedOptions { runs: self.runs, seed: self.seed }, reporter).await?;
        timings.seed_ms = ms(t.elapsed());
        on_step(DemoStep::Seeded(&dataset));

        let opts = MigrateOptions {
            default_bot: Some(dataset.default_bot.clone()),
            index_jobs: 2,
            ..MigrateOptions::default()
        };

        on_step(DemoStep::Begins(Stage::Plan));
        let t = Instant::now();
        reporter.started("planning", None);
        let plan = plan::plan(&mut db, &opts).await?;
        let found = plan.anomalies.iter().filter(|a| a.count > 0).count();
        reporter.finished("planning", t.elapsed(), &format!("{} bots, {found} anomaly kinds found", plan.bots.len()));
        timings.plan_ms = ms(t.elapsed());
        on_step(DemoStep::Planned(&plan));

        on_step(DemoStep::Begins(Stage::Backup));
        let t = Instant::now();
        let backup = self.backup(reporter).await?;
        timings.backup_ms = ms(t.elapsed());
        on_step(DemoStep::BackedUp(&backup));

        on_step(DemoStep::Begins(Stage::Migrate));
        let t = Instant::now();
        let migration = migrate::migrate(&mut db, &opts, reporter).await?.into_result()?;
        timings.migrate_ms = ms(t.elapsed());
        on_step(DemoStep::Migrated(&migration));

        on_step(DemoStep::Begins(Stage::Validate));
        let t = Instant::now();
        reporter.started("validating the migrated database", None);
        let validate_opts = ValidateOptions::from_state(&db.client).await?;
        let validation = validate::validate(&db.client, &validate_opts).await?;
        reporter.finished("validating the migrated database", t.elapsed(), &validation.summary());
        timings.validate_ms = ms(t.elapsed());
        timings.total_ms = ms(self.started.elapsed());
        on_step(DemoStep::Validated(&validation));

        Ok(DemoReport {
            server: self.server.clone(),
            database: self.database.settings.dbname.clone(),
            dataset,
            plan,
            backup,
            migration,
            validation,
            timings,
        })
    }

    async fn backup(&mut self, reporter: &dyn Reporter) -> Result<DemoBackup> {
        let dir = tempfile::Builder::new()
            .prefix("profochat-demo-backup-")
            .tempdir()
            .map_err(|e| Error::io("cannot create a temporary directory for the demo backup", e, "Check TMPDIR."))?;
        let created = backup::create(&self.database.settings, dir.path(), reporter).await;
        self.backup_dir = Some(dir);
        match created {
            Ok(info) => Ok(DemoBackup { info: Some(info), skipped: None }),
            Err(e @ Error::Tool { .. }) => {
                let why = e.to_string();
                reporter.warn(&format!("the demo goes on without a backup: {why}"));
                Ok(DemoBackup { info: None, skipped: Some(why) })
            }
            Err(e) => Err(e),
        }
    }

    /// Removes what the demo created, or keeps it with --keep (not possible on a
    /// private cluster), and says what it did.
    pub async fn finish(mut self) -> Cleanup {
        self.finished = true;
        let name = self.database.settings.dbname.clone();
        let mut cleanup = Cleanup {
            database: name.clone(),
            database_removed: false,
            kept_url: None,
            drop_command: None,
            keep_impossible: false,
            cluster_removed: false,
            backup_kept: None,
            error: None,
        };
        if let Some(cluster) = self.cluster.take() {
            // The whole cluster goes, with the database in it.
            self.database.keep = true;
            cleanup.keep_impossible = self.keep;
            tokio::task::spawn_blocking(move || drop(cluster)).await.ok();
            cleanup.database_removed = true;
            cleanup.cluster_removed = true;
            return cleanup;
        }
        if self.keep {
            self.database.keep = true;
            cleanup.kept_url = Some(self.database.settings.masked_url());
            cleanup.drop_command = Some(drop_command(&self.database.admin, &name));
            cleanup.backup_kept = self.backup_dir.take().map(|d| d.keep()).and_then(|dir| first_dump(&dir));
            return cleanup;
        }
        match self.database.remove().await {
            Ok(()) => cleanup.database_removed = true,
            Err(e) => {
                cleanup.error = Some(e.to_string());
                cleanup.drop_command = Some(drop_command(&self.database.admin, &name));
            }
        }
        cleanup
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        // An unfinished demo (a failure before `finish`, an interrupt): the scratch
        // database drops itself unless kept; a private cluster goes whole.
        if self.finished {
            return;
        }
        if self.cluster.is_some() {
            self.database.keep = true;
        } else if self.keep {
            self.database.keep = true;
            if let Some(dir) = self.backup_dir.take() {
                let _ = dir.keep();
            }
        }
    }
}

/// The same server's `postgres` maintenance database, if it answers; else the given one.
async fn maintenance_of(given: &ConnSettings) -> ConnSettings {
    if given.dbname != "postgres" {
        let maintenance = given.with_dbname("postgres");
        if conn::connect(&maintenance).await.is_ok() {
            return maintenance;
        }
    }
    given.clone()
}

/// A `psql` command that drops `name`, with the password masked.
pub fn drop_command(admin: &ConnSettings, name: &str) -> String {
    format!("psql '{}' -c 'DROP DATABASE {}'", admin.masked_url(), crate::sql::ident(name).replace('\'', "'\\''"))
}

fn first_dump(dir: &std::path::Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == backup::FILE_EXTENSION))
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}
