//! Semantic rules: what the JSON structure cannot say (references by name, parameters that must
//! match an address, examples that must match their schema, …).
//!
//! Every rule has a stable code, a severity and an entry in `docs/rules.md`; [`RULES`] is the
//! registry (a test checks that the registry and the documentation agree).

mod common;
mod examples;
mod v2;
mod v3;

use serde_json::Value;

use crate::diagnostic::{Diagnostic, Severity};
use crate::pointer;
use crate::source::FileId;
use crate::version::Version;
use crate::workspace::Workspace;

/// Documentation of one rule.
#[derive(Debug, Clone, Copy)]
pub struct RuleInfo {
    /// Stable code.
    pub code: &'static str,
    /// Default severity.
    pub severity: Severity,
    /// Which documents it applies to (`2.x`, `3.x`, `all`).
    pub applies_to: &'static str,
    /// One line saying what it checks.
    pub summary: &'static str,
}

const fn rule(
    code: &'static str,
    severity: Severity,
    applies_to: &'static str,
    summary: &'static str,
) -> RuleInfo {
    RuleInfo {
        code,
        severity,
        applies_to,
        summary,
    }
}

use Severity::{Error, Info, Warning};

/// Every diagnostic code asyncforge emits, with its default severity.
pub const RULES: &[RuleInfo] = &[
    // Loading.
    rule("io-error", Error, "all", "A file cannot be read."),
    rule(
        "file-too-large",
        Error,
        "all",
        "A file is larger than the size limit.",
    ),
    rule("not-utf8", Error, "all", "A file is not UTF-8 text."),
    rule(
        "binary-file",
        Error,
        "all",
        "A file contains NUL bytes (binary data).",
    ),
    rule("empty-document", Error, "all", "A file holds no document."),
    rule("yaml-syntax", Error, "all", "YAML or JSON syntax error."),
    rule(
        "yaml-unsupported",
        Error,
        "all",
        "A YAML construct with no JSON equivalent (complex keys, bad merge keys).",
    ),
    rule(
        "yaml-tag",
        Error,
        "all",
        "An unknown or mismatched YAML tag.",
    ),
    rule(
        "duplicate-key",
        Error,
        "all",
        "A mapping has the same key twice.",
    ),
    rule(
        "multiple-documents",
        Error,
        "all",
        "A file holds more than one YAML document.",
    ),
    rule(
        "too-deep",
        Error,
        "all",
        "Nesting deeper than the depth limit.",
    ),
    rule(
        "alias-limit",
        Error,
        "all",
        "YAML aliases expand beyond the limit (\"billion laughs\").",
    ),
    // References.
    rule(
        "ref-unresolved",
        Error,
        "all",
        "A `$ref` points at nothing.",
    ),
    rule(
        "ref-remote",
        Error,
        "all",
        "A remote `$ref` while remote references are off.",
    ),
    rule(
        "ref-loop",
        Error,
        "all",
        "`$ref`s that only point at each other and never reach a value.",
    ),
    rule(
        "ref-limit",
        Error,
        "all",
        "A document pulls in more files than the limit.",
    ),
    // Version.
    rule(
        "not-asyncapi",
        Error,
        "all",
        "The document is not an AsyncAPI document.",
    ),
    rule(
        "version-unsupported",
        Error,
        "all",
        "The `asyncapi` version is not one asyncforge supports.",
    ),
    // Structure.
    rule("struct-type", Error, "all", "A value has the wrong type."),
    rule(
        "struct-required",
        Error,
        "all",
        "A required field is missing.",
    ),
    rule(
        "struct-unknown-field",
        Error,
        "all",
        "A field the object does not define.",
    ),
    rule(
        "struct-enum",
        Error,
        "all",
        "A value outside the allowed set.",
    ),
    rule(
        "struct-format",
        Error,
        "all",
        "A string without the required format or pattern.",
    ),
    rule(
        "struct-range",
        Error,
        "all",
        "A number, string or list outside its bounds.",
    ),
    rule(
        "struct-ref-not-allowed",
        Error,
        "all",
        "A `$ref` where the specification allows no Reference Object.",
    ),
    rule(
        "struct-no-match",
        Error,
        "all",
        "A value that matches none of the allowed alternatives.",
    ),
    // 2.x core rules.
    rule(
        "asyncapi2-server-security",
        Error,
        "2.x",
        "Server security requirements name defined security schemes and valid scopes.",
    ),
    rule(
        "asyncapi2-server-variables",
        Error,
        "2.x",
        "Server URL variables are declared, declared variables are used, defaults and examples are in `enum`.",
    ),
    rule(
        "asyncapi2-channel-parameters",
        Error,
        "2.x",
        "Channel name parameters are declared and declared parameters are used.",
    ),
    rule(
        "asyncapi2-channel-servers",
        Error,
        "2.x",
        "Channel `servers` name servers of the document.",
    ),
    rule(
        "asyncapi2-channel-no-query-nor-fragment",
        Error,
        "2.x",
        "Channel names contain no `?` or `#`.",
    ),
    rule(
        "asyncapi2-operation-operationId-uniqueness",
        Error,
        "2.x",
        "`operationId`s are unique.",
    ),
    rule(
        "asyncapi2-operation-security",
        Error,
        "2.x",
        "Operation security requirements name defined security schemes and valid scopes.",
    ),
    rule(
        "asyncapi2-message-messageId-uniqueness",
        Error,
        "2.x",
        "`messageId`s are unique.",
    ),
    rule(
        "asyncapi2-tags-uniqueness",
        Error,
        "2.x",
        "Tag names are unique within each tag list.",
    ),
    rule(
        "asyncapi2-message-examples",
        Error,
        "2.x",
        "Message examples match the message's payload and headers schemas.",
    ),
    rule(
        "asyncapi2-schema-default",
        Error,
        "2.x",
        "A schema's `default` is valid against the schema.",
    ),
    rule(
        "asyncapi2-schema-examples",
        Error,
        "2.x",
        "A schema's `examples` are valid against the schema.",
    ),
    // 3.x core rules.
    rule(
        "asyncapi3-operation-messages-from-referred-channel",
        Error,
        "3.x",
        "Operation messages are messages of the operation's channel.",
    ),
    rule(
        "asyncapi3-reply-messages-from-referred-channel",
        Warning,
        "3.x",
        "Reply messages are messages of the reply's channel.",
    ),
    rule(
        "asyncapi3-required-operation-channel-unambiguity",
        Error,
        "3.x",
        "An operation's `channel` is a `$ref` to `#/channels/…`.",
    ),
    rule(
        "asyncapi3-required-channel-servers-unambiguity",
        Error,
        "3.x",
        "A channel's `servers` are `$ref`s to `#/servers/…`.",
    ),
    rule(
        "asyncapi3-channel-parameters",
        Error,
        "3.x",
        "Address parameters are declared and declared parameters are used.",
    ),
    rule(
        "asyncapi3-channel-no-query-nor-fragment",
        Error,
        "3.x",
        "Channel addresses contain no `?` or `#`.",
    ),
    rule(
        "asyncapi3-server-variables",
        Error,
        "3.x",
        "Variables in `host` and `pathname` are declared, declared ones are used, defaults and examples are in `enum`.",
    ),
    rule(
        "asyncapi3-operation-security",
        Error,
        "3.x",
        "Operation and server security entries are security schemes with valid scopes.",
    ),
    rule(
        "asyncapi3-tags-uniqueness",
        Error,
        "3.x",
        "Tag names are unique within each tag list.",
    ),
    rule(
        "asyncapi3-message-examples",
        Warning,
        "3.x",
        "Message examples match the message's payload and headers schemas.",
    ),
    rule(
        "asyncapi3-schema-default",
        Error,
        "3.x",
        "A schema's `default` is valid against the schema.",
    ),
    rule(
        "asyncapi3-schema-examples",
        Warning,
        "3.x",
        "A schema's `examples` are valid against the schema.",
    ),
    // Recommendations.
    rule(
        "asyncapi-info-description",
        Warning,
        "all",
        "`info.description` is present and not empty.",
    ),
    rule(
        "asyncapi-info-contact",
        Warning,
        "all",
        "`info.contact` is present.",
    ),
    rule(
        "asyncapi-info-license",
        Warning,
        "all",
        "`info.license` is present.",
    ),
    rule(
        "asyncapi-servers",
        Warning,
        "all",
        "The document declares at least one server.",
    ),
    rule(
        "asyncapi-defaultContentType",
        Warning,
        "all",
        "The document sets `defaultContentType`.",
    ),
    rule(
        "asyncapi-server-no-empty-variable",
        Warning,
        "all",
        "Server URLs have no empty `{}`.",
    ),
    rule(
        "asyncapi-server-no-trailing-slash",
        Warning,
        "all",
        "Server URLs (2.x) and pathnames (3.x) do not end with `/`.",
    ),
    rule(
        "asyncapi-channel-no-empty-parameter",
        Warning,
        "all",
        "Channel addresses have no empty `{}`.",
    ),
    rule(
        "asyncapi-channel-no-trailing-slash",
        Warning,
        "all",
        "Channel addresses do not end with `/`.",
    ),
    rule(
        "asyncapi2-operation-operationId",
        Warning,
        "2.x",
        "Operations have an `operationId`.",
    ),
    rule(
        "asyncapi2-message-messageId",
        Warning,
        "2.x (2.4+)",
        "Messages have a `messageId`.",
    ),
    rule(
        "asyncapi-operation-description",
        Warning,
        "all",
        "Operations have a `summary` or `description`.",
    ),
    rule(
        "asyncapi-unused-component",
        Info,
        "all",
        "A component that nothing references.",
    ),
    rule(
        "asyncapi-unused-security-scheme",
        Info,
        "2.x",
        "A security scheme that no security requirement names.",
    ),
    rule(
        "asyncapi-schema-uncompilable",
        Warning,
        "all",
        "A schema the example checker cannot compile; its examples were not checked.",
    ),
    // Code generation: what `asyncforge generate` and build scripts report about a valid document.
    rule(
        "generate-type-loose",
        Warning,
        "all",
        "A schema with no exact Rust type is generated as a looser one (`serde_json::Value`, a map, a list).",
    ),
    rule(
        "generate-transport-partial",
        Warning,
        "all",
        "A channel or operation is served with less than the document says, or not at all.",
    ),
];

