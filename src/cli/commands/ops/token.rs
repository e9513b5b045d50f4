//! `token create` (one token, or `--public-for-all`), `token list`, `token revoke`,
//! `token delete`.

use std::process::ExitCode;

use anyhow::Result;
use profochat_saas::ops::{self, CreatedToken, SkipReason, TokenOptions, TokenType};

use super::{connect_migrated, when};
use crate::cli::{output, TokenCommand};

fn limits(max_uses: Option<i32>, expires_at: Option<chrono::NaiveDateTime>) -> String {
    let uses = match max_uses {
        Some(n) => format!("at most {n} use(s)"),
        None => "unlimited uses".into(),
    };
    match expires_at {
        Some(t) => format!("{uses}, expires {}", t.format("%Y-%m-%d %H:%M")),
        None => format!("{uses}, never expires"),
    }
}

fn print_created(t: &CreatedToken) {
    println!(
        "Token #{} ({}) for deployment {}: course {:?} on bot {} ({}); {}.",
        t.token_id,
        t.token_type,
        t.deployment_id,
        t.course_id,
        t.bot_name,
        t.environment.as_deref().unwrap_or("-"),
        limits(t.max_uses, t.expires_at)
    );
    match (&t.deep_link, &t.deep_link_note) {
        (Some(link), _) => println!("  {}", link.expose()),
        (None, Some(note)) => println!("  {note}"),
        (None, None) => println!("  payload: {}", t.payload.expose()),
    }
}

/// How the application enrols through a created token, in SQL.
fn print_enrol_example(t: &CreatedToken) {
    println!("  The application enrols a chat that sends /start {} to {} with:", t.payload.expose(), t.bot_name);
    for line in t.enrol_sql.expose().lines() {
        println!("    {line}");
    }
}

