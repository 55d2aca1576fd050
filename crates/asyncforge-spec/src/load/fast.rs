//! A fast reader for the block-style YAML that API documents are written in.
//!
//! It reads the text in one pass, line by line, with no token queue, and hands the tree builder
//! exactly the events and spans `saphyr-parser` produces for the same text. It knows a subset of
//! YAML: block mappings and sequences, plain scalars (over several lines too), quoted scalars on
//! one line, literal and folded block scalars, flow collections on one line, and comments. At the
//! first thing outside that subset (anchors, aliases, tags, directives, document markers, complex
//! keys, tabs, multi-line quoted scalars or flow collections) or anything that may be an error, it
//! stops with [`Stop::Unsupported`], and the caller reads the whole text with `saphyr-parser`.
//! It never reports a syntax error itself, so every error message and location comes from the
//! full parser.

use std::borrow::Cow;

use saphyr_parser::{Event, ScalarStyle};

use crate::source::{Pos, Span};

/// Deepest nesting of collections read here; deeper text goes to saphyr.
const MAX_DEPTH: usize = 256;

/// Why the fast reader stopped before the end.
pub(super) enum Stop<E> {
    /// The text uses YAML this reader does not read (or may be invalid).
    Unsupported,
    /// The event sink refused an event.
    Sink(E),
}

type Step<E> = Result<(), Stop<E>>;

/// Reads `text`, handing every event to `sink` in order, or stops (see [`Stop`]).
pub(super) fn parse<'a, E>(
    text: &'a str,
    sink: impl FnMut(Event<'a>, Span) -> Result<(), E>,
) -> Result<(), Stop<E>> {
    let Some(wide) = plain_text(text.as_bytes()) else {
        return Err(Stop::Unsupported);
    };
    let mut r = Reader {
        s: text,
        b: text.as_bytes(),
        i: 0,
        line: 1,
        line_start: 0,
        wide,
        wide_next: 0,
        depth: 0,
        sink,
    };
    r.document()
}

/// Checks that the text is free of what this reader leaves to the full parser (tabs, carriage
/// returns, control characters, byte order marks, non-characters and the line separators that
/// YAML 1.1 knew) and returns the offsets of its non-ASCII characters.
fn plain_text(b: &[u8]) -> Option<Vec<usize>> {
    let mut wide = Vec::new();
    let mut chunks = b.chunks_exact(32);
    let mut base = 0;
    for chunk in chunks.by_ref() {
        // No early exit: the compiler turns this into a few vector instructions per chunk.
        let unusual = chunk
            .iter()
            .fold(false, |a, &c| a | ((c < 0x20) & (c != b'\n')) | (c >= 0x7f));
        if unusual {
            check_bytes(b, base, base + 32, &mut wide)?;
        }
        base += 32;
    }
    check_bytes(b, base, b.len(), &mut wide)?;
    Some(wide)
}

/// The byte-by-byte check of `b[from..to]` behind [`plain_text`].
fn check_bytes(b: &[u8], from: usize, to: usize, wide: &mut Vec<usize>) -> Option<()> {
    for k in from..to {
        let c = b[k];
        if (c < 0x20 && c != b'\n') || c == 0x7f {
            return None;
        }
        if c >= 0xc0 {
            let next = b.get(k + 1).copied().unwrap_or(0);
            let third = b.get(k + 2).copied().unwrap_or(0);
            let odd = match c {
                0xc2 => (0x80..=0x9f).contains(&next),
                0xe2 => next == 0x80 && (third == 0xa8 || third == 0xa9),
                0xef => (next == 0xbb && third == 0xbf) || (next == 0xbf && third >= 0xbe),
                _ => false,
            };
            if odd {
                return None;
            }
            wide.push(k);
        }
    }
    Some(())
}

/// Bytes that may not start a plain scalar (or that start something this reader leaves alone).
fn indicator(c: u8) -> bool {
    matches!(
        c,
        b'-' | b'?'
            | b':'
            | b','
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b'#'
            | b'&'
            | b'*'
            | b'!'
            | b'|'
            | b'>'
            | b'\''
            | b'"'
            | b'%'
            | b'@'
            | b'`'
    )
}

/// The style of a scalar opened by quote `q`.
fn quote_style(q: u8) -> ScalarStyle {
    if q == b'"' {
        ScalarStyle::DoubleQuoted
    } else {
        ScalarStyle::SingleQuoted
    }
}

/// A mapping key found on the current line.
struct Key<'a> {
    text: Cow<'a, str>,
    style: ScalarStyle,
    /// Byte offsets of the key's first byte and one past its last.
    start: usize,
    end: usize,
    /// Byte offset of the `:` after it.
    colon: usize,
}

struct Reader<'a, F> {
    s: &'a str,
    b: &'a [u8],
    /// Current byte offset.
    i: usize,
    /// 1-based line of `i`.
    line: u32,
    /// Byte offset where the current line starts.
    line_start: usize,
    /// Offsets of the text's non-ASCII characters, and the first of them not before the
    /// current line.
    wide: Vec<usize>,
    wide_next: usize,
    /// Collections open around `i`.
    depth: usize,
    sink: F,
}

