//! The checks: their ids, rules, severities, hints and queries (sql/validate/*.sql).
//! Each query returns one row: the number of offending rows and up to ten of them as text.
//! The list itself, by area: [`structure`], [`rows`], [`state`].

use tokio_postgres::types::ToSql;
use tokio_postgres::GenericClient;

use super::{Catalog, CheckResult, Severity, ValidateOptions};
use crate::error::{Error, Result};
use crate::schema::catalog;
use crate::target::{self, UNIQUE_KEYS};

const FINISH_SCHEMA: &str = "The schema is incomplete or altered: `profochat-saas status` shows the state; \
    `profochat-saas migrate` finishes a partly migrated schema.";

/// A bind parameter of a check's query.
enum Param {
    Text(String),
    Texts(Vec<String>),
    Bool(bool),
}

impl Param {
    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Param::Text(t) => t,
            Param::Texts(t) => t,
            Param::Bool(b) => b,
        }
    }
}

enum Query {
    /// A query of sql/validate/ returning (count, examples).
    Counted { sql: &'static str, params: Vec<Param> },
    /// Primary keys, unique keys and unique indexes ([`UNIQUE_KEYS`]) missing, invalid,
    /// or of another definition than upstream's.
    UniqueKeys,
    /// Secondary indexes (phase 5's and the legacy schema's) missing, invalid or of another definition.
    SecondaryIndexes,
    /// Keys and indexes of the application's tables that upstream's catalog does not have.
    UnexpectedKeys {
        /// Inside the online switch: the migration's temporary index, dropped right
        /// after, is expected.
        except_chat_index: bool,
    },
    /// What a completed online migration's interrupted cleanup left (none while
    /// `switching`: the switch's own cleanup follows it).
    OnlineLeftovers { switching: bool },
    /// Upstream's migration ledger missing, or not recording upstream's migrations.
    UpstreamLedger,
    /// The enrolment function missing.
    EnrolFunction,
    /// The recorded tenant isolation's policies missing or changed.
    TenantIsolation,
    /// Bots whose token is one of the migration's placeholders.
    PlaceholderTokens,
    /// Bots whose token is neither a placeholder nor shaped like a Telegram token.
    MalformedTokens,
}

pub(super) struct Check {
    pub(super) id: &'static str,
    rule: &'static str,
    severity: Severity,
    /// Tables and columns the query reads (`table`, `table.column`, `profochat_saas.table`);
    /// when one is missing the check is reported as not checked instead of erroring,
    /// which would also abort an enclosing transaction.
    needs: &'static [&'static str],
    hint: Option<&'static str>,
    query: Query,
}

fn counted(sql: &'static str) -> Query {
    Query::Counted { sql, params: vec![] }
}

fn texts<'a>(items: impl IntoIterator<Item = &'a str>) -> Param {
    Param::Texts(items.into_iter().map(str::to_string).collect())
}

macro_rules! sql {
    ($name:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/sql/validate/", $name, ".sql"))
    };
}

mod rows;
mod state;
mod structure;

/// Every check, in report order: the schema's, the migrated rows', the tool's state.
pub(super) fn all(opts: &ValidateOptions) -> Vec<Check> {
    [structure::checks(opts), rows::checks(opts), state::checks(opts)].into_iter().flatten().collect()
}

/// Orphaned run_ids are a warning when the options kept them, else critical.
fn orphans_severity(opts: &ValidateOptions) -> Severity {
    if opts.orphans_kept {
        Severity::Warning
    } else {
        Severity::Critical
    }
}

