//! Source files and positions.
//!
//! Every node of a loaded document remembers where it was written: a [`FileId`] and a
//! [`Span`] of 1-based line and column numbers (columns count characters, not bytes).

use std::path::{Path, PathBuf};

/// Index of a file inside a [`crate::Workspace`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub(crate) u32);

impl FileId {
    /// The position of this file in load order (the root document is `0`).
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A position in a source file: 1-based line, 1-based column counted in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, serde::Serialize)]
pub struct Pos {
    /// 1-based line number.
    pub line: u32,
    /// 1-based column, in characters (not bytes).
    pub col: u32,
}

impl Pos {
    /// Creates a position from 1-based line and column.
    pub const fn new(line: u32, col: u32) -> Self {
        Pos { line, col }
    }
}

/// A half-open range of positions in one file. `end` is exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, serde::Serialize)]
pub struct Span {
    /// First character of the range.
    pub start: Pos,
    /// Position just after the last character of the range.
    pub end: Pos,
}

impl Span {
    /// Creates a span.
    pub const fn new(start: Pos, end: Pos) -> Self {
        Span { start, end }
    }

    /// A span covering one character at `pos`.
    pub const fn point(pos: Pos) -> Self {
        Span {
            start: pos,
            end: Pos::new(pos.line, pos.col + 1),
        }
    }
}

/// The text of one loaded file, with a line index for code frames.
#[derive(Debug, Clone)]
pub struct SourceFile {
    path: PathBuf,
    display: String,
    text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    /// Wraps already decoded text. `display` is the name shown to users.
    pub fn new(path: PathBuf, display: String, text: String) -> Self {
        let line_starts = SourceFile::line_starts(&text);
        SourceFile::with_line_starts(path, display, text, line_starts)
    }

    /// A file whose line index ([`SourceFile::line_starts`] of `text`) is at hand already.
    pub(crate) fn with_line_starts(
        path: PathBuf,
        display: String,
        text: String,
        line_starts: Vec<usize>,
    ) -> Self {
        SourceFile {
            path,
            display,
            text,
            line_starts,
        }
    }

    /// Where each line of `text` starts (byte offsets).
    pub(crate) fn line_starts(text: &str) -> Vec<usize> {
        let mut line_starts = vec![0];
        line_starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1));
        line_starts
    }

    /// The path the file was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The name shown in diagnostics (usually the path as given by the user).
    pub fn display_name(&self) -> &str {
        &self.display
    }

    /// The whole text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Number of lines.
    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }

    /// The text of 1-based line `line`, without its line terminator.
    pub fn line(&self, line: u32) -> Option<&str> {
        let idx = (line as usize).checked_sub(1)?;
        let start = *self.line_starts.get(idx)?;
        let end = self
            .line_starts
            .get(idx + 1)
            .copied()
            .unwrap_or(self.text.len());
        let l = &self.text[start..end];
        Some(l.trim_end_matches(['\n', '\r']))
    }
}
