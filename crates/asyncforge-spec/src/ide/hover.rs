//! Hover: what a key means, and what a `$ref` points to.

use std::fmt::Write as _;

use serde_json::Value;

use super::Hover;
use super::context::{Slot, context, detect_version};
use super::keys;
use crate::pointer;
use crate::source::{FileId, Pos};
use crate::version::Version;
use crate::workspace::{Target, Workspace};

/// Most properties listed for one schema.
const MAX_PROPERTIES: usize = 25;
/// Longest description shown, in characters.
const MAX_TEXT: usize = 400;

/// What to show for the position `pos` of `file`: on a `$ref` value, what it points to (or that
/// it points at nothing); on a key or a value, what the key means in the document's version.
pub fn hover(ws: &Workspace, file: FileId, pos: Pos) -> Option<Hover> {
    if file.index() >= ws.len() {
        return None;
    }
    let text = ws.file(file).source().text();
    let mut ctx = context(text, pos);
    if file != ws.root_id() {
        ctx.path = document_path(ws, file, &ctx.path).unwrap_or_default();
    }
    let version = ws
        .root()
        .and_then(|r| r.value.get("asyncapi"))
        .and_then(Value::as_str)
        .and_then(Version::parse)
        .or_else(|| detect_version(ws.file(ws.root_id()).source().text()))
        .or_else(|| detect_version(text))?;
    match &ctx.slot {
        Slot::Value {
            key, value, span, ..
        } if key == "$ref" => Some(Hover {
            markdown: ref_markdown(ws, file, value),
            span: *span,
        }),
        Slot::Key { key, span, .. } if !key.is_empty() => {
            key_markdown(version, &ctx.path, key, &ctx).map(|markdown| Hover {
                markdown,
                span: *span,
            })
        }
        Slot::Value {
            key, value, span, ..
        } if !key.is_empty() => {
            let mut md = key_markdown(version, &ctx.path, key, &ctx)?;
            if key == "action" && version.is_v3() {
                let what = match value.as_str() {
                    "send" => Some("the application sends messages to the channel"),
                    "receive" => Some("the application receives messages from the channel"),
                    _ => None,
                };
                if let Some(w) = what {
                    let _ = write!(md, "\n\n`{value}`: {w}.");
                }
            }
            Some(Hover {
                markdown: md,
                span: *span,
            })
        }
        _ => None,
    }
}

/// The document path of a mapping written in a referenced file: the path of a root-file
/// `$ref` to (an ancestor of) it, plus the rest.
fn document_path(ws: &Workspace, file: FileId, path: &[String]) -> Option<Vec<String>> {
    let mut best: Option<(usize, Vec<String>)> = None;
    for site in ws.refs() {
        let Some(t) = &site.target else { continue };
        if site.file != ws.root_id() || t.file != file {
            continue;
        }
        let Some(target) = pointer::parse(&t.pointer) else {
            continue;
        };
        if target.len() > path.len() || target[..] != path[..target.len()] {
            continue;
        }
        if best.as_ref().is_some_and(|(n, _)| *n >= target.len()) {
            continue;
        }
        let Some(mut p) = pointer::parse(&site.pointer) else {
            continue;
        };
        p.extend(path[target.len()..].iter().cloned());
        best = Some((target.len(), p));
    }
    best.map(|(_, p)| p)
}

fn key_markdown(v: Version, path: &[String], key: &str, ctx: &super::Context) -> Option<String> {
    let values = |k: &str| ctx.sibling_value(k).map(str::to_owned);
    let info = keys::key_at(v, path, key, &values)?;
    let mut md = format!("**`{key}`** — {} (AsyncAPI {v})\n\n", info.object);
    let _ = write!(md, "Type: {}", keys::type_label(info.shape));
    if info.required {
        md.push_str(" — required");
    }
    if let Some(d) = keys::describe(info.object, key, v.is_v3()) {
        let _ = write!(md, "\n\n{d}");
    }
    Some(md)
}

