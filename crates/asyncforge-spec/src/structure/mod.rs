//! Structural validation: asyncforge's own definition of what each AsyncAPI version allows.
//!
//! The structure of every version is written as static [`Shape`] tables (`v2`, `v3`, `schema`,
//! `bindings`) and checked by one [`Checker`]. The checker walks the document once, follows a
//! `$ref` only where the specification allows a Reference Object, and checks every referenced
//! node in place (memoized per node and shape). Recursive schemas therefore terminate, shared
//! components are checked once, and each problem is reported in the file where it is written.
//!
//! **Architecture Invariant:** references cost no stack. A followed `$ref` is queued and checked
//! after the current walk returns ([`Checker::run`]), so the checker's recursion is bounded by
//! the nesting of one file (the loader's depth limit) plus a fixed budget for trial checks of
//! alternatives, however long a chain of references a document builds.
//!
//! The official JSON Schemas are not part of the product; a test compares our verdict with
//! theirs for every corpus document.

pub mod bindings;
pub mod formats;
pub mod schema;
pub mod v2;
pub mod v3;

use regex::Regex;
use serde_json::Value;

use crate::diagnostic::Diagnostic;
use crate::pointer;
use crate::source::FileId;
use crate::version::Version;
use crate::workspace::Workspace;

/// Diagnostic codes emitted by structural validation.
pub mod codes {
    /// A value has the wrong JSON type.
    pub const TYPE: &str = "struct-type";
    /// A required field is missing.
    pub const REQUIRED: &str = "struct-required";
    /// A field that the object does not define.
    pub const UNKNOWN_FIELD: &str = "struct-unknown-field";
    /// A value outside the allowed set.
    pub const ENUM: &str = "struct-enum";
    /// A string that does not have the required format (URI, e-mail, pattern…).
    pub const FORMAT: &str = "struct-format";
    /// A number, string or array outside its bounds.
    pub const RANGE: &str = "struct-range";
    /// A `$ref` where the specification does not allow a Reference Object.
    pub const REF_NOT_ALLOWED: &str = "struct-ref-not-allowed";
    /// A value that matches none of the alternatives allowed at that place.
    pub const NO_MATCH: &str = "struct-no-match";
}

/// A string format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// An absolute URI (`scheme:…`).
    Uri,
    /// A URI reference (absolute or relative).
    UriReference,
    /// An e-mail address.
    Email,
    /// A regular expression.
    Regex,
}

/// What is allowed at one place of a document.
#[derive(Debug)]
pub enum Shape {
    /// Anything.
    Any,
    /// A string, with an optional format and pattern.
    Str {
        /// Required format.
        format: Option<Format>,
        /// Regex the string must match (ECMA-262 compatible subset).
        pattern: Option<&'static str>,
    },
    /// A boolean.
    Bool,
    /// An integer within optional bounds.
    Int {
        /// Smallest allowed value.
        min: Option<i64>,
        /// Largest allowed value.
        max: Option<i64>,
    },
    /// A number within optional bounds.
    Num {
        /// Smallest allowed value.
        min: Option<f64>,
    },
    /// One of these strings.
    Enum(&'static [&'static str]),
    /// One of these JSON values (written as JSON text).
    Values(&'static [&'static str]),
    /// An object with known fields.
    Object(&'static Obj),
    /// A map from keys to values of one shape.
    Map(&'static MapShape),
    /// An array.
    Array {
        /// Shape of the items.
        items: &'static Shape,
        /// Fewest items allowed.
        min_items: usize,
        /// Items must be unique.
        unique: bool,
    },
    /// A Reference Object (`{$ref: …}`), whose target must have the inner shape, or the inner
    /// shape itself.
    RefOr(&'static Shape),
    /// The first alternative whose JSON type matches is used; when several alternatives share a
    /// type, the value must match one of them.
    AnyOf(&'static [&'static Shape]),
    /// Dispatch on a string field: `variants` maps its value to a shape; a missing or unknown
    /// value is an error listing the allowed ones.
    Tagged {
        /// The discriminating field.
        field: &'static str,
        /// Value → shape.
        variants: &'static [(&'static str, &'static Shape)],
        /// Name used in messages ("Security Scheme Object").
        name: &'static str,
    },
    /// Checked by a function (for rules that do not fit the table form).
    Custom(fn(&mut Checker<'_>, Loc<'_>)),
}

/// A field of an object.
#[derive(Debug)]
pub struct Field {
    /// Field name.
    pub name: &'static str,
    /// Its shape.
    pub shape: &'static Shape,
    /// First version with this field.
    pub since: Version,
    /// Last version with this field.
    pub until: Version,
}

impl Field {
    /// A field present in every version the object exists in.
    pub const fn new(name: &'static str, shape: &'static Shape) -> Field {
        Field {
            name,
            shape,
            since: Version::V2_0,
            until: Version::V3_1,
        }
    }

    /// Restricts the field to `since` and later.
    pub const fn since(mut self, v: Version) -> Field {
        self.since = v;
        self
    }

    /// Restricts the field to `until` and earlier.
    pub const fn until(mut self, v: Version) -> Field {
        self.until = v;
        self
    }
}

/// An object type.
#[derive(Debug)]
pub struct Obj {
    /// Name used in messages ("Server Object").
    pub name: &'static str,
    /// Known fields.
    pub fields: &'static [Field],
    /// Required fields.
    pub required: &'static [&'static str],
    /// Whether `x-…` extension fields are allowed.
    pub extensions: bool,
    /// Shape of fields that are not listed; `None` means unknown fields are errors.
    pub additional: Option<&'static Shape>,
    /// Extra checks run after the fields.
    pub checks: &'static [fn(&mut Checker<'_>, Loc<'_>)],
}

