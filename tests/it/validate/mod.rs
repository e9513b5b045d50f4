//! `validate`: a consistent migrated dataset passes; breaking one rule makes exactly
//! that check fail, with its severity and count.

use predicates::prelude::*;
use profochat_saas::conn::Db;
use profochat_saas::target;
use profochat_saas::validate::{validate, Severity, ValidateOptions, ValidationReport};

use crate::harness::{cli, TestDb};

mod cli;
mod links;
mod rows;

const ALPHA_TOKEN: &str = "111111111:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ";
const BETA_TOKEN: &str = "222222222:BBHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ";

/// A small migrated dataset that follows every rule: two bots (one with a unicode
/// name and a quote), three courses (one created from references), deployments,
/// runs (ended, superseded, active, without course, from a NULL bot name),
/// conversations, waiting elements, bans, participants, settings, an owner, a token,
/// and a compat trigger on each legacy table.
const DATASET: &str = r#"
INSERT INTO bot (bot_id, account_id, bot_name, bot_token, display_name) VALUES
    (1, 1, 'alpha_bot', '111111111:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ', 'alpha_bot'),
    (2, 1, 'бета''s bot', '222222222:BBHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ', 'бета''s bot');
SELECT setval(pg_get_serial_sequence('bot', 'bot_id'), 2);

INSERT INTO course (course_id, bot_name, account_id, date_created, yaml, title, metadata) VALUES
    ('c1', 'alpha_bot', 1, '2023-12-01', 'name: c1', 'c1', NULL),
    ('c2', 'бета''s bot', 1, '2023-12-02', 'name: c2', 'c2', NULL),
    ('yaml_only', 'alpha_bot', 1, now(), NULL, 'yaml_only', '{"created_from": "references", "yaml_import": {"file": "yaml_only.yml"}}');
INSERT INTO course_element (course_element_id, element_id, json, element_type, course_id, bot_name, account_id) VALUES
    (1, 'e1', '{}', 'message', 'c1', 'alpha_bot', 1),
    (2, 'e1', '{}', 'message', 'c2', 'бета''s bot', 1);
SELECT setval('course_element_id_seq', 2);

INSERT INTO course_deployment (deployment_id, course_id, account_id, bot_id, environment) VALUES
    (1, 'c1', 1, 1, 'prod'),
    (2, 'c2', 1, 2, 'prod'),
    (3, 'yaml_only', 1, 1, 'prod');
SELECT setval(pg_get_serial_sequence('course_deployment', 'deployment_id'), 3);

INSERT INTO run (run_id, chat_id, username, botname, course_id, date_inserted, bot_id, deployment_id, is_ended, is_active, ended_at) VALUES
    (1, 100, 'ann', 'alpha_bot', 'c1', '2024-01-01 10:00', 1, 1, true, false, '2024-01-02 10:00'),
    (2, 200, 'bob', 'бета''s bot', 'c2', '2024-01-03 10:00', 2, 2, NULL, false, NULL),
    (3, 100, 'ann', 'alpha_bot', 'c1', '2024-01-04 10:00', 1, 1, NULL, true, NULL),
    (4, 200, 'bob', 'бета''s bot', 'c2', '2024-01-05 10:00', 2, 2, false, true, NULL),
    (5, 300, 'cat', 'alpha_bot', NULL, '2024-01-06 10:00', 1, NULL, NULL, true, NULL),
    (6, 400, 'dan', NULL, 'yaml_only', '2024-01-07 10:00', 1, 3, NULL, true, NULL);
SELECT setval('run_run_id_seq1', 6);

INSERT INTO conversation (chat_id, username, course_id, element_id, role, json, run_id) VALUES
    (100, 'ann', 'c1', 'e1', 'user', '{"text": "hi"}', 1),
    (100, 'ann', 'c1', 'e1', 'assistant', '{"text": "hello"}', 3),
    (200, 'bob', 'c2', 'e1', 'user', '{}', 4),
    (400, 'dan', 'yaml_only', 'e1', 'user', '{}', 6),
    (500, 'eve', NULL, NULL, 'user', '{}', NULL);

INSERT INTO waiting_element (waiting_element_id, chat_id, waiting_till_date, is_waiting, element_id, course_id, botname, bot_id, run_id, created_at) VALUES
    (1, 100, now() + interval '1 day', true, 'e2', 'c1', 'alpha_bot', 1, 3, NULL),
    (2, 200, now() - interval '1 day', false, 'e2', 'c2', 'бета''s bot', 2, 4, NULL),
    (3, 400, now() + interval '1 hour', true, 'e2', 'yaml_only', NULL, 1, 6, NULL);
