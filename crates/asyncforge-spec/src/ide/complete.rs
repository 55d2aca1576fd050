//! Completion: keys valid at the cursor, values of enumerated fields, `$ref` targets.

use serde_json::Value;

use super::context::{Context, Slot, Syntax, context, detect_version, strip_comment};
use super::keys::{self, Node};
use super::{Completion, CompletionKind};
use crate::load::{self, Limits};
use crate::pointer;
use crate::source::{Pos, Span};
use crate::structure::{Shape, bindings, v2};
use crate::version::{SUPPORTED, Version};
use crate::workspace::Workspace;

/// Protocol names the specification lists for servers.
const PROTOCOLS: &[&str] = &[
    "amqp",
    "amqps",
    "anypointmq",
    "googlepubsub",
    "http",
    "https",
    "ibmmq",
    "jms",
    "kafka",
    "kafka-secure",
    "mercure",
    "mqtt",
    "secure-mqtt",
    "nats",
    "pulsar",
    "redis",
    "sns",
    "solace",
    "sqs",
    "stomp",
    "stomps",
    "ws",
    "wss",
];

const CONTENT_TYPES: &[&str] = &[
    "application/json",
    "application/cloudevents+json",
    "application/xml",
    "text/plain",
    "application/octet-stream",
    "application/x-protobuf",
    "application/vnd.apache.avro+json",
    "avro/binary",
];

const SCHEMA_FORMATS: &[&str] = &[
    "application/vnd.aai.asyncapi+json;version=3.0.0",
    "application/vnd.aai.asyncapi+yaml;version=3.0.0",
    "application/schema+json;version=draft-07",
    "application/schema+yaml;version=draft-07",
    "application/vnd.apache.avro;version=1.9.0",
    "application/vnd.apache.avro+json;version=1.9.0",
    "application/vnd.oai.openapi;version=3.0.0",
    "application/raml+yaml;version=1.0",
    "application/vnd.google.protobuf;version=3",
];

/// Completions at `pos` of `text`.
///
/// The version is read from the text's `asyncapi` line (3.0 when there is none). `$ref`
/// targets come from `ws` when given (the last workspace that loaded, so they survive a
/// half-typed edit), else from the text when it parses.
pub fn complete(text: &str, pos: Pos, ws: Option<&Workspace>) -> Vec<Completion> {
    let mut ctx = context(text, pos);
    if ctx.syntax == Syntax::Yaml && !yaml_comment_at(text, pos, &mut ctx) {
        return Vec::new();
    }
    let version = detect_version(text);
    let v = version.unwrap_or(Version::V3_0);
    let mut out = match &ctx.slot {
        Slot::Key { key, .. } => key_completions(text, pos, &ctx, v, version.is_some(), key),
        Slot::Value { key, quoted, .. } if key == "$ref" => {
            ref_completions(text, &ctx, v, ws, *quoted)
        }
        Slot::Value { key, quoted, .. } => {
            let values = value_options(&ctx, v, key);
            values
                .into_iter()
                .map(|(val, doc)| value_item(ctx.syntax, *quoted, val, doc))
                .collect()
        }
    };
    let mut seen = std::collections::HashSet::new();
    out.retain(|c| seen.insert(c.label.clone()));
    match &ctx.slot {
        Slot::Key { key, span, .. } => {
            // A key already followed by its colon is replaced by the bare name.
            let rest: String = line_at(text, span.end.line)
                .chars()
                .skip(span.end.col.saturating_sub(1) as usize)
                .collect();
            let has_colon =
                ctx.syntax == Syntax::Yaml && !key.is_empty() && rest.trim_start().starts_with(':');
            for c in &mut out {
                c.replace = *span;
                if has_colon && c.kind == CompletionKind::Key {
                    c.insert_text = c.label.clone();
                }
            }
        }
        Slot::Value { span, quoted, .. } => {
            let quote = if *quoted {
                line_at(text, span.start.line)
                    .chars()
                    .nth(span.start.col.saturating_sub(1) as usize)
            } else {
                None
            };
            // `key:|` in YAML: the value needs a blank after the colon.
            let after_colon =
                ctx.syntax == Syntax::Yaml && char_before(text, span.start) == Some(':');
            for c in &mut out {
                c.replace = *span;
                match quote {
                    Some('\'') => {
                        c.insert_text = format!("'{}'", c.insert_text.replace('\'', "''"))
                    }
                    Some('"') => c.insert_text = Value::String(c.insert_text.clone()).to_string(),
                    _ => {}
                }
                if after_colon {
                    c.insert_text.insert(0, ' ');
                }
            }
        }
    }
    out
}

