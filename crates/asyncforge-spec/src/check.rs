//! The whole pipeline for one document: load → version → structure → rules.

use std::path::Path;

use serde_json::Value;

use crate::diagnostic::{self, Diagnostic, Location};
use crate::version::Version;
use crate::workspace::{LoadOptions, Workspace};
use crate::{rules, structure};

/// A loaded and checked document: its files, its version and every diagnostic.
#[derive(Debug)]
pub struct Checked {
    /// The files the document is made of (diagnostics point into them).
    pub workspace: Workspace,
    /// The document's AsyncAPI version, when it has a supported one.
    pub version: Option<Version>,
    /// Every problem found, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
}

/// A valid document (no error diagnostics), ready for lowering and generation.
#[derive(Debug, Clone, Copy)]
pub struct Document<'a> {
    /// The files.
    pub workspace: &'a Workspace,
    /// The version.
    pub version: Version,
}

impl Document<'_> {
    /// Lowers the document into the IR.
    pub fn lower(&self) -> crate::ir::Api {
        crate::ir::lower(self.workspace, self.version)
    }
}

impl Checked {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// The errors that make code generated from the document wrong: every error but those of
    /// the documentation-only rules (examples, defaults, tags; see [`rules::shapes_code`]).
    pub fn generation_errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.is_error() && rules::shapes_code(d.code))
    }

    /// The document, when it is valid.
    pub fn document(&self) -> Option<Document<'_>> {
        if self.has_errors() {
            return None;
        }
        Some(Document {
            workspace: &self.workspace,
            version: self.version?,
        })
    }

    /// Lowers the document into the IR (even an invalid one: broken parts are left out).
    /// `None` when the version is unknown.
    pub fn lower(&self) -> Option<crate::ir::Api> {
        Some(crate::ir::lower(&self.workspace, self.version?))
    }

    /// The document (when valid) and the diagnostics, as build scripts like to see them.
    pub fn parts(&self) -> (Option<Document<'_>>, &[Diagnostic]) {
        (self.document(), &self.diagnostics)
    }
}

/// Loads and checks the document at `path` with default options.
pub fn load(path: &Path) -> Checked {
    load_with(path, &LoadOptions::default())
}

/// Loads and checks the document at `path`.
pub fn load_with(path: &Path, options: &LoadOptions) -> Checked {
    let mut diags = Vec::new();
    let ws = Workspace::load(path, options, &mut diags);
    finish(ws, diags)
}

/// Loads and checks a document held in memory; relative `$ref`s resolve against `path`'s
/// directory.
pub fn load_bytes(path: &Path, bytes: &[u8], options: &LoadOptions) -> Checked {
    let mut diags = Vec::new();
    let ws = Workspace::load_text(path, bytes, options, &mut diags);
    finish(ws, diags)
}

/// Documents of at least this many bytes (all files) are checked on two threads.
const PARALLEL_FROM: usize = 256 * 1024;

fn source_bytes(ws: &Workspace) -> usize {
    ws.files().map(|(_, f)| f.source().text().len()).sum()
}

fn finish(ws: Workspace, mut diags: Vec<Diagnostic>) -> Checked {
    let version = detect_version(&ws, &mut diags);
    if let Some(v) = version {
        let (structural, semantic) = if source_bytes(&ws) < PARALLEL_FROM {
            (structure::validate(&ws, v), rules::run(&ws, v))
        } else {
            // A large document: the structure checks and the rules read the same files and
            // share nothing else, so they run side by side.
            std::thread::scope(|scope| {
                let structural = scope.spawn(|| structure::validate(&ws, v));
                let semantic = rules::run(&ws, v);
                match structural.join() {
                    Ok(structural) => (structural, semantic),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            })
        };
        diags.extend(structural);
        diags.extend(semantic);
    }
    diagnostic::normalize(&mut diags);
    Checked {
        workspace: ws,
        version,
        diagnostics: diags,
    }
}

fn detect_version(ws: &Workspace, diags: &mut Vec<Diagnostic>) -> Option<Version> {
    let root = ws.root()?;
    let at = |ptr: &str, key: bool| -> Location {
        if key {
            ws.key_location(root.file, ptr)
        } else {
            ws.location(root.file, ptr)
        }
    };
    let Some(obj) = root.value.as_object() else {
        diags.push(
            Diagnostic::error(
                "not-asyncapi",
                format!(
                    "the document must be a mapping with an `asyncapi` field, not {}",
                    match root.value {
                        Value::Array(_) => "a list",
                        Value::String(_) => "a string",
                        Value::Null => "null",
                        _ => "a scalar",
                    }
                ),
            )
            .at(at("", false)),
        );
        return None;
    };
    let Some(v) = obj.get("asyncapi") else {
        let what = if obj.contains_key("openapi") || obj.contains_key("swagger") {
            "this is an OpenAPI document, not an AsyncAPI document"
        } else {
            "the document has no `asyncapi` field, so it is not an AsyncAPI document"
        };
        diags.push(
            Diagnostic::error("not-asyncapi", what)
                .at(at("", false))
                .with_help(
                    "add `asyncapi: 3.0.0` (or the version the document follows) at the top",
                ),
        );
        return None;
    };
    let Some(s) = v.as_str() else {
        diags.push(
            Diagnostic::error(
                "version-unsupported",
                format!("`asyncapi` must be a version string such as \"3.0.0\", found {v}"),
            )
            .at(at("/asyncapi", false))
            .with_help("quote the version: `asyncapi: '2.6.0'`"),
        );
        return None;
    };
    match Version::parse(s) {
        Some(v) => Some(v),
        None => {
            diags.push(
                Diagnostic::error(
                    "version-unsupported",
                    format!(
                        "AsyncAPI version `{s}` is not supported; supported versions are {}",
                        Version::supported_list()
                    ),
                )
                .at(at("/asyncapi", false)),
            );
            None
        }
    }
}