SELECT setval('waiting_element_id_seq', 3);

INSERT INTO bannedparticipants (bannedparticipant_id, botname, chat_id, ban_reason, excluded, bot_id) VALUES
    (1, 'alpha_bot', 100, 'spam', 0, 1),
    (2, 'бета''s bot', 100, 'spam', 0, 2),
    (3, NULL, 500, 'flood', 1, 1);
SELECT setval('bannedparticipant_id_seq', 3);

INSERT INTO courseparticipants (courseparticipant_id, course_id, username, chat_id) VALUES
    (1, 'c1', 'ann', 100),
    (2, 'c2', 'bob', NULL),
    (3, 'c1', NULL, 300);
SELECT setval('courseparticipant_id_seq', 3);

INSERT INTO gen_settings (id, bot_name, s_key, s_value, bot_id) VALUES
    (1, NULL, 'welcome', 'hi', NULL),
    (2, 'alpha_bot', 'lang', 'ru', 1),
    (3, 'бета''s bot', 'lang', 'en', 2);

INSERT INTO account_member (account_id, telegram_user_id, telegram_username, role) VALUES (1, 42, 'owner_user', 'owner');

INSERT INTO enrollment_token (deployment_id, token, token_type) VALUES (1, 'AbC123_-xyz', 'public');

CREATE FUNCTION profochat_saas_noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER profochat_saas_compat BEFORE INSERT ON conversation FOR EACH ROW EXECUTE FUNCTION profochat_saas_noop();
CREATE TRIGGER profochat_saas_compat BEFORE INSERT ON run FOR EACH ROW EXECUTE FUNCTION profochat_saas_noop();
CREATE TRIGGER profochat_saas_compat BEFORE INSERT ON waiting_element FOR EACH ROW EXECUTE FUNCTION profochat_saas_noop();
CREATE TRIGGER profochat_saas_compat BEFORE INSERT ON course FOR EACH ROW EXECUTE FUNCTION profochat_saas_noop();
CREATE TRIGGER profochat_saas_compat BEFORE INSERT ON course_element FOR EACH ROW EXECUTE FUNCTION profochat_saas_noop();
CREATE TRIGGER profochat_saas_compat BEFORE INSERT ON courseparticipants FOR EACH ROW EXECUTE FUNCTION profochat_saas_noop();
CREATE TRIGGER profochat_saas_compat BEFORE INSERT ON bannedparticipants FOR EACH ROW EXECUTE FUNCTION profochat_saas_noop();
CREATE TRIGGER profochat_saas_compat BEFORE INSERT ON gen_settings FOR EACH ROW EXECUTE FUNCTION profochat_saas_noop();
"#;

/// Every check id, in report order.
const CHECK_IDS: [&str; 51] = [
    "structure.tables",
    "structure.columns",
    "structure.unique_keys",
    "structure.foreign_keys",
    "structure.conversation_run_fk_validated",
    "structure.not_null",
    "structure.check_constraints",
    "structure.secondary_indexes",
    "structure.unexpected_keys",
    "account.default_exists",
    "bot.legacy_names_have_bots",
    "run.bot_id_matches_botname",
    "waiting_element.bot_id_matches_botname",
    "bannedparticipants.bot_id_matches_botname",
    "links.without_bot_id",
    "gen_settings.bot_id_matches_bot_name",
    "bot.display_name_set",
    "bot.token_placeholder",
    "bot.token_shape",
    "course.references_resolve",
    "course.created_from_references",
    "courses_yml.not_imported",
    "course.legacy_account",
    "run.deployment_matches",
    "deployment.pairs_deployed",
    "run.without_course",
    "deployment.references_exist",
    "run.active_and_ended",
    "run.one_active_per_chat",
    "run.inactive_unended_superseded",
    "run.ended_at_only_when_inactive",
    "waiting_element.run_matches",
    "waiting_element.run_is_newest",
    "waiting_element.run_linked",
    "conversation.follows_run_copy",
    "conversation.run_id_resolves",
    "bannedparticipants.unique",
    "courseparticipants.unique",
    "account.has_owner",
    "account_member.role_valid",
    "enrollment_token.payload_fits",
    "enrollment_token.expired_active",
    "state.migration_completed",
    "state.compat_triggers",
    "state.legacy_interface",
    "state.online_leftovers",
    "bot.created_by_legacy_writes",
    "state.upstream_ledger",
    "state.enrol_function",
    "security.tenant_isolation",
    "state.archive_exists",
];

