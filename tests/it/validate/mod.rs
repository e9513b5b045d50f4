//! `validate`: a consistent migrated dataset passes; breaking one rule makes exactly
//! that check fail, with its severity and count.

use predicates::prelude::*;
use profochat_saas::conn::Db;
use profochat_saas::target;
use profochat_saas::validate::{validate, Severity, ValidateOptions, ValidationReport};

use crate::harness::{cli, TestDb};

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
async fn missing_wrong_and_unvalidated_foreign_keys_are_critical() {
    let r = report_after(
        "ALTER TABLE run DROP CONSTRAINT run_bot_id_fkey;
         ALTER TABLE run DROP CONSTRAINT run_deployment_id_fkey;
         ALTER TABLE run ADD CONSTRAINT run_deployment_id_fkey FOREIGN KEY (deployment_id) REFERENCES course_deployment ON DELETE CASCADE;
         ALTER TABLE waiting_element DROP CONSTRAINT waiting_element_run_id_fkey;
         ALTER TABLE waiting_element ADD CONSTRAINT waiting_element_run_id_fkey FOREIGN KEY (run_id) REFERENCES run ON DELETE CASCADE NOT VALID;",
        ValidateOptions::default(),
    )
    .await;
    assert_eq!(failing(&r), vec![("structure.foreign_keys", Severity::Critical, 3)]);
    assert_eq!(
        examples(&r, "structure.foreign_keys"),
        [
            "run.run_bot_id_fkey is missing",
            "run.run_deployment_id_fkey is ON DELETE CASCADE instead of ON DELETE RESTRICT",
            "waiting_element.waiting_element_run_id_fkey is NOT VALID (existing rows were never checked)",
        ]
    );
    assert!(r
        .check("structure.foreign_keys")
        .unwrap()
        .hint
        .as_deref()
        .unwrap()
        .contains("profochat-saas migrate"));
}

#[tokio::test]
async fn two_active_runs_of_one_chat_are_critical() {
    let r = report_after(
        "DROP INDEX run_one_active_per_bot_chat; UPDATE run SET is_active = true WHERE run_id = 2",
        ValidateOptions::default(),
    )
    .await;
    assert_eq!(
        failing(&r),
        vec![
            ("structure.unique_keys", Severity::Critical, 1),
            ("run.one_active_per_chat", Severity::Critical, 1)
        ]
    );
    assert_eq!(
        examples(&r, "structure.unique_keys"),
        ["run.run_one_active_per_bot_chat is missing"]
    );
    assert_eq!(
        examples(&r, "run.one_active_per_chat"),
        ["bot 'бета''s bot', chat 200: 2 active runs (run_id 2, 4)"]
    );
}

#[tokio::test]
async fn run_pointing_at_the_wrong_bot_is_critical() {
    let r = report_after("UPDATE run SET bot_id = 2 WHERE run_id = 5", ValidateOptions::default()).await;
    assert_eq!(failing(&r), vec![("run.bot_id_matches_botname", Severity::Critical, 1)]);
    assert_eq!(
        examples(&r, "run.bot_id_matches_botname"),
        ["run_id 5: botname 'alpha_bot', but bot_id 2 is 'бета''s bot' (account 1)"]
    );
}

