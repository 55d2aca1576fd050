//! `bundle`: one self-contained document from a multi-file one.
//!
//! Every reference into another file is replaced: a target used once (and not recursive) is
//! inlined where it was referenced; a target used several times, or recursive, is moved once
//! into `components` under a stable name and referenced from there. References inside the root
//! file are kept as written.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Map, Value};

use crate::pointer;
use crate::source::FileId;
use crate::version::Version;
use crate::workspace::{Target, Workspace};

/// Bundles the document into one value.
pub fn bundle(ws: &Workspace, version: Version) -> Value {
    let Some(root) = ws.root() else {
        return Value::Null;
    };
    let mut b = Bundler::new(ws, version);
    let mut out = b.copy(root.file, "", root.value, "", 0);
    b.finish(&mut out);
    out
}

struct Bundler<'a> {
    ws: &'a Workspace,
    version: Version,
    root: FileId,
    counts: HashMap<Target, usize>,
    cyclic: HashSet<Target>,
    placed: HashMap<Target, String>,
    in_progress: Vec<Target>,
    added: BTreeMap<&'static str, Vec<(String, Value)>>,
    names: HashMap<&'static str, HashSet<String>>,
}

const MAX_DEPTH: usize = 256;

fn is_under(ptr: &str, prefix: &str) -> bool {
    ptr == prefix || (ptr.starts_with(prefix) && ptr.as_bytes().get(prefix.len()) == Some(&b'/'))
}

impl<'a> Bundler<'a> {
    fn new(ws: &'a Workspace, version: Version) -> Self {
        let root = ws.root_id();
        // One-hop targets of every reference that leaves the root file.
        let mut counts: HashMap<Target, usize> = HashMap::new();
        let mut edges: Vec<(FileId, String, Target)> = Vec::new();
        for site in ws.refs() {
            if let Ok(t) = ws.resolve_one(site.file, &site.reference)
                && t.file != root
            {
                *counts.entry(t.clone()).or_default() += 1;
                edges.push((site.file, site.pointer.clone(), t));
            }
        }
        // A target is cyclic when following references from inside it leads back to it.
        let targets: Vec<Target> = counts.keys().cloned().collect();
        let children = |t: &Target| -> Vec<Target> {
            edges
                .iter()
                .filter(|(f, p, _)| *f == t.file && is_under(p, &t.pointer))
                .map(|(_, _, c)| c.clone())
                .collect()
        };
        let mut cyclic = HashSet::new();
        for t in &targets {
            let mut stack = children(t);
            let mut seen: HashSet<Target> = HashSet::new();
            while let Some(c) = stack.pop() {
                if c == *t {
                    cyclic.insert(t.clone());
                    break;
                }
                if seen.insert(c.clone()) {
                    stack.extend(children(&c));
                }
            }
        }
        let mut names: HashMap<&'static str, HashSet<String>> = HashMap::new();
        if let Some(comp) = ws.get(root, "/components").and_then(Value::as_object) {
            for (kind, section) in comp {
                if let (Some(k), Some(m)) = (kind_static(kind), section.as_object()) {
                    names.entry(k).or_default().extend(m.keys().cloned());
                }
            }
        }
        Bundler {
            ws,
            version,
            root,
            counts,
            cyclic,
            placed: HashMap::new(),
            in_progress: Vec::new(),
            added: BTreeMap::new(),
            names,
        }
    }

