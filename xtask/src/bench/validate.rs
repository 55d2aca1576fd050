//! `cargo xtask bench validate`: load + full validation, in process and end to end, over the
//! corpus, a synthetic document at several sizes and an alias bomb, side by side with the
//! reference validator.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use asyncforge::spec::{LoadOptions, load, load_bytes};

use super::reference::{self, Reference};
use super::{Doc, corpus_docs, median, ms, release_cli, wall};
use crate::root;

/// What `bench validate` measures.
pub struct Options {
    /// Run `@asyncapi/parser` side by side (needs Node and npm).
    pub reference: bool,
    /// Time the reference end to end on every document instead of a sample.
    pub full_reference: bool,
    /// Minimum in-process runs per document (the median is reported).
    pub runs: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            reference: true,
            full_reference: false,
            runs: 11,
        }
    }
}

/// Runs of the CLI per document, end to end (median reported).
const CLI_RUNS: usize = 5;
/// Synthetic document sizes, in channels.
const SIZES: [usize; 4] = [1000, 2500, 5000, 10_000];
/// How many of the documents that take us longest are always timed end to end with the
/// reference (where the ratio is lowest: the reference's time is mostly Node's start-up).
const REFERENCE_SLOWEST: usize = 10;
/// Of the other documents, one in this many is timed end to end with the reference.
const REFERENCE_EVERY: usize = 4;
/// Targets from the issue.
const LARGEST_TARGET_MS: f64 = 100.0;
const RATIO_TARGET: f64 = 100.0;

struct Row {
    doc: Doc,
    inproc: Duration,
    e2e: Option<Duration>,
    valid: bool,
    ref_in: Option<reference::InProcess>,
    ref_e2e: Option<Duration>,
}

