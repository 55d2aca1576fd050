//! `cargo xtask bench ws` and `cargo xtask bench sse`: the code generated from
//! `specs/pulse-rooms.yaml` on the wire, against a hand-written axum + tokio-tungstenite
//! baseline measured in the same run.
//!
//! The scenarios themselves live in the `wire-bench` binary (`benches/wire`), built here in
//! release mode; each invocation runs one scenario (its server in a child process) and prints
//! one JSON line. This module alternates generated and baseline runs (ABBA order, so drift
//! and warm caches favour neither) and prints medians.

use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use serde_json::Value;

use crate::root;

/// The target: generated throughput at least this share of the baseline's.
const TARGET: f64 = 0.95;

struct Options {
    rounds: usize,
    conns: Vec<usize>,
    /// ws: also one connection with both processes on one CPU (`taskset -c 0`).
    one_cpu: bool,
    seconds: f64,
    subscribers: usize,
    events: usize,
    interval_ms: u64,
}

fn parse(what: &str, args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        rounds: if what == "ws" { 9 } else { 3 },
        conns: vec![1, 16, 64],
        one_cpu: true,
        seconds: 2.0,
        subscribers: 10_000,
        events: 20,
        interval_ms: 500,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        let number = |v: String| {
            v.parse::<f64>()
                .ok()
                .filter(|n| *n > 0.0)
                .ok_or_else(|| format!("{flag}: `{v}` is not a positive number"))
        };
        match flag.as_str() {
            "--rounds" => o.rounds = number(value()?)? as usize,
            "--seconds" => o.seconds = number(value()?)?,
            "--conns" => {
                o.conns = value()?
                    .split(',')
                    .map(|c| number(c.to_owned()).map(|n| n as usize))
                    .collect::<Result<_, _>>()?
            }
            "--no-one-cpu" => o.one_cpu = false,
            "--subscribers" => o.subscribers = number(value()?)? as usize,
            "--events" => o.events = number(value()?)? as usize,
            "--interval-ms" => o.interval_ms = number(value()?)? as u64,
            other => return Err(format!("unknown option `{other}` for `bench {what}`")),
        }
    }
    o.rounds = o.rounds.max(1);
    Ok(o)
}

/// Runs `bench ws` or `bench sse` with their options.
pub fn run(what: &str, args: &[String]) -> ExitCode {
    let options = match parse(what, args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}\n\n{}", super::BENCH_HELP);
            return ExitCode::from(2);
        }
    };
    let exe = match build() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let load = loadavg();
    let result = if what == "ws" {
        ws(&exe, &options)
    } else {
        sse(&exe, &options)
    };
    // Other processes on the machine move these numbers: say how busy it was.
    println!(
        "  ({:.0} s; load average {load} before, {} after, {} cores)",
        started.elapsed().as_secs_f64(),
        loadavg(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench {what}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The 1-minute load average (`/proc/loadavg`).
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| t.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// Builds `wire-bench` in release mode and returns its path.
fn build() -> Result<PathBuf, String> {
    eprintln!("building wire-bench in release mode…");
    let status = Command::new(env!("CARGO"))
        .current_dir(root())
        .args(["build", "--quiet", "--release", "--package", "wire-bench"])
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("`cargo build --release -p wire-bench` failed".into());
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let exe = target
        .join("release")
        .join(format!("wire-bench{}", std::env::consts::EXE_SUFFIX));
    if exe.exists() {
        Ok(exe)
    } else {
        Err(format!("{} is missing after the build", exe.display()))
    }
}

/// Runs one scenario and returns its JSON line; `cpu` pins it (and its server child) to
/// one CPU.
fn scenario(exe: &PathBuf, args: &[String], cpu: Option<usize>) -> Result<Value, String> {
    let mut command = match cpu {
        Some(cpu) => {
            let mut c = Command::new("taskset");
            c.args(["-c", &cpu.to_string()]).arg(exe);
            c
        }
        None => Command::new(exe),
    };
    let output = command
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!("`wire-bench {}` failed", args.join(" ")));
    }
    stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<Value>(l).ok())
        .ok_or_else(|| format!("`wire-bench {}` printed no result", args.join(" ")))
}

