//! asyncforge library facade, shared by the CLI, build scripts and `cargo xtask`.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod generate;
pub mod remote;
pub mod snapshots;

pub use generate::build;

pub use asyncforge_codegen as codegen;
pub use asyncforge_spec as spec;
