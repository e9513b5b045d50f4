//! After `finish`: every column of the public schema (type, nullability, default), every
//! constraint and every index equal upstream's catalog after its own 0001 and 0003
//! (`../shared/upstream-0003-catalog.txt` and `../shared/upstream-0003-columns.txt`, read
//! at test time; `PROFOCHAT_SHARED_DIR` names another directory that holds them), and the
//! application's legacy-shaped writes without bot_id succeed, as on upstream's schema.

use std::collections::BTreeSet;
use std::path::PathBuf;

use profochat_saas::conn::Db;
use profochat_saas::migrate;
use profochat_saas::report::Silent;

use crate::migrate::{legacy_with_anomalies, opts};

/// The directory that holds SPEC.md and upstream's listings: `PROFOCHAT_SHARED_DIR`, else
/// `shared/` beside the repository (or beside one of its parent directories, for a
/// checkout kept one level deeper).
pub fn shared_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PROFOCHAT_SHARED_DIR") {
        return PathBuf::from(dir);
    }
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    repo.ancestors()
        .skip(1)
        .map(|a| a.join("shared"))
        .find(|s| s.join("upstream-0003-columns.txt").exists())
        .unwrap_or_else(|| repo.join("../shared"))
}

pub fn read_shared(name: &str) -> String {
    let path = shared_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{} cannot be read ({e}): the test needs the shared directory (SPEC.md, upstream's listings) beside the \
             repository, or PROFOCHAT_SHARED_DIR naming it",
            path.display()
        )
    })
}

/// upstream-0003-columns.txt: its constraints and indexes (the catalog listing's forms)
/// and its columns ("table column type NULL|NOT NULL [DEFAULT expr]").
struct Columns {
    tables: BTreeSet<String>,
    entries: BTreeSet<String>,
    columns: BTreeSet<String>,
}

