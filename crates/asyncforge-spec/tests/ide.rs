//! Editor intelligence (`asyncforge_spec::ide`) on realistic 2.6 and 3.0 documents: hover,
//! completion, and code actions checked by applying their edits and loading the result again.

use std::path::{Path, PathBuf};

use asyncforge_spec::ide::{self, CompletionKind, Edit, Slot};
use asyncforge_spec::{Checked, Diagnostic, LoadOptions, Pos, load_bytes};
use asyncforge_testkit::Rng;

const V3: &str = "asyncapi: 3.0.0
info:
  title: Account Service
  version: 1.0.0
  description: Manages user accounts.
servers:
  production:
    host: broker.example.com:9092
    protocol: kafka
    description: Production broker
defaultContentType: application/json
channels:
  userSignedUp:
    address: user/{userId}/signedup
    parameters:
      userId:
        description: Id of the user.
    messages:
      UserSignedUp:
        $ref: '#/components/messages/UserSignedUp'
operations:
  onUserSignedUp:
    action: receive
    channel:
      $ref: '#/channels/userSignedUp'
    messages:
      - $ref: '#/channels/userSignedUp/messages/UserSignedUp'
components:
  messages:
    UserSignedUp:
      name: UserSignedUp
      title: User signed up
      payload:
        $ref: '#/components/schemas/UserSignedUpPayload'
  schemas:
    UserSignedUpPayload:
      type: object
      properties:
        displayName:
          type: string
          description: Name of the user
        email:
          type: string
          format: email
";

const V2: &str = "asyncapi: '2.6.0'
info:
  title: Streetlights
  version: '1.0.0'
servers:
  mosquitto:
    url: test.mosquitto.org
    protocol: mqtt
defaultContentType: application/json
channels:
  light/{streetlightId}/measured:
    parameters:
      streetlightId:
        description: Id of the streetlight.
        schema:
          type: string
    subscribe:
      operationId: onLightMeasured
      message:
        $ref: '#/components/messages/LightMeasured'
components:
  messages:
    LightMeasured:
      messageId: lightMeasured
      name: LightMeasured
      payload:
        $ref: '#/components/schemas/LightMeasuredPayload'
  schemas:
    LightMeasuredPayload:
      type: object
      properties:
        lumens:
          type: integer
          minimum: 0
";

fn path(json: bool) -> PathBuf {
    PathBuf::from(if json {
        "/nonexistent/asyncapi.json"
    } else {
        "/nonexistent/asyncapi.yaml"
    })
}

fn load(text: &str) -> Checked {
    let json = text.trim_start().starts_with('{');
    load_bytes(&path(json), text.as_bytes(), &LoadOptions::default())
}

fn errors(c: &Checked) -> Vec<String> {
    c.diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| format!("{}: {}", d.code, d.message))
        .collect()
}

/// Applies edits (which never overlap) to a text.
fn apply(text: &str, edits: &[Edit]) -> String {
    let mut line_starts = vec![0usize];
    line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
    let offset = |p: Pos| -> usize {
        let Some(&start) = line_starts.get(p.line as usize - 1) else {
            return text.len();
        };
        let line = &text[start..];
        line.char_indices()
            .nth(p.col as usize - 1)
            .map_or(text.len(), |(i, _)| start + i)
    };
    let mut sorted: Vec<&Edit> = edits.iter().collect();
    sorted.sort_by_key(|e| std::cmp::Reverse((e.span.start, e.span.end)));
    let mut out = text.to_owned();
    for e in sorted {
        let (s, t) = (offset(e.span.start), offset(e.span.end));
        out.replace_range(s..t, &e.new_text);
    }
    out
}

fn find<'a>(c: &'a Checked, code: &str) -> &'a Diagnostic {
    c.diagnostics
        .iter()
        .find(|d| d.code == code)
        .unwrap_or_else(|| panic!("no `{code}` in {:#?}", c.diagnostics))
}

