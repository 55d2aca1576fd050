//! Event-driven tree builder over `saphyr-parser`.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Tag};
use serde_json::{Map, Number, Value};

use super::{Limits, LoadError, NodeSpan, Parsed, SpanMap, push_segment};
use crate::source::{Pos, Span};

fn pos(m: &saphyr_parser::Marker) -> Pos {
    Pos::new(m.line() as u32, m.col() as u32 + 1)
}

fn span(s: &saphyr_parser::Span) -> Span {
    Span::new(pos(&s.start), pos(&s.end))
}

enum Frame {
    Seq {
        items: Vec<Value>,
        ptr: String,
        anchor: usize,
        nodes: usize,
    },
    Map {
        map: Map<String, Value>,
        ptr: String,
        anchor: usize,
        nodes: usize,
        /// The key waiting for its value: text, span, whether it is a plain `<<` merge key.
        key: Option<(String, Span, bool)>,
        /// Mappings merged in with `<<`, applied when the mapping ends.
        merges: Vec<Value>,
    },
}

struct Builder<'a> {
    limits: &'a Limits,
    stack: Vec<Frame>,
    spans: SpanMap,
    anchors: HashMap<usize, (Value, usize)>,
    alias_nodes: usize,
    root: Option<Value>,
    documents: usize,
}

/// Files at least this large (bytes) are scanned on a thread of their own (see [`parse_text`]).
const PIPELINE_FROM: usize = 256 * 1024;
/// Events handed from the scanning thread to the tree builder at a time.
const BATCH: usize = 1024;
/// Batches the scanner may get ahead of the builder.
const BATCHES_AHEAD: usize = 16;

/// One event from the scanner, or the error that ended scanning.
type Scanned<'a> = Result<(Event<'a>, Span), ScanError>;

/// Parses YAML 1.2 or JSON text into a value with spans.
pub fn parse_text(text: &str, limits: &Limits) -> Result<Parsed, LoadError> {
    if text.trim().is_empty() {
        return Err(LoadError {
            code: "empty-document",
            message: "file is empty".into(),
            span: Span::point(Pos::new(1, 1)),
            related: None,
        });
    }
    let mut b = Builder {
        limits,
        stack: Vec::new(),
        spans: SpanMap::default(),
        anchors: HashMap::new(),
        alias_nodes: 0,
        root: None,
        documents: 0,
    };
    let scan_error = |e: ScanError| {
        let at = clamp_to_text(text, pos(e.marker()));
        let too_deep = e.info().contains("recursion limit");
        LoadError {
            code: if too_deep { "too-deep" } else { "yaml-syntax" },
            message: if too_deep {
                format!("nesting is deeper than {} levels", limits.max_depth)
            } else {
                describe_scan_error(e.info())
            },
            span: Span::point(at),
            related: None,
        }
    };
    if text.len() < PIPELINE_FROM {
        let mut parser = Parser::new_from_str(text);
        while let Some(ev) = parser.next_event() {
            let (ev, sp) = ev.map_err(scan_error)?;
            b.event(ev, span(&sp))?;
        }
    } else {
        // A large file: the scanner runs on a thread of its own and hands its events over in
        // batches, so that building the tree overlaps with scanning. Same events, same order.
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Scanned<'_>>>(BATCHES_AHEAD);
            scope.spawn(move || {
                let mut parser = Parser::new_from_str(text);
                let mut batch = Vec::with_capacity(BATCH);
                while let Some(ev) = parser.next_event() {
                    let failed = ev.is_err();
                    batch.push(ev.map(|(ev, sp)| (ev, span(&sp))));
                    if failed || batch.len() == BATCH {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                        // The receiver is gone after an error: stop scanning.
                        if tx.send(full).is_err() || failed {
                            return;
                        }
                    }
                }
                let _ = tx.send(batch);
            });
            for batch in rx {
                for ev in batch {
                    let (ev, sp) = ev.map_err(scan_error)?;
                    b.event(ev, sp)?;
                }
            }
            Ok::<(), LoadError>(())
        })?;
    }
    match b.root {
        Some(value) => Ok(Parsed {
            value,
            spans: b.spans,
        }),
        None => Err(LoadError {
            code: "empty-document",
            message: "file contains no YAML or JSON document".into(),
            span: Span::point(Pos::new(1, 1)),
            related: None,
        }),
    }
}