impl<'a, E, F: FnMut(Event<'a>, Span) -> Result<(), E>> Reader<'a, F> {
    fn emit(&mut self, ev: Event<'a>, start: Pos, end: Pos) -> Step<E> {
        (self.sink)(ev, Span::new(start, end)).map_err(Stop::Sink)
    }

    fn at(&self, k: usize) -> u8 {
        self.b.get(k).copied().unwrap_or(0)
    }

    fn peek(&self) -> u8 {
        self.at(self.i)
    }

    fn at_end(&self) -> bool {
        self.i >= self.b.len()
    }

    /// The position of byte offset `k` on the current line.
    fn pos(&self, k: usize) -> Pos {
        let ascii = self.wide.get(self.wide_next).is_none_or(|&w| w >= k);
        let chars = if ascii {
            k - self.line_start
        } else {
            self.s[self.line_start..k].chars().count()
        };
        Pos::new(self.line, chars as u32 + 1)
    }

    /// Where saphyr places the end of the stream: it reads text without a final line break as
    /// if it had one.
    fn eof(&self) -> Pos {
        Pos::new(self.line + u32::from(!self.s.ends_with('\n')), 1)
    }

    /// Where the next token is: the current byte, or the end of the stream.
    fn here(&self) -> Pos {
        if self.at_end() {
            self.eof()
        } else {
            self.pos(self.i)
        }
    }

    /// The indentation of the current line, when `i` is at its first non-space byte.
    fn indent(&self) -> usize {
        self.i - self.line_start
    }

    /// Whether a plain scalar may start at `k`: not at an indicator, except `-`, `?` and `:`
    /// followed by a character a plain scalar may hold there (`-1`, `:x`; in a flow
    /// collection not `,`, `[`, `]`, `{`, `}`).
    fn plain_start(&self, k: usize, flow: bool) -> bool {
        let c = self.at(k);
        if matches!(c, b'-' | b'?' | b':') {
            let next = self.at(k + 1);
            let flow_indicator = matches!(next, b',' | b'[' | b']' | b'{' | b'}');
            return !(matches!(next, 0 | b' ' | b'\n') || (flow && flow_indicator));
        }
        !indicator(c) && c != b'\n' && c != 0
    }

    fn skip_spaces(&mut self) {
        // Eight bytes at a time: indentation is most of what this skips.
        const SPACES: u64 = u64::from_ne_bytes([b' '; 8]);
        while let Some(chunk) = self.b.get(self.i..self.i + 8) {
            let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
            if word != SPACES {
                self.i += ((word ^ SPACES).trailing_zeros() / 8) as usize;
                return;
            }
            self.i += 8;
        }
        while self.peek() == b' ' {
            self.i += 1;
        }
    }

    /// Steps over the line break at `i`.
    fn newline(&mut self) {
        self.i += 1;
        self.line += 1;
        self.line_start = self.i;
        while self.wide.get(self.wide_next).is_some_and(|&w| w < self.i) {
            self.wide_next += 1;
        }
    }

    /// Byte offset of the end of the line `k` is on (its `\n`, or the end of the text).
    fn eol(&self, k: usize) -> usize {
        self.b[k..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(self.b.len(), |n| k + n)
    }

    /// From the start of a line: skips blank and comment lines and stops at the first byte of
    /// the next line with content (`Ok(true)`), or at the end of the text (`Ok(false)`).
    fn next_content(&mut self) -> Result<bool, Stop<E>> {
        loop {
            self.skip_spaces();
            match self.peek() {
                _ if self.at_end() => return Ok(false),
                b'\n' => self.newline(),
                b'#' => {
                    self.i = self.eol(self.i);
                    if !self.at_end() {
                        self.newline();
                    }
                }
                _ => {
                    if self.indent() == 0 && self.document_marker() {
                        return Err(Stop::Unsupported);
                    }
                    return Ok(true);
                }
            }
        }
    }

    /// `---` or `...` at the start of a line (a document boundary), or a directive.
    fn document_marker(&self) -> bool {
        let rest = &self.b[self.i..];
        let marker = (rest.starts_with(b"---") || rest.starts_with(b"..."))
            && matches!(rest.get(3), None | Some(b' ' | b'\n'));
        marker || rest.first() == Some(&b'%')
    }

    /// After a node that ends on this line: only spaces and a comment may follow. Moves to the
    /// next line with content.
    fn finish_line(&mut self) -> Result<bool, Stop<E>> {
        let before = self.i;
        self.skip_spaces();
        if self.peek() == b'#' && self.i > before {
            self.i = self.eol(self.i);
        }
        if self.at_end() {
            return Ok(false);
        }
        if self.peek() != b'\n' {
            return Err(Stop::Unsupported);
        }
        self.newline();
        self.next_content()
    }

    /// A `-` that starts a sequence entry.
    fn at_entry(&self) -> bool {
        self.peek() == b'-' && matches!(self.at(self.i + 1), 0 | b' ' | b'\n')
    }

    fn document(&mut self) -> Step<E> {
        let origin = Pos::new(1, 1);
        self.emit(Event::StreamStart, origin, origin)?;
        if !self.next_content()? || self.indent() != 0 {
            return Err(Stop::Unsupported);
        }
        let start = self.here();
        self.emit(Event::DocumentStart(false), start, start)?;
        if self.at_entry() {
            self.sequence(false)?;
        } else if self.key().is_some() {
            self.mapping()?;
        } else {
            return Err(Stop::Unsupported);
        }
        if !self.at_end() {
            return Err(Stop::Unsupported);
        }
        let eof = self.eof();
        self.emit(Event::DocumentEnd, eof, eof)?;
        self.emit(Event::StreamEnd, eof, eof)
    }

    /// The mapping key starting at `i`, if the current line holds one.
    fn key(&self) -> Option<Key<'a>> {
        let start = self.i;
        let c = self.peek();
        let (text, style, end, mut k) = if c == b'"' || c == b'\'' {
            let (text, end) = self.quoted(start)?;
            (text, quote_style(c), end, end)
        } else {
            if !self.plain_start(start, false) {
                return None;
            }
            let mut k = start;
            loop {
                match self.at(k) {
                    b':' if matches!(self.at(k + 1), 0 | b' ' | b'\n') => break,
                    0 | b'\n' => return None,
                    b'#' if self.at(k - 1) == b' ' => return None,
                    _ => k += 1,
                }
            }
            let mut end = k;
            while self.at(end - 1) == b' ' {
                end -= 1;
            }
            (
                Cow::Borrowed(&self.s[start..end]),
                ScalarStyle::Plain,
                end,
                k,
            )
        };
        while self.at(k) == b' ' {
            k += 1;
        }
        if self.at(k) != b':' || !matches!(self.at(k + 1), 0 | b' ' | b'\n') || end - start > 1024 {
            return None;
        }
        Some(Key {
            text,
            style,
            start,
            end,
            colon: k,
        })
    }

    /// Runs `read` one level deeper, or stops past [`MAX_DEPTH`] levels (so that no input runs
    /// the reader's stack out; saphyr and the builder then report the nesting).
    fn nested(&mut self, read: impl FnOnce(&mut Self) -> Step<E>) -> Step<E> {
        if self.depth >= MAX_DEPTH {
            return Err(Stop::Unsupported);
        }
        self.depth += 1;
        let done = read(self);
        self.depth -= 1;
        done
    }

    fn mapping(&mut self) -> Step<E> {
        self.nested(Self::mapping_entries)
    }

    fn sequence(&mut self, indentless: bool) -> Step<E> {
        self.nested(|r| r.sequence_entries(indentless))
    }

    fn flow(&mut self) -> Step<E> {
        self.nested(Self::flow_entries)
    }

    /// A block mapping whose first key is at `i`; its keys are all at this column.
    fn mapping_entries(&mut self) -> Step<E> {
        let column = self.indent();
        let start = self.here();
        self.emit(Event::MappingStart(0, None), start, start)?;
        loop {
            let key = self.key().ok_or(Stop::Unsupported)?;
            let ks = self.pos(key.start);
            let ke = if key.style == ScalarStyle::Plain {
                self.pos(key.end)
            } else {
                self.token_end(key.end)
            };
            self.emit(Event::Scalar(key.text, key.style, 0, None), ks, ke)?;
            let colon = self.pos(key.colon);
            self.i = key.colon + 1;
            self.mapping_value(column, colon)?;
            let end = self.here();
            if self.at_end() || self.indent() < column {
                return self.emit(Event::MappingEnd, end, end);
            }
            if self.indent() > column || self.at_entry() {
                return Err(Stop::Unsupported);
            }
        }
    }

    /// The value after the `:` of a key at `column`.
    fn mapping_value(&mut self, column: usize, colon: Pos) -> Step<E> {
        self.skip_spaces();
        if !matches!(self.peek(), b'\n' | b'#' | 0) {
            return self.inline(column);
        }
        // Nothing more on this line: the value is on the lines below, or empty.
        self.i = self.eol(self.i);
        if !self.at_end() {
            self.newline();
        }
        let empty = || Event::Scalar(Cow::Borrowed(""), ScalarStyle::Plain, 0, None);
        if !self.next_content()? {
            return self.emit(empty(), colon, colon);
        }
        let indent = self.indent();
        if indent > column {
            self.node(column)
        } else if indent == column && self.at_entry() {
            self.sequence(true)
        } else {
            self.emit(empty(), colon, colon)
        }
    }

    /// A node that starts a line of its own, indented past `parent`.
    fn node(&mut self, parent: usize) -> Step<E> {
        if self.at_entry() {
            self.sequence(false)
        } else if self.key().is_some() {
            self.mapping()
        } else {
            self.inline(parent)
        }
    }

    /// A block sequence whose first `-` is at `i`. An indentless sequence (the value of a key
    /// at the same column) starts where its first entry's content does, as saphyr has it.
    fn sequence_entries(&mut self, indentless: bool) -> Step<E> {
        let column = self.indent();
        if indentless {
            let mut k = self.i + 1;
            while self.at(k) == b' ' {
                k += 1;
            }
            if matches!(self.at(k), 0 | b'\n' | b'#') {
                return Err(Stop::Unsupported);
            }
            let start = self.pos(k);
            self.emit(Event::SequenceStart(0, None), start, start)?;
        } else {
            let start = self.here();
            self.emit(Event::SequenceStart(0, None), start, start)?;
        }
        loop {
            self.i += 1;
            self.skip_spaces();
            if matches!(self.peek(), b'\n' | b'#' | 0) {
                // An entry whose content is on the lines below, or empty.
                self.i = self.eol(self.i);
                let empty = self.pos(self.i);
                if !self.at_end() {
                    self.newline();
                }
                if self.next_content()? && self.indent() > column {
                    self.node(column)?;
                } else {
                    self.emit(
                        Event::Scalar(Cow::Borrowed(""), ScalarStyle::Plain, 0, None),
                        empty,
                        empty,
                    )?;
                }
            } else if self.at_entry() {
                // `- - x`: a sequence in a sequence, at the inner `-`.
                self.sequence(false)?;
            } else if self.key().is_some() {
                // `- a: 1`: a mapping in a sequence, its keys at the column of `a`.
                self.mapping()?;
            } else {
                self.inline(column)?;
            }
            let end = self.here();
            if self.at_end() || self.indent() < column {
                return self.emit(Event::SequenceEnd, end, end);
            }
            if self.indent() == column && self.at_entry() {
                continue;
            }
            if indentless && self.indent() == column {
                return self.emit(Event::SequenceEnd, end, end);
            }
            return Err(Stop::Unsupported);
        }
    }

    /// A scalar or flow collection starting at `i`, in a block whose parent is at `parent`.
    fn inline(&mut self, parent: usize) -> Step<E> {
        match self.peek() {
            b'|' | b'>' => self.block_scalar(parent),
            b'"' | b'\'' => {
                self.quoted_scalar()?;
                self.finish_line().map(drop)
            }
            b'[' | b'{' => {
                self.flow()?;
                self.finish_line().map(drop)
            }
            _ if self.plain_start(self.i, false) => self.plain(parent),
            _ => Err(Stop::Unsupported),
        }
    }

    /// Emits the quoted scalar at `i` and moves past its closing quote.
    fn quoted_scalar(&mut self) -> Step<E> {
        let style = quote_style(self.peek());
        let (text, end) = self.quoted(self.i).ok_or(Stop::Unsupported)?;
        let (s, e) = (self.pos(self.i), self.token_end(end));
        self.emit(Event::Scalar(text, style, 0, None), s, e)?;
        self.i = end;
        Ok(())
    }

    /// A quoted scalar on one line starting at `start`: its value and the offset after its
    /// closing quote. `None` for anything else (an escape it does not know, a line break).
    fn quoted(&self, start: usize) -> Option<(Cow<'a, str>, usize)> {
        let q = self.at(start);
        let mut k = start + 1;
        let mut owned: Option<String> = None;
        let mut run = k;
        loop {
            let c = self.at(k);
            match c {
                0 | b'\n' => return None,
                _ if c == q => {
                    if q == b'\'' && self.at(k + 1) == b'\'' {
                        let o = owned.get_or_insert_with(String::new);
                        o.push_str(&self.s[run..=k]);
                        k += 2;
                        run = k;
                        continue;
                    }
                    let text = match owned {
                        Some(mut o) => {
                            o.push_str(&self.s[run..k]);
                            Cow::Owned(o)
                        }
                        None => Cow::Borrowed(&self.s[run..k]),
                    };
                    return Some((text, k + 1));
                }
                b'\\' if q == b'"' => {
                    let o = owned.get_or_insert_with(String::new);
                    o.push_str(&self.s[run..k]);
                    let (ch, len) = self.escape(k + 1)?;
                    o.push(ch);
                    k += 1 + len;
                    run = k;
                }
                _ => k += 1,
            }
        }
    }

    /// Where saphyr ends a quoted scalar or a closing bracket that ends before `k`: past the
    /// spaces after it, and past a comment after them.
    fn token_end(&self, mut k: usize) -> Pos {
        let after_quote = k;
        while self.at(k) == b' ' {
            k += 1;
        }
        if self.at(k) == b'#' && k > after_quote {
            k = self.eol(k);
        }
        self.pos(k)
    }

    /// The escape after a `\` at `k`: the character and how many bytes it takes.
    fn escape(&self, k: usize) -> Option<(char, usize)> {
        let hex = |n: usize| -> Option<(char, usize)> {
            let digits = self.s.get(k + 1..k + 1 + n)?;
            if !digits.bytes().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            let v = u32::from_str_radix(digits, 16).ok()?;
            Some((char::from_u32(v)?, 1 + n))
        };
        let ch = match self.at(k) {
            b'\\' => '\\',
            b'"' => '"',
            b'/' => '/',
            b' ' => ' ',
            b'n' => '\n',
            b't' => '\t',
            b'r' => '\r',
            b'0' => '\0',
            b'a' => '\x07',
            b'b' => '\x08',
            b'e' => '\x1b',
            b'f' => '\x0c',
            b'v' => '\x0b',
            b'x' => return hex(2),
            b'u' => return hex(4),
            b'U' => return hex(8),
            _ => return None,
        };
        Some((ch, 1))
    }

    /// A plain scalar starting at `i`, continued on following lines indented past `parent`.
    fn plain(&mut self, parent: usize) -> Step<E> {
        let start = self.pos(self.i);
        let first = self.i;
        let end = self.plain_line()?;
        let mut last = self.pos(end);
        let mut text: Option<String> = None;
        // What follows on the first line: spaces, then a comment or the line's end.
        self.i = end;
        self.skip_spaces();
        let commented = self.peek() == b'#';
        self.i = self.eol(self.i);
        if !commented && !self.at_end() {
            self.newline();
            let mut breaks = 0usize;
            loop {
                self.skip_spaces();
                if self.at_end() || self.peek() == b'#' {
                    break;
                }
                if self.peek() == b'\n' {
                    breaks += 1;
                    self.newline();
                    continue;
                }
                if self.indent() <= parent {
                    break;
                }
                if !self.plain_start(self.i, false) {
                    return Err(Stop::Unsupported);
                }
                let seg_start = self.i;
                let seg_end = self.plain_line()?;
                self.i = seg_end;
                self.skip_spaces();
                if !matches!(self.peek(), b'\n' | 0) {
                    // A comment after a continuation line: leave it to the full parser.
                    return Err(Stop::Unsupported);
                }
                let t = text.get_or_insert_with(|| self.s[first..end].to_owned());
                if breaks == 0 {
                    t.push(' ');
                }
                for _ in 0..breaks {
                    t.push('\n');
                }
                t.push_str(&self.s[seg_start..seg_end]);
                breaks = 0;
                last = self.pos(seg_end);
                if self.at_end() {
                    break;
                }
                self.newline();
            }
            // Back to the start of the line that ended the scalar.
            if !self.at_end() {
                self.i = self.line_start;
            }
        } else if !self.at_end() {
            self.newline();
        }
        let value = match text {
            Some(t) => Cow::Owned(t),
            None => Cow::Borrowed(&self.s[first..end]),
        };
        self.emit(
            Event::Scalar(value, ScalarStyle::Plain, 0, None),
            start,
            last,
        )?;
        self.next_content().map(drop)
    }

    /// One line of a plain scalar from `i`: the offset after its last non-space byte. Stops
    /// at `: ` (a key where none may be) and at a trailing `:`.
    fn plain_line(&self) -> Result<usize, Stop<E>> {
        let mut k = self.i;
        loop {
            match self.at(k) {
                0 | b'\n' => break,
                b'#' if self.at(k - 1) == b' ' => break,
                b':' if matches!(self.at(k + 1), 0 | b' ' | b'\n') => {
                    return Err(Stop::Unsupported);
                }
                _ => k += 1,
            }
        }
        while k > self.i && self.at(k - 1) == b' ' {
            k -= 1;
        }
        if k == self.i {
            return Err(Stop::Unsupported);
        }
        Ok(k)
    }

    /// A literal (`|`) or folded (`>`) block scalar whose header is at `i`.
    fn block_scalar(&mut self, parent: usize) -> Step<E> {
        let folded = self.peek() == b'>';
        self.i += 1;
        let chomp = match self.peek() {
            b'-' | b'+' => {
                self.i += 1;
                self.at(self.i - 1)
            }
            _ => 0,
        };
        let before = self.i;
        self.skip_spaces();
        if self.peek() == b'#' && self.i > before {
            self.i = self.eol(self.i);
        }
        if self.peek() != b'\n' {
            return Err(Stop::Unsupported);
        }
        self.newline();
        // The first line fixes the indentation; leading blank lines are left to saphyr.
        let mut k = self.i;
        while self.at(k) == b' ' {
            k += 1;
        }
        let indent = k - self.i;
        if indent <= parent || matches!(self.at(k), 0 | b'\n') {
            return Err(Stop::Unsupported);
        }
        let start = self.pos(k);
        // Content lines, each without its indentation, and how many blank lines follow each.
        let mut lines: Vec<(&'a str, usize)> = Vec::new();
        let end;
        loop {
            let mut k = self.i;
            while self.at(k) == b' ' && k - self.i < indent {
                k += 1;
            }
            if k >= self.b.len() {
                // The text ends in the scalar (on a line of spaces, or after a final break).
                self.i = self.b.len();
                end = self.eof();
                break;
            }
            let c = self.at(k);
            if c == b'\n' {
                // A blank line, or one of spaces only up to the indentation.
                match lines.last_mut() {
                    Some(last) => last.1 += 1,
                    None => return Err(Stop::Unsupported),
                }
                self.i = k;
                self.newline();
                continue;
            }
            if k - self.i < indent {
                // A less indented line ends the scalar, at its first non-space byte.
                end = self.pos(k);
                break;
            }
            let e = self.eol(k);
            if e >= self.b.len() {
                // Content up to the end of the text, with no final break.
                return Err(Stop::Unsupported);
            }
            if c == b' ' && (folded || self.b[k..e].iter().all(|&c| c == b' ')) {
                // More indented lines fold differently, and a line of spaces beyond the
                // indentation is content only in some readings: leave both to saphyr.
                return Err(Stop::Unsupported);
            }
            lines.push((&self.s[k..e], 0));
            self.i = e;
            self.newline();
        }
        let mut value = String::new();
        for (n, (line, blanks)) in lines.iter().enumerate() {
            value.push_str(line);
            let last = n + 1 == lines.len();
            if last {
                match chomp {
                    b'-' => {}
                    b'+' => {
                        for _ in 0..=*blanks {
                            value.push('\n');
                        }
                    }
                    _ => value.push('\n'),
                }
            } else if !folded {
                for _ in 0..=*blanks {
                    value.push('\n');
                }
            } else if *blanks == 0 {
                value.push(' ');
            } else {
                for _ in 0..*blanks {
                    value.push('\n');
                }
            }
        }
        let style = if folded {
            ScalarStyle::Folded
        } else {
            ScalarStyle::Literal
        };
        self.emit(Event::Scalar(Cow::Owned(value), style, 0, None), start, end)?;
        if self.at_end() {
            return Ok(());
        }
        self.i = self.line_start;
        self.next_content().map(drop)
    }

    /// A flow collection on one line, starting at `i` (`[` or `{`).
    fn flow_entries(&mut self) -> Step<E> {
        let open = self.peek();
        let close = if open == b'[' { b']' } else { b'}' };
        let start = self.pos(self.i);
        let ev = if open == b'[' {
            Event::SequenceStart(0, None)
        } else {
            Event::MappingStart(0, None)
        };
        self.emit(ev, start, start)?;
        self.i += 1;
        self.skip_spaces();
        if self.peek() != close {
            loop {
                if open == b'{' {
                    self.flow_scalar(true)?;
                    if self.peek() != b':' {
                        return Err(Stop::Unsupported);
                    }
                    self.i += 1;
                    if self.peek() != b' ' {
                        return Err(Stop::Unsupported);
                    }
                    self.skip_spaces();
                }
                self.flow_node()?;
                self.skip_spaces();
                match self.peek() {
                    b',' => {
                        self.i += 1;
                        self.skip_spaces();
                        if self.peek() == close {
                            return Err(Stop::Unsupported);
                        }
                    }
                    c if c == close => break,
                    _ => return Err(Stop::Unsupported),
                }
            }
        }
        let (s, e) = (self.pos(self.i), self.token_end(self.i + 1));
        let ev = if open == b'[' {
            Event::SequenceEnd
        } else {
            Event::MappingEnd
        };
        self.emit(ev, s, e)?;
        self.i += 1;
        Ok(())
    }

    /// A node inside a flow collection.
    fn flow_node(&mut self) -> Step<E> {
        match self.peek() {
            b'[' | b'{' => self.flow(),
            _ => self.flow_scalar(false),
        }
    }

    /// A scalar inside a flow collection: quoted, or plain up to `,`, a closing bracket or
    /// `: `. A plain scalar followed by `:` in a sequence (a pair) is left to saphyr.
    fn flow_scalar(&mut self, is_key: bool) -> Step<E> {
        let c = self.peek();
        if c == b'"' || c == b'\'' {
            self.quoted_scalar()?;
            self.skip_spaces();
            return if !is_key && self.peek() == b':' {
                Err(Stop::Unsupported)
            } else {
                Ok(())
            };
        }
        if !self.plain_start(self.i, true) {
            return Err(Stop::Unsupported);
        }
        let first = self.i;
        let mut k = first;
        loop {
            match self.at(k) {
                0 | b'\n' | b',' | b'[' | b']' | b'{' | b'}' => break,
                b'#' if self.at(k - 1) == b' ' => return Err(Stop::Unsupported),
                b':' if matches!(self.at(k + 1), b' ' | b',' | b']' | b'}' | b'\n' | 0) => break,
                _ => k += 1,
            }
        }
        let stop = self.at(k);
        if matches!(stop, 0 | b'\n' | b'[' | b'{') || (stop == b':') != is_key {
            return Err(Stop::Unsupported);
        }
        let mut end = k;
        while self.at(end - 1) == b' ' {
            end -= 1;
        }
        let (s, e) = (self.pos(first), self.pos(end));
        let text = Cow::Borrowed(&self.s[first..end]);
        self.emit(Event::Scalar(text, ScalarStyle::Plain, 0, None), s, e)?;
        self.i = k;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use saphyr_parser::Parser;

    type Events<'a> = Vec<(Event<'a>, Span)>;

    /// The builder reads only where a collection starts from its start event; flow
    /// collections' start events end where the next token starts in saphyr.
    fn normalised(mut events: Events<'_>) -> Events<'_> {
        for (ev, sp) in &mut events {
            if matches!(ev, Event::MappingStart(..) | Event::SequenceStart(..)) {
                sp.end = sp.start;
            }
        }
        events
    }

    /// Panics at the first event where the two readings differ.
    fn assert_same(fast: Events<'_>, saphyr: Events<'_>, what: &dyn std::fmt::Display) {
        let (fast, saphyr) = (normalised(fast), normalised(saphyr));
        let at = fast
            .iter()
            .zip(&saphyr)
            .position(|(f, s)| f != s)
            .unwrap_or(fast.len().min(saphyr.len()));
        if at < fast.len().max(saphyr.len()) {
            panic!(
                "event {at} differs in {what}:\n fast:   {:?}\n saphyr: {:?}",
                fast.get(at),
                saphyr.get(at)
            );
        }
    }

    fn saphyr(text: &str) -> Option<Events<'_>> {
        let mut out = Vec::new();
        let mut p = Parser::new_from_str(text);
        while let Some(ev) = p.next_event() {
            let (ev, sp) = ev.ok()?;
            out.push((ev, super::super::yaml::span(&sp)));
        }
        Some(out)
    }

    fn fast(text: &str) -> Option<Events<'_>> {
        let mut out = Vec::new();
        parse(text, |ev, sp| {
            out.push((ev, sp));
            Ok::<(), ()>(())
        })
        .ok()?;
        Some(out)
    }

    /// The fast reader either stops or gives saphyr's events exactly.
    fn agrees(text: &str) -> bool {
        match fast(text) {
            None => false,
            Some(f) => {
                let s = saphyr(text).unwrap_or_else(|| panic!("fast read invalid YAML:\n{text}"));
                assert_same(f, s, &text);
                true
            }
        }
    }

    #[test]
    fn reads_block_yaml_as_saphyr_does() {
        let cases = [
            "# c\na: 1\nb:\n  c: x y  # t\n  d:\n    - 1\n    - e: f\n      g: 'h'\n  k:\n  - p\n  - q\n\n  z: \"w\"\nm:\nn: [a, b]\no: {x: 1}\n",
            "a:\n- p\n- q: 1\n  r: 2\n-\n- - x\n  - y\nb: |\n  line1\n   line2\n\n  line3\nc: >-\n  f1\n  f2\n\n  f3\n\nd: plain\n  continued\n   more\nf: 'it''s'\ng: [ {a: 1}, [b, c], \"d\" ]\nh: []\ni: {}\n\"k k\": v\nj: -1\n",
            "a:\n  b:\n  -   p\n  -\n    q\n  c: |\n    lit\n\n  d: x\ne:\n  f: >\n    fold\n    more\n  # comment\n\n  g: 1\nh: # c\n  i: 2\n",
            "a: 1",
            "a: 1\n  ",
            "- a\n- b\n",
            "a:   \nb: # c\nc  : 1\nd:\n\n# x\ne:\n  - \n  -  # c\n  - x\nf: |+\n  k\n\ng: |-\n  s\n\nh: >\n  a\n\n\n  b\n  c\ni:\n   x\n\n   y\nj: \"a\\tb\\/\\u00e9\"\nk: a b\n",
            "a:\n  - b: |\n      x\n  # c\nd: 1\n",
            "é: ü ö\nx: [é, 'ü']\n",
            "a: b#c\nd: http://x\ne: '#'\n",
            "a: |\n  x\n  \n  y\n",
        ];
        for c in cases {
            assert!(agrees(c), "fast reader stopped on:\n{c}");
        }
    }

    #[test]
    fn leaves_the_rest_to_saphyr() {
        let cases = [
            "a: &x 1\nb: *x\n",
            "a: !!str 1\n",
            "---\na: 1\n",
            "a: 1\n---\nb: 2\n",
            "a:\tb\n",
            "a: 1\r\n",
            "a: \"x\n  y\"\n",
            "a: [1,\n  2]\n",
            "? a\n: b\n",
            "a: b: c\n",
            "a: 1\n  b: 2\n",
            "a:\n  - x\n   - y\n",
            "a: 'x' y\n",
            "a: |2\n   x\n",
            "{\"a\": 1}\n",
            "a: [b: c]\n",
            "a:\n  b\n  #c\n  d\n",
            "a: |\n    x\n  y: 1\n",
        ];
        for c in cases {
            assert!(!agrees(c), "fast reader read:\n{c}");
        }
    }

    fn yaml_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            let name = e.file_name();
            if p.is_dir() {
                if !matches!(name.to_str(), Some("target" | "node_modules" | ".git")) {
                    yaml_files(&p, out);
                }
            } else if matches!(p.extension().and_then(|x| x.to_str()), Some("yaml" | "yml")) {
                out.push(p);
            }
        }
    }

    /// The `$ref`s the tree builder notes as it goes are those a walk of the finished tree
    /// finds, in every YAML file at hand; with anchors or merge keys it leaves them to the walk.
    #[test]
    fn refs_noted_while_building_are_those_of_the_tree() {
        let refs = |text: &str| {
            let parsed = crate::load::parse_text(text, &crate::load::Limits::default()).ok()?;
            let mut walked = Vec::new();
            crate::workspace::collect_refs(&parsed.value, "", &mut walked);
            Some((parsed.refs, walked))
        };
        let (noted, walked) = refs(
            "a:\n  - {$ref: '#/x'}\n  - [1, {b: 2}, {$ref: y.yaml}]\n  - c/d~e:\n      $ref: '#/z'\n$ref: root\nn: {$ref: 3}\n",
        )
        .expect("parses");
        assert_eq!(noted.as_ref(), Some(&walked));
        assert_eq!(
            walked,
            [
                ("".to_owned(), "root".to_owned()),
                ("/a/0".to_owned(), "#/x".to_owned()),
                ("/a/1/2".to_owned(), "y.yaml".to_owned()),
                ("/a/2/c~1d~0e".to_owned(), "#/z".to_owned()),
            ]
        );
        for copied in [
            "a: &m {$ref: x}\nb: *m\n",
            "a: {$ref: x}\nb:\n  <<: {$ref: y}\n",
        ] {
            let (noted, _) = refs(copied).expect("parses");
            assert_eq!(noted, None, "{copied}");
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut files = Vec::new();
        yaml_files(&root, &mut files);
        yaml_files(&root.join("../shared/corpus"), &mut files);
        let mut compared = 0;
        for f in &files {
            let Some((Some(noted), walked)) =
                std::fs::read_to_string(f).ok().and_then(|t| refs(&t))
            else {
                continue;
            };
            assert_eq!(noted, walked, "{f:?}");
            compared += 1;
        }
        assert!(compared > 0 || files.is_empty());
    }

    /// Every YAML file of the repository and of the shared corpus (when it is beside the
    /// checkout): where the fast reader reads one, its events are saphyr's.
    #[test]
    fn agrees_with_saphyr_on_every_document_at_hand() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut files = Vec::new();
        yaml_files(&root, &mut files);
        let corpus = root.join("../shared/corpus");
        yaml_files(&corpus, &mut files);
        let (mut read, mut total) = (0, 0);
        for f in &files {
            let Ok(text) = std::fs::read_to_string(f) else {
                continue;
            };
            total += 1;
            if let Some(events) = fast(&text) {
                read += 1;
                let s = saphyr(&text).unwrap_or_else(|| panic!("fast read invalid {f:?}"));
                assert_same(events, s, &f.display());
            }
        }
        println!("fast reader read {read} of {total} YAML files");
        assert!(
            read * 2 > total,
            "the fast reader read only {read} of {total} files"
        );
        let largest = corpus.join("realworld/Yodata__real-estate__src_public_schema_asyncapi.yaml");
        if let Ok(text) = std::fs::read_to_string(&largest) {
            assert!(
                fast(&text).is_some(),
                "the fast reader left {largest:?} to saphyr"
            );
        }
    }

    /// Damaged documents: a byte deleted, doubled or replaced by a space, a line break or an
    /// indicator. Whatever the fast reader reads, saphyr reads the same way; what saphyr
    /// refuses, the fast reader leaves to it.
    #[test]
    fn damaged_documents_are_read_as_saphyr_reads_them_or_left_to_it() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut files = Vec::new();
        yaml_files(&root, &mut files);
        yaml_files(&root.join("../shared/corpus"), &mut files);
        files.sort();
        let mut rng = asyncforge_testkit::Rng::new(0x9e37_79b9_7f4a_7c15);
        let mut checked = 0;
        // Every seventh file keeps the test quick in debug builds; a wider run (all files, 400
        // kinds of damage each, three seeds) read some 440,000 damaged documents, all alike.
        for f in files.iter().step_by(7) {
            let Ok(text) = std::fs::read_to_string(f) else {
                continue;
            };
            if text.len() > 20_000 || text.is_empty() {
                continue;
            }
            for _ in 0..20 {
                let mut b = text.clone().into_bytes();
                let at = rng.below(b.len());
                // The start of the line `at` is on, for damage to indentation.
                let line = b[..at]
                    .iter()
                    .rposition(|&c| c == b'\n')
                    .map_or(0, |n| n + 1);
                match rng.below(6) {
                    0 => {
                        b.remove(at);
                    }
                    1 => b.insert(at, b[at]),
                    2 => b[at] = b" \n:-#'\"[]{}|>"[rng.below(13)],
                    3 => b.insert(at, b' '),
                    4 if b[line] == b' ' => {
                        b.remove(line);
                    }
                    _ => b.insert(line, b' '),
                }
                let Ok(damaged) = String::from_utf8(b) else {
                    continue;
                };
                if let Some(events) = fast(&damaged) {
                    let s = saphyr(&damaged)
                        .unwrap_or_else(|| panic!("fast read invalid YAML:\n{damaged}"));
                    let line = (normalised(events.clone())
                        .iter()
                        .zip(&normalised(s.clone())))
                    .find(|(a, b)| a != b)
                    .map_or(0, |(a, _)| a.1.start.line as usize);
                    let shown = damaged.lines().nth(line.saturating_sub(1)).unwrap_or("");
                    assert_same(
                        events,
                        s,
                        &format!("{} (line {line}: {shown:?})", f.display()),
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 100, "only {checked} damaged documents were read");
    }
}
