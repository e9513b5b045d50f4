use std::process::ExitCode;

use anyhow::Result;

use crate::cli::MigrateArgs;

pub async fn run(_args: MigrateArgs) -> Result<ExitCode> {
    Err(super::unavailable("migrate"))
}