/// Whether completion applies at `pos` of YAML text, given a comment on its line: not inside a
/// comment, except for `$ref: #…` typed without quotes, a reference being typed (YAML reads it
/// as a comment). Then the typed `#…` becomes the range the completion replaces.
fn yaml_comment_at(text: &str, pos: Pos, ctx: &mut Context) -> bool {
    let line = line_at(text, pos.line);
    let before: String = line
        .chars()
        .take(pos.col.saturating_sub(1) as usize)
        .collect();
    let code = strip_comment(&before);
    if code.len() == before.len() {
        return true;
    }
    let comment_col = code.chars().count() as u32 + 1;
    match &mut ctx.slot {
        Slot::Value { key, span, .. }
            if key == "$ref" && span.start == span.end && span.start.col == comment_col =>
        {
            let typed = line
                .chars()
                .skip(code.chars().count())
                .take_while(|c| !c.is_whitespace())
                .count() as u32;
            span.end = Pos::new(span.start.line, comment_col + typed);
            true
        }
        _ => false,
    }
}

/// The text of 1-based line `line` (empty past the end).
fn line_at(text: &str, line: u32) -> &str {
    let idx = (line as usize).saturating_sub(1);
    let start = if idx == 0 {
        0
    } else {
        match memchr::memchr_iter(b'\n', text.as_bytes()).nth(idx - 1) {
            Some(i) => i + 1,
            None => return "",
        }
    };
    let rest = text.get(start..).unwrap_or("");
    rest.split('\n').next().unwrap_or("").trim_end_matches('\r')
}

fn key_completions(
    text: &str,
    pos: Pos,
    ctx: &Context,
    v: Version,
    known_version: bool,
    typed: &str,
) -> Vec<Completion> {
    let values = |k: &str| ctx.sibling_value(k).map(str::to_owned);
    let place = keys::resolve(v, &ctx.path, &values);
    // Inside a JSON string the quotes are already there.
    let bare =
        ctx.syntax == Syntax::Json && (!typed.is_empty() || char_before(text, pos) == Some('"'));
    let key_item = |name: &str, detail: Option<String>, doc: Option<String>| Completion {
        label: name.to_owned(),
        kind: CompletionKind::Key,
        insert_text: match (ctx.syntax, bare) {
            (Syntax::Yaml, _) => format!("{name}: "),
            (Syntax::Json, true) => name.to_owned(),
            (Syntax::Json, false) => format!("\"{name}\": "),
        },
        detail,
        documentation: doc,
        replace: Span::default(),
    };
    let mut out = Vec::new();
    if ctx.path.is_empty() && !known_version && !ctx.siblings.iter().any(|s| s == "asyncapi") {
        out.push(key_item(
            "asyncapi",
            Some("string".into()),
            keys::describe("AsyncAPI Object", "asyncapi", true).map(str::to_owned),
        ));
    }
    match &place.node {
        Node::Objs(_) => {
            for k in keys::keys_of(v, &place.node) {
                if ctx.siblings.iter().any(|s| s == k.name) {
                    continue;
                }
                let mut detail = keys::type_label(k.shape).replace("\\|", "|");
                if k.required {
                    detail.push_str(" (required)");
                }
                out.push(key_item(
                    k.name,
                    Some(detail),
                    keys::describe(k.object, k.name, v.is_v3()).map(str::to_owned),
                ));
            }
            if place.ref_allowed && ctx.siblings.is_empty() {
                out.push(key_item(
                    "$ref",
                    Some("reference".into()),
                    keys::describe("", "$ref", v.is_v3()).map(str::to_owned),
                ));
            }
        }
        Node::RefOnly => out.push(key_item(
            "$ref",
            Some("reference".into()),
            keys::describe("", "$ref", v.is_v3()).map(str::to_owned),
        )),
        Node::Leaf(shape) => {
            for val in keys::enum_values(shape) {
                out.push(value_item(ctx.syntax, false, val, None));
            }
        }
        Node::Array(items) => {
            for val in keys::enum_values(items) {
                out.push(value_item(ctx.syntax, false, val, None));
            }
        }
        Node::Map(_) | Node::Unknown => {}
    }
    out
}

