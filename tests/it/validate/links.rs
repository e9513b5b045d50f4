//! The links' rules: compatibility triggers, course references, deployments, run flags,
//! waiting elements, rows without a bot id, courses without content.

use super::*;

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
