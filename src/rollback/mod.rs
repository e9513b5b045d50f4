//! `rollback`: turns a migrated database back into the legacy schema in place,
//! without a backup. The archive gives back every legacy row and value the
//! migration changed; legacy rows written since the migration are kept. It refuses,
//! listing them, when the database holds data the legacy schema cannot hold.

use std::collections::BTreeMap;

use serde::Serialize;
use tokio_postgres::Transaction;

use crate::conn::Db;
use crate::error::{pg_error_text, Error, Result};
use crate::fingerprint::{self, Fingerprints};
use crate::report::Reporter;
use crate::schema::{self, SchemaState};
use crate::sql::{ident, legacy_columns, legacy_key, literal, LEGACY_TABLES};
use crate::target;

const LOSSES: &str = include_str!("../../sql/rollback/losses.sql");
const DROP_KEYS: &str = include_str!("../../sql/rollback/drop_keys.sql");
const UNRENAME: &str = include_str!("../../sql/rollback/unrename.sql");
const DROP_SCHEMA: &str = include_str!("../../sql/rollback/drop_schema.sql");

/// What one table got back.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TableRollback {
    pub values_restored: u64,
    pub rows_restored: u64,
    pub rows_removed: u64,
}

/// What `rollback` did.
#[derive(Debug, Clone, Serialize)]
pub struct RollbackReport {
    pub target: String,
    pub migration_id: i32,
    pub tables: BTreeMap<String, TableRollback>,
    /// The legacy tables now.
    pub fingerprint: Fingerprints,
    /// The fingerprint recorded before the migration.
    pub fingerprint_before_migration: Option<Fingerprints>,
    /// Tables whose fingerprint differs from before the migration (rows written since).
    pub changed_since_migration: Vec<String>,
    /// Bots that had a real token in the bot table (the legacy bot reads BOT_API_TOKEN).
    pub bot_tokens_dropped: Vec<String>,
    pub elapsed_ms: u64,
}

fn q(context: &'static str) -> impl Fn(tokio_postgres::Error) -> Error {
    move |e| Error::query(context, &e, "The rollback transaction was rolled back: nothing was changed.")
}

