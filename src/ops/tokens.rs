//! Enrollment tokens: random, unguessable values that a deep link
//! `https://t.me/<bot>?start=cd_<deployment_id>_<token>` carries to the bot.
//! Their values are shown to the operator (the links are meant to be shared) but
//! never logged and never put into an error.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use base64::Engine as _;
use rand::RngCore as _;
use serde::{Serialize, Serializer};
use tokio_postgres::GenericClient;

use super::deployments::{get_deployment, Deployment};
use super::enrol::{StartPayload, MAX_START_PAYLOAD};
use super::{query_error, UNCHANGED};
use crate::conn::Db;
use crate::error::{Error, Result};

/// Random bytes in a new token: 144 bits, 24 URL-safe characters.
pub const TOKEN_BYTES: usize = 18;

/// The shortest token that counts as unguessable: 16 random bytes (128 bits) in base64.
pub const MIN_STRONG_TOKEN_LEN: usize = 22;

/// A regular expression (PostgreSQL syntax) for tokens that can be strong: only the
/// deep-link alphabet, and at least [`MIN_STRONG_TOKEN_LEN`] characters.
pub const STRONG_TOKEN_PATTERN: &str = "^[A-Za-z0-9_-]{22,}$";

/// A token value, or a payload or link that carries one. It serialises as itself
/// (for the operator's output) but never shows itself in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenValue(String);

impl TokenValue {
    pub fn new(value: impl Into<String>) -> Self {
        TokenValue(value.into())
    }
    /// The value itself: for the database, and for output meant to be shared.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TokenValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenValue(•••)")
    }
}

impl Serialize for TokenValue {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// Who a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    Public,
    Group,
    Personal,
    External,
}

impl TokenType {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenType::Public => "public",
            TokenType::Group => "group",
            TokenType::Personal => "personal",
            TokenType::External => "external",
        }
    }
}

impl fmt::Display for TokenType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TokenType {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        [TokenType::Public, TokenType::Group, TokenType::Personal, TokenType::External]
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| Error::refused(format!("{s:?} is not a token type"), "Token types are public, group, personal and external."))
    }
}

/// Whether a token would enrol now, and if not, why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenState {
    Active,
    Revoked,
    Expired,
    UsedUp,
    DeploymentInactive,
}

impl TokenState {
    fn from_sql(s: &str) -> TokenState {
        match s {
            "revoked" => TokenState::Revoked,
            "expired" => TokenState::Expired,
            "used_up" => TokenState::UsedUp,
            "deployment_inactive" => TokenState::DeploymentInactive,
            _ => TokenState::Active,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TokenState::Active => "active",
            TokenState::Revoked => "revoked",
            TokenState::Expired => "expired",
            TokenState::UsedUp => "used up",
            TokenState::DeploymentInactive => "deployment inactive",
        }
    }
}

/// A new random token: [`TOKEN_BYTES`] from the operating system's CSPRNG, base64
/// URL-safe without padding. It never starts with `cd_`, so a bare token is never
/// taken for a start payload.
pub fn generate_token() -> TokenValue {
    loop {
        let mut bytes = [0u8; TOKEN_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        if !token.starts_with("cd_") {
            return TokenValue(token);
        }
    }
}

/// Whether a stored token is unguessable and fits a deep link of this deployment.
pub fn is_strong_token(deployment_id: i32, token: &str) -> bool {
    token.len() >= MIN_STRONG_TOKEN_LEN
        && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && StartPayload::format(deployment_id, token).len() <= MAX_START_PAYLOAD
}

/// Whether a bot name can be a Telegram username, and so the `<bot>` of a
/// `https://t.me/<bot>` link: 5 to 32 characters of `A-Z a-z 0-9 _`, ending in `bot`
/// (any case), as Telegram requires of bots' usernames.
pub fn is_telegram_username(bot_name: &str) -> bool {
    (5..=32).contains(&bot_name.len())
        && bot_name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && bot_name.to_ascii_lowercase().ends_with("bot")
}

/// `https://t.me/<bot>?start=<payload>`, for a bot name that can be a Telegram username.
pub fn deep_link(bot_name: &str, payload: &str) -> Option<String> {
    is_telegram_username(bot_name).then(|| format!("https://t.me/{bot_name}?start={payload}"))
}

/// The deep link of a token of this deployment and bot, or why there is none: a
/// note instead of a dead link.
fn link_for(deployment_id: i32, bot_name: &str, token: &str) -> std::result::Result<TokenValue, String> {
    let payload = StartPayload::format(deployment_id, token);
    if payload.len() > MAX_START_PAYLOAD || !token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        return Err(format!(
            "this token cannot travel in a deep link: /start takes at most {MAX_START_PAYLOAD} characters of A-Z a-z 0-9 _ -"
        ));
    }
    deep_link(bot_name, &payload).map(TokenValue).ok_or_else(|| {
        format!(
            "no t.me link: the bot name {bot_name:?} cannot be a Telegram username (5 to 32 characters of A-Z a-z 0-9 _, \
             ending in \"bot\"); the bot receives the payload as /start {payload}, so the link is \
             https://t.me/<the bot's Telegram username>?start={payload}"
        )
    })
}

