//! Code actions.
use super::Fix;
use crate::diagnostic::Diagnostic;
use crate::workspace::Workspace;

/// Fixes for one diagnostic.
pub fn code_actions(_ws: &Workspace, _diagnostic: &Diagnostic) -> Vec<Fix> {
    Vec::new()
}
