//! Every valid corpus document generates; all of them compile together in one batch crate
//! (generated once, built once); every message example and component schema example
//! deserializes into its generated type and serializes back to an equal JSON value.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn corpus() -> Option<PathBuf> {
    let p = workspace().join("../shared/corpus");
    p.join("expected.jsonl").exists().then_some(p)
}

fn raw(s: &str) -> String {
    let hashes = (0..)
        .find(|n| !s.contains(&format!("\"{}", "#".repeat(*n))))
        .unwrap_or(8)
        .max(1);
    let h = "#".repeat(hashes);
    format!("r{h}\"{s}\"{h}")
}

#[test]
fn corpus_generates_compiles_and_round_trips() {
    let Some(corpus) = corpus() else {
        eprintln!("skipped: ../shared/corpus is absent");
        return;
    };
    let expected = std::fs::read_to_string(corpus.join("expected.jsonl")).expect("expected.jsonl");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("corpus-batch");
    let src = dir.join("src");
    let _ = std::fs::remove_dir_all(&src);
    std::fs::create_dir_all(&src).expect("mkdir");

    // One module per document with its types and messages (servers and clients need runtime
    // features the batch crate does not turn on).
    let types_and_messages = asyncforge_codegen::Settings::default()
        .layout(asyncforge_codegen::Layout::Module)
        .transports(false);
    let mut mods = String::new();
    let mut checks = String::new();
    let mut generated = 0;
    let mut warnings = 0;
    let mut examples = 0;
    for (n, line) in expected.lines().enumerate() {
        let e: Value = serde_json::from_str(line).expect("jsonl");
        if e["valid"] != true {
            continue;
        }
        let doc = e["doc"].as_str().unwrap_or_default();
        let checked = asyncforge::spec::load(&corpus.join(doc));
        if checked.has_errors() {
            continue;
        }
        let api = checked.lower().expect("lowered");
        let g = asyncforge_codegen::generate(&api, &types_and_messages)
            .unwrap_or_else(|e| panic!("{doc}: generation failed: {e}"));
        generated += 1;
        warnings += g.warnings.len();
        let m = format!("doc_{n}");
        std::fs::write(src.join(format!("{m}.rs")), &g.files[0].contents).expect("write");
        let index = g.index;
        // `pub`: each module re-exports the runtime's `Date`, `DateTime` and `Uuid`.
        let _ = writeln!(mods, "#[allow(dead_code)]\npub mod {m};");
        // Examples the validator reports as contradicting their schema (warnings in 3.x) are
        // not expected to decode.
        let contradicted: Vec<&str> = checked
            .diagnostics
            .iter()
            .filter(|d| d.code.ends_with("-message-examples"))
            .filter_map(|d| d.location.as_ref().map(|l| l.pointer.as_str()))
            .collect();
        for (mid, name) in &index.messages {
            let msg = api.message(*mid);
            for (i, ex) in msg.examples.iter().enumerate() {
                let at = format!("/{}/examples/{i}/", msg.key);
                if contradicted.iter().any(|p| p.contains(&at)) {
                    continue;
                }
                if let Some(p) = &ex.payload {
                    let label = format!("{doc} message {} example {}", msg.key, i + 1);
                    let json = serde_json::to_string(p).expect("json");
                    let _ = writeln!(
                        checks,
                        "    r.check::<<{m}::messages::{name} as asyncforge_runtime::Message>::Payload>({}, {});",
                        raw(&label),
                        raw(&json)
                    );
                    examples += 1;
                }
            }
        }
        for (sid, ty) in &index.schemas {
            let s = api.schema(*sid);
            let asyncforge::spec::ir::SchemaBody::Object(o) = &s.body else {
                continue;
            };
            for (i, ex) in o.examples.iter().enumerate() {
                let label = format!(
                    "{doc} schema {} example {}",
                    s.name.as_deref().unwrap_or("?"),
                    i + 1
                );
                let json = serde_json::to_string(ex).expect("json");
                let ty = ty.replace("types ::", &format!("{m}::types::"));
                let _ = writeln!(
                    checks,
                    "    r.check::<{ty}>({}, {});",
                    raw(&label),
                    raw(&json)
                );
                examples += 1;
            }
        }
    }
    let runtime = workspace().join("crates/asyncforge-runtime");
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"corpus-batch\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n[dependencies]\nasyncforge-runtime = {{ path = {:?} }}\nserde = \"1\"\nserde_json = \"1\"\n\n[workspace]\n",
            runtime.display().to_string()
        ),
    )
    .expect("write");
    // Generated modules reach the runtime through `crate::runtime`.
    let main = format!(
        r#"use asyncforge_runtime as runtime;
{mods}
struct Report {{ ok: usize, failed: Vec<String> }}

fn equal(a: &serde_json::Value, b: &serde_json::Value) -> bool {{
    use serde_json::Value::*;
    match (a, b) {{
        (Number(x), Number(y)) => x.as_f64() == y.as_f64(),
        (Array(x), Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| equal(a, b)),
        (Object(x), Object(y)) => x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w))),
        _ => a == b,
    }}
}}

impl Report {{
    fn check<T: serde::Serialize + serde::de::DeserializeOwned>(&mut self, label: &str, json: &str) {{
        let value: serde_json::Value = serde_json::from_str(json).expect("example json");
        match serde_json::from_value::<T>(value.clone()) {{
            Err(e) => self.failed.push(format!("{{label}}: does not deserialize: {{e}}")),
            Ok(t) => match serde_json::to_value(&t) {{
                Err(e) => self.failed.push(format!("{{label}}: does not serialize: {{e}}")),
                Ok(back) if equal(&back, &value) => self.ok += 1,
                Ok(back) => self.failed.push(format!("{{label}}: round trip changed it: {{value}} -> {{back}}")),
            }},
        }}
    }}
}}

fn main() {{
    let mut r = Report {{ ok: 0, failed: Vec::new() }};
{checks}
    println!("{{}}", serde_json::json!({{"ok": r.ok, "failed": r.failed}}));
}}
"#
    );
    std::fs::write(src.join("main.rs"), main).expect("write main");
    println!(
        "generated {generated} documents ({warnings} warnings), {examples} examples to round-trip"
    );

    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("corpus-batch-target");
    // The generated code of every document is clippy clean.
    let clippy = Command::new(env!("CARGO"))
        .args(["clippy", "--quiet", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .args(["--", "-D", "warnings", "-A", "dead_code"])
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .expect("run cargo clippy");
    assert!(
        clippy.status.success(),
        "clippy finds problems in generated code:\n{}",
        String::from_utf8_lossy(&clippy.stderr)
    );
    let out = Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .env("RUSTFLAGS", "-D warnings -A dead_code")
        .output()
        .expect("run cargo");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the batch crate does not build or run:\n{stderr}"
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("report");
    let ok = report["ok"].as_u64().unwrap_or(0);
    let failed: Vec<String> = report["failed"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    println!(
        "round trip: {ok} of {} examples equal after deserialize + serialize",
        ok as usize + failed.len()
    );
    for f in &failed {
        println!("  FAILED {f}");
    }
    assert!(generated > 90, "only {generated} documents generated");
    assert!(
        failed.is_empty(),
        "{} examples do not round-trip (listed above)",
        failed.len()
    );
}
