//! The integration tests: one binary, a module per area, each test on its own
//! fresh database of a real PostgreSQL server (see `harness`).

mod fixtures;
mod harness;
mod pty;

mod backup;
mod bench;
mod changes;
mod connection;
mod decisions;
mod demo;
mod enrol_sql;
mod finish;
mod exit_codes;
mod fingerprint;
mod interrupt;
mod migrate;
mod plan;
mod plans;
mod refusals;
mod replay;
mod replay_adversarial;
mod replay_online;
mod privileges;
mod security_roles;
mod rollback;
mod runtime;
mod seed;
mod security;
mod status;
mod upstream;
mod upstream_after_finish;
mod courses_yml;
mod unfinished;
mod online;
mod ops;
mod ops_cli;
mod ops_migrated;
mod validate;
mod faults;
mod undo_online;
