use std::process::ExitCode;

use anyhow::Result;

use crate::cli::OutputArgs;

pub async fn run(_keep: bool, _runs: u64, _out: &OutputArgs) -> Result<ExitCode> {
    Err(super::unavailable("demo"))
}