/// Loads `broken`, takes the first fix offered for its `code` diagnostic (or the one titled
/// `title`), applies it and checks that the diagnostic is gone and no new error appeared.
fn check_fix(broken: &str, code: &str, title: Option<&str>) -> String {
    let before = load(broken);
    let d = find(&before, code);
    let fixes = ide::code_actions(&before.workspace, d);
    let fix = match title {
        Some(t) => fixes.iter().find(|f| f.title == t),
        None => fixes.first(),
    }
    .unwrap_or_else(|| panic!("no fix for {d:?}: {fixes:?}"));
    let fixed = apply(broken, &fix.edits);
    let after = load(&fixed);
    let still: Vec<&Diagnostic> = after
        .diagnostics
        .iter()
        .filter(|x| x.code == code && x.message == d.message)
        .collect();
    assert!(
        still.is_empty(),
        "`{}` left {still:?} in:\n{fixed}",
        fix.title
    );
    let before_errors = errors(&before);
    for e in errors(&after) {
        assert!(
            before_errors.contains(&e),
            "`{}` brought a new error {e} in:\n{fixed}",
            fix.title
        );
    }
    fixed
}

fn to_json(yaml: &str) -> String {
    let c = load(yaml);
    let root = c.workspace.root().expect("fixture parses");
    serde_json::to_string_pretty(root.value).expect("serializable")
}

#[test]
fn fixtures_are_valid() {
    for doc in [V3, V2] {
        assert!(errors(&load(doc)).is_empty(), "{:?}", errors(&load(doc)));
    }
    assert!(errors(&load(&to_json(V3))).is_empty());
}

// ---------------------------------------------------------------------------------------------
// Code actions.

#[test]
fn declares_a_missing_parameter_v3() {
    let broken = V3.replace(
        "address: user/{userId}/signedup",
        "address: user/{userId}/{region}/signedup",
    );
    let fixed = check_fix(&broken, "asyncapi3-channel-parameters", None);
    assert!(
        fixed.contains("      region:\n        description:"),
        "{fixed}"
    );
    // No `parameters` at all: the whole block is added.
    let broken = V3.replace(
        "    parameters:\n      userId:\n        description: Id of the user.\n",
        "",
    );
    let fixed = check_fix(&broken, "asyncapi3-channel-parameters", None);
    assert!(
        fixed.contains("    parameters:\n      userId:\n"),
        "{fixed}"
    );
}

#[test]
fn declares_a_missing_parameter_v2_and_json() {
    let broken = V2.replace(
        "light/{streetlightId}/measured",
        "light/{streetlightId}/{zone}/measured",
    );
    let fixed = check_fix(&broken, "asyncapi2-channel-parameters", None);
    assert!(
        fixed.contains("      zone:\n        description:"),
        "{fixed}"
    );
    let json = to_json(&V3.replace("user/{userId}/signedup", "user/{userId}/{region}"));
    let fixed = check_fix(&json, "asyncapi3-channel-parameters", None);
    assert!(
        fixed.contains("        },\n        \"region\": {\"description\":"),
        "{fixed}"
    );
}

#[test]
fn removes_an_unused_parameter() {
    let broken = V3.replace(
        "      userId:\n        description: Id of the user.\n",
        "      userId:\n        description: Id of the user.\n      extra:\n        description: Unused.\n",
    );
    check_fix(&broken, "asyncapi3-channel-parameters", None);
    // In JSON, as the last and as the first member.
    let json = to_json(&broken);
    check_fix(&json, "asyncapi3-channel-parameters", None);
    let first = broken.replace(
        "      userId:\n        description: Id of the user.\n      extra:\n        description: Unused.\n",
        "      extra:\n        description: Unused.\n      userId:\n        description: Id of the user.\n",
    );
    check_fix(&to_json(&first), "asyncapi3-channel-parameters", None);
    let fixed = check_fix(
        &to_json(&V3.replace("  description: Manages", "  descripton: Manages")),
        "struct-unknown-field",
        Some("Remove `descripton`"),
    );
    assert!(!fixed.contains("descripton"));
}

#[test]
fn adds_unique_operation_and_message_ids() {
    let broken = V2.replace("      operationId: onLightMeasured\n", "");
    let fixed = check_fix(&broken, "asyncapi2-operation-operationId", None);
    assert!(
        fixed.contains("      operationId: subscribeLightStreetlightIdMeasured\n"),
        "{fixed}"
    );
    let broken = V2.replace("      messageId: lightMeasured\n", "");
    let fixed = check_fix(&broken, "asyncapi2-message-messageId", None);
    assert!(fixed.contains("messageId: lightMeasured"), "{fixed}");
}

