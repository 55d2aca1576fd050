//! `textDocument/prepareRename` and `textDocument/rename` of a component key: the key and every
//! `$ref` to it or to a node under it, in every file of every document that uses it.

use std::collections::{HashMap, HashSet};

use asyncforge_spec::{FileId, SourceFile, Span, pointer, workspace};
use lsp_types::{
    PrepareRenameResponse, RenameParams, TextDocumentPositionParams, TextEdit, Uri, WorkspaceEdit,
};
use serde_json::Value;

use crate::convert;
use crate::features::navigation::{self, ref_object};
use crate::state::{State, Unit};
use crate::{Failure, Server};

const NOT_RENAMABLE: &str = "only a component's name can be renamed here: put the cursor on a key \
     under `components` (such as `components.messages.UserSignedUp`), on a top-level key of a \
     referenced file, or on a `$ref` to one";

/// Whether the node at (`key`, `ptr`) is something rename handles: a component
/// (`/components/<section>/<name>`), or a top-level entry of a file without `asyncapi` that some
/// `$ref` points at.
fn renamable(state: &State, key: &str, ptr: &str) -> bool {
    let Some(segs) = pointer::parse(ptr) else {
        return false;
    };
    match segs.as_slice() {
        [c, _, _] if c == "components" => true,
        [_] => {
            let Some(unit) = state.units_of(key).into_iter().next() else {
                return false;
            };
            let is_document = unit
                .file_id(key)
                .and_then(|id| unit.workspace.get(id, ""))
                .is_some_and(|v| v.get("asyncapi").is_some());
            !is_document && !navigation::referrers(state, key, ptr, true).is_empty()
        }
        _ => false,
    }
}

/// The text of a one-line span.
fn span_text(source: &SourceFile, span: Span) -> Option<String> {
    if span.start.line != span.end.line {
        return None;
    }
    let line = source.line(span.start.line)?;
    let from = span.start.col.checked_sub(1)? as usize;
    let len = span.end.col.checked_sub(span.start.col)? as usize;
    Some(line.chars().skip(from).take(len).collect())
}

/// `new` written as a scalar in the style of `old` (double-quoted, single-quoted or plain).
fn scalar_like(old: &str, new: &str, json: bool) -> String {
    if json || old.starts_with('"') {
        return serde_json::to_string(new).unwrap_or_else(|_| format!("\"{new}\""));
    }
    let plain_ok = !new.is_empty()
        && !new.starts_with([
            '#', '&', '*', '!', '|', '>', '%', '@', '`', '-', '?', ':', '\'', '"',
        ])
        && !new.contains(": ")
        && !new.contains(" #")
        && new.chars().any(|c| c.is_ascii_alphabetic())
        && !matches!(
            new.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n"
        );
    if old.starts_with('\'') || !plain_ok {
        format!("'{}'", new.replace('\'', "''"))
    } else {
        new.to_owned()
    }
}

/// The reference text `reference` with the pointer segment at `index` (0-based, after the
/// file part) renamed to `name`.
fn renamed_reference(reference: &str, index: usize, name: &str) -> Option<String> {
    let (file_part, fragment) = workspace::split_ref(reference);
    let decoded = pointer::from_fragment(fragment)?;
    let mut segs = pointer::parse(&decoded)?;
    let raw: Vec<&str> = fragment.split('/').skip(1).collect();
    let new_fragment = if raw.len() == segs.len() {
        // Keep the author's spelling (escapes, percent-encoding) of every other segment.
        let mut parts: Vec<String> = raw.iter().map(|s| (*s).to_owned()).collect();
        *parts.get_mut(index)? = pointer::escape(name);
        format!("/{}", parts.join("/"))
    } else {
        *segs.get_mut(index)? = name.to_owned();
        segs.iter()
            .map(|s| format!("/{}", pointer::escape(s)))
            .collect::<String>()
    };
    Some(format!("{file_part}#{new_fragment}"))
}

fn is_json(key: &str) -> bool {
    key.to_ascii_lowercase().ends_with(".json")
}

/// `textDocument/prepareRename`.
pub fn prepare(
    server: &Server,
    params: TextDocumentPositionParams,
) -> Result<Option<PrepareRenameResponse>, Failure> {
    let state = &server.state;
    let refuse = || Failure::request_failed(NOT_RENAMABLE);
    let (unit, file, pos) =
        navigation::locate(state, &params.text_document.uri, params.position).ok_or_else(refuse)?;
    let hit = navigation::node_at(&unit.workspace, file, pos).ok_or_else(refuse)?;
    let (key, ptr) = navigation::subject(state, &params.text_document.uri, params.position)
        .ok_or_else(refuse)?;
    if !renamable(state, &key, &ptr) {
        return Err(refuse());
    }
    let name = pointer::last(&ptr).unwrap_or_default();
    let source = unit.workspace.file(file).source();
    let span = if ref_object(&hit).is_some() {
        unit.workspace.location(file, &hit.pointer).span
    } else {
        unit.workspace.key_location(file, &hit.pointer).span
    };
    Ok(Some(PrepareRenameResponse::RangeWithPlaceholder {
        range: convert::range(source, span),
        placeholder: name,
    }))
}

