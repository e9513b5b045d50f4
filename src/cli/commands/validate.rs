use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{ConnArgs, OutputArgs};

pub async fn run(_conn: &ConnArgs, _out: &OutputArgs) -> Result<ExitCode> {
    Err(super::unavailable("validate"))
}
