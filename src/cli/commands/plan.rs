use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{ConnArgs, OutputArgs, PolicyArgs};

pub async fn run(_conn: &ConnArgs, _policy: &PolicyArgs, _out: &OutputArgs) -> Result<ExitCode> {
    Err(super::unavailable("plan"))
}
