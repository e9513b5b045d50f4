use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{AccountCommand, BotCommand, DeploymentCommand, MemberCommand, TokenCommand};

pub async fn bot(_c: BotCommand) -> Result<ExitCode> {
    Err(super::unavailable("bot"))
}
pub async fn member(_c: MemberCommand) -> Result<ExitCode> {
    Err(super::unavailable("member"))
}
pub async fn account(_c: AccountCommand) -> Result<ExitCode> {
    Err(super::unavailable("account"))
}
pub async fn deployment(_c: DeploymentCommand) -> Result<ExitCode> {
    Err(super::unavailable("deployment"))
}
pub async fn token(_c: TokenCommand) -> Result<ExitCode> {
    Err(super::unavailable("token"))
}
