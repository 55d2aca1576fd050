//! Structure of AsyncAPI v3 documents.

use super::*;

/// The root document object.
pub static DOCUMENT: Shape = Shape::Object(&Obj {
    name: "AsyncAPI Object",
    fields: &[],
    required: &["asyncapi", "info"],
    extensions: true,
    additional: Some(&s::ANY),
    checks: &[],
});
