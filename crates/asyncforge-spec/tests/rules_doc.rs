//! `docs/rules.md` and the rule registry agree, and every documented example does what the
//! documentation says: the "Bad" document produces the code, the "Good" one does not.

use std::path::PathBuf;

use asyncforge_spec::rules::RULES;

fn doc() -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/rules.md");
    std::fs::read_to_string(p).expect("docs/rules.md")
}

/// (code, severity line, bad example, good example) for every `## code` section.
fn sections(text: &str) -> Vec<(String, String, Option<String>, Option<String>)> {
    let mut out = Vec::new();
    for chunk in text.split("\n## ").skip(1) {
        let (head, body) = chunk.split_once('\n').unwrap_or((chunk, ""));
        let code = head.trim().to_owned();
        if code.contains(' ') || code.chars().any(|c| c.is_ascii_uppercase()) && !code.contains('-')
        {
            continue;
        }
        let severity = body
            .lines()
            .find(|l| l.starts_with("**Severity:**"))
            .unwrap_or_default()
            .to_owned();
        let block = |tag: &str| {
            let start = body.find(&format!("```yaml {tag}\n"))? + tag.len() + 9;
            let end = body[start..].find("```")? + start;
            Some(body[start..end].to_owned())
        };
        out.push((code, severity, block("bad"), block("good")));
    }
    out
}

#[test]
fn every_code_is_documented_with_its_severity() {
    let text = doc();
    let secs = sections(&text);
    for r in RULES {
        let s = secs
            .iter()
            .find(|(c, ..)| c == r.code)
            .unwrap_or_else(|| panic!("`{}` has no section in docs/rules.md", r.code));
        assert!(
            s.1.contains(&format!("**Severity:** {}", r.severity.as_str())),
            "`{}`: the documented severity ({}) is not the registry's ({})",
            r.code,
            s.1,
            r.severity.as_str()
        );
    }
    for (code, ..) in &secs {
        assert!(
            RULES.iter().any(|r| r.code == code),
            "docs/rules.md documents `{code}`, which is not in the registry"
        );
    }
}

#[test]
fn documented_examples_trigger_their_code() {
    let text = doc();
    let dir = tempfile::tempdir().expect("tmp");
    let mut checked = 0;
    let mut problems = Vec::new();
    for (code, _, bad, good) in sections(&text) {
        for (example, should_fire) in [(bad, true), (good, false)] {
            let Some(example) = example else { continue };
            let path = dir.path().join(format!("{code}-{should_fire}.yaml"));
            std::fs::write(&path, &example).expect("write");
            let c = asyncforge_spec::load(&path);
            let fired = c.diagnostics.iter().any(|d| d.code == code);
            if fired != should_fire {
                problems.push(format!(
                    "`{code}`: the {} example {}\n{example}\ndiagnostics: {:?}",
                    if should_fire { "bad" } else { "good" },
                    if should_fire {
                        "does not produce it"
                    } else {
                        "produces it"
                    },
                    c.diagnostics.iter().map(|d| d.code).collect::<Vec<_>>()
                ));
            }
            checked += 1;
        }
    }
    println!("checked {checked} examples, {} problems", problems.len());
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
    assert!(checked > 100, "only {checked} examples");
}
