//! The target (SaaS) schema as data: which tables, columns, keys and indexes the
//! migration adds. `status`, `plan`, `migrate` and `validate` all read these lists,
//! so the definition of "migrated" lives in one place.

/// The schema version this tool migrates to (recorded in the state table).
pub const SCHEMA_VERSION: i32 = 1;

/// The schema holding the tool's own state and archive tables.
pub const STATE_SCHEMA: &str = "profochat_saas";

/// Tables the migration creates.
pub const NEW_TABLES: [&str; 5] = ["account", "account_member", "bot", "course_deployment", "enrollment_token"];

/// Columns the migration adds to the legacy tables.
pub const ADDED_COLUMNS: &[(&str, &[&str])] = &[
    ("course", &["account_id", "title", "description", "updated_at", "metadata", "is_active"]),
    ("course_element", &["account_id"]),
    (
        "run",
        &[
            "account_id", "bot_id", "deployment_id", "token_id", "is_active", "ended_at", "utm_medium",
            "utm_term", "utm_content", "metadata",
        ],
    ),
    ("conversation", &["account_id"]),
    ("waiting_element", &["account_id", "bot_id", "run_id", "created_at"]),
    ("bannedparticipants", &["account_id", "bot_id", "metadata"]),
    ("courseparticipants", &["account_id", "chat_id", "added_at", "added_by"]),
    ("gen_settings", &["account_id", "bot_id", "created_at", "updated_at"]),
];

/// SQL of the phases that create and constrain the target schema.
pub mod sql {
    pub const HELPERS: &str = include_str!("../sql/migrate/helpers.sql");
    pub const ACCOUNT: &str = include_str!("../sql/migrate/0_account.sql");
    pub const TABLES: &str = include_str!("../sql/migrate/1_tables.sql");
    pub const CONSTRAINTS: &str = include_str!("../sql/migrate/4_constraints.sql");
    pub const INDEXES: &str = include_str!("../sql/migrate/5_indexes.sql");
    pub const STATE: &str = include_str!("../sql/state/schema.sql");
}

/// Unique keys and the partial/expression unique indexes, by name and table.
pub const UNIQUE_KEYS: &[(&str, &str)] = &[
    ("account", "account_slug_key"),
    ("account_member", "account_member_account_id_telegram_user_id_key"),
    ("bot", "bot_account_id_bot_name_key"),
    ("bot", "bot_bot_token_key"),
    ("course", "course_pkey"),
    ("course_deployment", "course_deployment_bot_id_course_id_account_id_environment_key"),
    ("enrollment_token", "enrollment_token_token_key"),
    ("bannedparticipants", "bannedparticipants_bot_id_chat_id_excluded_key"),
    ("run", "uq_run_active_bot_chat"),
    ("courseparticipants", "uq_courseparticipants_member"),
];

/// Foreign keys: (table, constraint name, referenced table, on delete action as pg_constraint's confdeltype).
pub const FOREIGN_KEYS: &[(&str, &str, &str, char)] = &[
    ("account_member", "account_member_account_id_fkey", "account", 'c'),
    ("bot", "bot_account_id_fkey", "account", 'c'),
    ("course", "course_account_id_fkey", "account", 'c'),
    ("course_element", "course_element_course_id_account_id_fkey", "course", 'c'),
    ("course_deployment", "course_deployment_course_id_account_id_fkey", "course", 'c'),
    ("course_deployment", "course_deployment_bot_id_fkey", "bot", 'c'),
    ("enrollment_token", "enrollment_token_deployment_id_fkey", "course_deployment", 'c'),
    ("run", "run_account_id_fkey", "account", 'c'),
    ("run", "run_bot_id_fkey", "bot", 'c'),
    ("run", "run_deployment_id_fkey", "course_deployment", 'r'),
    ("run", "run_token_id_fkey", "enrollment_token", 'a'),
    ("conversation", "conversation_account_id_fkey", "account", 'c'),
    ("conversation", "conversation_run_id_fkey", "run", 'c'),
    ("waiting_element", "waiting_element_account_id_fkey", "account", 'c'),
    ("waiting_element", "waiting_element_bot_id_fkey", "bot", 'c'),
    ("waiting_element", "waiting_element_run_id_fkey", "run", 'c'),
    ("bannedparticipants", "bannedparticipants_account_id_fkey", "account", 'c'),
    ("bannedparticipants", "bannedparticipants_bot_id_fkey", "bot", 'c'),
    ("courseparticipants", "courseparticipants_course_id_account_id_fkey", "course", 'c'),
    ("gen_settings", "gen_settings_account_id_fkey", "account", 'c'),
    ("gen_settings", "gen_settings_bot_id_fkey", "bot", 'c'),
];

/// Columns that are NOT NULL in the target schema beyond the legacy ones.
pub const NOT_NULL: &[(&str, &str)] = &[
    ("run", "bot_id"),
    ("waiting_element", "bot_id"),
    ("bannedparticipants", "bot_id"),
    ("bot", "bot_token"),
    ("course", "account_id"),
    ("course_element", "account_id"),
    ("run", "account_id"),
    ("conversation", "account_id"),
    ("waiting_element", "account_id"),
    ("bannedparticipants", "account_id"),
    ("courseparticipants", "account_id"),
];

/// One secondary index of phase 5.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexDef {
    pub name: String,
    pub table: String,
    /// The full `CREATE INDEX IF NOT EXISTS …` statement.
    pub statement: String,
}