/// Follows a node through `$ref`s.
fn deref<'a>(
    ws: &'a Workspace,
    file: FileId,
    ptr: &str,
    value: &'a Value,
) -> (FileId, String, &'a Value) {
    if crate::structure::is_ref(value)
        && let Ok(t) = ws.resolve_chain(file, ptr)
        && let Some(v) = ws.get(t.file, &t.pointer)
    {
        return (t.file, t.pointer, v);
    }
    (file, ptr.to_owned(), value)
}

fn ref_markdown(ws: &Workspace, file: FileId, reference: &str) -> String {
    let target = ws
        .resolve_one(file, reference)
        .and_then(|t| match ws.get(t.file, &t.pointer) {
            Some(v) if crate::structure::is_ref(v) => ws.resolve_chain(t.file, &t.pointer),
            _ => Ok(t),
        });
    let target = match target {
        Ok(t) => t,
        Err(e) => return format!("**Unresolved reference** `{reference}`\n\n{e}"),
    };
    let Some(value) = ws.get(target.file, &target.pointer) else {
        return format!("**Unresolved reference** `{reference}`: nothing is written there");
    };
    describe_target(ws, &target, value)
}

fn shorten(s: &str) -> String {
    let s = s.trim();
    if s.chars().count() <= MAX_TEXT {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(MAX_TEXT).collect();
    out.push('…');
    out
}

fn kind_of(segs: &[String], value: &Value) -> (&'static str, String) {
    let n = segs.len();
    let name = segs.last().cloned().unwrap_or_default();
    if n >= 3 && segs[n - 3] == "components" {
        let kind = match segs[n - 2].as_str() {
            "messages" => "message",
            "schemas" => "schema",
            "channels" => "channel",
            "parameters" => "parameter",
            "securitySchemes" => "security scheme",
            "messageTraits" => "message trait",
            "operationTraits" => "operation trait",
            "correlationIds" => "correlation ID",
            "servers" => "server",
            "operations" => "operation",
            "replies" => "reply",
            "replyAddresses" => "reply address",
            "serverVariables" => "server variable",
            "tags" => "tag",
            "externalDocs" => "external documentation",
            "serverBindings" | "channelBindings" | "operationBindings" | "messageBindings" => {
                "bindings"
            }
            _ => "component",
        };
        return (kind, name);
    }
    if n == 2 {
        match segs[0].as_str() {
            "channels" => return ("channel", name),
            "servers" => return ("server", name),
            "operations" => return ("operation", name),
            _ => {}
        }
    }
    if n == 4 && segs[0] == "channels" && segs[2] == "messages" {
        return ("message", name);
    }
    // Another file's node: guess from its content.
    let kind = if value.get("payload").is_some() {
        "message"
    } else if value.get("type").is_some() || value.get("properties").is_some() {
        "schema"
    } else {
        "definition"
    };
    (kind, name)
}

fn describe_target(ws: &Workspace, target: &Target, value: &Value) -> String {
    let segs = pointer::parse(&target.pointer).unwrap_or_default();
    let (kind, name) = kind_of(&segs, value);
    let mut md = if name.is_empty() {
        format!("**{kind}**")
    } else {
        format!("**{kind} `{name}`**")
    };
    if target.file != ws.root_id() {
        let _ = write!(md, " in `{}`", ws.file(target.file).source().display_name());
    }
    md.push('\n');
    for k in ["title", "summary", "description"] {
        if let Some(s) = value.get(k).and_then(Value::as_str) {
            let _ = write!(md, "\n{}\n", shorten(s));
            if k != "title" {
                break;
            }
        }
    }
    match kind {
        "message" => {
            if let Some(ct) = value.get("contentType").and_then(Value::as_str) {
                let _ = write!(md, "\nContent type: `{ct}`\n");
            }
            if let Some(payload) = value.get("payload") {
                let ptr = pointer::join(&target.pointer, "payload");
                let (f, p, v) = deref(ws, target.file, &ptr, payload);
                // A 3.x multi-format schema holds the schema under `schema`.
                let (f, p, v) = match (v.get("schemaFormat"), v.get("schema")) {
                    (Some(_), Some(s)) => deref(ws, f, &pointer::join(&p, "schema"), s),
                    _ => (f, p, v),
                };
                md.push_str("\n**Payload**");
                schema_summary(ws, f, &p, v, &mut md);
            }
        }
        "schema" => schema_summary(ws, target.file, &target.pointer, value, &mut md),
        "channel" => {
            if let Some(a) = value.get("address") {
                match a.as_str() {
                    Some(s) => {
                        let _ = write!(md, "\nAddress: `{s}`\n");
                    }
                    None => md.push_str("\nAddress: dynamic (`null`)\n"),
                }
            }
            if let Some(m) = value.get("messages").and_then(Value::as_object) {
                let names: Vec<String> = m.keys().map(|k| format!("`{k}`")).collect();
                let _ = write!(md, "\nMessages: {}\n", names.join(", "));
            }
            for op in ["publish", "subscribe"] {
                if let Some(o) = value.get(op) {
                    let id = o
                        .get("operationId")
                        .and_then(Value::as_str)
                        .unwrap_or("(no operationId)");
                    let _ = write!(md, "\n`{op}`: {id}\n");
                }
            }
        }
        "operation" => {
            if let Some(a) = value.get("action").and_then(Value::as_str) {
                let _ = write!(md, "\nAction: `{a}`\n");
            }
            if let Some(c) = value
                .get("channel")
                .and_then(|c| c.get("$ref"))
                .and_then(Value::as_str)
            {
                let _ = write!(md, "\nChannel: `{c}`\n");
            }
        }
        "server" => {
            for k in ["host", "url", "pathname", "protocol", "protocolVersion"] {
                if let Some(s) = value.get(k).and_then(Value::as_str) {
                    let _ = write!(md, "\n{k}: `{s}`\n");
                }
            }
        }
        "parameter" | "server variable" => {
            if let Some(e) = value.get("enum").and_then(Value::as_array) {
                let vals: Vec<String> = e.iter().map(|v| format!("`{}`", scalar(v))).collect();
                let _ = write!(md, "\nValues: {}\n", vals.join(", "));
            }
            if let Some(d) = value.get("default") {
                let _ = write!(md, "\nDefault: `{}`\n", scalar(d));
            }
        }
        "security scheme" => {
            if let Some(t) = value.get("type").and_then(Value::as_str) {
                let _ = write!(md, "\nType: `{t}`\n");
            }
        }
        _ => {}
    }
    md
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A schema's type in a few words (`string (date-time)`, `User`, `list of string`).
fn type_words(schema: &Value) -> String {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap_or(r);
        return format!("`{name}`");
    }
    let mut t = match schema.get("type") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) => a.iter().map(scalar).collect::<Vec<_>>().join(" | "),
        _ if schema.get("properties").is_some() => "object".into(),
        _ if schema.get("oneOf").is_some() => "one of several".into(),
        _ if schema.get("anyOf").is_some() => "any of several".into(),
        _ if schema.get("allOf").is_some() => "all of several".into(),
        _ if schema.get("enum").is_some() => "enum".into(),
        _ => "any".into(),
    };
    if t == "array"
        && let Some(items) = schema.get("items")
    {
        t = format!("list of {}", type_words(items));
    }
    if let Some(f) = schema.get("format").and_then(Value::as_str) {
        let _ = write!(t, " ({f})");
    }
    t
}

