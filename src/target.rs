//! The target (SaaS) schema as data: which tables, columns, keys and indexes the
//! migration adds. `status`, `plan`, `migrate` and `validate` all read these lists,
//! so the definition of "migrated" lives in one place.

/// The schema version this tool migrates to (recorded in the state table). Version 2:
/// upstream's names and keys (course keeps its primary key (course_id, bot_name)),
/// upstream's migration ledger and the enrolment function.
pub const SCHEMA_VERSION: i32 = 2;

/// The schema holding the tool's own state and archive tables.
pub const STATE_SCHEMA: &str = "profochat_saas";

/// Tables the migration creates.
pub const NEW_TABLES: [&str; 5] = ["account", "account_member", "bot", "course_deployment", "enrollment_token"];

/// The application's tables: the legacy ones and the new ones, whose keys and indexes
/// carry upstream's names.
pub fn application_tables() -> Vec<&'static str> {
    crate::sql::LEGACY_TABLES.iter().chain(NEW_TABLES.iter()).copied().collect()
}

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
    /// Older names become upstream's (4_names.sql), then every key (4_constraints.sql).
    pub const CONSTRAINTS: &str =
        concat!(include_str!("../sql/migrate/4_names.sql"), "\n", include_str!("../sql/migrate/4_constraints.sql"));
    /// conversation_run_id_fkey, which the migration adds itself (NOT VALID with --orphans keep).
    pub const CONVERSATION_RUN_FK: &str = include_str!("../sql/migrate/4_conversation_run_fk.sql");
    pub const INDEXES: &str = include_str!("../sql/migrate/5_indexes.sql");
    pub const STATE: &str = include_str!("../sql/state/schema.sql");
    /// The legacy interface, the schema-change guard and the compatibility triggers, dropped.
    pub const DROP_COMPAT: &str = include_str!("../sql/migrate/drop_compat.sql");
    /// Upstream's schema_migrations, created if missing.
    pub const LEDGER: &str = include_str!("../sql/migrate/ledger.sql");
    /// Records [`super::UPSTREAM_MIGRATIONS`]: $1 applied_by, $2 execution ms, $3 versions, $4 descriptions.
    pub const LEDGER_RECORD: &str = include_str!("../sql/migrate/ledger_record.sql");
    /// profochat_saas.enrol and the functions it uses.
    pub const ENROL: &str = include_str!("../sql/migrate/enrol.sql");
    /// Who may call the tool's functions; run after each install of them.
    pub const FUNCTION_PRIVILEGES: &str = include_str!("../sql/migrate/function_privileges.sql");
    /// Who may reach the tool's tables (none but its owner); run after each creation of them.
    pub const STATE_PRIVILEGES: &str = include_str!("../sql/state/privileges.sql");

    /// The SQL of the tool's functions for tables in `schema`: their bodies run with a
    /// fixed search_path and name the tables as `{{schema}}.table`.
    pub fn in_schema(sql: &str, schema: &str) -> String {
        sql.replace("{{schema}}", &crate::sql::ident(schema))
    }

    /// The schema of the tables: the one the session creates in (`current_schema()`).
    pub const TABLES_SCHEMA: &str = "SELECT coalesce(current_schema(), 'public')::text";
}

/// Upstream's numbered migrations whose result a migrated database is, recorded in its
/// `schema_migrations`: (version, description).
pub const UPSTREAM_MIGRATIONS: [(&str, &str); 2] = [
    ("0001", "initial schema (the legacy single-tenant ProfoChatBot tables)"),
    ("0003", "multi-tenant SaaS schema: accounts, bots, course deployments, enrollment tokens"),
];

/// Upstream's migration ledger (created by `sql/migrate/ledger.sql` when missing).
pub const LEDGER_TABLE: &str = "schema_migrations";

/// What `schema_migrations.applied_by` says for the migrations this tool records.
pub fn applied_by() -> String {
    format!("profochat-saas {}", env!("CARGO_PKG_VERSION"))
}

/// The enrolment function `migrate` installs, as `to_regprocedure` names it.
pub const ENROL_FUNCTION: &str = "profochat_saas.enrol(text,bigint,text,text)";

