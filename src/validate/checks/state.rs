//! The checks of the tool's own state: the migration's record, the legacy interface,
//! the tenant isolation, the archive.

use super::{counted, texts, Check, Param, Query};
use crate::sql::LEGACY_TABLES;
use crate::state::MigrationStatus;
use crate::target::COMPAT_TRIGGER_PREFIX;
use crate::validate::{Severity, ValidateOptions};

/// The tool's state's checks, in report order.
pub(super) fn checks(opts: &ValidateOptions) -> Vec<Check> {
    vec![
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
