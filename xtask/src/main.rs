//! `cargo xtask`: this repository's own tasks.
//!
//! - `codegen [--check]` regenerates `tests/snapshots/` from `specs/` (or checks it is fresh);
//! - `bench [validate|generate|tools|all|diff|lsp|ws|sse|webhook|fanout|mqtt|kafka] [--no-reference] [--full-reference] [--runs N]`
//!   measures the validator, the code generator, the document tools, the generated
//!   WebSocket/SSE code on the wire (`ws`, `sse`: see `bench/wire.rs`), webhooks, the WebSocket backplanes (`fanout`) and the broker
//!   code (in release mode), and
//!   compares the validator with `@asyncapi/parser` installed by npm into `.cache/npm` (never
//!   needed by the product);
//! - `diff-reference` runs every labelled pair of `tests/diff/pairs/` through `asyncforge diff`
//!   and the reference `asyncapi diff` (`@asyncapi/cli`, installed by npm into `.cache/npm/cli`)
//!   and writes the side-by-side table `docs/diff-reference.md`;
//! - `fuzz [--seconds N] [--keep-going]` runs the cargo-fuzz target over the loader, validator,
//!   lowering and type generation;
//! - `peers [--check]` installs and starts every external peer the tests talk to (see
//!   `peers.rs`);
//! - `vendored` builds the Kafka/MQTT and HTTP crates `--runtime vendored` writes on their
//!   own (see `vendored.rs`);
//! - `vscode` builds and packages the VS Code extension in `editors/vscode` (see `vscode.rs`).

mod asyncapi_cli;
mod bench;
mod diff_reference;
mod fuzz;
mod machine;
mod npm;
mod peers;
mod snapshots;
mod vendored;
mod vscode;

use std::path::PathBuf;
use std::process::ExitCode;

/// The repository root.
pub fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// `../shared/corpus`, when present.
pub fn corpus() -> Option<PathBuf> {
    let p = root().join("../shared/corpus");
    p.join("expected.jsonl").exists().then_some(p)
}

const HELP: &str = "\
cargo xtask <task>

tasks:
  codegen [--check]            regenerate tests/snapshots from specs/ (--check: fail when stale)
  bench [validate|generate|tools|all|diff|lsp|ws|sse|webhook|fanout|mqtt|kafka] [--no-reference] [--full-reference] [--runs N]
  bench mqtt|kafka [--messages N] [--runs N]
  bench mqtt --instructions [--messages N] [--repeat R]
                               benchmarks in release mode; `validate` compares with @asyncapi/parser
                               (installed with npm into .cache/npm; --no-reference skips it and
                               needs no Node); `diff` times `asyncforge diff` on the 2.4 MB
                               corpus document and `asyncapi diff` beside it; `cargo xtask bench
                               --help` for details
  diff-reference               every pair of tests/diff/pairs through `asyncforge diff` and the
                               reference `asyncapi diff` (@asyncapi/cli, pinned, installed with npm
                               into .cache/npm/cli, metrics and update checks off; needs Node and
                               npm, and the registry once); writes docs/diff-reference.md (commit it)
  fuzz [--seconds N] [--keep-going]
                               fuzz loading, validation, lowering and type generation with
                               cargo-fuzz (default 60 s; stable toolchain, --sanitizer none);
                               findings in fuzz/artifacts/validate/, a stack overflow's input as
                               crash-last-input-<hash>; --keep-going restarts the fuzzer after a
                               finding until the time is up; `cargo xtask fuzz --help` for details
  peers [--check]              install and start every peer the tests talk to (Debian packages,
                               PyPI libraries, the Tansu Kafka broker, Mosquitto and Redis);
                               --check lists what is missing
  vendored                     generate lamp-fleet (MQTT, Kafka) and ledger-hooks (HTTP) with
                               the vendored runtime, then clippy -D warnings, test and doc them
                               as crates of their own
  vscode                       build and package the VS Code extension (editors/vscode: npm ci,
                               tsc, vsce package) into $CARGO_TARGET_DIR/vscode (or target/vscode)
  help                         this text
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = args.get(1..).unwrap_or_default();
    match args.first().map(String::as_str) {
        Some("codegen") => codegen(rest),
        Some("bench") => bench::run(rest),
        Some("diff-reference") => diff_reference::run(rest),
        Some("fuzz") => fuzz::run(rest),
        Some("peers") => peers::run(rest),
        Some("vendored") => vendored::run_all(rest),
        Some("vscode") => vscode::run(rest),
        Some("help") | Some("--help") | Some("-h") | None => {
            print!("{HELP}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("unknown task `{other}`\n\n{HELP}");
            ExitCode::from(2)
        }
    }
}

fn codegen(args: &[String]) -> ExitCode {
    let check = args.iter().any(|a| a == "--check");
    match snapshots::regenerate(&root(), check) {
        Ok(changed) if check && !changed.is_empty() => {
            for path in &changed {
                eprintln!("stale: {}", path.display());
            }
            eprintln!("generated snapshots are stale: run `cargo xtask codegen` and commit");
            ExitCode::from(1)
        }
        Ok(_) if check => {
            println!("snapshots are fresh");
            ExitCode::SUCCESS
        }
        Ok(changed) => {
            for path in &changed {
                println!("written: {}", path.display());
            }
            println!("snapshots regenerated");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("codegen failed: {e}");
            ExitCode::from(1)
        }
    }
}
