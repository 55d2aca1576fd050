//! Code actions: mechanical fixes for diagnostics whose fix leaves no choice to the user (or
//! a small, listed one).
//!
//! Every fix is a set of [`Edit`]s computed from the loaded workspace: the spans the loader
//! recorded say where a mapping starts and ends and how it is indented, so insertions keep the
//! surrounding style (block YAML, flow YAML, JSON).

use serde_json::{Map, Value};

use super::context::{Syntax, syntax_of};
use super::keys::{self, Node};
use super::{Edit, Fix};
use crate::diagnostic::Diagnostic;
use crate::pointer;
use crate::source::{FileId, Pos, Span};
use crate::structure::{Shape, codes};
use crate::version::Version;
use crate::workspace::{Workspace, split_ref};

/// Fixes for one diagnostic of a document loaded into `ws`. Empty when the diagnostic has no
/// mechanical fix.
///
/// Handled codes: `struct-required` (placeholder for a missing string, object or list field),
/// `struct-enum` (replace with an allowed value), `struct-unknown-field` (rename to the close
/// match, or remove), `ref-unresolved` (the one close match of a misspelt name),
/// `asyncapi2-channel-parameters` and `asyncapi3-channel-parameters` (declare a missing
/// parameter, remove an unused one), `asyncapi2-server-variables` and
/// `asyncapi3-server-variables` (declare a missing variable, remove an unused one),
/// `asyncapi2-operation-operationId` and `asyncapi2-message-messageId` (add a unique id),
/// `asyncapi-server-no-trailing-slash` and `asyncapi-channel-no-trailing-slash`,
/// `asyncapi-defaultContentType`, `version-unsupported` (a version without patch, or a number),
/// `asyncapi2-channel-servers`, `asyncapi2-server-security` and `asyncapi2-operation-security`
/// (the suggested name), `asyncapi3-operation-messages-from-referred-channel` and
/// `asyncapi3-reply-messages-from-referred-channel` (reference the message through the channel,
/// adding it to the channel when it is not there).
pub fn code_actions(ws: &Workspace, diagnostic: &Diagnostic) -> Vec<Fix> {
    let Some(loc) = &diagnostic.location else {
        return Vec::new();
    };
    if loc.file.index() >= ws.len() || ws.file(loc.file).value().is_none() {
        return Vec::new();
    }
    let cx = Cx {
        ws,
        file: loc.file,
        version: document_version(ws),
        json: syntax_of(ws.file(loc.file).source().text()) == Syntax::Json,
    };
    let ptr = loc.pointer.as_str();
    let msg = diagnostic.message.as_str();
    let fixes = match diagnostic.code {
        codes::REQUIRED => cx.missing_field(ptr, msg),
        codes::ENUM => cx.enum_value(loc.span, msg, diagnostic.help.as_deref()),
        codes::UNKNOWN_FIELD => cx.unknown_field(ptr, loc.span, msg, diagnostic.help.as_deref()),
        "ref-unresolved" => cx.misspelt_ref(ptr),
        "asyncapi2-channel-parameters" | "asyncapi3-channel-parameters" => {
            cx.channel_parameters(ptr, msg)
        }
        "asyncapi2-server-variables" | "asyncapi3-server-variables" => {
            cx.server_variables(ptr, msg)
        }
        "asyncapi2-channel-servers"
        | "asyncapi2-server-security"
        | "asyncapi2-operation-security" => cx.did_you_mean(loc.span, diagnostic.help.as_deref()),
        "asyncapi3-operation-messages-from-referred-channel"
        | "asyncapi3-reply-messages-from-referred-channel" => cx.message_through_channel(ptr),
        "asyncapi2-operation-operationId" => cx.add_id(ptr, "operationId"),
        "asyncapi2-message-messageId" => cx.add_id(ptr, "messageId"),
        "asyncapi-server-no-trailing-slash" | "asyncapi-channel-no-trailing-slash" => {
            cx.trailing_slash(loc.span)
        }
        "asyncapi-defaultContentType" => cx
            .insert(
                "",
                "defaultContentType",
                &Value::String("application/json".into()),
            )
            .map(|e| Fix {
                title: "Set `defaultContentType: application/json`".into(),
                edits: vec![e],
            })
            .into_iter()
            .collect(),
        "version-unsupported" if ptr == "/asyncapi" => cx.version_value(loc.span),
        _ => Vec::new(),
    };
    fixes.into_iter().filter(|f| !f.edits.is_empty()).collect()
}

