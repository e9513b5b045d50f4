//! The prepare step takes the preflight's analysis back only when nothing was written since.

use super::*;
use super::crash::Recorder;

/// Runs `sql` on its own connection when the preflight's analysis is finished: before
/// anything of the migration is in the database (no change log yet), so only the
/// prepare step's comparison with the preflight's snapshot can see it.
struct WriteAfterPreflight {
    url: String,
    sql: Option<&'static str>,
    events: Recorder,
}

impl Reporter for WriteAfterPreflight {
    fn event(&self, event: Event<'_>) {
        let after_preflight = matches!(&event, Event::Finished { step, .. } if *step == "preflight: analyse");
        self.events.event(event);
        if let (true, Some(sql)) = (after_preflight, self.sql) {
            let url = self.url.clone();
            crate::harness::block_on(async move {
                let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
                tokio::spawn(conn);
                let n = client.execute(sql, &[]).await.unwrap();
                assert!(n > 0, "the write changed no row: {sql}");
            });
        }
    }
}

/// The online migration with `sql` written between its preflight and its prepare step:
/// its report, once the proof, the validation and the reconstruction are checked.
async fn migrate_with_a_write_after_the_preflight(sql: Option<&'static str>) -> (TestDb, Db, migrate::MigrationReport) {
    let (db, mut c, bot) = seeded(300).await;
    let rep = WriteAfterPreflight { url: db.url(), sql, events: Recorder::default() };
    let o = MigrateOptions { default_bot: Some(bot), index_jobs: 2, ..MigrateOptions::default() };
    let r = migrate::migrate(&mut c, &o, &rep).await.unwrap_or_else(|e| panic!("{e}\n{:?}", rep.events.0.lock().unwrap()));
    assert_eq!(r.outcome, Outcome::Migrated);
    assert!(r.proof.len() == 8 && r.proof.iter().all(|p| p.equal), "{:?}", r.proof);
    assert_eq!(r.validation.as_ref().unwrap().critical_failures(), 0);
    let leftovers: i64 = c.query_one("SELECT count(*) FROM pg_class WHERE relname LIKE 'preflight\\_%' AND relpersistence = 't'", &[]).await.unwrap().get(0);
    assert_eq!(leftovers, 0, "the preflight's copies of the analysis go with the prepare step");
    // The fingerprint after is the proof's, taken in its snapshot: nothing was written
    // since, so it is the tables' fingerprint now.
    let after: serde_json::Value = c.query_one("SELECT fingerprint_after FROM profochat_saas.migration", &[]).await.unwrap().get(0);
    assert_eq!(serde_json::from_value::<Fingerprints>(after).unwrap(), fingerprint::take(&*c).await.unwrap());
    (db, c, r)
}

async fn archived_deletions(c: &Db, table: &str) -> i64 {
    c.query_one("SELECT count(*) FROM profochat_saas.archive WHERE table_name = $1 AND action = 'deleted'", &[&table]).await.unwrap().get(0)
}

fn analysis_reused(r: &migrate::MigrationReport) -> i64 {
    r.phases.iter().find(|p| p.name == OnlineStep::Prepare.name()).expect("the prepare step").counts["analysis_reused"]
}

/// Nothing written between the preflight and the prepare step: prepare takes the
/// preflight's analysis back instead of running it again, and the migration is the
/// same (proof, validation, every duplicate and orphan the analysis found handled).
#[tokio::test]
async fn the_prepare_step_reuses_the_preflights_analysis_when_nothing_was_written_since() {
    let (_db, c, r) = migrate_with_a_write_after_the_preflight(None).await;
    assert_eq!(analysis_reused(&r), 1);
    let a = r.analysis.as_ref().unwrap();
    assert!(a.duplicate_bans > 0 && a.orphan_run_refs > 0, "the seeded anomalies: {a:?}");
    assert_eq!(archived_deletions(&c, "bannedparticipants").await, a.duplicate_bans);
    assert_eq!(archived_deletions(&c, "courseparticipants").await, a.duplicate_participants);
}

/// A ban changed after the preflight into a duplicate of another (no new key, no new
/// row: only the row's version tells): the prepare step analyses again, and the new
/// duplicate is archived like the others (the preflight's analysis does not have it,
/// and the unique key on bans would stop the migration).
#[tokio::test]
async fn an_update_after_the_preflight_makes_the_prepare_step_analyse_again() {
    const DUPLICATE: &str = "UPDATE bannedparticipants b SET botname = k.botname, chat_id = k.chat_id, excluded = k.excluded
          FROM (SELECT botname, chat_id, excluded FROM bannedparticipants
                 WHERE botname IS NOT NULL AND chat_id IS NOT NULL AND excluded IS NOT NULL ORDER BY bannedparticipant_id LIMIT 1) k
         WHERE b.bannedparticipant_id = (SELECT max(bannedparticipant_id) FROM bannedparticipants)";
    let (_db, c, r) = migrate_with_a_write_after_the_preflight(Some(DUPLICATE)).await;
    assert_eq!(analysis_reused(&r), 0);
    let a = r.analysis.as_ref().unwrap();
    assert_eq!(archived_deletions(&c, "bannedparticipants").await, a.duplicate_bans);
}

/// A run deleted after the preflight (its conversation rows become orphans; no key
/// grows, no row version is new: only the count tells): the prepare step analyses again.
#[tokio::test]
async fn a_delete_after_the_preflight_makes_the_prepare_step_analyse_again() {
    const DELETE: &str = "DELETE FROM run WHERE run_id = (SELECT min(c.run_id) FROM conversation c JOIN run r USING (run_id))";
    let (_db, c, r) = migrate_with_a_write_after_the_preflight(Some(DELETE)).await;
    assert_eq!(analysis_reused(&r), 0);
    let detached: i64 = c
        .query_one("SELECT count(*) FROM profochat_saas.archive WHERE table_name = 'conversation' AND reason LIKE '%points at no run%'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(detached, r.analysis.as_ref().unwrap().orphan_run_refs);
}