fn upstream_columns() -> Columns {
    let text = read_shared("upstream-0003-columns.txt");
    let mut section = "";
    let (mut tables, mut entries, mut columns) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    for line in text.lines().map(str::trim) {
        if let Some(h) = line.strip_prefix("## ") {
            section = if h.starts_with("constraints") {
                "constraints"
            } else if h.starts_with("indexes") {
                "indexes"
            } else if h.starts_with("columns") {
                "columns"
            } else {
                section
            };
            continue;
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (table, rest) = line.split_once(' ').unwrap_or_else(|| panic!("unreadable line: {line}"));
        match section {
            "constraints" => {
                let (name, def) = rest.split_once(' ').unwrap();
                entries.insert(format!("constraint {table} {name} {}", def.trim()));
            }
            "indexes" => {
                let open = rest.rfind('[').unwrap_or_else(|| panic!("index without [name]: {line}"));
                let name = rest[open + 1..].trim_end_matches(']');
                entries.insert(format!("index {table} {} [{name}]", rest[..open].trim()));
            }
            "columns" => {
                tables.insert(table.to_string());
                columns.insert(line.split_whitespace().collect::<Vec<_>>().join(" "));
            }
            _ => panic!("a line outside the sections: {line}"),
        }
    }
    assert!(columns.len() > 100, "{} columns: is this upstream's listing?", columns.len());
    Columns { tables, entries, columns }
}

/// The live columns of the public schema, in the listing's form.
async fn live_columns(c: &Db) -> BTreeSet<String> {
    c.query(
        "SELECT table_name || ' ' || column_name || ' ' || data_type || ' '
                || CASE WHEN is_nullable = 'YES' THEN 'NULL' ELSE 'NOT NULL' END
                || coalesce(' DEFAULT ' || column_default, '')
           FROM information_schema.columns WHERE table_schema = 'public'",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get::<_, String>(0).split_whitespace().collect::<Vec<_>>().join(" "))
    .collect()
}

/// The ledger's key and index, in the catalog listing's forms.
async fn live_ledger_keys(c: &Db) -> BTreeSet<String> {
    c.query(
        "SELECT 'constraint schema_migrations ' || conname || ' ' || pg_get_constraintdef(oid)
           FROM pg_constraint WHERE conrelid = 'public.schema_migrations'::regclass
         UNION ALL
         SELECT 'index schema_migrations ' || CASE WHEN i.indisunique THEN 'UNIQUE ' ELSE '' END
                || substr(pg_get_indexdef(i.indexrelid), strpos(pg_get_indexdef(i.indexrelid), ' ON public.') + 11)
                || ' [' || ic.relname || ']'
           FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
          WHERE i.indrelid = 'public.schema_migrations'::regclass",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

fn differences(expected: &BTreeSet<String>, got: &BTreeSet<String>) -> String {
    let missing: Vec<&str> = expected.difference(got).map(String::as_str).collect();
    let extra: Vec<&str> = got.difference(expected).map(String::as_str).collect();
    if missing.is_empty() && extra.is_empty() {
        String::new()
    } else {
        format!("missing (upstream's, not here):\n  {}\nextra (here, not upstream's):\n  {}", missing.join("\n  "), extra.join("\n  "))
    }
}

/// The whole catalog equals upstream's: both listings.
pub async fn assert_columns_are_upstreams(c: &Db) {
    crate::upstream::assert_catalog_is_upstreams(c).await;
    let listing = upstream_columns();
    let d = differences(&listing.columns, &live_columns(c).await);
    assert!(d.is_empty(), "the columns differ from upstream's:\n{d}");
    let d = differences(&listing.entries, &live_ledger_keys(c).await);
    assert!(d.is_empty(), "schema_migrations' key and index differ from upstream's:\n{d}");
    let tables: BTreeSet<String> = c
        .query("SELECT DISTINCT table_name::text FROM information_schema.columns WHERE table_schema = 'public'", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(tables, listing.tables);
}

/// What upstream's application writes after `finish`: a run by bot name alone, and its
/// new course without updated_at.
async fn the_applications_writes_succeed(c: &Db) {
    let run: (i32, Option<i32>) = c
        .query_one(
            "INSERT INTO run (course_id, username, chat_id, botname, utm_source, utm_campaign)
             VALUES ('intro', 'app_user', 123456, 'main_bot', NULL, NULL) RETURNING run_id, bot_id",
            &[],
        )
        .await
        .map(|r| (r.get(0), r.get(1)))
        .expect("a legacy-shaped run without bot_id is written after finish, as on upstream's schema");
    assert_eq!(run.1, None, "nothing fills bot_id after finish");
    c.execute("INSERT INTO waiting_element (chat_id, is_waiting, element_id, course_id, botname) VALUES (123456, true, 'e', 'intro', 'main_bot')", &[])
        .await
        .unwrap();
    c.execute("INSERT INTO bannedparticipants (botname, chat_id, ban_reason) VALUES ('main_bot', 123456, 'x')", &[]).await.unwrap();
    let updated: bool = c
        .query_one(
            "INSERT INTO course (course_id, bot_name, creator_id, yaml) VALUES ('app_course', 'main_bot', 1, 'x')
             RETURNING updated_at IS NOT NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(updated, "course.updated_at defaults to CURRENT_TIMESTAMP");
    let account: Option<i32> =
        c.query_one("INSERT INTO gen_settings (id, s_key, s_value) VALUES (99999, 'k', 'v') RETURNING account_id", &[]).await.unwrap().get(0);
    assert_eq!(account, None, "gen_settings.account_id has no default, as upstream's");
    // validate counts them as a warning, never as a failure.
    let v = profochat_saas::validate::validate(&c.client, &profochat_saas::validate::ValidateOptions::from_state(&c.client).await.unwrap())
        .await
        .unwrap();
    let check = v.check("links.without_bot_id").unwrap();
    assert_eq!((check.label(), check.count), ("WARN", 3), "{check:?}");
    assert_eq!(v.critical_failures(), 0, "{:?}", v.checks.iter().filter(|c| !c.passed).collect::<Vec<_>>());
}

#[tokio::test]
async fn after_finish_the_catalog_and_columns_are_upstreams_online() {
    let (_db, mut c) = legacy_with_anomalies().await;
    migrate::migrate(&mut c, &opts(), &Silent).await.unwrap();
    // Before finish, the compatibility layer links every legacy-shaped write.
    let bot: Option<i32> = c
        .query_one("INSERT INTO run (course_id, username, chat_id, botname) VALUES ('intro', 'u', 77, 'main_bot') RETURNING bot_id", &[])
        .await
        .unwrap()
        .get(0);
    assert!(bot.is_some(), "the compatibility layer fills bot_id before finish");
    let without_course: i64 = c
        .query_one("SELECT (SELECT count(*) FROM course_element WHERE course_id IS NULL) + (SELECT count(*) FROM courseparticipants WHERE course_id IS NULL)", &[])
        .await
        .unwrap()
        .get(0);
    assert!(without_course > 0, "the anomalies hold elements and participants without a course");
    profochat_saas::finish::finish(&mut c, &profochat_saas::finish::FinishOptions { force: true, ..Default::default() }, &Silent).await.unwrap();
    assert_columns_are_upstreams(&c).await;
    // finish archives them (upstream's 0004 cannot carry them), then removes them.
    let (left, archived): (i64, i64) = c
        .query_one(
            "SELECT (SELECT count(*) FROM course_element WHERE course_id IS NULL) + (SELECT count(*) FROM courseparticipants WHERE course_id IS NULL),
                    (SELECT count(*) FROM profochat_saas.archive WHERE reason LIKE '%without a course, which upstream''s later migrations cannot carry%'
                        AND row ->> 'course_id' IS NULL)",
            &[],
        )
        .await
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert_eq!((left, archived), (0, without_course));
    the_applications_writes_succeed(&c).await;
}

#[tokio::test]
async fn after_finish_the_catalog_and_columns_are_upstreams_offline() {
    let (_db, mut c) = legacy_with_anomalies().await;
    let mut o = opts();
    o.single_transaction = true;
    migrate::migrate(&mut c, &o, &Silent).await.unwrap();
    profochat_saas::finish::finish(&mut c, &profochat_saas::finish::FinishOptions { force: true, ..Default::default() }, &Silent).await.unwrap();
    assert_columns_are_upstreams(&c).await;
    the_applications_writes_succeed(&c).await;
}

/// Upstream's own later migrations, as its runner applies them after `finish`: each file
/// of `upstream/migrations/` after 0003 in order, each recorded in schema_migrations
/// (those files that do not record themselves are recorded as the runner does). A file
/// that fails is rolled back and skipped (0006 needs a table no migration creates, on
/// upstream's own result as on ours). Returns the versions applied.
pub(crate) async fn apply_upstreams_later_migrations(c: &Db) -> Vec<String> {
    let dir = shared_dir().join("upstream/migrations");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    let mut applied = vec![];
    for f in files {
        let name = f.file_stem().unwrap().to_string_lossy().to_string();
        let version = name[..4].to_string();
        if version.as_str() <= "0003" {
            continue;
        }
        let sql = std::fs::read_to_string(&f).unwrap();
        match c.batch_execute(&sql).await {
            Ok(()) => {
                c.execute(
                    "INSERT INTO schema_migrations (version, description, applied_by) VALUES ($1, $2, 'upstream')
                     ON CONFLICT (version) DO NOTHING",
                    &[&version, &name],
                )
                .await
                .unwrap();
                applied.push(version);
            }
            Err(e) => {
                c.batch_execute("ROLLBACK").await.unwrap();
                eprintln!("upstream's {name} does not apply: {e}");
            }
        }
    }
    applied
}

#[tokio::test]
async fn after_upstreams_later_migrations_status_validate_and_migrate_say_so_and_change_nothing() {
    use predicates::prelude::*;
    use crate::harness::cli;

    let (db, mut c) = legacy_with_anomalies().await;
    migrate::migrate(&mut c, &opts(), &Silent).await.unwrap();
    profochat_saas::finish::finish(&mut c, &profochat_saas::finish::FinishOptions { force: true, ..Default::default() }, &Silent).await.unwrap();
    let applied = apply_upstreams_later_migrations(&c).await;
    assert_eq!(applied, ["0004", "0005", "0007", "0008"], "upstream's later migrations that apply");
    let catalog = crate::migrate::catalog(&c).await;
    let fp = profochat_saas::fingerprint::take(&*c).await.unwrap();
    let url = db.url();

    let st = profochat_saas::schema::inspect(&c).await.unwrap();
    assert_eq!(st.state, profochat_saas::schema::SchemaState::Migrated, "{:?}", st.changed_by_upstream);
    assert_eq!(st.upstream_since, applied);
    assert!(!st.changed_by_upstream.is_empty());
    cli()
        .args(["status", "--database-url", &url])
        .assert()
        .success()
        .stdout(predicate::str::contains("migrated; upstream migrations 0004, 0005, 0007, 0008 applied since"))
        .stdout(predicate::str::contains("course.course_pkey"));

    cli()
        .args(["plan", "--database-url", &url])
        .assert()
        .success()
        .stdout(predicate::str::contains("upstream migrations 0004, 0005, 0007, 0008 applied since").and(predicate::str::contains("nothing to do")));

    // validate: what still holds passes; what upstream changed is information.
    let out = cli().args(["validate", "--database-url", &url]).assert().code(0);
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(text.contains("state.upstream_later_migrations") && text.contains("0004"), "{text}");
    assert!(text.contains("0 critical failures"), "{text}");
    let v = profochat_saas::validate::validate(&c.client, &profochat_saas::validate::ValidateOptions::from_state(&c.client).await.unwrap())
        .await
        .unwrap();
    let changed = v.check("structure.unique_keys").unwrap();
    assert_eq!((changed.label(), changed.passed), ("info", true), "{changed:?}");
    assert!(changed.examples.iter().any(|e| e.contains("course_pkey")), "{changed:?}");
    assert!(v.check("run.one_active_per_chat").unwrap().passed, "the data rules still run and hold");

    // migrate: migrated, nothing changed; never an upgrade (also not in a dry run).
    cli()
        .args(["migrate", "--dry-run", "--yes", "--database-url", &url])
        .assert()
        .success()
        .stdout(predicate::str::contains("migrated already"));
    cli()
        .args(["migrate", "--yes", "--skip-backup", "--database-url", &url])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("migrated already")
                .and(predicate::str::contains("nothing was changed"))
                .and(predicate::str::contains("never changes it back"))
                .and(predicate::str::contains("profochat-saas finish").not()),
        );
    assert_eq!(crate::migrate::catalog(&c).await, catalog, "migrate changed the catalog");
    assert_eq!(profochat_saas::fingerprint::take(&*c).await.unwrap(), fp, "migrate changed rows");

    // finish says it is finished and what is left; rollback refuses, naming the restore.
    cli()
        .args(["finish", "--yes", "--database-url", &url])
        .assert()
        .success()
        .stdout(predicate::str::contains("finished already").and(predicate::str::contains("0004, 0005, 0007, 0008")));
    let out = cli().args(["rollback", "--yes", "--database-url", &url]).assert().code(4);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("0004") && err.contains("profochat-saas restore FILE"), "{err}");
    assert_eq!(crate::migrate::catalog(&c).await, catalog);
}
