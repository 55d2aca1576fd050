//! Editor intelligence as pure functions: hover, completion and code actions.
//!
//! Nothing here knows the Language Server Protocol: positions are the crate's [`Pos`] and
//! [`Span`] (1-based lines, 1-based columns in characters), files are [`FileId`]s of a
//! [`Workspace`]. The position analysis ([`context`]) reads the text itself, so completion works
//! on half-typed documents that do not parse; hover and code actions use a loaded workspace.
//!
//! Which keys are valid where comes from the validator's structure tables
//! ([`crate::structure`]), so the editor and `asyncforge validate` agree.

mod actions;
mod complete;
pub mod context;
mod hover;
mod keys;

use crate::source::{FileId, Span};

pub use actions::code_actions;
pub use complete::complete;
pub use context::{Context, Slot, Syntax, context, detect_version};
pub use hover::hover;

/// What to show when the pointer rests on something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hover {
    /// The text, in Markdown.
    pub markdown: String,
    /// The range the text is about (a key, a value).
    pub span: Span,
}

/// What a completion item completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompletionKind {
    /// A key of a mapping.
    Key,
    /// A scalar value.
    Value,
    /// A `$ref` target.
    Reference,
}

/// One completion item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// What the list shows.
    pub label: String,
    /// What it completes.
    pub kind: CompletionKind,
    /// The text that replaces [`Completion::replace`].
    pub insert_text: String,
    /// The range the insert text replaces: the key or value being typed, quotes included
    /// (the insert text brings its own); an empty range at the cursor when nothing is typed.
    pub replace: Span,
    /// A short detail (type, target kind).
    pub detail: Option<String>,
    /// A longer description, in Markdown.
    pub documentation: Option<String>,
}

/// One text edit; `span.start == span.end` is an insertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// The file to edit.
    pub file: FileId,
    /// The range to replace.
    pub span: Span,
    /// The replacement text.
    pub new_text: String,
}

/// A mechanical fix for a diagnostic: edits to apply together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fix {
    /// What the fix does ("Declare parameter `userId`").
    pub title: String,
    /// The edits, in no particular order; they never overlap.
    pub edits: Vec<Edit>,
}

/// Test fixtures: `text` with one `|` marking the cursor, as the text without it and the
/// cursor's position.
#[cfg(test)]
pub(crate) fn cursor(text: &str) -> (String, crate::source::Pos) {
    let (line_idx, col) = text
        .lines()
        .enumerate()
        .find_map(|(i, l)| l.find('|').map(|c| (i, l[..c].chars().count())))
        .expect("fixture has a cursor");
    let clean = text.replacen('|', "", 1);
    (
        clean,
        crate::source::Pos::new(line_idx as u32 + 1, col as u32 + 1),
    )
}
