//! `cargo xtask fuzz [--seconds N]`: runs the `validate` cargo-fuzz target (`fuzz/`) for a while.
//!
//! cargo-fuzz is installed from crates.io on first use. The target is built on the stable
//! toolchain with `--sanitizer none`: libFuzzer's coverage guidance still works, and the code
//! under test has no `unsafe` of its own for a sanitizer to watch. The seed corpus
//! (`fuzz/corpus/validate/`, git-ignored) is filled with small documents of the shared corpus and
//! of this repository; crashes land in `fuzz/artifacts/validate/` (git-ignored).

use std::path::Path;
use std::process::{Command, ExitCode};

use crate::{corpus, root};

/// Seeds larger than this are left out: libFuzzer mutates small inputs faster.
const MAX_SEED_BYTES: u64 = 16 * 1024;

pub fn run(args: &[String]) -> ExitCode {
    let mut seconds: u64 = 60;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => match it.next().and_then(|s| s.parse().ok()) {
                Some(n) => seconds = n,
                None => return usage("--seconds needs a number"),
            },
            "--help" | "-h" => {
                println!("cargo xtask fuzz [--seconds N]   (default 60 s)");
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
    let status = Command::new("cargo")
        .current_dir(&fuzz_dir)
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
    match status {
        Ok(s) if s.success() => {
            println!("fuzzed for {seconds} s without a crash");
            ExitCode::SUCCESS
        }
        Ok(_) => {
            eprintln!("the fuzzer stopped on a failing input:");
            for entry in std::fs::read_dir(fuzz_dir.join("artifacts/validate"))
                .into_iter()
                .flatten()
                .flatten()
            {
                eprintln!("  {}", entry.path().display());
            }
            eprintln!(
                "reproduce with: cd fuzz && cargo fuzz run --sanitizer none validate <artifact>"
            );
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("cannot run cargo fuzz: {e}");
            ExitCode::from(2)
        }
    }
}

fn usage(message: &str) -> ExitCode {
    eprintln!("{message}\n\nusage: cargo xtask fuzz [--seconds N]");
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