pub async fn token(c: TokenCommand) -> Result<ExitCode> {
    match c {
        TokenCommand::Create { conn, deployment, token_type: tt, max_uses, expires_in, public_for_all, confirm, out } => {
            let expires_in = expires_in.as_deref().map(ops::parse_duration).transpose()?;
            let options = TokenOptions {
                max_uses,
                expires_in,
                created_by: None,
            };
            let mut db = connect_migrated(&conn).await?;
            if public_for_all {
                if tt != TokenType::Public {
                    return Err(profochat_saas::Error::refused(
                        "--public-for-all creates public tokens only",
                        "Leave out --type, or create other kinds one deployment at a time with --deployment ID.",
                    )
                    .into());
                }
                output::confirm("Create a public enrollment token for every active deployment that has none?", confirm.yes).await?;
                let result = ops::create_public_for_all(&mut db, options).await?;
                if out.json {
                    output::print_json(&result)?;
                    return Ok(ExitCode::SUCCESS);
                }
                for t in &result.created {
                    print_created(t);
                }
                let has_token = result.skipped.iter().filter(|s| matches!(s.reason, SkipReason::HasPublicToken { .. })).count();
                let inactive = result.skipped.iter().filter(|s| s.reason == SkipReason::DeploymentInactive).count();
                println!(
                    "Created {} public token(s); skipped {has_token} deployment(s) that already have one and {inactive} inactive deployment(s).",
                    result.created.len()
                );
                if let Some(first) = result.created.first() {
                    println!("Applications enrol through any of them in SQL, for example:");
                    print_enrol_example(first);
                }
                if !result.weak_token_ids.is_empty() {
                    let ids: Vec<String> = result.weak_token_ids.iter().map(|i| format!("#{i}")).collect();
                    eprintln!(
                        "{} {} active public token(s) are guessable or fit no deep link ({}); they still enrol anyone who knows them. Revoke them with `profochat-saas token revoke ID` once the new links are shared.",
                        output::warning_label(),
                        ids.len(),
                        ids.join(", ")
                    );
                }
                return Ok(ExitCode::SUCCESS);
            }
            let Some(deployment) = deployment else {
                return Err(profochat_saas::Error::refused("no deployment was named", "Give --deployment ID, or --public-for-all.").into());
            };
            output::confirm(&format!("Create a {} enrollment token for deployment {deployment}?", format!("{tt:?}").to_lowercase()), confirm.yes).await?;
            let created = ops::create_token(&db.client, deployment, tt, options).await?;
            if out.json {
                output::print_json(&created)?;
            } else {
                print_created(&created);
                print_enrol_example(&created);
            }
            Ok(ExitCode::SUCCESS)
        }
        TokenCommand::List { conn, deployment, out } => {
            let db = connect_migrated(&conn).await?;
            let tokens = ops::list_tokens(&db.client, deployment).await?;
            if out.json {
                output::print_json(&tokens)?;
                return Ok(ExitCode::SUCCESS);
            }
            if tokens.is_empty() {
                println!("No enrollment tokens. `profochat-saas token create --deployment ID` creates one.");
                return Ok(ExitCode::SUCCESS);
            }
            let mut t = output::table(&["ID", "Deployment", "Course", "Bot", "Type", "Uses", "Expires", "State"]);
            for k in &tokens {
                t.add_row(vec![
                    k.token_id.to_string(),
                    k.deployment_id.to_string(),
                    k.course_id.clone(),
                    k.bot_name.clone(),
                    k.token_type.clone().unwrap_or_else(|| "-".into()),
                    match k.max_uses {
                        Some(m) => format!("{}/{m}", k.current_uses),
                        None => k.current_uses.to_string(),
                    },
                    when(k.expires_at),
                    format!("{}{}", k.state.as_str(), if k.strong { "" } else { ", weak" }),
                ]);
            }
            println!("{t}");
            println!();
            println!("Deep links:");
            for k in &tokens {
                match (&k.deep_link, &k.deep_link_note) {
                    (Some(link), _) => println!("  #{}  {}", k.token_id, link.expose()),
                    (None, note) => println!("  #{}  ({})", k.token_id, note.as_deref().unwrap_or("no deep link")),
                }
            }
            if tokens.iter().any(|k| !k.strong && k.state == ops::TokenState::Active) {
                println!();
                println!("\"weak\": guessable (shorter than 128 random bits) or too long for a link; replace it with a new token and revoke it.");
            }
            Ok(ExitCode::SUCCESS)
        }
        TokenCommand::Revoke { conn, token_id, confirm, out } => {
            let db = connect_migrated(&conn).await?;
            let k = ops::get_token(&db.client, token_id).await?;
            output::confirm(&format!("Revoke {}? Its links stop enrolling.", describe_token(&k)), confirm.yes).await?;
            let r = ops::revoke_token(&db.client, token_id).await?;
            if out.json {
                output::print_json(&r)?;
                return Ok(ExitCode::SUCCESS);
            }
            if r.was_active {
                println!("Revoked token #{} of deployment {}: its links enrol nobody from now on; runs it enrolled stay.", r.token_id, r.deployment_id);
            } else {
                println!("Token #{} of deployment {} was already revoked; nothing changed.", r.token_id, r.deployment_id);
            }
            Ok(ExitCode::SUCCESS)
        }
        TokenCommand::Delete { conn, token_id, confirm, out } => {
            let db = connect_migrated(&conn).await?;
            let k = ops::get_token(&db.client, token_id).await?;
            output::confirm(
                &format!(
                    "Delete {} for good: its links stop enrolling, the runs it enrolled stay without the link to it \
                     (`token revoke` would keep the row)?",
                    describe_token(&k)
                ),
                confirm.yes,
            )
            .await?;
            let d = ops::delete_token(&db.client, token_id).await?;
            if out.json {
                output::print_json(&d)?;
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "Deleted token #{} of deployment {} (used {} time(s)); {} run(s) it enrolled stay, with token_id NULL and \
                 deleted_enrollment_token_id {} in their metadata.",
                d.token_id, d.deployment_id, d.uses, d.runs_detached, d.token_id
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// "enrollment token #7 (public, deployment 3: course "intro" on bot main_bot, used 2 time(s))",
/// never its value.
fn describe_token(k: &ops::TokenInfo) -> String {
    format!(
        "enrollment token #{} ({}, deployment {}: course {:?} on bot {}, used {} time(s))",
        k.token_id,
        k.token_type.as_deref().unwrap_or("-"),
        k.deployment_id,
        k.course_id,
        k.bot_name,
        k.current_uses
    )
}
