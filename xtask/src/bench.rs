//! `cargo xtask bench`: the numbers behind the performance claims.
//!
//! Runs in release mode (a debug xtask re-runs itself with `--release`). Medians of several
//! runs; nothing here is an assertion, only measurements to record.

mod brokers;
mod diff;
mod fanout;
mod lsp;
mod reference;
mod validate;
mod webhook;
mod wire;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use asyncforge_codegen::Layout;
use serde_json::Value;

use crate::{corpus, root};

const BENCH_HELP: &str = "\
cargo xtask bench [validate|generate|tools|all|diff|lsp|ws|sse|webhook|fanout|mqtt|kafka] [options]

  validate   load + full validation: corpus, largest document, synthetic 1k–10k channels,
             alias bomb, end to end with the release CLI, and @asyncapi/parser side by side
  generate   lower + generate Rust on the largest documents; `cargo check` of a generated crate
  tools      lower, bundle and convert on the largest documents
  all        validate, generate and tools (default)
  diff       `asyncforge diff` end to end (release CLI) on the 2.4 MB corpus document (a valid
             copy: its root `$id` and channel `/award#` removed) against a copy with one schema
             edit, and on a small document; `asyncapi diff` (@asyncapi/cli, installed with npm
             into .cache/npm/cli) on the same pairs (not part of `all`; xtask itself stays a
             debug build: only the release CLI is timed)
  mqtt       generated MQTT publisher/subscriber vs raw rumqttc (embedded rumqttd, Mosquitto
             on 127.0.0.1:1883 when present); options --messages N (20000), --runs N (3);
             --instructions counts instructions per message of each side under callgrind
             instead (embedded rumqttd; runs of N and 2N messages, N 5000 by default, the
             median of --repeat R pairs, 3 by default)
  kafka      generated Kafka producer/consumer vs raw rdkafka (librdkafka mock cluster);
             options --messages N (50000), --runs N (3)
  lsp        `asyncforge lsp --stdio` (release CLI): time from a didChange to the
             publishDiagnostics of that version on a small document, a synthetic ~1 MB one and
             the 2.4 MB corpus document (skipped without ../shared/corpus); min and median of
             --runs edits (default 11; not part of `all`)
  webhook    webhook sign+verify against raw hmac+sha2, deliveries to a local receiver
             (not part of `all`; needs no corpus)
  fanout     WebSocket fan-out through the Redis and NATS backplanes (1 and 3 replicas) and
             in process: deliveries/s, latency p50/p99 (not part of `all`)
  ws         WebSocket echo (lobby ping → pong) of the code generated from specs/pulse-rooms.yaml
             vs a hand-written axum + tokio-tungstenite baseline: round trips/s, p50/p99 (~3 min)
  sse        SSE fan-out of price ticks to 10,000 subscribers, generated vs a hand-written axum
             baseline: delivery latency p50/p99, server memory per connection (~1 min)
             (ws and sse are not part of `all`: they need the machine to themselves)

options (validate, diff, lsp):
  --no-reference      skip the @asyncapi/parser or @asyncapi/cli comparison (no Node needed)
  --full-reference    validate: time the reference end to end on every document (default: a sample)
  --runs N            validate: in-process runs per document, median reported (default 11);
                      diff: runs of `asyncforge diff` per pair, min and median reported (default 11);
                      lsp: edits per document, min and median reported (default 11)

options (ws, sse):
  --rounds N          rounds per implementation, median reported (default 5 for ws, 3 for sse)
  --conns 1,16,64     ws: concurrent connections, one measurement each (default 1,16,64)
  --no-one-cpu        ws: skip the extra one-connection case with both processes on one CPU
  --seconds S         ws: length of one measurement (default 2)
  --subscribers N     sse: subscribers (default 10000)
  --events K          sse: ticks published (default 20)
  --interval-ms I     sse: time between ticks (default 500)
";

