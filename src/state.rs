//! Where a migration stands, as recorded in `profochat_saas.migration.status`: one
//! typed value, parsed in one place.

use serde::Serialize;

/// The recorded status of one migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MigrationStatus {
    /// Inside the migration transaction (never seen committed).
    Running,
    /// Data and keys committed; secondary indexes still being built (or interrupted).
    IndexesPending,
    /// Complete; the legacy interface and the compatibility layer are in place.
    Completed,
    /// `finish` removed the legacy interface and the compatibility layer.
    Finished,
    /// Undone by `rollback`.
    RolledBack,
}

impl MigrationStatus {
    pub const ALL: [MigrationStatus; 5] = [
        MigrationStatus::Running,
        MigrationStatus::IndexesPending,
        MigrationStatus::Completed,
        MigrationStatus::Finished,
        MigrationStatus::RolledBack,
    ];

    /// As stored in the state table.
    pub fn as_str(self) -> &'static str {
        match self {
            MigrationStatus::Running => "running",
            MigrationStatus::IndexesPending => "indexes_pending",
            MigrationStatus::Completed => "completed",
            MigrationStatus::Finished => "finished",
            MigrationStatus::RolledBack => "rolled_back",
        }
    }

    pub fn parse(s: &str) -> Option<MigrationStatus> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// The data is migrated (whether or not the indexes are built or `finish` ran).
    pub fn migrated(self) -> bool {
        matches!(self, MigrationStatus::IndexesPending | MigrationStatus::Completed | MigrationStatus::Finished)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_parses_back() {
        for s in MigrationStatus::ALL {
            assert_eq!(MigrationStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(MigrationStatus::parse("done"), None);
        assert!(MigrationStatus::Finished.migrated() && !MigrationStatus::RolledBack.migrated());
    }
}
