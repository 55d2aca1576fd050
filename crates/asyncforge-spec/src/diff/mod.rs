//! Comparing two documents on their resolved model (see `docs/diff.md`).

pub mod schema;
