//! What the server knows: the open documents, the checked units and which files each unit
//! is made of.
//!
//! A *unit* is one checked workspace, keyed by the open file it starts from. An open file
//! whose text has a top-level `asyncapi` key is a *root*: it is loaded and validated exactly as
//! `asyncforge validate` does, `$ref`'d files included (open ones read from the editor's
//! buffers). An open file that is not a root and that no root references is a *fragment*: it is
//! only parsed (syntax and `$ref` problems). `users` maps every file to the units it is part of,
//! so an edit to a referenced file re-checks the roots that use it.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use asyncforge_spec::workspace::Fetch;
use asyncforge_spec::{Diagnostic, FileId, LoadOptions, Workspace};
use lsp_types::Uri;

/// A document the editor has open.
#[derive(Debug)]
pub struct OpenDoc {
    /// The URI the editor uses for it.
    pub uri: Uri,
    /// The editor's version of the text.
    pub version: i32,
    /// The current text.
    pub text: String,
}

/// How a unit was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitKind {
    /// A document with an `asyncapi` key: fully validated.
    Root,
    /// Any other open file no root references: parsed only.
    Fragment,
}

/// One checked workspace.
#[derive(Debug)]
pub struct Unit {
    /// Root or fragment.
    pub kind: UnitKind,
    /// The loaded files.
    pub workspace: Workspace,
    /// Every diagnostic, as `validate` reports them.
    pub diagnostics: Vec<Diagnostic>,
    /// The key of each file of the workspace, indexed by [`FileId::index`].
    pub keys: Vec<String>,
    /// When the root file of `workspace` does not parse (a half-typed edit): the workspace of
    /// the last check of this unit whose root parsed. `None` when `workspace` parsed.
    pub last_good: Option<Workspace>,
}

impl Unit {
    /// The id of the file with this key, when the unit has it.
    pub fn file_id(&self, key: &str) -> Option<FileId> {
        let i = self.keys.iter().position(|k| k == key)?;
        self.workspace.files().nth(i).map(|(id, _)| id)
    }

    /// The key of a file of the unit.
    pub fn key(&self, id: FileId) -> &str {
        self.keys.get(id.index()).map_or("", String::as_str)
    }

    /// The newest workspace of this unit whose root file parsed: this check's, or the one kept
    /// from before the text stopped parsing.
    pub fn good_workspace(&self) -> Option<&Workspace> {
        if self.workspace.root().is_some() {
            Some(&self.workspace)
        } else {
            self.last_good.as_ref()
        }
    }

    /// [`Unit::good_workspace`], by value.
    fn into_good_workspace(self) -> Option<Workspace> {
        if self.workspace.root().is_some() {
            Some(self.workspace)
        } else {
            self.last_good
        }
    }
}

/// The editor's unsaved buffers, read in place of the files on disk.
struct Buffers(HashMap<String, Arc<str>>);

impl Fetch for Buffers {
    fn fetch(&self, key: &str) -> Result<Vec<u8>, String> {
        if let Some(text) = self.0.get(key) {
            return Ok(text.as_bytes().to_vec());
        }
        std::fs::read(key).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => "file not found".to_owned(),
            _ => e.to_string(),
        })
    }
}

/// The server's knowledge of the workspace.
#[derive(Debug, Default)]
pub struct State {
    /// Open documents by key.
    pub open: HashMap<String, OpenDoc>,
    /// Checked units by the key of their first file.
    pub units: HashMap<String, Unit>,
    /// File key → keys of the units that contain it.
    pub users: HashMap<String, BTreeSet<String>>,
    /// Open files whose unit must be (re)built before the next answer.
    pub dirty: BTreeSet<String>,
}

/// Whether a text is an AsyncAPI document: it has a top-level `asyncapi` key.
pub fn is_root_text(text: &str) -> bool {
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('{') {
        // JSON: an `"asyncapi"` key at the first level of the top object.
        return json_top_level_has(trimmed, "asyncapi");
    }
    text.lines().any(|l| {
        let l = l.trim_end();
        ["asyncapi:", "\"asyncapi\":", "'asyncapi':"]
            .iter()
            .any(|k| l.starts_with(k))
    })
}

