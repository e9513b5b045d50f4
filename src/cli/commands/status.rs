//! `status`: legacy, partly migrated or migrated; version; when; with the evidence.

use std::process::ExitCode;

use anyhow::Result;
use profochat_saas::schema::{self, SchemaState};

use crate::cli::{connect, output, ConnArgs, OutputArgs};

pub async fn run(conn: &ConnArgs, out: &OutputArgs) -> Result<ExitCode> {
    let db = connect(conn).await?;
    let st = schema::inspect(&db).await?;
    let legacy = if st.state.is_migrated() && !st.finished() { Some(profochat_saas::legacy::inspect(&db.client).await?) } else { None };
    let mut role_rights = vec![];
    if let Some(l) = &legacy {
        for role in &l.roles {
            role_rights.push(profochat_saas::legacy::role_rights(&db.client, role).await?);
        }
    }
    let online = if st.state == SchemaState::MigrationInProgress { profochat_saas::migrate::online::progress(&db.client).await? } else { None };
    // An online abort under way: where it stands.
    let undo = match &st.last_migration {
        Some(m) if st.state == SchemaState::MigrationInProgress && m.status() == Some(profochat_saas::state::MigrationStatus::Aborting) => {
            profochat_saas::rollback::online::progress(&db.client, m.migration_id).await?
        }
        _ => None,
    };
    let cleanup = if st.state.is_migrated() { profochat_saas::schema::leftovers::leftovers(&db.client).await? } else { vec![] };
    if out.json {
        let mut v = serde_json::to_value(&st)?;
        v["target"] = db.settings.masked_url().into();
        v["finished"] = st.finished().into();
        if let Some(p) = &online {
            v["online_progress"] = serde_json::to_value(p)?;
            v["online_progress"]["where"] = p.describe().into();
        }
        if !cleanup.is_empty() {
            v["online_cleanup_left"] = serde_json::to_value(&cleanup)?;
        }
        if let Some(u) = &undo {
            v["undo_progress"] = serde_json::to_value(u)?;
            v["undo_progress"]["where"] = u.describe().into();
        }
        if let Some(l) = &legacy {
            v["legacy_interface"] = serde_json::to_value(l)?;
            v["legacy_interface"]["in_place"] = l.in_place().into();
            // Only while it exists: after `finish` no URL leads to it.
            v["legacy_interface"]["url"] = if l.in_place() { profochat_saas::legacy::legacy_url(&db.settings).into() } else { serde_json::Value::Null };
            v["legacy_interface"]["role_rights"] = serde_json::to_value(&role_rights)?;
        }
        output::print_json(&v)?;
    } else {
        println!("Database:  {}", db.settings.display_target());
        println!("Server:    PostgreSQL {}{}", st.server_version, if db.tls { " (TLS)" } else { "" });
        if !st.upstream_since.is_empty() {
            println!(
                "State:     migrated; upstream migrations {} applied since{}",
                st.upstream_since.join(", "),
                if st.finished() { " (finished: legacy interface and compatibility layer removed)" } else { "" }
            );
        } else if st.finished() {
            println!("State:     {}, finished (legacy interface and compatibility layer removed)", st.state.describe());
        } else {
            println!("State:     {}", st.state.describe());
        }
        if let Some(l) = &legacy {
            println!("Legacy interface: {}", l.describe());
            if l.in_place() {
                println!("  the legacy bot connects with: {}", profochat_saas::legacy::legacy_url(&db.settings));
            }
            for r in &role_rights {
                println!("  role {:?}: {}", r.role, r.describe());
            }
        }
        if let Some(m) = &st.last_migration {
            println!(
                "Migration: #{} to schema version {} by profochat-saas {}, {} (started {}{})",
                m.migration_id,
                m.schema_version,
                m.tool_version,
                m.status.replace('_', " "),
                m.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
                m.finished_at.map(|f| format!(", finished {}", f.format("%Y-%m-%d %H:%M:%S UTC"))).unwrap_or_default()
            );
        }
        if let Some(p) = &online {
            println!("Online:    {}", p.describe());
        }
        if let Some(u) = &undo {
            println!("Abort:     {}; `{}` resumes it", u.describe(), u.resumed_by());
        }
        if !cleanup.is_empty() {
            println!(
                "Online:    step {} under way: {} left; `profochat-saas migrate` finishes it",
                profochat_saas::state::OnlineStep::Cleanup.name(),
                cleanup.join(", ")
            );
        }
        println!();
        println!("Evidence:");
        let list = |v: &[String]| if v.is_empty() { "none".to_string() } else { v.join(", ") };
        println!("  legacy tables found:    {}", list(&st.legacy_tables_found));
        if !st.legacy_tables_missing.is_empty() {
            println!("  legacy tables missing:  {}", list(&st.legacy_tables_missing));
        }
        println!("  SaaS tables found:      {}", list(&st.new_tables_found));
        if !st.new_tables_found.is_empty() || !st.added_columns_found.is_empty() {
            println!("  SaaS tables missing:    {}", list(&st.new_tables_missing));
            println!("  added columns found:    {} of {}", st.added_columns_found.len(), st.added_columns_found.len() + st.added_columns_missing.len());
            if !st.added_columns_missing.is_empty() {
                println!("  added columns missing:  {}", list(&st.added_columns_missing));
            }
        }
        if !st.secondary_indexes_missing.is_empty() {
            println!("  indexes missing:        {}", list(&st.secondary_indexes_missing));
        }
        if !st.secondary_indexes_invalid.is_empty() {
            println!("  indexes invalid:        {}", list(&st.secondary_indexes_invalid));
        }
        if !st.secondary_indexes_different.is_empty() {
            println!("  indexes of an older shape: {}", list(&st.secondary_indexes_different));
        }
        if !st.upgrade_needed.is_empty() {
            println!("  differs from the current target ({}):", st.upgrade_needed.len());
            for d in st.upgrade_needed.iter().take(12) {
                println!("    - {d}");
            }
            if st.upgrade_needed.len() > 12 {
                println!("    … and {} more (`profochat-saas plan` lists them all)", st.upgrade_needed.len() - 12);
            }
        }
        if !st.changed_by_upstream.is_empty() {
            println!("  changed by upstream's migrations since 0003 (information; upstream's tooling manages the schema now):");
            for d in st.changed_by_upstream.iter().take(12) {
                println!("    - {d}");
            }
            if st.changed_by_upstream.len() > 12 {
                println!("    … and {} more", st.changed_by_upstream.len() - 12);
            }
        }
        if st.other_tables_count > 0 {
            println!(
                "  other tables:           {}{}",
                st.other_tables.join(", "),
                if st.other_tables_count > st.other_tables.len() { format!(" (and {} more)", st.other_tables_count - st.other_tables.len()) } else { String::new() }
            );
        }
        println!();
        if !st.upstream_since.is_empty() {
            println!(
                "Next: `profochat-saas validate` checks what still holds; `migrate` has nothing to do here. Rolling back across upstream's \
                 migrations is a restore of the backup taken before them (`profochat-saas backups`, `profochat-saas restore FILE`)."
            );
        } else if st.finished() {
            println!("Next: run `profochat-saas validate` to check it; the upstream project's later migrations apply from here.");
        } else {
            println!("Next: {}", next_step(st.state));
        }
    }
    if matches!(st.state, SchemaState::Empty | SchemaState::NotProfochat | SchemaState::IncompleteLegacy) {
        let found = if st.other_tables.is_empty() {
            String::new()
        } else {
            format!(" (it holds other tables: {})", st.other_tables.join(", "))
        };
        return Err(profochat_saas::Error::state(
            format!("{} is {}{found}", db.settings.display_target(), st.state.describe()),
            next_step(st.state),
        )
        .into());
    }
    Ok(ExitCode::SUCCESS)
}