/// Primary keys, unique keys and unique indexes, by table and name (the index of a
/// key has the key's name).
pub const UNIQUE_KEYS: &[(&str, &str)] = &[
    ("account", "account_pkey"),
    ("account", "account_slug_key"),
    ("account_member", "account_member_pkey"),
    ("account_member", "account_member_account_id_telegram_user_id_key"),
    ("bot", "bot_pkey"),
    ("bot", "bot_account_id_bot_name_key"),
    ("bot", "bot_bot_token_key"),
    ("course", "course_pkey"),
    ("course", "course_course_id_account_id_key"),
    ("course_deployment", "course_deployment_pkey"),
    ("course_deployment", "course_deployment_bot_id_course_id_account_id_environment_key"),
    ("enrollment_token", "enrollment_token_pkey"),
    ("enrollment_token", "enrollment_token_token_key"),
    ("conversation", "conversation_pkey"),
    ("run", "run_pkey"),
    ("run", "run_one_active_per_bot_chat"),
    ("waiting_element", "waiting_element_pkey"),
    ("course_element", "course_element_pkey"),
    ("courseparticipants", "courseparticipants_pkey"),
    ("courseparticipants", "courseparticipants_unique"),
    ("bannedparticipants", "bannedparticipants_pkey"),
    ("bannedparticipants", "bannedparticipants_unique"),
    ("gen_settings", "gen_settings_pkey"),
];

/// Foreign keys: (table, constraint name, referenced table, on delete action as pg_constraint's confdeltype).
pub const FOREIGN_KEYS: &[(&str, &str, &str, char)] = &[
    ("account_member", "account_member_account_id_fkey", "account", 'c'),
    ("bot", "bot_account_id_fkey", "account", 'c'),
    ("course", "course_account_id_fkey", "account", 'c'),
    ("course_element", "course_element_course_fkey", "course", 'c'),
    ("course_deployment", "course_deployment_course_fkey", "course", 'c'),
    ("course_deployment", "course_deployment_bot_fkey", "bot", 'c'),
    ("enrollment_token", "enrollment_token_deployment_fkey", "course_deployment", 'c'),
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
    ("courseparticipants", "courseparticipants_account_id_fkey", "account", 'c'),
    ("courseparticipants", "courseparticipants_course_fkey", "course", 'c'),
    ("gen_settings", "gen_settings_account_id_fkey", "account", 'c'),
    ("gen_settings", "gen_settings_bot_id_fkey", "bot", 'c'),
];

/// Columns that are NOT NULL in the target schema beyond the legacy ones.
/// (bot_id of run, waiting_element and bannedparticipants stays nullable, as upstream's.)
pub const NOT_NULL: &[(&str, &str)] = &[
    ("bot", "bot_token"),
    ("course", "account_id"),
    ("course_element", "account_id"),
    ("run", "account_id"),
    ("conversation", "account_id"),
    ("waiting_element", "account_id"),
    ("bannedparticipants", "account_id"),
    ("courseparticipants", "account_id"),
];

/// Whether a key is a constraint (primary, unique, foreign, check) or a unique index
/// that is no constraint (upstream keeps its partial and expression keys so).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    Constraint,
    UniqueIndex,
}

/// One key of the target schema, with upstream's name and its definition as PostgreSQL
/// shows it: `pg_get_constraintdef` for a constraint, and for a unique index the form of
/// upstream's catalog listing (`UNIQUE run USING btree (bot_id, chat_id) WHERE …`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyDef {
    pub kind: KeyKind,
    pub table: String,
    pub name: String,
    pub definition: String,
}

