//! `textDocument/hover`: what a key means in the document's AsyncAPI version, and what a
//! `$ref` points to ([`asyncforge_spec::ide::hover`]).

use asyncforge_spec::ide;
use lsp_types::{Hover, HoverContents, HoverParams, MarkupContent, MarkupKind};

use crate::convert;
use crate::features::navigation;
use crate::{Failure, Server};

/// `textDocument/hover`, on the workspace of the document's unit (a referenced file is
/// described in the context of the root that uses it).
pub fn hover(server: &Server, params: HoverParams) -> Result<Option<Hover>, Failure> {
    let p = params.text_document_position_params;
    let Some((unit, file, pos)) =
        navigation::locate(&server.state, &p.text_document.uri, p.position)
    else {
        return Ok(None);
    };
    let Some(h) = ide::hover(&unit.workspace, file, pos) else {
        return Ok(None);
    };
    Ok(Some(Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value: h.markdown,
        }),
        range: Some(convert::range(unit.workspace.file(file).source(), h.span)),
    }))
}
