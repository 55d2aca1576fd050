//! Load, resolve, validate and diagnose AsyncAPI 2.0–3.1 documents.
//!
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod check;
pub mod diagnostic;
pub mod diff;
pub mod ide;
pub mod ir;
pub mod load;
pub mod pointer;
pub mod report;
pub mod rules;
pub mod source;
pub mod structure;
pub mod tools;
pub mod version;
pub mod workspace;

pub use check::{Checked, Document, load, load_bytes, load_with};
pub use diagnostic::{Diagnostic, Location, Severity};
pub use source::{FileId, Pos, SourceFile, Span};
pub use version::Version;
pub use workspace::{LoadOptions, Workspace};
