//! Views of the IR: a human summary and a canonical, id-free JSON form used to compare the IR
//! of two documents (2.x against its 3.x conversion, a bundle against its source).

use std::fmt::Write as _;

use serde_json::{Map, Value, json};

use super::*;

/// A JSON Schema–like rendering of a schema with subschemas inlined; recursion is cut with
/// `{"$recursive": name}`.
pub fn schema_json(api: &Api, id: SchemaId) -> Value {
    let mut stack = Vec::new();
    schema_rec(api, id, &mut stack)
}

fn schema_rec(api: &Api, id: SchemaId, stack: &mut Vec<SchemaId>) -> Value {
    let s = api.schema(id);
    if stack.contains(&id) || stack.len() > 48 {
        return json!({ "$recursive": s.name.clone().unwrap_or_else(|| format!("#{}", id.0)) });
    }
    stack.push(id);
    let out = match &s.body {
        SchemaBody::Bool(b) => Value::Bool(*b),
        SchemaBody::Foreign(v) => json!({ "format": s.format, "schema": v }),
        SchemaBody::Object(o) => {
            let mut m = Map::new();
            let mut put = |k: &str, v: Value| {
                if !v.is_null() {
                    m.insert(k.to_owned(), v);
                }
            };
            match o.types.len() {
                0 => {}
                1 => put("type", json!(o.types[0])),
                _ => put("type", json!(o.types)),
            }
            put("format", json!(o.format));
            put("enum", json!(o.enum_values));
            put("const", o.const_value.clone().unwrap_or(Value::Null));
            put("default", o.default.clone().unwrap_or(Value::Null));
            if !o.required.is_empty() {
                put("required", json!(o.required));
            }
            let sub = |ids: &[(String, SchemaId)], stack: &mut Vec<SchemaId>| -> Value {
                Value::Object(
                    ids.iter()
                        .map(|(k, id)| (k.clone(), schema_rec(api, *id, stack)))
                        .collect(),
                )
            };
            if !o.properties.is_empty() {
                let p = sub(&o.properties, stack);
                put("properties", p);
            }
            if !o.pattern_properties.is_empty() {
                let p = sub(&o.pattern_properties, stack);
                put("patternProperties", p);
            }
            let one = |id: &Option<SchemaId>, stack: &mut Vec<SchemaId>| {
                id.map(|i| schema_rec(api, i, stack)).unwrap_or(Value::Null)
            };
            let ap = one(&o.additional_properties, stack);
            put("additionalProperties", ap);
            let items = match &o.items {
                Some(Items::Single(i)) => schema_rec(api, *i, stack),
                Some(Items::Tuple(l)) => {
                    Value::Array(l.iter().map(|i| schema_rec(api, *i, stack)).collect())
                }
                None => Value::Null,
            };
            put("items", items);
            for (k, list) in [
                ("allOf", &o.all_of),
                ("anyOf", &o.any_of),
                ("oneOf", &o.one_of),
            ] {
                if !list.is_empty() {
                    let v = Value::Array(list.iter().map(|i| schema_rec(api, *i, stack)).collect());
                    put(k, v);
                }
            }
            let not = one(&o.not, stack);
            put("not", not);
            put("minimum", json!(o.minimum));
            put("maximum", json!(o.maximum));
            put("minLength", json!(o.min_length));
            put("maxLength", json!(o.max_length));
            put("pattern", json!(o.pattern));
            put("minItems", json!(o.min_items));
            put("maxItems", json!(o.max_items));
            put("discriminator", json!(o.discriminator));
            Value::Object(m)
        }
    };
    stack.pop();
    out
}

/// Bindings as JSON with schema ids replaced by their schemas.
fn bindings_json<T: serde::Serialize>(api: &Api, b: &T) -> Value {
    const SCHEMA_FIELDS: &[&str] = &[
        "query",
        "headers",
        "key",
        "group_id",
        "client_id",
        "correlation_data",
        "schema",
    ];
    fn walk(api: &Api, v: Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.into_iter()
                    .map(|(k, v)| {
                        let v = match (&v, SCHEMA_FIELDS.contains(&k.as_str())) {
                            (Value::Number(n), true) => match n.as_u64() {
                                Some(i) if (i as usize) < api.schemas.len() => {
                                    schema_json(api, SchemaId(i as u32))
                                }
                                _ => v,
                            },
                            _ => walk(api, v),
                        };
                        (k, v)
                    })
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.into_iter().map(|x| walk(api, x)).collect()),
            other => other,
        }
    }
    // Raw bindings of other protocols, and the 2.x-only HTTP `type`, are left out: 3.x cannot
    // express some of them, so a 2.x document and its conversion may differ there.
    let mut v = serde_json::to_value(b).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.remove("other");
        if let Some(Value::Object(h)) = m.get_mut("http") {
            h.remove("kind");
        }
    }
    walk(api, v)
}

fn message_keys(api: &Api, ids: &[MessageId]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|m| api.message(*m).key.clone()).collect();
    v.sort();
    v
}

fn channel_name(api: &Api, id: ChannelId) -> String {
    let c = api.channel(id);
    c.address.clone().unwrap_or_else(|| format!("<{}>", c.key))
}

