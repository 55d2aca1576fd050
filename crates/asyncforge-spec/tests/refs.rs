//! `$ref` resolution across files: pointers, escapes, relative paths, recursion, loops, remote.

use std::fs;
use std::path::Path;

use asyncforge_spec::{Checked, load};

fn write(dir: &Path, name: &str, text: &str) {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        fs::create_dir_all(parent).expect("mkdir");
    }
    fs::write(p, text).expect("write");
}

fn errors(c: &Checked) -> Vec<(&'static str, String, u32, u32)> {
    c.diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| {
            let l = d.location.as_ref().expect("located");
            let file = c.workspace.file(l.file).source().display_name().to_owned();
            let file = file.rsplit('/').next().unwrap_or_default().to_owned();
            (d.code, file, l.span.start.line, l.span.start.col)
        })
        .collect()
}

const HEAD: &str = "asyncapi: 3.0.0\ninfo: {title: t, version: '1', description: d}\n";

#[test]
fn nested_relative_files_resolve_against_the_referring_file() {
    let dir = tempfile::tempdir().expect("tmp");
    write(
        dir.path(),
        "api/asyncapi.yaml",
        &format!(
            "{HEAD}channels:\n  a:\n    address: a\n    messages:\n      m:\n        $ref: '../common/messages.yaml#/Ping'\n"
        ),
    );
    // messages.yaml refers to schemas.json relative to itself, not to the root document.
    write(
        dir.path(),
        "common/messages.yaml",
        "Ping:\n  payload:\n    $ref: 'schemas/ping.json#/definitions/ping'\n",
    );
    write(
        dir.path(),
        "common/schemas/ping.json",
        r#"{"definitions": {"ping": {"type": "object", "properties": {"at": {"type": "string"}}}}}"#,
    );
    let c = load(&dir.path().join("api/asyncapi.yaml"));
    assert_eq!(errors(&c), vec![]);
    assert_eq!(c.workspace.len(), 3);
}

#[test]
fn pointer_escapes_and_percent_encoding() {
    let dir = tempfile::tempdir().expect("tmp");
    write(
        dir.path(),
        "doc.yaml",
        &format!(
            "{HEAD}channels:\n  a:\n    address: a\n    messages:\n      m:\n        payload:\n          $ref: '#/components/schemas/a~1b~0c%20d'\ncomponents:\n  schemas:\n    'a/b~c d':\n      type: string\n"
        ),
    );
    let c = load(&dir.path().join("doc.yaml"));
    assert!(
        !c.diagnostics.iter().any(|d| d.code.starts_with("ref-")),
        "{:#?}",
        c.diagnostics
    );
}

#[test]
fn recursive_schemas_do_not_loop() {
    let dir = tempfile::tempdir().expect("tmp");
    write(
        dir.path(),
        "doc.yaml",
        &format!(
            "{HEAD}channels:\n  a:\n    address: a\n    messages:\n      m:\n        payload:\n          $ref: '#/components/schemas/tree'\ncomponents:\n  schemas:\n    tree:\n      type: object\n      default: {{children: []}}\n      properties:\n        children:\n          type: array\n          items:\n            $ref: '#/components/schemas/tree'\n"
        ),
    );
    let c = load(&dir.path().join("doc.yaml"));
    assert_eq!(errors(&c), vec![]);
}

#[test]
fn missing_file_and_missing_pointer() {
    let dir = tempfile::tempdir().expect("tmp");
    write(
        dir.path(),
        "doc.yaml",
        &format!(
            "{HEAD}channels:\n  a:\n    address: a\n    messages:\n      m:\n        $ref: 'nowhere.yaml#/M'\n      n:\n        $ref: '#/components/messages/missing'\n"
        ),
    );
    let c = load(&dir.path().join("doc.yaml"));
    let e = errors(&c);
    assert!(
        e.contains(&("io-error", "doc.yaml".into(), 8, 15)),
        "{e:#?}"
    );
    assert!(
        e.contains(&("ref-unresolved", "doc.yaml".into(), 10, 15)),
        "{e:#?}"
    );
    let unresolved = c
        .diagnostics
        .iter()
        .find(|d| d.code == "ref-unresolved")
        .expect("diag");
    assert!(
        unresolved.message.contains("/components"),
        "{}",
        unresolved.message
    );
}

#[test]
fn pure_reference_loop_is_an_error() {
    let dir = tempfile::tempdir().expect("tmp");
    write(
        dir.path(),
        "doc.yaml",
        &format!(
            "{HEAD}channels:\n  a:\n    address: a\n    messages:\n      m:\n        $ref: '#/components/messages/x'\ncomponents:\n  messages:\n    x:\n      $ref: '#/components/messages/y'\n    y:\n      $ref: 'other.yaml#/z'\n"
        ),
    );
    write(
        dir.path(),
        "other.yaml",
        "z:\n  $ref: 'doc.yaml#/components/messages/x'\n",
    );
    let c = load(&dir.path().join("doc.yaml"));
    let loops: Vec<_> = errors(&c)
        .into_iter()
        .filter(|e| e.0 == "ref-loop")
        .collect();
    assert!(!loops.is_empty(), "{:#?}", c.diagnostics);
    assert!(
        c.diagnostics
            .iter()
            .any(|d| d.code == "ref-loop" && d.message.contains("→"))
    );
}

#[test]
fn remote_refs_are_off_by_default_and_name_the_flag() {
    let dir = tempfile::tempdir().expect("tmp");
    write(
        dir.path(),
        "doc.yaml",
        &format!(
            "{HEAD}channels:\n  a:\n    address: a\n    messages:\n      m:\n        payload:\n          $ref: 'https://example.com/schemas/ping.json'\n"
        ),
    );
    let c = load(&dir.path().join("doc.yaml"));
    assert_eq!(errors(&c), vec![("ref-remote", "doc.yaml".into(), 9, 17)]);
    let d = c
        .diagnostics
        .iter()
        .find(|d| d.code == "ref-remote")
        .expect("diag");
    assert!(
        d.help
            .as_deref()
            .unwrap_or_default()
            .contains("--allow-remote-refs")
    );
}

#[test]
fn problem_in_shared_component_is_reported_once_in_its_file() {
    let dir = tempfile::tempdir().expect("tmp");
    write(
        dir.path(),
        "doc.yaml",
        &format!(
            "{HEAD}channels:\n  a:\n    address: a\n    messages:\n      m1: {{$ref: 'shared.yaml#/Msg'}}\n      m2: {{$ref: 'shared.yaml#/Msg'}}\n  b:\n    address: b\n    messages:\n      m3: {{$ref: 'shared.yaml#/Msg'}}\n"
        ),
    );
    write(
        dir.path(),
        "shared.yaml",
        "Msg:\n  payload:\n    type: object\n  contentTyp: application/json\n",
    );
    let c = load(&dir.path().join("doc.yaml"));
    let e = errors(&c);
    assert_eq!(
        e,
        vec![("struct-unknown-field", "shared.yaml".into(), 4, 3)],
        "{:#?}",
        c.diagnostics
    );
}

#[test]
fn rerun_paths_list_every_file() {
    let dir = tempfile::tempdir().expect("tmp");
    write(
        dir.path(),
        "doc.yaml",
        &format!("{HEAD}components:\n  schemas:\n    a: {{$ref: 'a.json'}}\n"),
    );
    write(dir.path(), "a.json", r#"{"type": "string"}"#);
    let c = load(&dir.path().join("doc.yaml"));
    let paths = c.workspace.disk_paths();
    assert_eq!(paths.len(), 2);
    assert!(paths[1].ends_with("a.json"));
}