#[tokio::test]
async fn wrong_bot_ids_of_waiting_elements_bans_and_settings_are_critical() {
    let r = report_after(
        "UPDATE waiting_element SET bot_id = 2 WHERE waiting_element_id = 3;
         UPDATE bannedparticipants SET bot_id = 1, chat_id = 101 WHERE bannedparticipant_id = 2;
         UPDATE gen_settings SET bot_id = 1 WHERE id IN (1, 3);",
        ValidateOptions::default(),
    )
    .await;
    // Waiting element 3 has no botname (the default bot's row): only its run link breaks.
    assert_eq!(
        failing(&r),
        vec![
            ("bannedparticipants.bot_id_matches_botname", Severity::Critical, 1),
            ("gen_settings.bot_id_matches_bot_name", Severity::Critical, 2),
            ("deployment.pairs_deployed", Severity::Critical, 1),
            ("waiting_element.run_matches", Severity::Critical, 1),
        ]
    );
    assert_eq!(
        examples(&r, "gen_settings.bot_id_matches_bot_name"),
        [
            "id 1: bot_name is NULL (every bot), but bot_id is 1",
            "id 3: bot_name 'бета''s bot', but bot_id 1 is 'alpha_bot'",
        ]
    );
    let r = report_after(
        "UPDATE waiting_element SET bot_id = 2 WHERE waiting_element_id = 1",
        ValidateOptions::default(),
    )
    .await;
    assert!(
        failing(&r).contains(&("waiting_element.bot_id_matches_botname", Severity::Critical, 1)),
        "{:?}",
        failing(&r)
    );
}

#[tokio::test]
async fn bot_name_without_a_bot_and_bot_without_display_name_are_critical() {
    let r = report_after(
        "INSERT INTO course_element (element_id, course_id, bot_name) VALUES ('e9', 'c1', 'gamma_bot');
         UPDATE bot SET display_name = NULL WHERE bot_id = 2;",
        ValidateOptions::default(),
    )
    .await;
    assert_eq!(
        failing(&r),
        vec![
            ("bot.legacy_names_have_bots", Severity::Critical, 1),
            ("bot.display_name_set", Severity::Critical, 1)
        ]
    );
    assert_eq!(
        examples(&r, "bot.legacy_names_have_bots"),
        ["'gamma_bot' (account 1), named in course_element"]
    );
    assert_eq!(examples(&r, "bot.display_name_set"), ["'бета''s bot' (account 1)"]);
}

#[tokio::test]
async fn placeholder_token_is_a_warning_that_names_the_bot_only() {
    let placeholder = format!("{}0123456789abcdef", target::PLACEHOLDER_TOKEN_PREFIX);
    let (db, c) = migrated().await;
    c.execute("UPDATE bot SET bot_token = $1 WHERE bot_id = 2", &[&placeholder])
        .await
        .unwrap();
    let r = validate(&c.client, &ValidateOptions::default()).await.unwrap();
    assert_eq!(failing(&r), vec![("bot.token_placeholder", Severity::Warning, 1)]);
    assert_eq!(examples(&r, "bot.token_placeholder"), ["'бета''s bot' (account 1)"]);
    assert!(r.passed());

    let out = cli().args(["validate", "--database-url", &db.url()]).assert().success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(stdout.contains("WARN"), "{stdout}");
    assert!(
        stdout.contains("51 checks: 50 passed, 1 warning, 0 critical failures"),
        "{stdout}"
    );
    assert!(stdout.contains("profochat-saas bot set-token --bot NAME"), "{stdout}");
    for secret in [placeholder.as_str(), ALPHA_TOKEN, "AAHdqTcv"] {
        assert!(!stdout.contains(secret), "a token was printed: {stdout}");
    }
}

#[tokio::test]
async fn token_that_is_not_telegram_shaped_is_a_warning() {
    let r = report_after(
        "UPDATE bot SET bot_token = 'not a token' WHERE bot_id = 1",
        ValidateOptions::default(),
    )
    .await;
    assert_eq!(failing(&r), vec![("bot.token_shape", Severity::Warning, 1)]);
    assert_eq!(examples(&r, "bot.token_shape"), ["'alpha_bot' (account 1)"]);
    let json = serde_json::to_string(&r).unwrap();
    assert!(!json.contains("not a token") && !json.contains(BETA_TOKEN), "{json}");
}

const ORPHAN: &str = "ALTER TABLE conversation DROP CONSTRAINT conversation_run_id_fkey;
    INSERT INTO conversation (chat_id, course_id, role, json, run_id) VALUES (100, 'c1', 'user', '{}', 999), (100, 'c1', 'user', '{}', 999);
    ALTER TABLE conversation ADD CONSTRAINT conversation_run_id_fkey FOREIGN KEY (run_id) REFERENCES run ON DELETE CASCADE NOT VALID;";

