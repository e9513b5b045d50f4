//! The checks: their ids, rules, severities, hints and queries (sql/validate/*.sql).
//! Each query returns one row: the number of offending rows and up to ten of them as text.

use tokio_postgres::types::ToSql;
use tokio_postgres::GenericClient;

use super::{Catalog, CheckResult, Severity, ValidateOptions};
use crate::error::{Error, Result};
use crate::schema::catalog;
use crate::sql::LEGACY_TABLES;
use crate::state::MigrationStatus;
use crate::target::{
    self, CHECK_CONSTRAINTS, COMPAT_TRIGGER_PREFIX, FOREIGN_KEYS, NEW_TABLES, NOT_NULL, REFERENCE_COURSE_METADATA,
    UNIQUE_KEYS,
};

const FINISH_SCHEMA: &str = "The schema is incomplete or altered: `profochat-saas status` shows the state; \
    `profochat-saas migrate` finishes a partly migrated schema.";

const UPSTREAM_NAMES: &str = "Upstream's later migrations refer to keys by name and shape: `profochat-saas migrate` renames the keys \
    of older profochat-saas versions, replaces those of another shape and adds missing ones (`profochat-saas status` shows the state).";

/// Upstream's definition of a key of the target schema, by name.
fn definition_of(name: &str) -> String {
    target::keys().into_iter().find(|k| k.name == name).map(|k| k.definition).unwrap_or_default()
}

/// A bind parameter of a check's query.
enum Param {
    Text(String),
    Texts(Vec<String>),
    Bool(bool),
}

impl Param {
    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Param::Text(t) => t,
            Param::Texts(t) => t,
            Param::Bool(b) => b,
        }
    }
}

enum Query {
    /// A query of sql/validate/ returning (count, examples).
    Counted { sql: &'static str, params: Vec<Param> },
    /// Primary keys, unique keys and unique indexes ([`UNIQUE_KEYS`]) missing, invalid,
    /// or of another definition than upstream's.
    UniqueKeys,
    /// Secondary indexes (phase 5's and the legacy schema's) missing, invalid or of another definition.
    SecondaryIndexes,
    /// Keys and indexes of the application's tables that upstream's catalog does not have.
    UnexpectedKeys {
        /// Inside the online switch: the migration's temporary index, dropped right
        /// after, is expected.
        except_chat_index: bool,
    },
    /// What a completed online migration's interrupted cleanup left (none while
    /// `switching`: the switch's own cleanup follows it).
    OnlineLeftovers { switching: bool },
    /// Upstream's migration ledger missing, or not recording upstream's migrations.
    UpstreamLedger,
    /// The enrolment function missing.
    EnrolFunction,
    /// The recorded tenant isolation's policies missing or changed.
    TenantIsolation,
    /// Bots whose token is one of the migration's placeholders.
    PlaceholderTokens,
    /// Bots whose token is neither a placeholder nor shaped like a Telegram token.
    MalformedTokens,
}

pub(super) struct Check {
    pub(super) id: &'static str,
    rule: &'static str,
    severity: Severity,
    /// Tables and columns the query reads (`table`, `table.column`, `profochat_saas.table`);
    /// when one is missing the check is reported as not checked instead of erroring,
    /// which would also abort an enclosing transaction.
    needs: &'static [&'static str],
    hint: Option<&'static str>,
    query: Query,
}

fn counted(sql: &'static str) -> Query {
    Query::Counted { sql, params: vec![] }
}

fn texts<'a>(items: impl IntoIterator<Item = &'a str>) -> Param {
    Param::Texts(items.into_iter().map(str::to_string).collect())
}

macro_rules! sql {
    ($name:literal) => {
        include_str!(concat!("../../sql/validate/", $name, ".sql"))
    };
}

