//! `cargo xtask fuzz [--seconds N] [--keep-going]`: runs the `validate` cargo-fuzz target
//! (`fuzz/`) for a while.
//!
//! cargo-fuzz is installed from crates.io on first use. The target is built on the stable
//! toolchain with `--sanitizer none`: libFuzzer's coverage guidance still works, and the code
//! under test has no `unsafe` of its own for a sanitizer to watch. The seed corpus
//! (`fuzz/corpus/validate/`, git-ignored) is filled with small documents of the shared corpus and
//! of this repository; crashes land in `fuzz/artifacts/validate/` (git-ignored).
//!
//! Without a sanitizer a stack overflow kills the process outright: libFuzzer's signal handler
//! cannot run on the exhausted stack, so it saves nothing. The target therefore writes every
//! input to `ASYNCFORGE_FUZZ_LAST_INPUT` (`fuzz/artifacts/validate/last-input`) before running
//! it; when the fuzzer fails and leaves no artifact of its own, that file is the culprit and is
//! kept as `crash-last-input-<hash>`.
//!
//! `--keep-going` restarts the fuzzer after each finding until the time is up (a restart loop
//! rather than libFuzzer's `-fork`/`-ignore_crashes`, whose children would all share one
//! last-input file and whose parent cannot tell which input killed a child).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Instant, SystemTime};

use crate::{corpus, root};

/// Seeds larger than this are left out: libFuzzer mutates small inputs faster.
const MAX_SEED_BYTES: u64 = 16 * 1024;

/// A restart with less time than this left is not worth the corpus reload.
const MIN_RESTART_SECONDS: u64 = 5;

const USAGE: &str = "\
cargo xtask fuzz [--seconds N] [--keep-going]

  --seconds N    fuzz for N seconds in total (default 60)
  --keep-going   after a crash, panic, stack overflow, timeout or out-of-memory, save the input
                 and restart the fuzzer until the time is up (a restart loop; the same bug may be
                 found again under another input)

Findings land in fuzz/artifacts/validate/: libFuzzer's crash-*/timeout-*/oom-* files, and
crash-last-input-<hash> for a process killed outright (a stack overflow) before libFuzzer could
save its input. Reproduce with `cargo run --release -p asyncforge -- validate <file>`.
";

pub fn run(args: &[String]) -> ExitCode {
    let mut seconds: u64 = 60;
    let mut keep_going = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => match it.next().and_then(|s| s.parse().ok()) {
                Some(n) => seconds = n,
                None => return usage("--seconds needs a number"),
            },
            "--keep-going" => keep_going = true,
            "--help" | "-h" => {
                print!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => return usage(&format!("unexpected argument `{other}`")),
        }
    }
    let has_fuzz = Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_fuzz {
        eprintln!("installing cargo-fuzz (once)…");
        let ok = Command::new("cargo")
            .args(["install", "cargo-fuzz", "--locked"])
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("cannot install cargo-fuzz (`cargo install cargo-fuzz --locked` failed)");
            return ExitCode::from(2);
        }
    }
    let fuzz_dir = root().join("fuzz");
    let seeds = fuzz_dir.join("corpus/validate");
    match seed(&seeds) {
        Ok(n) => eprintln!("{n} seed documents in {}", seeds.display()),
        Err(e) => {
            eprintln!("cannot prepare the seed corpus: {e}");
            return ExitCode::from(2);
        }
    }
    let artifacts = fuzz_dir.join("artifacts/validate");
    if let Err(e) = std::fs::create_dir_all(&artifacts) {
        eprintln!("cannot create {}: {e}", artifacts.display());
        return ExitCode::from(2);
    }
    let last_input = artifacts.join("last-input");

    let started = Instant::now();
    let mut findings: Vec<PathBuf> = Vec::new();
    loop {
        let left = seconds.saturating_sub(started.elapsed().as_secs()).max(1);
        match fuzz_once(&fuzz_dir, &artifacts, &last_input, left) {
            Outcome::Clean => break,
            Outcome::Failed(new) => {
                for f in &new {
                    eprintln!("finding: {}", f.display());
                }
                findings.extend(new);
                let left = seconds.saturating_sub(started.elapsed().as_secs());
                if !keep_going || left < MIN_RESTART_SECONDS {
                    break;
                }
                eprintln!("--keep-going: restarting the fuzzer for the remaining {left} s");
            }
            Outcome::Broken(message) => {
                eprintln!("{message}");
                return ExitCode::from(2);
            }
        }
    }
    findings.sort();
    findings.dedup();
    if findings.is_empty() {
        println!(
            "fuzzed for {} s without a crash",
            started.elapsed().as_secs()
        );
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "\n{} failing input(s) in {} s:",
        findings.len(),
        started.elapsed().as_secs()
    );
    for f in &findings {
        let shown = f.strip_prefix(root()).unwrap_or(f);
        eprintln!("  {}", shown.display());
    }
    eprintln!(
        "reproduce with: cargo run --release -p asyncforge -- validate <file>\n\
         and `cargo run --release -p asyncforge -- generate rust --allow-invalid --spec <file> \
         --out <dir>` (the target also lowers and generates), or replay through the target: \
         cd fuzz && cargo fuzz run --sanitizer none validate <file>"
    );
    ExitCode::from(1)
}