pub fn run(args: &[String]) -> ExitCode {
    if let Some(kind @ ("mqtt" | "kafka")) = args.first().map(String::as_str) {
        return brokers::run(kind, &args[1..]);
    }
    if args.iter().any(|a| a == "--help" || a == "-h") {
        print!("{BENCH_HELP}");
        return ExitCode::SUCCESS;
    }
    let mut what = None;
    let mut options = validate::Options::default();
    // `ws` and `sse` take their own options (wire.rs) and need no corpus.
    let wire = matches!(args.first().map(String::as_str), Some("ws" | "sse"));
    let mut it = args.iter();
    while let Some(a) = it.next().filter(|_| !wire) {
        match a.as_str() {
            "--no-reference" => options.reference = false,
            "--full-reference" => options.full_reference = true,
            "--runs" => match it.next().and_then(|n| n.parse::<usize>().ok()) {
                Some(n) if n > 0 => options.runs = n,
                _ => return usage("--runs needs a positive number"),
            },
            flag if flag.starts_with('-') => return usage(&format!("unknown option `{flag}`")),
            name if what.is_none() => what = Some(name.to_owned()),
            extra => return usage(&format!("unexpected argument `{extra}`")),
        }
    }
    let what = what.unwrap_or_else(|| "all".into());
    if ![
        "validate", "generate", "tools", "all", "diff", "lsp", "webhook", "fanout",
    ]
    .contains(&what.as_str())
    {
        return usage(&format!("unknown benchmark `{what}`"));
    }
    if what == "lsp" {
        // Times the release CLI's language server in a child process.
        return lsp::run(corpus().as_deref(), options.runs);
    }
    if what == "diff" {
        // Times the release CLI in child processes, so xtask itself needs no release build.
        let Some(corpus) = corpus() else {
            eprintln!("../shared/corpus is absent: the benchmarks need it");
            return ExitCode::from(2);
        };
        return diff::run(&corpus, options.reference, options.runs);
    }
    if cfg!(debug_assertions) {
        // Re-run optimized: timings of a debug build mean nothing.
        eprintln!("building xtask in release mode…");
        let status = Command::new(env!("CARGO"))
            .current_dir(root())
            .args(["run", "--quiet", "--release", "--package", "xtask", "--"])
            .arg("bench")
            .args(args)
            .status();
        return match status {
            Ok(s) => ExitCode::from(s.code().and_then(|c| u8::try_from(c).ok()).unwrap_or(1)),
            Err(e) => {
                eprintln!("cannot run `cargo run --release -p xtask`: {e}");
                ExitCode::from(2)
            }
        };
    }
    if what == "webhook" {
        return webhook::run();
    }
    if what == "fanout" {
        return fanout::run();
    }
    if wire {
        return wire::run(&args[0], &args[1..]);
    }
    let Some(corpus) = corpus() else {
        eprintln!("../shared/corpus is absent: the benchmarks need it");
        return ExitCode::from(2);
    };
    match what.as_str() {
        "validate" => validate::run(&corpus, &options),
        "generate" => {
            generate(&corpus);
            ExitCode::SUCCESS
        }
        "tools" => {
            tools(&corpus);
            ExitCode::SUCCESS
        }
        _ => {
            let code = validate::run(&corpus, &options);
            tools(&corpus);
            generate(&corpus);
            code
        }
    }
}

fn usage(message: &str) -> ExitCode {
    eprintln!("{message}\n\n{BENCH_HELP}");
    ExitCode::from(2)
}