/// An id-free, key-sorted JSON form of the IR: channels by address, operations by key,
/// messages by key with their schemas inlined. Two documents that describe the same API have
/// equal canonical forms whatever their version or file layout.
pub fn canonical(api: &Api) -> Value {
    let mut servers = Map::new();
    for s in &api.servers {
        servers.insert(
            s.key.clone(),
            json!({
                "host": s.host,
                "pathname": s.pathname,
                "protocol": s.protocol,
                "protocolVersion": s.protocol_version,
                "bindings": bindings_json(api, &s.bindings),
                "variables": s.variables.iter().map(|v| (v.name.clone(), json!({"enum": v.allowed, "default": v.default}))).collect::<Map<_, _>>(),
                "security": s.security.iter().map(|r| json!({"type": api.security_scheme(r.scheme).kind, "scopes": r.scopes})).collect::<Vec<_>>(),
            }),
        );
    }
    let mut channels = Map::new();
    for (i, c) in api.channels.iter().enumerate() {
        let id = ChannelId(i as u32);
        let mut servers: Vec<String> = c
            .servers
            .iter()
            .map(|s| api.server(*s).key.clone())
            .collect();
        servers.sort();
        channels.insert(
            channel_name(api, id),
            json!({
                "parameters": c.parameters.iter().map(|p| p.name.clone()).collect::<Vec<_>>(),
                "messages": message_keys(api, &c.messages),
                "servers": servers,
                "bindings": bindings_json(api, &c.bindings),
            }),
        );
    }
    let mut operations = Map::new();
    for o in &api.operations {
        operations.insert(
            o.key.clone(),
            json!({
                "action": o.action,
                "channel": channel_name(api, o.channel),
                "messages": message_keys(api, &o.messages),
                "reply": o.reply.as_ref().map(|r| json!({
                    "address": r.address.as_ref().map(|a| a.location.clone()),
                    "channel": r.channel.map(|c| channel_name(api, c)),
                    "messages": message_keys(api, &r.messages),
                })),
                "security": o.security.iter().map(|r| json!({"type": api.security_scheme(r.scheme).kind, "scopes": r.scopes})).collect::<Vec<_>>(),
                "bindings": bindings_json(api, &o.bindings),
            }),
        );
    }
    let mut messages = Map::new();
    for m in &api.messages {
        messages.insert(
            m.key.clone(),
            json!({
                "contentType": m.content_type,
                "payload": m.payload.map(|p| schema_json(api, p)),
                "headers": m.headers.map(|h| schema_json(api, h)),
                "correlationId": m.correlation_id.as_ref().map(|c| c.location.clone()),
                "examples": m.examples.len(),
                "bindings": bindings_json(api, &m.bindings),
            }),
        );
    }
    json!({
        "info": { "title": api.info.title, "version": api.info.version },
        "servers": sort(servers),
        "channels": sort(channels),
        "operations": sort(operations),
        "messages": sort(messages),
    })
}

fn sort(m: Map<String, Value>) -> Value {
    let mut entries: Vec<(String, Value)> = m.into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Value::Object(entries.into_iter().collect())
}

/// A human summary: what a template author or a debugging user wants to see first.
pub fn summary(api: &Api) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {} (AsyncAPI {})",
        api.info.title, api.info.version, api.source_version
    );
    if let Some(ct) = &api.default_content_type {
        let _ = writeln!(out, "default content type: {ct}");
    }
    let _ = writeln!(out, "\nservers ({}):", api.servers.len());
    for s in &api.servers {
        let _ = writeln!(
            out,
            "  {:<16} {}://{}{}",
            s.key,
            s.protocol,
            s.host,
            s.pathname.as_deref().unwrap_or("")
        );
    }
    let _ = writeln!(out, "\nchannels ({}):", api.channels.len());
    for c in &api.channels {
        let params: Vec<&str> = c.parameters.iter().map(|p| p.name.as_str()).collect();
        let address = c.address.as_deref().unwrap_or("<dynamic>");
        let _ = writeln!(
            out,
            "  {}{}",
            if address == c.key {
                address.to_owned()
            } else {
                format!("{:<16} {address}", c.key)
            },
            if params.is_empty() {
                String::new()
            } else {
                format!("  params: {}", params.join(", "))
            }
        );
        let keys: Vec<String> = c
            .messages
            .iter()
            .map(|m| api.message(*m).key.clone())
            .collect();
        if !keys.is_empty() {
            let _ = writeln!(out, "      messages: {}", keys.join(", "));
        }
    }
    let _ = writeln!(out, "\noperations ({}):", api.operations.len());
    for o in &api.operations {
        let verb = match o.action {
            Action::Send => "send   ",
            Action::Receive => "receive",
        };
        let keys: Vec<String> = o
            .messages
            .iter()
            .map(|m| api.message(*m).key.clone())
            .collect();
        let _ = writeln!(
            out,
            "  {verb} {:<24} on {:<16} [{}]",
            o.key,
            api.channel(o.channel).key,
            keys.join(", ")
        );
        if let Some(r) = &o.reply {
            let target = r
                .channel
                .map(|c| api.channel(c).key.clone())
                .or_else(|| r.address.as_ref().map(|a| a.location.clone()))
                .unwrap_or_default();
            let keys: Vec<String> = r
                .messages
                .iter()
                .map(|m| api.message(*m).key.clone())
                .collect();
            let _ = writeln!(out, "          reply on {target} [{}]", keys.join(", "));
        }
    }
    let _ = writeln!(out, "\nmessages ({}):", api.messages.len());
    for m in &api.messages {
        let payload = m
            .payload
            .map(|p| {
                let s = api.schema(p);
                s.name.clone().unwrap_or_else(|| match &s.body {
                    SchemaBody::Object(o) if !o.types.is_empty() => {
                        format!("{:?}", o.types[0]).to_lowercase()
                    }
                    _ => "schema".into(),
                })
            })
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(
            out,
            "  {:<24} {:<20} payload: {payload}",
            m.key,
            m.content_type.as_deref().unwrap_or("-")
        );
    }
    let _ = writeln!(
        out,
        "\nschemas: {}, security schemes: {}",
        api.schemas.len(),
        api.security_schemes.len()
    );
    out
}