enum Outcome {
    /// The time ran out without a finding.
    Clean,
    /// The fuzzer stopped on these failing inputs.
    Failed(Vec<PathBuf>),
    /// The fuzzer could not run at all (build failure, missing tool).
    Broken(String),
}

/// One `cargo fuzz run` for at most `seconds`.
fn fuzz_once(fuzz_dir: &Path, artifacts: &Path, last_input: &Path, seconds: u64) -> Outcome {
    let _ = std::fs::remove_file(last_input);
    let started = SystemTime::now();
    let status = Command::new("cargo")
        .current_dir(fuzz_dir)
        .env("ASYNCFORGE_FUZZ_LAST_INPUT", last_input)
        .args([
            "fuzz",
            "run",
            "--sanitizer",
            "none",
            "validate",
            "corpus/validate",
        ])
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg("-dict=validate.dict")
        .arg("-max_len=65536")
        // An input that takes seconds is a bug too (quadratic paths, runaway expansion).
        .arg("-timeout=10")
        .arg("-rss_limit_mb=2048")
        .status();
    let status = match status {
        Ok(s) if s.success() => return Outcome::Clean,
        Ok(s) => s,
        Err(e) => return Outcome::Broken(format!("cannot run cargo fuzz: {e}")),
    };
    // libFuzzer (re)writes `crash-…`, `timeout-…`, `oom-…` files named by content: a file
    // written during this run is this run's finding, even when an earlier run found it too.
    let new = written_since(artifacts, started);
    if !new.is_empty() {
        quarantine(&fuzz_dir.join("corpus/validate"), &new);
        return Outcome::Failed(new);
    }
    // No artifact: either the target never ran (a build failure) or the process was killed
    // before libFuzzer could save the input (a stack overflow). The last input tells them apart.
    let fresh = std::fs::metadata(last_input)
        .and_then(|m| m.modified())
        .is_ok_and(|t| t >= started);
    if !fresh {
        return Outcome::Broken(format!(
            "cargo fuzz failed ({status}) before running an input; see its output above"
        ));
    }
    let bytes = match std::fs::read(last_input) {
        Ok(b) => b,
        Err(e) => return Outcome::Broken(format!("cannot read {}: {e}", last_input.display())),
    };
    let kept = artifacts.join(format!("crash-last-input-{:016x}", fnv1a(&bytes)));
    if let Err(e) = std::fs::write(&kept, &bytes) {
        return Outcome::Broken(format!("cannot write {}: {e}", kept.display()));
    }
    eprintln!(
        "the fuzzer was killed ({status}) without saving its input, probably by a stack \
         overflow; the last input it ran ({} bytes) is kept",
        bytes.len()
    );
    let kept = vec![kept];
    quarantine(&fuzz_dir.join("corpus/validate"), &kept);
    Outcome::Failed(kept)
}

