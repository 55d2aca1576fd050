//! Examples and defaults checked against their schemas (JSON Schema draft-07 via `jsonschema`).
//!
//! References inside schemas are resolved by a registry that holds every file of the workspace
//! under a `file://` URI, so `#/components/schemas/…` and `other.yaml#/…` work as they do for
//! the structure checks.

use std::collections::HashSet;

use jsonschema::{Draft, Registry, Validator};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde_json::Value;

use super::{At, Ctx};
use crate::diagnostic::Severity;
use crate::source::FileId;
use crate::structure::is_ref;
use crate::workspace::Workspace;

const PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'%');

const FRAGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'%')
    .add(b'|')
    .add(b'^')
    .add(b'[')
    .add(b']')
    .add(b'\\');

fn file_uri(ws: &Workspace, file: FileId) -> String {
    let key = ws.file(file).key();
    if key.starts_with("http://") || key.starts_with("https://") {
        return key.to_owned();
    }
    let p = utf8_percent_encode(key, PATH).to_string();
    if p.starts_with('/') {
        format!("file://{p}")
    } else {
        format!("file:///{p}")
    }
}

/// Compiles schemas on demand against one registry of all workspace files.
pub(crate) struct SchemaCheck<'a> {
    ws: &'a Workspace,
    registry: Option<Registry<'a>>,
}

