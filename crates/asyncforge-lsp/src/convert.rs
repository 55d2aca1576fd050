//! Positions and names as the protocol spells them.
//!
//! The engine counts 1-based lines and 1-based columns in characters; LSP counts 0-based lines
//! and 0-based columns in UTF-16 code units. Files are absolute paths here and `file://` URIs
//! on the wire.

use std::path::Path;
use std::str::FromStr;

use asyncforge_spec::{Pos, SourceFile, Span};
use lsp_types::{Position, Range, Uri};
use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};

/// Characters escaped in the path of a `file://` URI (RFC 3986: everything but unreserved
/// characters, sub-delimiters, `:`, `@` and `/`).
const PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// The key a file is known by: its absolute path with `.` and `..` folded, as the engine keys
/// the files of a workspace. URIs of other schemes (`untitled:`) are their own key.
pub fn uri_to_key(uri: &Uri) -> String {
    let s = uri.as_str();
    let Some(rest) = s.strip_prefix("file://") else {
        return s.to_owned();
    };
    let rest = rest.strip_prefix("localhost").unwrap_or(rest);
    let path = percent_decode_str(rest).decode_utf8_lossy();
    normalize_path(Path::new(path.as_ref()))
        .display()
        .to_string()
}

/// The `file://` URI of an absolute path (keys that are not paths are URIs already).
pub fn key_to_uri(key: &str) -> Option<Uri> {
    if !key.starts_with('/') {
        return Uri::from_str(key).ok();
    }
    let encoded = utf8_percent_encode(key, PATH).to_string();
    Uri::from_str(&format!("file://{encoded}")).ok()
}

pub use asyncforge_spec::workspace::normalize_path;

/// Number of UTF-16 code units of the first `chars` characters of `line` (all of it when
/// shorter).
fn utf16_prefix(line: &str, chars: usize) -> u32 {
    line.chars().take(chars).map(|c| c.len_utf16() as u32).sum()
}

/// An engine position as an LSP position, using the text of the file it points into.
pub fn position(source: &SourceFile, pos: Pos) -> Position {
    position_on(source.line(pos.line), pos)
}

/// An engine position as an LSP position, given the text of its line (`None` past the end).
fn position_on(line_text: Option<&str>, pos: Pos) -> Position {
    if pos.line == 0 {
        return Position::new(0, 0);
    }
    let line = pos.line - 1;
    let col = (pos.col.max(1) - 1) as usize;
    match line_text {
        Some(text) => Position::new(line, utf16_prefix(text, col)),
        // Past the last line (the end of a file that ends with a newline).
        None => Position::new(line, 0),
    }
}

/// An engine span as an LSP range.
pub fn range(source: &SourceFile, span: Span) -> Range {
    ordered(position(source, span.start), position(source, span.end))
}

fn ordered(start: Position, end: Position) -> Range {
    if end < start {
        Range::new(start, start)
    } else {
        Range::new(start, end)
    }
}

/// An LSP position as an engine position (1-based, columns in characters).
pub fn pos(source: &SourceFile, position: Position) -> Pos {
    pos_on(source.line(position.line.saturating_add(1)), position)
}

/// An LSP position as an engine position, given the text of its line (`None` past the end).
fn pos_on(line_text: Option<&str>, position: Position) -> Pos {
    let line = position.line.saturating_add(1);
    let Some(text) = line_text else {
        return Pos::new(line, 1);
    };
    let mut units = 0u32;
    let mut chars = 0u32;
    for c in text.chars() {
        if units >= position.character {
            break;
        }
        units += c.len_utf16() as u32;
        chars += 1;
    }
    Pos::new(line, chars + 1)
}

/// The text of 1-based line `line` of `text`, without its terminator (`None` past the end).
fn text_line(text: &str, line: u32) -> Option<&str> {
    let l = text.split('\n').nth((line as usize).checked_sub(1)?)?;
    Some(l.strip_suffix('\r').unwrap_or(l))
}

/// [`pos`] on a text that has no [`SourceFile`] (an editor buffer that may not parse).
pub fn pos_in_text(text: &str, position: Position) -> Pos {
    pos_on(text_line(text, position.line.saturating_add(1)), position)
}

/// [`range`] on a text that has no [`SourceFile`].
pub fn range_in_text(text: &str, span: Span) -> Range {
    let at = |p: Pos| position_on(text_line(text, p.line), p);
    ordered(at(span.start), at(span.end))
}

/// Byte offset in `text` of an LSP position; positions past a line's end clamp to it and
/// positions past the last line to the end of the text.
pub fn offset(text: &str, position: Position) -> usize {
    let mut start = 0usize;
    for _ in 0..position.line {
        match text[start..].find('\n') {
            Some(i) => start += i + 1,
            None => return text.len(),
        }
    }
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    // The line's content, without the `\r` of a `\r\n` terminator.
    let line = text[start..line_end]
        .strip_suffix('\r')
        .unwrap_or(&text[start..line_end]);
    let mut units = 0u32;
    for (i, c) in line.char_indices() {
        if units >= position.character {
            return start + i;
        }
        units += c.len_utf16() as u32;
    }
    start + line.len()
}

/// The position just after the last character of `text`.
pub fn end_position(text: &str) -> Position {
    let line = text.matches('\n').count() as u32;
    let last = text.rsplit('\n').next().unwrap_or("");
    Position::new(line, last.encode_utf16().count() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(text: &str) -> SourceFile {
        SourceFile::new("/x.yaml".into(), "x.yaml".into(), text.to_owned())
    }

    #[test]
    fn columns_count_utf16_units() {
        // `é` is one unit, `😀` two; the engine counts one column for each character.
        let s = source("a: é😀x\n");
        assert_eq!(position(&s, Pos::new(1, 6)), Position::new(0, 6));
        assert_eq!(pos(&s, Position::new(0, 6)), Pos::new(1, 6));
        assert_eq!(offset("a: é😀x\n", Position::new(0, 6)), "a: é😀".len());
    }

    #[test]
    fn buffer_positions_match_source_positions() {
        let text = "a: é😀x\r\nb: 😀\n";
        let s = source(text);
        for (line, character) in [(0, 0), (0, 4), (0, 6), (1, 3), (1, 5), (2, 0), (7, 3)] {
            let p = Position::new(line, character);
            assert_eq!(pos_in_text(text, p), pos(&s, p), "{p:?}");
        }
        let span = Span::new(Pos::new(1, 4), Pos::new(2, 5));
        assert_eq!(range_in_text(text, span), range(&s, span));
        assert_eq!(
            range_in_text(text, span),
            Range::new(Position::new(0, 3), Position::new(1, 5))
        );
    }

    #[test]
    fn offsets_clamp() {
        assert_eq!(offset("ab\ncd", Position::new(5, 0)), 5);
        assert_eq!(offset("ab\ncd", Position::new(0, 9)), 2);
        assert_eq!(offset("ab\r\ncd", Position::new(0, 9)), 2);
        assert_eq!(offset("ab\ncd", Position::new(1, 1)), 4);
        assert_eq!(end_position("ab\ncé"), Position::new(1, 2));
    }

    #[test]
    fn uris_round_trip() {
        let uri = key_to_uri("/tmp/a b/user{id}.yaml").expect("uri");
        assert_eq!(uri.as_str(), "file:///tmp/a%20b/user%7Bid%7D.yaml");
        assert_eq!(uri_to_key(&uri), "/tmp/a b/user{id}.yaml");
        let dotted = Uri::from_str("file:///tmp/x/../y.yaml").expect("uri");
        assert_eq!(uri_to_key(&dotted), "/tmp/y.yaml");
    }
}
