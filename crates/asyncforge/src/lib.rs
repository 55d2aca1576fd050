//! asyncforge library facade, shared by the CLI, build scripts and `cargo xtask`.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod remote;

pub use asyncforge_spec as spec;