/// Rolls the migration back.
pub async fn rollback(db: &mut Db, reporter: &dyn Reporter) -> Result<RollbackReport> {
    let started = std::time::Instant::now();
    let target = db.settings.display_target();
    let status = schema::inspect(db).await?;
    let migration = match (&status.last_migration, status.state) {
        (_, SchemaState::Legacy) => {
            return Err(Error::state(
                format!("{target} is in the legacy schema already: there is nothing to roll back"),
                "Nothing to do.",
            ))
        }
        (Some(m), SchemaState::Migrated | SchemaState::IndexesPending) => m.clone(),
        (_, SchemaState::Outdated) => {
            return Err(Error::state(
                format!("{target} is migrated, but its keys, indexes or functions differ from the current target's (an older profochat-saas migrated it, or they were changed by hand)"),
                "Run `profochat-saas migrate` first (it renames keys and indexes, no row changes), then `profochat-saas rollback`.",
            ))
        }
        (_, SchemaState::PartlyMigrated) => {
            return Err(Error::state(
                format!("{target} is partly migrated, not by a completed profochat-saas migration, so there is no archive to roll back from"),
                "Run `profochat-saas migrate` to finish the migration first, or restore a backup with `profochat-saas restore FILE`.",
            ))
        }
        _ => {
            return Err(Error::state(
                format!("{target} is {}: it is not a migrated ProfoChatBot database", status.state.describe()),
                "Check --database-url / DATABASE_URL.",
            ))
        }
    };

    let tx = db.client.transaction().await.map_err(q("starting the rollback"))?;
    reporter.started("rollback: lock and check", None);
    let t = std::time::Instant::now();
    let mut all = LEGACY_TABLES.iter().map(|t| ident(t)).collect::<Vec<_>>();
    all.extend(target::NEW_TABLES.iter().map(|t| ident(t)));
    tx.batch_execute(&format!("SET LOCAL lock_timeout = '15s'; LOCK TABLE {} IN ACCESS EXCLUSIVE MODE; SET LOCAL lock_timeout = 0", all.join(", ")))
        .await
        .map_err(|e| {
            Error::refused(
                format!("could not lock the tables within 15 s: {}", pg_error_text(&e)),
                "Another session (the running bot, a long query) holds them. Stop the bot or wait, then run `profochat-saas rollback` again.",
            )
        })?;
    let mut losses = vec![];
    for r in tx.query(LOSSES, &[]).await.map_err(q("checking what the legacy schema cannot hold"))? {
        let (what, n, examples): (String, i64, Option<String>) = (r.get(0), r.get(1), r.get(2));
        if n > 0 {
            let examples = examples.map(|e| truncate(&e, 200)).map(|e| format!(": {e}")).unwrap_or_default();
            losses.push(format!("{n} {what}{examples}"));
        }
    }
    if !losses.is_empty() {
        return Err(Error::WouldLoseData {
            message: "rollback would lose data that the legacy schema cannot hold".into(),
            items: losses,
            hint: "Remove or move that data first (token revoke, member remove, …), or restore a backup taken before the migration with `profochat-saas restore FILE`.".into(),
        });
    }
    let before: Option<Fingerprints> = tx
        .query_one("SELECT fingerprint_before FROM profochat_saas.migration WHERE migration_id = $1", &[&migration.migration_id])
        .await
        .map_err(q("reading the migration record"))?
        .get::<_, Option<serde_json::Value>>(0)
        .and_then(|v| serde_json::from_value(v).ok());
    let default_bot: Option<String> = tx
        .query_one("SELECT settings ->> 'default_bot' FROM account WHERE account_id = 1", &[])
        .await
        .map_err(q("reading the default bot"))?
        .get(0);
    let bot_tokens_dropped: Vec<String> = tx
        .query("SELECT bot_name FROM bot WHERE NOT starts_with(bot_token, $1) ORDER BY bot_name", &[&target::PLACEHOLDER_TOKEN_PREFIX])
        .await
        .map_err(q("listing bot tokens"))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    reporter.finished("rollback: lock and check", t.elapsed(), "nothing the legacy schema cannot hold");

    reporter.started("rollback: restore legacy rows and values", None);
    let t = std::time::Instant::now();
    let tables = restore(&tx, migration.migration_id, default_bot.as_deref()).await?;
    reporter.finished("rollback: restore legacy rows and values", t.elapsed(), "");

    let fingerprint = fingerprint::take(&tx).await?;
    let changed = before.as_ref().map(|b| b.differences(&fingerprint)).unwrap_or_default();
    tx.commit().await.map_err(q("committing the rollback"))?;
    Ok(RollbackReport {
        target,
        migration_id: migration.migration_id,
        tables,
        fingerprint,
        fingerprint_before_migration: before,
        changed_since_migration: changed,
        bot_tokens_dropped,
        elapsed_ms: started.elapsed().as_millis() as u64,
    })
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}

