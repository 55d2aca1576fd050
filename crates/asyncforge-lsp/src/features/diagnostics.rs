//! `textDocument/publishDiagnostics`: the diagnostics `asyncforge validate` reports, per file.

use std::collections::{BTreeSet, HashMap, HashSet};

use asyncforge_spec::{Diagnostic, Severity};
use lsp_types::{
    DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString,
    PublishDiagnosticsParams,
};

use crate::convert;
use crate::state::{State, Unit, UnitKind};

/// What was last published for a file.
#[derive(Debug, Default)]
pub struct Published {
    diagnostics: Vec<lsp_types::Diagnostic>,
}

/// The least severe diagnostics published (`validate --severity`; `warning` by default, as
/// `validate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinSeverity(pub Severity);

impl Default for MinSeverity {
    fn default() -> Self {
        MinSeverity(Severity::Warning)
    }
}

impl MinSeverity {
    fn shows(self, s: Severity) -> bool {
        s <= self.0
    }
}

fn severity(s: Severity) -> DiagnosticSeverity {
    match s {
        Severity::Error => DiagnosticSeverity::ERROR,
        Severity::Warning => DiagnosticSeverity::WARNING,
        Severity::Info => DiagnosticSeverity::INFORMATION,
        Severity::Hint => DiagnosticSeverity::HINT,
    }
}

/// One engine diagnostic as an LSP diagnostic, when it belongs to the file `key` of `unit`.
fn convert_one(
    state: &State,
    unit: &Unit,
    key: &str,
    d: &Diagnostic,
) -> Option<lsp_types::Diagnostic> {
    let ws = &unit.workspace;
    let range = match &d.location {
        Some(l) => {
            if unit.key(l.file) != key {
                return None;
            }
            convert::range(ws.file(l.file).source(), l.span)
        }
        // Problems of no file (the root cannot be read) show on the unit's first file.
        None if unit.key(ws.root_id()) == key => lsp_types::Range::default(),
        None => return None,
    };
    let related: Vec<DiagnosticRelatedInformation> = d
        .related
        .iter()
        .filter_map(|r| {
            let file_key = unit.key(r.location.file);
            Some(DiagnosticRelatedInformation {
                location: Location {
                    uri: state.uri(file_key)?,
                    range: convert::range(ws.file(r.location.file).source(), r.location.span),
                },
                message: r.message.clone(),
            })
        })
        .collect();
    let message = match &d.help {
        Some(h) => format!("{}\nhelp: {h}", d.message),
        None => d.message.clone(),
    };
    Some(lsp_types::Diagnostic {
        range,
        severity: Some(severity(d.severity)),
        code: Some(NumberOrString::String(d.code.to_owned())),
        code_description: None,
        source: Some("asyncforge".to_owned()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        tags: None,
        data: None,
    })
}

/// The diagnostics of one file: those of every unit it is part of (a file shared by two roots
/// shows each problem once).
pub fn for_file(state: &State, key: &str, min: MinSeverity) -> Vec<lsp_types::Diagnostic> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for unit in state.units_of(key) {
        if unit.kind == UnitKind::Fragment && unit.key(unit.workspace.root_id()) != key {
            continue;
        }
        for d in unit.diagnostics.iter().filter(|d| min.shows(d.severity)) {
            if let Some(l) = convert_one(state, unit, key, d) {
                let id = (l.range.start, l.range.end, d.code, l.message.clone());
                if seen.insert(id) {
                    out.push(l);
                }
            }
        }
    }
    out.sort_by_key(|d| (d.range.start, d.range.end));
    out
}

/// The notifications to send for the files of the units just checked: an open file is always
/// published (its document, or a file it uses, changed: the editor learns which version was
/// checked), a file on disk when its diagnostics differ from the last ones sent. A file that has
/// none any more gets an empty list once.
pub fn to_publish(
    state: &State,
    published: &mut HashMap<String, Published>,
    affected: &BTreeSet<String>,
    min: MinSeverity,
) -> Vec<PublishDiagnosticsParams> {
    let mut out = Vec::new();
    for key in affected {
        let diagnostics = for_file(state, key, min);
        let version = state.open.get(key).map(|d| d.version);
        let before = published.get(key);
        let same = before.is_some_and(|p| p.diagnostics == diagnostics);
        let send = match before {
            None => !diagnostics.is_empty() || version.is_some(),
            Some(_) => !same || version.is_some(),
        };
        if !send {
            continue;
        }
        let Some(uri) = state.uri(key) else {
            continue;
        };
        if diagnostics.is_empty() && version.is_none() {
            published.remove(key);
        } else {
            published.insert(
                key.clone(),
                Published {
                    diagnostics: diagnostics.clone(),
                },
            );
        }
        out.push(PublishDiagnosticsParams {
            uri,
            diagnostics,
            version,
        });
    }
    out
}
