//! One snapshot for several statements while other sessions write: the REPEATABLE READ
//! transaction the online migration reads in (its before-image, its no-loss proof, its
//! validation before the switch, its preflight analysis).

use tokio_postgres::{Client, IsolationLevel, Transaction};

/// Whether the snapshot transaction may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reads only.
    ReadOnly,
    /// Creates its own temporary tables (an analysis), and is rolled back.
    TempTables,
}

/// Starts a REPEATABLE READ transaction on `client`: every statement in it sees the one
/// snapshot its first statement takes, whatever other sessions commit meanwhile.
pub async fn snapshot(client: &mut Client, access: Access) -> Result<Transaction<'_>, tokio_postgres::Error> {
    client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(access == Access::ReadOnly)
        .start()
        .await
}