#[test]
fn adds_required_fields_with_placeholders() {
    let fixed = check_fix(
        &V3.replace("  version: 1.0.0\n", ""),
        "struct-required",
        None,
    );
    assert!(fixed.contains("  version: '1.0.0'\n"), "{fixed}");
    check_fix(
        &V3.replace("  title: Account Service\n", ""),
        "struct-required",
        None,
    );
    check_fix(
        &V2.replace("  version: '1.0.0'\n", ""),
        "struct-required",
        None,
    );
    // A whole missing `info`.
    let no_info = V3.replace(
        "info:\n  title: Account Service\n  version: 1.0.0\n  description: Manages user accounts.\n",
        "",
    );
    let fixed = check_fix(&no_info, "struct-required", None);
    assert!(
        fixed.contains("info:\n  title: Untitled API\n  version: '1.0.0'\n"),
        "{fixed}"
    );
    // JSON.
    let json = to_json(&V3.replace("  version: 1.0.0\n", ""));
    check_fix(&json, "struct-required", None);
}

#[test]
fn replaces_an_invalid_action() {
    let broken = V3.replace("action: receive", "action: recieve");
    let d = load(&broken);
    let fixes = ide::code_actions(&d.workspace, find(&d, "struct-enum"));
    let titles: Vec<&str> = fixes.iter().map(|f| f.title.as_str()).collect();
    assert_eq!(titles, ["Replace with `receive`", "Replace with `send`"]);
    let fixed = check_fix(&broken, "struct-enum", None);
    assert!(fixed.contains("    action: receive\n"));
}

#[test]
fn renames_or_removes_an_unknown_field() {
    let broken = V3.replace("  description: Manages", "  descripton: Manages");
    let fixed = check_fix(
        &broken,
        "struct-unknown-field",
        Some("Rename `descripton` to `description`"),
    );
    assert!(fixed.contains("  description: Manages user accounts.\n"));
    let fixed = check_fix(&broken, "struct-unknown-field", Some("Remove `descripton`"));
    assert!(!fixed.contains("Manages"));
}

#[test]
fn fixes_a_misspelt_reference() {
    let broken = V3.replace(
        "$ref: '#/components/messages/UserSignedUp'",
        "$ref: '#/components/messages/UserSignedUpp'",
    );
    let fixed = check_fix(&broken, "ref-unresolved", None);
    assert_eq!(fixed, V3);
    let broken = V3.replace(
        "'#/components/schemas/UserSignedUpPayload'",
        "'#/components/schema/UserSignedUpPayload'",
    );
    assert_eq!(check_fix(&broken, "ref-unresolved", None), V3);
    // Two close names: no guess.
    let ambiguous = V3
        .replace(
            "  schemas:\n",
            "  schemas:\n    UserSignedUpPayloaX:\n      type: string\n",
        )
        .replace(
            "'#/components/schemas/UserSignedUpPayload'",
            "'#/components/schemas/UserSignedUpPayloadd'",
        );
    let d = load(&ambiguous);
    let fixes = ide::code_actions(&d.workspace, find(&d, "ref-unresolved"));
    assert!(fixes.is_empty(), "{fixes:?}");
}

#[test]
fn removes_trailing_slashes_and_fixes_versions() {
    let fixed = check_fix(
        &V3.replace("user/{userId}/signedup", "user/{userId}/signedup/"),
        "asyncapi-channel-no-trailing-slash",
        None,
    );
    assert_eq!(fixed, V3);
    check_fix(
        &V3.replace("asyncapi: 3.0.0", "asyncapi: '3.0'"),
        "version-unsupported",
        None,
    );
    let fixed = check_fix(
        &V2.replace("asyncapi: '2.6.0'", "asyncapi: 2.6"),
        "version-unsupported",
        None,
    );
    assert!(fixed.starts_with("asyncapi: '2.6.0'\n"), "{fixed}");
}

#[test]
fn declares_server_variables_and_content_type() {
    let broken = V3.replace(
        "host: broker.example.com:9092",
        "host: '{region}.example.com:9092'",
    );
    let fixed = check_fix(&broken, "asyncapi3-server-variables", None);
    assert!(fixed.contains("    variables:\n      region:\n"), "{fixed}");
    let fixed = check_fix(
        &V3.replace("defaultContentType: application/json\n", ""),
        "asyncapi-defaultContentType",
        None,
    );
    assert!(fixed.contains("defaultContentType: application/json"));
}