/// Looks up a rule.
pub fn info(code: &str) -> Option<&'static RuleInfo> {
    RULES.iter().find(|r| r.code == code)
}

/// Rules whose errors say nothing about the code generated from the document: examples,
/// defaults and tag lists are documentation. Their errors are reported, but they do not stop
/// generation.
const DOCUMENTATION_ONLY: &[&str] = &[
    "asyncapi2-message-examples",
    "asyncapi2-schema-default",
    "asyncapi2-schema-examples",
    "asyncapi2-tags-uniqueness",
    "asyncapi3-message-examples",
    "asyncapi3-schema-default",
    "asyncapi3-schema-examples",
    "asyncapi3-tags-uniqueness",
];

/// Whether an error of rule `code` makes code generated from the document wrong (every rule
/// but those about examples, defaults and tags).
pub fn shapes_code(code: &str) -> bool {
    !DOCUMENTATION_ONLY.contains(&code)
}

/// A node reached while walking a document.
#[derive(Debug, Clone)]
pub(crate) struct At<'a> {
    pub file: FileId,
    pub ptr: String,
    pub v: &'a Value,
}

impl<'a> At<'a> {
    pub fn child(&self, key: &str) -> Option<At<'a>> {
        let v = self.v.get(key)?;
        Some(At {
            file: self.file,
            ptr: pointer::join(&self.ptr, key),
            v,
        })
    }

    pub fn index(&self, i: usize) -> Option<At<'a>> {
        let v = self.v.get(i)?;
        Some(At {
            file: self.file,
            ptr: format!("{}/{i}", self.ptr),
            v,
        })
    }

    /// Entries of an object, skipping extensions.
    pub fn entries(&self) -> Vec<(&'a str, At<'a>)> {
        let Some(m) = self.v.as_object() else {
            return Vec::new();
        };
        m.iter()
            .filter(|(k, _)| !crate::structure::is_extension(k))
            .map(|(k, v)| {
                (
                    k.as_str(),
                    At {
                        file: self.file,
                        ptr: pointer::join(&self.ptr, k),
                        v,
                    },
                )
            })
            .collect()
    }

    pub fn items(&self) -> Vec<At<'a>> {
        let Some(a) = self.v.as_array() else {
            return Vec::new();
        };
        (0..a.len()).filter_map(|i| self.index(i)).collect()
    }

    pub fn str(&self, key: &str) -> Option<&'a str> {
        self.v.get(key).and_then(Value::as_str)
    }
}

