//! The online way back's passes: the keys in one short transaction, then the archive,
//! the change log and (for `rollback`) every row's links, each in key batches of about
//! 100 ms, every batch its own short transaction that records where the pass stands.

use super::*;

/// Step 1: one short transaction of schema changes, its locks in short attempts.
pub(super) async fn undo_keys(client: &Client, opts: &RollbackOptions, reporter: &dyn Reporter) -> Result<()> {
    let warn = |n: u32| {
        if n == 1 {
            reporter.warn("dropping the keys: the tables are in use (the running bot, a long query): retrying in short attempts")
        }
    };
    short_lock::own_transaction(client, Prologue::DDL, UNDO_KEYS, opts.lock_wait.unwrap_or(short_lock::DEFAULT_BOUND), warn)
        .await
        .map(|_| ())
        .map_err(|f| stopped(format!("dropping the keys: {}", f.cause())))
}

/// The archive entries the backfills made ([lo, hi) of archive_id), for step 2.
pub(super) async fn archive_range(client: &Client, migration_id: i32) -> Result<(i64, i64)> {
    let tables: Vec<&str> = BATCHED_TABLES.to_vec();
    let r = client
        .query_one(
            "SELECT coalesce(min(archive_id), 0), coalesce(max(archive_id), -1) + 1 FROM profochat_saas.archive WHERE migration_id = $1 AND table_name = ANY ($2)",
            &[&migration_id, &tables],
        )
        .await
        .map_err(stopped_q("reading the archive"))?;
    Ok((r.get(0), r.get(1)))
}

/// The archive template (undo_archive.sql) filled in for `table`.
pub fn archive_sql(table: &str) -> String {
    let cols = legacy_columns(table);
    UNDO_ARCHIVE
        .replace("{{table}}", &ident(table))
        .replace("{{name}}", &literal(table))
        .replace("{{list}}", &cols.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", "))
        .replace("{{picks}}", &cols.iter().map(|c| format!("p.{}", ident(c))).collect::<Vec<_>>().join(", "))
        .replace("{{names}}", &cols.iter().map(|c| literal(c)).collect::<Vec<_>>().join(", "))
        .replace("{{km}}", &crate::rollback::key_match(table))
}

/// One short transaction of `statements` (each taking the parameters it names of
/// `params`), with its progress; a lock not granted within one attempt is tried again
/// (smaller) by the caller. Returns the rows each statement changed.
pub(super) async fn batch(
    client: &mut Client,
    statements: &[String],
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    next: &UndoProgress,
    opts: &RollbackOptions,
    crash_at: &str,
) -> std::result::Result<Vec<u64>, tokio_postgres::Error> {
    let tx = client.transaction().await?;
    tx.batch_execute(&format!("{}{BATCH_PLAN}", Prologue::BATCH.sql())).await?;
    let mut counts = vec![];
    for s in statements {
        let n = (1..=params.len()).rev().find(|i| s.contains(&format!("${i}"))).unwrap_or(0);
        counts.push(tx.execute(s.as_str(), &params[..n]).await?);
    }
    let counts_json = serde_json::to_value(&next.done).unwrap_or_default();
    tx.execute(
        UNDO_PROGRESS_WRITE,
        &[
            &next.migration_id,
            &next.step.map(UndoStep::name).unwrap_or("unknown"),
            &next.next_key,
            &next.end_key,
            &next.log_snapshot,
            &next.batches,
            &next.rows,
            &counts_json,
        ],
    )
    .await?;
    crash_point(opts, crash_at);
    tx.commit().await?;
    Ok(counts)
}

/// The next batch's size from this one's time (as the backfill's).
pub(super) fn next_size(size: i64, took: Duration) -> i64 {
    let ms = took.as_millis().max(1) as i64;
    (size * BATCH_TARGET.as_millis() as i64 / ms).clamp(BATCH_MIN, BATCH_MAX).min(size * 4)
}

/// The plan settings of every batch of the way back (see the heads of
/// sql/rollback/undo_archive.sql, undo_app_rows.sql and undo_links.sql): each entry or
/// key of the batch finds its rows by primary key, never a hash of a whole table.
pub const BATCH_PLAN: &str = "; SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off";

/// Step 2: the archive downwards, [end_key, next_key) left, in batches.
pub(super) async fn undo_archive(client: &mut Client, p: &mut UndoProgress, opts: &RollbackOptions, reporter: &dyn Reporter) -> Result<()> {
    let mut statements = vec![];
    let mut what = vec![];
    for t in BATCHED_TABLES {
        for (i, s) in split_statements(&archive_sql(t)).into_iter().enumerate() {
            statements.push(s);
            what.push((t, i));
        }
    }
    let bound = opts.lock_wait.unwrap_or(short_lock::DEFAULT_BOUND);
    let mut size = BATCH_FIRST;
    let mut retries: Option<Attempts> = None;
    let mut n = 0u64;
    let migration_id = p.migration_id;
    while let (Some(hi), Some(end)) = (p.next_key, p.end_key) {
        if hi <= end {
            break;
        }
        let lo = (hi - size).max(end);
        let mut next = p.clone();
        next.next_key = Some(lo);
        next.batches += 1;
        next.rows += hi - lo;
        let t0 = Instant::now();
        let here = format!("inside:{}:{}", UndoStep::Archive.name(), n + 1);
        match batch(client, &statements, &[&migration_id, &lo, &hi], &next, opts, &here).await {
            Ok(counts) => {
                n += 1;
                for ((t, i), c) in what.iter().zip(counts) {
                    let e = next.done.tables.entry(t.to_string()).or_default();
                    match i {
                        0 => e.values_restored += c,
                        1 => e.rows_restored += c,
                        _ => e.rows_removed += c,
                    }
                }
                // The counts are recorded with the next batch (or the step's end).
                *p = next;
                retries = None;
                reporter.progress(p.batches as u64);
                size = next_size(size, t0.elapsed());
            }
            Err(e) => {
                if retries.get_or_insert_with(|| Attempts::new(bound)).again(&e).await {
                    size = (size / 2).max(BATCH_MIN);
                    continue;
                }
                return Err(stopped(format!("the batch of archive entries {lo}..{hi}: {}", pg_error_text(&e))));
            }
        }
    }
    Ok(())
}