/// Every key of the target schema, read from `sql/migrate/4_constraints.sql` (and the
/// foreign key from conversation to run, which the migration adds itself).
pub fn keys() -> Vec<KeyDef> {
    let mut out = vec![];
    for line in sql::CONSTRAINTS.lines().map(str::trim) {
        if let Some(args) = line.strip_prefix("SELECT pg_temp.ensure_constraint(") {
            if let [table, name, definition] = &sql_literals(args)[..] {
                out.push(KeyDef {
                    kind: KeyKind::Constraint,
                    table: table.clone(),
                    name: name.clone(),
                    definition: definition.clone(),
                });
            }
        } else if let Some(args) = line.strip_prefix("SELECT pg_temp.ensure_index(") {
            if let [name, definition] = &sql_literals(args)[..] {
                out.push(KeyDef {
                    kind: KeyKind::UniqueIndex,
                    table: shape_table(definition).to_string(),
                    name: name.clone(),
                    definition: definition.clone(),
                });
            }
        }
    }
    let fk = sql::CONVERSATION_RUN_FK
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("ALTER TABLE "))
        .and_then(|rest| {
            let (table, rest) = rest.split_once(" ADD CONSTRAINT ")?;
            let (name, definition) = rest.split_once(' ')?;
            Some(KeyDef {
                kind: KeyKind::Constraint,
                table: table.to_string(),
                name: name.to_string(),
                definition: definition.trim_end_matches(';').to_string(),
            })
        });
    out.extend(fk);
    out
}

/// The table of an index shape: `[UNIQUE ]table USING …`.
fn shape_table(shape: &str) -> &str {
    shape.trim_start_matches("UNIQUE ").split_whitespace().next().unwrap_or_default()
}

/// The string literals of a SQL argument list (`'a', 'it''s')` → `a`, `it's`).
fn sql_literals(args: &str) -> Vec<String> {
    let mut out = vec![];
    let mut chars = args.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' {
            continue;
        }
        let mut lit = String::new();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    lit.push('\'');
                } else {
                    break;
                }
            } else {
                lit.push(c);
            }
        }
        out.push(lit);
    }
    out
}

/// One secondary index of phase 5 (or one of the legacy schema's own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexDef {
    pub name: String,
    pub table: String,
    /// The full `CREATE INDEX [IF NOT EXISTS] …` statement.
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

    /// The index as upstream's catalog listing writes it: `table USING btree (…)[ WHERE …]`.
    pub fn shape(&self) -> String {
        match self.statement.find(" ON ") {
            Some(i) => self.statement[i + 4..].to_string(),
            None => self.statement.clone(),
        }
    }
}

fn parse_create_index(line: &str, prefix: &str) -> Option<IndexDef> {
    let rest = line.strip_prefix(prefix)?;
    let mut words = rest.split_whitespace();
    let name = words.next()?.to_string();
    let _on = words.next();
    let table = words.next()?.to_string();
    Some(IndexDef {
        name,
        table,
        statement: line.trim_end_matches(';').to_string(),
    })
}

/// The secondary indexes, read from `sql/migrate/5_indexes.sql`.
pub fn secondary_indexes() -> Vec<IndexDef> {
    sql::INDEXES
        .lines()
        .map(str::trim)
        .filter_map(|l| parse_create_index(l, "CREATE INDEX IF NOT EXISTS "))
        .collect()
}