/// Keys of a map.
#[derive(Debug)]
pub enum Keys {
    /// Any string.
    Any,
    /// Keys must match this regex.
    Pattern(&'static str),
}

/// A map type.
#[derive(Debug)]
pub struct MapShape {
    /// Name used in messages.
    pub name: &'static str,
    /// Which keys are allowed.
    pub keys: Keys,
    /// Shape of values.
    pub values: &'static Shape,
    /// Whether `x-…` keys are extensions (not checked against `values`).
    pub extensions: bool,
}

/// Shorthands for table definitions.
pub mod s {
    use super::{Format, Shape};
    /// Any string.
    pub static STR: Shape = Shape::Str {
        format: None,
        pattern: None,
    };
    /// A URI.
    pub static URI: Shape = Shape::Str {
        format: Some(Format::Uri),
        pattern: None,
    };
    /// A URI reference.
    pub static URI_REF: Shape = Shape::Str {
        format: Some(Format::UriReference),
        pattern: None,
    };
    /// An e-mail address.
    pub static EMAIL: Shape = Shape::Str {
        format: Some(Format::Email),
        pattern: None,
    };
    /// A boolean.
    pub static BOOL: Shape = Shape::Bool;
    /// Anything.
    pub static ANY: Shape = Shape::Any;
    /// Any integer.
    pub static INT: Shape = Shape::Int {
        min: None,
        max: None,
    };
    /// A non-negative integer.
    pub static UINT: Shape = Shape::Int {
        min: Some(0),
        max: None,
    };
    /// Any number.
    pub static NUM: Shape = Shape::Num { min: None };
    /// An array of strings.
    pub static STR_ARRAY: Shape = Shape::Array {
        items: &STR,
        min_items: 0,
        unique: false,
    };
    /// An object with anything in it.
    pub static ANY_OBJECT: Shape = Shape::Map(&super::MapShape {
        name: "object",
        keys: super::Keys::Any,
        values: &ANY,
        extensions: false,
    });
}

/// Where the checker is: a node of some file.
#[derive(Debug, Clone, Copy)]
pub struct Loc<'a> {
    /// File.
    pub file: FileId,
    /// Pointer within the file.
    pub ptr: &'a str,
    /// The node.
    pub value: &'a Value,
}

/// Walks a document against shapes, collecting diagnostics.
pub struct Checker<'a> {
    /// The files.
    pub ws: &'a Workspace,
    /// The document's version.
    pub version: Version,
    /// Collected diagnostics.
    pub diags: Vec<Diagnostic>,
    seen: rustc_hash::FxHashSet<(FileId, String, usize)>,
    regexes: std::collections::HashMap<&'static str, Regex>,
    /// Referenced nodes still to check, with the shape expected there.
    pending: Vec<(FileId, String, &'static Shape)>,
    /// How many trial checkers this one is nested in.
    depth: usize,
    /// Nested `check` calls on the stack, counted across trial checkers.
    level: usize,
}

