//! `convert`: AsyncAPI 2.0–2.6 → 3.0 / 3.1, following the official conversion rules.
//!
//! - `info` receives the root `tags` and `externalDocs`;
//! - servers: `url` is split into `host` and `pathname`; security requirements become
//!   references to security schemes (a copy with `scopes` when scopes are required);
//! - every channel becomes a 3.x channel with an `address`; its `publish` operation becomes a
//!   `receive` operation and `subscribe` a `send` one (the application's point of view), keyed
//!   by `operationId`; messages move into the channel's `messages` and operations reference
//!   them there; `schemaFormat` moves into a Multi Format Schema payload;
//! - parameters keep `enum`, `default`, `examples`, `description` and `location` from their
//!   schema; OAuth2 `scopes` become `availableScopes`;
//! - every local `$ref` to a moved object is rewritten.
//!
//! Channel and message keys follow the same naming as the IR lowering, so a converted document
//! lowers to the same IR as its source.

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use crate::ir::lower::{component_key, merge_patch, split_url, synthesized_operation_key};
use crate::pointer;
use crate::version::Version;

/// Why a document cannot be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// The source is not a 2.x document.
    #[error(
        "only AsyncAPI 2.x documents can be converted (this one is {0}); 3.0 → 3.1 is a version bump"
    )]
    NotV2(Version),
    /// The target is not 3.x.
    #[error("the target version must be 3.0.0 or 3.1.0")]
    BadTarget,
}

/// Converts a (bundled, self-contained) 2.x document to `target` (3.0 or 3.1).
pub fn convert(doc: &Value, from: Version, target: Version) -> Result<Value, ConvertError> {
    if !target.is_v3() {
        return Err(ConvertError::BadTarget);
    }
    if from.is_v3() {
        if from == Version::V3_0 && target == Version::V3_1 {
            let mut d = doc.clone();
            d["asyncapi"] = json!("3.1.0");
            return Ok(d);
        }
        return Err(ConvertError::NotV2(from));
    }
    let mut c = Converter {
        src: doc,
        from,
        renames: Vec::new(),
        operations: Map::new(),
        component_operations: Map::new(),
    };
    let mut out = c.run(target);
    let renames = std::mem::take(&mut c.renames);
    rewrite_refs(&mut out, &renames);
    Ok(out)
}

struct Converter<'a> {
    src: &'a Value,
    from: Version,
    /// Old pointer prefix → new pointer prefix, for `$ref` rewriting.
    renames: Vec<(String, String)>,
    operations: Map<String, Value>,
    component_operations: Map<String, Value>,
}

fn obj(v: &Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn is_ref(v: &Value) -> bool {
    v.get("$ref").is_some_and(Value::is_string)
}

fn ref_obj(ptr: &str) -> Value {
    json!({ "$ref": format!("#{ptr}") })
}

/// Keeps the listed keys first, in that order, then the rest as they were.
fn sorted(m: Map<String, Value>, order: &[&str]) -> Value {
    let mut out = Map::new();
    let mut rest = m;
    for k in order {
        if let Some(v) = rest.remove(*k) {
            out.insert((*k).to_owned(), v);
        }
    }
    out.extend(rest);
    Value::Object(out)
}

/// A channel key for an address: `x-channelId`, the address itself when it is a plain
/// identifier, or the address in camel case.
fn channel_id(address: &str, item: &Value, used: &HashSet<String>) -> String {
    let base = item
        .get("x-channelId")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| {
            if !address.is_empty()
                && address
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
            {
                address.to_owned()
            } else {
                let k = synthesized_operation_key(address, "");
                if k.is_empty() { "channel".into() } else { k }
            }
        });
    unique(base, used)
}

fn unique(base: String, used: &HashSet<String>) -> String {
    if !used.contains(&base) {
        return base;
    }
    (2..)
        .map(|n| format!("{base}{n}"))
        .find(|k| !used.contains(k))
        .unwrap_or(base)
}