    /// Copies the node at (`file`, `ptr`) to output path `out`, rewriting references.
    fn copy(&mut self, file: FileId, ptr: &str, v: &Value, out: &str, depth: usize) -> Value {
        if depth > MAX_DEPTH {
            return v.clone();
        }
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    return self.reference(file, m, r, out, depth);
                }
                let mut o = Map::with_capacity(m.len());
                for (k, child) in m {
                    let cp = pointer::join(ptr, k);
                    let co = pointer::join(out, k);
                    o.insert(k.clone(), self.copy(file, &cp, child, &co, depth + 1));
                }
                Value::Object(o)
            }
            Value::Array(a) => Value::Array(
                a.iter()
                    .enumerate()
                    .map(|(i, c)| {
                        self.copy(
                            file,
                            &format!("{ptr}/{i}"),
                            c,
                            &format!("{out}/{i}"),
                            depth + 1,
                        )
                    })
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    fn reference(
        &mut self,
        file: FileId,
        obj: &Map<String, Value>,
        r: &str,
        out: &str,
        depth: usize,
    ) -> Value {
        let Ok(t) = self.ws.resolve_one(file, r) else {
            // Broken references stay as written (the validator reports them).
            return Value::Object(obj.clone());
        };
        if t.file == self.root {
            let mut o = obj.clone();
            o.insert("$ref".into(), Value::String(format!("#{}", t.pointer)));
            return Value::Object(o);
        }
        if let Some(p) = self.placed.get(&t) {
            return ref_to(p);
        }
        let Some(target_value) = self.ws.get(t.file, &t.pointer) else {
            return Value::Object(obj.clone());
        };
        let recursing = self.in_progress.contains(&t);
        let kind = kind_for(out, self.version).or(if recursing || self.cyclic.contains(&t) {
            Some("schemas")
        } else {
            None
        });
        let shared = self.counts.get(&t).copied().unwrap_or(0) > 1;
        if let Some(kind) = kind
            && (shared || recursing || self.cyclic.contains(&t))
        {
            let name = self.name_for(kind, &t, out);
            let comp = format!("/components/{kind}/{}", pointer::escape(&name));
            self.placed.insert(t.clone(), comp.clone());
            self.in_progress.push(t.clone());
            let content = self.copy(t.file, &t.pointer, target_value, &comp, depth + 1);
            self.in_progress.pop();
            self.added.entry(kind).or_default().push((name, content));
            return ref_to(&comp);
        }
        // Inline, keeping sibling keys of the reference object (they win, as in the reference
        // tooling's "extended references").
        self.in_progress.push(t.clone());
        let mut content = self.copy(t.file, &t.pointer, target_value, out, depth + 1);
        self.in_progress.pop();
        if obj.len() > 1
            && let Value::Object(c) = &mut content
        {
            for (k, v) in obj.iter().filter(|(k, _)| *k != "$ref") {
                let v = self.copy(file, "", v, &pointer::join(out, k), depth + 1);
                c.insert(k.clone(), v);
            }
        }
        content
    }

    fn name_for(&mut self, kind: &'static str, t: &Target, out: &str) -> String {
        // A message referenced from a channel's `messages` keeps that key; otherwise the last
        // segment of the target, or the file's stem.
        let from_out = (kind == "messages"
            && pointer::parent(out).is_some_and(|p| p.ends_with("/messages")))
        .then(|| pointer::last(out))
        .flatten();
        let base = from_out
            .or_else(|| pointer::last(&t.pointer).filter(|s| !s.is_empty()))
            .unwrap_or_else(|| {
                let path = self.ws.file(t.file).source().path();
                path.file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or("component")
                    .to_owned()
            });
        let clean: String = base
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let clean = if clean.is_empty() {
            "component".to_owned()
        } else {
            clean
        };
        let used = self.names.entry(kind).or_default();
        let mut name = clean.clone();
        let mut n = 2;
        while used.contains(&name) {
            name = format!("{clean}_{n}");
            n += 1;
        }
        used.insert(name.clone());
        name
    }

    fn finish(&mut self, out: &mut Value) {
        if self.added.is_empty() {
            return;
        }
        let Value::Object(root) = out else { return };
        let comp = root
            .entry("components")
            .or_insert_with(|| Value::Object(Map::new()));
        if !comp.is_object() {
            *comp = Value::Object(Map::new());
        }
        let Value::Object(comp) = comp else { return };
        for (kind, entries) in std::mem::take(&mut self.added) {
            let section = comp
                .entry(kind)
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(s) = section {
                for (name, v) in entries {
                    s.insert(name, v);
                }
            }
        }
    }
}

