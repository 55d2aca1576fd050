//! Hover text.
use super::Hover;
use crate::source::{FileId, Pos};
use crate::workspace::Workspace;

/// What to show for the position `pos` of `file`.
pub fn hover(_ws: &Workspace, _file: FileId, _pos: Pos) -> Option<Hover> {
    None
}
