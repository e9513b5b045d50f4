//! The checks of the migrated rows: the default account, bots, courses, deployments,
//! runs, waiting elements, conversations, bans and participants, members, tokens.

use super::{counted, orphans_severity, texts, Check, Param, Query};
use crate::state::MigrationStatus;
use crate::target::REFERENCE_COURSE_METADATA;
use crate::validate::{Severity, ValidateOptions};

/// The migrated rows' checks, in report order.
pub(super) fn checks(opts: &ValidateOptions) -> Vec<Check> {
    let orphans_severity = orphans_severity(opts);
    vec![
        // The default account.
        Check {
            id: "account.default_exists",
            rule: "The default account exists: account_id 1, slug 'default'.",
            severity: Severity::Critical,
            needs: &["account.account_id", "account.slug"],
            hint: Some("Every legacy row belongs to account 1 (slug 'default'): restore that row."),
            query: counted(sql!("account.default_exists")),
        },
        // Bots.
        Check {
            id: "bot.legacy_names_have_bots",
            rule: "Every bot name in run, waiting_element, bannedparticipants, course, course_element and gen_settings has a bot row in the row's account.",
            severity: Severity::Critical,
            needs: &[
                "run.botname", "run.account_id", "waiting_element.botname", "waiting_element.account_id",
                "bannedparticipants.botname", "bannedparticipants.account_id", "course.bot_name", "course.account_id",
                "course_element.bot_name", "course_element.account_id", "gen_settings.bot_name",
                "gen_settings.account_id", "bot.bot_name", "bot.account_id",
            ],
            hint: Some("The migration creates a bot (with a placeholder token) for every bot name: add the missing bot rows, then set their tokens with `profochat-saas bot set-token --bot NAME`."),
            query: counted(sql!("bot.legacy_names_have_bots")),
        },
        Check {
            id: "run.bot_id_matches_botname",
            rule: "run.bot_id is the bot that run.botname names, where botname is set.",
            severity: Severity::Critical,
            needs: &["run.run_id", "run.botname", "run.bot_id", "run.account_id", "bot.bot_id", "bot.bot_name", "bot.account_id"],
            hint: Some("Set bot_id of these runs to the bot their botname names."),
            query: counted(sql!("run.bot_id_matches_botname")),
        },
        Check {
            id: "waiting_element.bot_id_matches_botname",
            rule: "waiting_element.bot_id is the bot that waiting_element.botname names, where botname is set.",
            severity: Severity::Critical,
            needs: &[
                "waiting_element.waiting_element_id", "waiting_element.botname", "waiting_element.bot_id",
                "waiting_element.account_id", "bot.bot_id", "bot.bot_name", "bot.account_id",
            ],
            hint: Some("Set bot_id of these waiting elements to the bot their botname names."),
            query: counted(sql!("waiting_element.bot_id_matches_botname")),
        },
        Check {
            id: "bannedparticipants.bot_id_matches_botname",
            rule: "bannedparticipants.bot_id is the bot that bannedparticipants.botname names, where botname is set.",
            severity: Severity::Critical,
            needs: &[
                "bannedparticipants.bannedparticipant_id", "bannedparticipants.botname", "bannedparticipants.bot_id",
                "bannedparticipants.account_id", "bot.bot_id", "bot.bot_name", "bot.account_id",
            ],
            hint: Some("Set bot_id of these bans to the bot their botname names."),
            query: counted(sql!("bannedparticipants.bot_id_matches_botname")),
        },
        Check {
            id: "links.without_bot_id",
            rule: "Rows of run, waiting_element and bannedparticipants without a bot_id (nullable, as upstream's; the application's own writes).",
            severity: Severity::Warning,
            needs: &["run.bot_id", "waiting_element.bot_id", "bannedparticipants.bot_id"],
            hint: Some("bot_id is nullable as in upstream's 0003, and the application may write runs by bot name alone; \
                        the rules that join on bot_id skip these rows. Set bot_id from the bot name where the application should find them by bot."),
            query: counted(sql!("links.without_bot_id")),
        },
        Check {
            id: "gen_settings.bot_id_matches_bot_name",
            rule: "gen_settings.bot_id is the bot that bot_name names; a NULL bot_name (every bot) has a NULL bot_id.",
            severity: Severity::Critical,
            needs: &[
                "gen_settings.id", "gen_settings.bot_name", "gen_settings.bot_id", "gen_settings.account_id",
                "bot.bot_id", "bot.bot_name", "bot.account_id",
            ],
            hint: Some("Set bot_id of these settings from bot_name (NULL where bot_name is NULL)."),
            query: counted(sql!("gen_settings.bot_id_matches_bot_name")),
        },
        Check {
            id: "bot.display_name_set",
            rule: "Every bot has a display name.",
            severity: Severity::Critical,
            needs: &["bot.account_id", "bot.bot_name", "bot.display_name"],
            hint: Some("Set display_name of these bots (the migration uses the bot name)."),
            query: counted(sql!("bot.display_name_set")),
        },
        Check {
            id: "bot.token_placeholder",
            rule: "Every bot has its real Telegram token, not the migration's placeholder.",
            severity: Severity::Warning,
            needs: &["bot.account_id", "bot.bot_name", "bot.bot_token"],
            hint: Some("Set each bot's token with `profochat-saas bot set-token --bot NAME` (it reads the token from standard input)."),
            query: Query::PlaceholderTokens,
        },
        Check {
            id: "bot.token_shape",
            rule: "Every bot token that is not a placeholder looks like a Telegram token (<bot id>:<35 characters>).",
            severity: Severity::Warning,
            needs: &["bot.account_id", "bot.bot_name", "bot.bot_token"],
            hint: Some("Telegram gives tokens as 123456789:AA… (the bot id, a colon, 35 characters): set the right one with `profochat-saas bot set-token --bot NAME`."),
            query: Query::MalformedTokens,
        },
        // Courses.
        Check {
            id: "course.references_resolve",
            rule: "Every course_id named by run, waiting_element, course_element, courseparticipants and conversation has a course row in the row's account.",
            severity: Severity::Critical,
            needs: &[
                "run.course_id", "run.account_id", "waiting_element.course_id", "waiting_element.account_id",
                "course_element.course_id", "course_element.account_id", "courseparticipants.course_id",
                "courseparticipants.account_id", "conversation.course_id", "conversation.account_id",
                "course.course_id", "course.account_id",
            ],
            hint: Some("The migration creates a course row (title = course_id, marked in metadata) for every course_id that rows name: add the missing ones."),
            query: counted(sql!("course.references_resolve")),
        },
        Check {
            id: "course.created_from_references",
            rule: "Courses created from references (no course row, e.g. kept in YAML files) are marked in their metadata.",
            severity: Severity::Info,
            needs: &["course.course_id", "course.account_id", "course.metadata"],
            hint: None,
            query: Query::Counted {
                sql: sql!("course.created_from_references"),
                params: vec![Param::Text(REFERENCE_COURSE_METADATA.into())],
            },
        },
        Check {
            id: "courses_yml.not_imported",
            rule: "Courses created from references (they live in YAML files) have their content: imported from courses.yml, or elements.",
            severity: Severity::Warning,
            needs: &["course.course_id", "course.account_id", "course.metadata", "course_element.course_id", "course_element.account_id"],
            hint: Some("The application prefers a database row to the YAML file, so it shows these courses empty: import their content with \
                        `profochat-saas course import --courses-yml FILE` (or `profochat-saas migrate --courses-yml FILE`), FILE each bot's \
                        scripts/<BOT_FOLDER>courses.yml (BOT=FILE when the folder is not named after the bot)."),
            query: Query::Counted {
                sql: sql!("courses_yml.not_imported"),
                params: vec![Param::Text(REFERENCE_COURSE_METADATA.into())],
            },
        },
        Check {
            id: "course.legacy_account",
            rule: "Courses that existed before the migration belong to account 1.",
            severity: Severity::Critical,
            needs: &[
                "course.course_id", "course.bot_name", "course.account_id", "course.date_created",
                "profochat_saas.migration.started_at", "profochat_saas.migration.status",
            ],
            hint: Some("Legacy courses belong to the default account: set account_id = 1 on them (with their elements, participants and deployments)."),
            query: Query::Counted { sql: sql!("course.legacy_account"), params: vec![texts(MigrationStatus::names_where(MigrationStatus::begun))] },
        },
        // Deployments.
        Check {
            id: "run.deployment_matches",
            rule: "A run with a course has the deployment of that course on its bot in its account; a run with no course has none.",
            severity: Severity::Critical,
            needs: &[
                "run.run_id", "run.course_id", "run.account_id", "run.bot_id", "run.deployment_id",
                "course_deployment.deployment_id", "course_deployment.course_id", "course_deployment.account_id",
                "course_deployment.bot_id",
            ],
            hint: Some("Set deployment_id of these runs to the prod deployment of their course on their bot (NULL for runs with no course)."),
            query: counted(sql!("run.deployment_matches")),
        },
        Check {
            id: "deployment.pairs_deployed",
            rule: "Every (course, bot) pair of runs and waiting elements has a 'prod' deployment.",
            severity: Severity::Critical,
            needs: &[
                "run.course_id", "run.account_id", "run.bot_id", "waiting_element.course_id",
                "waiting_element.account_id", "waiting_element.bot_id", "course_deployment.course_id",
                "course_deployment.account_id", "course_deployment.bot_id", "course_deployment.environment",
                "bot.bot_id", "bot.bot_name",
            ],
            hint: Some("Create the missing deployments with `profochat-saas deployment create --course COURSE_ID --bot NAME`."),
            query: counted(sql!("deployment.pairs_deployed")),
        },
        Check {
            id: "run.without_course",
            rule: "Runs with no course keep deployment_id NULL.",
            severity: Severity::Info,
            needs: &["run.run_id", "run.chat_id", "run.course_id"],
            hint: None,
            query: counted(sql!("run.without_course")),
        },
        Check {
            id: "deployment.references_exist",
            rule: "Every deployment names an existing course of its account and an existing bot.",
            severity: Severity::Critical,
            needs: &[
                "course_deployment.deployment_id", "course_deployment.course_id", "course_deployment.account_id",
                "course_deployment.bot_id", "course.course_id", "course.account_id", "bot.bot_id",
            ],
            hint: Some("Restore the course or bot these deployments name, or delete the deployments."),
            query: counted(sql!("deployment.references_exist")),
        },
        // Runs.
        Check {
            id: "run.active_and_ended",
            rule: "No run is both active and ended.",
            severity: Severity::Critical,
            needs: &["run.run_id", "run.chat_id", "run.is_active", "run.is_ended"],
            hint: Some("An ended run is inactive: set is_active = false on these runs."),
            query: counted(sql!("run.active_and_ended")),
        },
        Check {
            id: "run.one_active_per_chat",
            rule: "At most one run is active per bot and chat.",
            severity: Severity::Critical,
            needs: &["run.run_id", "run.bot_id", "run.chat_id", "run.is_active", "bot.bot_id", "bot.bot_name"],
            hint: Some("Keep only the newest run of each chat active: set is_active = false on the older ones."),
            query: counted(sql!("run.one_active_per_chat")),
        },
        Check {
            id: "run.inactive_unended_superseded",
            rule: "A run that is inactive but not ended has a newer run of the same chat on the same bot.",
            severity: Severity::Warning,
            needs: &["run.run_id", "run.bot_id", "run.chat_id", "run.is_active", "run.is_ended"],
            hint: Some("These runs are neither going on nor ended: set is_active = true if the chat should continue with one, or is_ended = true to close it."),
            query: counted(sql!("run.inactive_unended_superseded")),
        },
        Check {
            id: "run.ended_at_only_when_inactive",
            rule: "ended_at is set only on inactive runs.",
            severity: Severity::Critical,
            needs: &["run.run_id", "run.chat_id", "run.ended_at", "run.is_active"],
            hint: Some("Set is_active = false on these runs if they ended, else clear their ended_at."),
            query: counted(sql!("run.ended_at_only_when_inactive")),
        },
        // Waiting elements.
        Check {
            id: "waiting_element.run_matches",
            rule: "A waiting element's run_id, when set, names a run of the same chat, bot and course.",
            severity: Severity::Critical,
            needs: &[
                "waiting_element.waiting_element_id", "waiting_element.run_id", "waiting_element.chat_id",
                "waiting_element.bot_id", "waiting_element.course_id", "waiting_element.account_id", "run.run_id",
                "run.chat_id", "run.bot_id", "run.course_id", "run.account_id",
            ],
            hint: Some("Set run_id of these waiting elements to the newest run of their chat, bot and course, or NULL."),
            query: counted(sql!("waiting_element.run_matches")),
        },
        Check {
            id: "waiting_element.run_is_newest",
            rule: "A legacy waiting element points at the newest run of its chat, bot and course at the migration.",
            severity: Severity::Warning,
            needs: &[
                "waiting_element.waiting_element_id", "waiting_element.run_id", "waiting_element.chat_id",
                "waiting_element.bot_id", "waiting_element.course_id", "waiting_element.created_at", "run.run_id",
                "run.chat_id", "run.bot_id", "run.course_id", "run.date_inserted",
                "profochat_saas.migration.started_at", "profochat_saas.migration.status",
            ],
            hint: Some("The migration links each legacy waiting element to the newest run of its chat, bot and course; these were linked otherwise or not at all."),
            query: Query::Counted { sql: sql!("waiting_element.run_is_newest"), params: vec![texts(MigrationStatus::names_where(MigrationStatus::begun))] },
        },
        Check {
            id: "waiting_element.run_linked",
            rule: "A waiting element written since the migration has a run_id when a run of its chat, bot and course was there when it was written.",
            severity: Severity::Critical,
            needs: &[
                "waiting_element.waiting_element_id", "waiting_element.run_id", "waiting_element.chat_id",
                "waiting_element.bot_id", "waiting_element.course_id", "waiting_element.created_at", "run.run_id",
                "run.chat_id", "run.bot_id", "run.course_id", "run.date_inserted",
            ],
            hint: Some("Set run_id of these waiting elements to the newest run of their chat, bot and course (the run named in each line)."),
            query: counted(sql!("waiting_element.run_linked")),
        },
        // Conversations.
        Check {
            id: "conversation.follows_run_copy",
            rule: "A conversation row of a run on a renamed course copy has that copy's course_id, not the legacy one.",
            severity: Severity::Critical,
            needs: &[
                "conversation.conversation_id", "conversation.run_id", "conversation.course_id", "conversation.account_id",
                "run.run_id", "run.course_id", "run.account_id",
                "profochat_saas.archive.table_name", "profochat_saas.archive.action", "profochat_saas.archive.key", "profochat_saas.archive.row",
            ],
            hint: Some("Set course_id of these rows to their run's course_id (the legacy interface shows them under the legacy id)."),
            query: counted(sql!("conversation.follows_run_copy")),
        },
        Check {
            id: "conversation.run_id_resolves",
            rule: "conversation.run_id, when set, names an existing run (orphans are kept only with --orphans keep).",
            severity: orphans_severity,
            needs: &["conversation.run_id", "run.run_id"],
            hint: Some(if opts.orphans_kept {
                "Kept on purpose (the migration ran with --orphans keep): these rows keep the run_id of runs deleted long ago."
            } else {
                "These rows point at runs that do not exist: `profochat-saas migrate` detaches such run_ids by default \
                 (sets them NULL and archives the old value); `--orphans keep` keeps them on purpose."
            }),
            query: Query::Counted {
                sql: sql!("conversation.run_id_resolves"),
                params: vec![Param::Bool(opts.keys_just_validated)],
            },
        },
        // Bans and participants.
        Check {
            id: "bannedparticipants.unique",
            rule: "No two bans share (bot_id, chat_id, excluded).",
            severity: Severity::Critical,
            needs: &[
                "bannedparticipants.bannedparticipant_id", "bannedparticipants.bot_id", "bannedparticipants.chat_id",
                "bannedparticipants.excluded", "bot.bot_id", "bot.bot_name",
            ],
            hint: Some("Keep the oldest ban of each group and delete the others (the migration archives them), so that bannedparticipants_unique can hold."),
            query: counted(sql!("bannedparticipants.unique")),
        },
        Check {
            id: "courseparticipants.unique",
            rule: "No two participants share (course_id, account_id, chat_id, username).",
            severity: Severity::Critical,
            needs: &[
                "courseparticipants.courseparticipant_id", "courseparticipants.course_id",
                "courseparticipants.account_id", "courseparticipants.chat_id", "courseparticipants.username",
            ],
            hint: Some("Keep the oldest participant of each group and delete the others (the migration archives them), so that courseparticipants_unique can hold."),
            query: counted(sql!("courseparticipants.unique")),
        },
        // Members.
        Check {
            id: "account.has_owner",
            rule: "Every active account has an active owner.",
            severity: Severity::Warning,
            needs: &[
                "account.account_id", "account.slug", "account.is_active", "account_member.account_id",
                "account_member.role", "account_member.is_active",
            ],
            hint: Some("Add an owner with `profochat-saas member add --telegram-user-id ID --role owner` (with --account N for other accounts)."),
            query: counted(sql!("account.has_owner")),
        },
        Check {
            id: "account_member.role_valid",
            rule: "Every member's role is owner, admin, member or viewer.",
            severity: Severity::Critical,
            needs: &["account_member.account_id", "account_member.telegram_user_id", "account_member.role"],
            hint: Some("Set a valid role: `profochat-saas member add --telegram-user-id ID --role ROLE` changes an existing member's role."),
            query: counted(sql!("account_member.role_valid")),
        },
        // Enrollment tokens.
        Check {
            id: "enrollment_token.payload_fits",
            rule: "Every deep-link payload cd_<deployment_id>_<token> has at most 64 characters, all of A-Z a-z 0-9 _ -.",
            severity: Severity::Critical,
            needs: &["enrollment_token.token_id", "enrollment_token.deployment_id", "enrollment_token.token"],
            hint: Some("Telegram cuts or refuses such start links: revoke these tokens (`profochat-saas token revoke TOKEN_ID`) and create new ones (`profochat-saas token create --deployment ID`)."),
            query: counted(sql!("enrollment_token.payload_fits")),
        },
        Check {
            id: "enrollment_token.expired_active",
            rule: "Tokens past their expiry that are still marked active (they are refused anyway).",
            severity: Severity::Info,
            needs: &[
                "enrollment_token.token_id", "enrollment_token.deployment_id", "enrollment_token.is_active",
                "enrollment_token.expires_at",
            ],
            hint: None,
            query: counted(sql!("enrollment_token.expired_active")),
        },
    ]
}
