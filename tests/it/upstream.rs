//! Upstream's names and keys (SPEC §2): the migrated catalog equals the listing of
//! upstream's own SaaS migration (`../shared/upstream-0003-catalog.txt`, parsed here at
//! test time), upstream's ledger records 0001 and 0003, and a database migrated by an
//! older profochat-saas is detected and brought to the same catalog.

use std::collections::BTreeSet;
use std::path::PathBuf;

use predicates::prelude::*;
use profochat_saas::conn::Db;
use profochat_saas::fingerprint;
use profochat_saas::migrate::{self, Outcome};
use profochat_saas::report::Silent;
use profochat_saas::rollback;
use profochat_saas::schema::{self, SchemaState};

use crate::harness::cli;
use crate::migrate::{catalog, legacy_with_anomalies, opts};

/// Upstream's listing: beside the repository (`../shared/`), else the copy kept with the
/// tests (`tests/it/data/`), which `the_kept_copy_of_upstreams_listing_is_current` holds
/// equal to it wherever both exist.
fn upstream_listing_path() -> PathBuf {
    let shared = shared_listing_path();
    if shared.exists() {
        shared
    } else {
        kept_listing_path()
    }
}

fn shared_listing_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/upstream-0003-catalog.txt")
}

fn kept_listing_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/data/upstream-0003-catalog.txt")
}

#[test]
fn the_kept_copy_of_upstreams_listing_is_current() {
    let kept = std::fs::read_to_string(kept_listing_path()).expect("tests/it/data/upstream-0003-catalog.txt");
    match std::fs::read_to_string(shared_listing_path()) {
        Ok(shared) => assert_eq!(kept, shared, "tests/it/data/upstream-0003-catalog.txt differs from ../shared/: copy it again"),
        Err(_) => eprintln!("../shared/upstream-0003-catalog.txt is not beside the repository: the kept copy is used"),
    }
}

/// Upstream's catalog: its application tables, and each constraint as
/// "constraint TABLE NAME DEFINITION" and each index as "index TABLE DEFINITION [NAME]".
struct Listing {
    tables: BTreeSet<String>,
    entries: BTreeSet<String>,
}

fn upstream_listing() -> Listing {
    let path = upstream_listing_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "upstream's catalog listing {} cannot be read ({e}): the test needs a copy of shared/ beside the repository \
             (the directory that holds SPEC.md and upstream-0003-catalog.txt)",
            path.display()
        )
    });
    let mut in_indexes = false;
    let mut tables = BTreeSet::new();
    let mut entries = BTreeSet::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with("## ") {
            in_indexes = line == "## indexes";
            continue;
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (table, rest) = line.split_once(' ').unwrap_or_else(|| panic!("unreadable line: {line}"));
        tables.insert(table.to_string());
        if in_indexes {
            let open = rest.rfind('[').unwrap_or_else(|| panic!("index without [name]: {line}"));
            let name = rest[open + 1..].trim_end_matches(']');
            entries.insert(format!("index {table} {} [{name}]", rest[..open].trim()));
        } else {
            let (name, definition) = rest.split_once(' ').unwrap_or_else(|| panic!("unreadable constraint: {line}"));
            entries.insert(format!("constraint {table} {name} {}", definition.trim()));
        }
    }
    assert!(entries.len() > 100, "{} entries: is this upstream's listing?", entries.len());
    Listing { tables, entries }
}

/// The live catalog of these tables in the same form. The index form is computed here,
/// independently of the tool: pg_get_indexdef without "CREATE", its name and its schema.
async fn live(c: &Db, tables: &BTreeSet<String>) -> BTreeSet<String> {
    let tables: Vec<String> = tables.iter().cloned().collect();
    let rows = c
        .query(
            "SELECT 'constraint ' || c.relname || ' ' || con.conname || ' ' || pg_get_constraintdef(con.oid)
               FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
              WHERE c.relnamespace = 'public'::regnamespace AND c.relname = ANY ($1) AND con.contype IN ('p', 'u', 'f', 'c', 'x')
             UNION ALL
             SELECT 'index ' || c.relname || ' ' || pg_get_indexdef(i.indexrelid) || chr(1) || ic.relname
               FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class c ON c.oid = i.indrelid
              WHERE c.relnamespace = 'public'::regnamespace AND c.relname = ANY ($1)",
            &[&tables],
        )
        .await
        .unwrap();
    rows.iter()
        .map(|r| {
            let s: String = r.get(0);
            match s.strip_prefix("index ") {
                None => s,
                Some(rest) => {
                    let (table_def, name) = rest.split_once('\u{1}').unwrap();
                    let (table, def) = table_def.split_once(' ').unwrap();
                    let unique = def.starts_with("CREATE UNIQUE INDEX ");
                    let on = def.find(" ON public.").expect("schema-qualified table");
                    let shape = &def[on + " ON public.".len()..];
                    format!("index {table} {}{shape} [{name}]", if unique { "UNIQUE " } else { "" })
                }
            }
        })
        .collect()
}

