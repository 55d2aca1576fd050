//! The labelled change pairs of `tests/diff/`: every pair under `pairs/` is diffed and its
//! changes (code and class) must be exactly those `labels.yaml` lists for it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use asyncforge_spec::diff::{self, Change};
use asyncforge_spec::load::{Limits, parse_text};
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/diff")
}

/// `old.yaml`, `old.json` or `old/asyncapi.yaml` of a pair.
fn side(dir: &Path, name: &str) -> PathBuf {
    for candidate in [
        dir.join(format!("{name}.yaml")),
        dir.join(format!("{name}.json")),
        dir.join(name).join("asyncapi.yaml"),
    ] {
        if candidate.exists() {
            return candidate;
        }
    }
    panic!(
        "{}: no {name}.yaml, {name}.json or {name}/asyncapi.yaml",
        dir.display()
    );
}

fn lower(path: &Path) -> asyncforge_spec::ir::Api {
    let checked = asyncforge_spec::load(path);
    let errors: Vec<_> = checked
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .collect();
    assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
    checked.lower().expect("a supported version")
}

fn labels() -> BTreeMap<String, Vec<(String, String)>> {
    let text = std::fs::read_to_string(root().join("labels.yaml")).expect("labels.yaml");
    let parsed = parse_text(&text, &Limits::default()).expect("labels.yaml parses");
    let Value::Object(map) = parsed.value else {
        panic!("labels.yaml: a mapping of pair names")
    };
    map.into_iter()
        .map(|(pair, list)| {
            let list = list
                .as_array()
                .unwrap_or_else(|| panic!("{pair}: a list"))
                .iter()
                .map(|e| match e.as_array().map(Vec::as_slice) {
                    Some([Value::String(code), Value::String(class)]) => {
                        (code.clone(), class.clone())
                    }
                    _ => panic!("{pair}: each change is [code, class]"),
                })
                .collect();
            (pair, list)
        })
        .collect()
}

/// Whether `docs/diff.md` lists a code: as a whole, or a schema part with a listed suffix.
fn documented(docs: &str, code: &str) -> bool {
    if docs.contains(&format!("`{code}`")) {
        return true;
    }
    let Some((part, suffix)) = code.split_once('.') else {
        return false;
    };
    [
        "payload",
        "headers",
        "kafka-key",
        "http-headers",
        "parameter",
    ]
    .contains(&part)
        && docs.contains(&format!("`{part}`"))
        && docs.contains(&format!("`{suffix}`"))
}

fn class(c: &Change) -> String {
    c.class.to_string()
}

#[test]
fn every_pair_is_classified_as_labelled() {
    let labels = labels();
    let docs = std::fs::read_to_string(root().join("../../docs/diff.md")).expect("docs/diff.md");
    let dirs: Vec<String> = std::fs::read_dir(root().join("pairs"))
        .expect("tests/diff/pairs")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let mut failures = Vec::new();
    for d in &dirs {
        if !labels.contains_key(d) {
            failures.push(format!("{d}: no entry in labels.yaml"));
        }
    }
    for (pair, expected) in &labels {
        let dir = root().join("pairs").join(pair);
        if !dir.is_dir() {
            failures.push(format!("{pair}: labelled but there is no pairs/{pair}/"));
            continue;
        }
        let old = lower(&side(&dir, "old"));
        let new = lower(&side(&dir, "new"));
        let changes = diff::diff(&old, &new);
        let mut got: Vec<(String, String)> =
            changes.iter().map(|c| (c.code.clone(), class(c))).collect();
        let mut want = expected.clone();
        got.sort();
        want.sort();
        if got != want {
            let detail: Vec<String> = changes
                .iter()
                .map(|c| format!("    {} [{}] {}", c.class, c.code, c.message))
                .collect();
            failures.push(format!(
                "{pair}:\n  expected {want:?}\n  got {got:?}\n{}",
                detail.join("\n")
            ));
        }
        // Every change says where it is, and its code is documented.
        for c in &changes {
            if !documented(&docs, &c.code) {
                failures.push(format!("{pair}: {} is not in docs/diff.md", c.code));
            }
            if c.old.is_none() && c.new.is_none() {
                failures.push(format!("{pair}: {} has no location", c.code));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} pairs differ from their labels:\n{}",
        failures.len(),
        labels.len(),
        failures.join("\n")
    );
    assert!(labels.len() >= 100, "at least 100 labelled pairs");
}
