//! `cargo xtask vendored`: the crates `asyncforge generate rust --runtime vendored` writes for
//! specs whose protocols the workspace builds only against the runtime crate (Kafka and MQTT:
//! `lamp-fleet`; webhooks and resources: `ledger-hooks`, with the Postgres and Redis engines),
//! built on their own: no asyncforge checkout, clippy `-D warnings`, their tests and their
//! docs with `-D warnings`.
//!
//! The crates use the lockfile of the workspace that builds the same dependencies
//! (`tests/brokers/Cargo.lock` for librdkafka), so that the shared target directory already
//! holds them; `generate_cli::vendored_runtime_crate_builds_alone` covers a fresh lockfile.
//! Runs from `cargo xtask`, not from a test: a test's nested `cargo` would wait for the lock of
//! the target directory its own `cargo test` holds.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use crate::root;

/// (spec under `specs/`, the lockfile whose versions it builds with, more `generate` arguments)
const CRATES: &[(&str, &str, &[&str])] = &[
    ("lamp-fleet", "tests/brokers/Cargo.lock", &[]),
    ("ledger-hooks", "Cargo.lock", &["--with", "postgres,redis"]),
];

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

fn run(what: &str, cmd: &mut Command) -> Result<(), String> {
    let status = cmd
        .status()
        .map_err(|e| format!("{what}: cannot start: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status})"))
    }
}

/// `cargo <subcommand> --manifest-path <manifest> <args…>`.
fn cargo(subcommand: &str, manifest: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.arg(subcommand)
        .arg("--manifest-path")
        .arg(manifest)
        .args(args);
    cmd
}

fn check(name: &str, lock: &str, extra: &[&str]) -> Result<(), String> {
    let root = root();
    let dir = target_dir().join("vendored").join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let spec = root.join("specs").join(format!("{name}.yaml"));
    let crate_name = format!("vendored-{name}");
    run(
        &format!("generate {name}"),
        cargo(
            "run",
            &root.join("Cargo.toml"),
            &["--quiet", "-p", "asyncforge", "--"],
        )
        .args([
            "generate",
            "rust",
            "--runtime",
            "vendored",
            "--deny-warnings",
        ])
        .args(extra)
        .args(["--crate-name", &crate_name, "--spec"])
        .arg(&spec)
        .arg("--out")
        .arg(&dir),
    )?;
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).map_err(|e| format!("{e}"))?;
    if text.contains("asyncforge-runtime") {
        return Err(format!(
            "{name}: the vendored crate still depends on asyncforge-runtime"
        ));
    }
    // A workspace of its own, with the versions the shared target directory holds.
    std::fs::write(&manifest, format!("{text}\n[workspace]\n")).map_err(|e| format!("{e}"))?;
    std::fs::copy(root.join(lock), dir.join("Cargo.lock")).map_err(|e| format!("{lock}: {e}"))?;
    run(
        &format!("clippy {name}"),
        &mut cargo(
            "clippy",
            &manifest,
            &["--quiet", "--all-targets", "--", "-D", "warnings"],
        ),
    )?;
    run(
        &format!("test {name}"),
        &mut cargo("test", &manifest, &["--quiet"]),
    )?;
    run(
        &format!("doc {name}"),
        cargo("doc", &manifest, &["--quiet", "--no-deps"]).env("RUSTDOCFLAGS", "-D warnings"),
    )?;
    println!("{name}: the vendored crate builds alone, clippy-clean, tests and docs pass");
    Ok(())
}

/// `cargo xtask vendored`.
pub fn run_all(args: &[String]) -> ExitCode {
    if let Some(a) = args.first() {
        eprintln!("`vendored` takes no arguments (got `{a}`)");
        return ExitCode::from(2);
    }
    for (name, lock, extra) in CRATES {
        if let Err(e) = check(name, lock, extra) {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
