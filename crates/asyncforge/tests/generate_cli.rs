//! `asyncforge generate rust`: template overrides, and a vendored-runtime crate that builds on
//! its own (no asyncforge dependency) and is clippy clean.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn generate(out: &Path, extra: &[&str]) {
    generate_spec("harbor-telemetry", out, extra);
}

fn generate_spec(spec: &str, out: &Path, extra: &[&str]) {
    let o = Command::new(env!("CARGO_BIN_EXE_asyncforge"))
        .args(["generate", "rust", "--spec"])
        .arg(format!("specs/{spec}.yaml"))
        .arg("--out")
        .arg(out)
        .args(extra)
        .current_dir(root())
        .output()
        .expect("run asyncforge");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn templates_can_be_overridden() {
    let dir = tempfile::tempdir().expect("tmp");
    let templates = dir.path().join("templates");
    std::fs::create_dir_all(&templates).expect("mkdir");
    std::fs::write(
        templates.join("README.md.tera"),
        "# {{ title }} — our own README\n",
    )
    .expect("write");
    let out = dir.path().join("crate");
    generate(
        &out,
        &[
            "--templates",
            templates.to_str().expect("utf-8"),
            "--crate-name",
            "harbor",
        ],
    );
    let readme = std::fs::read_to_string(out.join("README.md")).expect("readme");
    assert_eq!(readme, "# Harbor Telemetry — our own README\n");
    let cargo = std::fs::read_to_string(out.join("Cargo.toml")).expect("manifest");
    assert!(cargo.contains("name = \"harbor\""), "{cargo}");
}

/// On a fresh lockfile, with the backplane's engines compiled in: a WebSocket server
/// (harbor-telemetry) and a WebSocket and SSE one (pulse-rooms, whose SSE topics keep their
/// replay windows on the engines too).
#[test]
fn vendored_runtime_crate_builds_alone() {
    for (spec, name) in [
        ("harbor-telemetry", "vendored-harbor"),
        ("pulse-rooms", "vendored-pulse"),
    ] {
        vendored_builds_alone(spec, name);
    }
}

fn vendored_builds_alone(spec: &str, name: &str) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    generate_spec(
        spec,
        &dir,
        &[
            "--runtime",
            "vendored",
            "--deny-warnings",
            "--crate-name",
            name,
            "--with",
            "redis,nats",
        ],
    );
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).expect("manifest");
    assert!(!manifest.contains("asyncforge-runtime"), "{manifest}");
    // Not part of this workspace.
    std::fs::write(dir.join("Cargo.toml"), format!("{manifest}\n[workspace]\n")).expect("write");
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("vendored-target");
    let o = Command::new(env!("CARGO"))
        .args(["clippy", "--quiet", "--all-targets", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .args(["--", "-D", "warnings"])
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .expect("cargo clippy");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = Command::new(env!("CARGO"))
        .args(["test", "--quiet", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .expect("cargo test");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Its documentation builds without a warning either (every intra-doc link resolves).
    let o = Command::new(env!("CARGO"))
        .args(["doc", "--quiet", "--no-deps", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .env("RUSTDOCFLAGS", "-D warnings")
        .output()
        .expect("cargo doc");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// `--default-protocol` gives a document without servers a server and a client; without it
/// the crate has types and messages only.
#[test]
fn default_protocol_flag_serves_a_document_without_servers() {
    let dir = tempfile::tempdir().expect("tmp");
    let spec = dir.path().join("bare.yaml");
    std::fs::write(
        &spec,
        "asyncapi: 3.0.0\ninfo: {title: Bare, version: '1.0', description: d}\nchannels:\n  feed:\n    address: feed\n    messages:\n      tick:\n        payload: {type: object}\noperations:\n  onTick:\n    action: send\n    channel: {$ref: '#/channels/feed'}\n",
    )
    .expect("write");
    let run = |out: &Path, extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_asyncforge"))
            .args(["generate", "rust", "--spec"])
            .arg(&spec)
            .arg("--out")
            .arg(out)
            .args(extra)
            .output()
            .expect("run asyncforge")
    };
    let bare = dir.path().join("bare");
    assert!(run(&bare, &[]).status.success());
    assert!(!bare.join("src/server.rs").exists());
    let served = dir.path().join("served");
    let o = run(&served, &["--default-protocol", "sse"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let server = std::fs::read_to_string(served.join("src/server.rs")).expect("server.rs");
    assert!(
        server.contains("on_tick") || server.contains("Tick"),
        "{server}"
    );
    let o = run(
        &dir.path().join("x"),
        &["--default-protocol", "carrier-pigeon"],
    );
    assert_eq!(
        o.status.code(),
        Some(2),
        "an unknown protocol is a usage error"
    );
}

/// Runs `asyncforge generate rust ARGS` from the repository root, feeding `stdin`.
fn run(args: &[&str], stdin: Option<&[u8]>) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_asyncforge"))
        .args(["generate", "rust"])
        .args(args)
        .current_dir(root())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run asyncforge");
    let mut pipe = child.stdin.take().expect("stdin");
    if let Some(bytes) = stdin {
        pipe.write_all(bytes).expect("write stdin");
    }
    drop(pipe);
    child.wait_with_output().expect("wait")
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn generate_never_overwrites_files_it_did_not_write() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().to_str().expect("utf-8");
    let readme = dir.path().join("README.md");
    std::fs::write(&readme, "# my notes\n").expect("write");
    let args = ["--spec", "specs/harbor-telemetry.yaml", "--out", out];
    let o = run(&args, None);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("README.md exists and was not generated by asyncforge"),
        "{}",
        stderr(&o)
    );
    // Nothing at all was written: every file is checked first.
    assert!(!dir.path().join("Cargo.toml").exists());
    assert_eq!(
        std::fs::read_to_string(&readme).expect("read"),
        "# my notes\n"
    );

    let forced = run(&[&args[..], &["--force"]].concat(), None);
    assert!(forced.status.success(), "{}", stderr(&forced));
    // Its own files are regenerated without --force.
    let again = run(&args, None);
    assert!(again.status.success(), "{}", stderr(&again));
}

#[test]
fn generate_says_what_is_wrong_with_its_inputs() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("crate");
    let out = out.to_str().expect("utf-8");
    let o = run(&["--spec", "specs/no-such-file.yaml", "--out", out], None);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("cannot read `specs/no-such-file.yaml`"),
        "{err}"
    );
    assert!(!err.contains("validate"), "{err}");
    assert!(o.stdout.is_empty());

    let o = run(
        &[
            "--spec",
            "specs/harbor-telemetry.yaml",
            "--out",
            out,
            "--templates",
            "no-such-dir",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--templates no-such-dir: not a directory"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn generate_reads_the_document_from_standard_input() {
    let dir = tempfile::tempdir().expect("tmp");
    let spec = std::fs::read(root().join("specs/harbor-telemetry.yaml")).expect("spec");
    let o = run(
        &["--spec", "-", "--out", dir.path().to_str().expect("utf-8")],
        Some(&spec),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let types = std::fs::read_to_string(dir.path().join("src/types.rs")).expect("types");
    assert!(types.contains("pub struct CraneStatus"), "{types}");
    let cargo = std::fs::read_to_string(dir.path().join("Cargo.toml")).expect("manifest");
    assert!(cargo.contains("from <stdin>"), "{cargo}");
}

#[test]
fn a_relative_runtime_path_resolves_from_the_generated_crate() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("nested/harbor");
    let o = run(
        &[
            "--spec",
            "specs/harbor-telemetry.yaml",
            "--out",
            out.to_str().expect("utf-8"),
            "--runtime",
            "path=crates/asyncforge-runtime",
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let cargo = std::fs::read_to_string(out.join("Cargo.toml")).expect("manifest");
    let line = cargo
        .lines()
        .find(|l| l.contains("asyncforge-runtime") && l.contains("path ="))
        .unwrap_or_else(|| panic!("no runtime path in {cargo}"));
    let path = line
        .split("path = \"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("quoted path");
    let resolved = out.join(path).canonicalize().expect("the path exists");
    let runtime = root()
        .join("crates/asyncforge-runtime")
        .canonicalize()
        .expect("runtime");
    assert_eq!(resolved, runtime, "{line}");
}

/// What the generator makes less precise than the document says is printed like the
/// validator's findings: severity, code, message, and the place in the document.
#[test]
fn generator_warnings_are_coded_and_located() {
    let dir = tempfile::tempdir().expect("tmp");
    let spec = dir.path().join("fleet.yaml");
    std::fs::write(
        &spec,
        "asyncapi: 3.0.0\ninfo: {title: Fleet, version: '1.0'}\nchannels:\n  positions:\n    address: positions\n    messages:\n      position:\n        payload:\n          type: object\n          properties:\n            at:\n              type: array\n              items: [{type: number}, {type: number}]\n",
    )
    .expect("write");
    let spec = spec.to_str().expect("utf-8");
    let out = dir.path().join("fleet");
    let o = run(
        &["--spec", spec, "--out", out.to_str().expect("utf-8")],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(
            "warning[generate-type-loose]: a tuple whose length is not fixed has no Rust tuple type"
        ),
        "{err}"
    );
    assert!(err.contains(&format!("--> {spec}:12:15\n")), "{err}");
    assert!(err.contains("12 |               type: array"), "{err}");
    assert!(
        err.contains("= at #/channels/positions/messages/position/payload/properties/at"),
        "{err}"
    );
    assert!(!err.contains(":0:0"), "{err}");
}

/// The `generate-*` sections of docs/rules.md: the generator reports the section's code for
/// the bad example and not for the good one.
#[test]
fn rules_page_examples_of_generator_codes() {
    let page = std::fs::read_to_string(root().join("docs/rules.md")).expect("docs/rules.md");
    let dir = tempfile::tempdir().expect("tmp");
    let mut checked = 0;
    for section in page.split("\n## ").skip(1) {
        let code = section.lines().next().unwrap_or_default().trim();
        if !code.starts_with("generate-") {
            continue;
        }
        for (kind, expected) in [("bad", true), ("good", false)] {
            let fence = format!("```yaml {kind}\n");
            let start = section
                .find(&fence)
                .unwrap_or_else(|| panic!("`{code}` has no {kind} example"))
                + fence.len();
            let len = section[start..].find("```").expect("the block ends");
            let spec = dir.path().join(format!("{code}-{kind}.yaml"));
            std::fs::write(&spec, &section[start..start + len]).expect("write");
            let out = dir.path().join(format!("{code}-{kind}"));
            let o = run(
                &[
                    "--spec",
                    spec.to_str().expect("utf-8"),
                    "--out",
                    out.to_str().expect("utf-8"),
                ],
                None,
            );
            assert!(o.status.success(), "{code} {kind}: {}", stderr(&o));
            let err = stderr(&o);
            assert_eq!(
                err.contains(&format!("warning[{code}]")),
                expected,
                "{code}, {kind} example:\n{err}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 4, "two generator codes, two examples each");
}

#[test]
fn engines_are_compiled_in_when_asked_for_and_refused_where_they_hold_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let generate = |spec: &str, out: &str, engines: &str| {
        let out = dir.path().join(out);
        let spec = format!("specs/{spec}.yaml");
        let o = run(
            &[
                "--spec",
                &spec,
                "--out",
                out.to_str().expect("utf-8"),
                "--with",
                engines,
            ],
            None,
        );
        (o, out)
    };
    let (o, out) = generate("ledger-hooks", "ledger", "postgres,redis");
    assert!(o.status.success(), "{}", stderr(&o));
    let manifest = std::fs::read_to_string(out.join("Cargo.toml")).expect("Cargo.toml");
    assert!(manifest.contains("tokio-postgres = "), "{manifest}");
    assert!(manifest.contains("redis = "), "{manifest}");
    let lib = std::fs::read_to_string(out.join("src/lib.rs")).expect("lib.rs");
    for export in [
        "pub use runtime::http::postgres_outbox::PostgresOutbox;",
        "pub use runtime::http::postgres_resource::PostgresResources;",
        "pub use runtime::http::postgres_store::PostgresStore;",
        "pub use runtime::http::redis_store::RedisStore;",
    ] {
        assert!(lib.contains(export), "{export} in {lib}");
    }
    assert!(out.join("src/runtime/http/postgres_outbox.rs").exists());

    // A WebSocket and SSE server: its backplane engines (with the SSE event logs), nothing else.
    let (o, rooms) = generate("pulse-rooms", "rooms", "nats,redis");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(rooms.join("src/runtime/backplane/nats.rs").exists());
    assert!(rooms.join("src/runtime/backplane/redis.rs").exists());
    assert!(rooms.join("src/runtime/backplane/log_nats.rs").exists());
    assert!(rooms.join("src/runtime/backplane/log_redis.rs").exists());
    assert!(!rooms.join("src/runtime/http").exists());

    for (spec, engines, says) in [
        (
            "pulse-rooms",
            "postgres",
            "`--with postgres`: it keeps webhook state",
        ),
        ("ledger-hooks", "nats", "no WebSocket or SSE channels"),
        (
            "ledger-hooks",
            "mysql",
            "expected `postgres`, `redis` or `nats`",
        ),
    ] {
        let (o, _) = generate(spec, "refused", engines);
        assert_eq!(o.status.code(), Some(2), "{spec} --with {engines}");
        assert!(stderr(&o).contains(says), "{}", stderr(&o));
    }
}
