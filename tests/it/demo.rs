//! `demo`: the whole job on a throwaway database, through the CLI and the library;
//! what it leaves behind (nothing, or exactly the kept database).

use profochat_saas::conn::{self, ConnSettings};
use profochat_saas::demo::{Demo, DemoOptions, DATABASE_PREFIX};
use profochat_saas::report::Silent;
use profochat_saas::schema::{self, SchemaState};
use profochat_saas::sql::ident;

use crate::harness::{admin, cli};

/// The demo database named on the `Database:` line of the human output.
fn database_in(stdout: &str) -> String {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("Database: "))
        .unwrap_or_else(|| panic!("no Database: line in\n{stdout}"));
    let name = line["Database: ".len()..].split_whitespace().next().unwrap().to_string();
    assert!(name.starts_with(DATABASE_PREFIX), "{name}");
    name
}

async fn exists(name: &str) -> bool {
    let db = conn::connect(&admin()).await.expect("admin connection");
    db.query_one("SELECT count(*) FROM pg_database WHERE datname = $1", &[&name])
        .await
        .unwrap()
        .get::<_, i64>(0)
        == 1
}

async fn drop_database(name: &str) {
    let db = conn::connect(&admin()).await.expect("admin connection");
    db.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", ident(name))).await.unwrap();
}

#[tokio::test]
async fn demo_on_database_url_runs_every_step_and_removes_its_database() {
    let out = cli()
        .env("DATABASE_URL", admin().secret_url())
        .args(["demo", "--runs", "200"])
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    let name = database_in(&stdout);
    assert!(stdout.contains("Server:   the server of DATABASE_URL"), "{stdout}");
    for section in ["[1/5] Legacy dataset", "[2/5] Plan", "[3/5] Backup", "[4/5] Migration", "[5/5] Validation"] {
        assert!(stdout.contains(section), "{section} missing:\n{stdout}");
    }
    // The plan, the migration report, the validation summary and the next steps.
    assert!(stdout.contains("Anomalies and their outcome:"), "{stdout}");
    assert!(stdout.contains("No-loss proof"), "{stdout}");
    assert!(stdout.contains("Migrated database"), "{stdout}");
    assert!(stdout.contains(" 0 critical failures"), "{stdout}");
    assert!(stdout.contains("Next steps:"), "{stdout}");
    assert!(stdout.contains("profochat-saas bot set-token --bot"), "{stdout}");
    assert!(!stdout.contains("DIFFERS"), "{stdout}");
    assert!(stdout.contains(&format!("Removed the demo database {name}.")), "{stdout}");
    assert!(!exists(&name).await, "{name} was left behind");
}

#[tokio::test]
async fn demo_json_is_one_object_with_a_migrated_outcome_and_no_critical_failure() {
    let out = cli()
        .env("DATABASE_URL", admin().secret_url())
        .args(["demo", "--json", "--runs", "150"])
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(v["migration"]["outcome"], "migrated", "{v:#}");
    assert_eq!(v["validation"]["critical_failures"], 0, "{v:#}");
    assert_eq!(v["validation"]["passed"], true);
    assert_eq!(v["server"]["kind"], "configured");
    assert_eq!(v["dataset"]["runs"], 150);
    assert_eq!(v["plan"]["ready"], true);
    assert!(v["backup"]["info"]["size_bytes"].as_u64().unwrap() > 0, "{v:#}");
    assert!(v["migration"]["proof"].as_array().unwrap().iter().all(|p| p["equal"] == true));
    for t in ["seed_ms", "plan_ms", "backup_ms", "migrate_ms", "validate_ms", "total_ms"] {
        assert!(v["timings"][t].is_u64(), "{t}");
    }
    let name = v["database"].as_str().unwrap().to_string();
    assert_eq!(v["cleanup"]["database"], name.as_str());
    assert_eq!(v["cleanup"]["database_removed"], true);
    assert!(!exists(&name).await, "{name} was left behind");
    // The rows the manifest counted are the rows the plan found.
    let seeded: u64 = v["dataset"]["rows"].as_object().unwrap().values().map(|n| n.as_u64().unwrap()).sum();
    let planned: i64 = v["plan"]["analysis"]["rows"].as_object().unwrap().values().map(|n| n.as_i64().unwrap()).sum();
    assert_eq!(seeded as i64, planned);
}

