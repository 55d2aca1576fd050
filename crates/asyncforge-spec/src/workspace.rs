//! The set of files one document is made of, and `$ref` resolution between them.
//!
//! Loading starts at the root file and follows every `$ref` to other files (relative paths are
//! resolved against the referring file). Each file is parsed once. After loading, the workspace
//! is immutable and resolution is a lookup: validation never expands references, it visits each
//! referenced node in place, so recursive schemas cost nothing and a problem inside a shared
//! component is reported once, in the file where it is written.

use std::collections::{HashSet, VecDeque};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use crate::diagnostic::{Diagnostic, Location};
use crate::load::{self, Limits, Parsed};
use crate::pointer;
use crate::source::{FileId, Pos, SourceFile, Span};

/// Fetches a remote (`http://`, `https://`) document. Only consulted when remote references are
/// allowed.
pub trait Fetch: Send + Sync {
    /// Returns the bytes at `url`, or a message saying why not.
    fn fetch(&self, url: &str) -> Result<Vec<u8>, String>;
}

/// How documents are loaded.
#[derive(Clone, Default)]
pub struct LoadOptions {
    /// Resource limits.
    pub limits: Limits,
    /// Fetcher for remote references; `None` means remote references are an error.
    pub remote: Option<Arc<dyn Fetch>>,
    /// Reader of the local files a document references, given their absolute paths (a git
    /// revision's files, an editor's unsaved buffers); `None` reads the file system.
    pub local: Option<Arc<dyn Fetch>>,
}

impl std::fmt::Debug for LoadOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadOptions")
            .field("limits", &self.limits)
            .field("remote", &self.remote.is_some())
            .field("local", &self.local.is_some())
            .finish()
    }
}

/// One file of a workspace.
#[derive(Debug)]
pub struct File {
    source: SourceFile,
    key: String,
    parsed: Option<Parsed>,
}

impl File {
    /// The file's text and name.
    pub fn source(&self) -> &SourceFile {
        &self.source
    }

    /// The parsed data, when the file could be parsed.
    pub fn value(&self) -> Option<&Value> {
        self.parsed.as_ref().map(|p| &p.value)
    }

    /// Canonical key (absolute path or URL) used to identify the file.
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// A node of some file.
#[derive(Debug, Clone, Copy)]
pub struct Node<'a> {
    /// The file the node is written in.
    pub file: FileId,
    /// Its JSON pointer within that file.
    pub pointer: &'a str,
    /// The node.
    pub value: &'a Value,
}

/// Where a `$ref` points.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// Target file.
    pub file: FileId,
    /// JSON pointer inside the target file.
    pub pointer: String,
}

/// A `$ref` found in the workspace.
#[derive(Debug, Clone)]
pub struct RefSite {
    /// File holding the `$ref`.
    pub file: FileId,
    /// Pointer of the object that has the `$ref` member.
    pub pointer: String,
    /// The reference text.
    pub reference: String,
    /// The resolved target (after following chains), when it resolves.
    pub target: Option<Target>,
}

/// All files of one document.
#[derive(Debug, Default)]
pub struct Workspace {
    files: Vec<File>,
    by_key: rustc_hash::FxHashMap<String, FileId>,
    refs: Vec<RefSite>,
    ref_index: rustc_hash::FxHashMap<(FileId, String), usize>,
}

/// Why a reference does not resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefError {
    /// The referenced file is not part of the workspace (it failed to load).
    MissingFile(String),
    /// The pointer names nothing in the target file.
    MissingTarget(String),
    /// The reference text is malformed.
    Malformed(String),
    /// A chain of references returns to itself without reaching a value.
    Loop(Vec<String>),
}

impl std::fmt::Display for RefError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RefError::MissingFile(s) => write!(f, "{s}"),
            RefError::MissingTarget(s) => write!(f, "{s}"),
            RefError::Malformed(s) => write!(f, "{s}"),
            RefError::Loop(chain) => write!(f, "reference loop: {}", chain.join(" → ")),
        }
    }
}

const MAX_CHAIN: usize = 64;

