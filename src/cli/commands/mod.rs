//! One module per command (or family of commands).

pub mod backup;
pub mod bench;
pub mod courses;
pub mod demo;
pub mod finish;
pub mod migrate;
pub mod ops;
pub mod plan;
pub mod rollback;
pub mod seed;
pub mod status;
pub mod tenant;
pub mod validate;