/// Equal, or a failure listing both differences.
pub async fn assert_catalog_is_upstreams(c: &Db) {
    let listing = upstream_listing();
    let now = live(c, &listing.tables).await;
    let missing: Vec<&String> = listing.entries.difference(&now).collect();
    let extra: Vec<&String> = now.difference(&listing.entries).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "the catalog differs from upstream's listing.\nmissing (in upstream's, not here):\n  {}\nextra (here, not in upstream's):\n  {}",
        missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n  "),
        extra.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n  ")
    );
    // The public schema holds upstream's tables and its ledger, nothing else.
    let tables: BTreeSet<String> = c
        .query("SELECT relname::text FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p')", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut expected = listing.tables.clone();
    expected.insert("schema_migrations".into());
    assert_eq!(tables, expected);
}

/// upstream's 0001 and 0003 recorded, by this tool.
async fn assert_ledger(c: &Db) {
    let rows = c
        .query("SELECT version::text, applied_by, applied_at IS NOT NULL FROM schema_migrations ORDER BY version", &[])
        .await
        .unwrap();
    let got: Vec<(String, String, bool)> = rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
    let by = format!("profochat-saas {}", env!("CARGO_PKG_VERSION"));
    assert_eq!(got, [("0001".into(), by.clone(), true), ("0003".into(), by, true)]);
}

#[tokio::test]
async fn the_migrated_catalog_is_upstreams_0003_with_its_ledger() {
    let (_db, mut c) = legacy_with_anomalies().await;
    let r = migrate::migrate(&mut c, &opts(), &Silent).await.unwrap();
    assert_eq!(r.outcome, Outcome::Migrated);
    assert!(r.indexes.failed.is_empty(), "{:?}", r.indexes.failed);
    assert_catalog_is_upstreams(&c).await;
    assert_ledger(&c).await;
    let cols: Vec<String> = c
        .query(
            "SELECT attname || ' ' || format_type(atttypid, atttypmod) FROM pg_attribute
              WHERE attrelid = 'schema_migrations'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        cols,
        ["version character varying(255)", "description text", "applied_at timestamp without time zone", "applied_by text", "execution_time_ms integer"]
    );
    assert_eq!(schema::inspect(&c).await.unwrap().state, SchemaState::Migrated);
}

#[tokio::test]
async fn single_transaction_gives_the_same_catalog() {
    let (_db, mut c) = legacy_with_anomalies().await;
    let mut o = opts();
    o.single_transaction = true;
    migrate::migrate(&mut c, &o, &Silent).await.unwrap();
    assert_catalog_is_upstreams(&c).await;
    assert_ledger(&c).await;
}

#[tokio::test]
async fn an_existing_ledger_is_kept_and_completed() {
    let (_db, mut c) = legacy_with_anomalies().await;
    c.batch_execute(
        "CREATE TABLE schema_migrations (version varchar(255) PRIMARY KEY, description text, applied_at timestamp DEFAULT now(),
                                         applied_by text, execution_time_ms int);
         INSERT INTO schema_migrations (version, description, applied_by) VALUES ('0001', 'initial', 'upstream');",
    )
    .await
    .unwrap();
    migrate::migrate(&mut c, &opts(), &Silent).await.unwrap();
    let got: Vec<(String, String)> = c
        .query("SELECT version::text, applied_by FROM schema_migrations ORDER BY version", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(got[0], ("0001".to_string(), "upstream".to_string()), "upstream's own row stays");
    assert_eq!(got[1].0, "0003");
    assert!(got[1].1.starts_with("profochat-saas "));
    // Rollback removes this tool's row and keeps the table it did not create.
    rollback::rollback(&mut c, &Default::default(), &Silent).await.unwrap();
    let left: Vec<String> =
        c.query("SELECT version::text FROM schema_migrations", &[]).await.unwrap().iter().map(|r| r.get(0)).collect();
    assert_eq!(left, ["0001"]);
}