/// The indexes of the legacy schema beyond its primary keys, which upstream's catalog
/// keeps too, read from `sql/legacy/schema.sql` (written `… ON table USING btree (…)`).
/// The migration neither builds nor drops them.
pub fn legacy_indexes() -> Vec<IndexDef> {
    crate::sql::LEGACY_SCHEMA
        .lines()
        .map(str::trim)
        .filter_map(|l| parse_create_index(l, "CREATE INDEX "))
        .map(|mut i| {
            i.statement = i
                .statement
                .replacen(&format!(" ON {} (", i.table), &format!(" ON {} USING btree (", i.table), 1);
            i
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_file_parses_into_named_indexes_on_known_tables() {
        let idx = secondary_indexes();
        assert_eq!(idx.len(), 51);
        let by_name = |n: &str| idx.iter().find(|i| i.name == n).unwrap().clone();
        assert_eq!(by_name("idx_conversation_element").key_columns(), 3);
        assert_eq!(by_name("idx_waiting_active").key_columns(), 2);
        assert_eq!(by_name("idx_run_bot").key_columns(), 1);
        assert_eq!(
            by_name("idx_waiting_active").shape(),
            "waiting_element USING btree (is_waiting, waiting_till_date) WHERE (is_waiting = true)"
        );
        let known = application_tables();
        for i in &idx {
            assert!(known.contains(&i.table.as_str()), "{i:?}");
            assert!((1..=3).contains(&i.key_columns()), "{i:?}");
            assert!(i.name.starts_with("idx_"), "{i:?}");
            assert!(i.statement.starts_with("CREATE INDEX IF NOT EXISTS"), "{i:?}");
            assert!(i.shape().starts_with(&format!("{} USING btree (", i.table)), "{i:?}");
        }
        let mut names: Vec<_> = idx.iter().map(|i| i.name.clone()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), idx.len(), "index names are unique");
    }

    #[test]
    fn legacy_indexes_are_the_three_of_the_legacy_schema() {
        let shapes: Vec<(String, String)> = legacy_indexes().iter().map(|i| (i.name.clone(), i.shape())).collect();
        assert_eq!(
            shapes,
            [
                ("idx_course_courseid_botname".to_string(), "course USING btree (course_id, bot_name)".to_string()),
                ("idx_courseparticipants_2".into(), "courseparticipants USING btree (course_id, username)".into()),
                ("idx_bannedparticipants_3".into(), "bannedparticipants USING btree (botname, chat_id, excluded)".into()),
            ]
        );
    }

    #[test]
    fn keys_parse_and_agree_with_the_named_lists() {
        let keys = keys();
        let find = |name: &str| keys.iter().find(|k| k.name == name).unwrap_or_else(|| panic!("{name} not in 4_constraints.sql"));
        let role = find("account_member_role_check");
        assert_eq!(role.definition, "CHECK ((role = ANY (ARRAY['owner'::text, 'admin'::text, 'member'::text, 'viewer'::text])))");
        assert_eq!(find("course_pkey").definition, "PRIMARY KEY (course_id, bot_name)");
        let cp = find("courseparticipants_unique");
        assert_eq!(cp.kind, KeyKind::UniqueIndex);
        assert_eq!(cp.table, "courseparticipants");
        assert!(cp.definition.ends_with("COALESCE(username, ''::text))"), "{cp:?}");
        assert_eq!(find("conversation_run_id_fkey").definition, "FOREIGN KEY (run_id) REFERENCES run(run_id) ON DELETE CASCADE");
        for (table, name) in UNIQUE_KEYS {
            let k = find(name);
            assert_eq!(&k.table, table);
            assert!(k.definition.contains("UNIQUE") || k.definition.starts_with("PRIMARY KEY"), "{k:?}");
        }
        for (table, name, referenced, action) in FOREIGN_KEYS {
            let k = find(name);
            assert_eq!(&k.table, table);
            assert!(k.definition.contains(&format!("REFERENCES {referenced}(")), "{k:?}");
            let words = match action {
                'c' => Some("ON DELETE CASCADE"),
                'r' => Some("ON DELETE RESTRICT"),
                _ => None,
            };
            match words {
                Some(w) => assert!(k.definition.ends_with(w), "{k:?}"),
                None => assert!(!k.definition.contains("ON DELETE"), "{k:?}"),
            }
        }
        let fks = keys.iter().filter(|k| k.definition.starts_with("FOREIGN KEY")).count();
        assert_eq!(fks, FOREIGN_KEYS.len(), "every foreign key is in FOREIGN_KEYS");
        for (table, name) in CHECK_CONSTRAINTS {
            assert_eq!(&find(name).table, table);
        }
        // validate checks every key by one of the three lists.
        for k in &keys {
            let listed = UNIQUE_KEYS.iter().any(|u| u.1 == k.name)
                || FOREIGN_KEYS.iter().any(|f| f.1 == k.name)
                || CHECK_CONSTRAINTS.iter().any(|c| c.1 == k.name);
            assert!(listed, "{k:?} is in no list that validate checks");
        }
        let tables = application_tables();
        for k in &keys {
            assert!(tables.contains(&k.table.as_str()), "{k:?}");
        }
        let mut names: Vec<_> = keys.iter().map(|k| k.name.clone()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), keys.len(), "key names are unique");
    }

    #[test]
    fn literals() {
        assert_eq!(sql_literals("'a', 'it''s', ''''"), ["a", "it's", "'"]);
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
