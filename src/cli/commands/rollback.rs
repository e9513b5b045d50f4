use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{ConfirmArgs, ConnArgs, OutputArgs};

pub async fn run(_conn: &ConnArgs, _confirm: &ConfirmArgs, _out: &OutputArgs) -> Result<ExitCode> {
    Err(super::unavailable("rollback"))
}