/// Shared state of one rules run.
pub(crate) struct Ctx<'a> {
    pub ws: &'a Workspace,
    pub version: Version,
    pub diags: Vec<Diagnostic>,
}

impl<'a> Ctx<'a> {
    /// Follows `$ref`s; `None` when the node is a broken reference (reported elsewhere).
    pub fn deref(&self, at: &At<'a>) -> Option<At<'a>> {
        if !crate::structure::is_ref(at.v) {
            return Some(at.clone());
        }
        let t = self.ws.ref_target(at.file, &at.ptr)?;
        let v = self.ws.get(t.file, &t.pointer)?;
        Some(At {
            file: t.file,
            ptr: t.pointer.clone(),
            v,
        })
    }

    pub fn emit(&mut self, code: &'static str, at: &At<'_>, message: String) -> &mut Diagnostic {
        self.emit_loc(code, self.ws.location(at.file, &at.ptr), message)
    }

    pub fn emit_key(
        &mut self,
        code: &'static str,
        at: &At<'_>,
        message: String,
    ) -> &mut Diagnostic {
        self.emit_loc(code, self.ws.key_location(at.file, &at.ptr), message)
    }

    fn emit_loc(
        &mut self,
        code: &'static str,
        loc: crate::diagnostic::Location,
        message: String,
    ) -> &mut Diagnostic {
        let severity = info(code).map_or(Severity::Error, |r| r.severity);
        self.diags
            .push(Diagnostic::new(code, severity, message).at(loc));
        self.diags.last_mut().expect("just pushed")
    }

    /// Like [`Ctx::emit`], with a severity other than the rule's default (used where a rule
    /// reaches beyond what the reference validator checks, to report without failing).
    pub fn emit_as(
        &mut self,
        code: &'static str,
        severity: Severity,
        at: &At<'_>,
        message: String,
        key: bool,
    ) -> &mut Diagnostic {
        let loc = if key {
            self.ws.key_location(at.file, &at.ptr)
        } else {
            self.ws.location(at.file, &at.ptr)
        };
        self.diags
            .push(Diagnostic::new(code, severity, message).at(loc));
        self.diags.last_mut().expect("just pushed")
    }

    pub fn root(&self) -> Option<At<'a>> {
        let r = self.ws.root()?;
        Some(At {
            file: r.file,
            ptr: String::new(),
            v: r.value,
        })
    }
}

/// Runs every rule for the document's version.
pub fn run(ws: &Workspace, version: Version) -> Vec<Diagnostic> {
    let mut cx = Ctx {
        ws,
        version,
        diags: Vec::new(),
    };
    if cx.root().is_none_or(|r| !r.v.is_object()) {
        return Vec::new();
    }
    if version.is_v2() {
        v2::run(&mut cx);
    } else {
        v3::run(&mut cx);
    }
    common::run(&mut cx);
    cx.diags
}

/// The `{name}` variables of an address or URL template, with their byte offsets.
pub(crate) fn template_vars(s: &str) -> Vec<(&str, usize)> {
    let mut out = Vec::new();
    let mut rest = s;
    let mut base = 0;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        out.push((&after[..close], base + open));
        let consumed = open + 1 + close + 1;
        base += consumed;
        rest = &rest[consumed..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_variables() {
        let v: Vec<&str> = template_vars("a/{x}/b/{y}{}")
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(v, vec!["x", "y", ""]);
    }

    #[test]
    fn rule_codes_are_unique() {
        let mut codes: Vec<&str> = RULES.iter().map(|r| r.code).collect();
        codes.sort();
        let n = codes.len();
        codes.dedup();
        assert_eq!(n, codes.len());
    }
}
