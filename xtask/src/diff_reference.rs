//! `cargo xtask diff-reference`: every labelled pair of `tests/diff/pairs/` through the
//! release `asyncforge diff --format json` and the reference `asyncapi diff` (see
//! `asyncapi_cli.rs`), written side by side to `docs/diff-reference.md` (generated; commit it).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;

use crate::asyncapi_cli::{self, AsyncapiCli, Verdict};
use crate::{bench, machine, root};

/// How long one reference run may take.
const TIMEOUT: Duration = Duration::from_secs(180);
/// Reference runs at once (each is one Node process).
const JOBS: usize = 2;

/// One pair of `tests/diff/pairs/`.
struct Pair {
    name: String,
    old: PathBuf,
    new: PathBuf,
    multi_file: bool,
    /// The two AsyncAPI versions, when they differ.
    cross_version: Option<(String, String)>,
}

/// What `asyncforge diff` said of a pair.
struct Ours {
    breaking: usize,
    non_breaking: usize,
    unclassified: usize,
    codes: Vec<String>,
}

struct Row {
    pair: Pair,
    ours: Result<Ours, String>,
    reference: Verdict,
}

/// `old.yaml`, `old.json` or `old/asyncapi.yaml` of a pair.
fn side(dir: &Path, name: &str) -> Option<(PathBuf, bool)> {
    [
        (dir.join(format!("{name}.yaml")), false),
        (dir.join(format!("{name}.json")), false),
        (dir.join(name).join("asyncapi.yaml"), true),
    ]
    .into_iter()
    .find(|(p, _)| p.exists())
}

fn pairs() -> Result<Vec<Pair>, String> {
    let dir = root().join("tests/diff/pairs");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let d = dir.join(&name);
            let (old, old_multi) =
                side(&d, "old").ok_or_else(|| format!("{name}: no old document"))?;
            let (new, new_multi) =
                side(&d, "new").ok_or_else(|| format!("{name}: no new document"))?;
            let version = |p: &Path| {
                asyncforge::spec::load(p)
                    .version
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "?".into())
            };
            let (vo, vn) = (version(&old), version(&new));
            Ok(Pair {
                name,
                old,
                new,
                multi_file: old_multi || new_multi,
                cross_version: (vo != vn).then_some((vo, vn)),
            })
        })
        .collect()
}

fn ours(cli: &Path, pair: &Pair) -> Result<Ours, String> {
    let out = Command::new(cli)
        .args(["diff", "--format", "json", "--fail-on", "none"])
        .arg(&pair.old)
        .arg(&pair.new)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run asyncforge: {e}"))?;
    let v: Value = serde_json::from_slice(&out.stdout).map_err(|_| {
        let err = String::from_utf8_lossy(&out.stderr);
        format!(
            "exit {}: {}",
            out.status.code().unwrap_or(-1),
            err.lines().next().unwrap_or("")
        )
    })?;
    let count = |k: &str| v["summary"][k].as_u64().unwrap_or(0) as usize;
    let mut codes: Vec<String> = v["changes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c["code"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    codes.sort();
    codes.dedup();
    Ok(Ours {
        breaking: count("breaking"),
        non_breaking: count("non-breaking"),
        unclassified: count("unclassified"),
        codes,
    })
}

/// The documents' path as shown in the table and the errors (relative to the repository).
fn rel(p: &Path) -> String {
    p.strip_prefix(root()).unwrap_or(p).display().to_string()
}

pub fn run(args: &[String]) -> ExitCode {
    if let Some(a) = args.first() {
        eprintln!(
            "unexpected argument `{a}`: `cargo xtask diff-reference` takes none (see `cargo xtask help`)"
        );
        return ExitCode::from(2);
    }
    let pairs = match pairs() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let reference = match AsyncapiCli::install() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("the reference is not available: {e}");
            return ExitCode::from(2);
        }
    };
    let cli = match bench::release_cli() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    eprintln!(
        "diffing {} pairs with asyncforge and asyncapi diff {} ({} at a time; a few seconds each)…",
        pairs.len(),
        asyncapi_cli::VERSION,
        JOBS
    );
    let queue = Mutex::new(pairs.into_iter().enumerate());
    let done = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..JOBS {
            s.spawn(|| {
                loop {
                    let next = queue.lock().map(|mut q| q.next()).ok().flatten();
                    let Some((i, pair)) = next else { break };
                    let ours = ours(&cli, &pair);
                    let verdict = reference.diff(&pair.old, &pair.new, TIMEOUT);
                    eprintln!("  {:>3}  {}", i + 1, pair.name);
                    if let Ok(mut d) = done.lock() {
                        d.push((
                            i,
                            Row {
                                pair,
                                ours,
                                reference: verdict,
                            },
                        ));
                    }
                }
            });
        }
    });
    let mut rows = done.into_inner().unwrap_or_default();
    rows.sort_by_key(|(i, _)| *i);
    let rows: Vec<Row> = rows.into_iter().map(|(_, r)| r).collect();

    let text = render(&rows);
    let path = root().join("docs/diff-reference.md");
    if let Err(e) = std::fs::write(&path, text) {
        eprintln!("cannot write {}: {e}", path.display());
        return ExitCode::from(1);
    }
    println!("written: {}", rel(&path));
    ExitCode::SUCCESS
}