impl<'a> SchemaCheck<'a> {
    pub fn new(ws: &'a Workspace) -> Self {
        let resources: Vec<(String, &'a Value)> = ws
            .files()
            .filter_map(|(id, f)| f.value().map(|v| (file_uri(ws, id), v)))
            .collect();
        let registry = Registry::new()
            .draft(Draft::Draft7)
            .extend(resources)
            .and_then(|b| b.prepare())
            .ok();
        SchemaCheck { ws, registry }
    }

    /// Compiles the schema at `at`; `Err` holds the reason it cannot be compiled.
    pub fn compile(&self, at: &At<'_>) -> Result<Validator, String> {
        let Some(registry) = &self.registry else {
            return Err(
                "the document's files could not be indexed as JSON Schema resources".into(),
            );
        };
        // Compile a reference to the node in place, so that its own `$ref`s resolve against the
        // file it is written in, exactly as the document's references do.
        let target = format!(
            "{}#{}",
            file_uri(self.ws, at.file),
            utf8_percent_encode(&at.ptr, FRAGMENT)
        );
        jsonschema::options()
            .with_draft(Draft::Draft7)
            .with_base_uri("urn:asyncforge:check")
            .with_registry(registry)
            .build(&serde_json::json!({ "$ref": target }))
            .map_err(|e| e.to_string())
    }
}

/// Validates `instance` (a node of the document) against a compiled schema and reports each
/// error at the instance's own location (down to the failing property).
pub(crate) fn report_instance(
    cx: &mut Ctx<'_>,
    code: &'static str,
    severity: Severity,
    (validator, schema): (&Validator, &At<'_>),
    instance: &At<'_>,
    what: &str,
) {
    let errors: Vec<(String, String)> = validator
        .iter_errors(instance.v)
        .map(|e| (e.instance_path().to_string(), e.to_string()))
        .take(20)
        .collect();
    for (path, msg) in errors {
        let null = instance.v.pointer(&path).is_some_and(Value::is_null);
        let help = (null && says_nullable(cx, schema, &path)).then(|| {
            "`nullable` is an OpenAPI keyword that AsyncAPI schemas do not know; to allow `null`, \
             write it into the type: `type: [string, \"null\"]`"
                .to_owned()
        });
        let ptr = format!("{}{}", instance.ptr, path);
        let v = cx.ws.get(instance.file, &ptr).unwrap_or(instance.v);
        let at = At {
            file: instance.file,
            ptr,
            v,
        };
        let place = if path.is_empty() {
            String::new()
        } else {
            format!(" at `{path}`")
        };
        cx.emit_as(
            code,
            severity,
            &at,
            format!("{what} is not valid against its schema{place}: {msg}"),
            false,
        )
        .help = help;
    }
}

/// Whether the schema that `path` (a JSON pointer into an instance) reaches from `schema` says
/// `nullable: true` (followed through `properties`, `items`, `additionalProperties` and the
/// branches of `allOf`/`anyOf`/`oneOf`).
fn says_nullable(cx: &Ctx<'_>, schema: &At<'_>, path: &str) -> bool {
    let mut nodes = vec![schema.clone()];
    let segments = path
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"));
    for segment in segments {
        let mut next = Vec::new();
        for node in with_branches(cx, nodes) {
            if let Some(p) = node.child("properties").and_then(|p| p.child(&segment)) {
                next.push(p);
            } else if let Some(i) = node.child("items").filter(|i| i.v.is_object()) {
                next.push(i);
            } else if let Some(a) = node
                .child("additionalProperties")
                .filter(|a| a.v.is_object())
            {
                next.push(a);
            }
        }
        nodes = next;
    }
    with_branches(cx, nodes)
        .iter()
        .any(|n| n.v.get("nullable") == Some(&Value::Bool(true)))
}

/// The schemas, dereferenced, with the branches of their `allOf`/`anyOf`/`oneOf` (bounded, so
/// a recursive schema cannot make this grow without end).
fn with_branches<'a>(cx: &Ctx<'a>, nodes: Vec<At<'a>>) -> Vec<At<'a>> {
    const MOST: usize = 64;
    let mut out: Vec<At<'a>> = Vec::new();
    let mut stack = nodes;
    while let Some(node) = stack.pop() {
        if out.len() >= MOST {
            break;
        }
        let Some(node) = cx.deref(&node) else {
            continue;
        };
        for key in ["allOf", "anyOf", "oneOf"] {
            if let Some(list) = node.child(key).filter(|l| l.v.is_array()) {
                stack.extend(list.items());
            }
        }
        out.push(node);
    }
    out
}

/// Whether a message's payload is written in JSON Schema / AsyncAPI Schema (the only formats
/// whose examples we can check).
fn json_schema_format(format: Option<&str>) -> bool {
    match format {
        None => true,
        Some(f) => {
            let f = f.to_ascii_lowercase();
            f.starts_with("application/vnd.aai.asyncapi")
                || f.starts_with("application/schema+json")
                || f.starts_with("application/schema+yaml")
        }
    }
}

/// The schema node of a payload/headers field: plain schema, or the `schema` of a 3.x
/// Multi Format Schema Object. `None` when it is not JSON Schema.
fn schema_node<'a>(cx: &Ctx<'a>, field: &At<'a>, message_format: Option<&str>) -> Option<At<'a>> {
    let node = cx.deref(field)?;
    if cx.version.is_v3()
        && let Some(schema) = node.child("schema")
        && node.v.get("schemaFormat").is_some()
    {
        if !json_schema_format(node.str("schemaFormat")) {
            return None;
        }
        return Some(schema);
    }
    if !json_schema_format(message_format) {
        return None;
    }
    Some(field.clone())
}

/// Checks `examples` of one message against its payload and headers.
pub(crate) fn message_examples(
    cx: &mut Ctx<'_>,
    sc: &SchemaCheck<'_>,
    message: &At<'_>,
    code: &'static str,
) {
    let Some(examples) = message.child("examples") else {
        return;
    };
    let format = message.str("schemaFormat");
    let severity = rule_severity(code);
    let mut validators: Vec<(&str, Option<(Validator, At<'_>)>)> = Vec::new();
    for key in ["payload", "headers"] {
        let schema = message
            .child(key)
            .and_then(|f| schema_node(cx, &f, if key == "payload" { format } else { None }));
        let v = match schema {
            Some(s) => match sc.compile(&s) {
                Ok(v) => Some((v, s)),
                Err(why) => {
                    cx.emit(
                        "asyncapi-schema-uncompilable",
                        &s,
                        format!("{key} schema cannot be compiled, so message examples were not checked against it: {why}"),
                    );
                    None
                }
            },
            None => None,
        };
        validators.push((key, v));
    }
    for ex in examples.items() {
        let Some(ex) = cx.deref(&ex) else { continue };
        for (key, validator) in &validators {
            let (Some((val, schema)), Some(instance)) = (validator, ex.child(key)) else {
                continue;
            };
            report_instance(
                cx,
                code,
                severity,
                (val, schema),
                &instance,
                &format!("example {key}"),
            );
        }
    }
}

/// The registry's severity of a rule (`Error` for a code it does not know).
fn rule_severity(code: &str) -> Severity {
    super::info(code).map_or(Severity::Error, |r| r.severity)
}

/// Walks schema trees, checking every `default` and `examples` against the schema that holds it.
pub(crate) struct SchemaWalker {
    seen: HashSet<(FileId, String)>,
    /// Schemas the reference validator checks itself (payloads, `components.schemas`, …).
    tops: HashSet<(FileId, String)>,
}

const SCHEMA_MAPS: &[&str] = &[
    "properties",
    "patternProperties",
    "definitions",
    "dependencies",
];
const SCHEMA_SINGLE: &[&str] = &[
    "additionalProperties",
    "additionalItems",
    "contains",
    "not",
    "if",
    "then",
    "else",
    "propertyNames",
    "items",
];
const SCHEMA_LISTS: &[&str] = &["allOf", "anyOf", "oneOf", "items"];

impl SchemaWalker {
    pub fn new() -> Self {
        SchemaWalker {
            seen: HashSet::new(),
            tops: HashSet::new(),
        }
    }

    /// Registers an outermost schema before any walking, so that it is judged as one even when
    /// another schema reaches it first.
    pub fn register_top(&mut self, node: &At<'_>) {
        self.tops.insert((node.file, node.ptr.clone()));
    }

    pub fn walk(
        &mut self,
        cx: &mut Ctx<'_>,
        sc: &SchemaCheck<'_>,
        schema: &At<'_>,
        codes: (&'static str, &'static str),
    ) {
        // The outermost schema is checked as the reference validator does (errors); schemas
        // nested inside it, which the reference never looks at, are reported as warnings.
        let mut stack = vec![schema.clone()];
        while let Some(node) = stack.pop() {
            let Some(node) = cx.deref(&node) else {
                continue;
            };
            let top = self.tops.contains(&(node.file, node.ptr.clone()));
            // Nested schemas are at most warnings.
            let severity = |code| {
                if top {
                    rule_severity(code)
                } else {
                    Severity::Warning
                }
            };
            let what_default = if top {
                "`default`"
            } else {
                "`default` of a nested schema"
            };
            let what_example = if top {
                "example"
            } else {
                "example of a nested schema"
            };
            if !node.v.is_object() || !self.seen.insert((node.file, node.ptr.clone())) {
                continue;
            }
            let has_default = node.v.get("default").is_some();
            let examples = node.child("examples").filter(|e| e.v.is_array());
            if (has_default || examples.is_some()) && !is_ref(node.v) {
                match sc.compile(&node) {
                    Ok(validator) => {
                        if let Some(d) = node.child("default") {
                            report_instance(
                                cx,
                                codes.0,
                                severity(codes.0),
                                (&validator, &node),
                                &d,
                                what_default,
                            );
                        }
                        if let Some(ex) = &examples {
                            for e in ex.items() {
                                report_instance(
                                    cx,
                                    codes.1,
                                    severity(codes.1),
                                    (&validator, &node),
                                    &e,
                                    what_example,
                                );
                            }
                        }
                    }
                    Err(why) => {
                        cx.emit(
                            "asyncapi-schema-uncompilable",
                            &node,
                            format!("schema cannot be compiled, so its `default` and `examples` were not checked: {why}"),
                        );
                    }
                }
            }
            // The subschemas, found in one pass over the schema's keys (a lookup per keyword
            // costs more) and pushed in the keyword tables' order.
            let mut found: Vec<(usize, At<'_>)> = Vec::new();
            for (key, value) in node.v.as_object().into_iter().flatten() {
                let groups = [
                    (0, SCHEMA_MAPS, true),
                    (SCHEMA_MAPS.len(), SCHEMA_SINGLE, value.is_object()),
                    (
                        SCHEMA_MAPS.len() + SCHEMA_SINGLE.len(),
                        SCHEMA_LISTS,
                        value.is_array(),
                    ),
                ];
                for (offset, table, fits) in groups {
                    if let Some(i) = table.iter().position(|k| k == key)
                        && fits
                    {
                        let child = At {
                            file: node.file,
                            ptr: crate::pointer::join(&node.ptr, key),
                            v: value,
                        };
                        found.push((offset + i, child));
                    }
                }
            }
            found.sort_by_key(|(order, _)| *order);
            for (order, child) in found {
                if order < SCHEMA_MAPS.len() {
                    stack.extend(child.entries().into_iter().map(|(_, s)| s));
                } else if order < SCHEMA_MAPS.len() + SCHEMA_SINGLE.len() {
                    stack.push(child);
                } else {
                    stack.extend(child.items());
                }
            }
        }
    }
}
