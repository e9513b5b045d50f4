//! The hot legacy reads, timed on the legacy schema and through the legacy interface.

use std::time::Instant;

use serde::Serialize;

use crate::conn::{self, ConnSettings};
use crate::error::{Error, Result};
use crate::migrate::{self, MigrateOptions};
use crate::report::{Reporter, Silent};
use crate::seed::{self, SeedOptions};
use crate::server::ScratchDb;

/// One hot legacy read, timed on the legacy schema and through the legacy interface.
#[derive(Debug, Clone, Serialize)]
pub struct ReadTiming {
    pub statement: &'static str,
    pub sql: &'static str,
    pub samples: usize,
    pub legacy_median_us: u64,
    pub legacy_p95_us: u64,
    pub interface_median_us: u64,
    pub interface_p95_us: u64,
    /// Interface median / legacy median.
    pub ratio: f64,
}

/// The legacy-reads benchmark: the legacy bot's hot statements (SPEC §1) on a seeded
/// legacy database and on a migrated copy of it through the legacy interface.
#[derive(Debug, Clone, Serialize)]
pub struct LegacyReadsReport {
    pub runs: u64,
    pub server_version: String,
    pub conversation_rows: u64,
    pub reads: Vec<ReadTiming>,
}

/// The hot reads: name, statement, and the query that draws its parameters (as text)
/// from the legacy database.
const HOT_READS: [(&str, &str, &str); 5] = [
    (
        "where a chat is",
        "SELECT conversation_id, element_id, element_type, course_id, run_id, json FROM conversation WHERE chat_id = $1::text::int8 ORDER BY conversation_id DESC LIMIT 1",
        "SELECT chat_id::text FROM (SELECT DISTINCT chat_id FROM conversation WHERE chat_id IS NOT NULL) x ORDER BY md5(chat_id::text) LIMIT $1",
    ),
    (
        "the chat's run of a course",
        "SELECT run_id FROM run WHERE chat_id = $1::text::int8 AND course_id = $2 ORDER BY date_inserted DESC LIMIT 1",
        "SELECT chat_id::text, course_id FROM (SELECT DISTINCT chat_id, course_id FROM run WHERE chat_id IS NOT NULL AND course_id IS NOT NULL) x ORDER BY md5(chat_id::text || course_id) LIMIT $1",
    ),
    (
        "course content",
        "SELECT element_id, json FROM course_element WHERE course_id = $1 AND bot_name = $2 ORDER BY course_element_id",
        "SELECT course_id, bot_name FROM course ORDER BY md5(course_id || bot_name) LIMIT $1",
    ),
    (
        "finished?",
        "SELECT is_ended FROM run WHERE chat_id = $1::text::int8 AND course_id = $2 AND botname = $3 ORDER BY run_id DESC LIMIT 1",
        "SELECT chat_id::text, course_id, botname FROM (SELECT DISTINCT chat_id, course_id, botname FROM run WHERE chat_id IS NOT NULL AND course_id IS NOT NULL AND botname IS NOT NULL) x ORDER BY md5(chat_id::text || course_id) LIMIT $1",
    ),
    (
        "banned?",
        "SELECT EXISTS (SELECT 1 FROM bannedparticipants WHERE botname = $1 AND chat_id = $2::text::int8 AND excluded <> 1)",
        "SELECT botname, chat_id::text FROM run WHERE botname IS NOT NULL AND chat_id IS NOT NULL ORDER BY md5(run_id::text) LIMIT $1",
    ),
];

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Seeds `runs` runs, copies the database, migrates the copy, and times each hot read
/// `samples` times with different parameters on both (the two databases alternate, so
/// that drift hits both alike).
pub async fn legacy_reads(server: &ConnSettings, runs: u64, seed_value: u64, samples: i64, reporter: &dyn Reporter) -> Result<LegacyReadsReport> {
    let q = |what: &'static str| move |e: tokio_postgres::Error| Error::query(what, &e, "The benchmark databases are dropped.");
    let base = format!("profochat_bench_reads_{}", std::process::id());
    let legacy_db = ScratchDb::create(server, &base).await?;
    let (manifest, server_version) = {
        let mut db = conn::connect(&legacy_db.settings).await?;
        reporter.started(&format!("seeding {runs} runs"), None);
        let t = Instant::now();
        let m = seed::generate(&mut db, &SeedOptions { runs, seed: seed_value }, &Silent).await?;
        db.batch_execute("VACUUM ANALYZE").await.map_err(q("analysing the seeded database"))?;
        reporter.finished("seeded", t.elapsed(), "");
        let v: String = db.query_one("SELECT current_setting('server_version')", &[]).await.map_err(q("reading the server version"))?.get(0);
        (m, v)
    };
    let migrated_db = ScratchDb::create_from(server, &format!("{base}_migrated"), &base).await?;
    {
        let mut db = conn::connect(&migrated_db.settings).await?;
        reporter.started("migrating the copy", None);
        let t = Instant::now();
        let opts = MigrateOptions { default_bot: Some(manifest.default_bot.clone()), index_jobs: 2, ..MigrateOptions::default() };
        let report = migrate::migrate(&mut db, &opts, &Silent).await?;
        if !report.indexes.failed.is_empty() {
            return Err(Error::state(
                format!("{} indexes failed to build during the benchmark", report.indexes.failed.len()),
                "Run the benchmark again on an idle server.",
            ));
        }
        db.batch_execute("VACUUM ANALYZE").await.map_err(q("analysing the migrated database"))?;
        reporter.finished("migrated", t.elapsed(), "");
    }
    let legacy = conn::connect(&legacy_db.settings).await?;
    let interface = conn::connect(&migrated_db.settings).await?;
    interface
        .batch_execute(&format!("SET search_path = {}", crate::legacy::SEARCH_PATH))
        .await
        .map_err(q("using the legacy interface"))?;
    let mut reads = vec![];
    for (name, sql, params_sql) in HOT_READS {
        reporter.started(&format!("timing: {name}"), None);
        let t = Instant::now();
        let params = legacy.query(params_sql, &[&samples]).await.map_err(q("drawing parameters"))?;
        if params.is_empty() {
            continue;
        }
        // Each statement is parsed and planned at every call, as the legacy bot's driver
        // sends it; parameter sets repeat in turn until `samples` calls were timed.
        let (mut ta, mut tb) = (vec![], vec![]);
        for i in 0..samples.max(1) as usize {
            let row = &params[i % params.len()];
            let values: Vec<Option<String>> = (0..row.len()).map(|i| row.get(i)).collect();
            let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = values.iter().map(|v| v as &(dyn tokio_postgres::types::ToSql + Sync)).collect();
            for (client, out) in [(&legacy, &mut ta), (&interface, &mut tb)] {
                let t = Instant::now();
                client.query(sql, &refs).await.map_err(q("running a legacy read"))?;
                out.push(t.elapsed().as_micros() as u64);
            }
        }
        ta.sort_unstable();
        tb.sort_unstable();
        let (ma, mb) = (percentile(&ta, 0.5), percentile(&tb, 0.5));
        reads.push(ReadTiming {
            statement: name,
            sql,
            samples: ta.len(),
            legacy_median_us: ma,
            legacy_p95_us: percentile(&ta, 0.95),
            interface_median_us: mb,
            interface_p95_us: percentile(&tb, 0.95),
            ratio: if ma == 0 { 0.0 } else { mb as f64 / ma as f64 },
        });
        reporter.finished(&format!("timing: {name}"), t.elapsed(), "");
    }
    drop(legacy);
    drop(interface);
    migrated_db.drop_now().await?;
    legacy_db.drop_now().await?;
    Ok(LegacyReadsReport {
        runs,
        server_version,
        conversation_rows: manifest.rows.get("conversation").copied().unwrap_or(0),
        reads,
    })
}
