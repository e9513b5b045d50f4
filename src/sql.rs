//! SQL text helpers. Every identifier that is built at run time goes through
//! [`ident`]; every literal through [`literal`] or a bind parameter.

/// Quotes an identifier for PostgreSQL (`"na""me"`), whatever it holds.
pub fn ident(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Quotes a string literal (`'it''s'`), for the rare statement that cannot take
/// bind parameters (DDL, `CREATE DATABASE`). Backslashes need no escaping with
/// `standard_conforming_strings`, which is on since PostgreSQL 9.1; `E''` is never used.
pub fn literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if c == '\'' {
            out.push('\'');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// The legacy schema exactly as production has it (used by `seed-legacy`, tests and `demo`).
pub const LEGACY_SCHEMA: &str = include_str!("../sql/legacy/schema.sql");

/// The eight legacy tables, in the order reports list them.
pub const LEGACY_TABLES: [&str; 8] = [
    "conversation",
    "run",
    "waiting_element",
    "course",
    "course_element",
    "courseparticipants",
    "bannedparticipants",
    "gen_settings",
];

/// The columns of each legacy table, in table order: what fingerprints cover.
pub fn legacy_columns(table: &str) -> &'static [&'static str] {
    match table {
        "conversation" => &[
            "conversation_id", "chat_id", "username", "course_id", "element_id", "element_type",
            "role", "json", "report", "score", "maxscore", "date_inserted", "run_id",
        ],
        "run" => &[
            "run_id", "chat_id", "username", "botname", "course_id", "date_inserted",
            "utm_source", "utm_campaign", "is_ended",
        ],
        "waiting_element" => &[
            "waiting_element_id", "chat_id", "waiting_till_date", "is_waiting", "element_id",
            "course_id", "botname",
        ],
        "course" => &["course_id", "bot_name", "creator_id", "date_created", "yaml"],
        "course_element" => &["course_element_id", "element_id", "json", "element_type", "course_id", "bot_name"],
        "courseparticipants" => &["courseparticipant_id", "course_id", "username"],
        "bannedparticipants" => &["bannedparticipant_id", "botname", "chat_id", "banned_at", "ban_reason", "excluded"],
        "gen_settings" => &["id", "bot_name", "s_key", "s_value"],
        _ => &[],
    }
}

/// The primary key columns of each legacy table as production has them.
pub fn legacy_key(table: &str) -> &'static [&'static str] {
    match table {
        "conversation" => &["conversation_id"],
        "run" => &["run_id"],
        "waiting_element" => &["waiting_element_id"],
        "course" => &["course_id", "bot_name"],
        "course_element" => &["course_element_id"],
        "courseparticipants" => &["courseparticipant_id"],
        "bannedparticipants" => &["bannedparticipant_id"],
        "gen_settings" => &["id"],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(ident("run"), "\"run\"");
        assert_eq!(ident("we\"ird"), "\"we\"\"ird\"");
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(literal("бот"), "'бот'");
    }

    #[test]
    fn every_legacy_table_has_columns_and_key() {
        for t in LEGACY_TABLES {
            assert!(!legacy_columns(t).is_empty(), "{t}");
            for k in legacy_key(t) {
                assert!(legacy_columns(t).contains(k), "{t}.{k}");
            }
            assert!(LEGACY_SCHEMA.contains(&format!("CREATE TABLE {t} (")), "{t}");
        }
    }
}
