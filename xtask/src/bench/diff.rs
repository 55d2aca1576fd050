//! `cargo xtask bench diff`: `asyncforge diff` end to end (release CLI, process start
//! included) on the largest corpus document against a copy with one schema edit, and on a small
//! one, side by side with the reference `asyncapi diff` (`@asyncapi/cli`, see
//! `asyncapi_cli.rs`) on the same pairs.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use super::{ms, release_cli};
use crate::asyncapi_cli::{self, AsyncapiCli, Verdict, run_with_timeout};
use crate::machine;

/// The largest corpus document (2.4 MB, AsyncAPI 2.5).
const LARGE: &str = "realworld/Yodata__real-estate__src_public_schema_asyncapi.yaml";
/// A small one (6 kB, AsyncAPI 3.0).
const SMALL: &str = "examples/3.0.0/streetlights-kafka-asyncapi.yml";
/// Runs of the reference at most (it takes seconds each).
const REFERENCE_RUNS: usize = 3;
/// How long one reference run may take.
const REFERENCE_TIMEOUT: Duration = Duration::from_secs(600);

/// `reference`: also time `asyncapi diff`; `runs`: runs of `asyncforge diff` per pair.
pub fn run(corpus: &Path, reference: bool, runs: usize) -> ExitCode {
    let cli = match release_cli() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let reference = if reference {
        match AsyncapiCli::install() {
            Ok(r) => Some(r),
            Err(e) => {
                eprintln!("reference skipped: {e}");
                None
            }
        }
    } else {
        None
    };
    let dir = std::env::temp_dir().join(format!("asyncforge-bench-diff-{}", std::process::id()));
    let code = match measure(&cli, corpus, &dir, reference.as_ref(), runs) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench diff: {e}");
            ExitCode::from(1)
        }
    };
    let _ = std::fs::remove_dir_all(&dir);
    code
}

