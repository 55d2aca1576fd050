//! Issue 3: the IR, and the document tools that must preserve it (bundle, convert, format).

use std::path::{Path, PathBuf};

use asyncforge_spec::ir::{self, Action};
use asyncforge_spec::tools::{bundle, convert_workspace, emit};
use asyncforge_spec::{LoadOptions, Version, load, load_bytes};
use serde_json::{Value, json};

fn corpus() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    p.join("expected.jsonl").exists().then_some(p)
}

/// Every corpus document the reference validator and asyncforge both accept.
fn valid_docs(root: &Path) -> Vec<PathBuf> {
    let expected = std::fs::read_to_string(root.join("expected.jsonl")).expect("expected.jsonl");
    expected
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["valid"] == true)
        .map(|e| root.join(e["doc"].as_str().unwrap_or_default()))
        .filter(|p| !load(p).has_errors())
        .collect()
}

/// Checks text written next to `beside` (so any relative reference would resolve as in the
/// source) and returns its canonical IR.
fn canonical_of_text(beside: &Path, text: &str) -> (bool, Value, Vec<String>) {
    let path = beside.with_file_name("asyncforge-test-output.yaml");
    let c = load_bytes(&path, text.as_bytes(), &LoadOptions::default());
    let errors = c
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| format!("{} {}", d.code, d.message))
        .collect();
    let canon = c.lower().map(|a| ir::canonical(&a)).unwrap_or(Value::Null);
    (!c.has_errors(), canon, errors)
}

fn canonical(path: &Path) -> Value {
    ir::canonical(&load(path).lower().expect("version"))
}

#[test]
fn every_valid_corpus_document_lowers() {
    let Some(root) = corpus() else {
        eprintln!("skipped: ../shared/corpus is absent");
        return;
    };
    let docs = valid_docs(&root);
    let mut ops = 0;
    for d in &docs {
        let api = load(d).lower().expect("lowered");
        // Every id in the IR points into its arena.
        for o in &api.operations {
            assert!(o.channel.index() < api.channels.len());
            assert!(o.messages.iter().all(|m| m.index() < api.messages.len()));
        }
        ops += api.operations.len();
        let _ = ir::summary(&api);
        let _ = serde_json::to_string(&api).expect("serializable");
    }
    println!("lowered {} documents, {ops} operations", docs.len());
    assert!(docs.len() > 90, "only {} valid documents", docs.len());
}

/// The 2.6.0 and 3.0.0 streetlights examples are the same API: same operations, directions,
/// channels and messages.
#[test]
fn streetlights_2_6_and_3_0_lower_to_the_same_operations() {
    let Some(root) = corpus() else { return };
    for (v2, v3) in [
        (
            "examples/2.6.0/streetlights-kafka.yml",
            "examples/3.0.0/streetlights-kafka-asyncapi.yml",
        ),
        (
            "examples/2.6.0/streetlights-mqtt.yml",
            "examples/3.0.0/streetlights-mqtt-asyncapi.yml",
        ),
    ] {
        let a = load(&root.join(v2)).lower().expect("2.6");
        let b = load(&root.join(v3)).lower().expect("3.0");
        let ops = |api: &ir::Api| {
            let mut v: Vec<(String, Action, Option<String>, Vec<String>)> = api
                .operations
                .iter()
                .map(|o| {
                    let mut msgs: Vec<String> = o
                        .messages
                        .iter()
                        .map(|m| api.message(*m).key.clone())
                        .collect();
                    msgs.sort();
                    (
                        o.key.clone(),
                        o.action,
                        api.channel(o.channel).address.clone(),
                        msgs,
                    )
                })
                .collect();
            v.sort_by(|x, y| x.0.cmp(&y.0));
            v
        };
        assert_eq!(ops(&a), ops(&b), "{v2} vs {v3}");
        // receiveLightMeasurement is a `publish` in 2.6: the application receives.
        let recv = a
            .operations
            .iter()
            .find(|o| o.key == "receiveLightMeasurement")
            .expect("op");
        assert_eq!(recv.action, Action::Receive);
        let turn_on = a.operations.iter().find(|o| o.key == "turnOn").expect("op");
        assert_eq!(turn_on.action, Action::Send);
        assert_eq!(
            ir::canonical(&a),
            ir::canonical(&b),
            "{v2} vs {v3}: whole canonical IR"
        );
    }
}

#[test]
fn converted_2x_documents_validate_and_keep_their_ir() {
    let Some(root) = corpus() else { return };
    let mut n = 0;
    let mut failures = Vec::new();
    for d in valid_docs(&root) {
        let c = load(&d);
        let Some(v) = c.version.filter(|v| v.is_v2()) else {
            continue;
        };
        for target in [Version::V3_0, Version::V3_1] {
            let out = convert_workspace(&c.workspace, v, target).expect("convert");
            let text = emit::to_yaml(&out);
            let (valid, canon, errors) = canonical_of_text(&d, &text);
            if !valid {
                failures.push(format!("{} → {target}: invalid: {errors:?}", d.display()));
            } else if canon != canonical(&d) {
                failures.push(format!("{} → {target}: IR differs", d.display()));
            }
        }
        n += 1;
    }
    println!("converted {n} 2.x documents to 3.0.0 and 3.1.0");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(n > 40);
}