fn key_match(table: &str) -> String {
    legacy_key(table)
        .iter()
        .map(|k| {
            let cast = match (table, *k) {
                ("course", _) => "text",
                ("course_element", _) => "int8",
                _ => "int4",
            };
            format!("t.{} = (a.key ->> {})::{cast}", ident(k), literal(k))
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

async fn restore(tx: &Transaction<'_>, migration_id: i32, default_bot: Option<&str>) -> Result<BTreeMap<String, TableRollback>> {
    let mut out: BTreeMap<String, TableRollback> = BTreeMap::new();
    tx.batch_execute(DROP_KEYS).await.map_err(q("dropping the SaaS keys"))?;
    for idx in target::secondary_indexes() {
        tx.batch_execute(&format!("DROP INDEX IF EXISTS {}", ident(&idx.name)))
            .await
            .map_err(q("dropping the SaaS indexes"))?;
    }

    // Rows on renamed course copies (migrated ones and those written since) go back to
    // the legacy course id; then every changed legacy value gets its archived value back.
    tx.batch_execute(UNRENAME).await.map_err(q("restoring course ids"))?;
    for table in LEGACY_TABLES {
        let cols = legacy_columns(table);
        let list = cols.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ");
        let picks = cols.iter().map(|c| format!("p.{}", ident(c))).collect::<Vec<_>>().join(", ");
        let names = cols.iter().map(|c| literal(c)).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "UPDATE {tbl} t SET ({list}) = (SELECT {picks} FROM jsonb_populate_record(NULL::{tbl}, to_jsonb(t) || a.row) p)
               FROM profochat_saas.archive a
              WHERE a.migration_id = $1 AND a.table_name = {lit} AND a.action = 'updated' AND {km}
                AND a.row ?| ARRAY[{names}]",
            tbl = ident(table),
            lit = literal(table),
            km = key_match(table),
        );
        let n = tx.execute(&sql, &[&migration_id]).await.map_err(q("restoring changed values"))?;
        out.entry(table.to_string()).or_default().values_restored = n;
    }
    // Courses the migration created from references go, unless written to since.
    let removed = tx
        .execute(
            "DELETE FROM course t USING profochat_saas.archive a
              WHERE a.migration_id = $1 AND a.table_name = 'course' AND a.action = 'inserted'
                AND t.course_id = a.key ->> 'course_id' AND t.bot_name = a.key ->> 'bot_name' AND t.updated_at IS NULL",
            &[&migration_id],
        )
        .await
        .map_err(q("removing courses created from references"))?;
    out.entry("course".into()).or_default().rows_removed = removed;
    tx.batch_execute("ALTER TABLE course ADD CONSTRAINT course_pkey PRIMARY KEY (course_id, bot_name)")
        .await
        .map_err(|e| Error::WouldLoseData {
            message: "rollback cannot restore the legacy course key (course_id, bot_name)".into(),
            items: vec![pg_error_text(&e)],
            hint: "Courses written since the migration repeat a (course_id, bot_name) pair; restore a backup instead.".into(),
        })?;

    // Deleted rows come back. A merged course copy comes back with its elements, unless
    // the bot has published its own copy since (then that newer copy stays).
    tx.batch_execute("CREATE TEMP TABLE rb_restored_course (course_id text, bot_name text) ON COMMIT DROP")
        .await
        .map_err(q("restoring rows"))?;
    for table in LEGACY_TABLES {
        let cols = legacy_columns(table);
        let list = cols.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ");
        let picks = cols.iter().map(|c| format!("p.{}", ident(c))).collect::<Vec<_>>().join(", ");
        let base = format!(
            "SELECT {picks} FROM profochat_saas.archive a CROSS JOIN LATERAL jsonb_populate_record(NULL::{tbl}, a.row) p
              WHERE a.migration_id = $1 AND a.table_name = {lit} AND a.action = 'deleted'",
            tbl = ident(table),
            lit = literal(table)
        );
        let n = match table {
            "course" => {
                let rows = tx
                    .query(
                        &format!(
                            "WITH ins AS (INSERT INTO course ({list}) {base} ON CONFLICT DO NOTHING RETURNING course_id, bot_name)
                             INSERT INTO rb_restored_course SELECT course_id, bot_name FROM ins RETURNING 1"
                        ),
                        &[&migration_id],
                    )
                    .await
                    .map_err(q("restoring merged course copies"))?;
                rows.len() as u64
            }
            "course_element" => tx
                .execute(
                    &format!(
                        "INSERT INTO course_element ({list}) {base}
                            AND EXISTS (SELECT 1 FROM rb_restored_course r
                                         WHERE r.course_id = p.course_id AND r.bot_name = coalesce(p.bot_name, $2::text))
                         ON CONFLICT DO NOTHING"
                    ),
                    &[&migration_id, &default_bot],
                )
                .await
                .map_err(q("restoring course elements"))?,
            _ => tx
                .execute(&format!("INSERT INTO {} ({list}) {base} ON CONFLICT DO NOTHING", ident(table)), &[&migration_id])
                .await
                .map_err(q("restoring deleted rows"))?,
        };
        out.entry(table.to_string()).or_default().rows_restored = n;
    }

    tx.batch_execute(DROP_SCHEMA).await.map_err(q("dropping the SaaS tables and columns"))?;
    Ok(out)
}