fn next_step(state: SchemaState) -> &'static str {
    match state {
        SchemaState::Empty => "Point --database-url / DATABASE_URL at the ProfoChatBot database (or try `profochat-saas demo`).",
        SchemaState::NotProfochat => "Point --database-url / DATABASE_URL at the right one.",
        SchemaState::IncompleteLegacy => "Restore the missing legacy tables (or the whole database from a backup) before migrating.",
        SchemaState::Legacy => "Run `profochat-saas plan` to see what the migration will do, then `profochat-saas migrate`.",
        SchemaState::PartlyMigrated => "Run `profochat-saas plan` to see what is left, then `profochat-saas migrate` to finish it.",
        SchemaState::IndexesPending => "Run `profochat-saas migrate` again to finish building the indexes.",
        SchemaState::MigrationInProgress => {
            "If no `profochat-saas migrate` is running, run it again to resume where it stopped (the legacy bot keeps working meanwhile), \
             or `profochat-saas migrate --abort` to return to the legacy database."
        }
        SchemaState::Outdated => {
            "Run `profochat-saas plan` to see what differs, then `profochat-saas migrate`: it gives the keys and indexes upstream's names and shapes, \
             records upstream's migrations and installs the enrolment function; the data stays as it is."
        }
        SchemaState::Migrated => {
            "Run `profochat-saas validate` to check it; once the application uses the new schema and the legacy bot is stopped, `profochat-saas finish`."
        }
    }
}