/// Parses a duration such as `30m`, `12h`, `7d`, `2w`, or a sum such as `1d12h`.
/// Units: s, m, h, d, w. At most 100 years.
pub fn parse_duration(text: &str) -> Result<Duration> {
    const MAX_SECS: u64 = 100 * 365 * 86_400;
    let bad = || {
        Error::refused(
            format!("{text:?} is not a duration"),
            "Write a number and a unit: 30m, 12h, 7d, 2w (s, m, h, d, w; sums such as 1d12h work too).",
        )
    };
    let s = text.trim();
    if s.is_empty() {
        return Err(bad());
    }
    let mut total: u64 = 0;
    let mut number: Option<u64> = None;
    for c in s.chars() {
        if let Some(d) = c.to_digit(10) {
            number = Some(number.unwrap_or(0).checked_mul(10).and_then(|n| n.checked_add(d as u64)).ok_or_else(bad)?);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return Err(bad()),
        };
        let n = number.take().ok_or_else(bad)?;
        total = n.checked_mul(unit).and_then(|v| total.checked_add(v)).ok_or_else(bad)?;
    }
    if number.is_some() || total == 0 {
        return Err(bad());
    }
    if total > MAX_SECS {
        return Err(Error::refused(format!("{text:?} is more than 100 years"), "Give a shorter duration, or none for a token that never expires."));
    }
    Ok(Duration::from_secs(total))
}

/// A duration in the form [`parse_duration`] reads: `1w2d3h4m5s`, largest units first.
pub fn format_duration(d: Duration) -> String {
    let mut secs = d.as_secs();
    if secs == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [('w', 604_800), ('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    out
}

/// A token just created, with its deep link.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedToken {
    pub token_id: i32,
    pub deployment_id: i32,
    pub course_id: String,
    pub account_id: i32,
    pub bot_name: String,
    pub environment: Option<String>,
    pub token_type: TokenType,
    pub token: TokenValue,
    /// `cd_<deployment_id>_<token>`, what the link passes to /start.
    pub payload: TokenValue,
    /// None when the bot name cannot be a Telegram username (`deep_link_note` says so).
    pub deep_link: Option<TokenValue>,
    pub deep_link_note: Option<String>,
    /// How the application enrols a chat through this token, in SQL.
    pub enrol_sql: TokenValue,
    pub max_uses: Option<i32>,
    pub expires_at: Option<chrono::NaiveDateTime>,
    pub created_at: Option<chrono::NaiveDateTime>,
}

/// Options of a new token.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokenOptions {
    pub max_uses: Option<i32>,
    pub expires_in: Option<Duration>,
    /// The Telegram user id of whoever created it, if known.
    pub created_by: Option<i64>,
}

fn check_options(options: &TokenOptions) -> Result<()> {
    if let Some(n) = options.max_uses {
        if n < 1 {
            return Err(Error::refused(
                format!("--max-uses {n} would make a token that can never be used"),
                "Give 1 or more, or leave it out for no limit.",
            ));
        }
    }
    if options.expires_in.is_some_and(|d| d.is_zero()) {
        return Err(Error::refused("the token would expire at once", "Give a positive duration such as 7d."));
    }
    Ok(())
}

