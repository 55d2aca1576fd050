//! Where the cursor is, read from the text alone: the key path of the mapping that holds it and
//! whether it is on a key or a value.
//!
//! YAML is read line by line, by indentation and `- ` markers, looking only at the lines around
//! the cursor; JSON by a scan of brackets and strings. Neither needs the document to parse, so
//! both work on half-typed text.

use crate::source::{Pos, Span};
use crate::version::Version;

/// The syntax of a document, guessed from its first character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// Block or flow YAML.
    Yaml,
    /// JSON (the text starts with `{` or `[`).
    Json,
}

/// What the cursor is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// A key of the mapping (possibly half typed, possibly empty on a fresh line).
    Key {
        /// The whole key text under the cursor, unquoted (empty on a fresh line).
        key: String,
        /// The part of the key before the cursor.
        prefix: String,
        /// Where the key text is written (quotes excluded).
        span: Span,
    },
    /// The value of a key of the mapping.
    Value {
        /// The key whose value holds the cursor (for a list item, the list's key).
        key: String,
        /// The scalar text of the value, unquoted (empty when there is none yet).
        value: String,
        /// The part of the value before the cursor.
        prefix: String,
        /// Where the value is written (quotes included).
        span: Span,
        /// Whether the value is written in quotes.
        quoted: bool,
    },
}

/// The cursor's place in a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// The document's syntax.
    pub syntax: Syntax,
    /// Key path of the mapping holding the cursor (list items appear as their index).
    pub path: Vec<String>,
    /// What the cursor is on.
    pub slot: Slot,
    /// Keys already written in that mapping (the one under the cursor excluded).
    pub siblings: Vec<String>,
    /// Inline scalar values of the siblings (`type: oauth2`), for dispatching on them.
    pub sibling_values: Vec<(String, String)>,
    /// Column (0-based, in characters) where keys of that mapping start (YAML).
    pub indent: usize,
}

impl Context {
    /// Path of the node the cursor is on: the mapping's path, plus the key for a value.
    pub fn node_path(&self) -> Vec<String> {
        let mut p = self.path.clone();
        match &self.slot {
            Slot::Key { key, .. } if !key.is_empty() => p.push(key.clone()),
            Slot::Value { key, .. } if !key.is_empty() => p.push(key.clone()),
            _ => {}
        }
        p
    }

    /// The inline value of a sibling key, when it has one.
    pub fn sibling_value(&self, key: &str) -> Option<&str> {
        self.sibling_values
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Guesses the syntax: JSON when the first non-blank character opens an object or a list.
pub fn syntax_of(text: &str) -> Syntax {
    match text
        .trim_start_matches('\u{feff}')
        .trim_start()
        .chars()
        .next()
    {
        Some('{') | Some('[') => Syntax::Json,
        _ => Syntax::Yaml,
    }
}

/// The AsyncAPI version named by the text's top-level `asyncapi` field, read without parsing
/// (a `major.minor` without patch is accepted too).
pub fn detect_version(text: &str) -> Option<Version> {
    let value = match syntax_of(text) {
        Syntax::Yaml => text.lines().find_map(|l| {
            let rest = l.strip_prefix("asyncapi")?;
            let rest = rest.trim_start().strip_prefix(':')?;
            Some(strip_comment(rest).trim().to_owned())
        })?,
        Syntax::Json => {
            let i = text.find("\"asyncapi\"")?;
            let rest = text.get(i + "\"asyncapi\"".len()..)?.trim_start();
            let rest = rest.strip_prefix(':')?.trim_start();
            rest.split([',', '}', '\n']).next()?.trim().to_owned()
        }
    };
    let v = unquote(&value);
    Version::parse(v).or_else(|| {
        let mut parts = v.split('.');
        let (major, minor) = (parts.next()?, parts.next()?);
        Version::parse(&format!("{major}.{minor}.0"))
    })
}

/// Finds the cursor's context. Never panics; positions outside the text are clamped.
pub fn context(text: &str, pos: Pos) -> Context {
    match syntax_of(text) {
        Syntax::Yaml => yaml_context(text, pos),
        Syntax::Json => json_context(text, pos),
    }
}

fn unquote(s: &str) -> &str {
    let t = s.trim();
    for q in ['"', '\''] {
        if t.len() >= 2 && t.starts_with(q) && t.ends_with(q) {
            return &t[1..t.len() - 1];
        }
    }
    t
}

/// `s` up to a YAML comment (`#` at the start or after a blank, outside quotes).
pub(crate) fn strip_comment(s: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut prev_space = true;
    for (i, c) in s.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => {
                if c == '#' && prev_space {
                    return &s[..i];
                }
                if (c == '"' || c == '\'') && prev_space {
                    quote = Some(c);
                }
            }
        }
        prev_space = c == ' ' || c == '\t';
    }
    s
}