#[tokio::test]
async fn demo_keep_keeps_the_migrated_database_and_says_how_to_reach_and_drop_it() {
    let out = cli()
        .env("DATABASE_URL", admin().secret_url())
        .args(["demo", "--keep", "--runs", "100"])
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    let name = database_in(&stdout);
    let kept = exists(&name).await;
    let backup = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("backup:").map(|p| std::path::PathBuf::from(p.trim())));
    let state = if kept {
        let db = conn::connect(&admin().with_dbname(&name)).await.unwrap();
        Some(schema::inspect(&db).await.unwrap().state)
    } else {
        None
    };
    drop_database(&name).await;
    if let Some(dir) = backup.as_ref().and_then(|b| b.parent()) {
        let _ = std::fs::remove_dir_all(dir);
    }
    assert!(kept, "{name} was not kept:\n{stdout}");
    assert_eq!(state, Some(SchemaState::Migrated));
    assert!(stdout.contains(&format!("Kept the demo database {name}:")), "{stdout}");
    assert!(stdout.contains(&format!("DROP DATABASE \"{name}\"")), "{stdout}");
    let backup = backup.unwrap_or_else(|| panic!("no kept backup named:\n{stdout}"));
    assert!(backup.extension().is_some_and(|e| e == "dump"), "{}", backup.display());
}

#[tokio::test]
async fn demo_without_database_url_finds_a_server_by_itself() {
    // cli() removes DATABASE_URL: the demo uses the local server, or starts its own.
    let out = cli().args(["demo", "--runs", "100"]).assert().success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    let name = database_in(&stdout);
    assert!(
        stdout.contains("Server:   the local server") || stdout.contains("Server:   a private throwaway cluster"),
        "{stdout}"
    );
    assert!(stdout.contains("Next steps:"), "{stdout}");
    assert!(stdout.contains(" 0 critical failures"), "{stdout}");
    assert!(!exists(&name).await, "{name} was left behind");
}

#[tokio::test]
async fn demo_refuses_a_dataset_beyond_the_generator_before_creating_anything() {
    let out = cli()
        .env("DATABASE_URL", admin().secret_url())
        .args(["demo", "--runs", "20000000"])
        .assert()
        .code(5);
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(!stdout.contains("Database: "), "{stdout}");
}

fn options(server: ConnSettings, keep: bool) -> DemoOptions {
    DemoOptions {
        server: Some(server),
        runs: 50,
        keep,
        ..DemoOptions::default()
    }
}

#[tokio::test]
async fn an_unfinished_demo_removes_its_database_when_dropped_unless_kept() {
    // What a failure or Ctrl-C leaves: the Demo is dropped before `finish`.
    let demo = Demo::start(&options(admin(), false), &Silent).await.expect("start");
    let name = demo.database().dbname.clone();
    assert!(exists(&name).await);
    drop(demo);
    assert!(!exists(&name).await, "{name} was left behind");

    let demo = Demo::start(&options(admin(), true), &Silent).await.expect("start");
    let name = demo.database().dbname.clone();
    drop(demo);
    let kept = exists(&name).await;
    drop_database(&name).await;
    assert!(kept, "--keep: {name} should stay after an interrupted demo");
}

