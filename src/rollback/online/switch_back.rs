//! The online way back's last transaction: one short switch back.

use super::*;

/// Step 5: the last transaction. Its locks are taken in short attempts; what it does
/// does not grow with the big tables: what the change log holds that step 3 could not
/// see, the course tables, the schema.
/// `prove`: the course tables' proof (an abort: the change log holds every row the
/// application wrote since the before-image).
pub(super) async fn switch_back(
    db: &mut Db,
    p: &mut UndoProgress,
    before: Option<&Before>,
    prove: bool,
    opts: &RollbackOptions,
    reporter: &dyn Reporter,
) -> Result<RollbackReport> {
    let logged = change_log_exists(&db.client).await?;
    let migration_id = p.migration_id;
    let tx = db.client.transaction().await.map_err(q("starting the switch back"))?;
    tx.batch_execute(&Prologue { allow_ddl: true, backfill: true, attempt: false }.sql()).await.map_err(q("starting the switch back"))?;
    let mut all = LEGACY_TABLES.iter().map(|t| ident(t)).collect::<Vec<_>>();
    all.extend(target::NEW_TABLES.iter().map(|t| ident(t)));
    crate::rollback::lock_in_short_attempts(&tx, &all).await?;
    // It ran online because the legacy schema lost nothing as it began: what the
    // application wrote since that the legacy schema cannot hold stays, and nothing
    // switches back over it.
    let now = crate::rollback::losses(&tx).await?;
    if !now.is_empty() {
        return Err(Error::refused(
            format!(
                "the application wrote what the legacy schema cannot hold during the way back ({})",
                now.iter().map(|l| format!("{} {}", l.count, l.what)).collect::<Vec<_>>().join(", ")
            ),
            "Nothing was switched back and those rows are kept; the legacy bot works as before. Stop the application's writes, then run the same command again: it saves them to a file first and finishes in one transaction.",
        ));
    }
    // The application's rows the pass could not see (committed after its snapshot).
    if logged {
        let from: Option<i64> = tx
            .query_one(UNDO_APP_ROWS_FROM, &[&p.log_snapshot.clone().unwrap_or_else(|| "1:1:".into())])
            .await
            .map_err(q("reading the change log"))?
            .get(0);
        let from = from.into_iter().chain(p.end_key).min();
        if let Some(from) = from {
            for s in split_statements(UNDO_APP_ROWS) {
                tx.execute(s.as_str(), &[&from, &i64::MAX]).await.map_err(q("giving the application's last rows their legacy values"))?;
            }
        }
    }
    let fingerprint_before = before.map(|b| b.fingerprints.clone());
    let bot_tokens_dropped: Vec<String> = tx
        .query("SELECT bot_name FROM bot WHERE NOT starts_with(bot_token, $1) ORDER BY bot_name", &[&target::PLACEHOLDER_TOKEN_PREFIX])
        .await
        .map_err(q("listing bot tokens"))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let legacy_roles_reset = crate::legacy::reset_roles(&tx).await?;
    crate::tenant::remove_all(&tx).await?;
    let mut tables = p.done.tables.clone();
    for (t, r) in crate::rollback::restore(&tx, migration_id, &COURSE_TABLES, UNDO_COURSES).await? {
        let e = tables.entry(t).or_default();
        e.values_restored += r.values_restored;
        e.rows_restored += r.rows_restored;
        e.rows_removed += r.rows_removed;
    }
    let mut proof = p.done.proof.clone();
    if let (Some(b), true) = (before, prove) {
        let courses = changes::prove_back(&tx, &COURSE_TABLES, b).await?;
        let bad = changes::unequal(&courses);
        if !bad.is_empty() {
            return Err(stopped(format!(
                "the no-loss proof of the way back failed for {}: their rows differ from before the migration beyond the rows written meanwhile",
                bad.join(", ")
            )));
        }
        proof.extend(courses);
        proof.sort_by_key(|t| LEGACY_TABLES.iter().position(|l| *l == t.table));
    }
    tx.batch_execute(crate::rollback::DROP_SCHEMA).await.map_err(q("dropping the SaaS tables and columns"))?;
    crash_point(opts, &format!("inside:{}", UndoStep::SwitchBack.name()));
    tx.commit().await.map_err(q("committing the switch back"))?;
    reporter.committed(if p.done.rollback { "rolled back: the legacy database is back" } else { "the online migration is aborted: the legacy database is back" });
    Ok(RollbackReport {
        target: String::new(),
        migration_id,
        dry_run: false,
        losses: vec![],
        saved_to: None,
        tables,
        fingerprint: Default::default(),
        fingerprint_before_migration: fingerprint_before,
        changed_since_migration: vec![],
        bot_tokens_dropped,
        legacy_roles_reset,
        proof,
        online: true,
        elapsed_ms: 0,
    })
}
