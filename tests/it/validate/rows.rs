//! The migrated rows' rules: keys, runs, bots and their tokens, orphans, duplicates,
//! members and enrollment tokens, each broken alone.

use super::*;

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