#[tokio::test]
async fn orphan_conversations_are_critical_unless_kept() {
    let r = report_after(ORPHAN, ValidateOptions::default()).await;
    assert_eq!(
        failing(&r),
        vec![
            ("structure.conversation_run_fk_validated", Severity::Critical, 1),
            ("conversation.run_id_resolves", Severity::Critical, 2),
        ]
    );
    assert_eq!(
        examples(&r, "conversation.run_id_resolves"),
        ["run_id 999 (no such run): 2 conversation row(s)"]
    );
    assert!(!r.passed());

    // Inside a migration a validated key is the proof; a NOT VALID one proves nothing.
    let r = report_after(ORPHAN, ValidateOptions { keys_just_validated: true, ..Default::default() }).await;
    assert_eq!(r.check("conversation.run_id_resolves").unwrap().count, 2);

    let r = report_after(ORPHAN, ValidateOptions { orphans_kept: true, ..Default::default() }).await;
    assert_eq!(
        failing(&r),
        vec![
            ("structure.conversation_run_fk_validated", Severity::Warning, 1),
            ("conversation.run_id_resolves", Severity::Warning, 2),
        ]
    );
    assert!(r.passed());
}

#[tokio::test]
async fn orphans_kept_is_read_from_the_migration_options() {
    let (db, c) = migrated().await;
    assert_eq!(
        ValidateOptions::from_state(&c.client).await.unwrap(),
        ValidateOptions { orphans_kept: false, ..Default::default() }
    );
    c.batch_execute(ORPHAN).await.unwrap();
    cli().args(["validate", "--database-url", &db.url()]).assert().code(6);

    c.batch_execute(
        r#"INSERT INTO profochat_saas.migration (schema_version, tool_version, status, finished_at, options)
           VALUES (1, 'fixture', 'completed', now(), '{"orphans": "keep"}')"#,
    )
    .await
    .unwrap();
    let opts = ValidateOptions::from_state(&c.client).await.unwrap();
    assert!(opts.orphans_kept);
    let r = validate(&c.client, &opts).await.unwrap();
    assert_eq!(
        r.check("conversation.run_id_resolves").unwrap().severity,
        Severity::Warning
    );
    cli()
        .args(["validate", "--database-url", &db.url()])
        .assert()
        .success()
        .stdout(predicate::str::contains("--orphans keep"));
}

#[tokio::test]
async fn duplicate_bans_and_participants_are_critical() {
    let r = report_after(
        "DROP INDEX bannedparticipants_unique;
         INSERT INTO bannedparticipants (botname, chat_id, ban_reason, excluded, bot_id) VALUES ('alpha_bot', 100, 'again', 0, 1);",
        ValidateOptions::default(),
    )
    .await;
    assert_eq!(
        failing(&r),
        vec![
            ("structure.unique_keys", Severity::Critical, 1),
            ("bannedparticipants.unique", Severity::Critical, 1)
        ]
    );
    assert_eq!(
        examples(&r, "bannedparticipants.unique"),
        ["bot 'alpha_bot', chat 100, excluded 0: 2 rows (bannedparticipant_id 1, 4)"]
    );

    let r = report_after(
        "DROP INDEX courseparticipants_unique;
         INSERT INTO courseparticipants (course_id, username, chat_id) VALUES ('c2', 'bob', NULL), ('c2', 'bob', NULL);",
        ValidateOptions::default(),
    )
    .await;
    assert_eq!(
        failing(&r),
        vec![
            ("structure.unique_keys", Severity::Critical, 1),
            ("courseparticipants.unique", Severity::Critical, 2)
        ]
    );
    assert_eq!(
        examples(&r, "courseparticipants.unique"),
        ["course 'c2' (account 1), chat 0, username 'bob': 3 rows (courseparticipant_id 2, 4, 5)"]
    );
}

