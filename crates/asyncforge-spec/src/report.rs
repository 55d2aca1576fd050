//! Rendering diagnostics: human (with code frames), JSON, SARIF 2.1.0 and GitHub Actions
//! workflow commands.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::diagnostic::{Diagnostic, Location, Severity};
use crate::rules;
use crate::workspace::Workspace;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Text with code frames.
    Human,
    /// A JSON array.
    Json,
    /// SARIF 2.1.0.
    Sarif,
    /// GitHub Actions `::error` workflow commands.
    Github,
}

struct Style {
    color: bool,
}

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    }
    fn severity(&self, sev: Severity) -> String {
        let code = match sev {
            Severity::Error => "1;31",
            Severity::Warning => "1;33",
            Severity::Info => "1;34",
            Severity::Hint => "1;36",
        };
        self.paint(code, sev.as_str())
    }
    fn gutter(&self, s: &str) -> String {
        self.paint("1;34", s)
    }
    fn mark(&self, sev: Severity, s: &str) -> String {
        let code = match sev {
            Severity::Error => "1;31",
            Severity::Warning => "1;33",
            _ => "1;34",
        };
        self.paint(code, s)
    }
}

/// `file:line:col` of a location, or `file` alone when its line is not known.
pub fn place(ws: &Workspace, loc: &Location) -> String {
    let name = file_name(ws, loc);
    if !has_position(loc) {
        return name.to_owned();
    }
    format!("{}:{}:{}", name, loc.span.start.line, loc.span.start.col)
}

/// Whether a location has a line and column (lines count from 1; `0` means unknown).
fn has_position(loc: &Location) -> bool {
    loc.span.start.line > 0
}

fn file_name<'w>(ws: &'w Workspace, loc: &Location) -> &'w str {
    if loc.file.index() < ws.len() {
        ws.file(loc.file).source().display_name()
    } else {
        "<unknown>"
    }
}

/// One diagnostic on one line: `file:line:col: severity[code]: message` (for build scripts'
/// `cargo:warning=` lines, where a code frame does not fit).
pub fn short(ws: &Workspace, d: &Diagnostic) -> String {
    let text = format!("{}[{}]: {}", d.severity.as_str(), d.code, d.message);
    match &d.location {
        Some(loc) => format!("{}: {text}", place(ws, loc)),
        None => text,
    }
}

/// Renders one diagnostic for a terminal.
pub fn human(ws: &Workspace, d: &Diagnostic, color: bool) -> String {
    let st = Style { color };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}{}: {}",
        st.severity(d.severity),
        st.paint("1", &format!("[{}]", d.code)),
        st.paint("1", &d.message)
    );
    if let Some(loc) = &d.location {
        frame(ws, loc, d.severity, None, &st, &mut out);
        if !loc.pointer.is_empty() {
            let _ = writeln!(out, "   {} at #{}", st.gutter("="), loc.pointer);
        }
    }
    for r in &d.related {
        let _ = writeln!(out, "   {} note: {}", st.gutter("="), r.message);
        frame(
            ws,
            &r.location,
            Severity::Info,
            Some(&r.message),
            &st,
            &mut out,
        );
    }
    if let Some(h) = &d.help {
        let _ = writeln!(out, "   {} help: {h}", st.gutter("="));
    }
    out
}

fn frame(
    ws: &Workspace,
    loc: &Location,
    sev: Severity,
    label: Option<&str>,
    st: &Style,
    out: &mut String,
) {
    let _ = writeln!(out, "  {} {}", st.gutter("-->"), place(ws, loc));
    if loc.file.index() >= ws.len() {
        return;
    }
    let src = ws.file(loc.file).source();
    let line_no = loc.span.start.line;
    let Some(line) = src.line(line_no) else {
        return;
    };
    let width = line_no.to_string().len().max(2);
    let pad = " ".repeat(width);
    let shown: String = line
        .chars()
        .map(|c| if c == '\t' { ' ' } else { c })
        .collect();
    let shown = truncate(&shown, 160);
    let _ = writeln!(out, "{pad} {}", st.gutter("|"));
    let _ = writeln!(
        out,
        "{} {} {}",
        st.gutter(&format!("{line_no:>width$}")),
        st.gutter("|"),
        shown
    );
    let start = loc.span.start.col.max(1) as usize;
    let line_len = line.chars().count();
    let end = if loc.span.end.line == line_no && loc.span.end.col > loc.span.start.col {
        loc.span.end.col as usize
    } else {
        // Multi-line span: underline to the end of the first line.
        line_len + 1
    };
    let len = end.saturating_sub(start).clamp(1, 160);
    let marker = "^".repeat(len);
    let _ = writeln!(
        out,
        "{pad} {} {}{}{}",
        st.gutter("|"),
        " ".repeat(start.saturating_sub(1).min(160)),
        st.mark(sev, &marker),
        label.map(|l| format!(" {l}")).unwrap_or_default()
    );
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}

fn loc_json(ws: &Workspace, loc: &Location) -> Value {
    let mut v = json!({
        "file": file_name(ws, loc),
        "pointer": loc.pointer,
    });
    if has_position(loc) {
        v["range"] = json!({
            "start": { "line": loc.span.start.line, "column": loc.span.start.col },
            "end": { "line": loc.span.end.line, "column": loc.span.end.col },
        });
    }
    v
}

