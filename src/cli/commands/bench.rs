use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{ConnArgs, OutputArgs};

pub async fn run(_conn: &ConnArgs, _runs: u64, _seed: u64, _repeat: u32, _single_transaction: bool, _out: &OutputArgs) -> Result<ExitCode> {
    Err(super::unavailable("bench"))
}
