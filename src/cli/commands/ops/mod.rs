//! The commands that operate the SaaS schema: `bot`, `member`, `account`,
//! `deployment` and `token`. Each works only on a migrated database.

mod account;
mod bot;
mod deployment;
mod member;
mod token;

pub use account::account;
pub use bot::bot;
pub use deployment::deployment;
pub use member::member;
pub use token::token;

use anyhow::Result;
use profochat_saas::conn::Db;
use profochat_saas::schema;

use crate::cli::{connect, ConnArgs};

/// Connects and refuses (exit 4) unless the database is migrated.
async fn connect_migrated(conn: &ConnArgs) -> Result<Db> {
    let db = connect(conn).await?;
    schema::require_migrated(&db).await?;
    Ok(db)
}

/// A timestamp for tables, or a dash.
fn when(t: Option<chrono::NaiveDateTime>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_else(|| "-".into())
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}