/// The two implementations in ABBA order: round 0 generated first, round 1 baseline first, …
fn order(round: usize) -> [&'static str; 2] {
    if round.is_multiple_of(2) {
        ["generated", "baseline"]
    } else {
        ["baseline", "generated"]
    }
}

/// Median of a field over runs (NaN when absent).
fn median(runs: &[Value], field: &str) -> f64 {
    median_of(runs.iter().filter_map(|r| r[field].as_f64()).collect())
}

/// Median of numbers (NaN when there are none).
fn median_of(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    if v.len() % 2 == 1 {
        v[v.len() / 2]
    } else {
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
    }
}

fn ws(exe: &PathBuf, o: &Options) -> Result<(), String> {
    println!(
        "== ws: `lobby` ping → pong round trips over loopback, N connections in a closed loop; \
         server and client in separate processes ({} rounds of {} s, generated and baseline \
         back to back in ABBA order; the ratio is the median of the rounds' ratios)",
        o.rounds, o.seconds
    );
    println!(
        "  {:>5}  {:<9}  {:>13}  {:>8}  {:>8}  {:>10}  {:>10}",
        "conns", "impl", "round trips/s", "p50 µs", "p99 µs", "server CPU", "client CPU"
    );
    let mut worst = f64::INFINITY;
    let mut cases: Vec<(usize, Option<usize>)> = o.conns.iter().map(|&c| (c, None)).collect();
    if o.one_cpu {
        if taskset_works() {
            cases.push((1, Some(0)));
        } else {
            println!("  (no `taskset` here: the one-CPU case is skipped)");
        }
    }
    for (conns, cpu) in cases {
        let label = match cpu {
            Some(_) => format!("{conns}*"),
            None => conns.to_string(),
        };
        let mut runs: [Vec<Value>; 2] = [Vec::new(), Vec::new()];
        for round in 0..o.rounds {
            for imp in order(round) {
                let args: Vec<String> = [
                    "ws-echo",
                    "--impl",
                    imp,
                    "--conns",
                    &conns.to_string(),
                    "--seconds",
                    &o.seconds.to_string(),
                ]
                .map(str::to_owned)
                .to_vec();
                let r = scenario(exe, &args, cpu)?;
                runs[usize::from(imp == "baseline")].push(r);
            }
        }
        for (imp, r) in ["generated", "baseline"].iter().zip(&runs) {
            println!(
                "  {:>5}  {:<9}  {:>13.0}  {:>8.1}  {:>8.1}  {:>7.1} µs  {:>7.1} µs",
                label,
                imp,
                median(r, "per_sec"),
                median(r, "p50_us"),
                median(r, "p99_us"),
                median(r, "server_cpu_us_per_rt"),
                median(r, "client_cpu_us_per_rt"),
            );
        }
        // The two runs of a round ran back to back, under the same load from outside (this
        // machine is a VM whose neighbours take 1–15 % of its CPU, changing from second to
        // second): the median of the rounds' ratios is steadier than the ratio of medians.
        let ratios: Vec<f64> = runs[0]
            .iter()
            .zip(&runs[1])
            .map(|(g, b)| {
                g["per_sec"].as_f64().unwrap_or(0.0) / b["per_sec"].as_f64().unwrap_or(f64::NAN)
            })
            .collect();
        let ratio = median_of(ratios.clone());
        let of_medians = median(&runs[0], "per_sec") / median(&runs[1], "per_sec");
        let steal: Vec<f64> = runs
            .iter()
            .flatten()
            .filter_map(|r| r["steal_pct"].as_f64())
            .collect();
        worst = worst.min(ratio);
        println!(
            "  {:>5}  generated/baseline throughput: {:.1} % (per round: {}; ratio of the medians {:.1} %; CPU stolen by the host {:.0}–{:.0} %)",
            "",
            ratio * 100.0,
            ratios
                .iter()
                .map(|r| format!("{:.0} %", r * 100.0))
                .collect::<Vec<_>>()
                .join(", "),
            of_medians * 100.0,
            steal.iter().copied().fold(f64::INFINITY, f64::min),
            steal.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        );
    }
    println!(
        "  lowest generated/baseline throughput: {:.1} % (target ≥ {:.0} %: {})",
        worst * 100.0,
        TARGET * 100.0,
        if worst >= TARGET { "met" } else { "NOT met" }
    );
    println!("  (CPU: user + system time of each process per round trip)");
    if o.one_cpu {
        println!(
            "  (1*: one connection with server and client pinned to the same CPU: no wake-ups of \
             an idle vCPU, so a round trip is the two processes' CPU time and the ratio compares \
             the code's cost; each process's CPU column is then about half the round trip, as \
             the kernel charges whoever runs at the tick)"
        );
    }
    Ok(())
}