fn document_version(ws: &Workspace) -> Option<Version> {
    ws.root()?
        .value
        .get("asyncapi")?
        .as_str()
        .and_then(Version::parse)
}

/// The names written in backticks in `s`.
fn backticked(s: &str) -> Vec<&str> {
    s.split('`').skip(1).step_by(2).collect()
}

struct Cx<'a> {
    ws: &'a Workspace,
    file: FileId,
    version: Option<Version>,
    json: bool,
}

impl Cx<'_> {
    fn line(&self, line: u32) -> &str {
        self.ws.file(self.file).source().line(line).unwrap_or("")
    }

    /// The characters of a span on one line.
    fn span_text(&self, span: Span) -> Option<String> {
        if span.start.line != span.end.line {
            return None;
        }
        let s = span.start.col.checked_sub(1)? as usize;
        let e = span.end.col.checked_sub(1)? as usize;
        Some(
            self.line(span.start.line)
                .chars()
                .skip(s)
                .take(e.saturating_sub(s))
                .collect(),
        )
    }

    fn char_at(&self, pos: Pos) -> Option<char> {
        self.line(pos.line)
            .chars()
            .nth(pos.col.checked_sub(1)? as usize)
    }

    fn edit(&self, span: Span, new_text: impl Into<String>) -> Edit {
        Edit {
            file: self.file,
            span,
            new_text: new_text.into(),
        }
    }

    /// A scalar written the way the file writes scalars; `like` is the text it replaces, whose
    /// quotes are kept.
    fn scalar(&self, s: &str, like: Option<&str>) -> String {
        if self.json {
            return Value::String(s.to_owned()).to_string();
        }
        match like.and_then(|l| l.chars().next()) {
            Some('"') => Value::String(s.to_owned()).to_string(),
            Some('\'') => format!("'{}'", s.replace('\'', "''")),
            _ => yaml_scalar(&Value::String(s.to_owned())),
        }
    }

    /// Inserts `key: value` into the mapping at `ptr`.
    fn insert(&self, ptr: &str, key: &str, value: &Value) -> Option<Edit> {
        self.insert_many(ptr, &[(key.to_owned(), value.clone())])
    }

    /// Inserts entries into the mapping at `ptr`, in one edit: in block YAML after its last
    /// entry at its indentation; in multi-line JSON after its last member on a line of its own;
    /// in flow YAML and one-line JSON before the closing brace.
    fn insert_many(&self, ptr: &str, entries: &[(String, Value)]) -> Option<Edit> {
        let map = self.ws.get(self.file, ptr)?.as_object()?;
        let span = self.ws.location(self.file, ptr).span;
        let flow = self.char_at(span.start) == Some('{');
        let inline = |k: &str, v: &Value| {
            if self.json {
                format!("{}: {}", Value::String(k.to_owned()), v)
            } else {
                format!("{}: {}", yaml_key(k), flow_yaml(v))
            }
        };
        if self.json
            && span.start.line != span.end.line
            && let Some((last, _)) = map.iter().next_back()
        {
            let last_ptr = pointer::join(ptr, last);
            let key = self.ws.key_location(self.file, &last_ptr).span;
            let end = self.ws.location(self.file, &last_ptr).span.end;
            let pad = " ".repeat(key.start.col.saturating_sub(1) as usize);
            let text: String = entries
                .iter()
                .map(|(k, v)| format!(",\n{pad}{}", inline(k, v)))
                .collect();
            return Some(self.edit(Span::new(end, end), text));
        }
        if flow || self.json {
            // Before the closing brace.
            let close = Pos::new(span.end.line, span.end.col.checked_sub(1)?);
            if self.char_at(close) != Some('}') {
                return None;
            }
            let mut text = String::new();
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 || !map.is_empty() {
                    text.push_str(", ");
                }
                text.push_str(&inline(k, v));
            }
            return Some(self.edit(Span::new(close, close), text));
        }
        if map.is_empty() {
            return None;
        }
        let indent = span.start.col.checked_sub(1)? as usize;
        let block: String = entries
            .iter()
            .map(|(k, v)| yaml_block(k, v, indent))
            .collect();
        let end = span.end;
        let before_end: String = self
            .line(end.line)
            .chars()
            .take(end.col.saturating_sub(1) as usize)
            .collect();
        if before_end.trim().is_empty()
            && (end.line as usize) <= self.ws.file(self.file).source().line_count()
        {
            let at = Pos::new(end.line, 1);
            return Some(self.edit(Span::new(at, at), block));
        }
        // The mapping ends where the text ends, without a final line break.
        let text = format!("\n{}", block.trim_end_matches('\n'));
        Some(self.edit(Span::new(end, end), text))
    }

    /// Removes the entry at `ptr`. Block YAML: its key line through its value's last line (when
    /// it is the only entry of its mapping, the mapping's own entry goes instead, so no empty
    /// key is left behind); JSON: the member and one separating comma. Not in flow YAML.
    fn remove(&self, ptr: &str) -> Option<Edit> {
        if self.json {
            return self.remove_json(ptr);
        }
        let parent = pointer::parent(ptr)?;
        let siblings = self.ws.get(self.file, parent)?.as_object()?.len();
        if siblings == 1 && !parent.is_empty() {
            return self.remove(parent);
        }
        let key = self.ws.key_location(self.file, ptr).span;
        let value = self.ws.location(self.file, ptr).span;
        let lead: String = self
            .line(key.start.line)
            .chars()
            .take(key.start.col.saturating_sub(1) as usize)
            .collect();
        if !lead.trim().is_empty()
            || self.char_at(self.ws.location(self.file, parent).span.start) == Some('{')
        {
            return None;
        }
        let tail: String = self
            .line(value.end.line)
            .chars()
            .skip(value.end.col.saturating_sub(1) as usize)
            .collect();
        let before_end: String = self
            .line(value.end.line)
            .chars()
            .take(value.end.col.saturating_sub(1) as usize)
            .collect();
        let end = if value.end.line > key.start.line && before_end.trim().is_empty() {
            Pos::new(value.end.line, 1)
        } else if tail.trim().is_empty() || tail.trim_start().starts_with('#') {
            Pos::new(value.end.line + 1, 1)
        } else {
            // Another entry starts on the same line.
            return None;
        };
        Some(self.edit(Span::new(Pos::new(key.start.line, 1), end), ""))
    }

    /// Removes a JSON member with the comma that separates it from a neighbour.
    fn remove_json(&self, ptr: &str) -> Option<Edit> {
        let parent = pointer::parent(ptr)?;
        let map = self.ws.get(self.file, parent)?.as_object()?;
        let name = pointer::last(ptr)?;
        let i = map.keys().position(|k| *k == name)?;
        let member = |k: &String| {
            let p = pointer::join(parent, k);
            (
                self.ws.key_location(self.file, &p).span.start,
                self.ws.location(self.file, &p).span.end,
            )
        };
        let (start, end) = member(map.keys().nth(i)?);
        let span = if i > 0 {
            // From the end of the previous member: `, "name": value`.
            let (_, prev_end) = member(map.keys().nth(i - 1)?);
            Span::new(prev_end, end)
        } else if let Some(next) = map.keys().nth(1) {
            // The first member: up to the next one's key.
            Span::new(start, member(next).0)
        } else {
            Span::new(start, end)
        };
        Some(self.edit(span, ""))
    }

    fn missing_field(&self, ptr: &str, msg: &str) -> Vec<Fix> {
        let Some(field) = msg
            .split("missing required field `")
            .nth(1)
            .and_then(|r| r.split('`').next())
        else {
            return Vec::new();
        };
        let Some(v) = self.version else {
            return Vec::new();
        };
        if self.file != self.ws.root_id() {
            return Vec::new();
        }
        let path = pointer::parse(ptr).unwrap_or_default();
        let place = keys::resolve(v, &path, &|_| None);
        // A dispatching field (a security scheme's `type`) is the user's choice.
        if matches!(&place.node, Node::Objs(o) if o.len() != 1) {
            return Vec::new();
        }
        let Some(info) = keys::keys_of(v, &place.node)
            .into_iter()
            .find(|k| k.name == field)
        else {
            return Vec::new();
        };
        let Some(value) = placeholder(v, field, info.shape, 0) else {
            return Vec::new();
        };
        self.insert(ptr, field, &value)
            .map(|e| Fix {
                title: format!("Add `{field}`"),
                edits: vec![e],
            })
            .into_iter()
            .collect()
    }

    fn enum_value(&self, span: Span, msg: &str, help: Option<&str>) -> Vec<Fix> {
        let Some((allowed, _)) = msg.split_once("; found") else {
            return Vec::new();
        };
        let Some(allowed) = allowed.split(" must be one of ").nth(1) else {
            return Vec::new();
        };
        let mut values: Vec<&str> = backticked(allowed);
        if values.is_empty() || values.len() > 8 {
            return Vec::new();
        }
        if let Some(h) = help.and_then(|h| backticked(h).first().copied())
            && let Some(i) = values.iter().position(|v| *v == h)
        {
            values.remove(i);
            values.insert(0, h);
        }
        let old = self.span_text(span);
        values
            .into_iter()
            .map(|v| Fix {
                title: format!("Replace with `{v}`"),
                edits: vec![self.edit(span, self.scalar(v, old.as_deref()))],
            })
            .collect()
    }

    fn unknown_field(&self, ptr: &str, span: Span, msg: &str, help: Option<&str>) -> Vec<Fix> {
        let mut out = Vec::new();
        let Some(k) = backticked(msg).first().copied() else {
            return out;
        };
        if let Some(h) = help
            && h.starts_with("did you mean")
            && let Some(name) = backticked(h).first().copied()
        {
            let siblings = pointer::parent(ptr)
                .and_then(|p| self.ws.get(self.file, p))
                .and_then(Value::as_object);
            if !siblings.is_some_and(|s| s.contains_key(name)) {
                let old = self.span_text(span);
                let new = if self.json {
                    Value::String(name.to_owned()).to_string()
                } else {
                    match old.as_deref().and_then(|o| o.chars().next()) {
                        Some('"') | Some('\'') => self.scalar(name, old.as_deref()),
                        _ => yaml_key(name),
                    }
                };
                out.push(Fix {
                    title: format!("Rename `{k}` to `{name}`"),
                    edits: vec![self.edit(span, new)],
                });
            }
        }
        if let Some(e) = self.remove(ptr) {
            out.push(Fix {
                title: format!("Remove `{k}`"),
                edits: vec![e],
            });
        }
        out
    }

    fn misspelt_ref(&self, ptr: &str) -> Vec<Fix> {
        let Some(obj) = ptr.strip_suffix("/$ref") else {
            return Vec::new();
        };
        let Some(reference) = self
            .ws
            .get(self.file, obj)
            .and_then(|o| o.get("$ref"))
            .and_then(Value::as_str)
        else {
            return Vec::new();
        };
        let (file_part, fragment) = split_ref(reference);
        let target_file = if file_part.is_empty() {
            self.file
        } else {
            match self.ws.resolve_one(self.file, &format!("{file_part}#")) {
                Ok(t) => t.file,
                Err(_) => return Vec::new(),
            }
        };
        let Some(segs) = pointer::from_fragment(fragment).and_then(|p| pointer::parse(&p)) else {
            return Vec::new();
        };
        let Some(mut node) = self.ws.get(target_file, "") else {
            return Vec::new();
        };
        let mut fixed = Vec::with_capacity(segs.len());
        let mut changed = false;
        for seg in &segs {
            let Some(map) = node.as_object() else {
                return Vec::new();
            };
            let name = if map.contains_key(seg) {
                seg.clone()
            } else {
                match unique_close(seg, map) {
                    Some(n) => {
                        changed = true;
                        n
                    }
                    None => return Vec::new(),
                }
            };
            node = match map.get(&name) {
                Some(n) => n,
                None => return Vec::new(),
            };
            fixed.push(name);
        }
        if !changed {
            return Vec::new();
        }
        let mut new_ptr = String::new();
        for s in &fixed {
            new_ptr = pointer::join(&new_ptr, s);
        }
        let new_ref = format!("{file_part}#{new_ptr}");
        let span = self.ws.location(self.file, ptr).span;
        let old = self.span_text(span);
        let quoted_like = old
            .as_deref()
            .filter(|o| o.starts_with(['"', '\'']))
            .unwrap_or("'");
        vec![Fix {
            title: format!("Change the reference to `{new_ref}`"),
            edits: vec![self.edit(span, self.scalar(&new_ref, Some(quoted_like)))],
        }]
    }

    /// Declares missing `{name}`s of a channel, or removes an unused declaration.
    fn channel_parameters(&self, ptr: &str, msg: &str) -> Vec<Fix> {
        if msg.contains("is declared but") {
            return self
                .remove(ptr)
                .map(|e| Fix {
                    title: format!(
                        "Remove unused parameter `{}`",
                        backticked(msg).first().copied().unwrap_or("")
                    ),
                    edits: vec![e],
                })
                .into_iter()
                .collect();
        }
        let Some(list) = msg
            .split(" uses parameter")
            .nth(1)
            .and_then(|r| r.split(" not declared").next())
        else {
            return Vec::new();
        };
        let names = backticked(list);
        let channel = ptr
            .strip_suffix("/address")
            .or_else(|| ptr.strip_suffix("/parameters"))
            .unwrap_or(ptr);
        let v2 = self.version.is_some_and(Version::is_v2);
        let param = |n: &str| {
            let mut m = Map::new();
            m.insert(
                "description".into(),
                Value::String(format!("Value of {n} in the address.")),
            );
            if v2 {
                m.insert("schema".into(), serde_json::json!({"type": "string"}));
            }
            Value::Object(m)
        };
        self.add_entries(channel, "parameters", &names, param, "parameter")
    }

    fn server_variables(&self, ptr: &str, msg: &str) -> Vec<Fix> {
        if msg.contains("is declared but") {
            return self
                .remove(ptr)
                .map(|e| Fix {
                    title: format!(
                        "Remove unused variable `{}`",
                        backticked(msg).first().copied().unwrap_or("")
                    ),
                    edits: vec![e],
                })
                .into_iter()
                .collect();
        }
        if !msg.contains("which is not declared") {
            return Vec::new();
        }
        let Some(name) = msg.split("uses variable ").nth(1).and_then(|r| {
            backticked(&format!(" {r}"))
                .first()
                .map(|s| (*s).to_owned())
        }) else {
            return Vec::new();
        };
        let Some(server) = pointer::parent(ptr) else {
            return Vec::new();
        };
        let var =
            |n: &str| serde_json::json!({ "description": format!("Value of {n} in the address.") });
        self.add_entries(server, "variables", &[name.as_str()], var, "variable")
    }

    /// Adds `names` to the map `field` of the object at `owner`, creating the map when absent.
    fn add_entries(
        &self,
        owner: &str,
        field: &str,
        names: &[&str],
        value: impl Fn(&str) -> Value,
        noun: &str,
    ) -> Vec<Fix> {
        if names.is_empty() {
            return Vec::new();
        }
        let Some(obj) = self.ws.get(self.file, owner).and_then(Value::as_object) else {
            return Vec::new();
        };
        let map_ptr = pointer::join(owner, field);
        let title = format!(
            "Declare {noun}{} {}",
            if names.len() > 1 { "s" } else { "" },
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let edit = match obj.get(field) {
            Some(Value::Object(existing))
                if !existing.is_empty()
                    || self.json
                    || self.char_at(self.ws.location(self.file, &map_ptr).span.start)
                        == Some('{') =>
            {
                let entries: Vec<(String, Value)> =
                    names.iter().map(|n| ((*n).to_owned(), value(n))).collect();
                self.insert_many(&map_ptr, &entries)
            }
            Some(Value::Object(_)) | Some(Value::Null) | None => {
                let mut m = Map::new();
                for n in names {
                    m.insert((*n).to_owned(), value(n));
                }
                if obj.contains_key(field) {
                    // `parameters: {}` in block YAML, or `parameters:` with nothing: rewrite it.
                    let key = self.ws.key_location(self.file, &map_ptr).span;
                    let val = self.ws.location(self.file, &map_ptr).span;
                    let indent = key.start.col.saturating_sub(1) as usize;
                    let block = yaml_block(field, &Value::Object(m), indent);
                    let lead: String = self.line(key.start.line).chars().take(indent).collect();
                    if !lead.trim().is_empty() || val.end.line != key.start.line {
                        return Vec::new();
                    }
                    Some(self.edit(
                        Span::new(Pos::new(key.start.line, 1), Pos::new(key.start.line + 1, 1)),
                        block,
                    ))
                } else {
                    self.insert(owner, field, &Value::Object(m))
                }
            }
            _ => None,
        };
        edit.map(|e| Fix {
            title,
            edits: vec![e],
        })
        .into_iter()
        .collect()
    }

    /// Replaces a name with the one the diagnostic suggests.
    fn did_you_mean(&self, span: Span, help: Option<&str>) -> Vec<Fix> {
        let Some(name) = help
            .filter(|h| h.starts_with("did you mean"))
            .and_then(|h| backticked(h).first().copied())
        else {
            return Vec::new();
        };
        let old = self.span_text(span);
        let new = match old.as_deref().and_then(|o| o.chars().next()) {
            Some('"') | Some('\'') => self.scalar(name, old.as_deref()),
            _ if self.json => Value::String(name.to_owned()).to_string(),
            _ => yaml_key(name),
        };
        vec![Fix {
            title: format!("Change to `{name}`"),
            edits: vec![self.edit(span, new)],
        }]
    }

    /// A 3.x operation (or reply) message must be referenced through the operation's channel:
    /// `#/channels/<channel>/messages/<message>`. When the channel lists the message, point at
    /// that entry; when it does not, add it to the channel too.
    fn message_through_channel(&self, item: &str) -> Vec<Fix> {
        let Some(owner) = pointer::parent(item).and_then(pointer::parent) else {
            return Vec::new();
        };
        let Some(channel_ref) = self
            .ws
            .get(self.file, owner)
            .and_then(|o| o.get("channel"))
            .and_then(|c| c.get("$ref"))
            .and_then(Value::as_str)
        else {
            return Vec::new();
        };
        let (file_part, frag) = split_ref(channel_ref);
        let Some(channel_ptr) = pointer::from_fragment(frag) else {
            return Vec::new();
        };
        if !file_part.is_empty() || self.ws.get(self.file, &channel_ptr).is_none() {
            return Vec::new();
        }
        let Ok(wanted) = self.ws.resolve_chain(self.file, item) else {
            return Vec::new();
        };
        let Some(old_ref) = self
            .ws
            .get(self.file, item)
            .and_then(|i| i.get("$ref"))
            .and_then(Value::as_str)
        else {
            return Vec::new();
        };
        let messages_ptr = pointer::join(&channel_ptr, "messages");
        let entries = self
            .ws
            .get(self.file, &messages_ptr)
            .and_then(Value::as_object);
        let matching: Vec<&String> = entries
            .map(|m| {
                m.keys()
                    .filter(|k| {
                        let p = pointer::join(&messages_ptr, k);
                        let target = match self.ws.get(self.file, &p) {
                            Some(v) if crate::structure::is_ref(v) => {
                                self.ws.resolve_chain(self.file, &p).ok()
                            }
                            Some(_) => Some(crate::workspace::Target {
                                file: self.file,
                                pointer: p.clone(),
                            }),
                            None => None,
                        };
                        target.is_some_and(|t| t == wanted)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let ref_span = self
            .ws
            .location(self.file, &pointer::join(item, "$ref"))
            .span;
        let old = self.span_text(ref_span);
        let quote = old
            .as_deref()
            .filter(|o| o.starts_with(['"', '\'']))
            .unwrap_or("'");
        let new_ref = |name: &str| format!("#{}", pointer::join(&messages_ptr, name));
        match matching.as_slice() {
            [one] => vec![Fix {
                title: format!("Reference the channel's message `{one}`"),
                edits: vec![self.edit(ref_span, self.scalar(&new_ref(one), Some(quote)))],
            }],
            [] => {
                let Some(name) = pointer::last(split_ref(old_ref).1).filter(|n| !n.is_empty())
                else {
                    return Vec::new();
                };
                if entries.is_some_and(|m| m.contains_key(&name)) {
                    return Vec::new();
                }
                let reference = serde_json::json!({ "$ref": old_ref });
                let add = match entries {
                    Some(_) => self.insert(&messages_ptr, &name, &reference),
                    None => {
                        let mut m = Map::new();
                        m.insert(name.clone(), reference);
                        self.insert(&channel_ptr, "messages", &Value::Object(m))
                    }
                };
                let Some(add) = add else {
                    return Vec::new();
                };
                vec![Fix {
                    title: format!("Add `{name}` to the channel's messages and reference it there"),
                    edits: vec![
                        add,
                        self.edit(ref_span, self.scalar(&new_ref(&name), Some(quote))),
                    ],
                }]
            }
            _ => Vec::new(),
        }
    }

    /// Adds a unique `operationId` or `messageId` derived from where the object is.
    fn add_id(&self, ptr: &str, field: &str) -> Vec<Fix> {
        let segs = pointer::parse(ptr).unwrap_or_default();
        let base = match segs.as_slice() {
            [c, name] if c == "components" => camel(&[name.as_str()]),
            [a, b, name] if a == "components" && b == "messages" => camel(&[name.as_str()]),
            [ch, name, op, ..] if ch == "channels" => {
                let mut words = vec![op.as_str(), name.as_str()];
                if field == "messageId" {
                    words.push("message");
                }
                camel(&words)
            }
            _ => camel(&segs.iter().map(String::as_str).collect::<Vec<_>>()),
        };
        if base.is_empty() {
            return Vec::new();
        }
        let mut taken = Vec::new();
        if let Some(root) = self.ws.root() {
            collect_ids(root.value, field, &mut taken);
        }
        let mut id = base.clone();
        let mut n = 2;
        while taken.contains(&id) {
            id = format!("{base}{n}");
            n += 1;
        }
        self.insert(ptr, field, &Value::String(id.clone()))
            .map(|e| Fix {
                title: format!("Add `{field}: {id}`"),
                edits: vec![e],
            })
            .into_iter()
            .collect()
    }

    fn trailing_slash(&self, span: Span) -> Vec<Fix> {
        let Some(old) = self.span_text(span) else {
            return Vec::new();
        };
        let Some(i) = old.rfind('/') else {
            return Vec::new();
        };
        let mut new = old.clone();
        new.remove(i);
        vec![Fix {
            title: "Remove the trailing `/`".into(),
            edits: vec![self.edit(span, new)],
        }]
    }

    fn version_value(&self, span: Span) -> Vec<Fix> {
        let Some(old) = self.span_text(span) else {
            return Vec::new();
        };
        let bare = old.trim_matches(['"', '\'']);
        let parts: Vec<&str> = bare.split('.').collect();
        let candidate = match parts.as_slice() {
            [major, minor] => format!("{major}.{minor}.0"),
            [major, minor, _] if bare.contains('-') => format!("{major}.{minor}.0"),
            _ => {
                // A number: quote it.
                if bare == old && Version::parse(bare).is_some() {
                    bare.to_owned()
                } else {
                    return Vec::new();
                }
            }
        };
        if Version::parse(&candidate).is_none() {
            return Vec::new();
        }
        let quote = if old.starts_with(['"', '\'']) {
            old.as_str()
        } else {
            "'"
        };
        vec![Fix {
            title: format!("Use version `{candidate}`"),
            edits: vec![self.edit(span, self.scalar(&candidate, Some(quote)))],
        }]
    }
}

/// A value to stand for a missing required field: a string placeholder, or an object holding
/// its own required fields. `None` when the field needs a real choice (an enumeration, a URI).
fn placeholder(v: Version, field: &str, shape: &Shape, depth: usize) -> Option<Value> {
    if depth > 4 {
        return None;
    }
    Some(match shape {
        Shape::Str {
            format: None,
            pattern: None,
        } => Value::String(
            match field {
                "version" => "1.0.0",
                "title" => "Untitled API",
                "host" | "url" => "localhost",
                _ => "TODO",
            }
            .into(),
        ),
        Shape::Bool => Value::Bool(false),
        Shape::Map(_) => Value::Object(Map::new()),
        Shape::Array { min_items: 0, .. } => Value::Array(Vec::new()),
        Shape::Enum([only]) => Value::String((*only).to_owned()),
        Shape::Object(o) => {
            let mut m = Map::new();
            for r in o.required {
                let f = o
                    .fields
                    .iter()
                    .find(|f| f.name == *r && f.since <= v && v <= f.until)?;
                m.insert((*r).to_owned(), placeholder(v, r, f.shape, depth + 1)?);
            }
            Value::Object(m)
        }
        // The 2.x Channels Object is a custom-checked map.
        Shape::Custom(_) if field == "channels" => Value::Object(Map::new()),
        _ => return None,
    })
}

fn collect_ids(v: &Value, field: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, val) in m {
                if k == field
                    && let Some(s) = val.as_str()
                {
                    out.push(s.to_owned());
                } else {
                    collect_ids(val, field, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_ids(x, field, out)),
        _ => {}
    }
}

/// `["publish", "user/signed-up"]` → `publishUserSignedUp`.
fn camel(words: &[&str]) -> String {
    let mut out = String::new();
    for w in words {
        for part in w
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|p| !p.is_empty())
        {
            let mut cs = part.chars();
            if let Some(first) = cs.next() {
                if out.is_empty() {
                    out.extend(first.to_lowercase());
                } else {
                    out.extend(first.to_uppercase());
                }
                out.push_str(cs.as_str());
            }
        }
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut diag = row[0];
        row[0] = i;
        for j in 1..=b.len() {
            let up = row[j];
            let cost = usize::from(a[i - 1] != b[j - 1]);
            row[j] = (diag + cost).min(row[j] + 1).min(row[j - 1] + 1);
            diag = up;
        }
    }
    row[b.len()]
}

/// The one key of `map` close to `name` (edit distance within a third of its length).
fn unique_close(name: &str, map: &Map<String, Value>) -> Option<String> {
    let limit = (name.chars().count() / 3).max(1);
    let mut found = map.keys().filter(|k| edit_distance(name, k) <= limit);
    let first = found.next()?;
    if found.next().is_some() {
        return None;
    }
    Some(first.clone())
}

fn yaml_needs_quotes(s: &str) -> bool {
    s.is_empty()
        || s.starts_with([
            '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`', '{', '[', ']', '}', ',', '?',
            ':', '-', ' ',
        ])
        || s.ends_with([' ', ':'])
        || s.contains(": ")
        || s.contains(" #")
        || s.contains(['\n', '\t'])
        || matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "~" | "yes" | "no" | "on" | "off" | "y" | "n"
        )
        || s.parse::<f64>().is_ok()
        || s.starts_with(|c: char| c.is_ascii_digit())
}

fn yaml_key(k: &str) -> String {
    if yaml_needs_quotes(k) || k.contains(['{', '}', '[', ']', ',']) {
        format!("'{}'", k.replace('\'', "''"))
    } else {
        k.to_owned()
    }
}

fn yaml_scalar(v: &Value) -> String {
    match v {
        Value::String(s) if yaml_needs_quotes(s) || s.contains(['{', '}', '[', ']', ',']) => {
            if s.contains(['\n', '\t']) {
                v.to_string()
            } else {
                format!("'{}'", s.replace('\'', "''"))
            }
        }
        Value::String(s) => s.clone(),
        Value::Object(m) if m.is_empty() => "{}".into(),
        Value::Array(a) if a.is_empty() => "[]".into(),
        other => flow_yaml(other),
    }
}

/// JSON text is flow YAML; strings keep JSON quoting.
fn flow_yaml(v: &Value) -> String {
    v.to_string()
}

/// `key: value` as block YAML at `indent`, ending with a line break.
fn yaml_block(key: &str, value: &Value, indent: usize) -> String {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(m) if !m.is_empty() => {
            let mut s = format!("{pad}{}:\n", yaml_key(key));
            for (k, v) in m {
                s.push_str(&yaml_block(k, v, indent + 2));
            }
            s
        }
        _ => format!("{pad}{}: {}\n", yaml_key(key), yaml_scalar(value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_distances() {
        assert_eq!(camel(&["publish", "user/signed-up"]), "publishUserSignedUp");
        assert_eq!(camel(&["subscribe", "1.0/x"]), "subscribe10X");
        assert_eq!(edit_distance("UserSignedUpp", "UserSignedUp"), 1);
        assert_eq!(backticked("a `x` b `y`"), ["x", "y"]);
        assert_eq!(yaml_scalar(&Value::String("#/a".into())), "'#/a'");
        assert_eq!(
            yaml_block("a", &serde_json::json!({"b": {"c": "d"}}), 2),
            "  a:\n    b:\n      c: d\n"
        );
    }
}
