//! Reading one file: bytes → checked text → `serde_json::Value` plus a span for every node.
//!
//! YAML 1.2 (core schema) and JSON share one event-driven parser (`saphyr-parser`); the tree is
//! built iteratively, so no input can overflow the stack. Hard limits bound the work done on hostile
//! input: file size, nesting depth and the number of nodes materialized through YAML aliases.

mod fast;
mod yaml;

use serde_json::Value;

use crate::source::{Pos, Span};

pub(crate) use yaml::PIPELINE_FROM;
pub use yaml::parse_text;

/// Limits applied while loading. The defaults suit every real document we know of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest file accepted, in bytes.
    pub max_file_size: u64,
    /// Deepest nesting of mappings and sequences accepted.
    pub max_depth: usize,
    /// Most nodes that YAML aliases may expand to, per file (defends against "billion laughs").
    pub max_alias_nodes: usize,
    /// Most files one document may pull in through `$ref`s.
    pub max_files: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_size: 64 * 1024 * 1024,
            max_depth: 200,
            max_alias_nodes: 100_000,
            max_files: 10_000,
        }
    }
}

/// Where a node is written: its value, and its key when it is a mapping entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeSpan {
    /// The value's span.
    pub value: Span,
    /// The key's span, for mapping entries.
    pub key: Option<Span>,
}

/// JSON pointer → span for every node written in one file.
///
/// Keyed by a 64-bit hash of each pointer's text ([`PtrKey`]), not the text: a node's key
/// continues from its parent's, so building the map allocates nothing per node. Two of a
/// file's pointers sharing a key (odds about 1 in 10^10 for a 2.4 MB document) would swap
/// their locations; nothing else depends on the map.
#[derive(Debug, Default, Clone)]
pub struct SpanMap {
    map: rustc_hash::FxHashMap<u64, NodeSpan>,
}

/// The key of a JSON pointer in a [`SpanMap`]: FNV-1a over the pointer's text, one byte at a
/// time, so that a child's key is its parent's continued over `/` and the escaped segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PtrKey(u64);

impl PtrKey {
    /// The key of the empty pointer (the document itself).
    pub(crate) const ROOT: PtrKey = PtrKey(0xcbf2_9ce4_8422_2325);

    fn bytes(self, b: &[u8]) -> PtrKey {
        let mut h = self.0;
        for &c in b {
            h = (h ^ u64::from(c)).wrapping_mul(0x0100_0000_01b3);
        }
        PtrKey(h)
    }

    /// The key of `pointer`, given as text (`/channels/a~1b`).
    pub(crate) fn of(pointer: &str) -> PtrKey {
        PtrKey::ROOT.bytes(pointer.as_bytes())
    }

    /// The key of the child `segment` (unescaped) of this pointer.
    pub(crate) fn child(self, segment: &str) -> PtrKey {
        let k = self.bytes(b"/");
        if !segment.bytes().any(|c| c == b'~' || c == b'/') {
            return k.bytes(segment.as_bytes());
        }
        segment.bytes().fold(k, |k, c| match c {
            b'~' => k.bytes(b"~0"),
            b'/' => k.bytes(b"~1"),
            c => k.bytes(&[c]),
        })
    }

    /// The key of item `i` of this pointer's sequence.
    pub(crate) fn index(self, i: usize) -> PtrKey {
        let mut digits = [0u8; 20];
        let mut n = digits.len();
        let mut v = i;
        loop {
            n -= 1;
            digits[n] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.bytes(b"/").bytes(&digits[n..])
    }
}

impl SpanMap {
    pub(crate) fn with_capacity(nodes: usize) -> Self {
        SpanMap {
            map: rustc_hash::FxHashMap::with_capacity_and_hasher(nodes, Default::default()),
        }
    }

    /// Records a node's span.
    pub(crate) fn insert(&mut self, pointer: PtrKey, span: NodeSpan) {
        self.map.insert(pointer.0, span);
    }

    /// The span recorded under `pointer`.
    pub(crate) fn get_key(&self, pointer: PtrKey) -> Option<NodeSpan> {
        self.map.get(&pointer.0).copied()
    }

    /// The span of exactly this pointer, if the node was written in the file.
    pub fn get(&self, pointer: &str) -> Option<NodeSpan> {
        self.get_key(PtrKey::of(pointer))
    }

