//! A legacy writer during the online migration loses nothing.

use super::*;

/// What the writer wrote, to look for afterwards.
#[derive(Default, Debug)]
pub(crate) struct Written {
    pub runs: Vec<(i32, bool)>,
    pub messages: Vec<i32>,
    pub delays: Vec<(i32, bool)>,
    pub bans: Vec<i32>,
    pub errors: Vec<String>,
    pub statements: u64,
}

fn record(w: &mut Written, r: Result<(), tokio_postgres::Error>) {
    w.statements += 1;
    if let Err(e) = r {
        w.errors.push(profochat_saas::error::pg_error_text(&e));
    }
}

/// The legacy bot's §1 writes on the public tables (the statements of
/// `bench --writer`), one after another until `stop`, every row it wrote recorded.
pub(crate) async fn legacy_writer(c: Db, stop: Arc<AtomicBool>) -> Written {
    let sample: Vec<(i64, String, String)> = c
        // Courses of one bot only: the public tables show a renamed copy under its new id,
        // so a course end written there with the legacy id would reach nothing (SPEC §4:
        // that is what the legacy interface is for).
        .query(
            "SELECT DISTINCT chat_id, course_id, botname FROM run
              WHERE chat_id IS NOT NULL AND botname IS NOT NULL
                AND course_id IN (SELECT course_id FROM course GROUP BY course_id HAVING count(DISTINCT bot_name) = 1)
              ORDER BY 1, 2, 3 LIMIT 50",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert!(!sample.is_empty());
    let mut w = Written::default();
    let mut i = 0usize;
    while !stop.load(Ordering::Relaxed) || i < 10 {
        let (chat, course, bot) = &sample[i % sample.len()];
        // Every fifth start names no bot (the default bot's), one a bot never seen before.
        let bot: Option<String> = match i {
            7 => Some("writer_new_bot".into()),
            _ if i % 5 == 4 => None,
            _ => Some(bot.clone()),
        };
        // A chat of its own: a course end reaches this start's run only.
        let chat = chat * 1000 + i as i64;
        let run = c
            .query_one(
                include_str!("../../../sql/bench/writer_start_course.sql"),
                &[course, &"w", &chat, &bot, &"writer", &"online"],
            )
            .await
            .map(|r| r.get::<_, i32>(0));
        let run_id = match run {
            Ok(id) => id,
            Err(e) => {
                record(&mut w, Err(e));
                i += 1;
                continue;
            }
        };
        record(&mut w, Ok(()));
        let msg = c
            .query_one(
                include_str!("../../../sql/bench/writer_message.sql"),
                &[&chat, course, &"w", &"e1", &"text", &run_id, &format!("{{\"n\": {i}}}"), &"user", &"", &1f32, &1f32],
            )
            .await
            .map(|r| w.messages.push(r.get(0)));
        record(&mut w, msg);
        let till = chrono::NaiveDate::from_ymd_opt(2030, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap();
        let delay = c
            .query_one(include_str!("../../../sql/bench/writer_delay.sql"), &[&chat, &till, &true, &"d1", course, &bot])
            .await
            .map(|r| r.get::<_, i32>(0));
        let done = i % 2 == 0;
        match delay {
            Ok(id) => {
                record(&mut w, Ok(()));
                if done {
                    let r = c.execute(include_str!("../../../sql/bench/writer_delay_done.sql"), &[&id]).await.map(|_| ());
                    record(&mut w, r);
                }
                w.delays.push((id, done));
            }
            Err(e) => record(&mut w, Err(e)),
        }
        let ended = i % 3 == 0 && bot.is_some();
        if ended {
            let r = c.execute(include_str!("../../../sql/bench/writer_course_end.sql"), &[&chat, &bot, course]).await.map(|_| ());
            record(&mut w, r);
        }
        w.runs.push((run_id, ended));
        if i % 4 == 0 {
            let ban = c
                .query_one(
                    "INSERT INTO bannedparticipants (botname, chat_id, ban_reason) VALUES ($1, $2, 'flood') RETURNING bannedparticipant_id",
                    &[&bot, &chat],
                )
                .await
                .map(|r| w.bans.push(r.get(0)));
            record(&mut w, ban);
        }
        i += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    w
}

/// The no-loss proof of the switch does not yet tell the rows the bot wrote during the
/// migration from lost or changed ones: with a writer it stops the migration there
/// ("the no-loss proof failed"), so this waits for the change-log proof.
#[tokio::test]
async fn a_legacy_writer_during_the_online_migration_loses_nothing() {
    let (db, mut c, bot) = seeded(400).await;
    let stop = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn(legacy_writer(db.connect().await, stop.clone()));
    // Let it write before the migration starts too.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let o = MigrateOptions { default_bot: Some(bot.clone()), index_jobs: 2, ..MigrateOptions::default() };
    let r = migrate::migrate(&mut c, &o, &Silent).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    let w = writer.await.unwrap();
    let r = r.unwrap_or_else(|e| panic!("the online migration under a legacy writer: {e}"));
    assert_eq!(r.outcome, Outcome::Migrated);
    assert!(w.errors.is_empty(), "the legacy writes never fail: {:?}", w.errors);
    assert!(w.runs.len() >= 20, "the writer wrote during the migration: {w:?}");

    // Every row it wrote is there, linked.
    for (run_id, ended) in &w.runs {
        let row = c
            .query_one(
                "SELECT r.bot_id IS NOT NULL AND r.account_id = 1,
                        r.course_id IS NULL OR NOT EXISTS (SELECT 1 FROM course k WHERE k.course_id = r.course_id)
                          OR EXISTS (SELECT 1 FROM course_deployment d WHERE d.deployment_id = r.deployment_id AND d.course_id = r.course_id AND d.bot_id = r.bot_id),
                        coalesce(r.is_ended, false),
                        (SELECT b.bot_name FROM bot b WHERE b.bot_id = r.bot_id) = coalesce(r.botname, $2)
                   FROM run r WHERE r.run_id = $1",
                &[run_id, &bot],
            )
            .await
            .unwrap_or_else(|e| panic!("run {run_id} written during the migration is gone: {e}"));
        let (linked, deployed, is_ended, right_bot): (bool, bool, bool, bool) = (row.get(0), row.get(1), row.get(2), row.get(3));
        assert!(linked && right_bot, "run {run_id} has no bot, or another bot's");
        assert!(deployed, "run {run_id} has a course but not its deployment");
        assert_eq!(is_ended, *ended, "run {run_id}: its course end");
    }
    for id in &w.messages {
        let n: i64 = c.query_one("SELECT count(*) FROM conversation WHERE conversation_id = $1 AND account_id = 1", &[id]).await.unwrap().get(0);
        assert_eq!(n, 1, "message {id} written during the migration");
    }
    for (id, done) in &w.delays {
        let row = c
            .query_one("SELECT bot_id IS NOT NULL, is_waiting FROM waiting_element WHERE waiting_element_id = $1", &[id])
            .await
            .unwrap_or_else(|e| panic!("delay {id} written during the migration is gone: {e}"));
        assert!(row.get::<_, bool>(0), "delay {id} has no bot");
        assert_eq!(row.get::<_, Option<bool>>(1), Some(!done), "delay {id}: its end");
    }
    for id in &w.bans {
        let n: i64 = c.query_one("SELECT count(*) FROM bannedparticipants WHERE bannedparticipant_id = $1 AND bot_id IS NOT NULL", &[id]).await.unwrap().get(0);
        assert_eq!(n, 1, "ban {id} written during the migration");
    }
    let new_bot: i64 = c.query_one("SELECT count(*) FROM bot WHERE bot_name = 'writer_new_bot'", &[]).await.unwrap().get(0);
    assert_eq!(new_bot, 1, "a bot first named during the migration gets its row");
    let v = validate::validate(&c.client, &Default::default()).await.unwrap();
    let critical: Vec<_> = v.checks.iter().filter(|k| !k.passed && k.severity == validate::Severity::Critical).map(|k| (k.id.clone(), k.examples.clone())).collect();
    assert!(critical.is_empty(), "{critical:?}");
    assert!(r.proof.iter().all(|p| p.equal), "{:?}", r.proof);
}

/// Between the prepare step (the compatibility triggers) and the keys step, a legacy
/// write under a bot name never seen, on a course that bot never had, creates the bot
/// and the deployment through the triggers' ON CONFLICT clauses: the keys those name
/// are there from the prepare step on.
#[tokio::test]
async fn legacy_writes_of_a_new_bot_work_before_the_keys_step() {
    let (db, c) = legacy_with_anomalies().await;
    crash(&db, "main_bot", "after:prepare");
    let start = include_str!("../../../sql/bench/writer_start_course.sql");
    let run_id: i32 = c
        .query_one(start, &[&"intro", &"u", &8_000_001i64, &Some("brand_new_bot"), &"t", &"t"])
        .await
        .expect("a start on a new bot before the keys step")
        .get(0);
    let delay = include_str!("../../../sql/bench/writer_delay.sql");
    let till = chrono::NaiveDate::from_ymd_opt(2030, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap();
    c.query_one(delay, &[&8_000_002i64, &till, &true, &"d1", &"intro", &Some("another_new_bot")])
        .await
        .expect("a delay on another new bot before the keys step");
    let row = c
        .query_one(
            "SELECT b.bot_name, d.course_id FROM run r JOIN bot b ON b.bot_id = r.bot_id JOIN course_deployment d ON d.deployment_id = r.deployment_id WHERE r.run_id = $1",
            &[&run_id],
        )
        .await
        .unwrap();
    assert_eq!((row.get::<_, String>(0), row.get::<_, String>(1)), ("brand_new_bot".to_string(), "intro".to_string()));
    let bots: i64 = c.query_one("SELECT count(*) FROM bot WHERE bot_name IN ('brand_new_bot', 'another_new_bot')", &[]).await.unwrap().get(0);
    assert_eq!(bots, 2);
}
