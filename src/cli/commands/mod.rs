//! One module per command (or family of commands).

pub mod backup;
pub mod bench;
pub mod demo;
pub mod migrate;
pub mod ops;
pub mod plan;
pub mod rollback;
pub mod seed;
pub mod status;
pub mod validate;

/// Placeholder for commands whose implementation has not landed yet.
pub fn unavailable(what: &str) -> anyhow::Error {
    profochat_saas::Error::state(format!("`{what}` is not available in this build"), "Use a newer profochat-saas.").into()
}