/// Whether `taskset` runs here (util-linux).
fn taskset_works() -> bool {
    Command::new("taskset")
        .args(["-c", "0", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn sse(exe: &PathBuf, o: &Options) -> Result<(), String> {
    println!(
        "== sse: {} ticks, one every {} ms, fanned out to {} subscribers of `prices/btcusd` \
         (raw TCP readers in a second process); median of {} rounds, generated and baseline \
         alternating",
        o.events, o.interval_ms, o.subscribers, o.rounds
    );
    println!(
        "  {:<9}  {:>9}  {:>9}  {:>8}  {:>8}  {:>8}  {:>9}  {:>8}  {:>22}  {:>9}",
        "impl",
        "connected",
        "delivered",
        "p50 ms",
        "p99 ms",
        "max ms",
        "all got ms",
        "KiB/conn",
        "server RSS MiB idle/conn",
        "connect s"
    );
    let mut runs: [Vec<Value>; 2] = [Vec::new(), Vec::new()];
    for round in 0..o.rounds {
        for imp in order(round) {
            let args: Vec<String> = [
                "sse-fanout",
                "--impl",
                imp,
                "--subscribers",
                &o.subscribers.to_string(),
                "--events",
                &o.events.to_string(),
                "--interval-ms",
                &o.interval_ms.to_string(),
            ]
            .map(str::to_owned)
            .to_vec();
            let r = scenario(exe, &args, None)?;
            if let Some(errors) = r["errors"].as_array().filter(|e| !e.is_empty()) {
                eprintln!("  {imp}: subscriber errors: {errors:?}");
            }
            runs[usize::from(imp == "baseline")].push(r);
        }
    }
    for (imp, r) in ["generated", "baseline"].iter().zip(&runs) {
        println!(
            "  {:<9}  {:>9.0}  {:>9.0}  {:>8.1}  {:>8.1}  {:>8.1}  {:>10.1}  {:>8.1}  {:>10.1} / {:>9.1}  {:>9.1}",
            imp,
            median(r, "connected"),
            median(r, "delivered"),
            median(r, "p50_ms"),
            median(r, "p99_ms"),
            median(r, "max_ms"),
            median(r, "fanout_p50_ms"),
            median(r, "kib_per_conn"),
            median(r, "rss_before_kib") / 1024.0,
            median(r, "rss_connected_kib") / 1024.0,
            median(r, "connect_secs"),
        );
    }
    println!(
        "  (latency: publish time stamped in the tick → read by the subscriber, same clock; \
         \"all got\": median over ticks of the time until the last subscriber read it; \
         KiB/conn: server RSS growth from idle to all connected, divided by the connections)"
    );
    Ok(())
}
