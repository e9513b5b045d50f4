//! `restore`: into a new database or in place, its refusals (others connected, not a
//! dump, missing, damaged, no confirmation, another database's backup), and the
//! database's own privileges, owner and settings kept.

use super::*;

#[tokio::test]
async fn restore_into_a_new_database_gives_identical_contents() {
    let db = TestDb::legacy().await;
    fill_legacy(&db);
    let (url, password) = url_with_password(&db);
    let tmp = tempfile::tempdir().unwrap();
    let file = take_backup(&url, tmp.path());
    let copy = format!("{}_copy", db.name);
    let _cleanup = DropDatabases(vec![copy.clone()]);

    let out = cli()
        .arg("restore")
        .arg(&file)
        .args(["--into", &copy, "--yes", "--database-url", &url])
        .assert()
        .success();
    let (stdout, stderr) = texts(out.get_output(), &[&password]);
    assert!(stdout.contains(&format!("{copy:?}")), "{stdout}");
    assert!(stderr.contains("a new database"), "{stderr}");

    let original = contents(&db.settings);
    assert!(original.iter().all(|(_, rows, _)| *rows > 0), "every table has rows: {original:?}");
    assert_eq!(contents(&db.settings.with_dbname(&copy)), original);
    let sidecar: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{}.json", file.display())).unwrap()).unwrap();
    let recorded: Fingerprints = serde_json::from_value(sidecar["fingerprints"].clone()).unwrap();
    assert_eq!(fingerprints_of(&db.settings.with_dbname(&copy)), recorded, "the sidecar's fingerprints prove the restore");

    // --into never overwrites.
    let out = cli()
        .arg("restore")
        .arg(&file)
        .args(["--into", &copy, "--yes", "--database-url", &url])
        .assert()
        .code(4);
    let (_, stderr) = texts(out.get_output(), &[&password]);
    assert!(stderr.contains("already exists"), "{stderr}");
}

#[tokio::test]
async fn restore_in_place_replaces_the_database_and_keeps_the_old_one() {
    let db = TestDb::legacy().await;
    let copies = Copies::of(&db);
    fill_legacy(&db);
    let (url, password) = url_with_password(&db);
    let before = contents(&db.settings);
    let tmp = tempfile::tempdir().unwrap();
    let file = take_backup(&url, tmp.path());
    exec(&db.settings, "DELETE FROM conversation; INSERT INTO run (chat_id, botname) VALUES (7, 'после бэкапа')");
    let changed = contents(&db.settings);
    assert_ne!(changed, before);

    let out = cli().arg("restore").arg(&file).args(["--yes", "--json", "--database-url", &url]).assert().success();
    let (stdout, _) = texts(out.get_output(), &[&password]);
    let v: serde_json::Value = serde_json::from_slice(stdout.as_bytes()).unwrap();
    let previous = v["previous_copy"].as_str().expect("the old database is kept").to_string();
    let _cleanup = DropDatabases(vec![previous.clone()]);
    assert!(previous.contains("_before_restore_"), "{previous}");
    assert!(previous.len() <= 63);
    assert_eq!(v["database"], db.name.as_str());

    assert_eq!(contents(&db.settings), before, "the configured database holds the backup");
    assert_eq!(contents(&db.settings.with_dbname(&previous)), changed, "the old copy is as it was");
    assert_eq!(copies.list(), vec![previous.clone()], "no staging database is left over");
}

#[tokio::test]
async fn restore_in_place_reports_the_old_copy_and_how_to_drop_it() {
    let db = TestDb::legacy().await;
    let copies = Copies::of(&db);
    fill_legacy(&db);
    let (url, password) = url_with_password(&db);
    let tmp = tempfile::tempdir().unwrap();
    let file = take_backup(&url, tmp.path());
    let out = cli().arg("restore").arg(&file).args(["--yes", "--database-url", &url]).assert().success();
    let made = copies.list();
    let _cleanup = DropDatabases(made.clone());
    let (stdout, stderr) = texts(out.get_output(), &[&password]);
    assert_eq!(made.len(), 1, "{made:?}");
    assert!(stdout.contains(&format!("kept as {:?}", made[0])), "{stdout}");
    assert!(stdout.contains("DROP DATABASE"), "{stdout}");
    assert!(stderr.contains("will be replaced"), "{stderr}");
}