#[test]
fn references_operation_messages_through_the_channel() {
    let direct = V3.replace(
        "      - $ref: '#/channels/userSignedUp/messages/UserSignedUp'",
        "      - $ref: '#/components/messages/UserSignedUp'",
    );
    let fixed = check_fix(
        &direct,
        "asyncapi3-operation-messages-from-referred-channel",
        None,
    );
    assert_eq!(fixed, V3);
    // A message the channel does not list yet.
    let extra = direct
        .replace(
            "      - $ref: '#/components/messages/UserSignedUp'",
            "      - $ref: '#/components/messages/UserDeleted'",
        )
        .replace(
            "  schemas:\n",
            "    UserDeleted:\n      payload:\n        type: string\n  schemas:\n",
        );
    let fixed = check_fix(
        &extra,
        "asyncapi3-operation-messages-from-referred-channel",
        None,
    );
    assert!(
        fixed.contains("      UserDeleted:\n        $ref: '#/components/messages/UserDeleted'\n"),
        "{fixed}"
    );
    assert!(
        fixed.contains("      - $ref: '#/channels/userSignedUp/messages/UserDeleted'"),
        "{fixed}"
    );
}

#[test]
fn suggests_defined_names_in_2x() {
    let broken = V2.replace(
        "    subscribe:\n",
        "    servers:\n      - mosquito\n    subscribe:\n",
    );
    let fixed = check_fix(&broken, "asyncapi2-channel-servers", None);
    assert!(fixed.contains("      - mosquitto\n"), "{fixed}");
}

// ---------------------------------------------------------------------------------------------
// Hover and completion.

fn pos_of(text: &str, needle: &str, offset: usize) -> Pos {
    let i = text
        .find(needle)
        .unwrap_or_else(|| panic!("`{needle}` not in fixture"));
    let before = &text[..i + offset];
    let line = before.matches('\n').count() as u32 + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u32 + 1;
    Pos::new(line, col)
}

#[test]
fn hover_on_references_and_keys() {
    let c = load(V2);
    let root = c.workspace.root_id();
    let h = ide::hover(
        &c.workspace,
        root,
        pos_of(V2, "'#/components/messages/LightMeasured'", 3),
    )
    .expect("hover");
    assert!(
        h.markdown.contains("message `LightMeasured`"),
        "{}",
        h.markdown
    );
    assert!(h.markdown.contains("- `lumens`: integer"), "{}", h.markdown);
    let h = ide::hover(&c.workspace, root, pos_of(V2, "subscribe:", 2)).expect("hover");
    assert!(h.markdown.contains("Channel Item Object"), "{}", h.markdown);
    let c = load(V3);
    let h = ide::hover(
        &c.workspace,
        c.workspace.root_id(),
        pos_of(V3, "protocol: kafka", 1),
    )
    .expect("hover");
    assert!(h.markdown.contains("Server Object"));
    // Binding keys.
    let with_binding = V3.replace(
        "    address: user/{userId}/signedup\n",
        "    address: user/{userId}/signedup\n    bindings:\n      kafka:\n        partitions: 3\n",
    );
    let c = load(&with_binding);
    let h = ide::hover(
        &c.workspace,
        c.workspace.root_id(),
        pos_of(&with_binding, "partitions", 1),
    )
    .expect("hover on a binding key");
    assert!(
        h.markdown.contains("Kafka channel binding"),
        "{}",
        h.markdown
    );
    assert!(h.markdown.contains("partitions"), "{}", h.markdown);
}

#[test]
fn hover_in_a_referenced_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = V3.replace(
        "      payload:\n        $ref: '#/components/schemas/UserSignedUpPayload'\n",
        "      payload:\n        $ref: 'schemas.yaml#/UserSignedUpPayload'\n",
    );
    let schemas =
        "UserSignedUpPayload:\n  type: object\n  properties:\n    email:\n      type: string\n";
    std::fs::write(dir.path().join("asyncapi.yaml"), &root).expect("write root");
    std::fs::write(dir.path().join("schemas.yaml"), schemas).expect("write schemas");
    let c = asyncforge_spec::load(&dir.path().join("asyncapi.yaml"));
    let (id, _) = c
        .workspace
        .files()
        .find(|(_, f)| f.key().ends_with("schemas.yaml"))
        .expect("second file loaded");
    let h = ide::hover(&c.workspace, id, pos_of(schemas, "properties", 1)).expect("hover");
    assert!(h.markdown.contains("**`properties`**"), "{}", h.markdown);
    let h = ide::hover(
        &c.workspace,
        c.workspace.root_id(),
        pos_of(&root, "'schemas.yaml#", 2),
    )
    .expect("hover on the external reference");
    assert!(h.markdown.contains("schemas.yaml`"), "{}", h.markdown);
    assert!(h.markdown.contains("- `email`: string"), "{}", h.markdown);
}

