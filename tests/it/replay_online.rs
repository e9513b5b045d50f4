//! The legacy bot during an online migration: at every step boundary (the migration
//! killed there, as kill -9 would, then resumed), every §1 read through the legacy
//! interface answers as on a legacy copy that was never migrated; halfway through, the
//! bot's writes too; at the end, the tables row for row, and every written row linked.

use profochat_saas::conn::Db;
use profochat_saas::state::OnlineStep;

use crate::harness::{bin, TestDb};
use crate::replay::{anomalies, assert_linked, reads, replay, seeded, use_legacy_interface, Tally, SEEDED_DEFAULT_BOT};

/// Runs `migrate` on `db` until it has done `step` (the test hook ends the process
/// there as kill -9 would), or to the end with `None`.
fn migrate_until(db: &TestDb, default_bot: &str, step: Option<OnlineStep>) {
    let mut cmd = bin();
    cmd.args(["migrate", "--yes", "--skip-backup", "--default-bot", default_bot, "--database-url", &db.url()]);
    if let Some(s) = step {
        cmd.args(["--crash-at", &format!("after:{}", s.name())]);
    }
    let out = cmd.output().unwrap();
    match step {
        Some(s) => assert!(!out.status.success() && out.status.code().is_none(), "killed after {}: {out:?}", s.name()),
        None => assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr)),
    }
}

async fn reads_agree(a: &Db, b: &Db, stage: &str) {
    let mut t = Tally::default();
    for s in reads(a).await {
        t.compare(a, b, &s).await;
    }
    t.assert_clean(stage);
}

async fn at_every_step(load: fn(&Db) -> crate::replay::futures_like::BoxFut<'_>, default_bot: &str) {
    let a = TestDb::legacy().await;
    let ca = a.connect().await;
    load(&ca).await;
    let b = TestDb::legacy().await;
    let cb = b.connect().await;
    load(&cb).await;
    // The bot switched to the legacy interface before the migration started.
    use_legacy_interface(&cb).await;
    for step in OnlineStep::all().into_iter().filter(|s| *s != OnlineStep::Switch) {
        migrate_until(&b, default_bot, Some(step));
        if step == OnlineStep::Backfill(profochat_saas::state::BackfillTable::Run) {
            // Halfway: every read, every write, every read again, the tables row for row.
            replay(&ca, &cb, default_bot).await;
        } else {
            reads_agree(&ca, &cb, &format!("after {}", step.name())).await;
        }
    }
    migrate_until(&b, default_bot, None);
    reads_agree(&ca, &cb, "after the switch").await;
    assert_linked(&cb).await;
}

#[tokio::test]
async fn the_legacy_bot_reads_and_writes_as_before_at_every_step_on_the_anomalies() {
    at_every_step(anomalies, "main_bot").await;
}

#[tokio::test]
async fn the_legacy_bot_reads_and_writes_as_before_at_every_step_on_seeded_data() {
    at_every_step(seeded, SEEDED_DEFAULT_BOT).await;
}