/// Every check, in report order.
pub(super) fn all(opts: &ValidateOptions) -> Vec<Check> {
    // Columns of the new tables whose table is missing are left to structure.tables.
    let added: Vec<(&str, &str)> = target::NEW_TABLE_COLUMNS
        .iter()
        .chain(target::ADDED_COLUMNS)
        .flat_map(|(t, cols)| cols.iter().map(move |c| (*t, *c)))
        .collect();
    let orphans_severity = if opts.orphans_kept {
        Severity::Warning
    } else {
        Severity::Critical
    };

    vec![
        // Structure.
        Check {
            id: "structure.tables",
            rule: "Every new table exists (account, account_member, bot, course_deployment, enrollment_token).",
            severity: Severity::Critical,
            needs: &[],
            hint: Some(FINISH_SCHEMA),
            query: Query::Counted { sql: sql!("structure.tables"), params: vec![texts(NEW_TABLES)] },
        },
        Check {
            id: "structure.columns",
            rule: "Every column of the new tables and every column added to the legacy tables exists.",
            severity: Severity::Critical,
            needs: &[],
            hint: Some(FINISH_SCHEMA),
            query: Query::Counted {
                sql: sql!("structure.columns"),
                params: vec![texts(added.iter().map(|a| a.0)), texts(added.iter().map(|a| a.1))],
            },
        },
        Check {
            id: "structure.unique_keys",
            rule: "Every primary key, unique key and unique index exists under upstream's name, on its table, with upstream's definition, and is valid.",
            severity: Severity::Critical,
            needs: &[],
            hint: Some(UPSTREAM_NAMES),
            query: Query::UniqueKeys,
        },
        Check {
            id: "structure.foreign_keys",
            rule: "Every foreign key exists under upstream's name, references the right table with the right ON DELETE action, has upstream's definition, and is validated.",
            severity: Severity::Critical,
            needs: &[],
            hint: Some(UPSTREAM_NAMES),
            query: Query::Counted {
                sql: sql!("structure.foreign_keys"),
                params: vec![
                    texts(FOREIGN_KEYS.iter().map(|k| k.0)),
                    texts(FOREIGN_KEYS.iter().map(|k| k.1)),
                    texts(FOREIGN_KEYS.iter().map(|k| k.2)),
                    Param::Texts(FOREIGN_KEYS.iter().map(|k| k.3.to_string()).collect()),
                    Param::Text("conversation_run_id_fkey".into()),
                    Param::Texts(FOREIGN_KEYS.iter().map(|k| definition_of(k.1)).collect()),
                ],
            },
        },
        Check {
            id: "structure.conversation_run_fk_validated",
            rule: "conversation_run_id_fkey is validated (NOT VALID only after a migration with --orphans keep).",
            severity: orphans_severity,
            needs: &[],
            hint: Some(if opts.orphans_kept {
                "Expected: the migration ran with --orphans keep, so conversation rows keep run_ids of deleted runs and the key cannot be validated."
            } else {
                "Conversation rows may name runs that do not exist (see conversation.run_id_resolves): set their run_id to NULL, \
                 then `ALTER TABLE conversation VALIDATE CONSTRAINT conversation_run_id_fkey`."
            }),
            query: counted(sql!("structure.conversation_run_fk_validated")),
        },
        Check {
            id: "structure.not_null",
            rule: "bot.bot_token and every account_id of the legacy tables except gen_settings' are NOT NULL.",
            severity: Severity::Critical,
            needs: &[],
            hint: Some(FINISH_SCHEMA),
            query: Query::Counted {
                sql: sql!("structure.not_null"),
                params: vec![texts(NOT_NULL.iter().map(|c| c.0)), texts(NOT_NULL.iter().map(|c| c.1))],
            },
        },
        Check {
            id: "structure.check_constraints",
            rule: "The role check of account_member and the token_type check of enrollment_token exist under upstream's names, with upstream's definitions, and are validated.",
            severity: Severity::Critical,
            needs: &[],
            hint: Some(UPSTREAM_NAMES),
            query: Query::Counted {
                sql: sql!("structure.check_constraints"),
                params: vec![
                    texts(CHECK_CONSTRAINTS.iter().map(|c| c.0)),
                    texts(CHECK_CONSTRAINTS.iter().map(|c| c.1)),
                    Param::Texts(CHECK_CONSTRAINTS.iter().map(|c| definition_of(c.1)).collect()),
                ],
            },
        },
        Check {
            id: "structure.secondary_indexes",
            rule: "Every secondary index of upstream's 0003 (and the three of the legacy schema it keeps) exists, is valid and has upstream's definition.",
            severity: Severity::Warning,
            needs: &[],
            hint: Some("run `profochat-saas migrate` again to finish the indexes; it does not build the legacy schema's own \
                        (idx_course_courseid_botname, idx_courseparticipants_2, idx_bannedparticipants_3): create those as the legacy schema did"),
            query: Query::SecondaryIndexes,
        },
        Check {
            id: "structure.unexpected_keys",
            rule: "The application's tables have no key or index that upstream's 0003 does not have.",
            severity: Severity::Warning,
            needs: &[],
            hint: Some("Names of an older profochat-saas are renamed by `profochat-saas migrate`; an index made by hand may stay, \
                        but upstream's later migrations do not know it (drop it if it duplicates one of upstream's). \
                        profochat_saas_run_chat is the online migration's temporary index: `profochat-saas finish` drops it, \
                        or DROP INDEX CONCURRENTLY profochat_saas_run_chat."),
            query: Query::UnexpectedKeys { except_chat_index: opts.switching },
        },
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
        // The tool's state.
        Check {
            id: "state.migration_completed",
            rule: "profochat_saas.migration records a completed migration.",
            severity: Severity::Critical,
            needs: &["profochat_saas.migration.migration_id", "profochat_saas.migration.status"],
            hint: Some("Run `profochat-saas migrate`: it finishes a partly migrated database and records it."),
            query: Query::Counted { sql: sql!("state.migration_completed"), params: vec![texts(MigrationStatus::names_where(MigrationStatus::migrated))] },
        },
        Check {
            id: "state.compat_triggers",
            rule: if opts.finished {
                "After `finish`, no legacy table has a profochat_saas_* compatibility trigger."
            } else {
                "Each legacy table has an enabled profochat_saas_* trigger, so the running legacy bot's writes get their new links."
            },
            severity: Severity::Critical,
            needs: &[],
            hint: Some(if opts.finished {
                "Run `profochat-saas finish` again: it removes what is left of the compatibility layer."
            } else {
                "Without them the legacy bot's inserts fail or miss their bot, deployment and run links: run `profochat-saas migrate` again to reinstall them."
            }),
            query: Query::Counted {
                sql: sql!("state.compat_triggers"),
                params: vec![texts(LEGACY_TABLES), Param::Text(COMPAT_TRIGGER_PREFIX.into()), Param::Bool(opts.finished)],
            },
        },
        Check {
            id: "state.legacy_interface",
            rule: if opts.finished {
                "After `finish`, the legacy interface (schema profochat_legacy) is gone."
            } else {
                "The legacy interface (schema profochat_legacy) shows each of the 8 legacy tables, with its write trigger, until `finish`."
            },
            severity: Severity::Critical,
            needs: &["profochat_saas.migration.migration_id"],
            hint: Some(if opts.finished {
                "Run `profochat-saas finish` again: it removes what is left of the legacy interface."
            } else {
                "A legacy bot connected to it fails or reads wrong answers: run `profochat-saas migrate` again to reinstall it."
            }),
            query: Query::Counted { sql: sql!("state.legacy_interface"), params: vec![Param::Bool(opts.finished)] },
        },
        Check {
            id: "state.online_leftovers",
            rule: "A completed online migration left nothing running: no change-log trigger or table, temporary index, backfill analysis or progress record.",
            severity: Severity::Critical,
            needs: &[],
            hint: Some("Its cleanup (the step after the switch) was interrupted: every write still goes through the change log. \
                   Run `profochat-saas migrate`: it finishes the cleanup (short locks; the legacy bot keeps working)."),
            query: Query::OnlineLeftovers { switching: opts.switching },
        },
        Check {
            id: "bot.created_by_legacy_writes",
            rule: "No bot was created by a legacy write under a new bot name (a new bot really started).",
            severity: Severity::Warning,
            needs: &["bot.settings", "bot.bot_id", "bot.bot_name", "bot.account_id", "bot.created_at"],
            hint: Some("Check that the bot is real, then give it its token: profochat-saas bot set-token --bot NAME."),
            query: counted(sql!("bot.created_by_legacy_writes")),
        },
        Check {
            id: "state.upstream_ledger",
            rule: "Upstream's migration ledger schema_migrations records 0001 and 0003, so that upstream's later migrations apply and its first ones are not run again.",
            severity: Severity::Critical,
            needs: &[],
            hint: Some("Run `profochat-saas migrate`: it creates schema_migrations if missing and records them."),
            query: Query::UpstreamLedger,
        },
        Check {
            id: "state.enrol_function",
            rule: "The enrolment function profochat_saas.enrol(payload, chat_id, username, bot) exists.",
            severity: Severity::Critical,
            needs: &[],
            hint: Some("Applications enrol chats through it: run `profochat-saas migrate` to install it."),
            query: Query::EnrolFunction,
        },
        Check {
            id: "security.tenant_isolation",
            rule: "Every table with account_id has row-level security on, with the account policy of each role `tenant isolate` isolated.",
            severity: Severity::Critical,
            needs: &[],
            hint: Some("Run `profochat-saas tenant isolate --role ROLE` again: it adds what is missing (a table added since included)."),
            query: Query::TenantIsolation,
        },
        Check {
            id: "state.archive_exists",
            rule: "The archive profochat_saas.archive exists.",
            severity: Severity::Critical,
            needs: &[],
            hint: Some("The archive holds every legacy row and value the migration could not keep; without it nothing can be inspected or restored. Restore it from a backup."),
            query: counted(sql!("state.archive_exists")),
        },
    ]
}

