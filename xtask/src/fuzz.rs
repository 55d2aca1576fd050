//! `cargo xtask fuzz`: runs the `validate` cargo-fuzz target for a while.
//!
//! cargo-fuzz is installed from crates.io on first use; on the stable toolchain the target is
//! built with `--sanitizer none` (libFuzzer's coverage guidance still works).

use std::process::{Command, ExitCode};

use crate::{corpus, root};

pub fn run(args: &[String]) -> ExitCode {
    let seconds: u64 = args
        .iter()
        .position(|a| a == "--seconds")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
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
            eprintln!("cannot install cargo-fuzz");
            return ExitCode::from(2);
        }
    }
    // Seed the corpus with small real documents.
    let seeds = root().join("fuzz/corpus/validate");
    let _ = std::fs::create_dir_all(&seeds);
    if let Some(c) = corpus() {
        for dir in ["examples/2.6.0", "examples/3.0.0"] {
            for entry in std::fs::read_dir(c.join(dir))
                .into_iter()
                .flatten()
                .flatten()
            {
                let p = entry.path();
                if p.is_file() && p.metadata().is_ok_and(|m| m.len() < 16 * 1024) {
                    let _ = std::fs::copy(&p, seeds.join(entry.file_name()));
                }
            }
        }
    }
    for spec in [
        "specs/harbor-telemetry.yaml",
        "tests/fixtures/rules-2.6.yaml",
        "tests/fixtures/rules-3.0.yaml",
    ] {
        let p = root().join(spec);
        if let Some(name) = p.file_name() {
            let _ = std::fs::copy(&p, seeds.join(name));
        }
    }
    let status = Command::new("cargo")
        .current_dir(root().join("fuzz"))
        .args([
            "fuzz",
            "run",
            "--sanitizer",
            "none",
            "validate",
            "corpus/validate",
            "--",
        ])
        .arg(format!("-max_total_time={seconds}"))
        .arg("-max_len=65536")
        .arg("-rss_limit_mb=2048")
        .status();
    match status {
        Ok(s) if s.success() => {
            println!("fuzzed for {seconds} s without a crash");
            ExitCode::SUCCESS
        }
        Ok(_) => {
            eprintln!("the fuzzer found a crash: see fuzz/artifacts/validate/");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("cannot run cargo fuzz: {e}");
            ExitCode::from(2)
        }
    }
}