fn is_remote(s: &str) -> bool {
    let l = s.get(..8).unwrap_or(s).to_ascii_lowercase();
    l.starts_with("http://") || l.starts_with("https://")
}

/// Removes `.` and `..` components without touching the file system.
pub fn normalize_path(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            Component::CurDir => {}
            c => out.push(c.as_os_str()),
        }
    }
    out
}

fn join_url(base: &str, rel: &str) -> String {
    if is_remote(rel) {
        return rel.to_owned();
    }
    let base = base.split(['?', '#']).next().unwrap_or(base);
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let (origin, path) = base.split_at(host_end);
    let mut segs: Vec<&str> = if rel.starts_with('/') {
        Vec::new()
    } else {
        let mut s: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        // Drop the file name of the base.
        if !path.ends_with('/') {
            s.pop();
        }
        s
    };
    for s in rel.split('/').filter(|s| !s.is_empty()) {
        match s {
            "." => {}
            ".." => {
                segs.pop();
            }
            s => segs.push(s),
        }
    }
    format!("{origin}/{}", segs.join("/"))
}

/// Diagnostics collected while building a workspace.
pub(crate) type Sink = Vec<Diagnostic>;

impl Workspace {
    /// Loads the root file at `path` and every file it references.
    pub fn load(path: &Path, options: &LoadOptions, diags: &mut Sink) -> Workspace {
        let mut ws = Workspace::default();
        let display = path.display().to_string();
        let key = absolute_key(path);
        let bytes = std::fs::read(path).map_err(|e| e.to_string());
        ws.add_file(
            key,
            path.to_path_buf(),
            display,
            bytes,
            options,
            None,
            diags,
        );
        ws.follow_refs(options, diags);
        ws
    }

    /// Builds a workspace from text held in memory (for editors, fuzzing and tests).
    /// Relative references are resolved against `path`'s directory on disk.
    pub fn load_text(
        path: &Path,
        text: &[u8],
        options: &LoadOptions,
        diags: &mut Sink,
    ) -> Workspace {
        let mut ws = Workspace::default();
        let display = path.display().to_string();
        ws.add_file(
            absolute_key(path),
            path.to_path_buf(),
            display,
            Ok(text.to_vec()),
            options,
            None,
            diags,
        );
        ws.follow_refs(options, diags);
        ws
    }

    #[allow(clippy::too_many_arguments)]
    fn add_file(
        &mut self,
        key: String,
        path: PathBuf,
        display: String,
        bytes: Result<Vec<u8>, String>,
        options: &LoadOptions,
        from: Option<Location>,
        diags: &mut Sink,
    ) -> FileId {
        let id = FileId(self.files.len() as u32);
        let text_kind = is_text_file(&key);
        let mut lines = None;
        let (text, parsed) = match bytes {
            Err(e) => {
                let d = Diagnostic::error("io-error", format!("cannot read `{display}`: {e}"));
                diags.push(match from {
                    Some(l) => d.at(l),
                    None => d,
                });
                (String::new(), None)
            }
            Ok(bytes) => match load::decode(&bytes, &options.limits) {
                Err(e) => {
                    diags.push(load_error_diag(id, e));
                    (String::new(), None)
                }
                Ok(text) => {
                    if text_kind {
                        let v = Value::String(text.clone());
                        let mut spans = load::SpanMap::default();
                        spans.insert(
                            load::PtrKey::ROOT,
                            load::NodeSpan {
                                value: Span::point(Pos::new(1, 1)),
                                key: None,
                            },
                        );
                        (
                            text,
                            Some(Parsed {
                                value: v,
                                spans,
                                refs: Some(Vec::new()),
                            }),
                        )
                    } else {
                        // A large file's line index is built beside its parse, on the core the
                        // parse leaves idle part of the time.
                        let parsed = if text.len() >= load::PIPELINE_FROM {
                            std::thread::scope(|s| {
                                let index = s.spawn(|| SourceFile::line_starts(&text));
                                let parsed = load::parse_text(&text, &options.limits);
                                lines = index.join().ok();
                                parsed
                            })
                        } else {
                            load::parse_text(&text, &options.limits)
                        };
                        match parsed {
                            Ok(p) => (text, Some(p)),
                            Err(e) => {
                                diags.push(load_error_diag(id, e));
                                (text, None)
                            }
                        }
                    }
                }
            },
        };
        self.files.push(File {
            source: match lines {
                Some(lines) => SourceFile::with_line_starts(path, display, text, lines),
                None => SourceFile::new(path, display, text),
            },
            key: key.clone(),
            parsed,
        });
        self.by_key.insert(key, id);
        id
    }