/// Files of the artifact directory (the last-input scratch file aside) written since `since`.
fn written_since(dir: &Path, since: SystemTime) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name() != "last-input")
        .filter(|e| {
            e.metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t >= since)
        })
        .map(|e| e.path())
        .collect()
}

/// Removes corpus entries identical to a finding: a failing input that made it into the corpus
/// (an earlier run saved it before the code changed, or it is a seed) would otherwise stop every
/// restart while the corpus is replayed.
fn quarantine(corpus: &Path, findings: &[PathBuf]) {
    let bad: Vec<Vec<u8>> = findings
        .iter()
        .filter_map(|f| std::fs::read(f).ok())
        .collect();
    for entry in std::fs::read_dir(corpus).into_iter().flatten().flatten() {
        let path = entry.path();
        if std::fs::read(&path).is_ok_and(|b| bad.contains(&b))
            && std::fs::remove_file(&path).is_ok()
        {
            eprintln!(
                "removed the failing input {} from the corpus",
                path.display()
            );
        }
    }
}

/// 64-bit FNV-1a: a stable name for a kept input (not a security hash).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn usage(message: &str) -> ExitCode {
    eprintln!("{message}\n\n{USAGE}");
    ExitCode::from(2)
}

/// Copies small documents into the seed corpus; returns how many seeds it holds.
fn seed(seeds: &Path) -> std::io::Result<usize> {
    std::fs::create_dir_all(seeds)?;
    let mut sources = Vec::new();
    if let Some(c) = corpus() {
        for dir in [
            "examples/2.6.0",
            "examples/3.0.0",
            "examples/3.1.0",
            "realworld",
        ] {
            sources.extend(
                std::fs::read_dir(c.join(dir))
                    .into_iter()
                    .flatten()
                    .flatten()
                    .map(|e| e.path()),
            );
        }
    }
    for spec in [
        "specs/harbor-telemetry.yaml",
        "specs/type-zoo.yaml",
        "tests/fixtures/rules-2.6.yaml",
        "tests/fixtures/rules-3.0.yaml",
    ] {
        sources.push(root().join(spec));
    }
    for path in sources {
        let small = path
            .metadata()
            .is_ok_and(|m| m.is_file() && m.len() <= MAX_SEED_BYTES);
        let document = path
            .extension()
            .is_some_and(|e| e == "yaml" || e == "yml" || e == "json");
        let (Some(parent), Some(name)) =
            (path.parent().and_then(Path::file_name), path.file_name())
        else {
            continue;
        };
        if small && document {
            // The folder in the name keeps 2.6.0/3.0.0/3.1.0 copies of one example apart.
            let target = seeds.join(format!(
                "{}-{}",
                parent.to_string_lossy(),
                name.to_string_lossy()
            ));
            std::fs::copy(&path, target)?;
        }
    }
    // Hand-written seeds for paths the documents rarely take.
    std::fs::write(
        seeds.join("anchors.yaml"),
        "asyncapi: 3.0.0\ninfo: &i\n  title: anchors\n  version: 1.0.0\nx-copy: *i\nx-list: &l [a, b]\nx-nest: [*l, *l]\n",
    )?;
    std::fs::write(
        seeds.join("refs.json"),
        r##"{"asyncapi":"2.6.0","info":{"title":"r","version":"1"},"channels":{"a/{id}":{"parameters":{"id":{"$ref":"#/components/parameters/id"}},"subscribe":{"message":{"$ref":"#/components/messages/m"}}}},"components":{"parameters":{"id":{"schema":{"type":"string"}}},"messages":{"m":{"payload":{"$ref":"#/components/schemas/s"}}},"schemas":{"s":{"type":"object","properties":{"self":{"$ref":"#/components/schemas/s"}}}}}}"##,
    )?;
    Ok(std::fs::read_dir(seeds)?.count())
}