impl Check {
    pub(super) async fn run<C: GenericClient + Sync>(&self, client: &C, catalog: &Catalog) -> Result<CheckResult> {
        let missing = catalog.missing(self.needs);
        if !missing.is_empty() {
            return Ok(self.not_checked(&missing));
        }
        let (count, examples) = match &self.query {
            Query::Counted { sql, params } => {
                let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(Param::as_sql).collect();
                let row = client.query_one(*sql, &params).await.map_err(|e| self.error(&e))?;
                let examples: Vec<Option<String>> = row.get(1);
                (row.get::<_, i64>(0), examples.into_iter().flatten().collect())
            }
            Query::UniqueKeys => {
                let keys: Vec<target::KeyDef> =
                    target::keys().into_iter().filter(|k| UNIQUE_KEYS.iter().any(|u| u.1 == k.name)).collect();
                examples_of(catalog::unique_key_problems(&catalog::read(client).await?, &keys))
            }
            Query::SecondaryIndexes => {
                let defs: Vec<target::IndexDef> = target::secondary_indexes().into_iter().chain(target::legacy_indexes()).collect();
                examples_of(catalog::IndexProblems::sentences(&catalog::read(client).await?, &defs))
            }
            Query::UnexpectedKeys { except_chat_index } => {
                let mut entries = catalog::read(client).await?;
                if *except_chat_index {
                    entries.retain(|e| e.name != crate::state::CHAT_INDEX);
                }
                examples_of(catalog::unexpected(&entries))
            }
            Query::OnlineLeftovers { switching: true } => (0, vec![]),
            Query::OnlineLeftovers { switching: false } => examples_of(crate::schema::leftovers::leftovers(client).await?),
            Query::UpstreamLedger => examples_of(catalog::upstream(client).await?.ledger_problems()),
            Query::EnrolFunction => examples_of(catalog::upstream(client).await?.enrol_problems()),
            Query::TenantIsolation => examples_of(crate::tenant::problems(client).await?),
            Query::PlaceholderTokens => {
                self.bots_whose_token(client, |t| t.is_some_and(target::is_placeholder_token))
                    .await?
            }
            Query::MalformedTokens => {
                self.bots_whose_token(client, |t| {
                    !t.is_some_and(|t| target::is_placeholder_token(t) || target::is_telegram_token(t))
                })
                .await?
            }
        };
        Ok(self.result(count, examples))
    }