/// Creates a token for an active deployment.
pub async fn create_token(
    client: &impl GenericClient,
    deployment_id: i32,
    token_type: TokenType,
    options: TokenOptions,
) -> Result<CreatedToken> {
    check_options(&options)?;
    let deployment = get_deployment(client, deployment_id).await?;
    if !deployment.is_active {
        return Err(Error::refused(
            format!("deployment {deployment_id} is not active, so a token for it could never enrol anyone"),
            "Pick an active deployment (`profochat-saas deployment list`).",
        ));
    }
    insert_token(client, &deployment, token_type, options).await
}

async fn insert_token(
    client: &impl GenericClient,
    deployment: &Deployment,
    token_type: TokenType,
    options: TokenOptions,
) -> Result<CreatedToken> {
    let expires_secs = options.expires_in.map(|d| d.as_secs_f64());
    // A collision of 144 random bits does not happen; a retry costs nothing if it does.
    for _ in 0..3 {
        let token = generate_token();
        let payload = StartPayload::format(deployment.deployment_id, token.expose());
        if payload.len() > MAX_START_PAYLOAD {
            return Err(Error::state(
                format!(
                    "the start payload of deployment {} would be {} characters, more than Telegram's {MAX_START_PAYLOAD}",
                    deployment.deployment_id,
                    payload.len()
                ),
                "This cannot be fixed by the operator: report it as a bug.",
            ));
        }
        let result = client
            .query_opt(
                include_str!("../../sql/ops/token_create.sql"),
                &[
                    &deployment.deployment_id,
                    &token.expose(),
                    &token_type.as_str(),
                    &options.max_uses,
                    &expires_secs,
                    &options.created_by,
                ],
            )
            .await;
        let row = match result {
            Ok(Some(row)) => row,
            Ok(None) => continue,
            Err(e) => return Err(Error::query("creating the enrollment token", &e, UNCHANGED)),
        };
        let token_id: i32 = row.get("token_id");
        tracing::info!(token_id, deployment_id = deployment.deployment_id, token_type = token_type.as_str(), "enrollment token created");
        let link = link_for(deployment.deployment_id, &deployment.bot_name, token.expose());
        return Ok(CreatedToken {
            token_id,
            deployment_id: deployment.deployment_id,
            course_id: deployment.course_id.clone(),
            account_id: deployment.account_id,
            bot_name: deployment.bot_name.clone(),
            environment: deployment.environment.clone(),
            token_type,
            deep_link: link.as_ref().ok().cloned(),
            deep_link_note: link.err(),
            enrol_sql: TokenValue(super::enrol::enrol_sql_example(&payload, &deployment.bot_name)),
            payload: TokenValue(payload),
            token,
            max_uses: options.max_uses,
            expires_at: row.get("expires_at"),
            created_at: row.get("created_at"),
        });
    }
    Err(Error::state(
        "three new random tokens in a row collided with existing ones",
        "The random number generator of this machine is broken; do not use tokens created here.",
    ))
}

/// A token as `token list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo {
    pub token_id: i32,
    pub deployment_id: i32,
    pub course_id: String,
    pub account_id: i32,
    pub bot_name: String,
    pub environment: Option<String>,
    pub token_type: Option<String>,
    pub token: TokenValue,
    /// None when the stored token cannot travel in a deep link (too long, or characters
    /// outside A-Z a-z 0-9 _ -) or the bot name cannot be a Telegram username; `deep_link_note` says which.
    pub deep_link: Option<TokenValue>,
    pub deep_link_note: Option<String>,
    /// False for tokens that are guessable (shorter than 128 bits of base64) or fit no link.
    pub strong: bool,
    pub max_uses: Option<i32>,
    pub current_uses: i32,
    pub expires_at: Option<chrono::NaiveDateTime>,
    pub created_at: Option<chrono::NaiveDateTime>,
    pub created_by: Option<i64>,
    pub state: TokenState,
}

/// Tokens, of one deployment or of all.
pub async fn list_tokens(client: &impl GenericClient, deployment_id: Option<i32>) -> Result<Vec<TokenInfo>> {
    if let Some(id) = deployment_id {
        get_deployment(client, id).await?;
    }
    select_tokens(client, deployment_id, None).await
}

/// One token by id, or [`Error::NotFound`].
pub async fn get_token(client: &impl GenericClient, token_id: i32) -> Result<TokenInfo> {
    select_tokens(client, None, Some(token_id))
        .await?
        .pop()
        .ok_or_else(|| super::not_found("enrollment token", token_id, "`profochat-saas token list` shows the tokens and their ids."))
}