/// Whether `name` can be a component key (`^[a-zA-Z0-9.\-_]+$`, as AsyncAPI requires).
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

struct Edits<'s> {
    state: &'s State,
    by_uri: HashMap<Uri, Vec<TextEdit>>,
    seen: HashSet<(String, u32, u32, u32, u32)>,
}

impl Edits<'_> {
    fn add(&mut self, unit: &Unit, file: FileId, span: Span, text: String) {
        let key = unit.key(file);
        let Some(uri) = self.state.uri(key) else {
            return;
        };
        let range = convert::range(unit.workspace.file(file).source(), span);
        let id = (
            key.to_owned(),
            range.start.line,
            range.start.character,
            range.end.line,
            range.end.character,
        );
        if self.seen.insert(id) {
            self.by_uri.entry(uri).or_default().push(TextEdit {
                range,
                new_text: text,
            });
        }
    }
}

/// `textDocument/rename`.
pub fn rename(server: &Server, params: RenameParams) -> Result<Option<WorkspaceEdit>, Failure> {
    let state = &server.state;
    let p = params.text_document_position;
    let (key, ptr) = navigation::subject(state, &p.text_document.uri, p.position)
        .ok_or_else(|| Failure::request_failed(NOT_RENAMABLE))?;
    if !renamable(state, &key, &ptr) {
        return Err(Failure::request_failed(NOT_RENAMABLE));
    }
    let new = params.new_name;
    if !valid_name(&new) {
        return Err(Failure::request_failed(format!(
            "`{new}` is not a valid component name: use letters, digits, `.`, `-` and `_` only"
        )));
    }
    let old = pointer::last(&ptr).unwrap_or_default();
    if old == new {
        return Ok(Some(WorkspaceEdit::default()));
    }
    let parent = pointer::parent(&ptr).unwrap_or("");
    let depth = pointer::parse(&ptr).map_or(0, |s| s.len());
    let Some(unit) = state.units_of(&key).into_iter().next() else {
        return Ok(None);
    };
    let Some(file) = unit.file_id(&key) else {
        return Ok(None);
    };
    if let Some(Value::Object(siblings)) = unit.workspace.get(file, parent)
        && siblings.contains_key(&new)
    {
        return Err(Failure::request_failed(format!(
            "`{new}` already exists next to `{old}`"
        )));
    }
    let mut edits = Edits {
        state,
        by_uri: HashMap::new(),
        seen: HashSet::new(),
    };
    // The key itself.
    let key_span = unit.workspace.key_location(file, &ptr).span;
    let source = unit.workspace.file(file).source();
    let old_text = span_text(source, key_span).unwrap_or_default();
    edits.add(
        unit,
        file,
        key_span,
        scalar_like(&old_text, &new, is_json(&key)),
    );
    // Every `$ref` to it or below it.
    for (u, f, obj, _) in navigation::referrers(state, &key, &ptr, true) {
        let Some(reference) = u
            .workspace
            .get(f, &obj)
            .and_then(|v| v.get("$ref"))
            .and_then(Value::as_str)
        else {
            continue;
        };
        let Some(new_ref) = renamed_reference(reference, depth - 1, &new) else {
            continue;
        };
        let span = u.workspace.location(f, &pointer::join(&obj, "$ref")).span;
        let old_text = span_text(u.workspace.file(f).source(), span).unwrap_or_default();
        edits.add(
            u,
            f,
            span,
            scalar_like(&old_text, &new_ref, is_json(u.key(f))),
        );
    }
    Ok(Some(WorkspaceEdit {
        changes: Some(edits.by_uri),
        document_changes: None,
        change_annotations: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_keep_their_spelling() {
        assert_eq!(
            renamed_reference("#/components/messages/Foo", 2, "Bar").as_deref(),
            Some("#/components/messages/Bar")
        );
        assert_eq!(
            renamed_reference(
                "common.yaml#/components/schemas/Foo/properties/a~1b",
                2,
                "Bar"
            )
            .as_deref(),
            Some("common.yaml#/components/schemas/Bar/properties/a~1b")
        );
        assert_eq!(
            renamed_reference("#/components/schemas/Fo%6F/properties/x%20y", 2, "Bar").as_deref(),
            Some("#/components/schemas/Bar/properties/x%20y")
        );
    }

    #[test]
    fn scalars_keep_their_style() {
        assert_eq!(scalar_like("'#/a/Foo'", "#/a/Bar", false), "'#/a/Bar'");
        assert_eq!(scalar_like("\"#/a/Foo\"", "#/a/Bar", false), "\"#/a/Bar\"");
        assert_eq!(scalar_like("Foo", "Bar", false), "Bar");
        assert_eq!(scalar_like("Foo", "true", false), "'true'");
        assert_eq!(scalar_like("Foo", "x.yaml#/Bar", false), "x.yaml#/Bar");
        assert_eq!(scalar_like("\"Foo\"", "Bar", true), "\"Bar\"");
    }
}