async fn migrated() -> (TestDb, Db) {
    let db = TestDb::legacy().await;
    let c = db.connect().await;
    crate::fixtures::apply_target_schema(&c).await;
    c.batch_execute(DATASET).await.expect("dataset");
    c.batch_execute(&profochat_saas::migrate::phases::legacy_interface_sql("public")).await.expect("legacy interface");
    (db, c)
}

/// The report on the consistent dataset after `breaking` ran.
async fn report_after(breaking: &str, opts: ValidateOptions) -> ValidationReport {
    let (_db, c) = migrated().await;
    c.batch_execute(breaking).await.expect("breaking statement");
    validate(&c.client, &opts).await.expect("validate")
}

/// (id, severity, count) of every check that did not pass.
fn failing(r: &ValidationReport) -> Vec<(&str, Severity, i64)> {
    r.checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| (c.id.as_str(), c.severity, c.count))
        .collect()
}

fn examples<'a>(r: &'a ValidationReport, id: &str) -> &'a [String] {
    &r.check(id).unwrap_or_else(|| panic!("no check {id}")).examples
}

#[tokio::test]
async fn consistent_dataset_passes_every_check() {
    let r = report_after("", ValidateOptions::default()).await;
    let ids: Vec<&str> = r.checks.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, CHECK_IDS);
    assert_eq!(
        failing(&r),
        vec![],
        "{:#?}",
        r.checks.iter().filter(|c| !c.passed).collect::<Vec<_>>()
    );
    assert!(r.passed());
    assert_eq!((r.critical_failures(), r.warnings()), (0, 0));
    assert_eq!(r.summary(), "51 checks: 51 passed, 0 warnings, 0 critical failures");
    // Info checks count what they are about without failing.
    let info = r.check("course.created_from_references").unwrap();
    assert_eq!((info.severity, info.count, info.label()), (Severity::Info, 1, "info"));
    assert_eq!(info.examples, vec!["'yaml_only' (account 1)"]);
    let info = r.check("run.without_course").unwrap();
    assert_eq!(
        (info.count, info.examples.as_slice()),
        (1, &["run_id 5 (chat 300)".to_string()][..])
    );
    assert_eq!(r.check("enrollment_token.expired_active").unwrap().count, 0);
    for c in &r.checks {
        assert!(c.hint.is_none(), "{}: passed checks carry no hint", c.id);
    }
}

#[tokio::test]
async fn structure_rules() {
    let r = report_after(
        "ALTER TABLE run ALTER COLUMN account_id DROP NOT NULL;
         ALTER TABLE enrollment_token DROP CONSTRAINT enrollment_token_token_type_check;",
        ValidateOptions::default(),
    )
    .await;
    assert_eq!(
        failing(&r),
        vec![
            ("structure.not_null", Severity::Critical, 1),
            ("structure.check_constraints", Severity::Critical, 1)
        ]
    );
    assert_eq!(examples(&r, "structure.not_null"), ["run.account_id allows NULL"]);
    assert_eq!(
        examples(&r, "structure.check_constraints"),
        ["enrollment_token.enrollment_token_token_type_check is missing"]
    );

    // The key older profochat-saas versions gave course, and a definition that differs.
    let r = report_after(
        "ALTER TABLE course DROP CONSTRAINT course_pkey;
         ALTER TABLE course ADD CONSTRAINT course_pkey PRIMARY KEY (course_id, account_id);
         ALTER TABLE account_member DROP CONSTRAINT account_member_role_check;
         ALTER TABLE account_member ADD CONSTRAINT account_member_role_check CHECK (role IN ('owner', 'admin'));",
        ValidateOptions::default(),
    )
    .await;
    assert_eq!(
        failing(&r),
        vec![("structure.unique_keys", Severity::Critical, 1), ("structure.check_constraints", Severity::Critical, 1)]
    );
    assert_eq!(
        examples(&r, "structure.unique_keys"),
        ["course.course_pkey is PRIMARY KEY (course_id, account_id) instead of upstream's PRIMARY KEY (course_id, bot_name)"]
    );
    assert!(examples(&r, "structure.check_constraints")[0].contains("instead of upstream's"), "{r:?}");
    assert!(r.check("structure.unique_keys").unwrap().hint.as_deref().unwrap().contains("profochat-saas migrate"));
}

