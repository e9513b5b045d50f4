//! Ready-made database states for tests.

#![allow(dead_code)]

use profochat_saas::conn::Db;
use profochat_saas::target;

/// Turns an (empty or small) legacy database into the SaaS schema by applying the
/// target DDL directly, and records a completed migration. Only for tests of code
/// that works on the new schema; the real path is `migrate`.
pub async fn apply_target_schema(db: &Db) {
    let sql = [
        target::sql::HELPERS,
        target::sql::STATE,
        target::sql::ACCOUNT,
        target::sql::TABLES,
    ]
    .join("\n");
    db.batch_execute(&sql).await.expect("target DDL, phases 0-1");
    // Rows with a NULL bot_id would fail the NOT NULL of phase 4; fixtures start empty.
    db.batch_execute(&[target::sql::HELPERS, target::sql::CONSTRAINTS].join("\n"))
        .await
        .expect("target DDL, phase 4");
    db.batch_execute(target::sql::CONVERSATION_RUN_FK).await.expect("conversation fk");
    for idx in target::secondary_indexes() {
        db.batch_execute(&idx.statement).await.expect("index");
    }
    profochat_saas::migrate::upstream::install(&**db, 0, "fixture").await.expect("ledger and enrolment function");
    db.execute(
        "INSERT INTO profochat_saas.migration (schema_version, tool_version, status, finished_at) VALUES ($1, 'fixture', 'completed', now())",
        &[&target::SCHEMA_VERSION],
    )
    .await
    .expect("state row");
}

/// Upstream's own SaaS migration script (its 0003) in the shared directory, its 0001
/// beside it: what `bench --compare-upstream` is pointed at.
pub fn upstream_0003() -> std::path::PathBuf {
    crate::upstream_after_finish::shared_dir().join("upstream/migrations/0003_migrate_to_saas.sql")
}

/// A legacy database seeded with the dense profile (every anomaly in bulk).
pub async fn dense_legacy(runs: u64, seed: u64) -> (crate::harness::TestDb, profochat_saas::seed::SeedManifest) {
    use profochat_saas::seed;
    let db = crate::harness::TestDb::empty().await;
    let m = seed::generate_profile(&mut db.connect().await, &seed::SeedOptions { runs, seed }, seed::Profile::Dense, &profochat_saas::report::Silent)
        .await
        .expect("seed");
    (db, m)
}
