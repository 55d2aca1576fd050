//! `docs/rules.md` agrees with the rule registry, and its examples do what it says.
//!
//! - Every code in [`RULES`] has one `## <code>` section, in registry order, and every `## `
//!   heading is a code.
//! - Each section's `**Severity:** … · **Applies to:** …` line is the registry's.
//! - The table of contents lists every code, in registry order, with the registry's severity,
//!   scope and summary.
//! - Each ```` ```yaml bad ```` block, loaded from a temporary directory, produces the
//!   section's code at its default severity and no error with any other code; each
//!   ```` ```yaml good ```` block is a valid document (no error at all) without the code.
//!   Sections whose input cannot be written into Markdown (binary files, 64 MiB files) show it
//!   in a ```` ```text ```` block instead; they are listed in [`NOT_RUNNABLE`] and skipped.
//! - The generator's codes ([`GENERATOR`]) are reported on valid documents, so both of their
//!   examples must be valid here; `crates/asyncforge/tests/generate_cli.rs` generates them and
//!   checks the code.

use std::path::PathBuf;

use asyncforge_spec::Severity;
use asyncforge_spec::rules::{RULES, RuleInfo};

/// Codes whose triggering input cannot be written as a YAML block of the page.
const NOT_RUNNABLE: &[&str] = &[
    "file-too-large",
    "not-utf8",
    "binary-file",
    "too-deep",
    "ref-limit",
];

/// The prefix of the codes the code generator reports (on valid documents).
const GENERATOR: &str = "generate-";

/// The fence info strings the page may use.
const BAD: &str = "yaml bad";
const GOOD: &str = "yaml good";
const TEXT: &str = "text";

fn doc() -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/rules.md");
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// One `## ` section: its heading, its prose lines and its fenced blocks.
#[derive(Default)]
struct Section {
    heading: String,
    lines: Vec<String>,
    /// (info string, content).
    blocks: Vec<(String, String)>,
}

impl Section {
    fn block(&self, info: &str) -> Vec<&str> {
        self.blocks
            .iter()
            .filter(|(i, _)| i == info)
            .map(|(_, b)| b.as_str())
            .collect()
    }

    fn has_line(&self, prefix: &str) -> bool {
        self.lines.iter().any(|l| l.starts_with(prefix))
    }
}

/// Splits the page into the text before the first `## ` heading and the sections. Headings and
/// fences inside fenced blocks do not count.
fn parse(text: &str) -> (Vec<String>, Vec<Section>) {
    let mut preamble = Vec::new();
    let mut sections: Vec<Section> = Vec::new();
    let mut fence: Option<(String, String)> = None;
    for line in text.lines() {
        if let Some((info, body)) = &mut fence {
            if line.trim_end() == "```" {
                let done = (std::mem::take(info), std::mem::take(body));
                if let Some(s) = sections.last_mut() {
                    s.blocks.push(done);
                }
                fence = None;
            } else {
                body.push_str(line);
                body.push('\n');
            }
            continue;
        }
        if let Some(info) = line.strip_prefix("```") {
            fence = Some((info.trim().to_owned(), String::new()));
            continue;
        }
        if let Some(h) = line.strip_prefix("## ") {
            sections.push(Section {
                heading: h.trim().to_owned(),
                ..Section::default()
            });
            continue;
        }
        match sections.last_mut() {
            Some(s) => s.lines.push(line.to_owned()),
            None => preamble.push(line.to_owned()),
        }
    }
    assert!(fence.is_none(), "docs/rules.md ends inside a fenced block");
    (preamble, sections)
}

fn meta_line(r: &RuleInfo) -> String {
    format!(
        "**Severity:** {} · **Applies to:** {}",
        r.severity.as_str(),
        r.applies_to
    )
}

fn toc_row(r: &RuleInfo) -> String {
    format!(
        "| [`{}`](#{}) | {} | {} | {} |",
        r.code,
        r.code.to_ascii_lowercase(),
        r.severity.as_str(),
        r.applies_to,
        r.summary
    )
}

#[test]
fn sections_match_the_registry() {
    let (_, sections) = parse(&doc());
    let headings: Vec<&str> = sections.iter().map(|s| s.heading.as_str()).collect();
    for r in RULES {
        let n = headings.iter().filter(|h| **h == r.code).count();
        assert!(
            n == 1,
            "`{}` has {n} `## {}` sections, not 1",
            r.code,
            r.code
        );
    }
    for h in &headings {
        assert!(
            RULES.iter().any(|r| r.code == *h),
            "`## {h}` is not a code of the registry (only codes may be `## ` headings)"
        );
    }
    let codes: Vec<&str> = RULES.iter().map(|r| r.code).collect();
    assert_eq!(headings, codes, "sections are not in registry order");
    for (s, r) in sections.iter().zip(RULES) {
        let want = meta_line(r);
        assert!(
            s.lines.iter().any(|l| l.trim() == want),
            "`{}`: expected the line `{want}` (the registry's severity and scope)",
            r.code
        );
    }
}

