//! Structural validation against the official AsyncAPI JSON Schemas.
//!
//! For every corpus document, asyncforge's structural verdict (`structure::validate`) must equal
//! the verdict of the official meta-schema (validated with the `jsonschema` crate, draft-07)
//! on both the document as written and a fully dereferenced copy of it, except for the
//! deliberate disagreements listed in [`DISAGREEMENTS`]. Focused tests follow.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use asyncforge_spec::structure::{self, codes};
use asyncforge_spec::{Diagnostic, FileId, LoadOptions, Severity, Version, Workspace, pointer};
use jsonschema::{Draft, Validator};
use serde_json::Value;

fn corpus() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    p.join("expected.jsonl").exists().then_some(p)
}

/// Documents where asyncforge's structural verdict differs from the official schema's, on
/// purpose: `(document, reason)`.
///
/// Other deliberate differences, not met in the corpus (found by mutating corpus documents):
/// - a `$ref` where the official schema says `oneOf: [Reference, Schema]` (ws `query`/`headers`,
///   mqtt intervals, `correlationData`, `responseTopic`, kafka 0.5.0 `key`, anypointmq `headers`)
///   matches both branches, so the official schema rejects every such `$ref`; we accept it;
/// - a Parameter Object that is not an object: the official `parameter.json` has no
///   `type: object`; we require an object;
/// - 3.x component names (and 2.x security scheme and correlation ID names) that do not match
///   `^[A-Za-z0-9_.-]+$`: the specification requires it, the official schema only checks the
///   names that match;
/// - `$ref`s and URIs with characters RFC 3986 wants percent-encoded (`{}`, `[]`): accepted.
const DISAGREEMENTS: &[(&str, &str)] = &[
    (
        "examples/3.0.0/adeo-kafka-request-reply-asyncapi.yml",
        "a Kafka message `key` is a remote `$ref` we do not fetch (reported once as `ref-remote`); the official `oneOf: [Reference, Schema]` matches an unresolved `$ref` twice and fails",
    ),
    (
        "realworld/jonaslagoni__nats-config-proxy__asyncapi.json",
        "2.0-2.4 Parameter Objects have their own `$ref` field, so in the raw document `{$ref}` matches both branches of the official `oneOf`; it is a valid Reference Object (@asyncapi/parser agrees)",
    ),
    (
        "realworld/position-pal__location-service__docs_asyncapi.yml",
        "`$ref` fragments with unencoded `{`/`}` (channel names): the `jsonschema` crate's strict RFC 3986 `uri-reference` rejects them; we, like @asyncapi/parser, accept and resolve them",
    ),
    (
        "realworld/SENERGY-Platform__mqtt-platform-connector__docs_asyncapi.json",
        "`$ref` fragments with unencoded `[`/`]` (channel names): strict RFC 3986 `uri-reference` in the `jsonschema` crate; accepted by us and by @asyncapi/parser",
    ),
];

// ---------------------------------------------------------------------------------------------
// The official verdict.

/// Validators built from one official meta-schema: one for the document as written, one for
/// the dereferenced document.
struct Official {
    raw: Validator,
    resolved: Validator,
}

impl Official {
    fn new(root: &Path, version: Version) -> Official {
        let path = root.join(format!("meta-schemas/{}.json", version.as_str()));
        let text = std::fs::read_to_string(&path).expect("read meta-schema");
        let schema: Value = serde_json::from_str(&text).expect("meta-schema is JSON");
        let raw = build(&schema);
        let resolved = if version.is_v3() {
            build(&resolved_v3(schema, version))
        } else {
            build(&schema)
        };
        Official { raw, resolved }
    }
}

fn build(schema: &Value) -> Validator {
    jsonschema::options()
        .with_draft(Draft::Draft7)
        .build(schema)
        .expect("the meta-schema compiles")
}

