//! Rust names from spec names: casing, keywords, leading digits, collisions.

use std::collections::HashSet;

use heck::{ToSnakeCase, ToUpperCamelCase};

const KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for",
    "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
    "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where",
    "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
];

/// Keywords that cannot be raw identifiers.
const NOT_RAW: &[&str] = &["self", "Self", "super", "crate", "_"];

/// Names the generated modules import or use; generated types never take them.
pub const RESERVED: &[&str] = &[
    "Value",
    "Map",
    "BTreeMap",
    "Option",
    "Some",
    "None",
    "Vec",
    "String",
    "Box",
    "Result",
    "Ok",
    "Err",
    "DateTime",
    "Date",
    "Uuid",
    "Message",
    "Codec",
    "CodecError",
    "Serialize",
    "Deserialize",
    "Self",
    "Clone",
    "Debug",
    "PartialEq",
    "Eq",
    "Hash",
    "Copy",
    "Default",
];

/// Keeps ASCII letters, digits and underscores; everything else separates words.
fn words(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { ' ' })
        .collect::<String>()
}

/// Makes a valid identifier from a cased candidate: keywords become raw identifiers (or get a
/// `_` suffix when they cannot be raw), a leading digit gets a `_` prefix, empty becomes
/// `fallback`.
pub fn sanitize(candidate: String, fallback: &str) -> String {
    let mut s = candidate;
    if s.is_empty() {
        s = fallback.to_owned();
    }
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    if NOT_RAW.contains(&s.as_str()) {
        s.push('_');
    } else if KEYWORDS.contains(&s.as_str()) {
        s.insert_str(0, "r#");
    }
    s
}

/// A type name (`UpperCamelCase`).
pub fn type_name(s: &str) -> String {
    let camel = words(s).to_upper_camel_case();
    let out = sanitize(camel, "Type");
    // Type names never need to be raw: `r#Type` is legal but unidiomatic; `Self` is handled.
    out.strip_prefix("r#")
        .map(|t| format!("{t}_"))
        .unwrap_or(out)
}

/// A constant or static name (`SCREAMING_SNAKE_CASE`), for names that may be empty or start
/// with a digit once cased (`_1` cases to `1`).
pub fn const_name(s: &str) -> String {
    sanitize(heck::ToShoutySnakeCase::to_shouty_snake_case(s), "ITEM")
}

/// A field, function or module name (`snake_case`).
pub fn field_name(s: &str) -> String {
    sanitize(words(s).to_snake_case(), "field")
}

/// An enum variant name (`UpperCamelCase`), for values such as `in-progress` or `2xx`.
pub fn variant_name(s: &str) -> String {
    let w = words(s);
    if w.trim().is_empty() {
        return if s.is_empty() {
            "Empty".into()
        } else {
            "Other".into()
        };
    }
    type_name(s)
}

/// A set of names that hands out unique ones deterministically (`Name`, `Name2`, `Name3`, …).
#[derive(Debug, Default, Clone)]
pub struct NameSet {
    used: HashSet<String>,
}

impl NameSet {
    /// Reserves names that must not be handed out.
    pub fn reserve(&mut self, names: &[&str]) {
        self.used.extend(names.iter().map(|n| (*n).to_owned()));
    }

    /// A unique name based on `base`.
    pub fn unique(&mut self, base: &str) -> String {
        let raw = base.strip_prefix("r#").unwrap_or(base);
        if self.used.insert(raw.to_owned()) {
            return base.to_owned();
        }
        for n in 2.. {
            let cand = format!("{raw}{n}");
            if self.used.insert(cand.clone()) {
                return cand;
            }
        }
        unreachable!("the counter is unbounded")
    }

    /// A unique snake_case name based on `base` (suffix `_2`, `_3`, …).
    pub fn unique_field(&mut self, base: &str) -> String {
        let raw = base.strip_prefix("r#").unwrap_or(base);
        if self.used.insert(raw.to_owned()) {
            return base.to_owned();
        }
        for n in 2.. {
            let cand = format!("{}_{n}", raw.trim_end_matches('_'));
            if self.used.insert(cand.clone()) {
                return cand;
            }
        }
        unreachable!("the counter is unbounded")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_names_are_identifiers_whatever_the_name() {
        assert_eq!(const_name("sendCommand"), "SEND_COMMAND");
        assert_eq!(const_name("_1"), "_1");
        assert_eq!(const_name("2xx status"), "_2XX_STATUS");
        assert_eq!(const_name("-"), "ITEM");
    }

    #[test]
    fn names() {
        assert_eq!(field_name("type"), "r#type");
        assert_eq!(field_name("self"), "self_");
        assert_eq!(field_name("userId"), "user_id");
        assert_eq!(field_name("2fa"), "_2fa");
        assert_eq!(field_name("X-SIGNATURE"), "x_signature");
        assert_eq!(field_name("$ref"), "r#ref");
        assert_eq!(type_name("light measured"), "LightMeasured");
        assert_eq!(type_name("self"), "Self_");
        assert_eq!(type_name("type"), "Type");
        assert_eq!(type_name("123abc"), "_123abc");
        assert_eq!(variant_name("in-progress"), "InProgress");
        assert_eq!(variant_name(""), "Empty");
        assert_eq!(variant_name("+"), "Other");
        let mut set = NameSet::default();
        assert_eq!(set.unique("Foo"), "Foo");
        assert_eq!(set.unique("Foo"), "Foo2");
        assert_eq!(set.unique_field("a"), "a");
        assert_eq!(set.unique_field("a"), "a_2");
    }
}