    /// The span of this pointer or of its nearest written ancestor (nodes produced by a YAML
    /// alias have no span of their own).
    pub fn nearest(&self, pointer: &str) -> NodeSpan {
        let mut p = pointer;
        loop {
            if let Some(s) = self.get(p) {
                return s;
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => {
                    return self.get("").unwrap_or(NodeSpan {
                        value: Span::point(Pos::new(1, 1)),
                        key: None,
                    });
                }
            }
        }
    }

    /// Number of recorded nodes.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no node was recorded.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// A problem found while reading a file. Converted to a [`crate::Diagnostic`] by the caller,
/// which knows the file's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// Rule code (`yaml-syntax`, `duplicate-key`, …).
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
    /// Where.
    pub span: Span,
    /// A second place that explains it (the first occurrence of a duplicate key).
    pub related: Option<(Span, String)>,
}

/// A parsed file.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The data.
    pub value: Value,
    /// Where each node is written.
    pub spans: SpanMap,
    /// Every mapping's `$ref` string, by the mapping's pointer (sorted), as the tree builder
    /// met them; `None` when anchors or merge keys may have copied some elsewhere (then the
    /// tree is walked for them).
    pub(crate) refs: Option<Vec<(String, String)>>,
}

/// Checks raw bytes and decodes them as UTF-8 text (a UTF-8 byte order mark is dropped).
pub fn decode(bytes: &[u8], limits: &Limits) -> Result<String, LoadError> {
    if bytes.len() as u64 > limits.max_file_size {
        return Err(LoadError {
            code: "file-too-large",
            message: format!(
                "file is {} bytes; the limit is {} bytes",
                bytes.len(),
                limits.max_file_size
            ),
            span: Span::point(Pos::new(1, 1)),
            related: None,
        });
    }
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(LoadError {
            code: "not-utf8",
            message: "file is UTF-16 or UTF-32 encoded; AsyncAPI documents must be UTF-8".into(),
            span: Span::point(Pos::new(1, 1)),
            related: None,
        });
    }
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    if let Some(i) = memchr::memchr(0, bytes) {
        return Err(LoadError {
            code: "binary-file",
            message: "file contains NUL bytes; it looks like a binary file, not YAML or JSON"
                .into(),
            span: Span::point(pos_of_byte(bytes, i)),
            related: None,
        });
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s.to_owned()),
        Err(e) => Err(LoadError {
            code: "not-utf8",
            message: format!(
                "file is not valid UTF-8 (invalid byte 0x{:02X} at offset {})",
                bytes[e.valid_up_to()],
                e.valid_up_to()
            ),
            span: Span::point(pos_of_byte(bytes, e.valid_up_to())),
            related: None,
        }),
    }
}

/// Line/column of a byte offset in bytes that are valid UTF-8 up to `offset`.
fn pos_of_byte(bytes: &[u8], offset: usize) -> Pos {
    let before = &bytes[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let col = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    Pos::new(line as u32, col as u32)
}

/// Escapes one JSON pointer segment (`~` → `~0`, `/` → `~1`) and appends it with a leading `/`.
pub(crate) fn push_segment(ptr: &mut String, segment: &str) {
    ptr.push('/');
    // Byte-wise: both are ASCII, and keys are short (a `char` pattern costs more per byte).
    if segment.bytes().any(|b| b == b'~' || b == b'/') {
        for c in segment.chars() {
            match c {
                '~' => ptr.push_str("~0"),
                '/' => ptr.push_str("~1"),
                c => ptr.push(c),
            }
        }
    } else {
        ptr.push_str(segment);
    }
}

#[cfg(test)]
mod tests {
    use super::PtrKey;

    #[test]
    fn a_child_key_continues_its_parent_key() {
        let built = PtrKey::ROOT.child("a/b").child("c~d").index(12).child("");
        assert_eq!(built, PtrKey::of("/a~1b/c~0d/12/"));
        assert_eq!(PtrKey::ROOT, PtrKey::of(""));
        assert_ne!(PtrKey::of("/a/b"), PtrKey::of("/a~1b"));
        assert_eq!(PtrKey::ROOT.index(0), PtrKey::of("/0"));
    }
}