/// Scans JSON text for a key at depth one without parsing it (it may be half-typed).
fn json_top_level_has(text: &str, key: &str) -> bool {
    let mut depth = 0i32;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '{' | '[' => depth += 1,
            '}' | ']' => depth -= 1,
            '"' => {
                let start = i + 1;
                let mut end = start;
                while let Some((j, c)) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' => {
                            end = j;
                            break;
                        }
                        _ => {}
                    }
                }
                if depth == 1 && text.get(start..end) == Some(key) {
                    let rest = text.get(end + 1..).unwrap_or("").trim_start();
                    if rest.starts_with(':') {
                        return true;
                    }
                }
            }
            _ => {}
        }
    }
    false
}

impl State {
    /// Records that a file's content changed (in the editor or on disk): its own unit and every
    /// unit that uses it must be rebuilt.
    pub fn touch(&mut self, key: &str) {
        if self.open.contains_key(key) {
            self.dirty.insert(key.to_owned());
        }
        if let Some(users) = self.users.get(key) {
            self.dirty.extend(users.iter().cloned());
        }
        if self.units.contains_key(key) {
            self.dirty.insert(key.to_owned());
        }
    }

    /// Rebuilds every dirty unit. Returns the keys of the files whose diagnostics may have
    /// changed.
    pub fn flush(&mut self) -> BTreeSet<String> {
        let mut affected = BTreeSet::new();
        if self.dirty.is_empty() {
            return affected;
        }
        let dirty = std::mem::take(&mut self.dirty);
        let buffers: HashMap<String, Arc<str>> = self
            .open
            .iter()
            .map(|(k, d)| (k.clone(), Arc::from(d.text.as_str())))
            .collect();
        let options = LoadOptions {
            local: Some(Arc::new(Buffers(buffers))),
            ..LoadOptions::default()
        };
        // Roots first: whether a file is a fragment depends on which roots reference it.
        let mut rest = Vec::new();
        for key in dirty {
            match self.open.get(&key) {
                Some(doc) if is_root_text(&doc.text) => {
                    let unit = check(&key, &doc.text, UnitKind::Root, &options);
                    self.replace(&key, Some(unit), &mut affected);
                }
                Some(_) => rest.push(key),
                None => self.replace(&key, None, &mut affected),
            }
        }
        // Fragments: open non-root files that no root uses (any more), and fragments that a
        // root now covers.
        let mut keys: Vec<String> = self.open.keys().cloned().collect();
        keys.sort();
        for key in keys {
            let Some(doc) = self.open.get(&key) else {
                continue;
            };
            if is_root_text(&doc.text) {
                continue;
            }
            let used_by_root = self.users.get(&key).is_some_and(|u| {
                u.iter().any(|r| {
                    r != &key
                        && self
                            .units
                            .get(r)
                            .is_some_and(|unit| unit.kind == UnitKind::Root)
                })
            });
            let has_unit = self.units.contains_key(&key);
            if used_by_root {
                if has_unit {
                    self.replace(&key, None, &mut affected);
                }
            } else if !has_unit || rest.contains(&key) {
                let unit = check(&key, &doc.text, UnitKind::Fragment, &options);
                self.replace(&key, Some(unit), &mut affected);
            }
        }
        affected
    }

    /// Puts a unit in place of the one at `key` (or removes it), keeping `users` in step. A
    /// new unit whose root does not parse inherits the last workspace of the old one that did.
    fn replace(&mut self, key: &str, unit: Option<Unit>, affected: &mut BTreeSet<String>) {
        let mut old = self.units.remove(key);
        if let Some(old) = &old {
            for k in &old.keys {
                affected.insert(k.clone());
                if let Some(u) = self.users.get_mut(k) {
                    u.remove(key);
                    if u.is_empty() {
                        self.users.remove(k);
                    }
                }
            }
        }
        affected.insert(key.to_owned());
        if let Some(mut unit) = unit {
            if unit.workspace.root().is_none() {
                unit.last_good = old.take().and_then(Unit::into_good_workspace);
            }
            for k in &unit.keys {
                affected.insert(k.clone());
                self.users
                    .entry(k.clone())
                    .or_default()
                    .insert(key.to_owned());
            }
            self.units.insert(key.to_owned(), unit);
        }
        // Freeing a large document's tree takes milliseconds: beside the publishing, not
        // before it.
        if let Some(old) = old {
            std::thread::spawn(move || drop(old));
        }
    }

    /// The units that contain a file, roots first.
    pub fn units_of(&self, key: &str) -> Vec<&Unit> {
        let mut out: Vec<&Unit> = self
            .users
            .get(key)
            .into_iter()
            .flatten()
            .filter_map(|u| self.units.get(u))
            .collect();
        out.sort_by_key(|u| u.kind != UnitKind::Root);
        out
    }

