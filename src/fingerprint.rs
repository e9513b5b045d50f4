//! The no-loss proof: per legacy table, its row count and an order-independent hash
//! of the legacy columns of every row. Taken before the migration, and after it over
//! the legacy rows *as the archive says they were* (archived changes reverted): the
//! two must be equal, and the archived changes are counted.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tokio_postgres::GenericClient;

use crate::error::{Error, Result};
use crate::sql::{ident, legacy_columns, legacy_key, literal, LEGACY_TABLES};

/// One table's fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableFingerprint {
    pub rows: i64,
    /// Sum of a 64-bit hash of each row's text, as a decimal string (order-independent).
    pub hash: String,
}

/// Fingerprints of the eight legacy tables.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprints {
    pub tables: BTreeMap<String, TableFingerprint>,
}

impl Fingerprints {
    /// Tables whose fingerprints differ from `other`'s.
    pub fn differences(&self, other: &Fingerprints) -> Vec<String> {
        LEGACY_TABLES
            .iter()
            .filter(|t| self.tables.get(**t) != other.tables.get(**t))
            .map(|t| t.to_string())
            .collect()
    }
}

/// How a row is hashed. `hash_record_extended` (PostgreSQL 14+) hashes the values
/// themselves and is about three times faster than hashing the row's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowHash {
    Record,
    Text,
}

impl RowHash {
    pub fn for_server(server_version_num: i32) -> Self {
        if server_version_num >= 140000 {
            RowHash::Record
        } else {
            RowHash::Text
        }
    }

    async fn of<C: GenericClient + Sync>(client: &C) -> Result<Self> {
        let n: i32 = client
            .query_one("SELECT current_setting('server_version_num')::int4", &[])
            .await
            .map_err(|e| Error::query("reading the server version", &e, "Nothing was changed."))?
            .get(0);
        Ok(Self::for_server(n))
    }
}

/// The hash of one row of `table` (its legacy columns, as `alias`.column), as a
/// fingerprint sums it.
pub fn row_expr(table: &str, alias: &str, how: RowHash) -> String {
    let cols: Vec<String> = legacy_columns(table).iter().map(|c| format!("{alias}.{}", ident(c))).collect();
    match how {
        RowHash::Record => format!("hash_record_extended(ROW({}), 0)::numeric", cols.join(", ")),
        RowHash::Text => format!("hashtextextended(ROW({})::text, 0)::numeric", cols.join(", ")),
    }
}

/// The statement that fingerprints one table as it is.
pub fn table_sql(table: &str, how: RowHash) -> String {
    format!(
        "SELECT count(*)::int8, coalesce(sum({}), 0)::text FROM {} t",
        row_expr(table, "t", how),
        ident(table)
    )
}

/// Casts the archived key value of `column` back to its column type.
pub fn key_cast(table: &str, column: &str) -> &'static str {
    match (table, column) {
        ("course", _) => "text",
        ("course_element", _) => "int8",
        _ => "int4",
    }
}

fn key_match(table: &str, t: &str, a: &str) -> String {
    legacy_key(table)
        .iter()
        .map(|k| format!("{t}.{} = ({a}.key ->> {})::{}", ident(k), literal(k), key_cast(table, k)))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// The statement that fingerprints one table as the legacy schema held it before
/// migration `$1`, from its fingerprint now (`$2` rows, `$3` hash) corrected by the
/// archive alone plus index lookups of the rows it names: rows the migration inserted
/// come out, deleted rows come back, updated rows get their archived values back.
///
/// A migration archives at most one legacy-column update per row and never updates a
/// row it inserted. Were that broken, a row would be corrected twice and the proof
/// would fail: it cannot pass by mistake.
pub fn reconstructed_sql(table: &str, how: RowHash) -> String {
    let cols = legacy_columns(table).iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ");
    let names = legacy_columns(table).iter().map(|c| literal(c)).collect::<Vec<_>>().join(", ");
    format!(
        "WITH changed AS (
             SELECT coalesce(sum({before}), 0) - coalesce(sum({now}), 0) AS h
               FROM profochat_saas.archive a JOIN {tbl} t ON {km_a}
              CROSS JOIN LATERAL (SELECT {cols} FROM jsonb_populate_record(t, a.row)) p
              WHERE a.migration_id = $1 AND a.table_name = {lit} AND a.action = 'updated'
                AND a.row ?| ARRAY[{names}]
         ), added AS (
             SELECT count(*)::int8 AS n, coalesce(sum({now}), 0) AS h
               FROM profochat_saas.archive a JOIN {tbl} t ON {km_a}
              WHERE a.migration_id = $1 AND a.table_name = {lit} AND a.action = 'inserted'
         ), removed AS (
             SELECT count(*)::int8 AS n, coalesce(sum({before}), 0) AS h
               FROM profochat_saas.archive a
              CROSS JOIN LATERAL (SELECT {cols} FROM jsonb_populate_record(NULL::{tbl}, a.row)) p
              WHERE a.migration_id = $1 AND a.table_name = {lit} AND a.action = 'deleted'
         )
         SELECT $2::int8 - (SELECT n FROM added) + (SELECT n FROM removed),
                ($3::text::numeric + (SELECT h FROM changed) - (SELECT h FROM added) + (SELECT h FROM removed))::text",
        lit = literal(table),
        tbl = ident(table),
        now = row_expr(table, "t", how),
        before = row_expr(table, "p", how),
        km_a = key_match(table, "t", "a"),
    )
}

/// Fingerprints the legacy tables as they are now.
pub async fn take<C: GenericClient + Sync>(client: &C) -> Result<Fingerprints> {
    let how = RowHash::of(client).await?;
    let mut out = Fingerprints::default();
    for t in LEGACY_TABLES {
        out.tables.insert(t.to_string(), one(client, &table_sql(t, how), &[]).await?);
    }
    Ok(out)
}

/// Fingerprints one legacy table as it is now.
pub async fn take_table<C: GenericClient + Sync>(client: &C, table: &str) -> Result<TableFingerprint> {
    let how = RowHash::of(client).await?;
    one(client, &table_sql(table, how), &[]).await
}

/// Fingerprints the legacy tables as they were before migration `migration_id`,
/// reverting what the archive recorded.
pub async fn take_reconstructed<C: GenericClient + Sync>(client: &C, migration_id: i32) -> Result<Fingerprints> {
    let now = take(client).await?;
    reconstruct(client, migration_id, &now).await
}

/// The legacy tables as they were before migration `migration_id`, from `now` (their
/// fingerprints as they are) and the archive: the rows the migration inserted come
/// out, the rows it deleted come back, the rows it updated get their old values.
pub async fn reconstruct<C: GenericClient + Sync>(client: &C, migration_id: i32, now: &Fingerprints) -> Result<Fingerprints> {
    let how = RowHash::of(client).await?;
    let mut out = Fingerprints::default();
    for t in LEGACY_TABLES {
        let current = now.tables.get(t).cloned().unwrap_or(TableFingerprint { rows: 0, hash: "0".into() });
        let sql = reconstructed_sql(t, how);
        out.tables
            .insert(t.to_string(), one(client, &sql, &[&migration_id, &current.rows, &current.hash]).await?);
    }
    Ok(out)
}

async fn one<C: GenericClient + Sync>(
    client: &C,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<TableFingerprint> {
    let row = client
        .query_one(sql, params)
        .await
        .map_err(|e| Error::query("fingerprinting the legacy tables", &e, "Nothing was changed."))?;
    Ok(TableFingerprint {
        rows: row.get(0),
        hash: row.get(1),
    })
}
