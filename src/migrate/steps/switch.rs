//! The switch: the no-loss proof and validation read while the bot writes (a failure
//! stops here, before anything visible changes); then one short transaction records
//! upstream's ledger and the migration as completed, and the cleanup follows.

use std::time::Instant;

use super::{progress, q, stopped, Online, Step};
use crate::conn::short_lock::Prologue;
use crate::conn::snapshot::{snapshot, Access};
use crate::error::{pg_error_text, Result};
use super::Counts;
use crate::migrate::{changes, upstream, Orphans, TableProof};
use crate::state::OnlineStep;
use crate::{fingerprint, target, validate};

const RECORD_STATUS: &str = include_str!("../../../sql/migrate/run/record_status.sql");

/// The checks that run again inside the switch transaction: those it makes hold (the
/// migration recorded as completed, upstream's ledger and enrolment function) and those
/// that read only the catalog (structure, triggers, interface), so that a schema change
/// between the validation and the switch cannot slip through. Milliseconds, whatever
/// the size of the data; the checks that read rows run only before it.
fn at_switch(id: &str) -> bool {
    id.starts_with("structure.") || id.starts_with("state.")
}

pub struct Switch;

impl Step for Switch {
    fn id(&self) -> OnlineStep {
        OnlineStep::Switch
    }

    fn describe(&self) -> &'static str {
        "no-loss proof and validation (reads only), then the switch: the migration recorded as completed"
    }

    fn undo(&self) -> &'static str {
        "nothing of its own: the switch commits in one short transaction"
    }

    fn affects(&self) -> &'static str {
        "not at all: the proof and validation read; the switch transaction's work does not grow with the data"
    }

    async fn apply(&self, run: &mut Online<'_>) -> Result<Counts> {
        let (_, _, v) = self::run(run).await?;
        Ok(Counts::from([("checks".to_string(), v.checks.len() as i64)]))
    }
}

/// The switch, its proof, validation and cleanup reported as they happen: the no-loss
/// proof per table, its milliseconds, and the validation.
pub(crate) async fn run(run: &mut Online<'_>) -> Result<(Vec<TableProof>, u64, validate::ValidationReport)> {
    {
        let (proof, proof_ms, before_snapshot, now) = prove(run).await?;
        let validation = validate_and_switch(run, &proof, before_snapshot, now).await?;
        run.crash_point("after:switch");
        run.reporter.started("online: cleanup", None);
        let t = Instant::now();
        match super::cleanup::cleanup(run.db).await {
            Ok(removed) => {
                run.reporter.finished("online: cleanup", t.elapsed(), &removed.join(", "));
                run.crash_point("after:cleanup");
            }
            Err(e) => run.reporter.warn(&format!(
                "the migration is completed, but its cleanup stopped ({e}); the legacy bot keeps working. \
                 `profochat-saas migrate` finishes it (`profochat-saas status` names it)"
            )),
        }
        run.reporter.committed("the migration is completed");
        Ok((proof, proof_ms, validation))
    }
}

/// The online no-loss proof, in one snapshot: the proof per table, its milliseconds, the
/// snapshot of the before-image, and the legacy tables' fingerprints in the proof's
/// snapshot (the fingerprint after).
async fn prove(run: &mut Online<'_>) -> Result<(Vec<TableProof>, u64, String, fingerprint::Fingerprints)> {
    let (db, reporter, step) = (&mut *run.db, run.reporter, OnlineStep::Switch);
    reporter.started("no-loss proof", None);
    let t = Instant::now();
    let row = db
        .query_one("SELECT fingerprint_before, summary ->> 'before_snapshot' FROM profochat_saas.migration WHERE migration_id = $1", &[&run.state.migration_id])
        .await
        .map_err(q("reading the fingerprint before"))?;
    let before = changes::Before {
        fingerprints: row.get::<_, Option<serde_json::Value>>(0).and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default(),
        snapshot: row.get::<_, Option<String>>(1).unwrap_or_default(),
    };
    let (proof, now) = changes::prove_in_snapshot_and_fingerprint(&mut db.client, run.state.migration_id, &before).await?;
    let bad = changes::unequal(&proof);
    if !bad.is_empty() {
        return Err(stopped(
            step,
            format!(
                "the no-loss proof failed for {}: their rows differ from before the migration beyond the archived changes and the rows written meanwhile",
                bad.join(", ")
            ),
        ));
    }
    let proof_ms = t.elapsed().as_millis() as u64;
    let archived: i64 = proof.iter().map(|p| p.archived_deleted + p.archived_updated + p.archived_inserted).sum();
    let meanwhile: i64 = proof.iter().flat_map(|p| p.written_meanwhile.unwrap_or_default()).sum();
    reporter.finished(
        "no-loss proof",
        t.elapsed(),
        &format!("8 tables equal to before, {archived} archived changes, {meanwhile} rows written meanwhile left out"),
    );
    Ok((proof, proof_ms, before.snapshot, now))
}