// ---------------------------------------------------------------------------------------------
// YAML.

/// The lines of a text, found once with `memchr`.
struct Lines<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1));
        Lines { text, starts }
    }

    fn len(&self) -> usize {
        self.starts.len()
    }

    fn get(&self, i: usize) -> &'a str {
        let Some(&start) = self.starts.get(i) else {
            return "";
        };
        let end = self.starts.get(i + 1).map_or(self.text.len(), |e| e - 1);
        self.text
            .get(start..end)
            .unwrap_or("")
            .trim_end_matches('\r')
    }
}

/// Leading spaces of a line, and whether it holds nothing but spaces or a comment: enough to
/// skip most lines without parsing them.
fn quick(line: &str) -> (usize, bool) {
    let indent = line.bytes().take_while(|b| *b == b' ').count();
    let rest = line[indent..].trim_start();
    (indent, rest.is_empty() || rest.starts_with('#'))
}

/// One line of block YAML, in character columns.
#[derive(Debug, Default)]
struct Line {
    /// Leading spaces.
    indent: usize,
    /// Whether the line starts with `- ` after its indentation.
    dash: bool,
    /// Column where the content after the indentation and dashes starts.
    content: usize,
    /// The key, unquoted, with its first and end column.
    key: Option<(String, usize, usize)>,
    /// Column just after the key's `:`.
    colon: usize,
    /// Nothing but spaces or a comment.
    blank: bool,
    /// The value text after `key:` (comment removed, trimmed).
    value: String,
}

fn parse_line(line: &str) -> Line {
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < chars.len() && chars[i] == ' ' {
        i += 1;
    }
    let mut l = Line {
        indent: i,
        ..Line::default()
    };
    while i < chars.len() && chars[i] == '-' && (i + 1 == chars.len() || chars[i + 1] == ' ') {
        l.dash = true;
        i += 1;
        while i < chars.len() && chars[i] == ' ' {
            i += 1;
        }
    }
    l.content = i;
    let rest: String = chars[i..].iter().collect();
    let trimmed = rest.trim_end();
    if (trimmed.is_empty() && !l.dash)
        || trimmed.starts_with('#')
        || (l.indent == 0 && (trimmed.starts_with("---") || trimmed.starts_with('%')))
    {
        l.blank = !l.dash || trimmed.starts_with('#');
        return l;
    }
    // Find the key's colon.
    let key_end;
    let key_text;
    if let Some(q) = chars.get(i).copied().filter(|c| *c == '"' || *c == '\'') {
        let mut j = i + 1;
        while j < chars.len() && chars[j] != q {
            if q == '"' && chars[j] == '\\' {
                j += 1;
            }
            j += 1;
        }
        if j >= chars.len() {
            return l;
        }
        let mut k = j + 1;
        while k < chars.len() && chars[k] == ' ' {
            k += 1;
        }
        if chars.get(k) != Some(&':') || !matches!(chars.get(k + 1), None | Some(' ')) {
            return l;
        }
        key_text = chars[i + 1..j].iter().collect::<String>();
        l.key = Some((key_text, i + 1, j));
        key_end = k;
    } else {
        let mut k = i;
        let mut found = None;
        while k < chars.len() {
            let c = chars[k];
            if c == '#' && k > i && chars[k - 1] == ' ' {
                break;
            }
            if c == ':' && matches!(chars.get(k + 1), None | Some(' ')) {
                found = Some(k);
                break;
            }
            if k == i && (c == '{' || c == '[') {
                break;
            }
            k += 1;
        }
        let Some(k) = found else {
            return l;
        };
        key_text = chars[i..k].iter().collect::<String>().trim_end().to_owned();
        let end = i + key_text.chars().count();
        l.key = Some((key_text, i, end));
        key_end = k;
    }
    l.colon = key_end + 1;
    let after: String = chars.get(key_end + 1..).unwrap_or(&[]).iter().collect();
    l.value = strip_comment(&after).trim().to_owned();
    l
}

