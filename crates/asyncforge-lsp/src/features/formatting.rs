//! `textDocument/formatting`: `asyncforge format` on the editor's text (YAML or JSON by the
//! file's extension, key order kept).

use asyncforge_spec::load::{self, Limits};
use asyncforge_spec::tools::emit::{self, Syntax};
use lsp_types::{DocumentFormattingParams, Position, Range, TextEdit};

use crate::convert;
use crate::{Failure, Server};

/// The formatted text of a document, `None` when it does not parse.
pub fn format_text(key: &str, text: &str) -> Option<String> {
    let limits = Limits::default();
    let decoded = load::decode(text.as_bytes(), &limits).ok()?;
    let parsed = load::parse_text(&decoded, &limits).ok()?;
    Some(emit::to_string(
        &parsed.value,
        Syntax::from_path(std::path::Path::new(key)),
    ))
}

/// Whether YAML text may hold a comment (`#` at the start of a line or after a blank), which
/// formatting would drop. Errs on the side of "yes" (a ` #` inside a quoted string counts).
fn may_have_comments(text: &str) -> bool {
    text.lines()
        .any(|l| l.trim_start().starts_with('#') || l.contains(" #") || l.contains("\t#"))
}

/// `textDocument/formatting`: one edit replacing the whole text, none when the text is
/// already formatted or does not parse. YAML with comments is refused: `asyncforge format`
/// writes the data, and comments are not data.
pub fn formatting(
    server: &Server,
    params: DocumentFormattingParams,
) -> Result<Option<Vec<TextEdit>>, Failure> {
    let key = convert::uri_to_key(&params.text_document.uri);
    let Some(doc) = server.state.open.get(&key) else {
        return Ok(None);
    };
    let json = Syntax::from_path(std::path::Path::new(&key)) == Syntax::Json;
    if !json && may_have_comments(&doc.text) {
        return Err(Failure::request_failed(
            "not formatted: the document has comments, and formatting would drop them",
        ));
    }
    let Some(formatted) = format_text(&key, &doc.text) else {
        return Ok(Some(Vec::new()));
    };
    if formatted == doc.text {
        return Ok(Some(Vec::new()));
    }
    Ok(Some(vec![TextEdit {
        range: Range::new(Position::new(0, 0), convert::end_position(&doc.text)),
        new_text: formatted,
    }]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_are_detected() {
        assert!(may_have_comments("# top\nasyncapi: 3.0.0\n"));
        assert!(may_have_comments("a: 1 # why\n"));
        assert!(may_have_comments("a:\n  # why\n  b: 1\n"));
        assert!(!may_have_comments(
            "$ref: '#/components/schemas/A'\nb: x#y\n"
        ));
    }
}