/// The IR of a document with keys (operation, message and channel names) replaced by what they
/// stand for, so that two documents naming the same things differently compare equal.
fn shape(canon: &Value) -> Value {
    let messages = &canon["messages"];
    let msg = |k: &Value| -> Value {
        let m = &messages[k.as_str().unwrap_or_default()];
        json!({"payload": m["payload"], "headers": m["headers"], "contentType": m["contentType"], "correlationId": m["correlationId"]})
    };
    let msgs = |l: &Value| -> Value {
        let mut v: Vec<Value> = l
            .as_array()
            .map(|a| a.iter().map(msg).collect())
            .unwrap_or_default();
        v.sort_by_key(|x| x.to_string());
        Value::Array(v)
    };
    let mut ops: Vec<Value> = canon["operations"]
        .as_object()
        .map(|o| {
            o.values()
                .map(|op| {
                    json!({"action": op["action"], "channel": op["channel"], "messages": msgs(&op["messages"]),
                           "reply": op["reply"].as_object().map(|r| json!({"channel": r["channel"], "messages": msgs(&r["messages"])}))})
                })
                .collect()
        })
        .unwrap_or_default();
    ops.sort_by_key(|x| x.to_string());
    let channels: serde_json::Map<String, Value> = canon["channels"]
        .as_object()
        .map(|c| {
            c.iter()
                .map(|(k, ch)| {
                    (
                        k.clone(),
                        json!({"parameters": ch["parameters"], "messages": msgs(&ch["messages"])}),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    json!({"operations": ops, "channels": channels})
}

/// Where the official 2.6.0 and 3.0.0 examples describe different APIs, say how.
const PAIR_DIFFERENCES: &[(&str, &str)] = &[(
    "operation-security.yml",
    "the official 3.0.0 example adds a `Content-Type` header to the message headers schema that the 2.6.0 example does not declare",
)];

#[test]
fn converted_2_6_examples_match_the_official_3_0_examples() {
    let Some(root) = corpus() else { return };
    let dir26 = root.join("examples/2.6.0");
    let mut names: Vec<String> = std::fs::read_dir(&dir26)
        .expect("dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".yml"))
        .collect();
    names.sort();
    let mut same = 0;
    let mut unexplained = Vec::new();
    for n in &names {
        let src = dir26.join(n);
        let official = root
            .join("examples/3.0.0")
            .join(n.replace(".yml", "-asyncapi.yml"));
        let c = load(&src);
        let out = convert_workspace(&c.workspace, c.version.expect("version"), Version::V3_0)
            .expect("convert");
        let (_, converted, _) = canonical_of_text(&src, &emit::to_yaml(&out));
        let a = shape(&converted);
        let b = shape(&canonical(&official));
        let listed = PAIR_DIFFERENCES.iter().find(|(f, _)| f == n);
        match (a == b, listed) {
            (true, None) => same += 1,
            (true, Some(_)) => {
                unexplained.push(format!("{n}: listed as different but now matches"))
            }
            (false, Some((_, why))) => println!("{n}: differs as listed: {why}"),
            (false, None) => unexplained.push(format!("{n}:\nconverted: {a:#}\nofficial:  {b:#}")),
        }
    }
    println!(
        "{same} of {} example pairs lower to the same IR",
        names.len()
    );
    assert!(unexplained.is_empty(), "{}", unexplained.join("\n\n"));
}

#[test]
fn bundled_multi_file_documents_are_self_contained_and_keep_their_ir() {
    let Some(root) = corpus() else { return };
    let mut n = 0;
    for d in valid_docs(&root) {
        let c = load(&d);
        if c.workspace.len() < 2 {
            continue;
        }
        let out = bundle::bundle(&c.workspace, c.version.expect("version"));
        let text = emit::to_yaml(&out);
        // No reference leaves the document.
        let mut stack = vec![&out];
        while let Some(v) = stack.pop() {
            match v {
                Value::Object(m) => {
                    if let Some(Value::String(r)) = m.get("$ref") {
                        assert!(r.starts_with('#'), "{}: external ref {r} left", d.display());
                    }
                    stack.extend(m.values());
                }
                Value::Array(a) => stack.extend(a),
                _ => {}
            }
        }
        let (valid, canon, errors) = canonical_of_text(&d, &text);
        assert!(valid, "{}: bundle invalid: {errors:?}", d.display());
        assert_eq!(
            canon,
            canonical(&d),
            "{}: bundle changed the IR",
            d.display()
        );
        n += 1;
    }
    println!("bundled {n} multi-file documents");
    assert!(n >= 10, "only {n} multi-file documents");
}

#[test]
fn format_round_trips_every_corpus_document() {
    let Some(root) = corpus() else { return };
    let expected = std::fs::read_to_string(root.join("expected.jsonl")).expect("expected.jsonl");
    let mut n = 0;
    for line in expected.lines() {
        let e: Value = serde_json::from_str(line).expect("jsonl");
        let path = root.join(e["doc"].as_str().unwrap_or_default());
        let c = load(&path);
        let Some(r) = c.workspace.root() else {
            continue;
        };
        for syntax in [emit::Syntax::Yaml, emit::Syntax::Json] {
            let text = emit::to_string(r.value, syntax);
            let back = asyncforge_spec::load::parse_text(&text, &Default::default())
                .unwrap_or_else(|e| {
                    panic!(
                        "{}: {syntax:?} output does not parse: {e:?}",
                        path.display()
                    )
                });
            assert_eq!(
                &back.value,
                r.value,
                "{}: {syntax:?} round trip",
                path.display()
            );
            // Stable: formatting the output again changes nothing.
            assert_eq!(emit::to_string(&back.value, syntax), text);
        }
        n += 1;
    }
    println!("round-tripped {n} documents through YAML and JSON");
}