const OLDER_HELPERS: &str = include_str!("data/older/helpers.sql");
const OLDER_CONSTRAINTS: &str = include_str!("data/older/4_constraints.sql");
const OLDER_INDEXES: &str = include_str!("data/older/5_indexes.sql");

/// What profochat-saas 0.1.0 left: migrated data, its keys and indexes (made by its own
/// DDL, kept in tests/it/data/older/), no ledger, no enrolment function, schema version 1.
async fn migrated_by_the_older_version(c: &mut Db) {
    migrate::migrate(c, &opts(), &Silent).await.unwrap();
    c.batch_execute(
        "SET profochat_saas.allow_ddl = on;
         DROP SCHEMA profochat_legacy CASCADE;
         DROP EVENT TRIGGER profochat_saas_guard_ddl; DROP EVENT TRIGGER profochat_saas_guard_drop; DROP EVENT TRIGGER IF EXISTS profochat_saas_guard_start;
         DROP TABLE profochat_saas.legacy_course_map, profochat_saas.legacy_course_name, profochat_saas.legacy_course_copy,
                    profochat_saas.legacy_element_copy, profochat_saas.legacy_hidden_course, profochat_saas.legacy_conversation_run,
                    profochat_saas.legacy_role, profochat_saas.guarded_object;
         DROP TABLE schema_migrations;
         DELETE FROM profochat_saas.created_object;
         DROP FUNCTION profochat_saas.enrol(text, int8, text, text);
         DROP FUNCTION profochat_saas.enrolment_token(text, text);
         DROP FUNCTION profochat_saas.start_payload(text);
         DO $$
         DECLARE r record;
         BEGIN
             FOR r IN SELECT conrelid::regclass AS tbl, conname FROM pg_constraint
                       WHERE connamespace = 'public'::regnamespace AND contype IN ('f', 'u', 'c') LOOP
                 EXECUTE format('ALTER TABLE %s DROP CONSTRAINT IF EXISTS %I CASCADE', r.tbl, r.conname);
             END LOOP;
             FOR r IN SELECT ic.relname FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                       WHERE ic.relnamespace = 'public'::regnamespace AND NOT i.indisprimary
                         AND ic.relname NOT IN ('idx_course_courseid_botname', 'idx_courseparticipants_2', 'idx_bannedparticipants_3') LOOP
                 EXECUTE format('DROP INDEX %I', r.relname);
             END LOOP;
         END $$;
         UPDATE profochat_saas.migration SET schema_version = 1;",
    )
    .await
    .unwrap();
    c.batch_execute(&[OLDER_HELPERS, OLDER_CONSTRAINTS].join("\n")).await.expect("the older version's keys");
    c.batch_execute(
        "ALTER TABLE conversation ADD CONSTRAINT conversation_run_id_fkey FOREIGN KEY (run_id) REFERENCES run (run_id) ON DELETE CASCADE",
    )
    .await
    .unwrap();
    for line in OLDER_INDEXES.lines().filter(|l| l.starts_with("CREATE INDEX")) {
        c.batch_execute(line).await.expect("the older version's indexes");
    }
    let older_keys: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_class WHERE relname IN ('idx_run_bot_id', 'uq_run_active_bot_chat', 'bannedparticipants_bot_id_chat_id_excluded_key')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(older_keys, 3, "the older version's names are in place");
}

