//! profochat-saas: moves a live ProfoChatBot PostgreSQL database from its
//! single-tenant schema to a multi-tenant SaaS schema, and operates it after.
//!
//! The library never prints: progress and findings go through [`report::Reporter`]
//! or come back as values; the `profochat-saas` binary turns them into text or JSON.

pub mod backup;
pub mod bench;
pub mod conn;
pub mod courses_yml;
pub mod demo;
pub mod error;
pub mod finish;
pub mod fingerprint;
pub mod legacy;
pub mod migrate;
pub mod next_steps;
pub mod ops;
pub mod plan;
pub mod report;
pub mod rollback;
pub mod schema;
pub mod seed;
pub mod server;
pub mod sql;
pub mod state;
pub mod target;
pub mod tenant;
pub mod validate;

pub use error::{Error, ExitStatus, Result};
