//! `migrate --abort` after a kill at every step gives back the exact legacy database,
//! and the bot's writes go on while it waits for the tables.

use super::*;

/// While `migrate --abort` waits for the legacy tables (a long query holds them), the
/// running bot's writes are not queued behind its lock request: it asks in attempts of
/// at most 200 ms. (One long request would hold every write of the bot for its whole
/// wait: the insert below would run into its 5 s statement timeout.)
#[tokio::test]
async fn while_abort_waits_for_the_tables_the_bots_writes_go_on() {
    let (db, c, bot) = seeded(60).await;
    crash(&db, &bot, "after:keys");
    wait_for_the_killed_session(&c).await;
    let holder = db.connect().await;
    holder.batch_execute("BEGIN; SELECT count(*) FROM run;").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let abort = bin()
        .args(["migrate", "--abort", "--yes", "--database-url", &db.url(), "--backup-dir"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The abort is waiting for its lock (in one of its attempts).
    crate::interrupt::wait_for_a_lock_wait(&c, "run").await;
    let bot_conn = db.connect().await;
    bot_conn.batch_execute("SET statement_timeout = '5s'").await.unwrap();
    for i in 0..5 {
        bot_conn
            .execute("INSERT INTO run (course_id, username, chat_id, botname) VALUES ('intro', 'u', $1, $2)", &[&(880_000_i64 + i), &bot])
            .await
            .unwrap_or_else(|e| panic!("the bot's insert {i} waited behind the abort's lock: {e}"));
    }
    holder.batch_execute("COMMIT").await.unwrap();
    let out = abort.wait_with_output().unwrap();
    assert!(out.status.success(), "abort:\n{}\n{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(schema::inspect(&c).await.unwrap().state, SchemaState::Legacy);
    let kept: i64 = c.query_one("SELECT count(*) FROM run WHERE chat_id >= 880000 AND chat_id < 880005", &[]).await.unwrap().get(0);
    assert_eq!(kept, 5, "the bot's writes during the abort are kept");
}

/// kill -9 at `at`, then `migrate --abort --yes`: the catalog and the legacy tables
/// exactly as before the migration, and `status` says legacy.
async fn crash_and_abort(at: &str) {
    let (db, c) = legacy_with_anomalies().await;
    let cat = catalog(&c).await;
    let fp = fingerprint::take(&*c).await.unwrap();
    crash(&db, "main_bot", at);
    wait_for_the_killed_session(&c).await;
    assert_eq!(schema::inspect(&c).await.unwrap().state, SchemaState::MigrationInProgress, "{at}");
    let dir = tempfile::tempdir().unwrap();
    let out = cli()
        .args(["migrate", "--abort", "--yes", "--database-url", &db.url(), "--backup-dir"])
        .arg(dir.path())
        .assert();
    let o = out.get_output();
    assert!(o.status.success(), "{at}: abort failed:\n{}\n{}", text(&o.stdout), text(&o.stderr));
    assert_eq!(catalog(&c).await, cat, "{at}: the catalog");
    assert_eq!(fingerprint::take(&*c).await.unwrap(), fp, "{at}: the legacy tables");
    assert_eq!(schema::inspect(&c).await.unwrap().state, SchemaState::Legacy, "{at}");
    let st = status(&db);
    assert!(st.contains("State:     legacy"), "{at}: {st}");
    assert!(!st.contains("Online:"), "{at}: {st}");
}

mod abort_after {
    use super::*;

    #[tokio::test]
    async fn expand() {
        crash_and_abort("after:expand").await;
    }
    #[tokio::test]
    async fn chat_index() {
        crash_and_abort("after:chat index").await;
    }
    #[tokio::test]
    async fn prepare() {
        crash_and_abort("after:prepare").await;
    }
    #[tokio::test]
    async fn backfill_run() {
        crash_and_abort("after:backfill run").await;
    }
    #[tokio::test]
    async fn lookup_indexes() {
        crash_and_abort("after:lookup indexes").await;
    }
    #[tokio::test]
    async fn backfill_waiting_element() {
        crash_and_abort("after:backfill waiting_element").await;
    }
    #[tokio::test]
    async fn backfill_conversation() {
        crash_and_abort("after:backfill conversation").await;
    }
    #[tokio::test]
    async fn backfill_bannedparticipants() {
        crash_and_abort("after:backfill bannedparticipants").await;
    }
    #[tokio::test]
    async fn backfill_courseparticipants() {
        crash_and_abort("after:backfill courseparticipants").await;
    }
    #[tokio::test]
    async fn backfill_gen_settings() {
        crash_and_abort("after:backfill gen_settings").await;
    }
    #[tokio::test]
    async fn indexes() {
        crash_and_abort("after:indexes").await;
    }
    #[tokio::test]
    async fn keys() {
        crash_and_abort("after:keys").await;
    }
    #[tokio::test]
    async fn inside_the_first_batch_of_run() {
        crash_and_abort("inside:run:1").await;
    }
    /// Killed once the keys step added its NOT NULL checks (NOT VALID: they hold for
    /// every new row): the rows the abort restores (collapsed duplicate bans, with no
    /// bot) come back only after those checks went.
    #[tokio::test]
    async fn inside_the_keys_step_after_its_not_null_checks() {
        crash_and_abort("inside:keys:1").await;
    }
    /// Killed once the keys step added its first foreign key, NOT VALID.
    #[tokio::test]
    async fn inside_the_keys_step_after_its_first_foreign_key() {
        crash_and_abort("inside:keys:2").await;
    }
}

/// kill -9 while the first step waits for its locks: nothing is in the legacy tables
/// yet, `status` names the step, and `migrate --abort` leaves the exact legacy
/// database, the tool's own record included.
#[tokio::test]
async fn abort_after_a_kill_in_the_first_step_leaves_the_exact_legacy_database() {
    let (db, c) = legacy_with_anomalies().await;
    let cat = catalog(&c).await;
    let fp = fingerprint::take(&*c).await.unwrap();
    let holder = db.connect().await;
    holder.batch_execute("BEGIN; LOCK TABLE conversation IN SHARE MODE").await.unwrap();
    let mut child = bin()
        .args(["migrate", "--yes", "--skip-backup", "--default-bot", "main_bot", "--database-url", &db.url()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    crate::interrupt::wait_for_a_lock_wait(&c, "conversation").await;
    child.kill().unwrap();
    assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
    holder.batch_execute("COMMIT").await.unwrap();
    wait_for_the_killed_session(&c).await;
    assert_eq!(schema::inspect(&c).await.unwrap().state, SchemaState::MigrationInProgress);
    let st = status(&db);
    assert!(st.contains("Online:    step expand under way"), "{st}");
    let dir = tempfile::tempdir().unwrap();
    let out = cli().args(["migrate", "--abort", "--yes", "--database-url", &db.url(), "--backup-dir"]).arg(dir.path()).assert();
    let o = out.get_output();
    assert!(o.status.success(), "{}\n{}", text(&o.stdout), text(&o.stderr));
    assert_eq!(catalog(&c).await, cat);
    assert_eq!(fingerprint::take(&*c).await.unwrap(), fp);
    assert_eq!(schema::inspect(&c).await.unwrap().state, SchemaState::Legacy);
}