fn measure(
    cli: &Path,
    corpus: &Path,
    dir: &Path,
    reference: Option<&AsyncapiCli>,
    runs: usize,
) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    println!(
        "== diff: `asyncforge diff --format json` end to end (release CLI, process start included), {runs} runs{}",
        if reference.is_some() {
            format!(
                "; `asyncapi diff --format json --type all` (@asyncapi/cli {}, Node {}), {REFERENCE_RUNS} runs",
                asyncapi_cli::VERSION,
                AsyncapiCli::node_version()
            )
        } else {
            String::new()
        }
    );
    println!("  {} · {}", machine::date(), machine::describe());
    for (rel, label) in [(LARGE, "large"), (SMALL, "small")] {
        let source = corpus.join(rel);
        let text = std::fs::read_to_string(&source)
            .map_err(|e| format!("cannot read {}: {e}", source.display()))?;
        let (valid, fixes) = make_valid(&text);
        let old = dir.join(format!("{label}-old.yaml"));
        write(&old, &valid)?;
        let errors = error_count(&old);
        if errors > 0 {
            return Err(format!(
                "{rel}: the copy still has {errors} errors after {fixes:?}"
            ));
        }
        let (new, edit, changes) = edited_copy(cli, &old, &valid, dir, label)?;
        let ours = times(runs, || {
            Command::new(cli)
                .args(["diff", "--format", "json", "--fail-on", "none"])
                .arg(&old)
                .arg(&new)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
        println!(
            "  {rel} ({} B{}), edit: {edit}",
            valid.len(),
            if fixes.is_empty() {
                String::new()
            } else {
                format!(", made valid by removing {}", fixes.join(" and "))
            }
        );
        println!("    asyncforge diff: {changes}; {}", summary(&ours));
        if let Some(r) = reference {
            // One untimed run for the verdict (and to warm the file cache).
            let said = match r.diff(&old, &new, REFERENCE_TIMEOUT) {
                Verdict::Changes {
                    breaking,
                    non_breaking,
                    unclassified,
                } => format!(
                    "{breaking} breaking, {non_breaking} non-breaking, {unclassified} unclassified"
                ),
                Verdict::Error(e) => format!("error: {e}"),
            };
            let theirs = times(REFERENCE_RUNS, || {
                let mut cmd = r.diff_command(&old, &new);
                cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
                run_with_timeout(&mut cmd, REFERENCE_TIMEOUT).is_ok_and(|o| o.status.success())
            });
            println!("    asyncapi diff:   {said}; {}", summary(&theirs));
        }
    }
    Ok(())
}

/// The document with the two things that make the large corpus document invalid removed: a
/// root `$id` (not an AsyncAPI field) and the channel `/award#` (a fragment in a channel
/// address). Other documents come back as they are. Returns the text and what was removed.
fn make_valid(text: &str) -> (String, Vec<&'static str>) {
    let mut fixes = Vec::new();
    let mut out = String::with_capacity(text.len());
    let mut skipping = false;
    for line in text.split_inclusive('\n') {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let blank = line.trim().is_empty();
        if skipping {
            if blank || indent > 2 {
                continue;
            }
            skipping = false;
        }
        if line.starts_with("$id:") {
            fixes.push("the root `$id`");
            continue;
        }
        if line.trim_end() == "  /award#:" {
            fixes.push("the channel `/award#`");
            skipping = true;
            continue;
        }
        out.push_str(line);
    }
    (out, fixes)
}

/// A copy of `valid` with one schema edit (a `type: string` becomes `type: [string, 'null']`),
/// the first such edit `asyncforge diff` reports a change for.
/// Returns its path, the edit and what asyncforge reported.
fn edited_copy(
    cli: &Path,
    old: &Path,
    valid: &str,
    dir: &Path,
    label: &str,
) -> Result<(PathBuf, String, String), String> {
    let new = dir.join(format!("{label}-new.yaml"));
    // The large document is a parser's output: its channels carry the payloads inline and
    // its `components` hold unused copies, so the channels are tried first.
    for section in ["\nchannels:", "\ncomponents:"] {
        let Some(start) = valid.find(section) else {
            continue;
        };
        if let Some(found) = try_edits(cli, old, valid, &new, start)? {
            return Ok(found);
        }
    }
    Err("no `type: string` in the channels or components whose edit asyncforge reports".into())
}

/// Tries the first 20 `type: string` lines from `at` on.
fn try_edits(
    cli: &Path,
    old: &Path,
    valid: &str,
    new: &Path,
    mut at: usize,
) -> Result<Option<(PathBuf, String, String)>, String> {
    let mut tried = 0;
    while tried < 20 {
        let Some(i) = valid[at..].find("type: string\n").map(|i| at + i) else {
            break;
        };
        at = i + 1;
        let line_start = valid[..i].rfind('\n').map_or(0, |n| n + 1);
        if !valid[line_start..i].trim().is_empty() {
            continue;
        }
        tried += 1;
        let edited = format!(
            "{}type: [string, 'null']\n{}",
            &valid[..i],
            &valid[i + "type: string\n".len()..]
        );
        write(new, &edited)?;
        let out = Command::new(cli)
            .args(["diff", "--format", "json", "--fail-on", "none"])
            .arg(old)
            .arg(new)
            .output()
            .map_err(|e| format!("cannot run asyncforge: {e}"))?;
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .map_err(|_| format!("asyncforge diff failed ({})", out.status))?;
        let changes = v["changes"].as_array().cloned().unwrap_or_default();
        if let Some(first) = changes.first() {
            let line = valid[..i].matches('\n').count() + 1;
            let s = &v["summary"];
            return Ok(Some((
                new.to_owned(),
                format!("line {line}: `type: string` → `type: [string, 'null']`"),
                format!(
                    "{} changes ({} breaking, {} non-breaking, {} unclassified; first `{}`)",
                    changes.len(),
                    s["breaking"],
                    s["non-breaking"],
                    s["unclassified"],
                    first["code"].as_str().unwrap_or("?")
                ),
            )));
        }
    }
    Ok(None)
}

fn error_count(path: &Path) -> usize {
    asyncforge::spec::load(path)
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .count()
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Wall times of `runs` calls; `None` when any run failed.
fn times<F: FnMut() -> bool>(runs: usize, mut f: F) -> Option<Vec<Duration>> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        if !f() {
            return None;
        }
        times.push(t.elapsed());
    }
    times.sort();
    Some(times)
}

fn summary(times: &Option<Vec<Duration>>) -> String {
    match times {
        Some(t) => format!(
            "min {:.1} ms, median {:.1} ms ({} runs)",
            ms(t[0]),
            ms(t[t.len() / 2]),
            t.len()
        ),
        None => "a run failed".into(),
    }
}
