//! `textDocument/definition` and `textDocument/references` over `$ref`s, and finding the
//! node under the cursor, which rename shares.

use std::collections::HashSet;

use asyncforge_spec::pointer;
use asyncforge_spec::workspace::Target;
use asyncforge_spec::{FileId, Pos, Span, Workspace};
use lsp_types::{
    GotoDefinitionParams, GotoDefinitionResponse, Location, Position, ReferenceParams,
};
use serde_json::Value;

use crate::convert;
use crate::state::{State, Unit};
use crate::{Failure, Server};

/// What the cursor is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// JSON pointer of the node.
    pub pointer: String,
    /// Whether the cursor is on the node's key (else on its value).
    pub on_key: bool,
}

fn contains(span: Span, pos: Pos) -> bool {
    span.start <= pos && pos <= span.end && span.start != span.end
}

/// The innermost node written at `pos` in a file.
pub fn node_at(ws: &Workspace, file: FileId, pos: Pos) -> Option<Hit> {
    let mut value = ws.get(file, "")?;
    let mut ptr = String::new();
    let mut span = ws.location(file, "").span;
    loop {
        let children: Vec<(String, &Value)> = match value {
            Value::Object(m) => m.iter().map(|(k, v)| (pointer::join(&ptr, k), v)).collect(),
            Value::Array(a) => a
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("{ptr}/{i}"), v))
                .collect(),
            _ => {
                return Some(Hit {
                    pointer: ptr,
                    on_key: false,
                });
            }
        };
        let mut next = None;
        for (child, v) in children {
            let key = ws.key_location(file, &child).span;
            let val = ws.location(file, &child).span;
            // A node made by a YAML alias has no span of its own (it reports its parent's).
            if val == span && key == span {
                continue;
            }
            if key != val && contains(key, pos) && matches!(value, Value::Object(_)) {
                return Some(Hit {
                    pointer: child,
                    on_key: true,
                });
            }
            if contains(val, pos) {
                next = Some((child, v, val));
                break;
            }
        }
        match next {
            Some((child, v, val)) => {
                ptr = child;
                value = v;
                span = val;
            }
            None => {
                return (!ptr.is_empty()).then_some(Hit {
                    pointer: ptr,
                    on_key: false,
                });
            }
        }
    }
}

/// The unit, file id and engine position of a request's document and position.
pub fn locate<'s>(
    state: &'s State,
    uri: &lsp_types::Uri,
    position: Position,
) -> Option<(&'s Unit, FileId, Pos)> {
    let key = convert::uri_to_key(uri);
    let unit = state.units_of(&key).into_iter().next()?;
    let id = unit.file_id(&key)?;
    let pos = convert::pos(unit.workspace.file(id).source(), position);
    Some((unit, id, pos))
}

/// An LSP location of a node of a unit (its key when it has one).
pub fn key_location(state: &State, unit: &Unit, file: FileId, ptr: &str) -> Option<Location> {
    let l = unit.workspace.key_location(file, ptr);
    let range = if ptr.is_empty() {
        lsp_types::Range::default()
    } else {
        convert::range(unit.workspace.file(file).source(), l.span)
    };
    Some(Location {
        uri: state.uri(unit.key(file))?,
        range,
    })
}

/// The location of the `$ref` string of the object at `ptr`.
pub fn ref_location(state: &State, unit: &Unit, file: FileId, ptr: &str) -> Option<Location> {
    let l = unit.workspace.location(file, &pointer::join(ptr, "$ref"));
    Some(Location {
        uri: state.uri(unit.key(file))?,
        range: convert::range(unit.workspace.file(file).source(), l.span),
    })
}

/// The object holding a `$ref` when the hit is on the `$ref`'s value or key.
pub fn ref_object(hit: &Hit) -> Option<&str> {
    let parent = pointer::parent(&hit.pointer)?;
    (pointer::last(&hit.pointer).as_deref() == Some("$ref")).then_some(parent)
}

/// Where the `$ref` of the object at (`file`, `ptr`) points (one step, not following chains).
pub fn ref_target(ws: &Workspace, file: FileId, ptr: &str) -> Option<Target> {
    let reference = ws.get(file, ptr)?.get("$ref")?.as_str()?;
    ws.resolve_one(file, reference).ok()
}

/// `textDocument/definition`.
pub fn definition(
    server: &Server,
    params: GotoDefinitionParams,
) -> Result<Option<GotoDefinitionResponse>, Failure> {
    let p = params.text_document_position_params;
    let state = &server.state;
    let Some((unit, file, pos)) = locate(state, &p.text_document.uri, p.position) else {
        return Ok(None);
    };
    let Some(hit) = node_at(&unit.workspace, file, pos) else {
        return Ok(None);
    };
    let Some(obj) = ref_object(&hit) else {
        return Ok(None);
    };
    let Some(target) = ref_target(&unit.workspace, file, obj) else {
        return Ok(None);
    };
    Ok(key_location(state, unit, target.file, &target.pointer).map(GotoDefinitionResponse::Scalar))
}

/// The node a references or rename request is about: the key under the cursor, or the target
/// of the `$ref` under it. Returns the file key and pointer.
pub fn subject(
    state: &State,
    uri: &lsp_types::Uri,
    position: Position,
) -> Option<(String, String)> {
    let (unit, file, pos) = locate(state, uri, position)?;
    let hit = node_at(&unit.workspace, file, pos)?;
    if let Some(obj) = ref_object(&hit) {
        let t = ref_target(&unit.workspace, file, obj)?;
        return Some((unit.key(t.file).to_owned(), t.pointer));
    }
    hit.on_key.then(|| (unit.key(file).to_owned(), hit.pointer))
}

/// Every `$ref` (in every unit that has the file `key`) whose target is (`key`, `ptr`) or, with
/// `below`, a node under it. Returns (unit, file of the `$ref`, pointer of its object, target
/// pointer), without duplicates.
pub fn referrers<'s>(
    state: &'s State,
    key: &str,
    ptr: &str,
    below: bool,
) -> Vec<(&'s Unit, FileId, String, String)> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for unit in state.units_of(key) {
        let ws = &unit.workspace;
        for site in ws.refs() {
            let Ok(t) = ws.resolve_one(site.file, &site.reference) else {
                continue;
            };
            if unit.key(t.file) != key {
                continue;
            }
            let hit = t.pointer == ptr
                || (below
                    && t.pointer
                        .strip_prefix(ptr)
                        .is_some_and(|rest| rest.starts_with('/')));
            if hit && seen.insert((unit.key(site.file).to_owned(), site.pointer.clone())) {
                out.push((unit, site.file, site.pointer.clone(), t.pointer));
            }
        }
    }
    out
}

/// `textDocument/references`.
pub fn references(
    server: &Server,
    params: ReferenceParams,
) -> Result<Option<Vec<Location>>, Failure> {
    let state = &server.state;
    let p = params.text_document_position;
    let Some((key, ptr)) = subject(state, &p.text_document.uri, p.position) else {
        return Ok(None);
    };
    let mut out = Vec::new();
    if params.context.include_declaration
        && let Some(unit) = state.units_of(&key).into_iter().next()
        && let Some(id) = unit.file_id(&key)
        && let Some(l) = key_location(state, unit, id, &ptr)
    {
        out.push(l);
    }
    for (unit, file, obj, _) in referrers(state, &key, &ptr, false) {
        if let Some(l) = ref_location(state, unit, file, &obj) {
            out.push(l);
        }
    }
    Ok(Some(out))
}