fn ref_to(ptr: &str) -> Value {
    let mut m = Map::new();
    m.insert("$ref".into(), Value::String(format!("#{ptr}")));
    Value::Object(m)
}

fn kind_static(k: &str) -> Option<&'static str> {
    Some(match k {
        "schemas" => "schemas",
        "messages" => "messages",
        "parameters" => "parameters",
        "servers" => "servers",
        "channels" => "channels",
        "operations" => "operations",
        "correlationIds" => "correlationIds",
        "securitySchemes" => "securitySchemes",
        "messageTraits" => "messageTraits",
        "operationTraits" => "operationTraits",
        "serverVariables" => "serverVariables",
        _ => return None,
    })
}

const SCHEMA_KEYS: &[&str] = &[
    "payload",
    "headers",
    "items",
    "not",
    "additionalProperties",
    "additionalItems",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "schema",
    "key",
    "groupId",
    "clientId",
    "query",
    "correlationData",
];
const SCHEMA_MAPS: &[&str] = &[
    "properties",
    "patternProperties",
    "definitions",
    "allOf",
    "anyOf",
    "oneOf",
    "items",
];

/// Which `components` section a node at output path `out` belongs in, if any.
fn kind_for(out: &str, version: Version) -> Option<&'static str> {
    let segs: Vec<String> = pointer::parse(out)?;
    let n = segs.len();
    let seg = |i: usize| -> &str { segs.get(i).map_or("", String::as_str) };
    if n == 0 {
        return None;
    }
    if n == 3 && seg(0) == "components" {
        return kind_static(seg(1));
    }
    let last = seg(n - 1);
    let parent = if n >= 2 { seg(n - 2) } else { "" };
    let grand = if n >= 3 { seg(n - 3) } else { "" };
    let in_examples = segs.iter().any(|s| s == "examples");
    if in_examples {
        return None;
    }
    // Messages.
    if version.is_v2() && (last == "message" || (parent == "oneOf" && grand == "message")) {
        return Some("messages");
    }
    if version.is_v3() && parent == "messages" && n >= 4 && seg(0) == "channels" && n == 4 {
        return Some("messages");
    }
    // Schemas.
    if SCHEMA_KEYS.contains(&last) && !(last == "headers" && parent == "bindings") {
        return Some("schemas");
    }
    if SCHEMA_MAPS.contains(&parent) {
        return Some("schemas");
    }
    if parent == "parameters" {
        return Some("parameters");
    }
    if last == "correlationId" {
        return Some("correlationIds");
    }
    if parent == "traits" {
        let in_message = segs
            .iter()
            .any(|s| s == "message" || s == "messages" || s == "messageTraits");
        return Some(if in_message {
            "messageTraits"
        } else {
            "operationTraits"
        });
    }
    let v23 = version >= Version::V2_3;
    if n == 2 && seg(0) == "servers" && v23 {
        return Some("servers");
    }
    if n == 2 && seg(0) == "channels" && v23 {
        return Some("channels");
    }
    if n == 2 && seg(0) == "operations" && version.is_v3() {
        return Some("operations");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_from_context() {
        let v3 = Version::V3_0;
        assert_eq!(kind_for("/channels/a/messages/m", v3), Some("messages"));
        assert_eq!(
            kind_for("/channels/a/messages/m/payload", v3),
            Some("schemas")
        );
        assert_eq!(
            kind_for("/components/schemas/x/properties/y", v3),
            Some("schemas")
        );
        assert_eq!(
            kind_for("/channels/a/parameters/id", v3),
            Some("parameters")
        );
        assert_eq!(kind_for("/servers/prod", v3), Some("servers"));
        assert_eq!(kind_for("/info/description", v3), None);
        let v2 = Version::V2_6;
        assert_eq!(
            kind_for("/channels/a/publish/message", v2),
            Some("messages")
        );
        assert_eq!(
            kind_for("/channels/a/publish/message/oneOf/0", v2),
            Some("messages")
        );
        assert_eq!(
            kind_for("/channels/a/publish/message/payload/oneOf/0", v2),
            Some("schemas")
        );
    }
}