/// Column where the line's own key (or content) starts.
fn key_col(l: &Line) -> usize {
    if l.dash { l.content } else { l.indent }
}

fn yaml_context(text: &str, pos: Pos) -> Context {
    let lines = Lines::new(text);
    let li = (pos.line.max(1) as usize - 1).min(lines.len().saturating_sub(1));
    let line = lines.get(li);
    let line_chars = line.chars().count();
    let col = (pos.col.max(1) as usize - 1).min(line_chars);
    let cur = parse_line(line);
    let line_no = li as u32 + 1;
    let at = |c: usize| Pos::new(line_no, c as u32 + 1);

    // The slot on the cursor's line, and the column where keys of its mapping start.
    let all_space = line.chars().all(|c| c == ' ');
    let before: String = line.chars().take(col).collect();
    let (slot, key_indent) = if all_space || (cur.blank && !cur.dash) {
        let ind = if all_space { col } else { cur.indent };
        (
            Slot::Key {
                key: String::new(),
                prefix: String::new(),
                span: Span::new(at(col), at(col)),
            },
            ind,
        )
    } else if let Some((key, start, end)) = cur.key.clone() {
        if col >= cur.colon {
            let chars: Vec<char> = line.chars().collect();
            let mut vs = cur.colon;
            while vs < chars.len() && chars[vs] == ' ' {
                vs += 1;
            }
            let raw = cur.value.clone();
            let ve = vs + raw.chars().count();
            let quoted = raw.starts_with('"') || raw.starts_with('\'');
            let value = unquote(&raw).to_owned();
            let prefix: String = if col > vs {
                let p: String = chars[vs..col.min(ve)].iter().collect();
                p.trim_start_matches(['"', '\'']).to_owned()
            } else {
                String::new()
            };
            (
                Slot::Value {
                    key,
                    value,
                    prefix,
                    span: Span::new(at(vs), at(ve.max(vs))),
                    quoted,
                },
                key_col(&cur),
            )
        } else {
            let prefix: String = line
                .chars()
                .skip(start)
                .take(col.saturating_sub(start))
                .collect();
            (
                Slot::Key {
                    key,
                    prefix,
                    span: Span::new(at(start), at(end)),
                },
                key_col(&cur),
            )
        }
    } else {
        // A half-typed key (no colon yet), or a list item's scalar.
        let start = cur.content;
        let word: String = line.chars().skip(start).collect::<String>();
        let word = strip_comment(&word).trim_end().to_owned();
        let end = start + word.chars().count();
        let prefix: String = before.chars().skip(start).collect();
        (
            Slot::Key {
                key: unquote(&word).to_owned(),
                prefix: prefix.trim_start_matches(['"', '\'']).to_owned(),
                span: Span::new(at(start), at(end)),
            },
            key_col(&cur),
        )
    };

    let mut siblings = Vec::new();
    let mut sibling_values = Vec::new();
    let mut path_rev: Vec<String> = Vec::new();
    let mut limit = key_indent;
    // Set after leaving a list item: the list's parent key may sit at the dash's column.
    let mut compact = false;
    let mut ascended = false;

    // The cursor's line may itself open a list item.
    if cur.dash && !all_space && col >= cur.content.min(line_chars) {
        let idx = count_items(&lines, li, cur.indent);
        path_rev.push(idx.to_string());
        ascended = true;
        // Siblings of the item below.
        collect_below(
            &lines,
            li,
            cur.content,
            Some(cur.indent),
            &mut siblings,
            &mut sibling_values,
        );
        limit = cur.indent;
        compact = true;
    } else {
        collect_below(
            &lines,
            li,
            key_indent,
            None,
            &mut siblings,
            &mut sibling_values,
        );
    }

    let mut j = li;
    while j > 0 {
        j -= 1;
        let (ind, blank) = quick(lines.get(j));
        if blank || ind > limit {
            continue;
        }
        let l = parse_line(lines.get(j));
        if l.blank {
            continue;
        }
        if l.indent > limit || (l.indent == limit && (l.dash || !compact)) {
            // Deeper, or a sibling at our level.
            if !ascended
                && !l.dash
                && l.indent == limit
                && let Some((k, _, _)) = &l.key
            {
                siblings.push(k.clone());
                sibling_values.push((k.clone(), unquote(&l.value).to_owned()));
            }
            continue;
        }
        if l.dash {
            // A list item holding us: its inline key is a sibling or our parent.
            if let Some((k, _, _)) = &l.key {
                if l.content == limit && !ascended {
                    siblings.push(k.clone());
                    sibling_values.push((k.clone(), unquote(&l.value).to_owned()));
                } else if l.content < limit {
                    path_rev.push(k.clone());
                }
            }
            path_rev.push(count_items(&lines, j, l.indent).to_string());
            limit = l.indent;
            compact = true;
            ascended = true;
            continue;
        }
        match &l.key {
            Some((k, _, _)) => {
                path_rev.push(k.clone());
                limit = l.indent;
                compact = false;
                ascended = true;
            }
            None => continue,
        }
        if limit == 0 && !compact && ascended {
            break;
        }
    }
    path_rev.reverse();
    Context {
        syntax: Syntax::Yaml,
        path: path_rev,
        slot,
        siblings,
        sibling_values,
        indent: key_indent,
    }
}