#[tokio::test]
async fn account_without_owner_is_a_warning_and_exits_zero() {
    let (db, c) = migrated().await;
    c.batch_execute("UPDATE account_member SET role = 'admin'")
        .await
        .unwrap();
    let r = validate(&c.client, &ValidateOptions::default()).await.unwrap();
    assert_eq!(failing(&r), vec![("account.has_owner", Severity::Warning, 1)]);
    assert_eq!(
        examples(&r, "account.has_owner"),
        ["account 1 ('default') has no owner yet"]
    );
    cli()
        .args(["validate", "--database-url", &db.url()])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "profochat-saas member add --telegram-user-id ID --role owner",
        ));
}

#[tokio::test]
async fn invalid_role_is_critical() {
    let r = report_after(
        "ALTER TABLE account_member DROP CONSTRAINT account_member_role_check;
         INSERT INTO account_member (account_id, telegram_user_id, role) VALUES (1, 43, 'superuser');",
        ValidateOptions::default(),
    )
    .await;
    assert_eq!(
        failing(&r),
        vec![
            ("structure.check_constraints", Severity::Critical, 1),
            ("account_member.role_valid", Severity::Critical, 1)
        ]
    );
    assert_eq!(
        examples(&r, "account_member.role_valid"),
        ["account 1, telegram user 43: role 'superuser'"]
    );
}

#[tokio::test]
async fn token_payload_too_long_or_with_bad_characters_is_critical() {
    let long = "a".repeat(70);
    let (_db, c) = migrated().await;
    c.execute(
        "INSERT INTO enrollment_token (deployment_id, token) VALUES (1, $1), (2, 'bad+token'), (3, $2)",
        &[&long, &"b".repeat(58)],
    )
    .await
    .unwrap();
    let r = validate(&c.client, &ValidateOptions::default()).await.unwrap();
    // cd_3_ + 58 characters is 63: it fits.
    assert_eq!(
        failing(&r),
        vec![("enrollment_token.payload_fits", Severity::Critical, 2)]
    );
    assert_eq!(
        examples(&r, "enrollment_token.payload_fits"),
        [
            "token_id 2 (deployment 1): payload of 75 characters",
            "token_id 3 (deployment 2): characters outside A-Z a-z 0-9 _ -",
        ]
    );
}

#[tokio::test]
async fn expired_active_tokens_are_counted_as_info() {
    let r = report_after(
        "INSERT INTO enrollment_token (deployment_id, token, expires_at) VALUES (1, 'old', localtimestamp - interval '1 day')",
        ValidateOptions::default(),
    )
    .await;
    assert_eq!(failing(&r), vec![]);
    let c = r.check("enrollment_token.expired_active").unwrap();
    assert_eq!((c.count, c.passed, c.label()), (1, true, "info"));
}

#[tokio::test]
async fn missing_or_disabled_compat_trigger_is_critical() {
    let r = report_after(
        "DROP TRIGGER profochat_saas_compat ON gen_settings; ALTER TABLE run DISABLE TRIGGER profochat_saas_compat;",
        ValidateOptions::default(),
    )
    .await;
    assert_eq!(failing(&r), vec![("state.compat_triggers", Severity::Critical, 2)]);
    assert_eq!(
        examples(&r, "state.compat_triggers"),
        [
            "run has no enabled profochat_saas_* trigger",
            "gen_settings has no enabled profochat_saas_* trigger"
        ]
    );
}

#[tokio::test]
async fn unresolved_course_reference_is_critical() {
    let r = report_after(
        "INSERT INTO conversation (chat_id, course_id, role, json) VALUES (100, 'ghost', 'user', '{}')",
        ValidateOptions::default(),
    )
    .await;
    assert_eq!(failing(&r), vec![("course.references_resolve", Severity::Critical, 1)]);
    assert_eq!(
        examples(&r, "course.references_resolve"),
        ["conversation: course_id 'ghost' (account 1) has no course row, 1 row(s)"]
    );
}

