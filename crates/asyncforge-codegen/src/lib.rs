//! Rust code generation from the asyncforge IR.
//!
//! This crate turns the version-independent IR of `asyncforge-spec` into formatted Rust source.
//! It does no IO. The generators land with the code-generation work (see ARCHITECTURE.md,
//! "Status"); today the crate only fixes its place in the dependency graph.
#![deny(missing_docs)]
#![forbid(unsafe_code)]
