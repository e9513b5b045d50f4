//! A database that an older profochat-saas migrated (its keys and indexes under older
//! names, course's primary key (course_id, account_id), no ledger, no enrolment
//! function) is brought to the current target: the data stays as it is. Everything
//! but the secondary index builds happens in one transaction, so an interruption
//! leaves the database as it was; the indexes are built after the commit, as after a
//! migration.

use std::time::Instant;

use super::{indexes, upstream, IndexReport, MigrateOptions, MigrationReport, Outcome, PhaseReport};
use crate::conn::Db;
use crate::error::{pg_error_text, Error, Result};
use crate::report::Reporter;
use crate::schema::{self, SchemaStatus};
use crate::target;
use crate::validate;

const STEP: &str = "upgrade to upstream's names and keys";

fn failed(cause: String) -> Error {
    Error::PhaseFailed {
        phase: STEP.into(),
        cause,
        hint: "Run `profochat-saas status` to see what differs, fix the cause, and run `profochat-saas migrate` again.".into(),
    }
}

/// Brings a database in [`schema::SchemaState::Outdated`] to the current target.
pub async fn upgrade(db: &mut Db, status: &SchemaStatus, opts: &MigrateOptions, reporter: &dyn Reporter) -> Result<MigrationReport> {
    let started = Instant::now();
    let target_name = db.settings.display_target();
    let migration_id = status.last_migration.as_ref().map(|m| m.migration_id);
    let orphans_kept = validate::ValidateOptions::from_state(&db.client).await?.orphans_kept;
    let fail = |e: tokio_postgres::Error| failed(pg_error_text(&e));

    let tx = db.client.transaction().await.map_err(fail)?;
    reporter.started(STEP, None);
    let t = Instant::now();
    // The keys are replaced under locks on the tables; the bot waits for them at most
    // this long, then the upgrade gives up and changes nothing.
    tx.batch_execute(&crate::conn::short_lock::one_wait_prologue()).await.map_err(fail)?;
    let entries = schema::catalog::read(&tx).await?;
    let keys_before = schema::catalog::key_problems(&entries).len() as i64;
    tx.batch_execute(&[target::sql::HELPERS, target::sql::CONSTRAINTS].join("\n"))
        .await
        .map_err(|e| {
            if e.code().is_some_and(|c| c.code() == "55P03") {
                Error::refused(
                    format!("could not lock the tables within 15 s to rename their keys: {}", pg_error_text(&e)),
                    "Another session (the running bot, a long query) holds them. Wait, or stop the bot for a moment, then run `profochat-saas migrate` again.",
                )
            } else {
                fail(e)
            }
        })?;
    let run_fk: i64 = tx
        .query_one(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = 'conversation'::regclass AND conname = 'conversation_run_id_fkey'",
            &[],
        )
        .await
        .map_err(fail)?
        .get(0);
    if run_fk == 0 {
        let not_valid = if orphans_kept { " NOT VALID" } else { "" };
        tx.batch_execute(&format!("{}{not_valid}", target::sql::CONVERSATION_RUN_FK.trim_end().trim_end_matches(';')))
            .await
            .map_err(fail)?;
    }
    if opts.single_transaction {
        for idx in target::secondary_indexes() {
            tx.execute("SELECT pg_temp.ensure_index($1, $2)", &[&idx.name, &idx.shape()]).await.map_err(fail)?;
        }
    }
    let installed = upstream::install(&tx, started.elapsed().as_millis() as i32, STEP).await?;
    // The legacy interface and today's compatibility layer, which that version did not have.
    super::steps::finalize::install_legacy_interface(&tx, true).await.map_err(fail)?;
    let entries = schema::catalog::read(&tx).await?;
    let left = schema::catalog::key_problems(&entries);
    if !left.is_empty() {
        return Err(failed(format!("keys still differ from upstream's after the upgrade: {}", left.join("; "))));
    }
    let validation = validate::validate(&tx, &validate::ValidateOptions { orphans_kept, keys_just_validated: false, finished: false, switching: false }).await?;
    if validation.critical_failures() > 0 {
        let failed_checks: Vec<String> = validation
            .checks
            .iter()
            .filter(|c| !c.passed && c.severity == validate::Severity::Critical)
            .map(|c| format!("{} ({})", c.id, c.count))
            .collect();
        return Err(failed(format!("validation found critical problems: {}", failed_checks.join(", "))));
    }
    if let Some(id) = migration_id {
        tx.execute(
            "UPDATE profochat_saas.migration
                SET schema_version = $2,
                    summary = coalesce(summary, '{}'::jsonb)
                              || jsonb_build_object('upgrades', coalesce(summary -> 'upgrades', '[]'::jsonb)
                                 || jsonb_build_array(jsonb_build_object('to_schema_version', $2::int4, 'by', $3::text,
                                                                         'at', clock_timestamp(), 'fixed', to_jsonb($4::text[]))))
              WHERE migration_id = $1",
            &[&id, &target::SCHEMA_VERSION, &target::applied_by(), &status.upgrade_needed],
        )
        .await
        .map_err(fail)?;
    }
    let mut counts = super::steps::Counts::new();
    counts.insert("keys_replaced_or_renamed".into(), keys_before);
    counts.insert("ledger_rows".into(), installed.ledger_rows as i64);
    let phase = PhaseReport {
        number: 4,
        name: "upstream names",
        elapsed_ms: t.elapsed().as_millis() as u64,
        counts,
    };
    let outcome = if opts.dry_run {
        tx.rollback().await.map_err(fail)?;
        Outcome::DryRun
    } else {
        tx.commit().await.map_err(|e| failed(format!("the commit failed: {}", pg_error_text(&e))))?;
        Outcome::Upgraded
    };
    reporter.finished(STEP, t.elapsed(), &format!("{} differences fixed", status.upgrade_needed.len()));

    let mut index_report = IndexReport::default();
    if outcome == Outcome::Upgraded && !opts.single_transaction {
        index_report = indexes::build_missing(&db.settings, opts.index_jobs, reporter).await?;
    }
    let mut report = MigrationReport::unchanged(target_name, outcome);
    report.migration_id = migration_id;
    report.phases = vec![phase];
    report.indexes = index_report;
    report.upgraded = status.upgrade_needed.clone();
    report.validation = Some(validation);
    report.bots_waiting_for_token = super::bots_waiting_for_token(&db.client).await?;
    report.total_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}