pub fn run(corpus: &Path, options: &Options) -> ExitCode {
    let started = Instant::now();
    let mut summary = String::new();
    let docs = corpus_docs(corpus);
    if docs.is_empty() {
        eprintln!(
            "no documents found through {}/expected.jsonl",
            corpus.display()
        );
        return ExitCode::from(2);
    }

    // In process.
    eprintln!(
        "timing {} documents in process (median of ≥{} runs)…",
        docs.len(),
        options.runs
    );
    let mut rows: Vec<Row> = docs
        .into_iter()
        .map(|doc| {
            let valid = !load(&doc.path).has_errors();
            let inproc = median(options.runs, || {
                let _ = load(&doc.path);
            });
            Row {
                doc,
                inproc,
                e2e: None,
                valid,
                ref_in: None,
                ref_e2e: None,
            }
        })
        .collect();

    // End to end with the release CLI.
    let cli = match release_cli() {
        Ok(cli) => Some(cli),
        Err(e) => {
            eprintln!("end-to-end timings skipped: {e}");
            None
        }
    };
    if let Some(cli) = &cli {
        eprintln!("timing the release CLI end to end (median of {CLI_RUNS} runs)…");
        for row in &mut rows {
            row.e2e = cli_time(cli, &row.doc.path, CLI_RUNS);
        }
    }

    println!(
        "== validate: corpus, in process (load + full validation, median of ≥{} runs) and end to end (release CLI `asyncforge validate --format json`, process start included, median of {CLI_RUNS})",
        options.runs
    );
    println!(
        "  {:>10} {:>10} {:>9}  {:<7}  document",
        "in-proc ms", "e2e ms", "bytes", "verdict"
    );
    for r in &rows {
        println!(
            "  {:>10.3} {:>10} {:>9}  {:<7}  {}{}",
            ms(r.inproc),
            opt_ms(r.e2e, 2),
            r.doc.bytes,
            if r.valid { "valid" } else { "invalid" },
            r.doc.rel,
            match r.doc.expected_valid {
                Some(e) if e != r.valid => "   (≠ expected.jsonl)",
                _ => "",
            }
        );
    }
    let inproc: Vec<f64> = rows.iter().map(|r| ms(r.inproc)).collect();
    let e2e: Vec<f64> = rows.iter().filter_map(|r| r.e2e.map(ms)).collect();
    let line = format!(
        "corpus: {} documents; in process {:.1} ms in all (median {:.3} ms, mean {:.3} ms per document); end to end {:.1} ms in all (median {:.2} ms per document)",
        rows.len(),
        inproc.iter().sum::<f64>(),
        median_of(&inproc),
        inproc.iter().sum::<f64>() / inproc.len() as f64,
        e2e.iter().sum::<f64>(),
        median_of(&e2e),
    );
    println!("  {line}");
    let _ = writeln!(summary, "  {line}");
    let agree = rows
        .iter()
        .filter(|r| r.doc.expected_valid == Some(r.valid))
        .count();
    let _ = writeln!(
        summary,
        "  verdicts: {agree} of {} agree with expected.jsonl (@asyncapi/parser {}; deliberate disagreements are listed in crates/asyncforge-spec/tests/corpus.rs)",
        rows.len(),
        reference::VERSION
    );
    if let Some(r) = rows.iter().max_by_key(|r| r.doc.bytes) {
        let t = ms(r.inproc);
        let line = format!(
            "largest document: {} ({:.1} MB): {:.1} ms in process, {} ms end to end; target < {LARGEST_TARGET_MS} ms: {}",
            r.doc.rel,
            r.doc.bytes as f64 / 1e6,
            t,
            opt_ms(r.e2e, 1),
            if t < LARGEST_TARGET_MS && r.e2e.is_none_or(|e| ms(e) < LARGEST_TARGET_MS) {
                "met"
            } else {
                "NOT MET"
            }
        );
        println!("  {line}");
        let _ = writeln!(summary, "  {line}");
    }

    synthetic(cli.as_deref(), &mut summary);
    alias_bomb(&mut summary);

    if options.reference {
        match Reference::install() {
            Ok(reference) => compare(&reference, &mut rows, options, &mut summary),
            Err(e) => {
                println!("(reference comparison skipped: {e})");
                let _ = writeln!(summary, "  reference: skipped ({e})");
            }
        }
    } else {
        println!("(reference comparison skipped: --no-reference)");
        let _ = writeln!(summary, "  reference: skipped (--no-reference)");
    }

    println!(
        "== summary (bench validate, {:.0} s)",
        started.elapsed().as_secs_f64()
    );
    print!("{summary}");
    ExitCode::SUCCESS
}