#[tokio::test]
async fn legacy_course_in_another_account_is_critical() {
    let r = report_after(
        "INSERT INTO account (account_id, name, slug, is_active) VALUES (2, 'Other', 'other', false);
         INSERT INTO bot (account_id, bot_name, bot_token, display_name) VALUES (2, 'alpha_bot', '333333333:CCHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ', 'alpha_bot');
         INSERT INTO course (course_id, bot_name, account_id, date_created) VALUES ('old', 'alpha_bot', 2, '2020-01-01');",
        ValidateOptions::default(),
    )
    .await;
    assert_eq!(failing(&r), vec![("course.legacy_account", Severity::Critical, 1)]);
    assert_eq!(
        examples(&r, "course.legacy_account"),
        ["course 'old' (bot 'alpha_bot') is in account 2"]
    );
}

#[tokio::test]
async fn run_with_the_wrong_deployment_is_critical() {
    let r = report_after(
        "UPDATE run SET deployment_id = 3 WHERE run_id = 3",
        ValidateOptions::default(),
    )
    .await;
    assert_eq!(failing(&r), vec![("run.deployment_matches", Severity::Critical, 1)]);
    assert_eq!(
        examples(&r, "run.deployment_matches"),
        ["run_id 3: course 'c1', account 1, bot_id 1, but deployment 3 is course 'yaml_only', account 1, bot_id 1"]
    );
    let r = report_after(
        "UPDATE run SET deployment_id = 1 WHERE run_id = 5",
        ValidateOptions::default(),
    )
    .await;
    assert_eq!(failing(&r), vec![("run.deployment_matches", Severity::Critical, 1)]);
    assert_eq!(
        examples(&r, "run.deployment_matches"),
        ["run_id 5: no course, but deployment_id 1"]
    );
}

#[tokio::test]
async fn course_bot_pair_without_prod_deployment_is_critical() {
    let r = report_after(
        "UPDATE course_deployment SET environment = 'staging' WHERE deployment_id = 2",
        ValidateOptions::default(),
    )
    .await;
    assert_eq!(failing(&r), vec![("deployment.pairs_deployed", Severity::Critical, 1)]);
    assert_eq!(
        examples(&r, "deployment.pairs_deployed"),
        ["course 'c2' (account 1) on bot 'бета''s bot' has no prod deployment (used by run, waiting_element)"]
    );
}

#[tokio::test]
async fn deployment_of_a_missing_bot_is_critical() {
    let r = report_after(
        "ALTER TABLE course_deployment DROP CONSTRAINT course_deployment_bot_fkey;
         INSERT INTO course_deployment (course_id, account_id, bot_id) VALUES ('c1', 1, 99);",
        ValidateOptions::default(),
    )
    .await;
    assert_eq!(
        failing(&r),
        vec![
            ("structure.foreign_keys", Severity::Critical, 1),
            ("deployment.references_exist", Severity::Critical, 1)
        ]
    );
    assert_eq!(
        examples(&r, "deployment.references_exist"),
        ["deployment 4: bot_id 99 does not exist"]
    );
}

#[tokio::test]
async fn run_flags_that_contradict_each_other() {
    let r = report_after(
        "UPDATE run SET is_ended = true WHERE run_id = 5",
        ValidateOptions::default(),
    )
    .await;
    assert_eq!(failing(&r), vec![("run.active_and_ended", Severity::Critical, 1)]);
    assert_eq!(examples(&r, "run.active_and_ended"), ["run_id 5 (chat 300)"]);

    let r = report_after(
        "UPDATE run SET ended_at = '2024-01-02 03:04:05' WHERE run_id = 5",
        ValidateOptions::default(),
    )
    .await;
    assert_eq!(
        failing(&r),
        vec![("run.ended_at_only_when_inactive", Severity::Critical, 1)]
    );
    assert_eq!(
        examples(&r, "run.ended_at_only_when_inactive"),
        ["run_id 5 (chat 300) is active but ended at 2024-01-02 03:04:05"]
    );

    let r = report_after(
        "UPDATE run SET is_active = false WHERE run_id = 5",
        ValidateOptions::default(),
    )
    .await;
    assert_eq!(
        failing(&r),
        vec![("run.inactive_unended_superseded", Severity::Warning, 1)]
    );
    assert_eq!(
        examples(&r, "run.inactive_unended_superseded"),
        ["run_id 5 (bot_id 1, chat 300) is inactive, not ended, and the newest of its chat"]
    );
}

