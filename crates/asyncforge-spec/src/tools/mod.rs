//! Document tools: `format` (YAML ↔ JSON), `bundle` (one self-contained file) and `convert`
//! (2.x → 3.x).

pub mod bundle;
pub mod convert;
pub mod emit;

use serde_json::Value;

use crate::version::Version;
use crate::workspace::Workspace;

/// Converts a loaded 2.x document to `target`; a multi-file document is bundled first so the
/// result is one self-contained 3.x document.
pub fn convert_workspace(
    ws: &Workspace,
    from: Version,
    target: Version,
) -> Result<Value, convert::ConvertError> {
    convert_workspace_with_notes(ws, from, target).map(|(v, _)| v)
}

/// Like [`convert_workspace`], also returning what the conversion had to change beyond the
/// official rules: protocol bindings that 2.x left unchecked but 3.x does not accept are
/// migrated (fields the binding's 3.x version no longer has are removed, `bindingVersion`s
/// unknown to 3.x dropped so the latest applies, unknown protocols kept as `x-` extensions,
/// references to single bindings inlined). Each change is one note.
pub fn convert_workspace_with_notes(
    ws: &Workspace,
    from: Version,
    target: Version,
) -> Result<(Value, Vec<String>), convert::ConvertError> {
    let bundled;
    let doc = if ws.len() > 1 {
        bundled = bundle::bundle(ws, from);
        &bundled
    } else {
        ws.root().map(|r| r.value).unwrap_or(&Value::Null)
    };
    let mut out = convert::convert(doc, from, target)?;
    let path = ws.file(ws.root_id()).source().path().to_path_buf();
    let notes = migrate_bindings(&mut out, &path);
    Ok((out, notes))
}

/// Repairs the bindings of a converted document until the 3.x checks accept them (bounded).
fn migrate_bindings(doc: &mut Value, path: &std::path::Path) -> Vec<String> {
    use crate::structure::codes;
    let mut notes = Vec::new();
    for _ in 0..6 {
        let text = emit::to_yaml(doc);
        let checked = crate::check::load_bytes(path, text.as_bytes(), &Default::default());
        let mut changed = false;
        let mut fallback: Vec<(String, String)> = Vec::new();
        let mut diags: Vec<&crate::Diagnostic> = checked
            .diagnostics
            .iter()
            .filter(|d| d.is_error() && d.code.starts_with("struct-"))
            .filter(|d| {
                d.location.as_ref().is_some_and(|l| {
                    l.file == checked.workspace.root_id() && l.pointer.contains("/bindings")
                })
            })
            .collect();
        // Deepest first, so removing a node never invalidates a pointer still to handle.
        diags
            .sort_by_key(|d| std::cmp::Reverse(d.location.as_ref().map_or(0, |l| l.pointer.len())));
        for d in diags {
            let Some(mut ptr) = d.location.as_ref().map(|l| l.pointer.clone()) else {
                continue;
            };
            if d.code == codes::REF_NOT_ALLOWED
                && let Some(p) = ptr.strip_suffix("/$ref")
            {
                ptr = p.to_owned();
            }
            let Some((parent_ptr, key)) = ptr.rsplit_once('/') else {
                continue;
            };
            let Some(key) = crate::pointer::unescape(key) else {
                continue;
            };
            let parent_is_bindings = parent_ptr.ends_with("/bindings");
            match d.code {
                codes::UNKNOWN_FIELD if parent_is_bindings && !key.starts_with("x-") => {
                    if let Some(Value::Object(m)) = doc.pointer_mut(parent_ptr)
                        && let Some(v) = m.remove(&key)
                    {
                        m.insert(format!("x-{key}"), v);
                        notes.push(format!("{parent_ptr}: `{key}` bindings are kept as `x-{key}` (3.x knows no `{key}` binding)"));
                        changed = true;
                    }
                }
                codes::UNKNOWN_FIELD => {
                    if let Some(Value::Object(m)) = doc.pointer_mut(parent_ptr)
                        && m.remove(&key).is_some()
                    {
                        notes.push(format!(
                            "{ptr}: removed; the 3.x version of this binding has no `{key}`"
                        ));
                        changed = true;
                    }
                }
                codes::ENUM if key == "bindingVersion" => {
                    if let Some(Value::Object(m)) = doc.pointer_mut(parent_ptr)
                        && let Some(v) = m.remove("bindingVersion")
                    {
                        notes.push(format!("{ptr}: `bindingVersion: {v}` is unknown to 3.x; the latest version applies"));
                        changed = true;
                    }
                }
                codes::REF_NOT_ALLOWED if parent_is_bindings => {
                    let target = doc
                        .pointer(&ptr)
                        .and_then(|v| v.get("$ref"))
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                    let value = target
                        .as_deref()
                        .and_then(|r| r.strip_prefix('#'))
                        .and_then(crate::pointer::from_fragment)
                        .and_then(|p| doc.pointer(&p).cloned());
                    let (Some(r), Some(value)) = (target, value) else {
                        continue;
                    };
                    // A reference to a whole Bindings Object written under one protocol: the
                    // Bindings Object itself may be a reference in 3.x.
                    let whole = value.get(&key).is_some();
                    let only_key = doc
                        .pointer(parent_ptr)
                        .and_then(Value::as_object)
                        .is_some_and(|m| m.len() == 1);
                    if whole && only_key {
                        if let Some(slot) = doc.pointer_mut(parent_ptr) {
                            *slot = serde_json::json!({ "$ref": r });
                            notes.push(format!("{parent_ptr}: `{key}: {{$ref: {r}}}` points at a whole Bindings Object; the bindings now reference it"));
                            changed = true;
                        }
                    } else if let Some(slot) = doc.pointer_mut(&ptr) {
                        *slot = if whole {
                            value.get(&key).cloned().unwrap_or(value)
                        } else {
                            value
                        };
                        notes.push(format!(
                            "{ptr}: a `$ref` is not allowed for a single binding in 3.x; inlined"
                        ));
                        changed = true;
                    }
                }
                _ => fallback.push((ptr.clone(), d.message.clone())),
            }
        }
        // Anything else wrong inside one protocol's binding, once the precise fixes are done:
        // keep it, unchecked, as an extension.
        if !changed {
            for (ptr, message) in fallback {
                {
                    let segs: Vec<&str> = ptr.split('/').collect();
                    let Some(i) = segs.iter().rposition(|s| *s == "bindings") else {
                        continue;
                    };
                    let Some(proto) = segs.get(i + 1).and_then(|p| crate::pointer::unescape(p))
                    else {
                        continue;
                    };
                    if proto.starts_with("x-") {
                        continue;
                    }
                    let bindings_ptr = segs[..=i].join("/");
                    if let Some(Value::Object(m)) = doc.pointer_mut(&bindings_ptr)
                        && let Some(v) = m.remove(&proto)
                    {
                        m.insert(format!("x-{proto}"), v);
                        notes.push(format!("{bindings_ptr}/{proto}: does not fit any 3.x version of the binding ({message}); kept as `x-{proto}`"));
                        changed = true;
                    }
                }
            }
        }
        if !changed {
            break;
        }
    }
    notes
}