    /// Loads every file reachable through `$ref`s, then resolves every reference.
    fn follow_refs(&mut self, options: &LoadOptions, diags: &mut Sink) {
        let mut queue: VecDeque<FileId> = VecDeque::from([FileId(0)]);
        let mut sites: Vec<RefSite> = Vec::new();
        while let Some(fid) = queue.pop_front() {
            let file = &mut self.files[fid.index()];
            let mut found = Vec::new();
            if let Some(parsed) = &mut file.parsed {
                match parsed.refs.take() {
                    Some(refs) => found = refs,
                    None => collect_refs(&parsed.value, "", &mut found),
                }
            }
            for (ptr, reference) in found {
                let here = self.location(fid, &pointer::join(&ptr, "$ref"));
                let (file_part, _) = split_ref(&reference);
                if !file_part.is_empty() {
                    let base = self.files[fid.index()].key.clone();
                    let key = if is_remote(&base) || is_remote(file_part) {
                        join_url(&base, file_part)
                    } else {
                        let dir = Path::new(&base).parent().unwrap_or(Path::new(""));
                        normalize_path(&dir.join(file_part)).display().to_string()
                    };
                    if !self.by_key.contains_key(&key) {
                        if is_remote(&key) && options.remote.is_none() {
                            diags.push(
                                Diagnostic::error(
                                    "ref-remote",
                                    format!("remote reference `{reference}` was not fetched: remote references are off"),
                                )
                                .at(here.clone())
                                .with_help("pass `--allow-remote-refs` (library: `LoadOptions::remote`) to fetch it, or download the file and reference it by a relative path"),
                            );
                        } else if self.files.len() >= options.limits.max_files {
                            diags.push(
                                Diagnostic::error(
                                    "ref-limit",
                                    format!(
                                        "document references more than {} files",
                                        options.limits.max_files
                                    ),
                                )
                                .at(here.clone()),
                            );
                        } else {
                            let bytes = if is_remote(&key) {
                                match &options.remote {
                                    Some(f) => f.fetch(&key),
                                    None => Err("remote references are off".into()),
                                }
                            } else if let Some(local) = &options.local {
                                local.fetch(&key)
                            } else {
                                std::fs::read(&key).map_err(|e| match e.kind() {
                                    std::io::ErrorKind::NotFound => "file not found".to_owned(),
                                    _ => e.to_string(),
                                })
                            };
                            let display = if is_remote(&key) {
                                key.clone()
                            } else {
                                display_relative(
                                    &self.files[0].key,
                                    self.files[0].source.display_name(),
                                    &key,
                                )
                            };
                            let id = self.add_file(
                                key.clone(),
                                PathBuf::from(&key),
                                display,
                                bytes,
                                options,
                                Some(here.clone()),
                                diags,
                            );
                            queue.push_back(id);
                        }
                    }
                }
                sites.push(RefSite {
                    file: fid,
                    pointer: ptr,
                    reference,
                    target: None,
                });
            }
        }
        // Resolve every site now that all files are loaded.
        for site in sites.iter_mut() {
            let (file, ptr) = (site.file, site.pointer.clone());
            let here = self.location(file, &pointer::join(&ptr, "$ref"));
            match self.resolve_chain(file, &ptr) {
                Ok(t) => site.target = Some(t),
                Err(RefError::MissingFile(_)) => {
                    // Already reported when the file failed to load.
                }
                Err(RefError::Loop(chain)) => diags.push(
                    Diagnostic::error(
                        "ref-loop",
                        format!("`$ref` never reaches a value: {}", chain.join(" → ")),
                    )
                    .at(here),
                ),
                Err(RefError::MissingTarget(m)) | Err(RefError::Malformed(m)) => {
                    diags.push(Diagnostic::error("ref-unresolved", m).at(here))
                }
            }
        }
        self.ref_index = sites
            .iter()
            .enumerate()
            .map(|(i, s)| ((s.file, s.pointer.clone()), i))
            .collect();
        self.refs = sites;
    }