fn char_before(text: &str, pos: Pos) -> Option<char> {
    line_at(text, pos.line)
        .chars()
        .nth((pos.col as usize).checked_sub(2)?)
}

fn needs_quotes_yaml(s: &str) -> bool {
    s.is_empty()
        || s.starts_with([
            '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`', '{', '[', '-', '?', ':',
        ])
        || s.contains(": ")
        || s.contains(" #")
        || matches!(
            s,
            "true" | "false" | "null" | "~" | "yes" | "no" | "on" | "off"
        )
        || s.parse::<f64>().is_ok()
}

fn value_item(syntax: Syntax, quoted: bool, val: String, doc: Option<String>) -> Completion {
    let literal = matches!(val.as_str(), "true" | "false" | "null") || val.parse::<f64>().is_ok();
    let insert_text = if quoted {
        val.clone()
    } else {
        match syntax {
            Syntax::Json if !literal => format!("\"{val}\""),
            Syntax::Yaml if !literal && needs_quotes_yaml(&val) => format!("'{val}'"),
            _ => val.clone(),
        }
    };
    Completion {
        label: val,
        kind: CompletionKind::Value,
        insert_text,
        detail: None,
        documentation: doc,
        replace: Span::default(),
    }
}

/// The values offered for `key` in the mapping at `ctx.path`, with optional documentation.
pub(crate) fn value_options(ctx: &Context, v: Version, key: &str) -> Vec<(String, Option<String>)> {
    let values = |k: &str| ctx.sibling_value(k).map(str::to_owned);
    let doc = |s: &str| Some(s.to_owned());
    match key {
        "asyncapi" if ctx.path.is_empty() => {
            return SUPPORTED
                .iter()
                .rev()
                .map(|s| (s.as_str().to_owned(), None))
                .collect();
        }
        "protocol" => return PROTOCOLS.iter().map(|p| ((*p).to_owned(), None)).collect(),
        "contentType" | "defaultContentType" => {
            return CONTENT_TYPES
                .iter()
                .map(|p| ((*p).to_owned(), None))
                .collect();
        }
        "schemaFormat" => {
            return SCHEMA_FORMATS
                .iter()
                .map(|p| ((*p).to_owned(), None))
                .collect();
        }
        "bindingVersion" => {
            return binding_versions(v, &ctx.path)
                .into_iter()
                .map(|s| (s.to_owned(), None))
                .collect();
        }
        "action" if v.is_v3() => {
            return vec![
                (
                    "send".into(),
                    doc("The application sends messages to the channel."),
                ),
                (
                    "receive".into(),
                    doc("The application receives messages from the channel."),
                ),
            ];
        }
        _ => {}
    }
    let place = keys::resolve(v, &ctx.path, &values);
    if key == "type"
        && matches!(&place.node, Node::Objs(o) if o.iter().any(|o| o.name.starts_with("Security Scheme")))
        && let Shape::Tagged { variants, .. } = v2::ide_security_scheme(v)
    {
        return variants
            .iter()
            .map(|(n, _)| ((*n).to_owned(), None))
            .collect();
    }
    keys::keys_of(v, &place.node)
        .into_iter()
        .find(|k| k.name == key)
        .map(|k| {
            keys::enum_values(k.shape)
                .into_iter()
                .map(|s| (s, None))
                .collect()
        })
        .unwrap_or_default()
}