/// `legacy-role ROLE`: the legacy bot's role finds the legacy interface first.
pub async fn legacy_role(role: &str, unset: bool, conn: &ConnArgs, confirm: &crate::cli::ConfirmArgs, out: &OutputArgs) -> Result<ExitCode> {
    let db = connect(conn).await?;
    let st = schema::inspect(&db).await?;
    let legacy = profochat_saas::legacy::inspect(&db.client).await?;
    let usable = st.state.is_migrated() && legacy.in_place();
    if !unset && st.finished() {
        return Err(profochat_saas::Error::state(
            format!("{} is finished: `finish` removed the legacy interface (schema profochat_legacy)", db.settings.display_target()),
            "The legacy bot cannot use this database any more; it works on the new schema, or on a restored backup.",
        )
        .into());
    }
    if !unset && !usable {
        return Err(profochat_saas::Error::state(
            format!("{} has no legacy interface (schema profochat_legacy): it is {}", db.settings.display_target(), st.state.describe()),
            "Run `profochat-saas migrate` first; the legacy interface is part of it.",
        )
        .into());
    }
    let what = if unset {
        format!("Reset the search_path of role {role:?} in this database to the server's default?")
    } else {
        format!("Set the search_path of role {role:?} in this database to \"{}\"?", profochat_saas::legacy::SEARCH_PATH)
    };
    output::confirm(&what, confirm.yes).await?;
    profochat_saas::legacy::set_role(&db.client, role, unset).await?;
    if out.json {
        output::print_json(&serde_json::json!({ "role": role, "search_path": if unset { None } else { Some(profochat_saas::legacy::SEARCH_PATH) } }))?;
    } else if unset {
        println!("Role {role:?}: search_path reset and its rights on the public tables given back; its new connections see the public tables.");
    } else {
        println!(
            "Role {role:?}: search_path = {} in this database; the legacy bot's new connections use the legacy interface (restart the bot to reconnect).",
            profochat_saas::legacy::SEARCH_PATH
        );
    }
    if !out.json {
        let rights = profochat_saas::legacy::role_rights(&db.client, role).await?;
        println!("Role {role:?} now: {}", rights.describe());
        if !unset && !rights.public_reachable().is_empty() {
            println!(
                "warning: role {role:?} still reaches public tables through ownership, PUBLIC or a role it belongs to: revoke those rights by hand for it to reach account 1's legacy view only."
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
