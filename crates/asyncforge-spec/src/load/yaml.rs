//! Event-driven tree builder over `saphyr-parser`.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Tag};
use serde_json::{Map, Number, Value};

use super::{Limits, LoadError, NodeSpan, Parsed, PtrKey, SpanMap, fast};
use crate::source::{Pos, Span};

fn pos(m: &saphyr_parser::Marker) -> Pos {
    Pos::new(m.line() as u32, m.col() as u32 + 1)
}

pub(super) fn span(s: &saphyr_parser::Span) -> Span {
    Span::new(pos(&s.start), pos(&s.end))
}

/// An open collection. Its items wait on the builder's shared stacks ([`Builder::items`],
/// [`Builder::entries`]) from `start` on, so that each collection is allocated once, at its
/// final size, when it ends.
enum Frame {
    Seq {
        start: usize,
        ptr: PtrKey,
        /// Where the collection starts (its end comes with its end event).
        at: NodeSpan,
        anchor: usize,
        nodes: usize,
    },
    Map {
        start: usize,
        ptr: PtrKey,
        at: NodeSpan,
        anchor: usize,
        nodes: usize,
        /// The key waiting for its value.
        key: Option<PendingKey>,
        /// Mappings merged in with `<<`, applied when the mapping ends.
        merges: Vec<Value>,
    },
}

/// A mapping key read, waiting for its value.
struct PendingKey {
    text: String,
    span: Span,
    /// A plain `<<`: the value is merged into the mapping.
    merge: bool,
    /// The pointer of the value to come.
    ptr: PtrKey,
}

struct Builder<'a> {
    limits: &'a Limits,
    stack: Vec<Frame>,
    /// The items of the open sequences, innermost last.
    items: Vec<Value>,
    /// The entries of the open mappings, innermost last.
    entries: Vec<(String, Value)>,
    /// Each mapping's `$ref` string, by the mapping's pointer ([`Parsed::refs`]).
    refs: Vec<(String, String)>,
    /// A merge key was applied (it may have copied a `$ref`).
    merged: bool,
    spans: SpanMap,
    anchors: HashMap<usize, (Value, usize)>,
    alias_nodes: usize,
    root: Option<Value>,
    documents: usize,
}

/// Files at least this large (bytes) are read on a thread of their own (see [`build`]).
pub(crate) const PIPELINE_FROM: usize = 256 * 1024;
/// Events handed from the reading thread to the tree builder at a time.
const BATCH: usize = 1024;
/// Batches the reader may get ahead of the builder.
const BATCHES_AHEAD: usize = 16;

/// Why building a tree from a reader's events did not finish.
enum Failure {
    /// The text is not valid YAML (saphyr's error), or the builder refused an event.
    Error(LoadError),
    /// The fast reader left the text to saphyr.
    LeftAlone,
    /// The builder stopped taking events (it failed first).
    Gone,
}

/// One event from a reader, or why reading ended.
type Scanned<'a> = Result<(Event<'a>, Span), Failure>;

/// Hands each event to the builder, in order; fails when the builder is gone.
type Sink<'s, 'a> = &'s mut dyn FnMut(Event<'a>, Span) -> Result<(), ()>;

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
    // Block-style YAML goes through the fast reader; anything it leaves alone (and any
    // error, so that every message comes from one parser) is read again by saphyr.
    let fast = build(text, limits, |sink| {
        fast::parse(text, sink).map_err(|stop| match stop {
            fast::Stop::Unsupported => Failure::LeftAlone,
            fast::Stop::Sink(()) => Failure::Gone,
        })
    });
    if let Ok(parsed) = fast {
        return parsed;
    }
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
    let full = build(text, limits, |sink| {
        let mut parser = Parser::new_from_str(text);
        while let Some(ev) = parser.next_event() {
            let (ev, sp) = ev.map_err(|e| Failure::Error(scan_error(e)))?;
            sink(ev, span(&sp)).map_err(|()| Failure::Gone)?;
        }
        Ok(())
    });
    match full {
        Ok(parsed) => parsed,
        Err(Failure::Error(e)) => Err(e),
        // saphyr reads every text; the builder's own errors come as `Failure::Error`.
        Err(Failure::LeftAlone | Failure::Gone) => Err(LoadError {
            code: "yaml-syntax",
            message: "the YAML reader stopped early".into(),
            span: Span::point(Pos::new(1, 1)),
            related: None,
        }),
    }
}