    /// Number of files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether the workspace holds no file.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// All files, root first.
    pub fn files(&self) -> impl Iterator<Item = (FileId, &File)> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, f)| (FileId(i as u32), f))
    }

    /// One file.
    pub fn file(&self, id: FileId) -> &File {
        &self.files[id.index()]
    }

    /// The root file's id.
    pub fn root_id(&self) -> FileId {
        FileId(0)
    }

    /// The root node, when the root file parsed.
    pub fn root(&self) -> Option<Node<'_>> {
        let v = self.files.first()?.value()?;
        Some(Node {
            file: FileId(0),
            pointer: "",
            value: v,
        })
    }

    /// Every `$ref` of every file.
    pub fn refs(&self) -> &[RefSite] {
        &self.refs
    }

    /// The resolved target of the `$ref` held by the object at (`file`, `pointer`).
    pub fn ref_target(&self, file: FileId, pointer: &str) -> Option<&Target> {
        let i = *self.ref_index.get(&(file, pointer.to_owned()))?;
        self.refs[i].target.as_ref()
    }

    /// The value at a pointer of a file, without following references.
    pub fn get(&self, file: FileId, ptr: &str) -> Option<&Value> {
        pointer::lookup(self.files.get(file.index())?.value()?, ptr)
    }

    /// Location of a node (its value span).
    pub fn location(&self, file: FileId, ptr: &str) -> Location {
        let span = self
            .files
            .get(file.index())
            .and_then(|f| f.parsed.as_ref())
            .map(|p| p.spans.nearest(ptr).value)
            .unwrap_or_default();
        Location {
            file,
            pointer: ptr.to_owned(),
            span,
        }
    }

    /// Location of a mapping entry's key (falls back to the value).
    pub fn key_location(&self, file: FileId, ptr: &str) -> Location {
        let spans = self
            .files
            .get(file.index())
            .and_then(|f| f.parsed.as_ref())
            .map(|p| &p.spans);
        let span = spans
            .and_then(|s| s.get(ptr))
            .map(|s| s.key.unwrap_or(s.value))
            .or_else(|| spans.map(|s| s.nearest(ptr).value))
            .unwrap_or_default();
        Location {
            file,
            pointer: ptr.to_owned(),
            span,
        }
    }

    /// Resolves one reference text written in `from` into a target, without following chains.
    pub fn resolve_one(&self, from: FileId, reference: &str) -> Result<Target, RefError> {
        let (file_part, fragment) = split_ref(reference);
        let file = if file_part.is_empty() {
            from
        } else {
            let base = &self.files[from.index()].key;
            let key = if is_remote(base) || is_remote(file_part) {
                join_url(base, file_part)
            } else {
                let dir = Path::new(base).parent().unwrap_or(Path::new(""));
                normalize_path(&dir.join(file_part)).display().to_string()
            };
            match self.by_key.get(&key) {
                Some(&id) if self.files[id.index()].parsed.is_some() => id,
                _ => {
                    return Err(RefError::MissingFile(format!(
                        "`{file_part}` could not be loaded"
                    )));
                }
            }
        };
        let fragment = pointer::from_fragment(fragment).ok_or_else(|| {
            RefError::Malformed(format!(
                "`{reference}`: fragment is not valid UTF-8 after percent-decoding"
            ))
        })?;
        if !fragment.is_empty() && !fragment.starts_with('/') {
            return Err(RefError::Malformed(format!(
                "`{reference}`: only JSON pointer fragments (`#/…`) are supported, not named anchors"
            )));
        }
        let segs = pointer::parse(&fragment).ok_or_else(|| {
            RefError::Malformed(format!(
                "`{reference}`: `{fragment}` is not a valid JSON pointer"
            ))
        })?;
        self.walk(file, &segs, reference)
    }

    /// Walks segments from a file's root, following `$ref`s met on the way.
    fn walk(&self, file: FileId, segs: &[String], reference: &str) -> Result<Target, RefError> {
        let mut cur = Target {
            file,
            pointer: String::new(),
        };
        let mut hops = 0;
        for (i, seg) in segs.iter().enumerate() {
            let mut v = self.get(cur.file, &cur.pointer).ok_or_else(|| {
                RefError::MissingTarget(format!("`{reference}` does not resolve"))
            })?;
            // An intermediate node that is itself a reference: continue from its target.
            while let Some(r) = v.get("$ref").and_then(Value::as_str) {
                hops += 1;
                if hops > MAX_CHAIN {
                    return Err(RefError::Loop(vec![reference.to_owned()]));
                }
                cur = self.resolve_one(cur.file, r)?;
                v = self.get(cur.file, &cur.pointer).ok_or_else(|| {
                    RefError::MissingTarget(format!("`{reference}` does not resolve"))
                })?;
            }
            let next = match v {
                Value::Object(m) => m.contains_key(seg.as_str()),
                Value::Array(a) => seg
                    .parse::<usize>()
                    .is_ok_and(|n| n < a.len() && (seg == "0" || !seg.starts_with('0'))),
                _ => false,
            };
            if !next {
                let so_far: Vec<String> = segs[..=i].iter().map(|s| pointer::escape(s)).collect();
                return Err(RefError::MissingTarget(format!(
                    "`{reference}` does not resolve: there is nothing at `/{}`{}",
                    so_far.join("/"),
                    if file != FileId(0) || !reference.starts_with('#') {
                        format!(
                            " in `{}`",
                            self.files[cur.file.index()].source.display_name()
                        )
                    } else {
                        String::new()
                    }
                )));
            }
            cur.pointer = pointer::join(&cur.pointer, seg);
        }
        Ok(cur)
    }

    /// Follows the `$ref` of the object at (`file`, `ptr`) — and any chain of references after it —
    /// to the node that is not a reference.
    pub fn resolve_chain(&self, file: FileId, ptr: &str) -> Result<Target, RefError> {
        let mut cur = Target {
            file,
            pointer: ptr.to_owned(),
        };
        let mut seen: HashSet<Target> = HashSet::new();
        let mut chain: Vec<String> = Vec::new();
        loop {
            let Some(v) = self.get(cur.file, &cur.pointer) else {
                return Err(RefError::MissingTarget(format!(
                    "nothing at `{}`",
                    cur.pointer
                )));
            };
            let Some(r) = v.get("$ref").and_then(Value::as_str) else {
                return Ok(cur);
            };
            if !seen.insert(cur.clone()) || chain.len() > MAX_CHAIN {
                chain.push(r.to_owned());
                return Err(RefError::Loop(chain));
            }
            chain.push(r.to_owned());
            cur = self.resolve_one(cur.file, r)?;
        }
    }

    /// Follows a node through references: returns the node itself when it is not a `$ref`.
    pub fn deref<'a>(&'a self, node: Node<'a>) -> Result<(FileId, String, &'a Value), RefError> {
        if node.value.get("$ref").and_then(Value::as_str).is_none() {
            return Ok((node.file, node.pointer.to_owned(), node.value));
        }
        let t = match self.ref_target(node.file, node.pointer) {
            Some(t) => t.clone(),
            None => self.resolve_chain(node.file, node.pointer)?,
        };
        let v = self
            .get(t.file, &t.pointer)
            .ok_or_else(|| RefError::MissingTarget("target vanished".into()))?;
        Ok((t.file, t.pointer, v))
    }

    /// Paths of every file on disk that the document is made of (for `rerun-if-changed`).
    pub fn disk_paths(&self) -> Vec<PathBuf> {
        self.files
            .iter()
            .filter(|f| !is_remote(&f.key))
            .map(|f| f.source.path().to_path_buf())
            .collect()
    }
}