impl Check {
    pub(super) async fn run<C: GenericClient + Sync>(&self, client: &C, catalog: &Catalog) -> Result<CheckResult> {
        let missing = catalog.missing(self.needs);
        if !missing.is_empty() {
            return Ok(self.not_checked(&missing));
        }
        let (count, examples) = match &self.query {
            Query::Counted { sql, params } => {
                let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(Param::as_sql).collect();
                let row = client.query_one(*sql, &params).await.map_err(|e| self.error(&e))?;
                let examples: Vec<Option<String>> = row.get(1);
                (row.get::<_, i64>(0), examples.into_iter().flatten().collect())
            }
            Query::UniqueKeys => {
                let keys: Vec<target::KeyDef> =
                    target::keys().into_iter().filter(|k| UNIQUE_KEYS.iter().any(|u| u.1 == k.name)).collect();
                examples_of(catalog::unique_key_problems(&catalog::read(client).await?, &keys))
            }
            Query::SecondaryIndexes => {
                let defs: Vec<target::IndexDef> = target::secondary_indexes().into_iter().chain(target::legacy_indexes()).collect();
                examples_of(catalog::IndexProblems::sentences(&catalog::read(client).await?, &defs))
            }
            Query::UnexpectedKeys { except_chat_index } => {
                let mut entries = catalog::read(client).await?;
                if *except_chat_index {
                    entries.retain(|e| e.name != crate::state::CHAT_INDEX);
                }
                examples_of(catalog::unexpected(&entries))
            }
            Query::OnlineLeftovers { switching: true } => (0, vec![]),
            Query::OnlineLeftovers { switching: false } => examples_of(crate::schema::leftovers::leftovers(client).await?),
            Query::UpstreamLedger => examples_of(catalog::upstream(client).await?.ledger_problems()),
            Query::EnrolFunction => examples_of(catalog::upstream(client).await?.enrol_problems()),
            Query::TenantIsolation => examples_of(crate::tenant::problems(client).await?),
            Query::PlaceholderTokens => {
                self.bots_whose_token(client, |t| t.is_some_and(target::is_placeholder_token))
                    .await?
            }
            Query::MalformedTokens => {
                self.bots_whose_token(client, |t| {
                    !t.is_some_and(|t| target::is_placeholder_token(t) || target::is_telegram_token(t))
                })
                .await?
            }
        };
        Ok(self.result(count, examples))
    }

    /// Bots whose token matches, by name only: tokens never leave this function.
    async fn bots_whose_token<C: GenericClient + Sync>(
        &self,
        client: &C,
        matches: impl Fn(Option<&str>) -> bool,
    ) -> Result<(i64, Vec<String>)> {
        let rows = client
            .query(sql!("bot.tokens"), &[])
            .await
            .map_err(|e| self.error(&e))?;
        let names: Vec<String> = rows
            .iter()
            .filter(|r| matches(r.get::<_, Option<&str>>(2)))
            .map(|r| format!("{} (account {})", crate::sql::literal(r.get(1)), r.get::<_, i32>(0)))
            .collect();
        Ok((names.len() as i64, names.into_iter().take(10).collect()))
    }

    fn result(&self, count: i64, examples: Vec<String>) -> CheckResult {
        let passed = self.severity == Severity::Info || count == 0;
        CheckResult {
            id: self.id.into(),
            rule: self.rule.into(),
            severity: self.severity,
            passed,
            count,
            examples,
            hint: if passed { None } else { self.hint.map(str::to_string) },
        }
    }

    fn not_checked(&self, missing: &[&str]) -> CheckResult {
        CheckResult {
            id: self.id.into(),
            rule: self.rule.into(),
            severity: self.severity,
            passed: self.severity == Severity::Info,
            count: 0,
            examples: vec![format!("not checked: {} missing", missing.join(", "))],
            hint: Some(FINISH_SCHEMA.into()),
        }
    }

    fn error(&self, e: &tokio_postgres::Error) -> Error {
        Error::query(format!("validation check {}", self.id), e, "Nothing was changed.")
    }
}

/// A count and the first ten of a list of problems.
fn examples_of(problems: Vec<String>) -> (i64, Vec<String>) {
    (problems.len() as i64, problems.into_iter().take(10).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_stable_in_form() {
        let checks = all(&ValidateOptions::default());
        let mut ids: Vec<&str> = checks.iter().map(|c| c.id).collect();
        for id in &ids {
            let (family, name) = id.split_once('.').expect("family.name");
            assert!(!family.is_empty() && !name.is_empty(), "{id}");
            assert!(
                id.bytes().all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'.'),
                "{id}"
            );
        }
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), checks.len());
    }

    #[test]
    fn orphans_kept_turns_orphan_checks_into_warnings() {
        let sev = |opts: &ValidateOptions, id: &str| all(opts).into_iter().find(|c| c.id == id).unwrap().severity;
        let kept = ValidateOptions { orphans_kept: true, ..Default::default() };
        let detached = ValidateOptions::default();
        for id in [
            "conversation.run_id_resolves",
            "structure.conversation_run_fk_validated",
        ] {
            assert_eq!(sev(&kept, id), Severity::Warning, "{id}");
            assert_eq!(sev(&detached, id), Severity::Critical, "{id}");
        }
    }
}