fn schema_summary(ws: &Workspace, file: FileId, ptr: &str, schema: &Value, md: &mut String) {
    let _ = write!(md, "\n\nType: {}\n", type_words(schema));
    if let Some(e) = schema.get("enum").and_then(Value::as_array) {
        let vals: Vec<String> = e
            .iter()
            .take(MAX_PROPERTIES)
            .map(|v| format!("`{}`", scalar(v)))
            .collect();
        let _ = write!(md, "\nValues: {}\n", vals.join(", "));
    }
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    md.push('\n');
    let pp = pointer::join(ptr, "properties");
    for (name, prop) in props.iter().take(MAX_PROPERTIES) {
        let p = pointer::join(&pp, name);
        let (_, _, resolved) = deref(ws, file, &p, prop);
        let t = if crate::structure::is_ref(prop) {
            let via = type_words(prop);
            let inner = type_words(resolved);
            format!("{via}: {inner}")
        } else {
            type_words(resolved)
        };
        let _ = write!(md, "- `{name}`: {t}");
        if required.contains(&name.as_str()) {
            md.push_str(" (required)");
        }
        if let Some(d) = resolved.get("description").and_then(Value::as_str) {
            let first = d.lines().next().unwrap_or("");
            let _ = write!(md, " — {}", shorten(first));
        }
        md.push('\n');
    }
    if props.len() > MAX_PROPERTIES {
        let _ = writeln!(md, "- … {} more", props.len() - MAX_PROPERTIES);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Span;
    use crate::workspace::LoadOptions;

    fn ws(text: &str) -> Workspace {
        let mut diags = Vec::new();
        Workspace::load_text(
            std::path::Path::new("/nonexistent/doc.yaml"),
            text.as_bytes(),
            &LoadOptions::default(),
            &mut diags,
        )
    }

    const DOC: &str = "asyncapi: 3.0.0
info:
  title: Users
  version: 1.0.0
channels:
  userSignedUp:
    address: user/signedup
    messages:
      UserSignedUp:
        $ref: '#/components/messages/UserSignedUp'
operations:
  onUserSignedUp:
    action: receive
    channel:
      $ref: '#/channels/userSignedUp'
components:
  messages:
    UserSignedUp:
      summary: A user signed up.
      payload:
        $ref: '#/components/schemas/User'
  schemas:
    User:
      type: object
      required: [email]
      properties:
        email:
          type: string
          format: email
          description: Where to write.
        age:
          type: integer
";

    #[test]
    fn ref_to_message_shows_payload() {
        let w = ws(DOC);
        let h = hover(&w, w.root_id(), Pos::new(10, 20)).expect("hover on $ref");
        assert!(
            h.markdown.contains("message `UserSignedUp`"),
            "{}",
            h.markdown
        );
        assert!(h.markdown.contains("A user signed up."));
        assert!(
            h.markdown
                .contains("- `email`: string (email) (required) — Where to write."),
            "{}",
            h.markdown
        );
        assert!(h.markdown.contains("- `age`: integer"));
        assert_eq!(h.span.start.line, 10);
    }

    #[test]
    fn ref_to_channel_and_dangling() {
        let w = ws(DOC);
        let h = hover(&w, w.root_id(), Pos::new(15, 16)).expect("hover on channel $ref");
        assert!(h.markdown.contains("channel `userSignedUp`"));
        assert!(h.markdown.contains("`user/signedup`"));
        let broken = DOC.replace("'#/channels/userSignedUp'", "'#/channels/nope'");
        let w = ws(&broken);
        let h = hover(&w, w.root_id(), Pos::new(15, 16)).expect("hover on dangling $ref");
        assert!(
            h.markdown.contains("Unresolved reference"),
            "{}",
            h.markdown
        );
    }

    #[test]
    fn key_meaning() {
        let w = ws(DOC);
        let h = hover(&w, w.root_id(), Pos::new(13, 6)).expect("hover on action");
        assert!(h.markdown.contains("**`action`**"));
        assert!(h.markdown.contains("send"));
        assert_eq!(h.span, Span::new(Pos::new(13, 5), Pos::new(13, 11)));
        let h = hover(&w, w.root_id(), Pos::new(13, 14)).expect("hover on action's value");
        assert!(h.markdown.contains("receives messages"));
        assert!(
            hover(&w, w.root_id(), Pos::new(6, 4)).is_none(),
            "user names have no meaning"
        );
    }
}