/// Errors at end of input are reported past the last line; point at the end of the text instead.
fn clamp_to_text(text: &str, at: Pos) -> Pos {
    let lines = text.split('\n').count() as u32;
    let trailing_newline = text.ends_with('\n');
    let last_line = if trailing_newline {
        lines.saturating_sub(1).max(1)
    } else {
        lines
    };
    if at.line > last_line {
        let last = text
            .trim_end_matches('\n')
            .rsplit('\n')
            .next()
            .unwrap_or("");
        return Pos::new(last_line, last.chars().count() as u32 + 1);
    }
    at
}

fn describe_scan_error(info: &str) -> String {
    let mut msg = info.to_owned();
    if msg.contains("tab") {
        msg.push_str(" (YAML forbids tabs for indentation; use spaces)");
    }
    msg
}

impl Builder<'_> {
    fn current_ptr(&self) -> String {
        match self.stack.last() {
            None => String::new(),
            Some(Frame::Seq { items, ptr, .. }) => {
                let mut p = ptr.clone();
                push_segment(&mut p, &items.len().to_string());
                p
            }
            Some(Frame::Map { ptr, key, .. }) => {
                let mut p = ptr.clone();
                if let Some((k, _, _)) = key {
                    push_segment(&mut p, k);
                }
                p
            }
        }
    }

    fn expecting_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map { key: None, .. }))
    }

    fn event(&mut self, ev: Event<'_>, sp: Span) -> Result<(), LoadError> {
        match ev {
            Event::StreamStart | Event::StreamEnd | Event::Nothing | Event::DocumentEnd => Ok(()),
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(LoadError {
                        code: "multiple-documents",
                        message: "file contains more than one YAML document; an AsyncAPI document must be the only one".into(),
                        span: sp,
                        related: None,
                    });
                }
                Ok(())
            }
            Event::Alias(id) => {
                if self.expecting_key() {
                    return Err(LoadError {
                        code: "yaml-unsupported",
                        message: "an alias cannot be used as a mapping key".into(),
                        span: sp,
                        related: None,
                    });
                }
                let Some((value, nodes)) = self.anchors.get(&id) else {
                    return Err(LoadError {
                        code: "yaml-syntax",
                        message: "alias refers to an unknown anchor".into(),
                        span: sp,
                        related: None,
                    });
                };
                self.alias_nodes = self.alias_nodes.saturating_add(*nodes);
                if self.alias_nodes > self.limits.max_alias_nodes {
                    return Err(LoadError {
                        code: "alias-limit",
                        message: format!(
                            "YAML aliases expand to more than {} nodes; refusing to expand further (\"billion laughs\" protection)",
                            self.limits.max_alias_nodes
                        ),
                        span: sp,
                        related: None,
                    });
                }
                let (value, nodes) = (value.clone(), *nodes);
                let ptr = self.current_ptr();
                self.spans.insert(
                    &ptr,
                    NodeSpan {
                        value: sp,
                        key: None,
                    },
                );
                self.finish_node(value, sp, 0, nodes)
            }
            Event::Scalar(text, style, anchor, tag) => {
                if self.expecting_key() {
                    let merge = style == ScalarStyle::Plain && text == "<<" && tag.is_none();
                    if let Some(Frame::Map { key, map, ptr, .. }) = self.stack.last_mut() {
                        if !merge && map.contains_key(text.as_ref()) {
                            let mut child = ptr.clone();
                            push_segment(&mut child, &text);
                            let first = self.spans.get(&child).and_then(|s| s.key).unwrap_or(sp);
                            return Err(LoadError {
                                code: "duplicate-key",
                                message: format!("duplicate key `{text}`"),
                                span: sp,
                                related: Some((first, "first defined here".into())),
                            });
                        }
                        *key = Some((text.into_owned(), sp, merge));
                    }
                    if anchor != 0 {
                        // An anchored key can only be aliased as a key, which we refuse anyway.
                    }
                    return Ok(());
                }
                let value =
                    scalar_value(&text, style, tag.as_deref()).map_err(|message| LoadError {
                        code: "yaml-tag",
                        message,
                        span: sp,
                        related: None,
                    })?;
                let ptr = self.current_ptr();
                let key = self.pending_key_span();
                self.spans.insert(&ptr, NodeSpan { value: sp, key });
                self.finish_node(value, sp, anchor, 1)
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if self.expecting_key() {
                    return Err(LoadError {
                        code: "yaml-unsupported",
                        message: "a mapping or sequence cannot be used as a mapping key (JSON keys are strings)".into(),
                        span: sp,
                        related: None,
                    });
                }
                if self.stack.len() >= self.limits.max_depth {
                    return Err(LoadError {
                        code: "too-deep",
                        message: format!("nesting is deeper than {} levels", self.limits.max_depth),
                        span: sp,
                        related: None,
                    });
                }
                let ptr = self.current_ptr();
                let key = self.pending_key_span();
                self.spans.insert(&ptr, NodeSpan { value: sp, key });
                let frame = if matches!(ev, Event::SequenceStart(..)) {
                    Frame::Seq {
                        items: Vec::new(),
                        ptr,
                        anchor,
                        nodes: 1,
                    }
                } else {
                    Frame::Map {
                        map: Map::new(),
                        ptr,
                        anchor,
                        nodes: 1,
                        key: None,
                        merges: Vec::new(),
                    }
                };
                self.stack.push(frame);
                Ok(())
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = self.stack.pop() else {
                    return Ok(());
                };
                let (value, ptr, anchor, nodes) = match frame {
                    Frame::Seq {
                        items,
                        ptr,
                        anchor,
                        nodes,
                    } => (Value::Array(items), ptr, anchor, nodes),
                    Frame::Map {
                        mut map,
                        ptr,
                        anchor,
                        nodes,
                        merges,
                        ..
                    } => {
                        for m in merges {
                            merge_into(&mut map, m);
                        }
                        (Value::Object(map), ptr, anchor, nodes)
                    }
                };
                self.spans.set_value_end(&ptr, sp.end);
                let start = self.spans.get(&ptr).map_or(sp, |s| s.value);
                self.finish_node(value, start, anchor, nodes)
            }
        }
    }

    fn pending_key_span(&self) -> Option<Span> {
        match self.stack.last() {
            Some(Frame::Map {
                key: Some((_, s, _)),
                ..
            }) => Some(*s),
            _ => None,
        }
    }

    /// Attaches a complete node to its parent (or makes it the root).
    fn finish_node(
        &mut self,
        value: Value,
        _sp: Span,
        anchor: usize,
        nodes: usize,
    ) -> Result<(), LoadError> {
        if anchor != 0 {
            self.anchors.insert(anchor, (value.clone(), nodes));
        }
        match self.stack.last_mut() {
            None => {
                self.root = Some(value);
                Ok(())
            }
            Some(Frame::Seq {
                items, nodes: n, ..
            }) => {
                *n += nodes;
                items.push(value);
                Ok(())
            }
            Some(Frame::Map {
                map,
                key,
                merges,
                nodes: n,
                ..
            }) => {
                *n += nodes;
                let Some((k, kspan, merge)) = key.take() else {
                    return Ok(());
                };
                if merge {
                    match value {
                        Value::Object(_) => merges.push(value),
                        Value::Array(items) if items.iter().all(Value::is_object) => {
                            merges.extend(items)
                        }
                        _ => {
                            return Err(LoadError {
                                code: "yaml-unsupported",
                                message: "a `<<` merge key needs a mapping or a list of mappings"
                                    .into(),
                                span: kspan,
                                related: None,
                            });
                        }
                    }
                    return Ok(());
                }
                map.insert(k, value);
                Ok(())
            }
        }
    }
}

