//! The checks of the schema: tables, columns, keys, constraints and indexes as upstream
//! defines them.

use super::{counted, orphans_severity, texts, Check, Param, Query, FINISH_SCHEMA};
use crate::target::{self, CHECK_CONSTRAINTS, FOREIGN_KEYS, NEW_TABLES, NOT_NULL};
use crate::validate::{Severity, ValidateOptions};

const UPSTREAM_NAMES: &str = "Upstream's later migrations refer to keys by name and shape: `profochat-saas migrate` renames the keys \
    of older profochat-saas versions, replaces those of another shape and adds missing ones (`profochat-saas status` shows the state).";

/// Upstream's definition of a key of the target schema, by name.
fn definition_of(name: &str) -> String {
    target::keys().into_iter().find(|k| k.name == name).map(|k| k.definition).unwrap_or_default()
}

/// The schema's checks, in report order.
pub(super) fn checks(opts: &ValidateOptions) -> Vec<Check> {
    // Columns of the new tables whose table is missing are left to structure.tables.
    let added: Vec<(&str, &str)> = target::NEW_TABLE_COLUMNS
        .iter()
        .chain(target::ADDED_COLUMNS)
        .flat_map(|(t, cols)| cols.iter().map(move |c| (*t, *c)))
        .collect();
    let orphans_severity = orphans_severity(opts);
    vec![
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
    ]
}