/// Median wall time of `runs` runs of `asyncforge validate` on `path`, or `None` when the CLI
/// could not run or failed with an I/O or usage error (exit code 2 or a signal).
fn cli_time(cli: &Path, path: &Path, runs: usize) -> Option<Duration> {
    let mut ok = true;
    let t = wall(runs, || {
        let status = Command::new(cli)
            .args(["validate", "--format", "json"])
            .arg(path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        ok &= status.is_ok_and(|s| matches!(s.code(), Some(0 | 1)));
    });
    ok.then_some(t)
}

/// A 3.0 document with `n` channels, each with a parameter and a message; one operation per
/// channel; messages and payload schemas in `components`, all reached through `$ref`.
pub fn synthetic_document(n: usize) -> String {
    let mut s = String::from(
        "asyncapi: 3.0.0\ninfo:\n  title: Synthetic\n  version: 1.0.0\n  description: generated\nchannels:\n",
    );
    for i in 0..n {
        let _ = write!(
            s,
            "  c{i}:\n    address: rooms/{{roomId}}/feed{i}\n    parameters:\n      roomId:\n        description: room\n    messages:\n      m{i}:\n        $ref: '#/components/messages/m{i}'\n"
        );
    }
    s.push_str("operations:\n");
    for i in 0..n {
        let _ = write!(
            s,
            "  op{i}:\n    action: {}\n    summary: operation {i}\n    channel:\n      $ref: '#/channels/c{i}'\n    messages:\n      - $ref: '#/channels/c{i}/messages/m{i}'\n",
            if i % 2 == 0 { "send" } else { "receive" }
        );
    }
    s.push_str("components:\n  messages:\n");
    for i in 0..n {
        let _ = write!(
            s,
            "    m{i}:\n      name: m{i}\n      payload:\n        $ref: '#/components/schemas/s{i}'\n"
        );
    }
    s.push_str("  schemas:\n");
    for i in 0..n {
        let _ = write!(
            s,
            "    s{i}:\n      type: object\n      required: [id]\n      properties:\n        id: {{type: string, format: uuid}}\n        value: {{type: number, minimum: 0}}\n        tags: {{type: array, items: {{type: string}}}}\n"
        );
    }
    s
}

fn synthetic(cli: Option<&Path>, summary: &mut String) {
    let dir = root().join(".cache/bench");
    if let Err(e) = std::fs::create_dir_all(&dir) {
        println!(
            "(synthetic documents skipped: cannot create {}: {e})",
            dir.display()
        );
        return;
    }
    println!(
        "== validate: synthetic 3.0.0 documents in {} (channels + operations + messages + schemas by $ref); time should grow linearly",
        dir.display()
    );
    println!(
        "  {:>8} {:>10} {:>11} {:>12} {:>10} {:>10}",
        "channels", "bytes", "in-proc ms", "ms/channel", "vs 1k", "e2e ms"
    );
    let mut first: Option<f64> = None;
    let mut points = Vec::new();
    for n in SIZES {
        let path = dir.join(format!("synthetic-{n}.yaml"));
        let text = synthetic_document(n);
        if let Err(e) = std::fs::write(&path, &text) {
            println!("  cannot write {}: {e}", path.display());
            continue;
        }
        let checked = load(&path);
        if let Some(d) = checked.diagnostics.iter().find(|d| d.is_error()) {
            println!(
                "  the synthetic document is invalid ({}: {}); timings would mean little",
                d.code, d.message
            );
            return;
        }
        let t = ms(median(3, || {
            let _ = load(&path);
        }));
        let per = t / n as f64;
        let base = *first.get_or_insert(per);
        let e2e = cli.and_then(|cli| cli_time(cli, &path, 3));
        println!(
            "  {n:>8} {:>10} {t:>11.1} {per:>12.4} {:>9.2}x {:>10}",
            text.len(),
            per / base,
            opt_ms(e2e, 1)
        );
        points.push((n, t));
    }
    if let (Some(&(n0, t0)), Some(&(n1, t1))) = (points.first(), points.last()) {
        let line = format!(
            "synthetic: {n1} channels ({:.1} MB) in {t1:.0} ms in process; {}× the size took {:.1}× the time ({:.4} → {:.4} ms per channel)",
            synthetic_document(n1).len() as f64 / 1e6,
            n1 / n0,
            t1 / t0,
            t0 / n0 as f64,
            t1 / n1 as f64
        );
        println!("  {line}");
        let _ = writeln!(summary, "  {line}");
    }
}

/// "Billion laughs": ten levels of ten aliases each (10^10 nodes if expanded) in about 1 KB.
pub fn alias_bomb_document() -> String {
    let mut s = String::from(
        "asyncapi: 3.0.0\ninfo:\n  title: laughs\n  version: 1.0.0\nchannels: {}\nx-l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
    );
    for i in 1..10 {
        let p = format!("*l{}", i - 1);
        let items = [p.as_str(); 10].join(", ");
        let _ = writeln!(s, "x-l{i}: &l{i} [{items}]");
    }
    s
}

fn alias_bomb(summary: &mut String) {
    println!("== validate: hostile input");
    let bomb = alias_bomb_document();
    let checked = load_bytes(
        Path::new("bomb.yaml"),
        bomb.as_bytes(),
        &LoadOptions::default(),
    );
    let errors = || checked.diagnostics.iter().filter(|d| d.is_error());
    let rejected = errors()
        .find(|d| d.code == "alias-limit")
        .or_else(|| errors().next())
        .map(|d| d.code);
    let t = ms(median(5, || {
        let _ = load_bytes(
            Path::new("bomb.yaml"),
            bomb.as_bytes(),
            &LoadOptions::default(),
        );
    }));
    let line = match rejected {
        Some(code) => format!(
            "alias bomb ({} B, 10^10 nodes if expanded): rejected ({code}) in {t:.2} ms",
            bomb.len()
        ),
        None => format!(
            "alias bomb ({} B): NOT REJECTED (took {t:.2} ms)",
            bomb.len()
        ),
    };
    println!("  {line}");
    let _ = writeln!(summary, "  {line}");
}

fn compare(reference: &Reference, rows: &mut [Row], options: &Options, summary: &mut String) {
    println!(
        "== validate: @asyncapi/parser {} side by side (`fromFile(parser, path).validate()`)",
        reference::VERSION
    );
    // In process: one Node process over every document, best of 2 after a warm-up (kind to
    // the reference: its fastest run against our median).
    eprintln!("timing the reference in process (one Node process, best of 2 runs)…");
    let paths: Vec<&Path> = rows.iter().map(|r| r.doc.path.as_path()).collect();
    match reference.in_process(&paths, 2) {
        Ok(mut times) => {
            for r in rows.iter_mut() {
                r.ref_in = times.remove(r.doc.path.to_string_lossy().as_ref());
            }
        }
        Err(e) => println!("  (in-process reference timings failed: {e})"),
    }
    // End to end: a fresh Node process per document takes about a second, so by default the
    // documents that take us longest (where the ratio is lowest) and a regular sample of the
    // others.
    let mut by_time: Vec<usize> = (0..rows.len()).collect();
    by_time.sort_by_key(|&i| std::cmp::Reverse(rows[i].inproc));
    let slowest: Vec<usize> = by_time.into_iter().take(REFERENCE_SLOWEST).collect();
    let sampled: Vec<usize> = (0..rows.len())
        .filter(|i| options.full_reference || slowest.contains(i) || i % REFERENCE_EVERY == 0)
        .collect();
    eprintln!(
        "timing the reference end to end on {} documents (one Node process each)…",
        sampled.len()
    );
    for &i in &sampled {
        rows[i].ref_e2e = reference.end_to_end(&rows[i].doc.path, Duration::from_secs(60));
    }

    println!(
        "  {:>9} {:>9} {:>7}   {:>9} {:>9} {:>7}   document",
        "ref ms", "ours ms", "ratio", "ref e2e", "ours e2e", "ratio"
    );
    let mut ratios_in = Vec::new();
    let mut ratios_e2e: Vec<(f64, &str)> = Vec::new();
    let mut verdicts = (0, 0);
    for r in rows.iter() {
        let ours_in = ms(r.inproc);
        let ref_in = r.ref_in.as_ref().map(|x| ms(x.best));
        let ratio_in = ref_in.map(|x| x / ours_in.max(1e-6));
        let ratio_e2e = match (r.ref_e2e, r.e2e) {
            (Some(a), Some(b)) => Some(ms(a) / ms(b).max(1e-6)),
            _ => None,
        };
        if let Some(x) = ratio_in {
            ratios_in.push(x);
        }
        if let Some(x) = ratio_e2e {
            ratios_e2e.push((x, &r.doc.rel));
        }
        if let Some(v) = r.ref_in.as_ref().and_then(|x| x.valid) {
            verdicts.1 += 1;
            if v == r.valid {
                verdicts.0 += 1;
            }
        }
        println!(
            "  {:>9} {:>9.3} {:>7}   {:>9} {:>9} {:>7}   {}",
            opt(ref_in, 1),
            ours_in,
            ratio_in.map_or("-".into(), |x| format!("{x:.0}x")),
            opt_ms(r.ref_e2e, 1),
            opt_ms(r.e2e, 2),
            ratio_e2e.map_or("-".into(), |x| format!("{x:.0}x")),
            r.doc.rel
        );
        if let Some(m) = r.ref_in.as_ref().map(|x| ms(x.median))
            && m > 2.0 * ref_in.unwrap_or(m)
        {
            println!("            (reference median {m:.1} ms: noisy)");
        }
    }
    let e2e_values: Vec<f64> = ratios_e2e.iter().map(|x| x.0).collect();
    if let Some(&(low, low_doc)) = ratios_e2e.iter().min_by(|a, b| a.0.total_cmp(&b.0)) {
        let below: Vec<String> = ratios_e2e
            .iter()
            .filter(|x| x.0 < RATIO_TARGET)
            .map(|x| format!("{} ({:.0}x)", x.1, x.0))
            .collect();
        let line = format!(
            "reference end to end ({} of {} documents{}): geometric mean {:.0}x faster, lowest {low:.0}x ({low_doc}); target ≥ {RATIO_TARGET:.0}x per document: {}",
            ratios_e2e.len(),
            rows.len(),
            if options.full_reference {
                String::new()
            } else {
                format!(
                    ": our {REFERENCE_SLOWEST} slowest and one in {REFERENCE_EVERY}; --full-reference for all"
                )
            },
            geomean(&e2e_values),
            if below.is_empty() {
                "met".to_owned()
            } else {
                format!("NOT MET on {}: {}", below.len(), below.join(", "))
            }
        );
        println!("  {line}");
        let _ = writeln!(summary, "  {line}");
        let ref_total: f64 = rows.iter().filter_map(|r| r.ref_e2e.map(ms)).sum();
        let ours_total: f64 = rows
            .iter()
            .filter(|r| r.ref_e2e.is_some())
            .filter_map(|r| r.e2e.map(ms))
            .sum();
        let line = format!(
            "reference end to end over those documents: {:.1} s vs {:.2} s ({:.0}x overall)",
            ref_total / 1000.0,
            ours_total / 1000.0,
            ref_total / ours_total.max(1e-6)
        );
        println!("  {line}");
        let _ = writeln!(summary, "  {line}");
    }
    if !ratios_in.is_empty() {
        let ref_total: f64 = rows
            .iter()
            .filter_map(|r| r.ref_in.as_ref().map(|x| ms(x.best)))
            .sum();
        let ours_total: f64 = rows
            .iter()
            .filter(|r| r.ref_in.is_some())
            .map(|r| ms(r.inproc))
            .sum();
        let line = format!(
            "reference in process ({} documents, its best of 2 vs our median): geometric mean {:.0}x faster, lowest {:.0}x; whole corpus {:.1} s vs {:.3} s ({:.0}x overall)",
            ratios_in.len(),
            geomean(&ratios_in),
            ratios_in.iter().copied().fold(f64::INFINITY, f64::min),
            ref_total / 1000.0,
            ours_total / 1000.0,
            ref_total / ours_total.max(1e-6)
        );
        println!("  {line}");
        let _ = writeln!(summary, "  {line}");
        let _ = writeln!(
            summary,
            "  verdicts: {} of {} agree with @asyncapi/parser run here",
            verdicts.0, verdicts.1
        );
    }
}

fn geomean(v: &[f64]) -> f64 {
    (v.iter().map(|x| x.ln()).sum::<f64>() / v.len().max(1) as f64).exp()
}

fn median_of(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn opt(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "-".into(), |x| format!("{x:.decimals$}"))
}

fn opt_ms(d: Option<Duration>, decimals: usize) -> String {
    opt(d.map(ms), decimals)
}
