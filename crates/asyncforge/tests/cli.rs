//! The `asyncforge validate` command: exit codes, output formats, colors, several files.

use std::path::PathBuf;
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_asyncforge"))
        .args(args)
        .current_dir(root())
        .env_remove("NO_COLOR")
        .output()
        .expect("run asyncforge")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("utf-8 output")
}

#[test]
fn bundled_spec_is_valid() {
    let o = run(&["validate", "specs/harbor-telemetry.yaml"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("valid (AsyncAPI 3.0.0): 0 errors, 0 warnings"));
}

#[test]
fn invalid_documents_exit_1() {
    let o = run(&["validate", "tests/fixtures/rules-2.6.yaml"]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn io_and_usage_failures_exit_2() {
    let o = run(&["validate", "tests/fixtures/does-not-exist.yaml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stdout(&o).contains("io-error"));
    let o = run(&["validate"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&["validate", "--format", "xml", "specs/harbor-telemetry.yaml"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn deny_warnings_turns_warnings_into_failure() {
    let dir = tempfile::tempdir().expect("tmp");
    let doc = dir.path().join("warn.yaml");
    std::fs::write(&doc, "asyncapi: 3.0.0\ninfo: {title: t, version: '1'}\n").expect("write");
    let path = doc.to_str().expect("utf-8 path");
    assert_eq!(run(&["validate", path]).status.code(), Some(0));
    assert_eq!(
        run(&["validate", "--deny-warnings", path]).status.code(),
        Some(1)
    );
}

#[test]
fn several_files_in_one_call() {
    let o = run(&[
        "validate",
        "specs/harbor-telemetry.yaml",
        "tests/fixtures/rules-3.0.yaml",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.contains("specs/harbor-telemetry.yaml: valid"));
    assert!(out.contains("tests/fixtures/rules-3.0.yaml: invalid"));
}

#[test]
fn colors_follow_no_color_and_the_flag() {
    let plain = run(&["validate", "tests/fixtures/rules-3.0.yaml"]);
    assert!(
        !stdout(&plain).contains('\x1b'),
        "not a terminal: no colors"
    );
    let forced = run(&[
        "validate",
        "--color",
        "always",
        "tests/fixtures/rules-3.0.yaml",
    ]);
    assert!(stdout(&forced).contains("\x1b["));
    let o = Command::new(env!("CARGO_BIN_EXE_asyncforge"))
        .args([
            "validate",
            "--color",
            "auto",
            "tests/fixtures/rules-3.0.yaml",
        ])
        .current_dir(root())
        .env("NO_COLOR", "1")
        .output()
        .expect("run");
    assert!(!stdout(&o).contains('\x1b'));
}

#[test]
fn json_output_is_structured() {
    let o = run(&[
        "validate",
        "--format",
        "json",
        "--severity",
        "info",
        "tests/fixtures/rules-3.0.yaml",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let doc = &v[0];
    assert_eq!(doc["valid"], false);
    assert_eq!(doc["version"], "3.0.0");
    let d = doc["diagnostics"]
        .as_array()
        .expect("array")
        .iter()
        .find(|d| d["code"] == "asyncapi3-channel-parameters")
        .expect("channel parameters diagnostic");
    assert_eq!(d["severity"], "error");
    assert_eq!(d["file"], "tests/fixtures/rules-3.0.yaml");
    assert_eq!(d["pointer"], "/channels/users/address");
    assert_eq!(d["range"]["start"]["line"], 25);
    assert_eq!(d["range"]["start"]["column"], 14);
}

#[test]
fn sarif_output_is_sarif_2_1_0() {
    let o = run(&[
        "validate",
        "--format",
        "sarif",
        "tests/fixtures/rules-2.6.yaml",
        "tests/fixtures/rules-3.0.yaml",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["version"], "2.1.0");
    let run0 = &v["runs"][0];
    assert_eq!(run0["tool"]["driver"]["name"], "asyncforge");
    let results = run0["results"].as_array().expect("results");
    assert!(results.len() > 10);
    let r = &results[0];
    assert!(r["ruleId"].is_string());
    let region = &r["locations"][0]["physicalLocation"]["region"];
    assert!(region["startLine"].as_u64().is_some());
    let rules = run0["tool"]["driver"]["rules"].as_array().expect("rules");
    let idx = r["ruleIndex"].as_u64().expect("index") as usize;
    assert_eq!(rules[idx]["id"], r["ruleId"]);
}

#[test]
fn github_output_is_workflow_commands() {
    let o = run(&[
        "validate",
        "--format",
        "github",
        "tests/fixtures/rules-3.0.yaml",
    ]);
    let out = stdout(&o);
    let line = out
        .lines()
        .find(|l| l.contains("asyncapi3-channel-parameters"))
        .expect("a channel parameters line");
    assert!(
        line.starts_with("::error file=tests/fixtures/rules-3.0.yaml,line=25,col=14,"),
        "{line}"
    );
}

#[test]
fn human_output_snapshot() {
    let o = run(&[
        "validate",
        "--color",
        "never",
        "--severity",
        "info",
        "tests/fixtures/rules-2.6.yaml",
        "tests/fixtures/rules-3.0.yaml",
    ]);
    insta::assert_snapshot!("human", stdout(&o));
}

#[test]
fn json_output_snapshot() {
    let o = run(&[
        "validate",
        "--format",
        "json",
        "--severity",
        "info",
        "tests/fixtures/rules-2.6.yaml",
        "tests/fixtures/rules-3.0.yaml",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    insta::assert_json_snapshot!("json", v);
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("utf-8 output")
}

#[test]
fn examples_never_make_a_3x_document_invalid() {
    let o = run(&["validate", "tests/fixtures/examples-nullable-3.0.yaml"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("valid (AsyncAPI 3.0.0): 0 errors"), "{out}");
    assert!(out.contains("warning[asyncapi3-schema-examples]"), "{out}");
    assert!(out.contains("warning[asyncapi3-message-examples]"), "{out}");
    // Both the schema's own example and the message example hold `null` under `nullable`.
    assert_eq!(
        out.matches(r#"write it into the type: `type: [string, "null"]`"#)
            .count(),
        2,
        "{out}"
    );
}

#[test]
fn examples_never_stop_generate() {
    for (spec, validate_status) in [
        ("tests/fixtures/examples-nullable-3.0.yaml", 0),
        ("tests/fixtures/examples-2.6.yaml", 1),
    ] {
        assert_eq!(
            run(&["validate", spec]).status.code(),
            Some(validate_status),
            "{spec}"
        );
        let dir = tempfile::tempdir().expect("tmp");
        let out = dir.path().join("crate");
        let o = run(&[
            "generate",
            "rust",
            "--spec",
            spec,
            "--out",
            out.to_str().expect("utf-8 path"),
        ]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(0), "{spec}: {err}");
        assert!(out.join("src/types.rs").is_file(), "{spec}: {err}");
        if validate_status == 1 {
            // The 2.x example error is still shown.
            assert!(err.contains("error[asyncapi2-message-examples]"), "{err}");
        }
    }
}