/// How a pair's two verdicts compare.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    ReferenceError,
    /// We find a breaking change, the reference none (it may still list changes).
    MissesBreaking,
    /// We find none at all (a refactor), the reference lists changes.
    FlagsRefactor,
    /// We find changes but nothing breaking, the reference says breaking.
    FalseBreaking,
    /// Both find a breaking change, or neither does.
    Agrees,
    OursError,
}

impl Outcome {
    fn of(row: &Row) -> Self {
        let Ok(ours) = &row.ours else {
            return Outcome::OursError;
        };
        let Verdict::Changes {
            breaking,
            non_breaking,
            unclassified,
        } = &row.reference
        else {
            return Outcome::ReferenceError;
        };
        let theirs_any = breaking + non_breaking + unclassified > 0;
        let ours_any = ours.breaking + ours.non_breaking + ours.unclassified > 0;
        if ours.breaking > 0 && *breaking == 0 {
            Outcome::MissesBreaking
        } else if !ours_any && theirs_any {
            Outcome::FlagsRefactor
        } else if ours.breaking == 0 && *breaking > 0 {
            Outcome::FalseBreaking
        } else {
            Outcome::Agrees
        }
    }

    fn note(self) -> &'static str {
        match self {
            Outcome::ReferenceError => "reference fails",
            Outcome::MissesBreaking => "**misses breaking**",
            Outcome::FlagsRefactor => "**flags a refactor**",
            Outcome::FalseBreaking => "**breaking, but is not**",
            Outcome::Agrees => "",
            Outcome::OursError => "asyncforge fails",
        }
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn render(rows: &[Row]) -> String {
    let mut out = String::new();
    let commit = git(&["rev-parse", "--short", "HEAD"]);
    let dirty = !git(&["status", "--porcelain", "--", "crates", "tests/diff"]).is_empty();
    let _ = writeln!(
        out,
        "<!-- @generated by `cargo xtask diff-reference`: do not edit by hand, rerun it. -->\n"
    );
    let _ = writeln!(
        out,
        "# `asyncforge diff` and `asyncapi diff`, side by side\n"
    );
    let _ = writeln!(
        out,
        "Every labelled pair of `tests/diff/pairs/` (see [diff.md](diff.md#labelled-pairs)) through \
         `asyncforge diff --format json` (release build) and the reference, `asyncapi diff OLD NEW \
         --format json --type all` of `@asyncapi/cli` {} (which runs `@asyncapi/diff`) on Node {}, \
         installed by `cargo xtask diff-reference` into `.cache/npm/cli` with its metrics and \
         update check turned off.\n",
        asyncapi_cli::VERSION,
        AsyncapiCli::node_version()
    );
    let _ = writeln!(
        out,
        "Generated {} on {}, code of commit `{}`{}.\n",
        machine::date(),
        machine::describe(),
        commit,
        if dirty {
            " (with uncommitted changes)"
        } else {
            ""
        }
    );

    // Summary.
    let count = |o: Outcome| rows.iter().filter(|r| Outcome::of(r) == o).count();
    let ours_breaking: Vec<&Row> = rows
        .iter()
        .filter(|r| r.ours.as_ref().is_ok_and(|o| o.breaking > 0))
        .collect();
    let refactors: Vec<&Row> = rows
        .iter()
        .filter(|r| {
            r.ours
                .as_ref()
                .is_ok_and(|o| o.breaking + o.non_breaking + o.unclassified == 0)
        })
        .collect();
    let errors: Vec<&Row> = rows
        .iter()
        .filter(|r| matches!(r.reference, Verdict::Error(_)))
        .collect();
    let cross = rows.iter().filter(|r| r.pair.cross_version.is_some());
    let multi = rows.iter().filter(|r| r.pair.multi_file);
    fn failed(r: &Row) -> bool {
        matches!(r.reference, Verdict::Error(_))
    }
    fn ref_only(r: &Row, f: fn(usize, usize, usize) -> bool) -> bool {
        matches!(&r.reference, Verdict::Changes { breaking, non_breaking, unclassified } if f(*breaking, *non_breaking, *unclassified))
    }
    fn ref_breaking(r: &Row) -> bool {
        ref_only(r, |b, _, _| b > 0)
    }
    let _ = writeln!(out, "## Summary\n");
    let _ = writeln!(out, "| | pairs |\n|---|---|");
    let _ = writeln!(out, "| pairs | {} |", rows.len());
    let _ = writeln!(
        out,
        "| asyncforge finds a breaking change | {} |",
        ours_breaking.len()
    );
    let _ = writeln!(
        out,
        "| … the reference calls one of its changes breaking | {} |",
        ours_breaking.iter().filter(|r| ref_breaking(r)).count()
    );
    let _ = writeln!(
        out,
        "| … the reference lists changes, none breaking (**misses it**) | {} |",
        ours_breaking
            .iter()
            .filter(|r| ref_only(r, |b, n, u| b == 0 && n + u > 0))
            .count()
    );
    let _ = writeln!(
        out,
        "| … the reference finds no change at all (**misses it**) | {} |",
        ours_breaking
            .iter()
            .filter(|r| ref_only(r, |b, n, u| b + n + u == 0))
            .count()
    );
    let _ = writeln!(
        out,
        "| … the reference fails | {} |",
        ours_breaking.iter().filter(|r| failed(r)).count()
    );
    let _ = writeln!(
        out,
        "| asyncforge finds changes, none breaking; the reference says breaking | {} |",
        count(Outcome::FalseBreaking)
    );
    let _ = writeln!(
        out,
        "| asyncforge finds no change (refactors, labelled `[]`) | {} |",
        refactors.len()
    );
    let _ = writeln!(
        out,
        "| … the reference lists changes (**flags a refactor**) | {} |",
        refactors
            .iter()
            .filter(|r| ref_only(r, |b, n, u| b + n + u > 0))
            .count()
    );
    let _ = writeln!(
        out,
        "| … of which it calls breaking | {} |",
        refactors.iter().filter(|r| ref_breaking(r)).count()
    );
    let _ = writeln!(
        out,
        "| … the reference fails | {} |",
        refactors.iter().filter(|r| failed(r)).count()
    );
    let _ = writeln!(out, "| the reference fails (any pair) | {} |", errors.len());
    let (cross_n, cross_failed) =
        cross.fold((0, 0), |(n, f), r| (n + 1, f + usize::from(failed(r))));
    let (multi_n, multi_failed) =
        multi.fold((0, 0), |(n, f), r| (n + 1, f + usize::from(failed(r))));
    let _ = writeln!(
        out,
        "| … of the {cross_n} cross-version pairs | {cross_failed} |"
    );
    let _ = writeln!(
        out,
        "| … of the {multi_n} multi-file pairs | {multi_failed} |"
    );
    let _ = writeln!(
        out,
        "| both agree on \"breaking or not\" | {} |",
        count(Outcome::Agrees)
    );
    if count(Outcome::OursError) > 0 {
        let _ = writeln!(
            out,
            "| asyncforge fails (a bug: every pair is valid) | {} |",
            count(Outcome::OursError)
        );
    }

    // Direction: pairs that differ only in the operation's action.
    let by_name: BTreeMap<&str, &Row> = rows.iter().map(|r| (r.pair.name.as_str(), r)).collect();
    let mut mirrored = 0;
    let mut same_reference = 0;
    for r in rows {
        let Some(stem) = r.pair.name.strip_suffix("-send") else {
            continue;
        };
        let Some(other) = by_name.get(format!("{stem}-receive").as_str()) else {
            continue;
        };
        let (Ok(a), Ok(b)) = (&r.ours, &other.ours) else {
            continue;
        };
        if (a.breaking > 0) != (b.breaking > 0) {
            mirrored += 1;
            if let (
                Verdict::Changes {
                    breaking: x,
                    non_breaking: y,
                    unclassified: z,
                },
                Verdict::Changes {
                    breaking: x2,
                    non_breaking: y2,
                    unclassified: z2,
                },
            ) = (&r.reference, &other.reference)
                && (x, y, z) == (x2, y2, z2)
            {
                same_reference += 1;
            }
        }
    }
    let _ = writeln!(
        out,
        "\nDirection: of the `…-send`/`…-receive` twins (the same edit on a message the application \
         sends and on one it receives), asyncforge calls exactly one of the two breaking in \
         {mirrored} twins; the reference gives both the same verdict in {same_reference} of them \
         (it does not know who sends what).\n"
    );

    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for r in &errors {
        if let Verdict::Error(e) = &r.reference {
            *reasons.entry(e.clone()).or_default() += 1;
        }
    }
    if !reasons.is_empty() {
        let _ = writeln!(out, "What the reference said when it failed:\n");
        for (e, n) in &reasons {
            let _ = writeln!(out, "- {n} × `{}`", e.replace('`', "'"));
        }
        let _ = writeln!(out);
    }

    // Table.
    let _ = writeln!(out, "## Pairs\n");
    let _ = writeln!(
        out,
        "B / N / U: breaking / non-breaking / unclassified changes. The reference reports one \
         change per JSON pointer of the resolved document, so an edit reached by several \
         pointers (a component and every place it is used) counts several times.\n"
    );
    let _ = writeln!(
        out,
        "| pair | asyncforge B / N / U | asyncforge codes | `asyncapi diff` B / N / U | |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|");
    for r in rows {
        let mut name = format!("`{}`", r.pair.name);
        if let Some((a, b)) = &r.pair.cross_version {
            let _ = write!(name, " ({a} → {b})");
        }
        if r.pair.multi_file {
            name.push_str(" (multi-file)");
        }
        let (counts, codes) = match &r.ours {
            Ok(o) => (
                format!("{} / {} / {}", o.breaking, o.non_breaking, o.unclassified),
                if o.codes.is_empty() {
                    "no change".to_owned()
                } else {
                    o.codes
                        .iter()
                        .map(|c| format!("`{c}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            ),
            Err(e) => ("error".into(), cell(e)),
        };
        let theirs = match &r.reference {
            Verdict::Changes {
                breaking,
                non_breaking,
                unclassified,
            } => format!("{breaking} / {non_breaking} / {unclassified}"),
            Verdict::Error(e) => format!("error: {}", cell(e)),
        };
        let _ = writeln!(
            out,
            "| {name} | {counts} | {codes} | {theirs} | {} |",
            Outcome::of(r).note()
        );
    }
    out
}

fn git(args: &[&str]) -> String {
    Command::new("git")
        .args(args)
        .current_dir(root())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}