#[tokio::test]
async fn missing_secondary_index_is_a_warning_with_the_migrate_hint() {
    let (db, c) = migrated().await;
    c.batch_execute("DROP INDEX idx_run_bot; DROP INDEX idx_gen_settings_bot; DROP INDEX idx_courseparticipants_2")
        .await
        .unwrap();
    let r = validate(&c.client, &ValidateOptions::default()).await.unwrap();
    assert_eq!(failing(&r), vec![("structure.secondary_indexes", Severity::Warning, 3)]);
    let check = r.check("structure.secondary_indexes").unwrap();
    assert_eq!(
        check.examples,
        [
            "run.idx_run_bot is missing",
            "gen_settings.idx_gen_settings_bot is missing",
            "courseparticipants.idx_courseparticipants_2 is missing"
        ]
    );
    assert!(check.hint.as_deref().unwrap().starts_with("run `profochat-saas migrate` again to finish the indexes"));
    cli()
        .args(["validate", "--database-url", &db.url()])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "WARN structure.secondary_indexes: run `profochat-saas migrate` again to finish the indexes",
        ));
}

#[tokio::test]
async fn default_account_must_be_account_1_with_slug_default() {
    let r = report_after(
        "UPDATE account SET slug = 'main' WHERE account_id = 1",
        ValidateOptions::default(),
    )
    .await;
    assert_eq!(failing(&r), vec![("account.default_exists", Severity::Critical, 1)]);
    assert_eq!(examples(&r, "account.default_exists"), ["account 1 has slug 'main'"]);
}

#[tokio::test]
async fn migration_state_and_archive() {
    let r = report_after(
        "UPDATE profochat_saas.migration SET status = 'rolled_back'",
        ValidateOptions::default(),
    )
    .await;
    assert_eq!(failing(&r), vec![("state.migration_completed", Severity::Critical, 1)]);
    assert_eq!(
        examples(&r, "state.migration_completed"),
        ["no completed migration; the newest (#1) is 'rolled_back'"]
    );

    // Without the archive, the renamed course copies it records cannot be checked either.
    let r = report_after("DROP TABLE profochat_saas.archive", ValidateOptions::default()).await;
    assert_eq!(
        failing(&r),
        vec![("conversation.follows_run_copy", Severity::Critical, 0), ("state.archive_exists", Severity::Critical, 1)]
    );
}

#[tokio::test]
async fn the_migration_in_progress_validates_itself_before_its_commit() {
    let (_db, mut c) = migrated().await;
    c.batch_execute("DELETE FROM profochat_saas.migration").await.unwrap();
    let tx = c.client.transaction().await.unwrap();
    let r = validate(&tx, &ValidateOptions::default()).await.unwrap();
    assert_eq!(failing(&r), vec![("state.migration_completed", Severity::Critical, 1)]);
    tx.batch_execute(
        "INSERT INTO profochat_saas.migration (schema_version, tool_version, status) VALUES (1, 'test', 'running')",
    )
    .await
    .unwrap();
    let r = validate(&tx, &ValidateOptions::default()).await.unwrap();
    assert_eq!(failing(&r), vec![]);
    tx.rollback().await.unwrap();
}

/// A missing table or column never makes validation error (which would also abort an
/// enclosing migration transaction): it fails the structure check, and the checks that
/// read it say they could not run.
#[tokio::test]
async fn missing_tables_and_columns_are_reported_not_errors() {
    let (_db, mut c) = migrated().await;
    let mut drops: Vec<(String, &str)> = target::NEW_TABLES
        .iter()
        .map(|t| (format!("DROP TABLE {t} CASCADE"), "structure.tables"))
        .collect();
    for (t, cols) in target::NEW_TABLE_COLUMNS.iter().chain(target::ADDED_COLUMNS) {
        for col in *cols {
            drops.push((
                format!("ALTER TABLE {t} DROP COLUMN {col} CASCADE"),
                "structure.columns",
            ));
        }
    }
    drops.push(("DROP SCHEMA profochat_saas CASCADE".into(), "state.archive_exists"));
    for (drop, check) in drops {
        let tx = c.client.transaction().await.unwrap();
        tx.batch_execute(&drop).await.unwrap();
        let r = validate(&tx, &ValidateOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{drop}: {e}"));
        assert!(!r.check(check).unwrap().passed, "{drop}: {check} should fail");
        assert!(!r.passed(), "{drop}");
        for c in r
            .checks
            .iter()
            .filter(|c| c.examples.iter().any(|e| e.starts_with("not checked")))
        {
            assert!(!c.passed || c.severity == Severity::Info, "{drop}: {}", c.id);
        }
        tx.rollback().await.unwrap();
    }
    let r = validate(&c.client, &ValidateOptions::default()).await.unwrap();
    assert!(r.passed());
}
