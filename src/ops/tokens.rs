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

use super::enrol::{StartPayload, MAX_START_PAYLOAD};
use crate::error::{Error, Result};

mod store;

pub use store::{
    create_public_for_all, create_token, delete_token, get_token, list_tokens, revoke_token, CreatedToken, DeletedToken, PublicForAll,
    RevokedToken, SkipReason, SkippedDeployment, TokenInfo, TokenOptions,
};

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
