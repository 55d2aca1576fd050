//! The `asyncforge diff` command: exit codes, `--fail-on`, output formats, invalid input and
//! `REV:path` arguments, on the labelled pairs of `tests/diff/pairs/`.

use std::path::PathBuf;
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_asyncforge"))
        .arg("diff")
        .args(args)
        .current_dir(root())
        .output()
        .expect("run asyncforge")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("utf-8 output")
}

fn pair(name: &str) -> [String; 2] {
    let dir = format!("tests/diff/pairs/{name}");
    [format!("{dir}/old.yaml"), format!("{dir}/new.yaml")]
}

#[test]
fn breaking_change_exits_1_and_says_who_it_breaks() {
    let [old, new] = pair("schema-type-integer-number-send");
    let o = run(&[&old, &new]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(out.contains("breaking [payload.type-widened]"), "{out}");
    assert!(out.contains("breaks: receivers"), "{out}");
    assert!(out.contains(&format!("new: {new}:")), "{out}");
}

#[test]
fn the_mirror_edit_on_a_received_message_exits_0() {
    let [old, new] = pair("schema-type-integer-number-receive");
    let o = run(&[&old, &new]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("1 change: 0 breaking, 1 non-breaking"));
}

#[test]
fn refactor_is_no_change() {
    let [old, new] = pair("refactor-inline-to-component");
    let o = run(&[&old, &new]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("0 changes"));
}

#[test]
fn fail_on_decides_the_exit_status() {
    let [old, new] = pair("schema-type-integer-number-receive");
    assert_eq!(
        run(&[&old, &new, "--fail-on", "any"]).status.code(),
        Some(1)
    );
    let [old, new] = pair("schema-pattern-changed-send");
    assert_eq!(run(&[&old, &new]).status.code(), Some(0));
    assert_eq!(
        run(&[&old, &new, "--fail-on", "unclassified"])
            .status
            .code(),
        Some(1)
    );
    let [old, new] = pair("schema-type-integer-number-send");
    assert_eq!(
        run(&[&old, &new, "--fail-on", "none"]).status.code(),
        Some(0)
    );
}

#[test]
fn formats() {
    let [old, new] = pair("schema-required-added-receive");
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&run(&[&old, &new, "--format", "json"]))).expect("json");
    assert_eq!(json["summary"]["breaking"], 1);
    let change = &json["changes"][0];
    assert_eq!(change["code"], "payload.required-added");
    assert_eq!(change["class"], "breaking");
    assert_eq!(change["breaks"], "senders");
    assert!(change["new"]["line"].as_u64().is_some_and(|l| l > 0));
    let md = stdout(&run(&[&old, &new, "--format", "markdown"]));
    assert!(
        md.contains("| breaking | `payload.required-added` |"),
        "{md}"
    );
    let gh = stdout(&run(&[&old, &new, "--format", "github"]));
    assert!(gh.starts_with("::error file="), "{gh}");
    let sarif: serde_json::Value =
        serde_json::from_str(&stdout(&run(&[&old, &new, "--format", "sarif"]))).expect("sarif");
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(sarif["runs"][0]["results"][0]["level"], "error");
}

#[test]
fn invalid_input_missing_file_and_usage_exit_2() {
    let [old, _] = pair("refactor-identical");
    let o = run(&[&old, "tests/fixtures/rules-2.6.yaml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("the document has errors"));
    assert_eq!(
        run(&[&old, "tests/diff/missing.yaml"]).status.code(),
        Some(2)
    );
    assert_eq!(run(&[&old]).status.code(), Some(2));
    assert_eq!(
        run(&[&old, &old, "--fail-on", "sometimes"]).status.code(),
        Some(2)
    );
}

#[test]
fn git_revision_argument() {
    let git = Command::new("git")
        .args(["rev-parse", "--verify", "HEAD"])
        .current_dir(root())
        .output();
    if !git.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: not a git checkout");
        return;
    }
    let [old, _] = pair("refactor-identical");
    let o = run(&[&format!("HEAD:{old}"), &old]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout(&o).contains("0 changes"));
    let o = run(&["no-such-revision:tests/diff/nothing.yaml", &old]);
    assert_eq!(o.status.code(), Some(2));
}

/// A multi-file document at a revision is read whole from that revision: a schema changed
/// since then in a referenced file shows up, though the root file did not change.
#[test]
fn git_revision_reads_referenced_files_from_the_revision() {
    let dir = tempfile::tempdir().expect("tmp");
    let repo = dir.path();
    let git = |args: &[&str]| {
        let o = Command::new("git")
            .args(args)
            .current_dir(repo)
            .output()
            .expect("run git");
        assert!(
            o.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    git(&["init", "-q"]);
    std::fs::create_dir_all(repo.join("api")).expect("mkdir");
    std::fs::write(
        repo.join("api/asyncapi.yaml"),
        "asyncapi: 3.0.0
info: {title: Shop, version: 1.0.0}
channels:
  orders:
    address: orders
    messages:
      Order: {$ref: './messages.yaml#/Order'}
operations:
  sendOrder:
    action: send
    channel: {$ref: '#/channels/orders'}
    messages: [{$ref: '#/channels/orders/messages/Order'}]
",
    )
    .expect("write");
    let messages = |id_type: &str| {
        format!(
            "Order:\n  payload:\n    type: object\n    properties:\n      id: {{type: {id_type}}}\n"
        )
    };
    std::fs::write(repo.join("api/messages.yaml"), messages("integer")).expect("write");
    git(&["add", "."]);
    git(&[
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.com",
        "commit",
        "-qm",
        "v1",
    ]);
    // The working tree widens the id to any number: what the application sends now breaks
    // its receivers.
    std::fs::write(repo.join("api/messages.yaml"), messages("number")).expect("write");
    let o = Command::new(env!("CARGO_BIN_EXE_asyncforge"))
        .args(["diff", "HEAD:api/asyncapi.yaml", "api/asyncapi.yaml"])
        .current_dir(repo)
        .output()
        .expect("run asyncforge");
    let out = stdout(&o);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("payload.type-widened"), "{out}");
    assert!(out.contains("breaks: receivers"), "{out}");
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("warning"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // From a subdirectory, `./` names a path relative to it.
    let o = Command::new(env!("CARGO_BIN_EXE_asyncforge"))
        .args(["diff", "HEAD:./asyncforge.yaml", "asyncapi.yaml"])
        .current_dir(repo.join("api"))
        .output()
        .expect("run asyncforge");
    assert_eq!(
        o.status.code(),
        Some(2),
        "a file that is not in the revision"
    );
    let o = Command::new(env!("CARGO_BIN_EXE_asyncforge"))
        .args(["diff", "HEAD:./asyncapi.yaml", "asyncapi.yaml"])
        .current_dir(repo.join("api"))
        .output()
        .expect("run asyncforge");
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
}