/// In 3.x, an operation's `channel`/`messages` (and a reply's) and a channel's `servers` must be
/// Reference Objects. Once references are inlined, the official validator (`@asyncapi/parser`)
/// checks those places against the referenced object's schema instead; so do we.
fn resolved_v3(mut schema: Value, version: Version) -> Value {
    let def = |name: &str| {
        format!(
            "http://asyncapi.com/definitions/{}/{name}",
            version.as_str()
        )
    };
    let patches = [
        ("channel.json", "/properties/servers/items", "server.json"),
        ("operation.json", "/properties/channel", "channel.json"),
        (
            "operation.json",
            "/properties/messages/items",
            "messageObject.json",
        ),
        ("operationReply.json", "/properties/channel", "channel.json"),
        (
            "operationReply.json",
            "/properties/messages/items",
            "messageObject.json",
        ),
    ];
    for (object, at, target) in patches {
        let ptr = format!("/definitions/{}{at}", pointer::escape(&def(object)));
        let slot = schema.pointer_mut(&ptr).expect("patched place exists");
        *slot = serde_json::json!({ "$ref": def(target) });
    }
    schema
}

/// Inlines every resolvable `$ref` (recursively), keeping a `$ref` as written where inlining it
/// would recurse into itself.
struct Deref<'a> {
    ws: &'a Workspace,
    stack: Vec<(FileId, String)>,
    done: HashMap<(FileId, String), Value>,
}

impl Deref<'_> {
    /// Returns the inlined value and whether a self-reference was kept inside it.
    fn value(&mut self, file: FileId, ptr: &str, v: &Value) -> (Value, bool) {
        match v {
            Value::Object(m) => {
                if m.get("$ref").is_some_and(Value::is_string) {
                    let Some(t) = self.ws.ref_target(file, ptr).cloned() else {
                        return (v.clone(), false);
                    };
                    let key = (t.file, t.pointer.clone());
                    if self.stack.contains(&key) {
                        return (v.clone(), true);
                    }
                    if let Some(done) = self.done.get(&key) {
                        return (done.clone(), false);
                    }
                    let Some(target) = self.ws.get(t.file, &t.pointer) else {
                        return (v.clone(), false);
                    };
                    self.stack.push(key.clone());
                    let (out, cut) = self.value(t.file, &t.pointer, target);
                    self.stack.pop();
                    if !cut {
                        self.done.insert(key, out.clone());
                    }
                    return (out, cut);
                }
                let mut cut = false;
                let mut out = serde_json::Map::new();
                for (k, child) in m {
                    let (c, child_cut) = self.value(file, &pointer::join(ptr, k), child);
                    cut |= child_cut;
                    out.insert(k.clone(), c);
                }
                (Value::Object(out), cut)
            }
            Value::Array(a) => {
                let mut cut = false;
                let mut out = Vec::with_capacity(a.len());
                for (i, child) in a.iter().enumerate() {
                    let (c, child_cut) = self.value(file, &format!("{ptr}/{i}"), child);
                    cut |= child_cut;
                    out.push(c);
                }
                (Value::Array(out), cut)
            }
            _ => (v.clone(), false),
        }
    }
}

fn dereference(ws: &Workspace) -> Option<Value> {
    let root = ws.root()?;
    let mut d = Deref {
        ws,
        stack: Vec::new(),
        done: HashMap::new(),
    };
    Some(d.value(root.file, "", root.value).0)
}

