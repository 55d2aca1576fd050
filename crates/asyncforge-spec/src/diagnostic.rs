//! Diagnostics: what went wrong (or could be better), where, and how bad it is.

use crate::source::{FileId, Span};

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The document is invalid.
    Error,
    /// The document is valid but probably not what the author meant.
    Warning,
    /// A remark worth knowing (e.g. an unused component).
    Info,
    /// A style suggestion.
    Hint,
}

impl Severity {
    /// Lower-case name (`error`, `warning`, `info`, `hint`).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
            Severity::Hint => "hint",
        }
    }
}

/// A place in a loaded file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    /// The file.
    pub file: FileId,
    /// JSON pointer of the node inside its file (`""` is the file's root).
    pub pointer: String,
    /// Line/column range of the node (or of its key, when the key is the problem).
    pub span: Span,
}

/// A secondary location that explains a diagnostic ("first defined here").
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Related {
    /// Where.
    pub location: Location,
    /// What is there.
    pub message: String,
}

/// One problem found in a document.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Diagnostic {
    /// Stable rule code, documented in `docs/rules.md`.
    pub code: &'static str,
    /// How serious it is.
    pub severity: Severity,
    /// One sentence saying what is wrong.
    pub message: String,
    /// Where it is; `None` only for problems that belong to no file (e.g. a file that cannot be read).
    pub location: Option<Location>,
    /// Other places that explain the problem.
    pub related: Vec<Related>,
    /// How to fix it, when there is something useful to say.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A new diagnostic without location.
    pub fn new(code: &'static str, severity: Severity, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity,
            message: message.into(),
            location: None,
            related: Vec::new(),
            help: None,
        }
    }

    /// An error.
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Error, message)
    }

    /// A warning.
    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Warning, message)
    }

    /// Sets the location.
    pub fn at(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }

    /// Adds a related location.
    pub fn with_related(mut self, location: Location, message: impl Into<String>) -> Self {
        self.related.push(Related {
            location,
            message: message.into(),
        });
        self
    }

    /// Sets the help text.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Sorts diagnostics by file, position, code and message, and drops exact duplicates.
///
/// A node that is `$ref`'d from several places is checked once per place it is used in; this
/// makes sure the user still sees one diagnostic per problem.
pub fn normalize(diags: &mut Vec<Diagnostic>) {
    diags.sort_by(|a, b| {
        let ka = a
            .location
            .as_ref()
            .map(|l| (l.file, l.span.start, l.span.end));
        let kb = b
            .location
            .as_ref()
            .map(|l| (l.file, l.span.start, l.span.end));
        ka.cmp(&kb)
            .then_with(|| a.severity.cmp(&b.severity))
            .then_with(|| a.code.cmp(b.code))
            .then_with(|| a.message.cmp(&b.message))
    });
    diags.dedup_by(|a, b| {
        a.code == b.code
            && a.message == b.message
            && a.location.as_ref().map(|l| (l.file, &l.pointer))
                == b.location.as_ref().map(|l| (l.file, &l.pointer))
    });
}