/// `bindingVersion` values described for the binding at `path` (`…/bindings/kafka`).
fn binding_versions(v: Version, path: &[String]) -> Vec<&'static str> {
    let Some((protocol, parent)) = path.split_last() else {
        return Vec::new();
    };
    let place = keys::resolve(v, parent, &|_| None);
    let Node::Objs(objs) = &place.node else {
        return Vec::new();
    };
    let kind = objs.iter().find_map(|o| {
        let n = o.name;
        if !n.contains("Bindings Object") {
            None
        } else if n.starts_with("Server") {
            Some(bindings::BindingKind::Server)
        } else if n.starts_with("Channel") {
            Some(bindings::BindingKind::Channel)
        } else if n.starts_with("Operation") {
            Some(bindings::BindingKind::Operation)
        } else {
            Some(bindings::BindingKind::Message)
        }
    });
    kind.map(|k| {
        bindings::protocol_binding_versions(k, protocol)
            .iter()
            .map(|(n, _)| *n)
            .collect()
    })
    .unwrap_or_default()
}

fn names(v: Option<&Value>) -> Vec<(String, &Value)> {
    v.and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v)).collect())
        .unwrap_or_default()
}

/// Which kind of target a `$ref` at `path` names.
enum RefKind {
    /// `#/components/<section>/…`.
    Components(&'static str),
    /// `#/channels/…`.
    Channels,
    /// `#/servers/…`.
    Servers,
    /// `#/channels/<c>/messages/…` (3.x operations and replies).
    ChannelMessages,
}

fn ref_kind(v: Version, path: &[String]) -> Option<RefKind> {
    let place = keys::resolve(v, path, &|_| None);
    let parent = place.parent;
    let schemaish = matches!(&place.node, Node::Objs(o) if o.iter().any(|o| o.name.contains("Schema") && !o.name.contains("Security")));
    Some(match place.field.as_str() {
        "messages" if v.is_v3() && (parent.contains("Operation") || parent.contains("Reply")) => {
            RefKind::ChannelMessages
        }
        "oneOf" if schemaish => RefKind::Components("schemas"),
        "message" | "messages" | "oneOf" => RefKind::Components("messages"),
        "channel" if v.is_v3() => RefKind::Channels,
        "servers" if v.is_v3() && path.first().is_none_or(|p| p != "components") => {
            RefKind::Servers
        }
        "channels" => RefKind::Components("channels"),
        "servers" => RefKind::Components("servers"),
        "parameters" => RefKind::Components("parameters"),
        "traits" if parent.contains("Message") => RefKind::Components("messageTraits"),
        "traits" => RefKind::Components("operationTraits"),
        "bindings" if parent.contains("Server") => RefKind::Components("serverBindings"),
        "bindings" if parent.contains("Channel") => RefKind::Components("channelBindings"),
        "bindings" if parent.contains("Operation") => RefKind::Components("operationBindings"),
        "bindings" => RefKind::Components("messageBindings"),
        "correlationId" | "correlationIds" => RefKind::Components("correlationIds"),
        "securitySchemes" | "security" => RefKind::Components("securitySchemes"),
        "reply" | "replies" => RefKind::Components("replies"),
        "address" | "replyAddresses" => RefKind::Components("replyAddresses"),
        "variables" | "serverVariables" => RefKind::Components("serverVariables"),
        "operations" => RefKind::Components("operations"),
        "tags" => RefKind::Components("tags"),
        "externalDocs" => RefKind::Components("externalDocs"),
        "serverBindings" => RefKind::Components("serverBindings"),
        "channelBindings" => RefKind::Components("channelBindings"),
        "operationBindings" => RefKind::Components("operationBindings"),
        "messageBindings" => RefKind::Components("messageBindings"),
        "messageTraits" => RefKind::Components("messageTraits"),
        "operationTraits" => RefKind::Components("operationTraits"),
        _ if schemaish => RefKind::Components("schemas"),
        _ => return None,
    })
}

fn ref_completions(
    text: &str,
    ctx: &Context,
    v: Version,
    ws: Option<&Workspace>,
    quoted: bool,
) -> Vec<Completion> {
    let parsed;
    let root: &Value = match ws.and_then(|w| w.root()) {
        Some(r) => r.value,
        None => match load::parse_text(text, &Limits::default()) {
            Ok(p) => {
                parsed = p;
                &parsed.value
            }
            Err(_) => return Vec::new(),
        },
    };
    let Some(kind) = ref_kind(v, &ctx.path) else {
        return Vec::new();
    };
    let mut targets: Vec<(String, &Value, &'static str)> = Vec::new();
    match kind {
        RefKind::Components(section) => {
            for (n, val) in names(root.get("components").and_then(|c| c.get(section))) {
                let p = pointer::join(&format!("#/components/{section}"), &n);
                targets.push((p, val, section));
            }
        }
        RefKind::Channels => {
            for (n, val) in names(root.get("channels")) {
                let p = pointer::join("#/channels", &n);
                targets.push((p, val, "channels"));
            }
        }
        RefKind::Servers => {
            for (n, val) in names(root.get("servers")) {
                let p = pointer::join("#/servers", &n);
                targets.push((p, val, "servers"));
            }
        }
        RefKind::ChannelMessages => {
            // The operation's (or reply's) own channel, when it names one.
            let owner = &ctx.path[..ctx.path.iter().rposition(|s| s == "messages").unwrap_or(0)];
            let channel_ref = owner
                .iter()
                .try_fold(root, |node, seg| node.get(seg.as_str()))
                .and_then(|op| op.get("channel"))
                .and_then(|c| c.get("$ref"))
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/channels/"))
                .and_then(pointer::unescape);
            for (cname, channel) in names(root.get("channels")) {
                if channel_ref.as_ref().is_some_and(|c| *c != cname) {
                    continue;
                }
                for (m, val) in names(channel.get("messages")) {
                    let p = pointer::join(
                        &pointer::join(&pointer::join("#/channels", &cname), "messages"),
                        &m,
                    );
                    targets.push((p, val, "messages"));
                }
            }
        }
    }
    targets
        .into_iter()
        .map(|(p, val, section)| {
            let doc = ["title", "summary", "description"]
                .iter()
                .find_map(|k| val.get(*k).and_then(Value::as_str))
                .map(str::to_owned);
            Completion {
                insert_text: if quoted {
                    p.clone()
                } else if ctx.syntax == Syntax::Json {
                    format!("\"{p}\"")
                } else {
                    format!("'{p}'")
                },
                label: p,
                kind: CompletionKind::Reference,
                detail: Some(section.to_owned()),
                documentation: doc,
                replace: Span::default(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Vec<Completion> {
        let (clean, pos) = crate::ide::cursor(text);
        complete(&clean, pos, None)
    }

    fn labels(c: &[Completion]) -> Vec<&str> {
        c.iter().map(|c| c.label.as_str()).collect()
    }

    #[test]
    fn keys_of_a_half_typed_channel() {
        let c = at("asyncapi: 3.0.0\nchannels:\n  foo:\n    title: x\n    addr|");
        let l = labels(&c);
        assert!(l.contains(&"address"), "{l:?}");
        assert!(l.contains(&"messages"));
        assert!(!l.contains(&"title"), "present keys are left out");
        let c = at("asyncapi: 2.6.0\nchannels:\n  foo:\n    |\n");
        assert!(labels(&c).contains(&"subscribe"));
        assert!(!labels(&c).contains(&"address"));
    }

    #[test]
    fn values() {
        let c = at("asyncapi: 3.0.0\noperations:\n  a:\n    action: |\n");
        assert_eq!(labels(&c), ["send", "receive"]);
        let c = at("asyncapi: 3.0.0\nservers:\n  a:\n    protocol: k|\n");
        assert!(labels(&c).contains(&"kafka"));
        let c = at(
            "asyncapi: 3.0.0\nchannels:\n  a:\n    bindings:\n      kafka:\n        bindingVersion: |\n",
        );
        assert_eq!(labels(&c), ["0.5.0", "0.4.0", "0.3.0"]);
        let c = at("asyncapi: |\n");
        assert!(labels(&c).contains(&"3.1.0"));
        let c = at("asyncapi: 3.0.0\ncomponents:\n  schemas:\n    a:\n      type: |\n");
        assert!(labels(&c).contains(&"object"));
        let c = at("asyncapi: 2.6.0\nchannels:\n  a:\n    deprecated: |\n");
        assert_eq!(labels(&c), ["true", "false"]);
    }

    #[test]
    fn replace_ranges() {
        // A key with its colon already written: only the name is replaced.
        let c = at("asyncapi: 3.0.0\noperations:\n  a:\n    acti|: send\n");
        let action = c
            .iter()
            .find(|c| c.label == "action")
            .expect("action offered");
        assert_eq!(action.insert_text, "action");
        assert_eq!(action.replace, Span::new(Pos::new(4, 5), Pos::new(4, 9)));
        // A half-typed key gets its colon.
        let c = at("asyncapi: 3.0.0\noperations:\n  a:\n    acti|\n");
        let action = c
            .iter()
            .find(|c| c.label == "action")
            .expect("action offered");
        assert_eq!(action.insert_text, "action: ");
        // A quoted value keeps its quotes.
        let c = at("asyncapi: 3.0.0\noperations:\n  a:\n    action: 're|'\n");
        assert_eq!(c[0].insert_text, "'send'");
        assert_eq!(c[0].replace, Span::new(Pos::new(4, 13), Pos::new(4, 17)));
    }

    #[test]
    fn comments_and_colons() {
        // Nothing is offered inside a comment.
        assert!(at("asyncapi: 3.0.0\ninfo:\n  #|\n").is_empty());
        assert!(at("asyncapi: 3.0.0\ninfo: # t|\n").is_empty());
        // A value right after the colon gets its blank.
        let c = at("asyncapi: 3.0.0\noperations:\n  a:\n    action:|\n");
        assert_eq!(c[0].insert_text, " send");
        // `$ref: #…` unquoted is a reference being typed; the typed text is replaced.
        let doc = "asyncapi: 3.0.0\nchannels:\n  users:\n    address: users\n    messages:\n      created:\n        $ref: #/comp|\ncomponents:\n  messages:\n    UserCreated:\n      payload: {type: object}\n";
        let c = at(doc);
        assert_eq!(labels(&c), ["#/components/messages/UserCreated"]);
        assert_eq!(c[0].replace, Span::new(Pos::new(7, 15), Pos::new(7, 21)));
    }

    #[test]
    fn references_from_the_text() {
        let doc = "asyncapi: 3.0.0\ninfo: {title: t, version: '1'}\nchannels:\n  users:\n    address: users\n    messages:\n      created:\n        $ref: |\ncomponents:\n  messages:\n    UserCreated:\n      payload: {type: object}\n  schemas:\n    User: {type: object}\n";
        let c = at(doc);
        assert_eq!(labels(&c), ["#/components/messages/UserCreated"]);
        assert_eq!(c[0].insert_text, "'#/components/messages/UserCreated'");
    }
}