/// The most precise reasons the official schema rejects `doc`: the deepest errors under each
/// failing `oneOf`/`anyOf`.
fn first_errors(validator: &Validator, doc: &Value, n: usize) -> Vec<String> {
    fn leaves(e: &jsonschema::ValidationError<'_>, out: &mut Vec<(usize, String)>) {
        use jsonschema::error::ValidationErrorKind as K;
        let context = match e.kind() {
            K::AnyOf { context } | K::OneOfNotValid { context } => Some(context),
            _ => None,
        };
        match context {
            Some(branches) if !branches.is_empty() => {
                for b in branches {
                    for e in b {
                        leaves(e, out);
                    }
                }
            }
            _ => {
                let path = e.instance_path().to_string();
                let msg: String = e.to_string().chars().take(160).collect();
                out.push((path.matches('/').count(), format!("{msg} at `{path}`")));
            }
        }
    }
    let mut out = Vec::new();
    for e in validator.iter_errors(doc).take(n) {
        let mut l = Vec::new();
        leaves(&e, &mut l);
        l.sort_by_key(|e| std::cmp::Reverse(e.0));
        out.extend(l.into_iter().take(3).map(|(_, m)| m));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// asyncforge's verdict.

fn describe(ws: &Workspace, d: &Diagnostic) -> String {
    match &d.location {
        Some(l) => format!(
            "{}:{}:{} {} [{}] {}",
            ws.file(l.file)
                .source()
                .display_name()
                .rsplit('/')
                .next()
                .unwrap_or_default(),
            l.span.start.line,
            l.span.start.col,
            l.pointer,
            d.code,
            d.message
        ),
        None => format!("[{}] {}", d.code, d.message),
    }
}

#[test]
fn corpus_structure_matches_the_official_schemas() {
    let Some(root) = corpus() else {
        eprintln!("skipped: ../shared/corpus is absent");
        return;
    };
    let expected =
        std::fs::read_to_string(root.join("expected.jsonl")).expect("read expected.jsonl");
    let mut officials: HashMap<Version, Official> = HashMap::new();
    let (mut compared, mut agree, mut allowed) = (0, 0, 0);
    let mut unexplained = Vec::new();
    let mut used = Vec::new();
    println!(
        "{:<90} {:>5} {:>5} {:>5}  note",
        "document", "ours", "raw", "deref"
    );
    for line in expected.lines().filter(|l| !l.trim().is_empty()) {
        let e: Value = serde_json::from_str(line).expect("jsonl");
        let doc = e["doc"].as_str().expect("doc");
        let mut load_diags = Vec::new();
        let ws = Workspace::load(&root.join(doc), &LoadOptions::default(), &mut load_diags);
        let Some(node) = ws.root() else {
            println!("{doc:<90} skipped: the root does not load");
            continue;
        };
        let Some(version) = node
            .value
            .get("asyncapi")
            .and_then(Value::as_str)
            .and_then(Version::parse)
        else {
            println!("{doc:<90} skipped: no supported `asyncapi` version");
            continue;
        };
        compared += 1;
        let diags = structure::validate(&ws, version);
        let errors: Vec<&Diagnostic> = diags
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .collect();
        let ours = errors.is_empty();

        let official = officials
            .entry(version)
            .or_insert_with(|| Official::new(&root, version));
        let raw_ok = official.raw.is_valid(node.value);
        let resolved = dereference(&ws).expect("root loads");
        let deref_ok = official.resolved.is_valid(&resolved);
        let theirs = raw_ok && deref_ok;

        let allow = DISAGREEMENTS.iter().find(|(d, _)| *d == doc);
        let note = if ours == theirs {
            agree += 1;
            if allow.is_some() {
                "agrees, but listed as a disagreement"
            } else {
                ""
            }
        } else if let Some((_, reason)) = allow {
            allowed += 1;
            used.push(doc.to_owned());
            reason
        } else {
            unexplained.push(doc.to_owned());
            "MISMATCH"
        };
        let v = |b: bool| if b { "ok" } else { "ERR" };
        println!(
            "{doc:<90} {:>5} {:>5} {:>5}  {note}",
            v(ours),
            v(raw_ok),
            v(deref_ok)
        );
        if ours != theirs
            || std::env::var_os("STRUCTURE_CORPUS_DETAILS").is_some() && !(ours && theirs)
        {
            for d in load_diags.iter().filter(|d| d.is_error()).take(3) {
                println!("      load: {}", describe(&ws, d));
            }
            for d in errors.iter().take(5) {
                println!("      ours: {}", describe(&ws, d));
            }
            if !raw_ok {
                for m in first_errors(&official.raw, node.value, 3) {
                    println!("      raw:  {m}");
                }
            }
            if !deref_ok {
                for m in first_errors(&official.resolved, &resolved, 3) {
                    println!("      deref: {m}");
                }
            }
        }
    }
    println!(
        "\n{compared} documents compared: {agree} agree, {allowed} allow-listed disagreements, {} unexplained",
        unexplained.len()
    );
    let stale: Vec<&str> = DISAGREEMENTS
        .iter()
        .map(|(d, _)| *d)
        .filter(|d| !used.iter().any(|u| u == d))
        .collect();
    assert!(
        stale.is_empty(),
        "listed disagreements that are not (or no longer) disagreements: {stale:?}"
    );
    assert!(
        unexplained.is_empty(),
        "verdicts differ from the official schemas for: {unexplained:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Focused tests.

fn validate(yaml: &str) -> Vec<Diagnostic> {
    let mut load = Vec::new();
    let ws = Workspace::load_text(
        Path::new("/nonexistent/asyncapi.yaml"),
        yaml.as_bytes(),
        &LoadOptions::default(),
        &mut load,
    );
    assert!(load.is_empty(), "load diagnostics: {load:#?}");
    let root = ws.root().expect("parses");
    let version = root
        .value
        .get("asyncapi")
        .and_then(Value::as_str)
        .and_then(Version::parse)
        .expect("supported version");
    structure::validate(&ws, version)
}

/// `(code, pointer, line, column)` of every error.
fn errors(diags: &[Diagnostic]) -> Vec<(&'static str, String, u32, u32)> {
    diags
        .iter()
        .filter(|d| d.is_error())
        .map(|d| {
            let l = d.location.as_ref().expect("located");
            (
                d.code,
                l.pointer.clone(),
                l.span.start.line,
                l.span.start.col,
            )
        })
        .collect()
}

fn only_error(diags: &[Diagnostic]) -> &Diagnostic {
    let errors: Vec<&Diagnostic> = diags.iter().filter(|d| d.is_error()).collect();
    assert_eq!(errors.len(), 1, "expected one error: {errors:#?}");
    errors[0]
}

#[test]
fn unknown_field_suggests_the_known_one() {
    let diags = validate(
        "asyncapi: 2.6.0
info:
  title: t
  version: '1'
  licence:
    name: MIT
channels: {}
",
    );
    assert_eq!(
        errors(&diags),
        [(codes::UNKNOWN_FIELD, "/info/licence".to_owned(), 5, 3)]
    );
    let d = only_error(&diags);
    assert_eq!(d.message, "unknown field `licence` in Info Object");
    assert_eq!(d.help.as_deref(), Some("did you mean `license`?"));
}

#[test]
fn missing_required_field() {
    let diags = validate(
        "asyncapi: 3.0.0
info: {title: t, version: '1'}
servers:
  prod:
    protocol: kafka
",
    );
    assert_eq!(
        errors(&diags),
        [(codes::REQUIRED, "/servers/prod".to_owned(), 4, 3)]
    );
    assert_eq!(
        only_error(&diags).message,
        "Server Object is missing required field `host`"
    );
}

#[test]
fn wrong_enum_value() {
    let diags = validate(
        "asyncapi: 3.0.0
info: {title: t, version: '1'}
channels:
  c: {address: a}
operations:
  op:
    action: sendd
    channel: {$ref: '#/channels/c'}
",
    );
    assert_eq!(
        errors(&diags),
        [(codes::ENUM, "/operations/op/action".to_owned(), 7, 13)]
    );
    let d = only_error(&diags);
    assert_eq!(
        d.message,
        "`action` must be one of `send`, `receive`; found `sendd`"
    );
    assert_eq!(d.help.as_deref(), Some("did you mean `send`?"));
}

#[test]
fn ref_where_no_reference_object_is_allowed() {
    // 2.x operations are written inline.
    let diags = validate(
        "asyncapi: 2.6.0
info: {title: t, version: '1'}
channels:
  a:
    publish:
      $ref: '#/components/operationTraits/common'
components:
  operationTraits:
    common: {summary: s}
",
    );
    assert_eq!(
        errors(&diags),
        [(
            codes::REF_NOT_ALLOWED,
            "/channels/a/publish/$ref".to_owned(),
            6,
            7
        )]
    );
    // A description is a string, never a reference.
    let diags = validate(
        "asyncapi: 3.0.0
info:
  title: t
  version: '1'
  description: {$ref: '#/info/title'}
",
    );
    assert_eq!(
        errors(&diags),
        [(
            codes::REF_NOT_ALLOWED,
            "/info/description".to_owned(),
            5,
            16
        )]
    );
}

#[test]
fn reference_required_where_only_references_are_allowed() {
    let diags = validate(
        "asyncapi: 3.0.0
info: {title: t, version: '1'}
operations:
  op:
    action: send
    channel: {address: a}
",
    );
    assert_eq!(
        errors(&diags),
        [(codes::TYPE, "/operations/op/channel".to_owned(), 6, 14)]
    );
    // The target of the reference is checked as a Channel Object.
    let diags = validate(
        "asyncapi: 3.0.0
info: {title: t, version: '1'}
channels:
  c: {adress: a}
operations:
  op:
    action: send
    channel: {$ref: '#/channels/c'}
",
    );
    assert_eq!(
        errors(&diags),
        [(codes::UNKNOWN_FIELD, "/channels/c/adress".to_owned(), 4, 7)]
    );
}

#[test]
fn fields_are_gated_by_version() {
    let doc = |v: &str| {
        format!(
            "asyncapi: {v}
info: {{title: t, version: '1'}}
channels: {{}}
components:
  servers:
    s: {{url: x, protocol: kafka}}
"
        )
    };
    let diags = validate(&doc("2.2.0"));
    assert_eq!(
        errors(&diags),
        [(codes::UNKNOWN_FIELD, "/components/servers".to_owned(), 5, 3)]
    );
    assert_eq!(
        only_error(&diags).message,
        "`servers` is not a field of Components Object in AsyncAPI 2.2.0: it was added in AsyncAPI 2.3.0"
    );
    assert!(errors(&validate(&doc("2.3.0"))).is_empty());
    // 2.x's root `channels` is gone in 3.x's required list, and `servers` changed shape.
    assert!(
        errors(&validate(
            "asyncapi: 3.1.0\ninfo: {title: t, version: '1'}\n"
        ))
        .is_empty()
    );
}

#[test]
fn kafka_binding_fields_and_versions() {
    let doc = |v: &str, binding_version: &str| {
        format!(
            "asyncapi: {v}
info: {{title: t, version: '1'}}
channels:
  c:
    bindings:
      kafka:
        partitons: 3
        bindingVersion: '{binding_version}'
"
        )
    };
    let diags = validate(&doc("3.0.0", "0.5.0"));
    assert_eq!(
        errors(&diags),
        [(
            codes::UNKNOWN_FIELD,
            "/channels/c/bindings/kafka/partitons".to_owned(),
            7,
            9
        )]
    );
    let d = only_error(&diags);
    assert_eq!(
        d.message,
        "unknown field `partitons` in Kafka channel binding"
    );
    assert_eq!(d.help.as_deref(), Some("did you mean `partitions`?"));

    let diags = validate(&doc("3.0.0", "0.9.0"));
    assert_eq!(
        errors(&diags),
        [(
            codes::ENUM,
            "/channels/c/bindings/kafka/bindingVersion".to_owned(),
            8,
            25
        )]
    );
    assert_eq!(
        only_error(&diags).message,
        "`bindingVersion` of the Kafka channel binding must be one of `0.5.0`, `0.4.0`, `0.3.0`; found `0.9.0`"
    );

    // 2.x specification schemas leave bindings open: the same problem is a warning.
    let diags = validate(&doc("2.6.0", "0.5.0"));
    assert!(errors(&diags).is_empty(), "{diags:#?}");
    assert!(
        diags
            .iter()
            .any(|d| d.severity == Severity::Warning && d.code == codes::UNKNOWN_FIELD),
        "{diags:#?}"
    );
    // Unknown protocols are errors in 3.x only.
    let diags = validate(
        "asyncapi: 3.0.0
info: {title: t, version: '1'}
channels:
  c:
    bindings:
      mqtt5: {}
",
    );
    assert_eq!(
        errors(&diags),
        [(
            codes::UNKNOWN_FIELD,
            "/channels/c/bindings/mqtt5".to_owned(),
            6,
            7
        )]
    );
}

#[test]
fn recursive_schemas_terminate_and_report_once() {
    let diags = validate(
        "asyncapi: 2.6.0
info: {title: t, version: '1'}
channels:
  tree:
    subscribe:
      message:
        payload: {$ref: '#/components/schemas/Node'}
components:
  schemas:
    Node:
      type: object
      properties:
        children:
          type: array
          items: {$ref: '#/components/schemas/Node'}
        parent: {$ref: '#/components/schemas/Node'}
        bad: {type: 5}
",
    );
    assert_eq!(
        errors(&diags),
        [(
            codes::TYPE,
            "/components/schemas/Node/properties/bad/type".to_owned(),
            17,
            21
        )]
    );
}

#[test]
fn payload_formats() {
    // Avro in a 3.x Multi Format Schema Object: a record needs `fields`.
    let diags = validate(
        "asyncapi: 3.0.0
info: {title: t, version: '1'}
components:
  messages:
    m:
      payload:
        schemaFormat: application/vnd.apache.avro;version=1.9.0
        schema:
          type: record
          name: User
",
    );
    assert_eq!(
        errors(&diags),
        [(
            codes::REQUIRED,
            "/components/messages/m/payload/schema".to_owned(),
            8,
            9
        )]
    );
    // Formats the official schemas do not describe are not checked.
    let diags = validate(
        "asyncapi: 3.0.0
info: {title: t, version: '1'}
components:
  messages:
    m:
      payload:
        schemaFormat: application/x-protobuf
        schema: 'message User { string name = 1; }'
",
    );
    assert!(errors(&diags).is_empty(), "{diags:#?}");
    // 2.x: the payload of an AsyncAPI-format message is a Schema Object.
    let diags = validate(
        "asyncapi: 2.6.0
info: {title: t, version: '1'}
channels:
  a:
    publish:
      message:
        payload: {type: [string, strin]}
",
    );
    assert_eq!(
        errors(&diags),
        [(
            codes::ENUM,
            "/channels/a/publish/message/payload/type/1".to_owned(),
            7,
            34
        )]
    );
}

#[test]
fn v2_protocol_bindings_may_be_references() {
    let diags = validate(
        "asyncapi: 2.6.0
info: {title: t, version: '1'}
channels:
  a:
    subscribe:
      message:
        bindings:
          http: {$ref: '#/components/messageBindings/streaming'}
components:
  messageBindings:
    streaming:
      headers: {type: object}
      statusCod: 200
",
    );
    assert!(errors(&diags).is_empty(), "{diags:#?}");
    let warnings: Vec<_> = diags
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .map(|d| {
            (
                d.code,
                d.location.as_ref().map(|l| l.pointer.clone()),
                d.help.clone(),
            )
        })
        .collect();
    // `components/messageBindings/streaming` is itself read as a Message Bindings Object
    // (protocol `headers`, `statusCod`), and as the referenced HTTP message binding.
    assert!(
        warnings.contains(&(
            codes::UNKNOWN_FIELD,
            Some("/components/messageBindings/streaming/statusCod".to_owned()),
            Some(
                "did you mean `statusCode`?; a warning because AsyncAPI 2.x leaves bindings unchecked"
                    .to_owned()
            )
        )),
        "{warnings:#?}"
    );
}