/// Splits a reference into its file part and fragment (without `#`).
pub fn split_ref(reference: &str) -> (&str, &str) {
    match reference.find('#') {
        Some(i) => (&reference[..i], &reference[i + 1..]),
        None => (reference, ""),
    }
}

/// Collects `(pointer of the object, reference text)` for every `$ref` string in a tree.
pub(crate) fn collect_refs(v: &Value, ptr: &str, out: &mut Vec<(String, String)>) {
    /// A collection being walked, and the length of the path before its key.
    enum Open<'a> {
        Map(serde_json::map::Iter<'a>, usize),
        Seq(std::iter::Enumerate<std::slice::Iter<'a, Value>>, usize),
    }
    fn open<'a>(v: &'a Value, path: &str, out: &mut Vec<(String, String)>) -> Option<Open<'a>> {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push((path.to_owned(), r.clone()));
                }
                Some(Open::Map(m.iter(), path.len()))
            }
            Value::Array(a) => Some(Open::Seq(a.iter().enumerate(), path.len())),
            _ => None,
        }
    }
    fn is_collection(v: &Value) -> bool {
        matches!(v, Value::Object(_) | Value::Array(_))
    }
    // Iterative to be safe on deep trees; one path buffer, grown and cut back as the walk goes
    // (a pointer is copied only where a `$ref` is).
    let mut path = ptr.to_owned();
    let mut stack: Vec<Open<'_>> = open(v, &path, out).into_iter().collect();
    while let Some(top) = stack.last_mut() {
        let next = match top {
            Open::Map(entries, len) => {
                path.truncate(*len);
                entries.find(|(_, c)| is_collection(c)).map(|(k, child)| {
                    crate::load::push_segment(&mut path, k);
                    child
                })
            }
            Open::Seq(items, len) => {
                path.truncate(*len);
                items.find(|(_, c)| is_collection(c)).map(|(i, child)| {
                    use std::fmt::Write as _;
                    let _ = write!(path, "/{i}");
                    child
                })
            }
        };
        match next {
            Some(child) => {
                if let Some(o) = open(child, &path, out) {
                    stack.push(o);
                }
            }
            None => {
                stack.pop();
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
}

fn absolute_key(path: &Path) -> String {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    };
    normalize_path(&abs).display().to_string()
}

/// A name for a referenced file relative to the root file's directory, as the user would write it.
fn display_relative(root_key: &str, root_display: &str, key: &str) -> String {
    let root_dir = Path::new(root_key).parent().unwrap_or(Path::new("/"));
    let shown_dir = Path::new(root_display).parent().unwrap_or(Path::new(""));
    let target = Path::new(key);
    // Walk up from the root's directory until the target is below it.
    let mut up = 0;
    let mut base = root_dir.to_path_buf();
    loop {
        if let Ok(rest) = target.strip_prefix(&base) {
            let mut p = shown_dir.to_path_buf();
            for _ in 0..up {
                p.push("..");
            }
            p.push(rest);
            return normalize_display(&p);
        }
        if !base.pop() {
            return key.to_owned();
        }
        up += 1;
    }
}

fn normalize_display(p: &Path) -> String {
    let n = normalize_path(p);
    let s = n.display().to_string();
    if s.is_empty() { ".".into() } else { s }
}

fn is_text_file(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    [".md", ".markdown", ".txt"]
        .iter()
        .any(|e| lower.ends_with(e))
}

pub(crate) fn load_error_diag(file: FileId, e: load::LoadError) -> Diagnostic {
    let mut d = Diagnostic::error(e.code, e.message).at(Location {
        file,
        pointer: String::new(),
        span: e.span,
    });
    if let Some((span, msg)) = e.related {
        d = d.with_related(
            Location {
                file,
                pointer: String::new(),
                span,
            },
            msg,
        );
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_join() {
        assert_eq!(
            join_url("https://a.b/x/y.yaml", "z.yaml"),
            "https://a.b/x/z.yaml"
        );
        assert_eq!(
            join_url("https://a.b/x/y.yaml", "../z.yaml"),
            "https://a.b/z.yaml"
        );
        assert_eq!(
            join_url("https://a.b/x/y.yaml", "/q/z.yaml"),
            "https://a.b/q/z.yaml"
        );
    }

    #[test]
    fn path_normalization() {
        assert_eq!(
            normalize_path(Path::new("/a/b/../c/./d")),
            PathBuf::from("/a/c/d")
        );
    }
}