/// One diagnostic as JSON.
pub fn json(ws: &Workspace, d: &Diagnostic) -> Value {
    let mut v = json!({
        "code": d.code,
        "severity": d.severity,
        "message": d.message,
    });
    if let Some(loc) = &d.location
        && let (Some(obj), Value::Object(l)) = (v.as_object_mut(), loc_json(ws, loc))
    {
        obj.extend(l);
    }
    if let Some(h) = &d.help {
        v["help"] = json!(h);
    }
    if !d.related.is_empty() {
        v["related"] = d
            .related
            .iter()
            .map(|r| {
                let mut x = loc_json(ws, &r.location);
                x["message"] = json!(r.message);
                x
            })
            .collect();
    }
    v
}

fn sarif_level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info | Severity::Hint => "note",
    }
}

fn sarif_location(ws: &Workspace, loc: &Location) -> Value {
    let mut v = json!({
        "physicalLocation": {
            "artifactLocation": { "uri": file_name(ws, loc).replace('\\', "/") },
        },
        "logicalLocations": [{ "fullyQualifiedName": format!("#{}", loc.pointer), "kind": "element" }],
    });
    if has_position(loc) {
        v["physicalLocation"]["region"] = json!({
            "startLine": loc.span.start.line,
            "startColumn": loc.span.start.col,
            "endLine": loc.span.end.line.max(loc.span.start.line),
            "endColumn": if loc.span.end.line > loc.span.start.line || loc.span.end.col > loc.span.start.col { loc.span.end.col } else { loc.span.start.col + 1 },
        });
    }
    v
}

/// A SARIF 2.1.0 log of several checked documents.
pub fn sarif(results: &[(&Workspace, &[Diagnostic])]) -> Value {
    let rules: Vec<Value> = rules::RULES
        .iter()
        .map(|r| {
            json!({
                "id": r.code,
                "shortDescription": { "text": r.summary },
                "helpUri": format!("docs/rules.md#{}", r.code.to_ascii_lowercase()),
                "defaultConfiguration": { "level": sarif_level(r.severity) },
            })
        })
        .collect();
    let mut out = Vec::new();
    for (ws, diags) in results {
        for d in diags.iter() {
            let mut r = json!({
                "ruleId": d.code,
                "level": sarif_level(d.severity),
                "message": { "text": match &d.help { Some(h) => format!("{} ({h})", d.message), None => d.message.clone() } },
            });
            if let Some(i) = rules::RULES.iter().position(|x| x.code == d.code) {
                r["ruleIndex"] = json!(i);
            }
            if let Some(loc) = &d.location {
                r["locations"] = json!([sarif_location(ws, loc)]);
            }
            if !d.related.is_empty() {
                r["relatedLocations"] = d
                    .related
                    .iter()
                    .enumerate()
                    .map(|(i, rel)| {
                        let mut l = sarif_location(ws, &rel.location);
                        l["id"] = json!(i);
                        l["message"] = json!({ "text": rel.message });
                        l
                    })
                    .collect();
            }
            out.push(r);
        }
    }
    json!({
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{
            "tool": { "driver": {
                "name": "asyncforge",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": out,
        }],
    })
}

fn gh_escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn gh_escape_prop(s: &str) -> String {
    gh_escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// One diagnostic as a GitHub Actions workflow command.
pub fn github(ws: &Workspace, d: &Diagnostic) -> String {
    let cmd = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info | Severity::Hint => "notice",
    };
    let mut props = Vec::new();
    if let Some(loc) = &d.location {
        props.push(format!("file={}", gh_escape_prop(file_name(ws, loc))));
        if has_position(loc) {
            props.push(format!("line={}", loc.span.start.line));
            props.push(format!("col={}", loc.span.start.col));
            props.push(format!("endLine={}", loc.span.end.line));
            props.push(format!("endColumn={}", loc.span.end.col));
        }
    }
    props.push(format!("title={}", gh_escape_prop(d.code)));
    let msg = match &d.help {
        Some(h) => format!("{} ({h})", d.message),
        None => d.message.clone(),
    };
    format!("::{cmd} {}::{}", props.join(","), gh_escape_data(&msg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{Pos, Span};

    fn workspace() -> Workspace {
        let mut diags = Vec::new();
        Workspace::load_text(
            std::path::Path::new("api.yaml"),
            b"asyncapi: 3.0.0\ninfo: {title: T, version: '1'}\n",
            &crate::LoadOptions::default(),
            &mut diags,
        )
    }

    #[test]
    fn a_location_without_a_line_names_the_file_only() {
        let ws = workspace();
        let root = ws.root().expect("root").file;
        let mut loc = ws.location(root, "/info");
        let d = Diagnostic::warning("generate-type-loose", "loose").at(loc.clone());
        assert_eq!(
            short(&ws, &d),
            "api.yaml:2:7: warning[generate-type-loose]: loose"
        );
        loc.span = Span::new(Pos::default(), Pos::default());
        let d = Diagnostic::warning("generate-type-loose", "loose").at(loc);
        assert_eq!(
            short(&ws, &d),
            "api.yaml: warning[generate-type-loose]: loose"
        );
        let human = human(&ws, &d, false);
        assert!(human.contains("--> api.yaml\n"), "{human}");
        assert!(!human.contains(":0"), "{human}");
        assert!(json(&ws, &d).get("range").is_none());
        assert!(!github(&ws, &d).contains("line="));
    }
}
