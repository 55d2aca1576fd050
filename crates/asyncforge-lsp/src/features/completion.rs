//! `textDocument/completion`: keys valid at the cursor, values of enumerated fields and `$ref`
//! targets ([`asyncforge_spec::ide::complete`]).
//!
//! Completion reads the editor's current text, which is often half-typed and does not parse;
//! `$ref` targets then come from the last workspace of the document that did
//! ([`crate::state::Unit::good_workspace`]).

use asyncforge_spec::ide::{self, Completion, CompletionKind};
use lsp_types::{
    CompletionItem, CompletionItemKind, CompletionList, CompletionParams, CompletionResponse,
    CompletionTextEdit, Documentation, MarkupContent, MarkupKind, Position, Range, TextEdit,
};

use crate::convert;
use crate::{Failure, Server};

/// The characters after which an editor asks for completions without the user asking: a space
/// (after `key:` in YAML, where values start), `:` (JSON values follow the colon directly),
/// quotes (a quoted value or JSON key begins), `#` and `/` (each step of a `$ref` path).
pub const TRIGGER_CHARACTERS: &[&str] = &[" ", ":", "\"", "'", "#", "/"];

fn kind(k: CompletionKind) -> CompletionItemKind {
    match k {
        CompletionKind::Key => CompletionItemKind::PROPERTY,
        CompletionKind::Value => CompletionItemKind::VALUE,
        CompletionKind::Reference => CompletionItemKind::REFERENCE,
    }
}

/// `range` as editors accept it for a completion edit: on one line and containing the cursor
/// `at` (VS Code drops items whose edit does not). Shrunk to the typed part, or to the cursor,
/// when it is not.
fn on_cursor_line(range: Range, at: Position) -> Range {
    let same_line = range.start.line == at.line && range.end.line == at.line;
    if same_line && range.start <= at && at <= range.end {
        range
    } else if range.start.line == at.line && range.start <= at {
        Range::new(range.start, at)
    } else {
        Range::new(at, at)
    }
}

/// One engine completion as an LSP item on `text` (the buffer it was computed on) at the
/// cursor `at`.
fn item(text: &str, at: Position, index: usize, c: Completion) -> CompletionItem {
    // The edit replaces the whole `replace` range, so the editor does not cut a `$ref` at its
    // `#` or `/`. The editor filters items on the text of that range: when it starts with a
    // quote, filter on the text to insert, which starts with the same quote.
    let range = on_cursor_line(convert::range_in_text(text, c.replace), at);
    let typed = text
        .get(convert::offset(text, range.start)..convert::offset(text, range.end))
        .unwrap_or("");
    let filter_text =
        (typed.starts_with(['\'', '"']) && c.insert_text != c.label).then(|| c.insert_text.clone());
    CompletionItem {
        kind: Some(kind(c.kind)),
        detail: c.detail,
        documentation: c.documentation.map(|value| {
            Documentation::MarkupContent(MarkupContent {
                kind: MarkupKind::Markdown,
                value,
            })
        }),
        // Keep the engine's order (editors sort by label otherwise).
        sort_text: Some(format!("{index:05}")),
        filter_text,
        text_edit: Some(CompletionTextEdit::Edit(TextEdit {
            range,
            new_text: c.insert_text,
        })),
        label: c.label,
        ..CompletionItem::default()
    }
}

/// `textDocument/completion` on the editor's text of the document.
pub fn completion(
    server: &Server,
    params: CompletionParams,
) -> Result<Option<CompletionResponse>, Failure> {
    let p = params.text_document_position;
    let key = convert::uri_to_key(&p.text_document.uri);
    let state = &server.state;
    // A document the editor has not opened is read as the server last loaded it.
    let loaded;
    let text: &str = match state.open.get(&key) {
        Some(doc) => &doc.text,
        None => {
            let Some(unit) = state.units_of(&key).into_iter().next() else {
                return Ok(None);
            };
            let Some(id) = unit.file_id(&key) else {
                return Ok(None);
            };
            loaded = unit.workspace.file(id).source().text().to_owned();
            &loaded
        }
    };
    // `$ref`s written in this file point into this file: the workspace's targets are only
    // right when the file is the workspace's root (its own unit).
    let ws = state.units.get(&key).and_then(|u| u.good_workspace());
    let pos = convert::pos_in_text(text, p.position);
    let items: Vec<CompletionItem> = ide::complete(text, pos, ws)
        .into_iter()
        .enumerate()
        .map(|(i, c)| item(text, p.position, i, c))
        .collect();
    Ok(Some(CompletionResponse::List(CompletionList {
        is_incomplete: false,
        items,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(l1: u32, c1: u32, l2: u32, c2: u32) -> Range {
        Range::new(Position::new(l1, c1), Position::new(l2, c2))
    }

    #[test]
    fn edits_stay_on_the_cursor_line() {
        let at = Position::new(3, 8);
        assert_eq!(on_cursor_line(r(3, 4, 3, 12), at), r(3, 4, 3, 12));
        assert_eq!(on_cursor_line(r(3, 8, 3, 8), at), r(3, 8, 3, 8));
        assert_eq!(on_cursor_line(r(3, 4, 4, 0), at), r(3, 4, 3, 8));
        assert_eq!(on_cursor_line(r(3, 4, 3, 6), at), r(3, 4, 3, 8));
        assert_eq!(on_cursor_line(r(2, 0, 3, 9), at), r(3, 8, 3, 8));
        assert_eq!(on_cursor_line(r(3, 9, 3, 12), at), r(3, 8, 3, 8));
    }
}