#[tokio::test]
async fn waiting_element_links() {
    // A new row pointing at another chat's run breaks the rule.
    let r = report_after(
        "INSERT INTO waiting_element (chat_id, is_waiting, element_id, course_id, botname, bot_id, run_id)
         VALUES (100, true, 'e3', 'c1', 'alpha_bot', 1, 4)",
        ValidateOptions::default(),
    )
    .await;
    assert_eq!(
        failing(&r),
        vec![("waiting_element.run_matches", Severity::Critical, 1)]
    );
    assert_eq!(
        examples(&r, "waiting_element.run_matches"),
        ["waiting_element_id 4 (chat 100, bot_id 1, course 'c1'): run_id 4 is chat 200, bot_id 2, course 'c2'"]
    );

    // A legacy row linked to an older run of its chat, or to none, is a warning.
    let r = report_after(
        "UPDATE waiting_element SET run_id = 1 WHERE waiting_element_id = 1;
         UPDATE waiting_element SET run_id = NULL WHERE waiting_element_id = 3;",
        ValidateOptions::default(),
    )
    .await;
    assert_eq!(
        failing(&r),
        vec![("waiting_element.run_is_newest", Severity::Warning, 2)]
    );
    assert_eq!(
        examples(&r, "waiting_element.run_is_newest"),
        [
            "waiting_element_id 1: run_id 1, but the newest run is 3",
            "waiting_element_id 3: run_id NULL, but the newest run is 6",
        ]
    );

    // Rows written after the migration may point at older runs.
    let r = report_after(
        "UPDATE waiting_element SET run_id = 1, created_at = now() WHERE waiting_element_id = 1",
        ValidateOptions::default(),
    )
    .await;
    assert_eq!(failing(&r), vec![]);
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

#[tokio::test]
async fn cli_prints_a_table_summary_and_exits_by_severity() {
    let (db, c) = migrated().await;
    let out = cli().args(["validate", "--database-url", &db.url()]).assert().success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    for text in [
        "Check",
        "Result",
        "Count",
        "Details",
        "run.bot_id_matches_botname",
        "PASS",
        "info",
    ] {
        assert!(stdout.contains(text), "{text}: {stdout}");
    }
    assert!(
        stdout.contains("51 checks: 51 passed, 0 warnings, 0 critical failures"),
        "{stdout}"
    );

    c.batch_execute("ALTER TABLE run DROP CONSTRAINT run_bot_id_fkey; UPDATE account_member SET role = 'admin'")
        .await
        .unwrap();
    let out = cli().args(["validate", "--database-url", &db.url()]).assert().code(6);
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(stdout.contains("FAIL"), "{stdout}");
    assert!(stdout.contains("run.run_bot_id_fkey is missing"), "{stdout}");
    assert!(
        stdout.contains("51 checks: 49 passed, 1 warning, 1 critical failure"),
        "{stdout}"
    );
    assert!(stdout.contains("FAIL structure.foreign_keys: "), "{stdout}");
    assert!(stdout.contains("WARN account.has_owner: "), "{stdout}");
    assert!(
        stderr.contains("validation found 1 critical problem(s): structure.foreign_keys"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "one paragraph: {stderr}");
}

#[tokio::test]
async fn cli_json_report() {
    let (db, c) = migrated().await;
    let out = cli()
        .args(["validate", "--json", "--database-url", &db.url()])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["passed"], true);
    assert_eq!(v["critical_failures"], 0);
    assert_eq!(v["state"], "migrated");
    let checks = v["checks"].as_array().unwrap();
    assert_eq!(checks.len(), CHECK_IDS.len());
    assert_eq!(checks[0]["id"], "structure.tables");
    assert_eq!(checks[0]["severity"], "critical");

    c.batch_execute("UPDATE run SET bot_id = 2 WHERE run_id = 5")
        .await
        .unwrap();
    let out = cli()
        .args(["validate", "--json", "--database-url", &db.url()])
        .assert()
        .code(6);
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["passed"], false);
    assert_eq!(v["critical_failures"], 1);
    let failed: Vec<&serde_json::Value> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["passed"] == false)
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["id"], "run.bot_id_matches_botname");
    assert_eq!(failed[0]["count"], 1);
    assert!(failed[0]["hint"].is_string());
}

