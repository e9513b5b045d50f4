//! The integration tests: one binary, a module per area, each test on its own
//! fresh database of a real PostgreSQL server (see `harness`).

mod fixtures;
mod harness;

mod backup;
mod bench;
mod connection;
mod demo;
mod fingerprint;
mod migrate;
mod plan;
mod refusals;
mod replay;
mod rollback;
mod runtime;
mod seed;
mod status;
mod unfinished;
mod ops;
mod ops_cli;
mod ops_migrated;
mod validate;
