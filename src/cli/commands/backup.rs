use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{BackupDirArgs, ConnArgs, OutputArgs, RestoreArgs};

pub async fn backup(_conn: &ConnArgs, _dir: &BackupDirArgs, _out: &OutputArgs) -> Result<ExitCode> {
    Err(super::unavailable("backup"))
}

pub async fn list(_dir: &BackupDirArgs, _out: &OutputArgs) -> Result<ExitCode> {
    Err(super::unavailable("backups"))
}

pub async fn restore(_args: RestoreArgs) -> Result<ExitCode> {
    Err(super::unavailable("restore"))
}