/// Step 3: the change log upwards, [next_key, end_key) left, in batches.
pub(super) async fn undo_app_rows(client: &mut Client, p: &mut UndoProgress, opts: &RollbackOptions, reporter: &dyn Reporter) -> Result<()> {
    let statements = split_statements(UNDO_APP_ROWS);
    key_batches(client, p, &statements, BATCH_FIRST, opts, reporter, &|n| format!("inside:{}:{n}", UndoStep::AppRows.name()), &|lo, hi| {
        format!("the batch of change-log entries {lo}..{hi}")
    })
    .await?;
    Ok(())
}

/// Runs `statements` on the keys [next_key, end_key) of `p` in batches of about 100 ms
/// (starting at `first` keys), each its own short transaction that records the next
/// key; a batch that fails for a lock or a conflict is retried smaller within the
/// short-lock bound. `here(n)`: the crash point inside the n-th batch; `what(lo, hi)`:
/// the batch, for an error. Returns the batches run.
#[allow(clippy::too_many_arguments)]
pub(super) async fn key_batches(
    client: &mut Client,
    p: &mut UndoProgress,
    statements: &[String],
    first: i64,
    opts: &RollbackOptions,
    reporter: &dyn Reporter,
    here: &(dyn Fn(u64) -> String + Sync),
    what: &(dyn Fn(i64, i64) -> String + Sync),
) -> Result<u64> {
    let bound = opts.lock_wait.unwrap_or(short_lock::DEFAULT_BOUND);
    let mut size = first;
    let mut retries: Option<Attempts> = None;
    let mut n = 0u64;
    while let (Some(lo), Some(end)) = (p.next_key, p.end_key) {
        if lo >= end {
            break;
        }
        let hi = (lo + size).min(end);
        let mut next = p.clone();
        next.next_key = Some(hi);
        next.batches += 1;
        next.rows += hi - lo;
        let t0 = Instant::now();
        match batch(client, statements, &[&lo, &hi], &next, opts, &here(n + 1)).await {
            Ok(_) => {
                n += 1;
                *p = next;
                retries = None;
                reporter.progress(p.batches as u64);
                size = next_size(size, t0.elapsed());
            }
            Err(e) => {
                if retries.get_or_insert_with(|| Attempts::new(bound)).again(&e).await {
                    size = (size / 2).max(BATCH_MIN);
                    continue;
                }
                return Err(stopped(format!("{}: {}", what(lo, hi), pg_error_text(&e))));
            }
        }
    }
    Ok(n)
}

/// The statements of undo_links.sql that change `table`.
pub fn links_sql(table: &str) -> Vec<String> {
    split_statements(UNDO_LINKS)
        .into_iter()
        .filter(|s| {
            let code = crate::migrate::work::code_only(s, false);
            let code = code.trim_start();
            code.starts_with(&format!("UPDATE {table} ")) || code.starts_with(&format!("DELETE FROM {table} "))
        })
        .collect()
}

/// `rollback` only: each of the six big tables in primary-key batches, ascending, up to
/// the key captured when its pass began (rows written later are in the change log).
/// Returns the batches.
pub(super) async fn undo_links(client: &mut Client, p: &mut UndoProgress, opts: &RollbackOptions, reporter: &dyn Reporter) -> Result<i64> {
    let mut total = 0;
    while let Some(table) = BATCHED_TABLES.get(p.done.links_table).copied() {
        let key = crate::sql::legacy_key(table)[0];
        if p.next_key.is_none() {
            let r = client
                .query_one(&format!("SELECT coalesce(min({k})::int8, 0), coalesce(max({k})::int8, -1) + 1 FROM {}", ident(table), k = ident(key)), &[])
                .await
                .map_err(stopped_q("reading a key range"))?;
            p.next_key = Some(r.get(0));
            p.end_key = Some(r.get(1));
            p.batches = 0;
            p.record(&*client).await?;
        }
        let statements = links_sql(table);
        let here = |n: u64| format!("inside:{}:{table}:{n}", UndoStep::Links.name());
        total += key_batches(client, p, &statements, BATCH_FIRST * 10, opts, reporter, &here, &|lo, hi| format!("the batch of {table} {lo}..{hi}")).await?
            as i64;
        p.done.links_table += 1;
        p.next_key = None;
        p.end_key = None;
        p.record(&*client).await?;
    }
    Ok(total)
}