#[test]
fn completion_in_broken_text_uses_the_last_good_workspace() {
    let good = load(V3);
    // Half-typed: the text does not parse.
    let broken = V3.replace(
        "    action: receive\n",
        "    action: receive\n    reply:\n      channel:\n        $ref: \n    summ\n  bad: [\n",
    );
    assert!(good.workspace.root().is_some());
    let p = pos_of(&broken, "$ref: \n", 6);
    let items = ide::complete(&broken, p, Some(&good.workspace));
    let labels: Vec<&str> = items.iter().map(|c| c.label.as_str()).collect();
    assert_eq!(labels, ["#/channels/userSignedUp"]);
    assert!(items.iter().all(|c| c.kind == CompletionKind::Reference));
    let p = pos_of(&broken, "    summ\n", 8);
    let items = ide::complete(&broken, p, Some(&good.workspace));
    let labels: Vec<&str> = items.iter().map(|c| c.label.as_str()).collect();
    assert!(labels.contains(&"summary"), "{labels:?}");
    assert!(
        !labels.contains(&"action"),
        "present keys are left out: {labels:?}"
    );
    // 3.x operation messages name messages of the operation's channel.
    let p = pos_of(V3, "- $ref: '#/channels/userSignedUp/messages", 8);
    let items = ide::complete(V3, p, Some(&good.workspace));
    assert_eq!(
        items[0].label,
        "#/channels/userSignedUp/messages/UserSignedUp"
    );
}