/// Validation reads every row: before the switch, in one snapshot, so that the switch
/// transaction's work does not grow with the data. Rows written since go through the
/// compatibility triggers and the keys (linked as the backfill links them); what only
/// the catalog says is checked again inside the switch (`at_switch`).
///
/// `now`, the fingerprint after, is the proof's (taken in its snapshot): reading every
/// legacy table once more for it would only move it a moment later.
async fn validate_and_switch(run: &mut Online<'_>, proof: &[TableProof], before_snapshot: String, now: fingerprint::Fingerprints) -> Result<validate::ValidationReport> {
    let (db, reporter, opts, step) = (&mut *run.db, run.reporter, run.opts, OnlineStep::Switch);
    reporter.started("validation", None);
    let t = Instant::now();
    let vopts = validate::ValidateOptions { orphans_kept: opts.orphans == Orphans::Keep, keys_just_validated: false, finished: false, switching: true };
    let tx = snapshot(&mut db.client, Access::ReadOnly).await.map_err(q("starting the validation"))?;
    let before_switch = validate::validate(&tx, &vopts).await?;
    tx.commit().await.map_err(q("ending the validation"))?;
    let mut pending = before_switch.clone();
    pending.checks.retain(|c| !at_switch(&c.id));
    if pending.critical_failures() > 0 {
        return Err(stopped(step, format!("validation found critical problems: {}", pending.critical_list())));
    }
    reporter.finished("validation", t.elapsed(), &format!("{} checks, no critical problem", before_switch.checks.len()));

    reporter.started("online: switch", None);
    let t = Instant::now();
    let tx = db.client.transaction().await.map_err(q("starting the switch"))?;
    tx.batch_execute(&Prologue { allow_ddl: true, ..Default::default() }.sql()).await.map_err(q("starting the switch"))?;
    tx.batch_execute(target::sql::HELPERS).await.map_err(q("starting the switch"))?;
    tx.execute(RECORD_STATUS, &[&run.state.migration_id, &crate::state::MigrationStatus::Completed.as_str()]).await.map_err(q("recording the migration"))?;
    upstream::install(&tx, run.started.elapsed().as_millis() as i32, "the switch").await?;
    let in_switch = validate::validate_only(&tx, &vopts, &at_switch).await?;
    if in_switch.critical_failures() > 0 {
        return Err(stopped(step, format!("validation found critical problems: {}", in_switch.critical_list())));
    }
    let validation = before_switch.with(in_switch);
    tx.batch_execute(super::cleanup::DROP).await.map_err(q("dropping the backfill's analysis"))?;
    tx.execute(
        "UPDATE profochat_saas.migration SET finished_at = now(), fingerprint_after = $2, summary = $3 WHERE migration_id = $1",
        &[
            &run.state.migration_id,
            &serde_json::to_value(&now).unwrap_or_default(),
            &serde_json::json!({ "proof": proof, "online": true, "before_snapshot": before_snapshot }),
        ],
    )
    .await
    .map_err(q("recording the migration"))?;
    // The cleanup is recorded as the step under way: a kill before it is done leaves
    // it for `status` to name and the next `migrate` to finish.
    run.state.done = Some(step);
    run.state.current = Some(OnlineStep::Cleanup);
    progress::record(&tx, &run.state).await?;
    tx.commit().await.map_err(|e| stopped(step, pg_error_text(&e)))?;
    reporter.finished("online: switch", t.elapsed(), &format!("{} checks, no critical problem; the migration is completed", validation.checks.len()));
    Ok(validation)
}
