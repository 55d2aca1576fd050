//! `textDocument/codeAction`: quick fixes for the diagnostics the server published
//! ([`asyncforge_spec::ide::code_actions`]).
//!
//! The editor sends back the LSP diagnostics it shows; each is matched (code and range) with
//! the engine diagnostic it was converted from, which carries what the fix needs (pointer,
//! file, message).

use std::collections::BTreeMap;

use asyncforge_spec::ide::{self, Fix};
use lsp_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, CodeActionParams, CodeActionResponse,
    NumberOrString, TextEdit, Uri, WorkspaceEdit,
};

use crate::convert;
use crate::state::{State, Unit};
use crate::{Failure, Server};

/// The engine diagnostic of `unit` that `d` (published for the file `key`) was made from.
fn engine_diagnostic<'u>(
    unit: &'u Unit,
    key: &str,
    d: &lsp_types::Diagnostic,
) -> Option<&'u asyncforge_spec::Diagnostic> {
    let Some(NumberOrString::String(code)) = &d.code else {
        return None;
    };
    unit.diagnostics.iter().find(|e| {
        e.code == code.as_str()
            && e.location.as_ref().is_some_and(|l| {
                unit.key(l.file) == key
                    && convert::range(unit.workspace.file(l.file).source(), l.span) == d.range
            })
    })
}

/// A fix as a workspace edit: its edits converted and grouped by document. `None` when a file
/// it edits has no URI.
fn workspace_edit(state: &State, unit: &Unit, fix: &Fix) -> Option<WorkspaceEdit> {
    // By file key, as `Uri` is not a good map key of its own.
    let mut by_file: BTreeMap<&str, (Uri, Vec<TextEdit>)> = BTreeMap::new();
    for e in &fix.edits {
        let key = unit.key(e.file);
        let edit = TextEdit {
            range: convert::range(unit.workspace.file(e.file).source(), e.span),
            new_text: e.new_text.clone(),
        };
        match by_file.get_mut(key) {
            Some((_, edits)) => edits.push(edit),
            None => {
                by_file.insert(key, (state.uri(key)?, vec![edit]));
            }
        }
    }
    Some(WorkspaceEdit {
        changes: Some(by_file.into_values().collect()),
        document_changes: None,
        change_annotations: None,
    })
}

/// Whether the kind `wanted` covers `kind` (kinds are hierarchical: `refactor` covers
/// `refactor.extract`, the empty kind covers all).
fn kind_includes(wanted: &CodeActionKind, kind: &CodeActionKind) -> bool {
    let (w, k) = (wanted.as_str(), kind.as_str());
    w.is_empty() || k == w || k.strip_prefix(w).is_some_and(|rest| rest.starts_with('.'))
}

/// `textDocument/codeAction`: one quick fix per mechanical fix of each diagnostic in the
/// request's context that this server published for the document.
pub fn code_actions(
    server: &Server,
    params: CodeActionParams,
) -> Result<Option<CodeActionResponse>, Failure> {
    if let Some(only) = &params.context.only
        && !only
            .iter()
            .any(|k| kind_includes(k, &CodeActionKind::QUICKFIX))
    {
        return Ok(None);
    }
    let state = &server.state;
    let key = convert::uri_to_key(&params.text_document.uri);
    let units = state.units_of(&key);
    let mut out = Vec::new();
    for d in &params.context.diagnostics {
        // The first unit (roots first) that reported it: a file shared by two roots shows
        // each problem once, so it is fixed once.
        let Some((unit, engine)) = units
            .iter()
            .find_map(|u| engine_diagnostic(u, &key, d).map(|e| (*u, e)))
        else {
            continue;
        };
        let fixes = ide::code_actions(&unit.workspace, engine);
        // The only fix of a diagnostic is the one "fix all" and "auto fix" may apply.
        let preferred = fixes.len() == 1;
        for fix in fixes {
            let Some(edit) = workspace_edit(state, unit, &fix) else {
                continue;
            };
            out.push(CodeActionOrCommand::CodeAction(CodeAction {
                title: fix.title,
                kind: Some(CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![d.clone()]),
                edit: Some(edit),
                command: None,
                is_preferred: preferred.then_some(true),
                disabled: None,
                data: None,
            }));
        }
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requested_kinds_are_hierarchical() {
        let quickfix = CodeActionKind::QUICKFIX;
        assert!(kind_includes(&CodeActionKind::EMPTY, &quickfix));
        assert!(kind_includes(&CodeActionKind::QUICKFIX, &quickfix));
        assert!(kind_includes(
            &CodeActionKind::REFACTOR,
            &CodeActionKind::REFACTOR_EXTRACT
        ));
        assert!(!kind_includes(&CodeActionKind::REFACTOR, &quickfix));
        assert!(!kind_includes(&CodeActionKind::new("quick"), &quickfix));
    }
}