/// Builds the tree from the events `read` hands its sink. A large text is read on a thread of
/// its own, handing its events over in batches, so that building overlaps with reading; the
/// builder sees the same events in the same order, and whichever error comes first in that
/// order (the reader's or the builder's) is the one reported.
fn build<'a, R>(
    text: &'a str,
    limits: &Limits,
    read: R,
) -> Result<Result<Parsed, LoadError>, Failure>
where
    R: for<'s> FnOnce(Sink<'s, 'a>) -> Result<(), Failure> + Send,
{
    let mut b = Builder::new(limits, text.len());
    if text.len() < PIPELINE_FROM {
        let mut refused = None;
        let read = read(&mut |ev, sp| {
            b.event(ev, sp).map_err(|e| {
                refused = Some(e);
            })
        });
        return match (read, refused) {
            (_, Some(e)) => Err(Failure::Error(e)),
            (Err(f), None) => Err(f),
            (Ok(()), None) => Ok(b.finish()),
        };
    }
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Scanned<'a>>>(BATCHES_AHEAD);
        scope.spawn(move || {
            let mut batch = Vec::with_capacity(BATCH);
            let read = read(&mut |ev, sp| {
                batch.push(Ok((ev, sp)));
                if batch.len() == BATCH {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                    // The receiver is gone after the builder's error: stop reading.
                    tx.send(full).map_err(drop)?;
                }
                Ok(())
            });
            match read {
                Err(Failure::Gone) => return,
                Err(f) => batch.push(Err(f)),
                Ok(()) => {}
            }
            let _ = tx.send(batch);
        });
        for batch in rx {
            for item in batch {
                let (ev, sp) = item?;
                b.event(ev, sp).map_err(Failure::Error)?;
            }
        }
        Ok(b.finish())
    })
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

impl<'l> Builder<'l> {
    /// A builder for a text of `len` bytes.
    fn new(limits: &'l Limits, len: usize) -> Self {
        // About one node per 60 bytes in real documents: the span map then rarely grows.
        let capacity = (len / 60).min(1 << 20);
        Builder {
            limits,
            stack: Vec::new(),
            items: Vec::new(),
            entries: Vec::new(),
            refs: Vec::new(),
            merged: false,
            spans: SpanMap::with_capacity(capacity),
            anchors: HashMap::new(),
            alias_nodes: 0,
            root: None,
            documents: 0,
        }
    }

    fn finish(self) -> Result<Parsed, LoadError> {
        // Aliases (there are none without anchors) and merge keys copy mappings, `$ref`s
        // included: then the tree is walked for them instead.
        let refs = (self.anchors.is_empty() && !self.merged).then(|| {
            let mut refs = self.refs;
            refs.sort_by(|a, b| a.0.cmp(&b.0));
            refs
        });
        match self.root {
            Some(value) => Ok(Parsed {
                value,
                spans: self.spans,
                refs,
            }),
            None => Err(LoadError {
                code: "empty-document",
                message: "file contains no YAML or JSON document".into(),
                span: Span::point(Pos::new(1, 1)),
                related: None,
            }),
        }
    }

    /// The JSON pointer text of the innermost open collection: each open mapping's pending key
    /// and each open sequence's next index, from the root (built only where a `$ref` is).
    fn open_pointer(&self) -> String {
        let mut ptr = String::new();
        let inner = self.stack.len().saturating_sub(1);
        for (i, frame) in self.stack[..inner].iter().enumerate() {
            match frame {
                Frame::Map { key, .. } => {
                    if let Some(k) = key {
                        super::push_segment(&mut ptr, &k.text);
                    }
                }
                Frame::Seq { start, .. } => {
                    // This sequence's items end where the next open sequence's begin.
                    let end = self.stack[i + 1..]
                        .iter()
                        .find_map(|f| match f {
                            Frame::Seq { start, .. } => Some(*start),
                            Frame::Map { .. } => None,
                        })
                        .unwrap_or(self.items.len());
                    use std::fmt::Write as _;
                    let _ = write!(ptr, "/{}", end - start);
                }
            }
        }
        ptr
    }