#[tokio::test]
async fn restore_in_place_refuses_while_others_are_connected_unless_told_to_end_them() {
    let db = TestDb::legacy().await;
    let copies = Copies::of(&db);
    fill_legacy(&db);
    let (url, password) = url_with_password(&db);
    let tmp = tempfile::tempdir().unwrap();
    let file = take_backup(&url, tmp.path());
    let mut bot_settings = db.settings.clone();
    bot_settings.application_name = "bot-under-test".into();
    let bot = conn::connect(&bot_settings).await.unwrap();
    bot.batch_execute("INSERT INTO run (chat_id, botname) VALUES (5, 'live')").await.unwrap();
    let live = contents(&db.settings);

    let out = cli().arg("restore").arg(&file).args(["--yes", "--database-url", &url]).assert().code(5);
    let (_, stderr) = texts(out.get_output(), &[&password]);
    assert!(stderr.contains("1 other session"), "{stderr}");
    assert!(stderr.contains("bot-under-test"), "{stderr}");
    assert!(stderr.contains("--terminate-connections"), "{stderr}");
    assert!(copies.list().is_empty(), "nothing was created");
    assert_eq!(contents(&db.settings), live, "nothing was changed");
    assert!(bot.query_one("SELECT 1", &[]).await.is_ok(), "the other session is untouched");

    let out = cli()
        .arg("restore")
        .arg(&file)
        .args(["--yes", "--terminate-connections", "--database-url", &url])
        .assert()
        .success();
    let made = copies.list();
    let _cleanup = DropDatabases(made.clone());
    let (stdout, _) = texts(out.get_output(), &[&password]);
    assert!(stdout.contains("Ended 1 other session"), "{stdout}");
    assert!(bot.query_one("SELECT 1", &[]).await.is_err(), "the other session was ended");
    assert_eq!(made.len(), 1);
    assert_eq!(contents(&db.settings.with_dbname(&made[0])), live);
    assert_ne!(contents(&db.settings), live);
}