    /// The URI to publish a file under: the editor's when it is open.
    pub fn uri(&self, key: &str) -> Option<Uri> {
        match self.open.get(key) {
            Some(d) => Some(d.uri.clone()),
            None => crate::convert::key_to_uri(key),
        }
    }
}

/// Loads and checks one unit. A panic inside the engine becomes a diagnostic: the server
/// keeps running.
fn check(key: &str, text: &str, kind: UnitKind, options: &LoadOptions) -> Unit {
    let path = Path::new(key);
    let run = || match kind {
        UnitKind::Root => {
            let c = asyncforge_spec::load_bytes(path, text.as_bytes(), options);
            (c.workspace, c.diagnostics)
        }
        UnitKind::Fragment => {
            let mut diags = Vec::new();
            let ws = Workspace::load_text(path, text.as_bytes(), options, &mut diags);
            // A fragment's own problems only: what it references is checked by its roots.
            diags.retain(|d| d.location.as_ref().is_some_and(|l| l.file == ws.root_id()));
            asyncforge_spec::diagnostic::normalize(&mut diags);
            (ws, diags)
        }
    };
    let (workspace, diagnostics) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
        .unwrap_or_else(|_| {
            let mut diags = Vec::new();
            let ws = Workspace::load_text(path, b"", &LoadOptions::default(), &mut diags);
            let d = Diagnostic::error(
                "internal-error",
                "asyncforge failed while checking this document; please report it with the text",
            );
            (ws, vec![d])
        });
    let keys = workspace
        .files()
        .map(|(id, f)| {
            if id == workspace.root_id() {
                key.to_owned()
            } else {
                f.key().to_owned()
            }
        })
        .collect();
    Unit {
        kind,
        workspace,
        diagnostics,
        keys,
        last_good: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set_text(state: &mut State, key: &str, text: &str) {
        let uri = crate::convert::key_to_uri(key).expect("uri");
        state.open.insert(
            key.to_owned(),
            OpenDoc {
                uri,
                version: 1,
                text: text.to_owned(),
            },
        );
        state.touch(key);
        state.flush();
    }

    fn has_message(ws: Option<&Workspace>, name: &str) -> bool {
        ws.and_then(|w| w.root())
            .and_then(|r| r.value.pointer(&format!("/components/messages/{name}")))
            .is_some()
    }

    #[test]
    fn the_last_workspace_that_parsed_is_kept_while_the_text_does_not_parse() {
        let key = "/nowhere/last-good.yaml";
        let good = "asyncapi: 3.0.0\ncomponents:\n  messages:\n    A: {}\n";
        let mut state = State::default();
        set_text(&mut state, key, good);
        let unit = state.units.get(key).expect("unit");
        assert!(unit.last_good.is_none(), "the workspace itself parsed");
        assert!(has_message(unit.good_workspace(), "A"));
        // Broken twice in a row: the last good workspace survives both checks.
        for broken in ["asyncapi: 3.0.0\nx: '\n", "asyncapi: 3.0.0\nx: [\n"] {
            set_text(&mut state, key, broken);
            let unit = state.units.get(key).expect("unit");
            assert!(unit.workspace.root().is_none(), "{broken:?} does not parse");
            assert!(has_message(unit.good_workspace(), "A"));
        }
        // Parsed again: the new workspace replaces it.
        set_text(&mut state, key, &good.replace("A: {}", "B: {}"));
        let unit = state.units.get(key).expect("unit");
        assert!(unit.last_good.is_none());
        assert!(has_message(unit.good_workspace(), "B"));
    }

    #[test]
    fn roots_are_recognized() {
        assert!(is_root_text("asyncapi: 3.0.0\ninfo: {}\n"));
        assert!(is_root_text("# c\n\"asyncapi\": '2.6.0'\n"));
        assert!(is_root_text(
            "{\"info\": {\"asyncapi\": 1}, \"asyncapi\": \"3.0.0\"}"
        ));
        assert!(!is_root_text("{\"info\": {\"asyncapi\": \"3.0.0\"}}"));
        assert!(!is_root_text("UserSignedUp:\n  payload: {}\n"));
        assert!(!is_root_text("info:\n  asyncapi: 1\n"));
        assert!(!is_root_text(""));
    }
}
