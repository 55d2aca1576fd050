//! `cargo xtask bench`: the numbers behind the performance claims.
//!
//! Runs in release mode (a debug xtask re-runs itself with `--release`). Medians of several
//! runs; nothing here is an assertion, only measurements to record.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{corpus, root};

pub fn run(args: &[String]) -> ExitCode {
    if cfg!(debug_assertions) {
        // Re-run optimized: timings of a debug build mean nothing.
        let status = Command::new(env!("CARGO"))
            .current_dir(root())
            .args([
                "run",
                "--quiet",
                "--release",
                "--package",
                "xtask",
                "--",
                "bench",
            ])
            .args(args)
            .status();
        return match status {
            Ok(s) if s.success() => ExitCode::SUCCESS,
            _ => ExitCode::from(1),
        };
    }
    let what = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map(String::as_str)
        .unwrap_or("all");
    let reference = !args.iter().any(|a| a == "--no-reference");
    let Some(corpus) = corpus() else {
        eprintln!("../shared/corpus is absent: the benchmarks need it");
        return ExitCode::from(2);
    };
    match what {
        "validate" => validate(&corpus, reference),
        "generate" => generate(&corpus),
        "tools" => tools(&corpus),
        "all" => {
            validate(&corpus, reference);
            tools(&corpus);
            generate(&corpus);
        }
        other => {
            eprintln!("unknown benchmark `{other}` (validate, generate, tools, all)");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}

/// Median duration of `f`, run at least `min` times and until about 200 ms have passed.
fn median<F: FnMut()>(min: usize, mut f: F) -> Duration {
    f(); // warm-up
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < min || (start.elapsed() < Duration::from_millis(200) && times.len() < 200) {
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

struct Doc {
    rel: String,
    path: PathBuf,
    bytes: u64,
}

fn corpus_docs(corpus: &Path) -> Vec<Doc> {
    let expected = std::fs::read_to_string(corpus.join("expected.jsonl")).unwrap_or_default();
    expected
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|e| {
            let rel = e["doc"].as_str()?.to_owned();
            let path = corpus.join(&rel);
            let bytes = std::fs::metadata(&path).ok()?.len();
            Some(Doc { rel, path, bytes })
        })
        .collect()
}

fn release_cli() -> PathBuf {
    let _ = Command::new(env!("CARGO"))
        .current_dir(root())
        .args(["build", "--quiet", "--release", "--package", "asyncforge"])
        .status();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    target.join("release/asyncforge")
}

fn wall<F: FnMut()>(runs: usize, mut f: F) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

/// A 3.0 document with `n` channels, each with a parameter, a message and a payload schema
/// referenced through `components`.
fn synthetic(n: usize) -> String {
    let mut s = String::from(
        "asyncapi: 3.0.0\ninfo:\n  title: Synthetic\n  version: 1.0.0\n  description: generated\nchannels:\n",
    );
    for i in 0..n {
        s.push_str(&format!(
            "  c{i}:\n    address: rooms/{{roomId}}/feed{i}\n    parameters:\n      roomId:\n        description: room\n    messages:\n      m{i}:\n        $ref: '#/components/messages/m{i}'\n"
        ));
    }
    s.push_str("operations:\n");
    for i in 0..n {
        s.push_str(&format!(
            "  op{i}:\n    action: {}\n    summary: operation {i}\n    channel:\n      $ref: '#/channels/c{i}'\n    messages:\n      - $ref: '#/channels/c{i}/messages/m{i}'\n",
            if i % 2 == 0 { "send" } else { "receive" }
        ));
    }
    s.push_str("components:\n  messages:\n");
    for i in 0..n {
        s.push_str(&format!("    m{i}:\n      name: m{i}\n      payload:\n        $ref: '#/components/schemas/s{i}'\n"));
    }
    s.push_str("  schemas:\n");
    for i in 0..n {
        s.push_str(&format!(
            "    s{i}:\n      type: object\n      required: [id]\n      properties:\n        id: {{type: string, format: uuid}}\n        value: {{type: number, minimum: 0}}\n        tags: {{type: array, items: {{type: string}}}}\n"
        ));
    }
    s
}

fn validate(corpus: &Path, reference: bool) {
    println!("== validate: in-process load + full validation (median per document)");
    let docs = corpus_docs(corpus);
    let mut total = 0.0;
    let mut rows = Vec::new();
    for d in &docs {
        let t = median(5, || {
            let _ = asyncforge::spec::load(&d.path);
        });
        total += ms(t);
        rows.push((d, ms(t)));
    }
    for (d, t) in &rows {
        println!("  {:>9.3} ms  {:>9} B  {}", t, d.bytes, d.rel);
    }
    println!(
        "  corpus: {} documents, {:.1} ms in all, {:.3} ms mean, {:.3} ms median",
        rows.len(),
        total,
        total / rows.len().max(1) as f64,
        {
            let mut v: Vec<f64> = rows.iter().map(|r| r.1).collect();
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied().unwrap_or_default()
        }
    );
    if let Some((d, t)) = rows.iter().max_by_key(|(d, _)| d.bytes) {
        println!(
            "  largest: {} ({} B): {:.1} ms (target < 100 ms)",
            d.rel, d.bytes, t
        );
    }

    println!("== validate: synthetic documents (time should grow linearly with size)");
    let dir = root().join(".cache/bench");
    let _ = std::fs::create_dir_all(&dir);
    for n in [1000usize, 2500, 5000, 10_000] {
        let p = dir.join(format!("synthetic-{n}.yaml"));
        let text = synthetic(n);
        let _ = std::fs::write(&p, &text);
        let t = median(3, || {
            let c = asyncforge::spec::load(&p);
            assert!(!c.has_errors(), "synthetic document must be valid");
        });
        println!(
            "  {n:>6} channels ({:>8} B): {:>8.1} ms  {:>6.2} µs/channel",
            text.len(),
            ms(t),
            ms(t) * 1000.0 / n as f64
        );
    }

    println!("== validate: hostile input");
    let mut bomb =
        String::from("asyncapi: 3.0.0\na0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let p = i - 1;
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    let t = median(5, || {
        let c = asyncforge::spec::load_bytes(
            Path::new("bomb.yaml"),
            bomb.as_bytes(),
            &Default::default(),
        );
        assert!(c.diagnostics.iter().any(|d| d.code == "alias-limit"));
    });
    println!("  {} B alias bomb rejected in {:.3} ms", bomb.len(), ms(t));

    println!("== validate: end to end (the release CLI, process start included)");
    let cli = release_cli();
    let mut e2e: Vec<(String, f64)> = Vec::new();
    for d in &docs {
        let t = wall(3, || {
            let _ = Command::new(&cli)
                .args(["validate", "--format", "json", "--severity", "error"])
                .arg(&d.path)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        });
        e2e.push((d.rel.clone(), ms(t)));
    }
    let e2e_total: f64 = e2e.iter().map(|e| e.1).sum();
    println!(
        "  {} documents, {:.1} ms in all, {:.2} ms per document",
        e2e.len(),
        e2e_total,
        e2e_total / e2e.len().max(1) as f64
    );

    if !reference {
        println!("(reference comparison skipped: --no-reference)");
        return;
    }
    let Some(node_dir) = install_reference() else {
        println!("(reference comparison skipped: node/npm unavailable or the install failed)");
        return;
    };
    println!("== validate: @asyncapi/parser 3.6.6 side by side");
    // ES modules resolve packages next to the script, so the script runs from the npm folder.
    let script = node_dir.join("validate.mjs");
    if std::fs::copy(root().join("xtask/node/validate.mjs"), &script).is_err() {
        println!("(reference comparison skipped: cannot copy the Node script)");
        return;
    }
    // In-process: one Node process over all documents, median of 3 parses each.
    let out = Command::new("node")
        .arg(&script)
        .args(docs.iter().map(|d| &d.path))
        .env("NODE_PATH", node_dir.join("node_modules"))
        .env("RUNS", "2")
        .current_dir(&node_dir)
        .stderr(Stdio::null())
        .output();
    let inproc: Vec<Value> = out
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect()
        })
        .unwrap_or_default();
    let mut ratios_in = Vec::new();
    let mut ratios_e2e = Vec::new();
    let mut ref_e2e_total = 0.0;
    let mut ours_e2e_sampled = 0.0;
    println!(
        "  {:>10} {:>10} {:>8}   {:>10} {:>10} {:>8}   document",
        "ref ms", "ours ms", "ratio", "ref e2e", "ours e2e", "ratio"
    );
    // Node needs about a second to start; end to end, a third of the documents (and the
    // largest) keep the run short.
    let largest = docs
        .iter()
        .enumerate()
        .max_by_key(|(_, d)| d.bytes)
        .map(|(i, _)| i);
    for (i, d) in docs.iter().enumerate() {
        let ours_in = rows[i].1;
        let sample_e2e = i % 3 == 0 || Some(i) == largest;
        let ref_in = inproc
            .iter()
            .find(|v| v["path"].as_str() == d.path.to_str())
            .and_then(|v| v["median_ms"].as_f64());
        let ours_e2e = e2e[i].1;
        let ref_e2e = sample_e2e.then(|| {
            ms(wall(1, || {
                let _ = Command::new("node")
                    .arg(&script)
                    .arg(&d.path)
                    .env("RUNS", "1")
                    .current_dir(&node_dir)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }))
        });
        if let Some(r) = ref_in {
            ratios_in.push(r / ours_in.max(1e-6));
        }
        if let Some(r) = ref_e2e {
            ref_e2e_total += r;
            ours_e2e_sampled += ours_e2e;
            ratios_e2e.push(r / ours_e2e.max(1e-6));
        }
        println!(
            "  {:>10} {:>10.3} {:>8}   {:>10} {:>10.2} {:>8}   {}",
            ref_in
                .map(|r| format!("{r:.1}"))
                .unwrap_or_else(|| "-".into()),
            ours_in,
            ref_in
                .map(|r| format!("{:.0}x", r / ours_in.max(1e-6)))
                .unwrap_or_else(|| "-".into()),
            ref_e2e
                .map(|r| format!("{r:.1}"))
                .unwrap_or_else(|| "-".into()),
            ours_e2e,
            ref_e2e
                .map(|r| format!("{:.0}x", r / ours_e2e.max(1e-6)))
                .unwrap_or_else(|| "-".into()),
            d.rel
        );
    }
    let geo = |v: &[f64]| (v.iter().map(|x| x.ln()).sum::<f64>() / v.len().max(1) as f64).exp();
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "  end to end per document ({} sampled): geometric mean {:.0}x faster, lowest ratio {:.0}x; sampled documents {:.1} s vs {:.2} s",
        ratios_e2e.len(),
        geo(&ratios_e2e),
        min(&ratios_e2e),
        ref_e2e_total / 1000.0,
        ours_e2e_sampled / 1000.0
    );
    println!(
        "  in process per document: geometric mean {:.0}x faster, slowest-ratio document {:.0}x",
        geo(&ratios_in),
        min(&ratios_in)
    );
}

fn install_reference() -> Option<PathBuf> {
    let dir = root().join(".cache/npm");
    let pkg = dir.join("node_modules/@asyncapi/parser/package.json");
    if pkg.exists() {
        return Some(dir);
    }
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(
        dir.join("package.json"),
        "{\"private\": true, \"type\": \"module\"}\n",
    );
    eprintln!(
        "installing @asyncapi/parser@3.6.6 into {} (once)…",
        dir.display()
    );
    let ok = Command::new("npm")
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--silent",
            "@asyncapi/parser@3.6.6",
        ])
        .current_dir(&dir)
        .status()
        .is_ok_and(|s| s.success());
    (ok && pkg.exists()).then_some(dir)
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
        let t = median(3, || {
            let api = asyncforge::spec::ir::lower(&c.workspace, v);
            let _ = asyncforge::codegen::generate_module(&api);
        });
        let api = asyncforge::spec::ir::lower(&c.workspace, v);
        let lines = asyncforge::codegen::generate_module(&api)
            .map(|(t, _)| t.lines().count())
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
    let settings = asyncforge::codegen::Settings::new("streetlights-bench").with_runtime(
        asyncforge::codegen::Runtime::Path(
            root()
                .join("crates/asyncforge-runtime")
                .display()
                .to_string(),
        ),
    );
    if let Err(e) = asyncforge::generate::generate_crate(&spec, &dir, &settings) {
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