/// Index of the list item opened by the dash on line `li` at column `dash_col`.
fn count_items(lines: &Lines<'_>, li: usize, dash_col: usize) -> usize {
    let mut n = 0;
    let mut j = li;
    while j > 0 {
        j -= 1;
        let (ind, blank) = quick(lines.get(j));
        if blank || ind > dash_col {
            continue;
        }
        let l = parse_line(lines.get(j));
        if l.blank {
            continue;
        }
        if l.indent == dash_col && l.dash {
            n += 1;
            continue;
        }
        break;
    }
    n
}

/// Keys at column `col` below line `li`, until the mapping ends (or, inside a list item, the
/// next item at `dash_col` starts).
fn collect_below(
    lines: &Lines<'_>,
    li: usize,
    col: usize,
    dash_col: Option<usize>,
    out: &mut Vec<String>,
    values: &mut Vec<(String, String)>,
) {
    for j in li + 1..lines.len() {
        let line = lines.get(j);
        let (ind, blank) = quick(line);
        if blank || ind > col {
            continue;
        }
        let l = parse_line(line);
        if l.blank {
            continue;
        }
        if l.indent < col || (dash_col.is_some() && l.dash && l.indent <= col) {
            break;
        }
        if l.indent == col
            && !l.dash
            && let Some((k, _, _)) = &l.key
        {
            out.push(k.clone());
            values.push((k.clone(), unquote(&l.value).to_owned()));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// JSON.

/// A byte range of the text.
type Range = (usize, usize);

#[derive(Debug)]
struct Frame {
    object: bool,
    /// The latest key (its string contents).
    key: Option<Range>,
    index: usize,
    expect_key: bool,
    /// Keys with their scalar string values, when they have one.
    keys: Vec<(Range, Option<Range>)>,
}

/// Decodes the contents of a JSON string (the common escapes; others are kept as written).
fn decode(text: &str, r: Range) -> String {
    let raw = text.get(r.0..r.1).unwrap_or("");
    if !raw.contains('\\') {
        return raw.to_owned();
    }
    let mut out = String::with_capacity(raw.len());
    let mut it = raw.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(o) => out.push(o),
            None => {}
        }
    }
    out
}

/// End of the string whose opening quote is at `start`: the index of its closing quote, or of
/// the line end / text end when it is not closed.
fn string_end(b: &[u8], start: usize) -> usize {
    let mut j = start + 1;
    while let Some(k) = b
        .get(j..)
        .and_then(|rest| memchr::memchr3(b'\\', b'"', b'\n', rest))
    {
        j += k;
        if b[j] == b'\\' {
            j += 2;
        } else {
            return j;
        }
    }
    b.len()
}

fn json_context(text: &str, pos: Pos) -> Context {
    let b = text.as_bytes();
    let lines = Lines::new(text);
    let cursor = {
        let li = (pos.line.max(1) as usize - 1).min(lines.len() - 1);
        let start = lines.starts[li];
        let line = lines.get(li);
        let col = pos.col.max(1) as usize - 1;
        start + line.char_indices().nth(col).map_or(line.len(), |(i, _)| i)
    };
    let pos_of = |i: usize| {
        let i = i.min(text.len());
        let li = lines.starts.partition_point(|s| *s <= i).saturating_sub(1);
        let start = lines.starts.get(li).copied().unwrap_or(0);
        let col = text.get(start..i).map_or(0, |s| s.chars().count());
        Pos::new(li as u32 + 1, col as u32 + 1)
    };

    let mut stack: Vec<Frame> = Vec::new();
    // A string holding the cursor: (opening quote, closing quote or end).
    let mut in_string: Option<Range> = None;
    // The last scalar of the current frame: (start, end, quoted).
    let mut last_scalar: Option<(usize, usize, bool)> = None;
    let mut i = 0;
    while i < cursor {
        let c = b[i];
        match c {
            b'{' | b'[' => {
                stack.push(Frame {
                    object: c == b'{',
                    key: None,
                    index: 0,
                    expect_key: c == b'{',
                    keys: Vec::new(),
                });
                last_scalar = None;
            }
            b'}' | b']' => {
                stack.pop();
                last_scalar = None;
            }
            b',' => {
                if let Some(f) = stack.last_mut() {
                    if f.object {
                        f.expect_key = true;
                        f.key = None;
                    } else {
                        f.index += 1;
                    }
                }
                last_scalar = None;
            }
            b':' => {
                if let Some(f) = stack.last_mut() {
                    f.expect_key = false;
                }
                last_scalar = None;
            }
            b'"' => {
                let end = string_end(b, i);
                if end >= cursor {
                    in_string = Some((i, end));
                    break;
                }
                let contents = (i + 1, end);
                if let Some(f) = stack.last_mut() {
                    if f.object && f.expect_key {
                        f.key = Some(contents);
                        f.keys.push((contents, None));
                    } else {
                        if f.object
                            && let Some(last) = f.keys.last_mut()
                        {
                            last.1 = Some(contents);
                        }
                        last_scalar = Some((i, end + 1, true));
                    }
                }
                i = end;
            }
            c if !c.is_ascii_whitespace() => {
                let start = i;
                let mut j = i;
                while j < b.len()
                    && !matches!(b[j], b',' | b'}' | b']' | b':' | b'"')
                    && !b[j].is_ascii_whitespace()
                {
                    j += 1;
                }
                last_scalar = Some((start, j, false));
                if j >= cursor {
                    break;
                }
                i = j - 1;
            }
            _ => {}
        }
        i += 1;
    }

    let path: Vec<String> = stack
        .iter()
        .take(stack.len().saturating_sub(1))
        .map(|f| {
            if f.object {
                f.key.map(|k| decode(text, k)).unwrap_or_default()
            } else {
                f.index.to_string()
            }
        })
        .collect();
    let top = stack.last();
    let mut siblings: Vec<(String, String)> = top
        .map(|f| {
            f.keys
                .iter()
                .map(|(k, v)| {
                    (
                        decode(text, *k),
                        v.map(|v| decode(text, v)).unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    if let Some(f) = top
        && f.object
    {
        let from = in_string.map_or(cursor, |s| s.1 + 1);
        siblings.extend(json_keys_after(text, from));
    }
    let slot = match top {
        Some(f) if f.object && f.expect_key => {
            let (key, prefix, span) = match in_string {
                Some((s, e)) => (
                    decode(text, (s + 1, e)),
                    decode(text, (s + 1, cursor.max(s + 1))),
                    Span::new(pos_of(s + 1), pos_of(e)),
                ),
                None => (
                    String::new(),
                    String::new(),
                    Span::new(pos_of(cursor), pos_of(cursor)),
                ),
            };
            if let Some(i) = siblings.iter().position(|(k, _)| *k == key) {
                siblings.remove(i);
            }
            Slot::Key { key, prefix, span }
        }
        Some(f) => {
            let key = if f.object {
                f.key.map(|k| decode(text, k)).unwrap_or_default()
            } else {
                path.last().cloned().unwrap_or_default()
            };
            match (in_string, last_scalar) {
                (Some((s, e)), _) => Slot::Value {
                    key,
                    value: decode(text, (s + 1, e)),
                    prefix: decode(text, (s + 1, cursor.max(s + 1))),
                    // The closing quote when there is one; an unclosed string ends at its
                    // line's end (the range stays on the cursor's line).
                    span: Span::new(
                        pos_of(s),
                        pos_of(if b.get(e) == Some(&b'"') { e + 1 } else { e }),
                    ),
                    quoted: true,
                },
                (None, Some((s, e, quoted))) if e >= cursor => Slot::Value {
                    key,
                    value: text.get(s..e).unwrap_or("").to_owned(),
                    prefix: text.get(s..cursor).unwrap_or("").to_owned(),
                    span: Span::new(pos_of(s), pos_of(e)),
                    quoted,
                },
                _ => Slot::Value {
                    key,
                    value: String::new(),
                    prefix: String::new(),
                    span: Span::new(pos_of(cursor), pos_of(cursor)),
                    quoted: false,
                },
            }
        }
        None => Slot::Key {
            key: String::new(),
            prefix: String::new(),
            span: Span::new(pos_of(cursor), pos_of(cursor)),
        },
    };
    // A value in a list belongs to the list's key; the path is then the list's parent.
    let path = match (&slot, top) {
        (Slot::Value { .. }, Some(f)) if !f.object => {
            let mut p = path;
            p.pop();
            p
        }
        _ => path,
    };
    Context {
        syntax: Syntax::Json,
        path,
        slot,
        siblings: siblings.iter().map(|(k, _)| k.clone()).collect(),
        sibling_values: siblings,
        indent: 0,
    }
}

/// Keys (with string values) of the current object written after byte `from`, until the
/// object closes.
fn json_keys_after(text: &str, from: usize) -> Vec<(String, String)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut expect_key = false;
    let mut after_colon = false;
    let mut i = from;
    while i < b.len() {
        match b[i] {
            b'{' | b'[' => {
                depth += 1;
                after_colon = false;
            }
            b'}' | b']' => {
                if depth == 0 {
                    break;
                }
                depth -= 1;
            }
            b',' if depth == 0 => {
                expect_key = true;
                after_colon = false;
            }
            b':' if depth == 0 => {
                expect_key = false;
                after_colon = true;
            }
            b'"' => {
                let end = string_end(b, i);
                if depth == 0 && expect_key {
                    out.push((decode(text, (i + 1, end)), String::new()));
                } else if depth == 0
                    && after_colon
                    && let Some(last) = out.last_mut()
                {
                    last.1 = decode(text, (i + 1, end));
                    after_colon = false;
                }
                i = end;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Context {
        let (clean, pos) = crate::ide::cursor(text);
        context(&clean, pos)
    }

    #[test]
    fn yaml_half_typed_key() {
        let c = at("asyncapi: 3.0.0\nchannels:\n  foo:\n    addr|");
        assert_eq!(c.path, ["channels", "foo"]);
        assert!(
            matches!(&c.slot, Slot::Key { key, prefix, .. } if key == "addr" && prefix == "addr")
        );
    }

    #[test]
    fn yaml_value_and_siblings() {
        let c = at("operations:\n  send:\n    channel: x\n    action: se|\n    title: t\n");
        assert_eq!(c.path, ["operations", "send"]);
        assert!(
            matches!(&c.slot, Slot::Value { key, prefix, .. } if key == "action" && prefix == "se")
        );
        assert_eq!(c.siblings, ["title", "channel"]);
        assert_eq!(c.sibling_value("channel"), Some("x"));
    }

    #[test]
    fn yaml_empty_line_and_lists() {
        let c = at("info:\n  title: x\n  |\nchannels: {}\n");
        assert_eq!(c.path, ["info"]);
        assert_eq!(c.siblings, ["title"]);
        let c = at("tags:\n  - name: a\n  - name: b\n    desc|\n");
        assert_eq!(c.path, ["tags", "1"]);
        assert_eq!(c.siblings, ["name"]);
        let c = at("tags:\n- name: a\n- na|\n");
        assert_eq!(c.path, ["tags", "1"]);
        let c = at("x:\n  - a: 1\n    b:\n      c|\n");
        assert_eq!(c.path, ["x", "0", "b"]);
    }

    #[test]
    fn json_positions() {
        let c = at("{\"asyncapi\": \"3.0.0\", \"info\": {\"title\": \"x\", \"ver|\"}}");
        assert_eq!(c.path, ["info"]);
        assert!(
            matches!(&c.slot, Slot::Key { key, prefix, .. } if key == "ver" && prefix == "ver")
        );
        assert_eq!(c.siblings, ["title"]);
        let c = at("{\"operations\": {\"a\": {\"action\": \"re|\"}}}");
        assert_eq!(c.path, ["operations", "a"]);
        assert!(
            matches!(&c.slot, Slot::Value { key, prefix, .. } if key == "action" && prefix == "re")
        );
        let c = at("{\"a\": {\"required\": [\"x\", |]}}");
        assert_eq!(c.path, ["a"]);
        assert!(matches!(&c.slot, Slot::Value { key, .. } if key == "required"));
    }

    #[test]
    fn json_unclosed_string_value_stays_on_its_line() {
        let c = at("{\"a\": {\"$ref\": \"#/x|\n}}");
        match c.slot {
            Slot::Value { span, quoted, .. } => {
                assert!(quoted);
                assert_eq!(span, Span::new(Pos::new(1, 16), Pos::new(1, 20)));
            }
            other => panic!("a value: {other:?}"),
        }
    }

    #[test]
    fn versions_from_text() {
        assert_eq!(detect_version("asyncapi: '2.6.0'\n"), Some(Version::V2_6));
        assert_eq!(detect_version("asyncapi: 3.0 # x\n"), Some(Version::V3_0));
        assert_eq!(
            detect_version("{ \"asyncapi\" : \"3.1.0\" }"),
            Some(Version::V3_1)
        );
        assert_eq!(detect_version("info: {}\n"), None);
    }
}
