//! `diff` on the documents of `../shared/corpus`: every valid document against itself has no
//! change, and every valid 2.x document against its 3.0 conversion has none either, but for the
//! bindings the converter repairs (it says so in a note; see docs/diff.md).

use std::path::{Path, PathBuf};

use asyncforge_spec::diff;
use asyncforge_spec::tools::{convert_workspace_with_notes, emit};
use asyncforge_spec::{LoadOptions, Version};

fn corpus() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    p.join("expected.jsonl").exists().then_some(p)
}

fn documents(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            documents(&p, out);
        } else if p
            .extension()
            .is_some_and(|x| x == "yaml" || x == "yml" || x == "json")
        {
            out.push(p);
        }
    }
}

#[test]
fn corpus_documents_against_themselves_and_their_conversions() {
    let Some(root) = corpus() else {
        eprintln!("skipped: ../shared/corpus is not there");
        return;
    };
    let mut paths = Vec::new();
    documents(&root.join("examples"), &mut paths);
    documents(&root.join("realworld"), &mut paths);
    paths.sort();
    let target = Version::parse("3.0.0").expect("3.0.0");
    let (mut compared, mut converted) = (0, 0);
    let mut failures = Vec::new();
    for path in &paths {
        let checked = asyncforge_spec::load(path);
        let (Some(version), false) = (checked.version, checked.has_errors()) else {
            continue;
        };
        let Some(api) = checked.lower() else { continue };
        compared += 1;
        let same = diff::diff(&api, &api);
        if !same.is_empty() {
            failures.push(format!("{}: against itself: {same:#?}", path.display()));
        }
        if version.to_string().starts_with('3') {
            continue;
        }
        let Ok((value, _notes)) = convert_workspace_with_notes(&checked.workspace, version, target)
        else {
            continue;
        };
        let text = emit::to_string(&value, emit::Syntax::Yaml);
        let again = asyncforge_spec::load_bytes(path, text.as_bytes(), &LoadOptions::default());
        let Some(new) = again.lower() else { continue };
        converted += 1;
        let changes: Vec<_> = diff::diff(&api, &new)
            .into_iter()
            .filter(|c| !c.code.ends_with(".bindings-changed"))
            .collect();
        if !changes.is_empty() {
            let list: Vec<String> = changes
                .iter()
                .map(|c| format!("  {} [{}] {}", c.class, c.code, c.message))
                .collect();
            failures.push(format!(
                "{}: against its conversion:\n{}",
                path.display(),
                list.join("\n")
            ));
        }
    }
    eprintln!("{compared} documents compared with themselves, {converted} with their conversion");
    assert!(
        failures.is_empty(),
        "{} of {compared} documents ({converted} converted):\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(compared > 0 && converted > 0);
}