impl IndexDef {
    /// How many key columns the index has (its first parenthesised list).
    pub fn key_columns(&self) -> usize {
        let Some(open) = self.statement.find('(') else { return 1 };
        let list = &self.statement[open + 1..];
        let list = &list[..list.find(')').unwrap_or(list.len())];
        list.split(',').count()
    }
}

/// The secondary indexes, read from `sql/migrate/5_indexes.sql`.
pub fn secondary_indexes() -> Vec<IndexDef> {
    sql::INDEXES
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("CREATE INDEX IF NOT EXISTS "))
        .map(|l| {
            let rest = &l["CREATE INDEX IF NOT EXISTS ".len()..];
            let mut words = rest.split_whitespace();
            let name = words.next().unwrap_or_default().to_string();
            let _on = words.next();
            let table = words.next().unwrap_or_default().to_string();
            IndexDef {
                name,
                table,
                statement: l.trim_end_matches(';').to_string(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_file_parses_into_named_indexes_on_known_tables() {
        let idx = secondary_indexes();
        assert_eq!(idx.len(), 48);
        let by_name = |n: &str| idx.iter().find(|i| i.name == n).unwrap().key_columns();
        assert_eq!(by_name("idx_conversation_course_account_element"), 3);
        assert_eq!(by_name("idx_waiting_element_waiting"), 2);
        assert_eq!(by_name("idx_run_bot_id"), 1);
        let known: Vec<&str> = crate::sql::LEGACY_TABLES.iter().chain(NEW_TABLES.iter()).copied().collect();
        for i in &idx {
            assert!(known.contains(&i.table.as_str()), "{i:?}");
            assert!((1..=3).contains(&i.key_columns()), "{i:?}");
            assert!(i.name.starts_with("idx_"), "{i:?}");
            assert!(i.statement.starts_with("CREATE INDEX IF NOT EXISTS"), "{i:?}");
        }
        let mut names: Vec<_> = idx.iter().map(|i| i.name.clone()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), idx.len(), "index names are unique");
    }
}

/// Every bot token that the migration invents starts with this; it can never be
/// mistaken for a Telegram token (those start with the bot's numeric id and a colon).
pub const PLACEHOLDER_TOKEN_PREFIX: &str = "profochat-saas-placeholder-";

/// Whether a token is one of the migration's placeholders (the bot still waits for a real token).
pub fn is_placeholder_token(token: &str) -> bool {
    token.starts_with(PLACEHOLDER_TOKEN_PREFIX)
}

/// Whether a string has the shape of a Telegram bot token: `<bot id>:<35 characters of A-Z a-z 0-9 _ ->`.
pub fn is_telegram_token(token: &str) -> bool {
    let Some((id, secret)) = token.split_once(':') else {
        return false;
    };
    !id.is_empty()
        && id.len() <= 20
        && id.bytes().all(|b| b.is_ascii_digit())
        && secret.len() == 35
        && secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A token shown to people: the bot id part and the last two characters, nothing else.
pub fn mask_token(token: &str) -> String {
    if is_placeholder_token(token) {
        return "(placeholder: no real token yet)".into();
    }
    match token.split_once(':') {
        Some((id, secret)) if secret.len() > 4 => format!("{id}:••••{}", &secret[secret.len() - 2..]),
        _ => "••••".into(),
    }
}

#[cfg(test)]
mod token_tests {
    use super::*;

    #[test]
    fn telegram_token_shape() {
        assert!(is_telegram_token("123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ"));
        assert!(!is_telegram_token("123456789:short"));
        assert!(!is_telegram_token("abc:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ"));
        assert!(!is_telegram_token(&format!("{PLACEHOLDER_TOKEN_PREFIX}0123456789abcdef0123456789abcdef")));
    }

    #[test]
    fn masking_hides_the_secret() {
        let t = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ";
        let m = mask_token(t);
        assert!(!m.contains("AAHdqTcv"), "{m}");
        assert!(m.starts_with("123456789:"));
    }
}

/// Check constraints of the target schema: (table, constraint name).
pub const CHECK_CONSTRAINTS: &[(&str, &str)] = &[
    ("account_member", "account_member_role_check"),
    ("enrollment_token", "enrollment_token_token_type_check"),
];

/// Triggers the migration installs on the legacy tables, so that the running legacy
/// bot's statements keep working, all have names starting with this.
pub const COMPAT_TRIGGER_PREFIX: &str = "profochat_saas_";

/// What a course created from references (a `course_id` with no course row) carries
/// in `course.metadata` (it may carry more).
pub const REFERENCE_COURSE_METADATA: &str = r#"{"created_from": "references"}"#;

/// Columns of the tables the migration creates.
pub const NEW_TABLE_COLUMNS: &[(&str, &[&str])] = &[
    ("account", &["account_id", "name", "slug", "plan", "created_at", "updated_at", "is_active", "settings"]),
    (
        "account_member",
        &[
            "account_member_id", "account_id", "telegram_user_id", "telegram_username", "role", "created_at",
            "last_login_at", "is_active",
        ],
    ),
    (
        "bot",
        &[
            "bot_id", "account_id", "bot_name", "bot_token", "display_name", "description", "created_at", "updated_at",
            "is_active", "settings",
        ],
    ),
    (
        "course_deployment",
        &[
            "deployment_id", "course_id", "account_id", "bot_id", "environment", "is_active", "created_at", "updated_at",
            "settings",
        ],
    ),
    (
        "enrollment_token",
        &[
            "token_id", "deployment_id", "token", "token_type", "max_uses", "current_uses", "expires_at", "created_at",
            "created_by", "is_active", "metadata",
        ],
    ),
];