async fn select_tokens(client: &impl GenericClient, deployment_id: Option<i32>, token_id: Option<i32>) -> Result<Vec<TokenInfo>> {
    let rows = client
        .query(include_str!("../../sql/ops/token_list.sql"), &[&deployment_id, &token_id])
        .await
        .map_err(query_error("listing enrollment tokens", UNCHANGED))?;
    Ok(rows
        .iter()
        .map(|r| {
            let deployment_id: i32 = r.get("deployment_id");
            let bot_name: String = r.get("bot_name");
            let token: String = r.get("token");
            let link = link_for(deployment_id, &bot_name, &token);
            TokenInfo {
                token_id: r.get("token_id"),
                deployment_id,
                course_id: r.get("course_id"),
                account_id: r.get("account_id"),
                environment: r.get("environment"),
                token_type: r.get("token_type"),
                deep_link: link.as_ref().ok().cloned(),
                deep_link_note: link.err(),
                strong: is_strong_token(deployment_id, &token),
                token: TokenValue(token),
                bot_name,
                max_uses: r.get("max_uses"),
                current_uses: r.get("current_uses"),
                expires_at: r.get("expires_at"),
                created_at: r.get("created_at"),
                created_by: r.get("created_by"),
                state: TokenState::from_sql(r.get("state")),
            }
        })
        .collect())
}

/// What `token revoke` did.
#[derive(Debug, Clone, Serialize)]
pub struct RevokedToken {
    pub token_id: i32,
    pub deployment_id: i32,
    /// False if it was revoked already.
    pub was_active: bool,
}

/// Revokes a token: it enrols nobody from now on; runs it enrolled stay.
pub async fn revoke_token(client: &impl GenericClient, token_id: i32) -> Result<RevokedToken> {
    let row = client
        .query_opt(include_str!("../../sql/ops/token_revoke.sql"), &[&token_id])
        .await
        .map_err(query_error("revoking the token", UNCHANGED))?
        .ok_or_else(|| super::not_found("enrollment token", token_id, "`profochat-saas token list` shows the tokens and their ids."))?;
    tracing::info!(token_id, "enrollment token revoked");
    Ok(RevokedToken {
        token_id,
        deployment_id: row.get(0),
        was_active: row.get(1),
    })
}

/// What `token delete` did.
#[derive(Debug, Clone, Serialize)]
pub struct DeletedToken {
    pub token_id: i32,
    pub deployment_id: i32,
    pub token_type: Option<String>,
    /// How many times it had been used.
    pub uses: i32,
    /// Runs it enrolled: they stay, with token_id NULL and the token's id in their metadata.
    pub runs_detached: i64,
}

/// Deletes a token, unlike [`revoke_token`] which keeps the row: its links enrol nobody
/// any more, and the runs it enrolled stay, without the link to it (their metadata
/// keeps the token's id). One statement: all of it or nothing.
pub async fn delete_token(client: &impl GenericClient, token_id: i32) -> Result<DeletedToken> {
    let row = client
        .query_opt(include_str!("../../sql/ops/token_delete.sql"), &[&token_id])
        .await
        .map_err(query_error("deleting the token", UNCHANGED))?
        .ok_or_else(|| super::not_found("enrollment token", token_id, "`profochat-saas token list` shows the tokens and their ids."))?;
    tracing::info!(token_id, "enrollment token deleted");
    Ok(DeletedToken {
        token_id,
        deployment_id: row.get("deployment_id"),
        token_type: row.get("token_type"),
        uses: row.get("uses"),
        runs_detached: row.get("runs_detached"),
    })
}

/// Why `--public-for-all` created nothing for a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum SkipReason {
    /// It already has a usable, strong public token.
    HasPublicToken { token_id: i32 },
    DeploymentInactive,
}

/// A deployment that `--public-for-all` left alone.
#[derive(Debug, Clone, Serialize)]
pub struct SkippedDeployment {
    pub deployment_id: i32,
    pub course_id: String,
    pub bot_name: String,
    pub environment: Option<String>,
    #[serde(flatten)]
    pub reason: SkipReason,
}