    /// Bots whose token matches, by name only: tokens never leave this function.
    async fn bots_whose_token<C: GenericClient + Sync>(
        &self,
        client: &C,
        matches: impl Fn(Option<&str>) -> bool,
    ) -> Result<(i64, Vec<String>)> {
        let rows = client
            .query(sql!("bot.tokens"), &[])
            .await
            .map_err(|e| self.error(&e))?;
        let names: Vec<String> = rows
            .iter()
            .filter(|r| matches(r.get::<_, Option<&str>>(2)))
            .map(|r| format!("{} (account {})", crate::sql::literal(r.get(1)), r.get::<_, i32>(0)))
            .collect();
        Ok((names.len() as i64, names.into_iter().take(10).collect()))
    }

    fn result(&self, count: i64, examples: Vec<String>) -> CheckResult {
        let passed = self.severity == Severity::Info || count == 0;
        CheckResult {
            id: self.id.into(),
            rule: self.rule.into(),
            severity: self.severity,
            passed,
            count,
            examples,
            hint: if passed { None } else { self.hint.map(str::to_string) },
        }
    }

    fn not_checked(&self, missing: &[&str]) -> CheckResult {
        CheckResult {
            id: self.id.into(),
            rule: self.rule.into(),
            severity: self.severity,
            passed: self.severity == Severity::Info,
            count: 0,
            examples: vec![format!("not checked: {} missing", missing.join(", "))],
            hint: Some(FINISH_SCHEMA.into()),
        }
    }

    fn error(&self, e: &tokio_postgres::Error) -> Error {
        Error::query(format!("validation check {}", self.id), e, "Nothing was changed.")
    }
}

/// A count and the first ten of a list of problems.
fn examples_of(problems: Vec<String>) -> (i64, Vec<String>) {
    (problems.len() as i64, problems.into_iter().take(10).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_stable_in_form() {
        let checks = all(&ValidateOptions::default());
        let mut ids: Vec<&str> = checks.iter().map(|c| c.id).collect();
        for id in &ids {
            let (family, name) = id.split_once('.').expect("family.name");
            assert!(!family.is_empty() && !name.is_empty(), "{id}");
            assert!(
                id.bytes().all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'.'),
                "{id}"
            );
        }
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), checks.len());
    }

    #[test]
    fn orphans_kept_turns_orphan_checks_into_warnings() {
        let sev = |opts: &ValidateOptions, id: &str| all(opts).into_iter().find(|c| c.id == id).unwrap().severity;
        let kept = ValidateOptions { orphans_kept: true, ..Default::default() };
        let detached = ValidateOptions::default();
        for id in [
            "conversation.run_id_resolves",
            "structure.conversation_run_fk_validated",
        ] {
            assert_eq!(sev(&kept, id), Severity::Warning, "{id}");
            assert_eq!(sev(&detached, id), Severity::Critical, "{id}");
        }
    }
}
