//! `cargo xtask bench mqtt|kafka [--messages N] [--runs N]`: throughput of the generated MQTT
//! and Kafka code against raw rumqttc / rdkafka doing the same work in the same run.
//!
//! The measuring happens in the `brokers` binary of `tests/brokers` (its own workspace, so the
//! runtime's `mqtt`/`kafka` features and librdkafka stay out of xtask's build), built and run
//! here in release mode: against an embedded rumqttd and the machine's Mosquitto on
//! 127.0.0.1:1883 when it answers (MQTT), and against librdkafka's mock cluster (Kafka). See
//! `tests/brokers/src/bin/brokers/bench.rs` for what each side does.

use std::process::{Command, ExitCode};

use crate::root;

/// Runs the broker benchmark `kind` (`mqtt` or `kafka`) with the remaining arguments.
pub fn run(kind: &str, args: &[String]) -> ExitCode {
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
