//! How a list of [`Change`]s is shown: human text, JSON, a Markdown table, GitHub workflow
//! commands.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::{Change, Class};

/// How many changes of each class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Breaking changes.
    pub breaking: usize,
    /// Non-breaking changes.
    pub non_breaking: usize,
    /// Unclassified changes.
    pub unclassified: usize,
}

impl Counts {
    /// Counts `changes` by class.
    pub fn of(changes: &[Change]) -> Counts {
        let mut c = Counts::default();
        for ch in changes {
            match ch.class {
                Class::Breaking => c.breaking += 1,
                Class::NonBreaking => c.non_breaking += 1,
                Class::Unclassified => c.unclassified += 1,
            }
        }
        c
    }
}

fn summary(changes: &[Change]) -> String {
    let c = Counts::of(changes);
    format!(
        "{} change{}: {} breaking, {} non-breaking, {} unclassified",
        changes.len(),
        if changes.len() == 1 { "" } else { "s" },
        c.breaking,
        c.non_breaking,
        c.unclassified
    )
}

/// Readable text, one change per paragraph, breaking ones first.
pub fn human(changes: &[Change]) -> String {
    let mut out = String::new();
    for class in [Class::Breaking, Class::Unclassified, Class::NonBreaking] {
        for c in changes.iter().filter(|c| c.class == class) {
            let _ = writeln!(out, "{} [{}] {}", c.class, c.code, c.message);
            if let Some(side) = c.breaks {
                let _ = writeln!(out, "  breaks: {side}");
            }
            if let Some(p) = &c.old {
                let _ = writeln!(out, "  old: {p}");
            }
            if let Some(p) = &c.new {
                let _ = writeln!(out, "  new: {p}");
            }
        }
    }
    let _ = writeln!(out, "{}", summary(changes));
    out
}

/// `{"summary": {...}, "changes": [...]}`.
pub fn json(changes: &[Change]) -> Value {
    let c = Counts::of(changes);
    json!({
        "summary": {
            "breaking": c.breaking,
            "non-breaking": c.non_breaking,
            "unclassified": c.unclassified,
        },
        "changes": changes,
    })
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// A Markdown table (for pull request comments).
pub fn markdown(changes: &[Change]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "**{}**\n", summary(changes));
    if changes.is_empty() {
        return out;
    }
    let _ = writeln!(out, "| Class | Code | Change | Breaks | Old | New |");
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for class in [Class::Breaking, Class::Unclassified, Class::NonBreaking] {
        for c in changes.iter().filter(|c| c.class == class) {
            let place =
                |p: &Option<super::Place>| p.as_ref().map(|p| format!("`{p}`")).unwrap_or_default();
            let _ = writeln!(
                out,
                "| {} | `{}` | {} | {} | {} | {} |",
                c.class,
                c.code,
                md_cell(&c.message),
                c.breaks.map(|s| s.to_string()).unwrap_or_default(),
                place(&c.old),
                place(&c.new),
            );
        }
    }
    out
}

fn gh_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn gh_prop(s: &str) -> String {
    gh_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// GitHub Actions workflow commands, at the new document's place (the old one's for removals).
pub fn github(changes: &[Change]) -> String {
    let mut out = String::new();
    for c in changes {
        let cmd = match c.class {
            Class::Breaking => "error",
            Class::Unclassified => "warning",
            Class::NonBreaking => "notice",
        };
        let mut props = Vec::new();
        if let Some(p) = c.new.as_ref().or(c.old.as_ref()) {
            props.push(format!("file={}", gh_prop(&p.file)));
            props.push(format!("line={}", p.line));
            props.push(format!("col={}", p.col));
        }
        props.push(format!(
            "title={}",
            gh_prop(&format!("{} ({})", c.code, c.class))
        ));
        let _ = writeln!(out, "::{cmd} {}::{}", props.join(","), gh_data(&c.message));
    }
    out
}

/// SARIF 2.1.0: one result per change, at the new document's place (the old one's for
/// removals), the old place as a related location; one rule per code that occurs.
pub fn sarif(changes: &[Change]) -> Value {
    let level = |c: &Change| match c.class {
        Class::Breaking => "error",
        Class::Unclassified => "warning",
        Class::NonBreaking => "note",
    };
    let location = |p: &super::Place| {
        json!({
            "physicalLocation": {
                "artifactLocation": { "uri": p.file },
                "region": { "startLine": p.line, "startColumn": p.col },
            },
            "logicalLocations": [{ "fullyQualifiedName": p.pointer }],
        })
    };
    let mut codes: Vec<&str> = changes.iter().map(|c| c.code.as_str()).collect();
    codes.sort_unstable();
    codes.dedup();
    let rules: Vec<Value> = codes
        .iter()
        .map(|c| json!({ "id": c, "helpUri": "docs/diff.md" }))
        .collect();
    let results: Vec<Value> = changes
        .iter()
        .map(|c| {
            let mut r = json!({
                "ruleId": c.code,
                "ruleIndex": codes.iter().position(|x| *x == c.code),
                "level": level(c),
                "message": { "text": match c.breaks {
                    Some(side) => format!("{} ({}; breaks {side})", c.message, c.class),
                    None => format!("{} ({})", c.message, c.class),
                } },
            });
            if let Some(p) = c.new.as_ref().or(c.old.as_ref()) {
                r["locations"] = json!([location(p)]);
            }
            if let (Some(old), Some(_)) = (&c.old, &c.new) {
                let mut l = location(old);
                l["id"] = json!(0);
                l["message"] = json!({ "text": "in the old document" });
                r["relatedLocations"] = json!([l]);
            }
            r
        })
        .collect();
    json!({
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{
            "tool": { "driver": {
                "name": "asyncforge diff",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    })
}