#[tokio::test]
async fn restore_refuses_a_file_that_is_not_a_dump() {
    let db = TestDb::legacy().await;
    let copies = Copies::of(&db);
    let (url, password) = url_with_password(&db);
    let tmp = tempfile::tempdir().unwrap();
    let sql = tmp.path().join("backup.sql");
    std::fs::write(&sql, "-- PostgreSQL database dump\nCREATE TABLE x ();\n").unwrap();
    let out = cli().arg("restore").arg(&sql).args(["--yes", "--database-url", &url]).assert().code(4);
    let (_, stderr) = texts(out.get_output(), &[&password]);
    assert!(stderr.contains(&sql.display().to_string()), "{stderr}");
    assert!(stderr.contains("not a pg_dump custom-format backup"), "{stderr}");
    assert!(stderr.contains("Nothing was changed"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one paragraph: {stderr}");
    assert!(copies.list().is_empty());
}

#[tokio::test]
async fn restore_of_a_missing_file_is_not_found() {
    let db = TestDb::legacy().await;
    let (url, password) = url_with_password(&db);
    let out = cli()
        .args(["restore", "/nonexistent/profochatbot_backup_20240101_000000.dump", "--yes", "--database-url", &url])
        .assert()
        .code(10);
    let (_, stderr) = texts(out.get_output(), &[&password]);
    assert!(stderr.contains("/nonexistent/profochatbot_backup_20240101_000000.dump"), "{stderr}");
    assert!(stderr.contains("profochat-saas backups"), "{stderr}");
}

#[tokio::test]
async fn restore_of_a_damaged_backup_changes_nothing() {
    let db = TestDb::legacy().await;
    let copies = Copies::of(&db);
    fill_legacy(&db);
    exec(
        &db.settings,
        "INSERT INTO conversation (chat_id, json) SELECT g, repeat(md5(g::text), 40) FROM generate_series(1, 3000) g",
    );
    let (url, password) = url_with_password(&db);
    let tmp = tempfile::tempdir().unwrap();
    let file = take_backup(&url, tmp.path());
    let before = contents(&db.settings);
    let bytes = std::fs::read(&file).unwrap();

    // Cut inside the table data: the header reads, the restore fails half-way.
    let cut = tmp.path().join("cut.dump");
    std::fs::write(&cut, &bytes[..bytes.len() * 6 / 10]).unwrap();
    let out = cli().arg("restore").arg(&cut).args(["--yes", "--database-url", &url]).assert().code(8);
    let (_, stderr) = texts(out.get_output(), &[&password]);
    assert!(stderr.contains(&format!("The database {:?} was not touched", db.name)), "{stderr}");
    assert!(stderr.contains("was removed"), "{stderr}");
    assert!(copies.list().is_empty(), "the partial database was dropped");
    assert_eq!(contents(&db.settings), before);

    // Cut inside the header: refused before anything is created.
    let stub = tmp.path().join("stub.dump");
    std::fs::write(&stub, &bytes[..40]).unwrap();
    let out = cli().arg("restore").arg(&stub).args(["--yes", "--database-url", &url]).assert().code(8);
    let (_, stderr) = texts(out.get_output(), &[&password]);
    assert!(stderr.contains("cannot read") && stderr.contains("stub.dump"), "{stderr}");
    assert!(copies.list().is_empty());
}

#[tokio::test]
async fn restore_without_terminal_or_yes_refuses_and_changes_nothing() {
    let db = TestDb::legacy().await;
    let copies = Copies::of(&db);
    fill_legacy(&db);
    let (url, password) = url_with_password(&db);
    let tmp = tempfile::tempdir().unwrap();
    let file = take_backup(&url, tmp.path());
    exec(&db.settings, "DELETE FROM run");
    let now = contents(&db.settings);
    for extra in [vec![], vec!["--into".to_string(), format!("{}_x", db.name)]] {
        let out = cli().arg("restore").arg(&file).args(&extra).args(["--database-url", &url]).assert().code(5);
        let (_, stderr) = texts(out.get_output(), &[&password]);
        assert!(stderr.contains("--yes"), "{stderr}");
        assert!(stderr.contains("no terminal"), "{stderr}");
        assert!(copies.list().is_empty(), "nothing was created");
        assert_eq!(contents(&db.settings), now, "nothing was changed");
    }
}

/// A role for the database's owner and grants; dropped last, once no database names it.
struct RoleGuard(String);

impl Drop for RoleGuard {
    fn drop(&mut self) {
        let name = self.0.clone();
        block_on(async move {
            if let Ok(c) = conn::connect(&admin()).await {
                let _ = c.batch_execute(&format!("DROP ROLE IF EXISTS {}", ident(&name))).await;
            }
        });
    }
}

/// What a database itself holds beyond its contents: owner, privileges (sorted),
/// connection limit, comment, and its settings (per role and for everyone).
fn database_level(name: &str) -> (String, Vec<String>, i32, Option<String>, Vec<String>) {
    let name = name.to_string();
    block_on(async move {
        let c = conn::connect(&admin()).await.expect("admin");
        let r = c
            .query_one(
                "SELECT pg_get_userbyid(d.datdba)::text,
                        coalesce(ARRAY(SELECT a::text FROM unnest(d.datacl) a ORDER BY 1), '{}'),
                        d.datconnlimit,
                        shobj_description(d.oid, 'pg_database'),
                        ARRAY(SELECT coalesce(r.rolname, '*') || ': ' || array_to_string(s.setconfig, ', ')
                                FROM pg_db_role_setting s LEFT JOIN pg_roles r ON r.oid = s.setrole
                               WHERE s.setdatabase = d.oid ORDER BY 1)
                   FROM pg_database d WHERE d.datname = $1",
                &[&name],
            )
            .await
            .expect("the database exists");
        (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4))
    })
}

#[tokio::test]
async fn restore_keeps_the_database_s_privileges_owner_and_settings() {
    let role = RoleGuard(format!("pcs_app_{}_{}", std::process::id(), rand::random::<u16>()));
    let db = TestDb::legacy().await;
    fill_legacy(&db);
    let r = ident(&role.0);
    let d = ident(&db.name);
    block_on({
        let a = admin();
        let sql = format!(
            "CREATE ROLE {r} NOLOGIN;
             REVOKE CONNECT ON DATABASE {d} FROM PUBLIC;
             GRANT CONNECT ON DATABASE {d} TO {r};
             ALTER DATABASE {d} SET search_path TO profochat_legacy, public;
             ALTER DATABASE {d} SET work_mem TO '8MB';
             ALTER ROLE {r} IN DATABASE {d} SET statement_timeout TO '5s';
             ALTER DATABASE {d} CONNECTION LIMIT 40;
             COMMENT ON DATABASE {d} IS 'the bots'' database';
             ALTER DATABASE {d} OWNER TO {r};"
        );
        async move {
            conn::connect(&a).await.expect("admin").batch_execute(&sql).await.expect("database-level setup");
        }
    });
    let original = database_level(&db.name);
    assert!(original.1.iter().all(|a| !a.starts_with("=c") && !a.starts_with("=Tc")), "PUBLIC may not connect: {original:?}");
    let tmp = tempfile::tempdir().unwrap();
    let file = take_backup(&db.url(), tmp.path());

    // Into a new database.
    let into = format!("{}_into", db.name.chars().take(50).collect::<String>());
    let mut cleanup = DropDatabases(vec![into.clone()]);
    cli().arg("restore").arg(&file).args(["--into", &into, "--yes", "--database-url", &db.url()]).assert().success();
    assert_eq!(database_level(&into), original, "restore --into");

    // In place: the server's defaults in between (PUBLIC may connect) are not what comes back.
    block_on({
        let a = admin();
        let sql = format!("ALTER DATABASE {d} RESET ALL; GRANT CONNECT ON DATABASE {d} TO PUBLIC");
        async move {
            conn::connect(&a).await.expect("admin").batch_execute(&sql).await.expect("change");
        }
    });
    assert_ne!(database_level(&db.name), original);
    let out = cli().arg("restore").arg(&file).args(["--yes", "--json", "--database-url", &db.url()]).assert().success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    cleanup.0.push(v["previous_copy"].as_str().expect("previous copy").to_string());
    assert_eq!(database_level(&db.name), original, "restore in place");
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(!stderr.contains("could not"), "{stderr}");
    drop(cleanup);
    drop(db);
}

/// Backups keep the old scripts' names; `backups` shows each one's database, read from
/// the dump's own header (a sidecar is not needed), lists the configured database's by
/// default and every one with --all; `restore` refuses to replace the configured
/// database with another database's backup unless --from-other-database.
#[tokio::test]
async fn backups_name_their_database_and_restore_refuses_another_database_s_backup() {
    let a = TestDb::legacy().await;
    let b = TestDb::legacy().await;
    fill_legacy(&a);
    let (url_a, password) = url_with_password(&a);
    let (url_b, _) = url_with_password(&b);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let dump_a = take_backup(&url_a, dir);
    let dump_b = take_backup(&url_b, dir);
    for f in [&dump_a, &dump_b] {
        let name = f.file_name().unwrap().to_str().unwrap();
        assert!(profochat_saas::backup::time_from_file_name(name).is_some() && name.starts_with("profochatbot_backup_"), "{name}");
    }
    // The header, not the sidecar, says whose it is.
    std::fs::remove_file(profochat_saas::backup::sidecar_path(&dump_b)).unwrap();

    let out = cli().args(["backups", "--backup-dir"]).arg(dir).args(["--database-url", &url_a]).assert().success();
    let (stdout, _) = texts(out.get_output(), &[&password]);
    let name = |p: &Path| p.file_name().unwrap().to_str().unwrap().to_string();
    assert!(stdout.contains(&name(&dump_a)) && stdout.contains(&a.name), "{stdout}");
    assert!(!stdout.contains(&name(&dump_b)) && stdout.contains("1 backup(s) of other databases") && stdout.contains("--all"), "{stdout}");

    let out = cli().args(["backups", "--all", "--json", "--backup-dir"]).arg(dir).args(["--database-url", &url_a]).assert().success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let dbs: Vec<(String, String)> = v["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap().to_string(), e["database"].as_str().unwrap_or("?").to_string()))
        .collect();
    assert!(dbs.contains(&(name(&dump_a), a.name.clone())) && dbs.contains(&(name(&dump_b), b.name.clone())), "{dbs:?}");

    // B's backup does not replace A unless asked.
    let before = contents(&a.settings);
    let out = cli().arg("restore").arg(&dump_b).args(["--yes", "--database-url", &url_a]).assert().code(5);
    let (_, stderr) = texts(out.get_output(), &[&password]);
    assert!(stderr.contains(&b.name) && stderr.contains(&a.name) && stderr.contains("--from-other-database"), "{stderr}");
    assert_eq!(contents(&a.settings), before, "nothing was changed");
    let out = cli()
        .arg("restore")
        .arg(&dump_b)
        .args(["--yes", "--json", "--from-other-database", "--database-url", &url_a])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let _cleanup = DropDatabases(vec![v["previous_copy"].as_str().unwrap().to_string()]);
    assert_eq!(contents(&a.settings), contents(&b.settings), "A holds B's backup now");
    // Its own backup restores without the flag.
    let out = cli().arg("restore").arg(&dump_a).args(["--yes", "--json", "--database-url", &url_a]).assert().success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let _cleanup_own = DropDatabases(vec![v["previous_copy"].as_str().unwrap().to_string()]);
    assert_eq!(contents(&a.settings), before);
}