    /// The pointer of the node that comes next.
    fn next_ptr(&self) -> PtrKey {
        match self.stack.last() {
            None => PtrKey::ROOT,
            Some(Frame::Seq { start, ptr, .. }) => ptr.index(self.items.len() - start),
            Some(Frame::Map { ptr, key, .. }) => match key {
                Some(k) => k.ptr,
                None => *ptr,
            },
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
                let ptr = self.next_ptr();
                self.spans.insert(
                    ptr,
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
                    if let Some(Frame::Map { key, ptr, .. }) = self.stack.last_mut() {
                        // Every value written in the mapping has a span under its pointer, so
                        // the span map (cheaper to look up than the mapping) finds an earlier
                        // key of the same text; merged keys arrive at the end and are not there.
                        let child = ptr.child(&text);
                        if !merge && let Some(first) = self.spans.get_key(child) {
                            return Err(LoadError {
                                code: "duplicate-key",
                                message: format!("duplicate key `{text}`"),
                                span: sp,
                                related: Some((
                                    first.key.unwrap_or(sp),
                                    "first defined here".into(),
                                )),
                            });
                        }
                        *key = Some(PendingKey {
                            text: text.into_owned(),
                            span: sp,
                            merge,
                            ptr: child,
                        });
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
                let ptr = self.next_ptr();
                let key = self.pending_key_span();
                self.spans.insert(ptr, NodeSpan { value: sp, key });
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
                // The collection's span goes into the span map when it ends (nothing looks it up
                // before), and its pointer with it, uncopied.
                let ptr = self.next_ptr();
                let at = NodeSpan {
                    value: sp,
                    key: self.pending_key_span(),
                };
                let frame = if matches!(ev, Event::SequenceStart(..)) {
                    Frame::Seq {
                        start: self.items.len(),
                        ptr,
                        at,
                        anchor,
                        nodes: 1,
                    }
                } else {
                    Frame::Map {
                        start: self.entries.len(),
                        ptr,
                        at,
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
                let (value, ptr, mut at, anchor, nodes) = match frame {
                    Frame::Seq {
                        start,
                        ptr,
                        at,
                        anchor,
                        nodes,
                    } => (
                        Value::Array(self.items.drain(start..).collect()),
                        ptr,
                        at,
                        anchor,
                        nodes,
                    ),
                    Frame::Map {
                        start,
                        ptr,
                        at,
                        anchor,
                        nodes,
                        merges,
                        ..
                    } => {
                        let mut map = Map::with_capacity(self.entries.len() - start);
                        map.extend(self.entries.drain(start..));
                        for m in merges {
                            self.merged = true;
                            merge_into(&mut map, m);
                        }
                        (Value::Object(map), ptr, at, anchor, nodes)
                    }
                };
                at.value.end = sp.end;
                self.spans.insert(ptr, at);
                self.finish_node(value, at.value, anchor, nodes)
            }
        }
    }

    fn pending_key_span(&self) -> Option<Span> {
        match self.stack.last() {
            Some(Frame::Map { key: Some(k), .. }) => Some(k.span),
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
            Some(Frame::Seq { nodes: n, .. }) => {
                *n += nodes;
                self.items.push(value);
                Ok(())
            }
            Some(Frame::Map {
                key,
                merges,
                nodes: n,
                ..
            }) => {
                *n += nodes;
                let Some(PendingKey {
                    text: k,
                    span: kspan,
                    merge,
                    ..
                }) = key.take()
                else {
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
                if k == "$ref"
                    && let Value::String(r) = &value
                {
                    let r = r.clone();
                    let at = self.open_pointer();
                    self.refs.push((at, r));
                }
                // Keys are unique here: a duplicate was refused when its key came.
                self.entries.push((k, value));
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

    #[test]
    fn deep_nesting_is_refused_in_large_files_too() {
        let limits = Limits::default();
        let padding = format!("pad: '{}'\n", "x".repeat(PIPELINE_FROM));
        let flow = format!("{padding}a: {}\n", "[".repeat(100_000));
        assert_eq!(parse_text(&flow, &limits).unwrap_err().code, "too-deep");
        let mut block = padding.clone();
        for depth in 0..400 {
            block.push_str(&" ".repeat(depth));
            block.push_str("k:\n");
        }
        assert_eq!(parse_text(&block, &limits).unwrap_err().code, "too-deep");
        let small = format!("a: {}\n", "[".repeat(100_000));
        assert_eq!(parse_text(&small, &limits).unwrap_err().code, "too-deep");
    }
}