/// Merge-key semantics: keys written in the mapping itself win over merged ones, earlier merges
/// win over later ones.
fn merge_into(map: &mut Map<String, Value>, merged: Value) {
    if let Value::Object(m) = merged {
        for (k, v) in m {
            map.entry(k).or_insert(v);
        }
    }
}

/// Resolves a scalar per the YAML 1.2 core schema (which is also what JSON means).
fn scalar_value(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<Value, String> {
    if let Some(tag) = tag {
        if tag.is_yaml_core_schema() {
            return match tag.suffix.as_str() {
                "str" => Ok(Value::String(text.to_string())),
                "null" => Ok(Value::Null),
                "bool" => match text {
                    "true" | "True" | "TRUE" => Ok(Value::Bool(true)),
                    "false" | "False" | "FALSE" => Ok(Value::Bool(false)),
                    _ => Err(format!("`{text}` is not a boolean")),
                },
                "int" => parse_int(text).ok_or_else(|| format!("`{text}` is not an integer")),
                "float" => parse_float(text)
                    .or_else(|| parse_int(text))
                    .ok_or_else(|| format!("`{text}` is not a number")),
                other => Err(format!("unsupported YAML tag `!!{other}`")),
            };
        }
        if tag.handle == "!" && tag.suffix.is_empty() {
            // The non-specific tag `!` forces a string.
            return Ok(Value::String(text.to_string()));
        }
        return Err(format!(
            "unsupported YAML tag `{tag}`; AsyncAPI documents must be plain JSON-compatible data"
        ));
    }
    if style != ScalarStyle::Plain {
        return Ok(Value::String(text.to_string()));
    }
    let t = text;
    Ok(match t {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        _ => parse_int(t)
            .or_else(|| parse_float(t))
            .unwrap_or_else(|| Value::String(t.to_owned())),
    })
}

fn parse_int(t: &str) -> Option<Value> {
    let b = t.as_bytes();
    let (neg, digits) = match b.first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() {
        return None;
    }
    if let Some(oct) = digits.strip_prefix("0o") {
        let v = i64::from_str_radix(oct, 8).ok()?;
        return Some(Value::from(if neg { -v } else { v }));
    }
    if let Some(hex) = digits.strip_prefix("0x") {
        let v = i64::from_str_radix(hex, 16).ok()?;
        return Some(Value::from(if neg { -v } else { v }));
    }
    if !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    if let Ok(v) = t.trim_start_matches('+').parse::<i64>() {
        return Some(Value::from(v));
    }
    if let Ok(v) = t.trim_start_matches('+').parse::<u64>() {
        return Some(Value::from(v));
    }
    t.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map(Value::Number)
}

fn parse_float(t: &str) -> Option<Value> {
    let body = t.strip_prefix(['-', '+']).unwrap_or(t);
    if matches!(body, ".inf" | ".Inf" | ".INF" | ".nan" | ".NaN" | ".NAN") {
        // JSON has no infinities or NaN; keep the text so nothing is lost.
        return Some(Value::String(t.to_owned()));
    }
    // [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
    let bytes = body.as_bytes();
    let mut i = 0;
    let int_start = i;
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    let mut frac_digits = 0;
    if i < bytes.len() && bytes[i] == b'.' {
        i += 1;
        let s = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        frac_digits = i - s;
    }
    if int_digits == 0 && frac_digits == 0 {
        return None;
    }
    if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
        i += 1;
        if i < bytes.len() && (bytes[i] == b'+' || bytes[i] == b'-') {
            i += 1;
        }
        let s = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i == s {
            return None;
        }
    }
    if i != bytes.len() {
        return None;
    }
    let v: f64 = t.parse().ok()?;
    Number::from_f64(v).map(Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(t: &str) -> Result<Parsed, LoadError> {
        parse_text(t, &Limits::default())
    }

    #[test]
    fn core_schema_scalars() {
        let p = parse("a: 1\nb: 1.5\nc: true\nd: ~\ne: '1'\nf: 0x1F\ng: yes\nh: 2.6.0\ni: 1e3\n")
            .unwrap();
        assert_eq!(
            p.value,
            serde_json::json!({"a":1,"b":1.5,"c":true,"d":null,"e":"1","f":31,"g":"yes","h":"2.6.0","i":1000.0})
        );
    }

    #[test]
    fn spans_are_one_based() {
        let p = parse("info:\n  title: x\n").unwrap();
        let s = p.spans.get("/info/title").unwrap();
        assert_eq!(s.value.start, Pos::new(2, 10));
        assert_eq!(s.key.unwrap().start, Pos::new(2, 3));
    }

    #[test]
    fn duplicate_keys_rejected() {
        let e = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(e.code, "duplicate-key");
        assert_eq!(e.span.start, Pos::new(3, 1));
        assert_eq!(e.related.unwrap().0.start, Pos::new(1, 1));
    }

    #[test]
    fn merge_keys() {
        let p = parse("base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  y: 3\n").unwrap();
        assert_eq!(p.value["d"], serde_json::json!({"y":3,"x":1}));
    }

    #[test]
    fn keys_with_slashes_escape() {
        let p = parse("channels:\n  a/b~c: {}\n").unwrap();
        assert!(p.spans.get("/channels/a~1b~0c").is_some());
    }
}
