//! `cargo xtask bench mqtt|kafka [--messages N] [--runs N]`: throughput of the generated MQTT
//! and Kafka code against raw rumqttc / rdkafka doing the same work in the same run.
//!
//! The measuring happens in the `brokers` binary of `tests/brokers` (its own workspace, so the
//! runtime's `mqtt`/`kafka` features and librdkafka stay out of xtask's build), built and run
//! here in release mode: against an embedded rumqttd and the machine's Mosquitto on
//! 127.0.0.1:1883 when it answers (MQTT), and against librdkafka's mock cluster (Kafka). See
//! `tests/brokers/src/bin/brokers/bench.rs` for what each side does.
//!
//! `cargo xtask bench mqtt --instructions [--messages N] [--repeat R]` counts instead of timing:
//! each side of each MQTT case runs alone under callgrind (`valgrind --tool=callgrind`), against
//! the embedded rumqttd, once with N and once with 2N messages; the difference divided by N is
//! what one message costs that side in instructions, with the broker and the counting peer
//! included and the start-up cancelled out. Each pair of runs is made R times (3 by default) and
//! the median counts: the broker batches a little differently from run to run. Instruction
//! counts do not move with the machine's load, so the ratio of the two sides is repeatable where
//! timings on a shared machine are not.

use std::path::PathBuf;
use std::process::{Command, ExitCode};

use crate::root;

/// Runs the broker benchmark `kind` (`mqtt` or `kafka`) with the remaining arguments.
pub fn run(kind: &str, args: &[String]) -> ExitCode {
    if kind == "mqtt" && args.iter().any(|a| a == "--instructions") {
        return match instructions(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("bench mqtt --instructions: {e}");
                ExitCode::from(1)
            }
        };
    }
    let manifest = root().join("tests/brokers/Cargo.toml");
    eprintln!("building the broker benchmarks in release mode…");
    let status = Command::new(env!("CARGO"))
        .current_dir(root())
        .arg("run")
        .arg("--quiet")
        .arg("--release")
        .arg("--manifest-path")
        .arg(&manifest)
        .args(["--bin", "brokers", "--", "bench", kind])
        .args(args)
        .status();
    match status {
        Ok(s) => ExitCode::from(s.code().and_then(|c| u8::try_from(c).ok()).unwrap_or(1)),
        Err(e) => {
            eprintln!("cannot run the broker benchmarks: {e}");
            ExitCode::from(2)
        }
    }
}

/// `bench mqtt --instructions`: instructions per message of each side, from callgrind.
fn instructions(args: &[String]) -> Result<(), String> {
    let mut n: u64 = 5_000;
    let mut repeat: usize = 3;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--instructions" => {}
            "--messages" => n = positive(it.next(), "--messages N")?,
            "--repeat" => repeat = positive(it.next(), "--repeat R")?,
            other => return Err(format!("unknown option `{other}`")),
        }
    }
    let valgrind = Command::new("valgrind").arg("--version").output();
    if !valgrind.is_ok_and(|o| o.status.success()) {
        return Err("valgrind is not installed (Debian package `valgrind`)".into());
    }
    let manifest = root().join("tests/brokers/Cargo.toml");
    eprintln!("building the broker benchmarks in release mode…");
    let built = Command::new(env!("CARGO"))
        .current_dir(root())
        .args([
            "build",
            "--quiet",
            "--release",
            "--bin",
            "brokers",
            "--manifest-path",
        ])
        .arg(&manifest)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !built.success() {
        return Err("the broker benchmarks did not build".into());
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("tests/brokers/target"));
    let binary = target.join("release/brokers");
    println!(
        "MQTT 3.1.1, QoS 1, embedded rumqttd: instructions per message (callgrind; client, broker \
         and counting peer in one process), from runs of {n} and {} messages, median of {repeat}",
        2 * n
    );
    for case in ["produce", "consume"] {
        let mut per_message = Vec::new();
        for side in ["generated", "raw"] {
            // The broker batches differently from run to run (a few percent on the consume
            // side): each repetition is one pair of runs, and the median pair counts.
            let mut pairs = Vec::new();
            for _ in 0..repeat {
                let small = collected(&binary, side, case, n)?;
                let large = collected(&binary, side, case, 2 * n)?;
                pairs.push(large.saturating_sub(small) as f64 / n as f64);
            }
            pairs.sort_by(f64::total_cmp);
            let shown: Vec<String> = pairs.iter().map(|p| format!("{p:.0}")).collect();
            eprintln!("{case} {side}: {}", shown.join(", "));
            per_message.push(pairs[pairs.len() / 2]);
        }
        let (generated, raw) = (per_message[0], per_message[1]);
        println!(
            "{case:<8} generated {generated:>9.0}   raw {raw:>9.0}   raw/generated {:>5.1} %",
            100.0 * raw / generated.max(1.0)
        );
    }
    Ok(())
}

/// An option's value, a whole number above zero; `usage` when it is missing or not one.
fn positive<T: std::str::FromStr + PartialOrd + From<u8>>(
    value: Option<&String>,
    usage: &str,
) -> Result<T, String> {
    value
        .and_then(|v| v.parse().ok())
        .filter(|v| *v > T::from(0))
        .ok_or_else(|| usage.to_owned())
}

/// Instructions callgrind counted in one run of one side of one case.
fn collected(binary: &std::path::Path, side: &str, case: &str, n: u64) -> Result<u64, String> {
    let out = Command::new("valgrind")
        .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
        .arg(binary)
        .args([
            "bench",
            "mqtt",
            "--side",
            side,
            "--case",
            case,
            "--messages",
        ])
        .arg(n.to_string())
        .output()
        .map_err(|e| format!("cannot run valgrind: {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!(
            "{side} {case} ({n} messages) failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            stderr
        ));
    }
    // `==pid== Collected : 123456789`
    stderr
        .lines()
        .find_map(|l| l.split("Collected :").nth(1))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("no instruction count in callgrind's output: {stderr}"))
}
