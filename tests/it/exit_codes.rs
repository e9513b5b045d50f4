//! One exit code per outcome, as documented: a rolled-back migration is 7 whatever
//! statement failed, bad input to `bot set-token` is 2, and with `--json` every error
//! is also a JSON object on standard output.

use serde_json::Value;

use crate::harness::{cli, TestDb};
use crate::migrate::{catalog, legacy_with_anomalies};

fn texts(a: &assert_cmd::assert::Assert) -> (String, String) {
    let o = a.get_output();
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// The JSON error object on standard output: its kind and exit code.
fn json_error(a: &assert_cmd::assert::Assert) -> (String, i64, String) {
    let (out, err) = texts(a);
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {out:?}\nstderr: {err}"));
    let e = &v["error"];
    (
        e["kind"].as_str().unwrap_or_default().to_string(),
        e["exit_code"].as_i64().unwrap_or(-1),
        e["message"].as_str().unwrap_or_default().to_string(),
    )
}

/// A DBA's event trigger refuses the schema the migration creates first: a plain
/// failed statement inside the one migration transaction of `--offline`, not a phase
/// of its own.
#[tokio::test]
async fn a_migration_that_fails_and_is_rolled_back_is_always_exit_7() {
    let (db, c) = legacy_with_anomalies().await;
    c.batch_execute(
        "CREATE FUNCTION no_new_schemas() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'schema changes are frozen tonight'; END $$;
         CREATE EVENT TRIGGER no_new_schemas ON ddl_command_start WHEN TAG IN ('CREATE SCHEMA') EXECUTE FUNCTION no_new_schemas();",
    )
    .await
    .unwrap();
    let before = catalog(&c).await;
    let a = cli()
        .args(["migrate", "--offline", "--yes", "--skip-backup", "--default-bot", "main_bot", "--database-url", &db.url()])
        .assert()
        .code(7);
    let (_, err) = texts(&a);
    assert!(err.contains("frozen tonight") && err.contains("rolled back"), "{err}");
    assert_eq!(catalog(&c).await, before, "nothing changed");

    let a = cli()
        .args(["migrate", "--offline", "--json", "--yes", "--skip-backup", "--default-bot", "main_bot", "--database-url", &db.url()])
        .assert()
        .code(7);
    let (kind, code, message) = json_error(&a);
    assert_eq!((kind.as_str(), code), ("rolled_back", 7));
    assert!(message.contains("frozen tonight"), "{message}");

    // A failing phase is 7 too, as before.
    cli()
        .args(["migrate", "--offline", "--yes", "--skip-backup", "--default-bot", "main_bot", "--fail-in-phase", "data", "--database-url", &db.url()])
        .assert()
        .code(7);
    assert_eq!(catalog(&c).await, before);
}

#[tokio::test]
async fn bad_input_to_set_token_is_exit_2() {
    let s = crate::ops::setup().await;
    let url = s.db.url();
    for (stdin, extra) in [
        ("\n", vec![]),
        ("not a token\n", vec![]),
        ("123:short\n", vec![]),
        ("", vec!["--token-env", "PCS_TOKEN_NOT_SET"]),
    ] {
        let mut args = vec!["bot", "set-token", "--yes", "--bot", "alpha_bot", "--database-url", &url];
        args.extend(extra.iter().copied());
        let a = cli().args(&args).write_stdin(stdin).assert().code(2);
        let (_, err) = texts(&a);
        assert!(err.contains("keeps its token") || err.contains("Nothing was done"), "{stdin:?}: {err}");
    }
}

#[tokio::test]
async fn with_json_every_error_is_a_json_object_on_standard_output() {
    let empty = TestDb::empty().await;
    let legacy = TestDb::legacy().await;
    // Settings that cannot be read (2), a database in the wrong state (4), a decision
    // that is missing (5), a name that does not exist (10), a command line clap refuses (2).
    let cases: Vec<(Vec<String>, i32, &str)> = vec![
        (vec!["status".into(), "--json".into(), "--database-url".into(), "postgresql://bob:p@ss@localhost/x".into()], 2, "config"),
        (vec!["plan".into(), "--json".into(), "--database-url".into(), empty.url()], 4, "state"),
        (vec!["validate".into(), "--json".into(), "--database-url".into(), legacy.url()], 4, "state"),
        (vec!["restore".into(), "/nonexistent/x.dump".into(), "--json".into(), "--yes".into(), "--database-url".into(), legacy.url()], 10, "not_found"),
        (vec!["migrate".into(), "--json".into(), "--no-such-flag".into()], 2, "usage"),
    ];
    for (args, code, kind) in cases {
        let a = cli().args(&args).assert().code(code);
        let (k, c, message) = json_error(&a);
        assert_eq!((k.as_str(), c), (kind, code as i64), "{args:?}");
        assert!(!message.is_empty(), "{args:?}");
        assert!(!message.contains("p@ss"), "{message}");
    }
    // Without --json, standard output stays empty on an error.
    let a = cli().args(["plan", "--database-url", &empty.url()]).assert().code(4);
    assert!(texts(&a).0.is_empty());
}

/// A standard output that is closed (`| head -1` whose reader has ended): every command
/// ends quietly with 141 (as a program ended by SIGPIPE, like git), no panic and no
/// "Broken pipe" error; the pipe here is closed before the command writes, so the test
/// never depends on timing.
#[tokio::test]
async fn a_closed_standard_output_ends_quietly_with_141() {
    use std::os::fd::{FromRawFd, OwnedFd};
    let (legacy, _c) = legacy_with_anomalies().await;
    let migrated = crate::ops::setup().await;
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().to_str().unwrap().to_string();
    std::fs::write(dir.path().join("profochatbot_backup_20260101_000000.dump"), b"PGDMP").unwrap();
    let cases: Vec<Vec<String>> = vec![
        vec!["validate".into(), "--database-url".into(), migrated.db.url()],
        vec!["validate".into(), "--json".into(), "--database-url".into(), migrated.db.url()],
        vec!["status".into(), "--database-url".into(), migrated.db.url()],
        vec!["plan".into(), "--default-bot".into(), "main_bot".into(), "--database-url".into(), legacy.url()],
        vec!["plan".into(), "--json".into(), "--default-bot".into(), "main_bot".into(), "--database-url".into(), legacy.url()],
        vec!["backups".into(), "--all".into(), "--backup-dir".into(), backups.clone()],
        vec!["token".into(), "list".into(), "--database-url".into(), migrated.db.url()],
        vec!["--help".into()],
    ];
    for args in cases {
        let mut fds = [0i32; 2];
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        drop(read);
        let mut cmd = crate::harness::bin();
        cmd.args(&args).stdout(std::process::Stdio::from(write)).stderr(std::process::Stdio::piped());
        let out = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked") && !err.contains("Broken pipe") && !err.contains("error"), "{args:?}: {err}");
        // --help is clap's: it ends quietly too, with its own status.
        if args[0] != "--help" {
            assert_eq!(out.status.code(), Some(141), "{args:?}: {err}");
        }
    }
}

/// --json and --database-url are global: before the subcommand as after it.
#[tokio::test]
async fn json_and_database_url_go_before_or_after_the_subcommand() {
    let db = TestDb::legacy().await;
    for args in [
        vec!["--json".to_string(), "--database-url".into(), db.url(), "status".into()],
        vec!["--json".into(), "status".into(), "--database-url".into(), db.url()],
        vec!["status".into(), "--json".into(), "--database-url".into(), db.url()],
    ] {
        let a = cli().args(&args).assert().success();
        let (out, err) = texts(&a);
        let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {out}\n{err}"));
        assert_eq!(v["state"], "legacy", "{args:?}: {v}");
    }
}

/// The README's table of exit codes lists every code the binary uses.
#[test]
fn the_readme_lists_every_exit_code() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let table = &readme[readme.find("## Exit codes").expect("the section")..];
    let table = &table[..table[3..].find("\n## ").map(|i| i + 3).unwrap_or(table.len())];
    let listed: Vec<u8> = table.lines().filter_map(|l| l.strip_prefix("| ")?.split(' ').next()?.parse().ok()).collect();
    use profochat_saas::ExitStatus::*;
    for s in [Success, Failure, Usage, Connection, State, Refused, ValidationFailed, RolledBack, Tool, WouldLoseData, NotFound, TokenRefused, Unfinished, Stopped, Interrupted] {
        assert!(listed.contains(&s.code()), "{s:?} ({}) is not in the README's table: {listed:?}", s.code());
    }
    assert!(listed.contains(&141), "closed standard output: {listed:?}");
}
