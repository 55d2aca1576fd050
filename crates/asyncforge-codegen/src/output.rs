//! What [`generate`](crate::generate) returns: files, or why there are none.

use std::path::PathBuf;

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A template could not be rendered.
    #[error("template `{name}`: {message}")]
    Template {
        /// Template name.
        name: String,
        /// What went wrong.
        message: String,
    },
    /// Generated Rust did not parse (a bug in asyncforge: please report it).
    #[error("generated Rust for `{file}` does not parse: {message}")]
    Syntax {
        /// File.
        file: String,
        /// Parser message.
        message: String,
    },
    /// The crate name is not a valid package name.
    #[error(
        "`{0}` is not a valid crate name (letters, digits, `-` and `_`, starting with a letter)"
    )]
    CrateName(String),
    /// An engine was asked for that no channel of the document keeps state in.
    #[error("`--with {engine}`: {reason}")]
    Engine {
        /// The engine.
        engine: &'static str,
        /// What it would hold, and what the document lacks.
        reason: &'static str,
    },
    /// The embedded runtime could not be copied (a bug in asyncforge: please report it).
    #[error("the generated runtime: {0}")]
    Vendor(String),
}

/// A generated file, relative to the crate root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// Path relative to the generated crate's root.
    pub path: PathBuf,
    /// Content.
    pub contents: String,
}