#[test]
fn table_of_contents_matches_the_registry() {
    let (preamble, _) = parse(&doc());
    let rows: Vec<&str> = preamble
        .iter()
        .map(|l| l.trim())
        .filter(|l| l.starts_with("| [`"))
        .collect();
    let want: Vec<String> = RULES.iter().map(toc_row).collect();
    assert_eq!(
        rows, want,
        "the table of contents differs from the registry"
    );
}

#[test]
fn every_section_shows_an_example() {
    let (_, sections) = parse(&doc());
    let mut problems = Vec::new();
    for s in &sections {
        let code = s.heading.as_str();
        for (info, _) in &s.blocks {
            if ![BAD, GOOD, TEXT].contains(&info.as_str()) {
                problems.push(format!(
                    "`{code}`: fenced block with info string `{info}` (use `{BAD}`, `{GOOD}` or `{TEXT}`)"
                ));
            }
        }
        let (bad, good, text) = (s.block(BAD), s.block(GOOD), s.block(TEXT));
        if bad.len() > 1 || good.len() > 1 {
            problems.push(format!("`{code}`: more than one `{BAD}` or `{GOOD}` block"));
        }
        if NOT_RUNNABLE.contains(&code) {
            if !bad.is_empty() || !good.is_empty() {
                problems.push(format!(
                    "`{code}` is in NOT_RUNNABLE but has a runnable example; remove it from the list"
                ));
            }
            if text.is_empty() || !s.has_line("**What to do.**") {
                problems.push(format!(
                    "`{code}`: needs a `{TEXT}` block showing the problem and a **What to do.** paragraph"
                ));
            }
        } else {
            if bad.is_empty() {
                problems.push(format!("`{code}`: no `{BAD}` example"));
            }
            if good.is_empty() && !s.has_line("**What to do.**") {
                problems.push(format!(
                    "`{code}`: needs a `{GOOD}` example or a **What to do.** paragraph"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn examples_do_what_the_page_says() {
    let (_, sections) = parse(&doc());
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut problems = Vec::new();
    let mut checked = 0;
    for s in &sections {
        let Some(rule) = RULES.iter().find(|r| r.code == s.heading) else {
            continue; // reported by `sections_match_the_registry`
        };
        let code = rule.code;
        for (kind, example) in [("bad", s.block(BAD)), ("good", s.block(GOOD))] {
            let Some(example) = example.first() else {
                continue;
            };
            let path = dir.path().join(format!("{code}.{kind}.yaml"));
            std::fs::write(&path, example).expect("write example");
            let checked_doc = asyncforge_spec::load(&path);
            checked += 1;
            let diags = &checked_doc.diagnostics;
            let listing = diags
                .iter()
                .map(|d| format!("  {}[{}]: {}", d.severity.as_str(), d.code, d.message))
                .collect::<Vec<_>>()
                .join("\n");
            let mut fail = |why: String| {
                problems.push(format!(
                    "`{code}`: the {kind} example {why}\n{example}diagnostics:\n{listing}"
                ));
            };
            if code.starts_with(GENERATOR) {
                if diags.iter().any(|d| d.severity == Severity::Error) {
                    fail("is not a valid document".to_owned());
                }
            } else if kind == "bad" {
                if !diags
                    .iter()
                    .any(|d| d.code == code && d.severity == rule.severity)
                {
                    fail(format!(
                        "does not produce `{code}` as {}",
                        rule.severity.as_str()
                    ));
                }
                if let Some(d) = diags
                    .iter()
                    .find(|d| d.severity == Severity::Error && d.code != code)
                {
                    fail(format!(
                        "also produces the error `{}`; keep examples to one problem",
                        d.code
                    ));
                }
                let version_ok = match (rule.applies_to.get(..3), checked_doc.version) {
                    (Some("2.x"), Some(v)) => v.is_v2(),
                    (Some("3.x"), Some(v)) => v.is_v3(),
                    (Some("2.x" | "3.x"), None) => false,
                    _ => true,
                };
                if !version_ok {
                    fail(format!("is not an AsyncAPI {} document", rule.applies_to));
                }
            } else {
                if diags.iter().any(|d| d.code == code) {
                    fail(format!("produces `{code}`"));
                }
                if diags.iter().any(|d| d.severity == Severity::Error) {
                    fail("is not a valid document".to_owned());
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
    assert!(checked > 100, "only {checked} examples were run");
}
