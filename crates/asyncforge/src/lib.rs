//! asyncforge library facade (used by the CLI, build scripts and `cargo xtask`).
#![deny(missing_docs)]
#![forbid(unsafe_code)]
pub use asyncforge_spec as spec;