/// What `token create --public-for-all` did.
#[derive(Debug, Clone, Serialize)]
pub struct PublicForAll {
    pub created: Vec<CreatedToken>,
    pub skipped: Vec<SkippedDeployment>,
    /// Active public tokens that are guessable or fit no deep link (such as the
    /// `public_<deployment_id>` tokens of older scripts): still working, worth revoking.
    pub weak_token_ids: Vec<i32>,
}

/// One public token for every active deployment that has no usable strong one.
/// Running it again creates nothing.
pub async fn create_public_for_all(db: &mut Db, options: TokenOptions) -> Result<PublicForAll> {
    check_options(&options)?;
    let unchanged = "The transaction was rolled back: no token was created.";
    let tx = db.client.transaction().await.map_err(query_error("starting a transaction", UNCHANGED))?;
    tx.execute(include_str!("../../sql/ops/token_bulk_lock.sql"), &[])
        .await
        .map_err(query_error("waiting for another bulk token run", unchanged))?;
    let max_payload = MAX_START_PAYLOAD as i32;
    let rows = tx
        .query(include_str!("../../sql/ops/token_public_for_all.sql"), &[&STRONG_TOKEN_PATTERN, &max_payload])
        .await
        .map_err(query_error("listing deployments and their public tokens", unchanged))?;
    let mut out = PublicForAll {
        created: vec![],
        skipped: vec![],
        weak_token_ids: vec![],
    };
    for r in &rows {
        let deployment = Deployment::from_row(r);
        let weak: Option<Vec<i32>> = r.get("weak_token_ids");
        out.weak_token_ids.extend(weak.unwrap_or_default());
        let existing: Option<i32> = r.get("public_token_id");
        let skip = |reason| SkippedDeployment {
            deployment_id: deployment.deployment_id,
            course_id: deployment.course_id.clone(),
            bot_name: deployment.bot_name.clone(),
            environment: deployment.environment.clone(),
            reason,
        };
        if !deployment.is_active {
            out.skipped.push(skip(SkipReason::DeploymentInactive));
        } else if let Some(token_id) = existing {
            out.skipped.push(skip(SkipReason::HasPublicToken { token_id }));
        } else {
            out.created.push(insert_token(&tx, &deployment, TokenType::Public, options).await?);
        }
    }
    tx.commit().await.map_err(query_error("committing the new tokens", unchanged))?;
    tracing::info!(created = out.created.len(), skipped = out.skipped.len(), "public tokens for all deployments");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_are_long_url_safe_and_distinct() {
        let a = generate_token();
        let b = generate_token();
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 24);
        assert!(is_strong_token(2_147_483_647, a.expose()));
        assert!(!format!("{a:?}").contains(a.expose()));
    }

    #[test]
    fn old_script_tokens_are_weak() {
        assert!(!is_strong_token(5, "public_5"));
        assert!(!is_strong_token(5, "a/b+c=dddddddddddddddddddddddddd"));
        assert!(!is_strong_token(5, &"a".repeat(60)));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_duration("12h").unwrap(), Duration::from_secs(43_200));
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(604_800));
        assert_eq!(parse_duration("2w").unwrap(), Duration::from_secs(1_209_600));
        assert_eq!(parse_duration("1d12h").unwrap(), Duration::from_secs(129_600));
        for bad in ["", "7", "d", "7x", "-1d", "0d", "1.5h", "99999999999999999999d", "200000w"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn deep_links_only_for_telegram_usernames() {
        assert_eq!(deep_link("my_bot", "cd_1_abc").as_deref(), Some("https://t.me/my_bot?start=cd_1_abc"));
        assert_eq!(deep_link("CourseBOT", "cd_1_abc").as_deref(), Some("https://t.me/CourseBOT?start=cd_1_abc"));
        for name in ["abot", "a b_bot", "бот_bot", "my_bot_", "helper", &format!("{}bot", "x".repeat(30)), "", "main-bot"] {
            assert!(deep_link(name, "cd_1_abc").is_none(), "{name}");
        }
        assert!(is_telegram_username(&format!("{}bot", "x".repeat(29))));
        let note = link_for(1, "бот «кавычки»", "abcdefghijklmnopqrstuvwx").unwrap_err();
        assert!(note.contains("cannot be a Telegram username") && note.contains("/start cd_1_abcdefghijklmnopqrstuvwx"), "{note}");
        assert!(link_for(1, "main_bot", "a/b").unwrap_err().contains("cannot travel"));
    }
}