#[tokio::test]
async fn legacy_database_is_not_validated() {
    let db = TestDb::legacy().await;
    let out = cli().args(["validate", "--database-url", &db.url()]).assert().code(4);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(stderr.contains("not migrated yet"), "{stderr}");
    assert!(
        stderr.contains("profochat-saas plan") && stderr.contains("profochat-saas migrate"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "one paragraph: {stderr}");
}

#[tokio::test]
async fn human_output_of_a_passing_database() {
    let (db, _c) = migrated().await;
    let out = cli().args(["validate", "--database-url", &db.url()]).assert().success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    insta::with_settings!({filters => vec![(r"(?m)^Database: .*$", "Database: [target]")]}, {
        insta::assert_snapshot!(stdout);
    });
}

/// bot_id is nullable, as in upstream's 0003: rows without it (the application's own
/// writes, by bot name alone) are a warning with a count, never a critical failure, and
/// the rules that join on bot_id skip them.
#[tokio::test]
async fn rows_without_bot_id_are_a_warning_with_a_count() {
    let r = report_after(
        "INSERT INTO run (run_id, course_id, username, chat_id, botname) VALUES (900, 'c1', 'app', 900, 'alpha_bot');
         INSERT INTO run (run_id, course_id, username, chat_id, botname) VALUES (901, 'c1', 'app', 900, 'alpha_bot');
         INSERT INTO waiting_element (chat_id, is_waiting, element_id, course_id, botname, run_id) VALUES (900, true, 'e1', 'c1', 'alpha_bot', 901);",
        ValidateOptions::default(),
    )
    .await;
    assert_eq!(failing(&r), vec![("links.without_bot_id", Severity::Warning, 3)], "{r:?}");
    assert_eq!(examples(&r, "links.without_bot_id"), ["run: 2 row(s) without bot_id", "waiting_element: 1 row(s) without bot_id"]);
    assert_eq!(r.critical_failures(), 0);
}

/// A course made from references with no content (its YAML file was not imported) is a
/// warning that names --courses-yml: the application would show it empty.
#[tokio::test]
async fn a_course_from_references_without_content_warns_naming_courses_yml() {
    let r = report_after("UPDATE course SET metadata = metadata - 'yaml_import' WHERE course_id = 'yaml_only'", ValidateOptions::default()).await;
    assert_eq!(failing(&r), vec![("courses_yml.not_imported", Severity::Warning, 1)]);
    assert_eq!(examples(&r, "courses_yml.not_imported"), ["'yaml_only' (account 1)"]);
    assert!(r.check("courses_yml.not_imported").unwrap().hint.as_deref().unwrap().contains("--courses-yml"));
    assert_eq!(r.critical_failures(), 0);
    // Elements of its own (the legacy tables had some) are content too.
    let r = report_after(
        "UPDATE course SET metadata = metadata - 'yaml_import' WHERE course_id = 'yaml_only';
         INSERT INTO course_element (element_id, json, element_type, course_id, bot_name) VALUES ('y1', '{}', 'message', 'yaml_only', 'alpha_bot');",
        ValidateOptions::default(),
    )
    .await;
    assert_eq!(failing(&r), vec![]);
}