/// Median duration of `f`, run (after one warm-up) at least `min` times and until about
/// 50 ms have passed (at most 201 times).
fn median<F: FnMut()>(min: usize, mut f: F) -> Duration {
    f();
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < min || (start.elapsed() < Duration::from_millis(50) && times.len() < 201) {
        let t = Instant::now();
        f();
        times.push(t.elapsed());
    }
    times.sort();
    times[times.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One document of the corpus.
struct Doc {
    /// Path relative to the corpus folder, as in `expected.jsonl`.
    rel: String,
    path: PathBuf,
    bytes: u64,
    /// The reference validator's verdict recorded in `expected.jsonl`.
    expected_valid: Option<bool>,
}

fn corpus_docs(corpus: &Path) -> Vec<Doc> {
    let expected = match std::fs::read_to_string(corpus.join("expected.jsonl")) {
        Ok(text) => text,
        Err(e) => {
            eprintln!(
                "cannot read {}: {e}",
                corpus.join("expected.jsonl").display()
            );
            return Vec::new();
        }
    };
    expected
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|e| {
            let rel = e["doc"].as_str()?.to_owned();
            let path = corpus.join(&rel);
            let bytes = std::fs::metadata(&path).ok()?.len();
            let expected_valid = e["valid"].as_bool();
            Some(Doc {
                rel,
                path,
                bytes,
                expected_valid,
            })
        })
        .collect()
}

/// Builds the release `asyncforge` binary and returns its path.
pub(crate) fn release_cli() -> Result<PathBuf, String> {
    let status = Command::new(env!("CARGO"))
        .current_dir(root())
        .args([
            "build",
            "--quiet",
            "--release",
            "--package",
            "asyncforge",
            "--bin",
            "asyncforge",
        ])
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("`cargo build --release -p asyncforge` failed".into());
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let exe = target
        .join("release")
        .join(format!("asyncforge{}", std::env::consts::EXE_SUFFIX));
    if exe.exists() {
        Ok(exe)
    } else {
        Err(format!("{} is missing after the build", exe.display()))
    }
}

/// Median wall time of `runs` calls of `f`.
fn wall<F: FnMut()>(runs: usize, mut f: F) -> Duration {
    let mut times: Vec<Duration> = (0..runs.max(1))
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn largest_valid(corpus: &Path, n: usize) -> Vec<(Doc, asyncforge::spec::Checked)> {
    let mut docs: Vec<(Doc, asyncforge::spec::Checked)> = corpus_docs(corpus)
        .into_iter()
        .map(|d| {
            let c = asyncforge::spec::load(&d.path);
            (d, c)
        })
        .filter(|(_, c)| c.version.is_some())
        .collect();
    docs.sort_by_key(|d| std::cmp::Reverse(d.0.bytes));
    docs.truncate(n);
    docs
}

fn tools(corpus: &Path) {
    println!("== tools: lowering, bundle, convert on the largest documents (median)");
    for (d, c) in largest_valid(corpus, 6) {
        let Some(v) = c.version else { continue };
        let lower = median(3, || {
            let _ = asyncforge::spec::ir::lower(&c.workspace, v);
        });
        let bundle = median(3, || {
            let _ = asyncforge::spec::tools::bundle::bundle(&c.workspace, v);
        });
        let convert = if v.is_v2() {
            format!(
                "{:>8.2} ms",
                ms(median(3, || {
                    let _ = asyncforge::spec::tools::convert_workspace(
                        &c.workspace,
                        v,
                        asyncforge::spec::Version::V3_0,
                    );
                }))
            )
        } else {
            "       -   ".into()
        };
        println!(
            "  lower {:>8.2} ms  bundle {:>8.2} ms  convert {}  {} ({} B, {})",
            ms(lower),
            ms(bundle),
            convert,
            d.rel,
            d.bytes,
            v
        );
    }
}

fn generate(corpus: &Path) {
    println!("== generate: lower + types + render on the largest documents (median)");
    for (d, c) in largest_valid(corpus, 6) {
        let Some(v) = c.version else { continue };
        let module = asyncforge_codegen::Settings::default().layout(Layout::Module);
        let t = median(3, || {
            let api = asyncforge::spec::ir::lower(&c.workspace, v);
            let _ = asyncforge_codegen::generate(&api, &module);
        });
        let api = asyncforge::spec::ir::lower(&c.workspace, v);
        let lines = asyncforge_codegen::generate(&api, &module)
            .map(|g| g.files.iter().map(|f| f.contents.lines().count()).sum())
            .unwrap_or(0);
        println!(
            "  {:>8.1} ms  {:>6} lines  {} ({} B{})",
            ms(t),
            lines,
            d.rel,
            d.bytes,
            if c.has_errors() { ", has errors" } else { "" }
        );
    }

    println!("== generate: `cargo check` of the generated streetlights crate");
    let spec = corpus.join("examples/3.0.0/streetlights-kafka-asyncapi.yml");
    let dir = root().join(".cache/bench/streetlights-crate");
    let settings = asyncforge::Settings::crate_dir(&dir)
        .crate_name("streetlights-bench")
        .runtime(asyncforge::Runtime::Path(
            root()
                .join("crates/asyncforge-runtime")
                .display()
                .to_string(),
        ));
    if let Err(e) = asyncforge::Generator::new(settings).generate(&spec) {
        println!("  cannot generate: {e}");
        return;
    }
    let _ = std::fs::write(dir.join("Cargo.toml"), {
        let t = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
        if t.contains("[workspace]") {
            t
        } else {
            format!("{t}\n[workspace]\n")
        }
    });
    let target = root().join(".cache/bench/target");
    let check = || {
        Command::new(env!("CARGO"))
            .args(["check", "--quiet", "--manifest-path"])
            .arg(dir.join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", &target)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let first = Instant::now();
    let ok = check();
    let first = first.elapsed();
    let t = wall(3, || {
        let lib = dir.join("src/lib.rs");
        let text = std::fs::read_to_string(&lib).unwrap_or_default();
        let _ = std::fs::write(&lib, text);
        let _ = check();
    });
    println!(
        "  first check (with dependencies): {:.1} s; check of the crate itself: {:.2} s{}",
        first.as_secs_f64(),
        t.as_secs_f64(),
        if ok { "" } else { " (FAILED)" }
    );
}