#[tokio::test]
async fn a_database_migrated_by_an_older_version_is_detected_and_brought_to_upstreams_catalog() {
    let (db, mut c) = legacy_with_anomalies().await;
    let legacy_catalog = catalog(&c).await;
    let legacy_fp = fingerprint::take(&*c).await.unwrap();
    migrated_by_the_older_version(&mut c).await;
    let fp = fingerprint::take(&*c).await.unwrap();
    let url = db.url();

    // status and plan tell it, with what differs.
    let st = schema::inspect(&c).await.unwrap();
    assert_eq!(st.state, SchemaState::Outdated);
    assert!(st.state.is_migrated(), "the operator commands keep working on it");
    let needed = st.upgrade_needed.join("\n");
    for expected in [
        "course.course_pkey is PRIMARY KEY (course_id, account_id) instead of upstream's PRIMARY KEY (course_id, bot_name)",
        "course_deployment.course_deployment_bot_fkey is missing",
        "run.run_one_active_per_bot_chat is missing",
        "schema_migrations is missing",
        "profochat_saas.enrol",
    ] {
        assert!(needed.contains(expected), "{expected:?} not in:\n{needed}");
    }
    assert!(st.secondary_indexes_missing.contains(&"idx_run_bot".to_string()), "{:?}", st.secondary_indexes_missing);
    // Enrolment says what to do instead of failing obscurely.
    let err = profochat_saas::ops::enrol(&c.client, "cd_1_AAAAAAAAAAAAAAAAAAAAAAAA", 1, None, "main_bot").await.unwrap_err();
    assert_eq!(err.exit_status().code(), 4, "{err}");
    assert!(err.to_string().contains("profochat-saas migrate"), "{err}");
    cli()
        .args(["status", "--database-url", &url])
        .assert()
        .success()
        .stdout(predicate::str::contains("by an older profochat-saas or changed by hand").and(predicate::str::contains("course_pkey")));
    cli()
        .args(["plan", "--database-url", &url])
        .assert()
        .success()
        .stdout(predicate::str::contains("by an older profochat-saas or changed by hand since").and(predicate::str::contains("Ready")));
    // validate names the keys; rollback says to run migrate first; nothing changed.
    let out = cli().args(["validate", "--database-url", &url]).assert().code(6);
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(text.contains("structure.unique_keys") && text.contains("state.enrol_function"), "{text}");
    let out = cli().args(["rollback", "--yes", "--database-url", &url]).assert().code(4);
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("`profochat-saas migrate` first"));
    // A dry run changes nothing.
    cli()
        .args(["migrate", "--dry-run", "--yes", "--database-url", &url])
        .assert()
        .success()
        .stdout(predicate::str::contains("Dry run"));
    assert_eq!(schema::inspect(&c).await.unwrap().state, SchemaState::Outdated);

    // migrate brings it to upstream's catalog; the rows stay as they were.
    cli()
        .args(["migrate", "--yes", "--skip-backup", "--database-url", &url])
        .assert()
        .success()
        .stdout(predicate::str::contains("brought to it, the data unchanged"));
    assert_catalog_is_upstreams(&c).await;
    assert_ledger(&c).await;
    assert_eq!(fingerprint::take(&*c).await.unwrap(), fp, "no row changed");
    let st = schema::inspect(&c).await.unwrap();
    assert_eq!(st.state, SchemaState::Migrated, "{:?}", st.upgrade_needed);
    assert_eq!(st.last_migration.unwrap().schema_version, profochat_saas::target::SCHEMA_VERSION);
    cli().args(["validate", "--database-url", &url]).assert().success();
    let again = migrate::migrate(&mut c, &opts(), &Silent).await.unwrap();
    assert_eq!(again.outcome, Outcome::AlreadyMigrated);
    // The legacy interface, which that version did not have, shows the legacy bot its
    // renamed copy under the old id and its merged copy, rebuilt from the archive.
    let legacy = profochat_saas::conn::connect(&c.settings).await.unwrap();
    legacy.batch_execute("SET search_path = profochat_legacy, public").await.unwrap();
    let yaml: String = legacy
        .query_one("SELECT yaml FROM course WHERE course_id = 'diverged' AND bot_name = 'main_bot'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(yaml, "name: diverged v1");
    let copies: i64 = legacy.query_one("SELECT count(*) FROM course WHERE course_id = 'shared'", &[]).await.unwrap().get(0);
    assert_eq!(copies, 3);
    drop(legacy);

    // And rollback still gives back the legacy database.
    rollback::rollback(&mut c, &Default::default(), &Silent).await.unwrap();
    assert_eq!(fingerprint::take(&*c).await.unwrap(), legacy_fp);
    assert_eq!(catalog(&c).await, legacy_catalog);
}
