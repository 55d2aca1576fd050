//! Document tools: `format` (YAML ↔ JSON), `bundle` (one self-contained file) and `convert`
//! (2.x → 3.x).

pub mod bundle;
pub mod convert;
pub mod emit;

use serde_json::Value;

use crate::version::Version;
use crate::workspace::Workspace;

/// Converts a loaded 2.x document to `target`; a multi-file document is bundled first so the
/// result is one self-contained 3.x document.
pub fn convert_workspace(
    ws: &Workspace,
    from: Version,
    target: Version,
) -> Result<Value, convert::ConvertError> {
    let bundled;
    let doc = if ws.len() > 1 {
        bundled = bundle::bundle(ws, from);
        &bundled
    } else {
        ws.root().map(|r| r.value).unwrap_or(&Value::Null)
    };
    convert::convert(doc, from, target)
}
