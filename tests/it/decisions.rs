//! The operator's decisions: a default bot that is none of the legacy bot names is
//! refused (a database that names no bot takes any name, and says so); `plan`'s
//! closing line is the `migrate` command with every flag it was given; the README's
//! example names a bot the plan prints.

use profochat_saas::migrate::{self, MigrateOptions};
use profochat_saas::report::Silent;

use crate::harness::{cli, TestDb};
use crate::migrate::{catalog, legacy_with_anomalies};

fn stdout(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stdout).into_owned()
}

fn stderr(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stderr).into_owned()
}

/// Words of a command line as a POSIX shell splits them (single quotes only).
fn shell_words(line: &str) -> Vec<String> {
    let mut words = vec![];
    let mut word = String::new();
    let mut quoted = false;
    let mut in_word = false;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                in_word = true;
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

#[tokio::test]
async fn a_default_bot_that_is_none_of_the_legacy_names_is_refused_listing_them() {
    let (db, mut c) = legacy_with_anomalies().await;
    let before = catalog(&c).await;
    let names: Vec<String> = c.query(include_str!("../../sql/migrate/bot_names.sql"), &[]).await.unwrap().iter().map(|r| r.get(0)).collect();
    assert!(names.len() > 1);
    let out = stdout(&cli().args(["plan", "--default-bot", "mian_bot", "--database-url", &db.url()]).assert().code(5));
    assert!(out.contains("Decisions needed") && out.contains("\"mian_bot\""), "{out}");
    assert!(!out.contains("Ready:"), "{out}");
    for (how, args, env) in [
        ("--default-bot", vec!["--default-bot", "mian_bot"], None),
        ("BOT_NAME", vec![], Some("mian_bot")),
    ] {
        let mut cmd = cli();
        cmd.args(["migrate", "--yes", "--skip-backup", "--database-url", &db.url()]).args(&args);
        if let Some(v) = env {
            cmd.env("BOT_NAME", v);
        }
        let err = stderr(&cmd.assert().code(5));
        assert!(err.contains("\"mian_bot\"") && err.contains(&format!("none of the {} bot names", names.len())), "{how}: {err}");
        for b in &names {
            assert!(err.contains(&format!("{b:?}")), "{how}: the names are listed: {err}");
        }
        assert!(err.contains("Nothing was changed"), "{err}");
    }
    let opts = MigrateOptions {
        default_bot: Some("mian_bot".into()),
        index_jobs: 2,
        ..MigrateOptions::default()
    };
    let e = migrate::migrate(&mut c, &opts, &Silent).await.unwrap_err();
    assert_eq!(e.exit_status(), profochat_saas::ExitStatus::Refused, "{e}");
    assert_eq!(catalog(&c).await, before);
}

#[tokio::test]
async fn a_database_that_names_no_bot_takes_any_name_and_says_so() {
    let db = TestDb::legacy().await;
    let c = db.connect().await;
    c.batch_execute(
        "INSERT INTO run (chat_id, username, botname, course_id) VALUES (1, 'a', NULL, 'intro'), (2, 'b', NULL, 'intro');
         INSERT INTO gen_settings (id, bot_name, s_key, s_value) VALUES (1, NULL, 'allowed', '1');",
    )
    .await
    .unwrap();
    let out = stdout(&cli().args(["plan", "--default-bot", "the_only_bot", "--database-url", &db.url()]).assert().success());
    assert!(out.contains("the legacy tables name no bot"), "{out}");
    assert!(out.contains("Ready: `profochat-saas migrate"), "{out}");
    cli()
        .args(["migrate", "--yes", "--skip-backup", "--default-bot", "the_only_bot", "--database-url", &db.url()])
        .assert()
        .success();
    let bots: Vec<String> = c.query("SELECT bot_name FROM bot", &[]).await.unwrap().iter().map(|r| r.get(0)).collect();
    assert_eq!(bots, vec!["the_only_bot".to_string()]);
}

#[tokio::test]
async fn the_ready_line_repeats_every_flag_and_can_be_pasted() {
    let (db, c) = legacy_with_anomalies().await;
    let url = db.url();
    let out = stdout(
        &cli()
            .args(["plan", "--default-bot", "main_bot", "--orphans", "keep", "--database-url", &url])
            .assert()
            .success(),
    );
    let line = out.lines().find(|l| l.starts_with("Ready:")).unwrap_or_else(|| panic!("no Ready line: {out}"));
    let command = line.split('`').nth(1).unwrap_or_else(|| panic!("{line}"));
    let words = shell_words(command);
    assert_eq!(words, ["profochat-saas", "migrate", "--database-url", &url, "--default-bot", "main_bot", "--orphans", "keep"], "{command}");
    // Pasted (with what a script adds: no question, no backup), it does what the plan said.
    let words = &words[1..];
    cli().args(words).args(["--yes", "--skip-backup"]).assert().success();
    let options: serde_json::Value = c.query_one("SELECT options FROM profochat_saas.migration", &[]).await.unwrap().get(0);
    assert_eq!(options["orphans"], "keep");
    assert_eq!(options["default_bot"], "main_bot");
}

#[tokio::test]
async fn the_readme_example_names_a_bot_the_plan_prints() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let mut names: Vec<String> = readme
        .split("--default-bot ")
        .skip(1)
        .filter_map(|rest| rest.split_whitespace().next())
        .filter(|n| !n.starts_with("NAME") && !n.contains('`'))
        .map(str::to_string)
        .collect();
    names.sort();
    names.dedup();
    assert!(!names.is_empty(), "the README shows --default-bot with a name");
    // The database the README's rehearsal seeds.
    let db = TestDb::empty().await;
    cli().args(["seed-legacy", "--yes", "--runs", "100", "--database-url", &db.url()]).assert().success();
    let out = stdout(&cli().args(["plan", "--database-url", &db.url()]).assert().success());
    for n in &names {
        assert!(out.contains(n.as_str()), "the plan does not print the README's bot {n:?}:\n{out}");
        let out = stdout(&cli().args(["plan", "--default-bot", n, "--database-url", &db.url()]).assert().success());
        let line = out.lines().find(|l| l.starts_with("Ready:")).unwrap_or_else(|| panic!("not ready with --default-bot {n}: {out}"));
        assert!(shell_words(line.split('`').nth(1).unwrap()).ends_with(&["--default-bot".to_string(), n.clone()]), "{line}");
    }
}