#[tokio::test]
async fn the_library_demo_reports_every_step_in_order_and_cleans_up() {
    let mut demo = Demo::start(&options(admin(), false), &Silent).await.expect("start");
    let name = demo.database().dbname.clone();
    let mut seen = vec![];
    let mut on_step = |s: profochat_saas::demo::DemoStep<'_>| seen.push(format!("{s:?}").split('(').next().unwrap().to_string());
    let report = demo.run(&Silent, &mut on_step).await.expect("demo run");
    let cleanup = demo.finish().await;
    assert_eq!(
        seen,
        [
            "Begins", "Seeded", "Begins", "Planned", "Begins", "BackedUp", "Begins", "Migrated", "Begins", "Validated"
        ]
    );
    assert_eq!(report.database, name);
    assert_eq!(report.migration.default_bot.as_deref(), Some(report.dataset.default_bot.as_str()));
    assert!(report.validation.passed(), "{:?}", report.validation.failed().map(|c| &c.id).collect::<Vec<_>>());
    let backup = report.backup.info.as_ref().expect("a backup").path.clone();
    assert!(cleanup.database_removed && cleanup.error.is_none(), "{cleanup:?}");
    assert!(!exists(&name).await);
    assert!(!backup.exists(), "the backup {} should go with the demo", backup.display());
}

/// How many lines of `text` start (after table borders) with `start`.
fn rows_starting(text: &str, start: &str) -> usize {
    text.lines().filter(|l| l.trim_start_matches(['|', ' ']).starts_with(start)).count()
}

#[tokio::test]
async fn demo_prints_each_table_once_hides_no_rows_and_names_no_deleted_backup() {
    let out = cli()
        .env("DATABASE_URL", admin().secret_url())
        .args(["demo", "--runs", "300"])
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    // The indexes once (an online step of their own), one validation summary, one proof.
    assert_eq!(rows_starting(&stdout, "11 indexes") + rows_starting(&stdout, "5 indexes"), 1, "{stdout}");
    assert_eq!(stdout.matches("No-loss proof").count(), 1, "{stdout}");
    assert_eq!(stdout.matches("critical failures").count(), 1, "the validation summary once: {stdout}");
    assert!(!stdout.contains("Validation: "), "{stdout}");
    // Nothing the operator needs is folded away.
    assert!(!stdout.contains("… and"), "{stdout}");
    assert!(!stdout.contains("in all)"), "{stdout}");
    // The backup is removed with the demo: no step tells to restore it.
    assert!(!stdout.contains("restore FILE") && !stdout.contains("profochat-saas restore"), "{stdout}");
    assert!(stdout.contains("To undo before finish: profochat-saas rollback"), "{stdout}");
}

#[test]
fn top_level_help_lists_the_old_migrate_sh_flags() {
    let out = cli().arg("--help").assert().success();
    let help = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    for flag in ["--dry-run", "--skip-backup", "--rollback <FILE>", "--list-backups"] {
        assert!(help.contains(flag), "{flag} missing from --help:\n{help}");
    }
    assert!(help.contains("130 interrupted"), "{help}");
    let flat = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("13 online migration stopped") && flat.contains("141 standard output closed"), "{help}");
}

/// The README: what the tool does, then exactly two commands (demo, tests), then how to
/// install the binary, before the quickstarts; the English and Russian quickstarts run
/// the same commands.
#[test]
fn readme_installs_before_the_quickstart_and_keeps_both_quickstarts_in_step() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let blocks: Vec<&str> = readme.split("```").skip(1).step_by(2).collect();
    let commands = |block: &str| -> Vec<String> {
        block
            .lines()
            .skip(1)
            .map(|l| l.split(" #").next().unwrap_or("").trim().to_string())
            .filter(|l| !l.is_empty())
            .collect()
    };
    assert_eq!(commands(blocks[0]), vec!["cargo run --release -- demo", "cargo test"], "the first block: demo and tests");
    let install = readme.find("cargo install --path .").expect("the install step");
    let english = readme.find("## Quickstart").expect("English quickstart");
    let russian = readme.find("## Быстрый старт").expect("Russian quickstart");
    assert!(install < english && install < russian, "install comes before the quickstarts");
    let section = |start: usize| {
        let rest = &readme[start..];
        let end = rest[3..].find("\n## ").map(|i| i + 3).unwrap_or(rest.len());
        rest[..end].split("```").skip(1).step_by(2).flat_map(commands).collect::<Vec<_>>()
    };
    let (en, ru) = (section(english), section(russian));
    assert!(en.iter().any(|c| c.starts_with("profochat-saas migrate")), "{en:?}");
    assert_eq!(en, ru, "the quickstarts run the same commands");
}