impl Converter<'_> {
    /// The value at a local `$ref`, following chains.
    fn local(&self, v: &Value) -> Option<Value> {
        let Some(r) = v.get("$ref").and_then(Value::as_str) else {
            return Some(v.clone());
        };
        let mut r = r.to_owned();
        for _ in 0..32 {
            let frag = r.strip_prefix('#')?;
            let p = pointer::from_fragment(frag)?;
            let cur = if p.is_empty() {
                self.src
            } else {
                self.src.pointer(&p)?
            };
            match cur.get("$ref").and_then(Value::as_str) {
                Some(next) => r = next.to_owned(),
                None => return Some(cur.clone()),
            }
        }
        None
    }

    fn run(&mut self, target: Version) -> Value {
        let src = obj(self.src);
        let mut out = Map::new();
        out.insert("asyncapi".into(), json!(target.as_str()));
        for (k, v) in &src {
            match k.as_str() {
                "asyncapi" | "tags" | "externalDocs" | "channels" | "servers" | "components"
                | "info" => {}
                _ => {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
        // Info, with the root tags and external docs.
        let mut info = obj(src.get("info").unwrap_or(&Value::Null));
        if let Some(t) = src.get("tags") {
            info.insert("tags".into(), t.clone());
            self.renames.push(("/tags".into(), "/info/tags".into()));
        }
        if let Some(d) = src.get("externalDocs") {
            info.insert("externalDocs".into(), d.clone());
            self.renames
                .push(("/externalDocs".into(), "/info/externalDocs".into()));
        }
        out.insert(
            "info".into(),
            sorted(
                info,
                &[
                    "title",
                    "version",
                    "description",
                    "termsOfService",
                    "contact",
                    "license",
                    "tags",
                    "externalDocs",
                ],
            ),
        );
        if let Some(servers) = src.get("servers").and_then(Value::as_object) {
            out.insert("servers".into(), Value::Object(self.servers(servers)));
        }
        if let Some(channels) = src.get("channels").and_then(Value::as_object) {
            let converted = self.channels(channels, false);
            out.insert("channels".into(), Value::Object(converted));
        }
        let mut components = obj(src.get("components").unwrap_or(&Value::Null));
        if !components.is_empty() {
            if let Some(s) = components
                .get("servers")
                .and_then(Value::as_object)
                .cloned()
            {
                components.insert("servers".into(), Value::Object(self.servers(&s)));
            }
            if let Some(ch) = components
                .get("channels")
                .and_then(Value::as_object)
                .cloned()
            {
                let converted = self.channels(&ch, true);
                components.insert("channels".into(), Value::Object(converted));
            }
            if let Some(ss) = components
                .get("securitySchemes")
                .and_then(Value::as_object)
                .cloned()
            {
                let converted: Map<String, Value> =
                    ss.into_iter().map(|(k, v)| (k, scheme(&v))).collect();
                components.insert("securitySchemes".into(), Value::Object(converted));
            }
            if let Some(ms) = components
                .get("messages")
                .and_then(Value::as_object)
                .cloned()
            {
                let converted: Map<String, Value> =
                    ms.into_iter().map(|(k, v)| (k, message(&v))).collect();
                components.insert("messages".into(), Value::Object(converted));
            }
            if let Some(ps) = components
                .get("parameters")
                .and_then(Value::as_object)
                .cloned()
            {
                let converted: Map<String, Value> = ps
                    .into_iter()
                    .map(|(k, v)| (k, self.parameter(&v)))
                    .collect();
                components.insert("parameters".into(), Value::Object(converted));
            }
            // 3.x component keys must match `^[A-Za-z0-9_.-]+$`; 2.x documents sometimes use
            // others (`:`): rename, and let the `$ref` rewriting follow.
            for (section, entries) in components.iter_mut() {
                if section.starts_with("x-") {
                    continue;
                }
                let Some(map) = entries.as_object_mut() else {
                    continue;
                };
                if map.keys().all(|k| component_key(k) == *k) {
                    continue;
                }
                let mut renamed = Map::new();
                let mut used: HashSet<String> = HashSet::new();
                for (k, v) in std::mem::take(map) {
                    let new = unique(component_key(&k), &used);
                    used.insert(new.clone());
                    if new != k {
                        self.renames.push((
                            format!(
                                "/components/{}/{}",
                                pointer::escape(section),
                                pointer::escape(&k)
                            ),
                            format!(
                                "/components/{}/{}",
                                pointer::escape(section),
                                pointer::escape(&new)
                            ),
                        ));
                    }
                    renamed.insert(new, v);
                }
                *map = renamed;
            }
            if !self.component_operations.is_empty() {
                components.insert(
                    "operations".into(),
                    Value::Object(std::mem::take(&mut self.component_operations)),
                );
            }
        }
        if !self.operations.is_empty() {
            out.insert(
                "operations".into(),
                Value::Object(std::mem::take(&mut self.operations)),
            );
        }
        if !components.is_empty() {
            out.insert("components".into(), Value::Object(components));
        }
        sorted(
            out,
            &[
                "asyncapi",
                "id",
                "info",
                "defaultContentType",
                "servers",
                "channels",
                "operations",
                "components",
            ],
        )
    }

    fn servers(&mut self, servers: &Map<String, Value>) -> Map<String, Value> {
        let mut out = Map::new();
        for (name, s) in servers {
            if is_ref(s) {
                out.insert(name.clone(), s.clone());
                continue;
            }
            let mut m = obj(s);
            if let Some(url) = m.remove("url").and_then(|u| u.as_str().map(str::to_owned)) {
                let (host, pathname) = split_url(&url);
                m.insert("host".into(), json!(host));
                if let Some(p) = pathname {
                    m.insert("pathname".into(), json!(p));
                }
            }
            if let Some(sec) = m.get("security").cloned() {
                m.insert("security".into(), self.security(&sec));
            }
            out.insert(
                name.clone(),
                sorted(
                    m,
                    &[
                        "host",
                        "pathname",
                        "protocol",
                        "protocolVersion",
                        "title",
                        "summary",
                        "description",
                        "variables",
                        "security",
                        "tags",
                        "externalDocs",
                        "bindings",
                    ],
                ),
            );
        }
        out
    }

    fn security(&self, list: &Value) -> Value {
        let mut out = Vec::new();
        for req in list.as_array().into_iter().flatten() {
            let Some(req) = self.local(req) else { continue };
            let Some(req) = req.as_object() else { continue };
            for (name, scopes) in req {
                let scopes: Vec<Value> = scopes.as_array().cloned().unwrap_or_default();
                let scheme_ptr = format!("/components/securitySchemes/{}", pointer::escape(name));
                let scheme_v = self.src.pointer(&scheme_ptr).and_then(|s| self.local(s));
                let kind = scheme_v
                    .as_ref()
                    .and_then(|s| s.get("type"))
                    .and_then(Value::as_str);
                if !scopes.is_empty()
                    && matches!(kind, Some("oauth2" | "openIdConnect"))
                    && let Some(s) = &scheme_v
                {
                    let mut copy = obj(&scheme(s));
                    copy.insert("scopes".into(), Value::Array(scopes));
                    out.push(Value::Object(copy));
                } else {
                    out.push(ref_obj(&scheme_ptr));
                }
            }
        }
        Value::Array(out)
    }

    fn parameter(&self, p: &Value) -> Value {
        if is_ref(p) {
            return p.clone();
        }
        let m = obj(p);
        let schema = m.get("schema").and_then(|s| self.local(s));
        let pick = |k: &str| schema.as_ref().and_then(|s| s.get(k)).cloned();
        let mut out = Map::new();
        for (k, v) in &m {
            if k.starts_with("x-") {
                out.insert(k.clone(), v.clone());
            }
        }
        if let Some(e) = pick("enum") {
            out.insert("enum".into(), stringify_list(&e));
        }
        if let Some(d) = pick("default") {
            out.insert("default".into(), stringify(&d));
        }
        let description = m
            .get("description")
            .cloned()
            .or_else(|| pick("description"));
        if let Some(d) = description {
            out.insert("description".into(), d);
        }
        if let Some(e) = pick("examples") {
            out.insert("examples".into(), stringify_list(&e));
        }
        if let Some(l) = m.get("location") {
            out.insert("location".into(), l.clone());
        }
        Value::Object(out)
    }

    /// Applies operation traits when they conflict with the operation: 2.x lets traits win,
    /// 3.x lets the operation win, so conflicting traits are merged in now to keep the meaning.
    fn settle_traits(&self, op: &mut Map<String, Value>) {
        let Some(traits) = op.get("traits").and_then(Value::as_array).cloned() else {
            return;
        };
        let resolved: Vec<Value> = traits.iter().filter_map(|t| self.local(t)).collect();
        let conflict = resolved.iter().any(|t| {
            t.as_object()
                .is_some_and(|tm| tm.keys().any(|k| op.contains_key(k) && k != "traits"))
        });
        if !conflict || resolved.len() != traits.len() {
            return;
        }
        let mut v = Value::Object(op.clone());
        for t in &resolved {
            merge_patch(&mut v, t);
        }
        if let Value::Object(mut m) = v {
            m.remove("traits");
            *op = m;
        }
    }

    fn message_key(&self, m: &Value, fallback: String) -> String {
        let target = self.local(m);
        let id = if self.from >= Version::V2_4 {
            target
                .as_ref()
                .and_then(|t| t.get("messageId"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        } else {
            None
        };
        id.or_else(|| {
            let r = m.get("$ref").and_then(Value::as_str)?;
            let rest = r.strip_prefix("#/components/messages/")?;
            (!rest.contains('/'))
                .then(|| pointer::unescape(&pointer::from_fragment(rest)?))
                .flatten()
        })
        .or_else(|| {
            target
                .as_ref()
                .and_then(|t| t.get("name"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or(fallback)
    }

    fn channels(
        &mut self,
        channels: &Map<String, Value>,
        in_components: bool,
    ) -> Map<String, Value> {
        let base = if in_components {
            "/components/channels"
        } else {
            "/channels"
        };
        let op_base = if in_components {
            "/components/operations"
        } else {
            "/operations"
        };
        let mut out = Map::new();
        let mut used_ids: HashSet<String> = HashSet::new();
        let mut used_ops: HashSet<String> = self.operations.keys().cloned().collect();
        used_ops.extend(self.component_operations.keys().cloned());
        for (address, item) in channels {
            let id = if in_components {
                address.clone()
            } else {
                channel_id(address, item, &used_ids)
            };
            used_ids.insert(id.clone());
            let old = format!("{base}/{}", pointer::escape(address));
            let new = format!("{base}/{}", pointer::escape(&id));
            self.renames.push((old.clone(), new.clone()));
            if is_ref(item) {
                // A channel defined in components: its operations are converted there; the root
                // gets references to them.
                out.insert(id.clone(), item.clone());
                if let Some(target) = self.local(item) {
                    for verb in ["subscribe", "publish"] {
                        if let Some(op) = target.get(verb) {
                            let key = op
                                .get("operationId")
                                .and_then(Value::as_str)
                                .map(str::to_owned)
                                .unwrap_or_else(|| synthesized_operation_key(address, verb));
                            self.operations.insert(
                                key.clone(),
                                ref_obj(&format!(
                                    "/components/operations/{}",
                                    pointer::escape(&key)
                                )),
                            );
                        }
                    }
                }
                continue;
            }
            let mut ch = obj(item);
            ch.remove("x-channelId");
            ch.insert("address".into(), json!(address));
            if let Some(servers) = ch.get("servers").and_then(Value::as_array).cloned() {
                let refs: Vec<Value> = servers
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|s| ref_obj(&format!("/servers/{}", pointer::escape(s))))
                    .collect();
                ch.insert("servers".into(), Value::Array(refs));
            }
            if let Some(params) = ch.get("parameters").and_then(Value::as_object).cloned() {
                let converted: Map<String, Value> = params
                    .into_iter()
                    .map(|(k, v)| (k, self.parameter(&v)))
                    .collect();
                ch.insert("parameters".into(), Value::Object(converted));
            }
            let mut messages = Map::new();
            for (verb, action) in [("subscribe", "send"), ("publish", "receive")] {
                let Some(op) = ch.remove(verb) else { continue };
                let mut op = obj(&op);
                let key = op
                    .remove("operationId")
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_else(|| synthesized_operation_key(address, verb));
                let key = unique(key, &used_ops);
                used_ops.insert(key.clone());
                let op_ptr = format!("{op_base}/{}", pointer::escape(&key));
                self.renames.push((format!("{old}/{verb}"), op_ptr.clone()));
                self.settle_traits(&mut op);
                let mut refs = Vec::new();
                if let Some(msg) = op.remove("message") {
                    let old_msg = format!("{old}/{verb}/message");
                    let list: Vec<(Value, String, String)> =
                        match msg.get("oneOf").and_then(Value::as_array) {
                            Some(items) if msg.get("payload").is_none() => items
                                .iter()
                                .enumerate()
                                .map(|(i, m)| {
                                    (
                                        m.clone(),
                                        format!("{key}Message{}", i + 1),
                                        format!("{old_msg}/oneOf/{i}"),
                                    )
                                })
                                .collect(),
                            _ => vec![(msg.clone(), format!("{key}Message"), old_msg.clone())],
                        };
                    for (m, fallback, old_ptr) in list {
                        let mut mk = component_key(&self.message_key(&m, fallback));
                        let converted = if is_ref(&m) { m.clone() } else { message(&m) };
                        // The same message used by both operations keeps one entry.
                        match messages.get(&mk) {
                            Some(existing) if *existing == converted => {}
                            Some(_) => {
                                let used: HashSet<String> = messages.keys().cloned().collect();
                                mk = unique(mk, &used);
                                messages.insert(mk.clone(), converted);
                            }
                            None => {
                                messages.insert(mk.clone(), converted);
                            }
                        }
                        let msg_ptr = format!("{new}/messages/{}", pointer::escape(&mk));
                        self.renames.push((old_ptr, msg_ptr.clone()));
                        refs.push(ref_obj(&msg_ptr));
                    }
                }
                op.insert("action".into(), json!(action));
                op.insert("channel".into(), ref_obj(&new));
                if !refs.is_empty() {
                    op.insert("messages".into(), Value::Array(refs));
                }
                if let Some(sec) = op.get("security").cloned() {
                    op.insert("security".into(), self.security(&sec));
                }
                let op = sorted(
                    op,
                    &[
                        "action",
                        "channel",
                        "title",
                        "summary",
                        "description",
                        "security",
                        "tags",
                        "externalDocs",
                        "bindings",
                        "traits",
                        "messages",
                        "reply",
                    ],
                );
                if in_components {
                    self.component_operations.insert(key, op);
                } else {
                    self.operations.insert(key, op);
                }
            }
            if !messages.is_empty() {
                ch.insert("messages".into(), Value::Object(messages));
            }
            out.insert(
                id,
                sorted(
                    ch,
                    &[
                        "address",
                        "messages",
                        "title",
                        "summary",
                        "description",
                        "servers",
                        "parameters",
                        "tags",
                        "externalDocs",
                        "bindings",
                    ],
                ),
            );
        }
        out
    }
}

/// 2.x message → 3.x message: `schemaFormat` moves into a Multi Format Schema payload,
/// `messageId` disappears (it became the key).
fn message(m: &Value) -> Value {
    if is_ref(m) {
        return m.clone();
    }
    let mut m = obj(m);
    m.remove("messageId");
    if let Some(format) = m.remove("schemaFormat")
        && let Some(payload) = m.remove("payload")
    {
        m.insert(
            "payload".into(),
            json!({ "schemaFormat": format, "schema": payload }),
        );
    }
    Value::Object(m)
}

/// OAuth2 flows: `scopes` → `availableScopes`.
fn scheme(s: &Value) -> Value {
    let mut s = s.clone();
    if let Some(flows) = s.get_mut("flows").and_then(Value::as_object_mut) {
        for (_, flow) in flows.iter_mut() {
            if let Some(f) = flow.as_object_mut()
                && let Some(scopes) = f.remove("scopes")
            {
                f.insert("availableScopes".into(), scopes);
            }
        }
    }
    s
}

fn stringify(v: &Value) -> Value {
    match v {
        Value::String(_) => v.clone(),
        Value::Null => v.clone(),
        other => Value::String(other.to_string()),
    }
}

fn stringify_list(v: &Value) -> Value {
    match v.as_array() {
        Some(a) => Value::Array(a.iter().map(stringify).collect()),
        None => v.clone(),
    }
}

/// Rewrites local `$ref`s whose target moved: the longest matching old prefix wins.
fn rewrite_refs(v: &mut Value, renames: &[(String, String)]) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get_mut("$ref")
                && let Some(frag) = r.strip_prefix('#')
                && let Some(p) = pointer::from_fragment(frag)
            {
                let best = renames
                    .iter()
                    .filter(|(old, _)| {
                        p == *old
                            || (p.starts_with(old.as_str())
                                && p.as_bytes().get(old.len()) == Some(&b'/'))
                    })
                    .max_by_key(|(old, _)| old.len());
                if let Some((old, new)) = best {
                    *r = format!("#{new}{}", &p[old.len()..]);
                }
            }
            for (_, c) in m.iter_mut() {
                rewrite_refs(c, renames);
            }
        }
        Value::Array(a) => {
            for c in a {
                rewrite_refs(c, renames);
            }
        }
        _ => {}
    }
}