/// Trial checkers nest at most this deep (each level may try every alternative again).
const MAX_TRIAL_DEPTH: usize = 64;

/// Alternatives are only tried while fewer `check` calls than this are on the stack; deeper,
/// the first alternative that fits the value's type is checked directly. A trial walks one
/// file's nesting (bounded by the loader) before the next trial can start, so this bounds the
/// recursion of nested trials.
const MAX_TRIAL_LEVEL: usize = 512;

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// What the shape expects, for messages.
fn expected(shape: &Shape) -> String {
    match shape {
        Shape::Any | Shape::Custom(_) => "anything".into(),
        Shape::Str { .. } => "a string".into(),
        Shape::Bool => "a boolean".into(),
        Shape::Int { .. } => "an integer".into(),
        Shape::Num { .. } => "a number".into(),
        Shape::Enum(_) => "a string".into(),
        Shape::Values(_) => "one of the listed values".into(),
        Shape::Object(o) => format!("an object ({})", o.name),
        Shape::Map(_) => "an object".into(),
        Shape::Array { .. } => "an array".into(),
        Shape::RefOr(inner) => expected(inner),
        Shape::AnyOf(alts) => {
            let mut names: Vec<String> = alts.iter().map(|a| expected(a)).collect();
            names.dedup();
            names.join(" or ")
        }
        Shape::Tagged { name, .. } => format!("an object ({name})"),
    }
}

/// Whether a value's JSON type can match the shape at all (used to pick among alternatives).
fn type_fits(shape: &Shape, v: &Value) -> bool {
    match shape {
        Shape::Any | Shape::Custom(_) => true,
        Shape::Str { .. } | Shape::Enum(_) => v.is_string(),
        Shape::Bool => v.is_boolean(),
        Shape::Int { .. } => is_integer(v),
        Shape::Num { .. } => v.is_number(),
        Shape::Values(vals) => vals
            .iter()
            .any(|t| serde_json::from_str::<Value>(t).is_ok_and(|x| json_eq(&x, v))),
        Shape::Object(_) | Shape::Map(_) | Shape::Tagged { .. } => v.is_object(),
        Shape::Array { .. } => v.is_array(),
        Shape::RefOr(inner) => is_ref(v) || type_fits(inner, v),
        Shape::AnyOf(alts) => alts.iter().any(|a| type_fits(a, v)),
    }
}

/// Whether a value is a JSON integer (a float with no fraction counts, as in JSON Schema).
pub fn is_integer(v: &Value) -> bool {
    match v {
        Value::Number(n) => {
            n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => false,
    }
}

/// JSON equality where `1` equals `1.0`.
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// Whether an object is a Reference Object.
pub fn is_ref(v: &Value) -> bool {
    v.get("$ref").is_some_and(Value::is_string)
}

/// Edit distance, for "did you mean" help.
pub fn similar<'s>(word: &str, candidates: impl IntoIterator<Item = &'s str>) -> Option<&'s str> {
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = levenshtein(&word.to_ascii_lowercase(), &c.to_ascii_lowercase());
        let limit = (c.len().max(word.len()) / 3).max(1);
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// How messages name the node at `ptr`: "`field`", or "item 2 of `list`".
pub fn field_label(ptr: &str) -> String {
    match pointer::last(ptr) {
        Some(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            match pointer::parent(ptr).and_then(pointer::last) {
                Some(list) if !list.is_empty() => format!("item {s} of `{list}`"),
                _ => format!("item {s}"),
            }
        }
        Some(s) if !s.is_empty() => format!("`{s}`"),
        _ => "the document".into(),
    }
}

impl<'a> Checker<'a> {
    /// A checker for a document of the given version.
    pub fn new(ws: &'a Workspace, version: Version) -> Self {
        Checker {
            ws,
            version,
            diags: Vec::new(),
            seen: rustc_hash::FxHashSet::default(),
            regexes: Default::default(),
            pending: Vec::new(),
            depth: 0,
            level: 0,
        }
    }