#[test]
fn completion_in_json() {
    let json = to_json(V3);
    let p = pos_of(&json, "\"action\": \"receive\"", 12);
    let items = ide::complete(&json, p, None);
    let labels: Vec<&str> = items.iter().map(|c| c.label.as_str()).collect();
    assert_eq!(labels, ["send", "receive"]);
    assert_eq!(items[0].insert_text, "\"send\"");
    let line = json.lines().nth(p.line as usize - 1).unwrap_or("");
    let replaced: String = line
        .chars()
        .skip(items[0].replace.start.col as usize - 1)
        .take((items[0].replace.end.col - items[0].replace.start.col) as usize)
        .collect();
    assert_eq!(replaced, "\"receive\"", "the quotes are replaced too");
    let ctx = ide::context(&json, pos_of(&json, "\"title\": \"Account", 2));
    assert_eq!(ctx.path, ["info"]);
    assert!(
        matches!(&ctx.slot, Slot::Key { key, .. } if key == "title"),
        "{ctx:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Robustness: no input makes the functions panic.

fn poke(text: &str, rng: &mut Rng, probes: usize) {
    let lines = text.lines().count().max(1);
    let checked = load(text);
    for _ in 0..probes {
        let pos = Pos::new(rng.below(lines + 2) as u32, rng.below(90) as u32);
        let ctx = ide::context(text, pos);
        let _ = ctx.node_path();
        let _ = ide::complete(text, pos, Some(&checked.workspace));
        let _ = ide::complete(text, pos, None);
        let _ = ide::hover(&checked.workspace, checked.workspace.root_id(), pos);
    }
    for d in &checked.diagnostics {
        let _ = ide::code_actions(&checked.workspace, d);
    }
}

fn corpus_docs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/examples");
    let mut out = Vec::new();
    let Ok(versions) = std::fs::read_dir(&root) else {
        return out;
    };
    for v in versions.flatten() {
        if let Ok(files) = std::fs::read_dir(v.path()) {
            out.extend(files.flatten().map(|f| f.path()));
        }
    }
    out.sort();
    out
}

const ALPHABET: &[u8] = b"{}[]:,\"'- \n\t#ab$ref&*|>\xc3\xa9";

#[test]
fn never_panics_on_random_and_truncated_text() {
    let mut rng = Rng::new(0x9E37_79B9_7F4A_7C15);
    // Random bytes, as text (invalid UTF-8 replaced).
    for _ in 0..200 {
        let len = rng.below(300);
        let bytes: Vec<u8> = (0..len)
            .map(|_| ALPHABET[rng.below(ALPHABET.len())])
            .collect();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        poke(&text, &mut rng, 10);
    }
    // Every prefix length class of the fixtures, in YAML and JSON.
    let json = to_json(V3);
    for doc in [V3, V2, json.as_str()] {
        let chars: Vec<char> = doc.chars().collect();
        for cut in (0..chars.len()).step_by(37) {
            let text: String = chars[..cut].iter().collect();
            poke(&text, &mut rng, 4);
        }
    }
    // Truncated corpus documents, when the corpus is there.
    let docs = corpus_docs();
    if docs.is_empty() {
        eprintln!("corpus absent: only fixtures were truncated");
    }
    for p in docs.iter().step_by(5) {
        let Ok(text) = std::fs::read_to_string(p) else {
            continue;
        };
        let chars: Vec<char> = text.chars().collect();
        let cut = rng.below(chars.len() + 1);
        let text: String = chars[..cut].iter().collect();
        poke(&text, &mut rng, 6);
    }
}

/// Every key of every block-YAML fixture and corpus example: the path the text analysis finds at
/// the key equals the key's JSON pointer from the parser.
#[test]
fn text_context_agrees_with_the_parser() {
    let mut docs: Vec<(String, String)> =
        vec![("V3".into(), V3.to_owned()), ("V2".into(), V2.to_owned())];
    let realworld = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/realworld");
    let mut paths = corpus_docs();
    if let Ok(files) = std::fs::read_dir(&realworld) {
        let mut small: Vec<PathBuf> = files
            .flatten()
            .filter(|f| f.metadata().is_ok_and(|m| m.len() < 60_000))
            .map(|f| f.path())
            .collect();
        small.sort();
        paths.extend(small);
    }
    for p in paths {
        if let Ok(t) = std::fs::read_to_string(&p) {
            docs.push((p.display().to_string(), t));
        }
    }
    let mut checked = 0;
    let mut wrong = Vec::new();
    for (name, text) in &docs {
        if ide::context::syntax_of(text) != ide::Syntax::Yaml {
            continue;
        }
        let c = load(text);
        let ws = &c.workspace;
        let Some(root) = ws.root() else { continue };
        let mut stack: Vec<(String, &serde_json::Value)> = vec![(String::new(), root.value)];
        while let Some((ptr, v)) = stack.pop() {
            let children: Vec<(String, &serde_json::Value)> = match v {
                serde_json::Value::Object(m) => m
                    .iter()
                    .map(|(k, v)| {
                        (
                            format!("{ptr}/{}", k.replace('~', "~0").replace('/', "~1")),
                            v,
                        )
                    })
                    .collect(),
                serde_json::Value::Array(a) => a
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (format!("{ptr}/{i}"), v))
                    .collect(),
                _ => continue,
            };
            // Flow collections (`{…}`, `[…]`) are not analysed by indentation.
            let start = ws.location(ws.root_id(), &ptr).span.start;
            let line = ws
                .file(ws.root_id())
                .source()
                .line(start.line)
                .unwrap_or("");
            let flow = line
                .chars()
                .nth(start.col as usize - 1)
                .is_some_and(|c| c == '{' || c == '[');
            if flow {
                continue;
            }
            for (child, value) in children {
                if v.is_object() && checked < 12_000 {
                    let key = ws.key_location(ws.root_id(), &child).span;
                    let ctx = ide::context(text, key.start);
                    let want: Vec<String> =
                        asyncforge_spec::pointer::parse(&child).unwrap_or_default();
                    checked += 1;
                    if ctx.node_path() != want {
                        wrong.push(format!(
                            "{name}:{}:{} {child}: {:?}",
                            key.start.line,
                            key.start.col,
                            ctx.node_path()
                        ));
                    }
                }
                stack.push((child, value));
            }
        }
    }
    assert!(checked > 100, "only {checked} keys checked");
    assert!(
        wrong.is_empty(),
        "{} of {checked} keys wrong, e.g.:\n{}",
        wrong.len(),
        wrong
            .iter()
            .take(15)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
