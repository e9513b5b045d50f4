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

fn row_expr(table: &str, alias: &str, how: RowHash) -> String {
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
fn key_cast(table: &str, column: &str) -> &'static str {
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
/// migration `$1`: rows the migration inserted are left out, updated rows get their
/// archived values back, deleted rows come back from the archive.
pub fn reconstructed_sql(table: &str, how: RowHash) -> String {
    let cols = legacy_columns(table).iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ");
    let names = legacy_columns(table).iter().map(|c| literal(c)).collect::<Vec<_>>().join(", ");
    format!(
        "WITH untouched AS (
             SELECT count(*)::int8 AS n, coalesce(sum({plain}), 0) AS h FROM {tbl} t
              WHERE NOT EXISTS (SELECT 1 FROM {any} AND {km})
         ), reverted AS (
             SELECT count(*)::int8 AS n, coalesce(sum({rev}), 0) AS h
               FROM {tbl} t JOIN profochat_saas.archive a
                 ON a.migration_id = $1 AND a.table_name = {lit} AND a.action = 'updated' AND {kma}
                AND a.row ?| ARRAY[{names}]
              CROSS JOIN LATERAL (SELECT {cols} FROM jsonb_populate_record(t, a.row)) p
         ), restored AS (
             SELECT count(*)::int8 AS n, coalesce(sum({res}), 0) AS h
               FROM profochat_saas.archive d
              CROSS JOIN LATERAL (SELECT {cols} FROM jsonb_populate_record(NULL::{tbl}, d.row)) p
              WHERE d.migration_id = $1 AND d.table_name = {lit} AND d.action = 'deleted'
         )
         SELECT (SELECT n FROM untouched) + (SELECT n FROM reverted) + (SELECT n FROM restored),
                ((SELECT h FROM untouched) + (SELECT h FROM reverted) + (SELECT h FROM restored))::text",
        plain = row_expr(table, "t", how),
        rev = row_expr(table, "p", how),
        res = row_expr(table, "p", how),
        tbl = ident(table),
        lit = literal(table),
        any = format!(
            "profochat_saas.archive x WHERE x.migration_id = $1 AND x.table_name = {} \
             AND (x.action = 'inserted' OR (x.action = 'updated' AND x.row ?| ARRAY[{names}]))",
            literal(table)
        ),
        km = key_match(table, "t", "x"),
        kma = key_match(table, "t", "a"),
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
    let how = RowHash::of(client).await?;
    let mut out = Fingerprints::default();
    for t in LEGACY_TABLES {
        out.tables
            .insert(t.to_string(), one(client, &reconstructed_sql(t, how), &[&migration_id]).await?);
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