    /// A checker for trying a shape on the side (its diagnostics are kept or dropped by the
    /// caller); it starts with nothing seen, one trial level deeper than `self`.
    pub fn trial(&self) -> Checker<'a> {
        let mut t = Checker::new(self.ws, self.version);
        t.depth = self.depth + 1;
        t.level = self.level;
        t
    }

    /// Checks the node at `at` against `shape`, then every node reached through references
    /// from it, iteratively.
    pub fn run(&mut self, at: Loc<'_>, shape: &'static Shape) {
        self.check(at, shape);
        while let Some((file, ptr, shape)) = self.pending.pop() {
            let Some(value) = self.ws.get(file, &ptr) else {
                continue;
            };
            self.check(
                Loc {
                    file,
                    ptr: &ptr,
                    value,
                },
                shape,
            );
        }
    }

    /// Reports an error at a node's value.
    pub fn error(&mut self, code: &'static str, at: Loc<'_>, message: String) {
        let loc = self.ws.location(at.file, at.ptr);
        self.diags.push(Diagnostic::error(code, message).at(loc));
    }

    /// Reports an error at a node's key (falls back to the value).
    pub fn error_at_key(
        &mut self,
        code: &'static str,
        at: Loc<'_>,
        message: String,
    ) -> &mut Diagnostic {
        let loc = self.ws.key_location(at.file, at.ptr);
        self.diags.push(Diagnostic::error(code, message).at(loc));
        self.diags.last_mut().expect("just pushed")
    }

    fn regex(&mut self, pattern: &'static str) -> Option<&Regex> {
        if !self.regexes.contains_key(pattern) {
            let re = Regex::new(pattern).ok()?;
            self.regexes.insert(pattern, re);
        }
        self.regexes.get(pattern)
    }

    /// Checks the node at `at` against `shape`; nodes behind references are queued for
    /// [`Checker::run`].
    pub fn check(&mut self, at: Loc<'_>, shape: &'static Shape) {
        self.level += 1;
        self.check_node(at, shape);
        self.level -= 1;
    }

    fn check_node(&mut self, at: Loc<'_>, shape: &'static Shape) {
        match shape {
            Shape::Any => {}
            Shape::Custom(f) => f(self, at),
            Shape::Str { format, pattern } => {
                let Some(s) = at.value.as_str() else {
                    return self.type_error(at, shape);
                };
                if let Some(f) = format
                    && let Err(why) = formats::check(*f, s)
                {
                    self.error(codes::FORMAT, at, format!("{} {why}", field_label(at.ptr)));
                }
                if let Some(p) = pattern {
                    let ok = self.regex(p).is_none_or(|re| re.is_match(s));
                    if !ok {
                        self.error(
                            codes::FORMAT,
                            at,
                            format!(
                                "{} `{s}` does not match the pattern `{p}`",
                                field_label(at.ptr)
                            ),
                        );
                    }
                }
            }
            Shape::Bool => {
                if !at.value.is_boolean() {
                    self.type_error(at, shape)
                }
            }
            Shape::Int { min, max } => {
                if !is_integer(at.value) {
                    return self.type_error(at, shape);
                }
                let n = at.value.as_f64().unwrap_or(0.0);
                if min.is_some_and(|m| n < m as f64) || max.is_some_and(|m| n > m as f64) {
                    let range = match (min, max) {
                        (Some(a), Some(b)) => format!("between {a} and {b}"),
                        (Some(a), None) => format!("at least {a}"),
                        (None, Some(b)) => format!("at most {b}"),
                        _ => String::new(),
                    };
                    self.error(
                        codes::RANGE,
                        at,
                        format!("{} must be {range}, found {n}", field_label(at.ptr)),
                    );
                }
            }
            Shape::Num { min } => {
                if !at.value.is_number() {
                    return self.type_error(at, shape);
                }
                let n = at.value.as_f64().unwrap_or(0.0);
                if min.is_some_and(|m| n < m) {
                    self.error(
                        codes::RANGE,
                        at,
                        format!(
                            "{} must be at least {}, found {n}",
                            field_label(at.ptr),
                            min.unwrap_or_default()
                        ),
                    );
                }
            }
            Shape::Enum(allowed) => {
                let Some(s) = at.value.as_str() else {
                    return self.type_error(at, shape);
                };
                if !allowed.contains(&s) {
                    let list = allowed
                        .iter()
                        .map(|a| format!("`{a}`"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let hint = similar(s, allowed.iter().copied());
                    let loc = self.ws.location(at.file, at.ptr);
                    let mut d = Diagnostic::error(
                        codes::ENUM,
                        format!("{} must be one of {list}; found `{s}`", field_label(at.ptr)),
                    )
                    .at(loc);
                    if let Some(h) = hint {
                        d = d.with_help(format!("did you mean `{h}`?"));
                    }
                    self.diags.push(d);
                }
            }
            Shape::Values(vals) => {
                if !type_fits(shape, at.value) {
                    self.error(
                        codes::ENUM,
                        at,
                        format!(
                            "{} must be one of {}; found {}",
                            field_label(at.ptr),
                            vals.join(", "),
                            at.value
                        ),
                    );
                }
            }
            Shape::Object(obj) => self.check_object(at, obj),
            Shape::Map(m) => self.check_map(at, m),
            Shape::Array {
                items,
                min_items,
                unique,
            } => {
                let Some(arr) = at.value.as_array() else {
                    return self.type_error(at, shape);
                };
                if arr.len() < *min_items {
                    self.error(
                        codes::RANGE,
                        at,
                        format!(
                            "{} must have at least {min_items} item{}",
                            field_label(at.ptr),
                            if *min_items == 1 { "" } else { "s" }
                        ),
                    );
                }
                if *unique {
                    for (i, a) in arr.iter().enumerate() {
                        if arr[..i].iter().any(|b| json_eq(a, b)) {
                            let p = format!("{}/{i}", at.ptr);
                            self.error(
                                codes::RANGE,
                                Loc {
                                    file: at.file,
                                    ptr: &p,
                                    value: a,
                                },
                                format!(
                                    "{} items must be unique; this one repeats an earlier item",
                                    field_label(at.ptr)
                                ),
                            );
                        }
                    }
                }
                for (i, item) in arr.iter().enumerate() {
                    let p = format!("{}/{i}", at.ptr);
                    self.check(
                        Loc {
                            file: at.file,
                            ptr: &p,
                            value: item,
                        },
                        items,
                    );
                }
            }
            Shape::RefOr(inner) => {
                // A non-string `$ref` does not make a Reference Object.
                if is_ref(at.value) {
                    self.check_ref(at, inner);
                } else {
                    self.check(at, inner);
                }
            }
            Shape::AnyOf(alts) => self.check_any_of(at, shape, alts),
            Shape::Tagged {
                field,
                variants,
                name,
            } => {
                let Some(obj) = at.value.as_object() else {
                    return self.type_error(at, shape);
                };
                if is_ref(at.value) {
                    let p = pointer::join(at.ptr, "$ref");
                    self.error_at_key(
                        codes::REF_NOT_ALLOWED,
                        Loc {
                            file: at.file,
                            ptr: &p,
                            value: at.value,
                        },
                        format!(
                            "{} cannot be a `$ref`: the specification allows no Reference Object here; write the {name} inline",
                            field_label(at.ptr)
                        ),
                    );
                    return;
                }
                let Some(tag) = obj.get(*field) else {
                    let d = self.error_at_key(
                        codes::REQUIRED,
                        at,
                        format!("{name} is missing required field `{field}`"),
                    );
                    let _ = d;
                    return;
                };
                let found = tag
                    .as_str()
                    .and_then(|t| variants.iter().find(|(v, _)| *v == t));
                match found {
                    Some((_, s)) => self.check(at, s),
                    None => {
                        let p = pointer::join(at.ptr, field);
                        let list = variants
                            .iter()
                            .map(|(v, _)| format!("`{v}`"))
                            .collect::<Vec<_>>()
                            .join(", ");
                        let hint = tag
                            .as_str()
                            .and_then(|t| similar(t, variants.iter().map(|(v, _)| *v)));
                        let loc = self.ws.location(at.file, &p);
                        let mut d = Diagnostic::error(
                            codes::ENUM,
                            format!("`{field}` of {name} must be one of {list}; found {tag}"),
                        )
                        .at(loc);
                        if let Some(h) = hint {
                            d = d.with_help(format!("did you mean `{h}`?"));
                        }
                        self.diags.push(d);
                    }
                }
            }
        }
    }

    fn type_error(&mut self, at: Loc<'_>, shape: &Shape) {
        if is_ref(at.value) {
            self.error(
                codes::REF_NOT_ALLOWED,
                at,
                format!(
                    "{} cannot be a `$ref`: the specification allows no Reference Object here",
                    field_label(at.ptr)
                ),
            );
            return;
        }
        self.error(
            codes::TYPE,
            at,
            format!(
                "{} must be {}, found {}",
                field_label(at.ptr),
                expected(shape),
                type_name(at.value)
            ),
        );
    }

    /// Follows the Reference Object at `at`: its target is queued to be checked against `inner`
    /// (once per target and shape) by [`Checker::run`]. Unresolved references are left to the
    /// workspace's diagnostics.
    pub fn check_ref(&mut self, at: Loc<'_>, inner: &'static Shape) {
        let ref_ptr = pointer::join(at.ptr, "$ref");
        let Some(r) = at.value.get("$ref") else {
            return;
        };
        let Some(r) = r.as_str() else {
            return self.type_error(
                Loc {
                    file: at.file,
                    ptr: &ref_ptr,
                    value: r,
                },
                &s::STR,
            );
        };
        if let Err(why) = formats::check(Format::UriReference, r) {
            self.error(
                codes::FORMAT,
                Loc {
                    file: at.file,
                    ptr: &ref_ptr,
                    value: &Value::Null,
                },
                format!("`$ref` {why}"),
            );
            return;
        }
        // Unresolved references are reported once by the workspace.
        let Some(target) = self.ws.ref_target(at.file, at.ptr) else {
            return;
        };
        self.pending
            .push((target.file, target.pointer.clone(), inner));
    }

    fn check_any_of(
        &mut self,
        at: Loc<'_>,
        shape: &'static Shape,
        alts: &'static [&'static Shape],
    ) {
        let fitting: Vec<&'static Shape> = alts
            .iter()
            .copied()
            .filter(|a| type_fits(a, at.value))
            .collect();
        match fitting.len() {
            0 => self.type_error(at, shape),
            1 => self.check(at, fitting[0]),
            _ => {
                // Several alternatives accept this JSON type: the value must satisfy one.
                if self.depth > MAX_TRIAL_DEPTH || self.level > MAX_TRIAL_LEVEL {
                    return self.check(at, fitting[0]);
                }
                let mut best: Option<Vec<Diagnostic>> = None;
                for alt in &fitting {
                    let mut trial = self.trial();
                    trial.run(at, alt);
                    let errors = trial.diags.iter().filter(|d| d.is_error()).count();
                    if errors == 0 {
                        self.diags.extend(trial.diags);
                        return;
                    }
                    if best.as_ref().is_none_or(|b| errors < b.len()) {
                        best = Some(trial.diags);
                    }
                }
                if let Some(b) = best {
                    self.diags.extend(b);
                }
            }
        }
    }

    fn mark_seen(&mut self, at: Loc<'_>, key: usize) -> bool {
        self.seen.insert((at.file, at.ptr.to_owned(), key))
    }

    fn check_object(&mut self, at: Loc<'_>, obj: &'static Obj) {
        let Some(map) = at.value.as_object() else {
            return self.type_error(at, &Shape::Object(obj));
        };
        if !self.mark_seen(at, obj as *const Obj as usize) {
            return;
        }
        let v = self.version;
        if is_ref(at.value)
            && obj.additional.is_none()
            && !obj.fields.iter().any(|f| f.name == "$ref")
        {
            let p = pointer::join(at.ptr, "$ref");
            self.error_at_key(
                codes::REF_NOT_ALLOWED,
                Loc {
                    file: at.file,
                    ptr: &p,
                    value: at.value,
                },
                format!(
                    "{} cannot be a `$ref`: the specification allows no Reference Object here; write the {} inline",
                    field_label(at.ptr),
                    obj.name
                ),
            );
            return;
        }
        for req in obj.required {
            let mut named = obj.fields.iter().filter(|f| f.name == *req).peekable();
            let applies = named.peek().is_none() || named.any(|f| f.since <= v && v <= f.until);
            if applies && !map.contains_key(*req) {
                self.error_at_key(
                    codes::REQUIRED,
                    at,
                    format!("{} is missing required field `{req}`", obj.name),
                );
            }
        }
        for (k, val) in map {
            let p = pointer::join(at.ptr, k);
            let child = Loc {
                file: at.file,
                ptr: &p,
                value: val,
            };
            // A field may be listed several times with different shapes per version range.
            let current = obj
                .fields
                .iter()
                .find(|f| f.name == k && f.since <= v && v <= f.until);
            if let Some(f) = current {
                self.check(child, f.shape);
                continue;
            }
            if let Some(f) = obj.fields.iter().find(|f| f.name == k)
                && obj.additional.is_none()
                && !(obj.extensions && is_extension(k))
            {
                let when = if v < f.since {
                    format!("it was added in AsyncAPI {}", f.since)
                } else {
                    format!("it was removed after AsyncAPI {}", f.until)
                };
                self.error_at_key(
                    codes::UNKNOWN_FIELD,
                    child,
                    format!(
                        "`{k}` is not a field of {} in AsyncAPI {v}: {when}",
                        obj.name
                    ),
                );
                continue;
            }
            if obj.extensions && is_extension(k) {
                continue;
            }
            match obj.additional {
                Some(shape) => self.check(child, shape),
                None => {
                    let names = obj
                        .fields
                        .iter()
                        .filter(|f| f.since <= v && v <= f.until)
                        .map(|f| f.name);
                    let hint = similar(k, names);
                    let msg = format!("unknown field `{k}` in {}", obj.name);
                    let d = self.error_at_key(codes::UNKNOWN_FIELD, child, msg);
                    if let Some(h) = hint {
                        d.help = Some(format!("did you mean `{h}`?"));
                    } else if obj.extensions {
                        d.help = Some("custom fields must start with `x-`".into());
                    }
                }
            }
        }
        for check in obj.checks {
            check(self, at);
        }
    }

    fn check_map(&mut self, at: Loc<'_>, m: &'static MapShape) {
        let Some(map) = at.value.as_object() else {
            return self.type_error(at, &Shape::Map(m));
        };
        if !self.mark_seen(at, m as *const MapShape as usize) {
            return;
        }
        if is_ref(at.value) && !type_fits(m.values, &Value::String(String::new())) {
            let p = pointer::join(at.ptr, "$ref");
            self.error_at_key(
                codes::REF_NOT_ALLOWED,
                Loc {
                    file: at.file,
                    ptr: &p,
                    value: at.value,
                },
                format!(
                    "{} cannot be a `$ref`: the specification allows no Reference Object here; write the {} inline",
                    field_label(at.ptr),
                    m.name
                ),
            );
            return;
        }
        if is_ref(at.value) {
            // A map of strings with a `$ref` entry reads as a map, but every resolver replaces
            // it with the referenced node: that node must be such a map too.
            if let Some(t) = self.ws.ref_target(at.file, at.ptr).cloned()
                && let Some(value) = self.ws.get(t.file, &t.pointer)
            {
                self.check_map(
                    Loc {
                        file: t.file,
                        ptr: &t.pointer,
                        value,
                    },
                    m,
                );
            }
            return;
        }
        for (k, val) in map {
            let p = pointer::join(at.ptr, k);
            let child = Loc {
                file: at.file,
                ptr: &p,
                value: val,
            };
            if m.extensions && is_extension(k) {
                continue;
            }
            if let Keys::Pattern(pat) = m.keys {
                let ok = self.regex(pat).is_none_or(|re| re.is_match(k));
                if !ok {
                    self.error_at_key(
                        codes::FORMAT,
                        child,
                        format!("key `{k}` in {} does not match the pattern `{pat}`", m.name),
                    );
                    continue;
                }
            }
            self.check(child, m.values);
        }
    }
}

/// Whether a key is a specification extension (`x-…`).
pub fn is_extension(k: &str) -> bool {
    k.starts_with("x-") && k.len() > 2
}

/// Runs structural validation of a loaded document.
pub fn validate(ws: &Workspace, version: Version) -> Vec<Diagnostic> {
    let Some(root) = ws.root() else {
        return Vec::new();
    };
    let mut c = Checker::new(ws, version);
    let shape = if version.is_v2() {
        &v2::DOCUMENT
    } else {
        &v3::DOCUMENT
    };
    c.run(
        Loc {
            file: root.file,
            ptr: "",
            value: root.value,
        },
        shape,
    );
    c.diags
}
