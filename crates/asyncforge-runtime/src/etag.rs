//! Entity tags and conditional requests (RFC 9110 §8.8.3 and §13): parsing `ETag`, `If-Match`
//! and `If-None-Match`, strong and weak comparison, and the order in which preconditions are
//! evaluated — the logic behind optimistic locking (`If-Match` → 412) and polling
//! (`If-None-Match` → 304).

use std::fmt;

/// An entity tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EntityTag {
    /// `W/` prefix.
    pub weak: bool,
    /// The opaque tag, without quotes.
    pub tag: String,
}

impl EntityTag {
    /// A strong tag.
    pub fn strong(tag: impl Into<String>) -> Self {
        EntityTag {
            weak: false,
            tag: tag.into(),
        }
    }

    /// A weak tag.
    pub fn weak(tag: impl Into<String>) -> Self {
        EntityTag {
            weak: true,
            tag: tag.into(),
        }
    }

    /// Parses one entity tag (`"abc"` or `W/"abc"`).
    pub fn parse(s: &str) -> Option<EntityTag> {
        let s = s.trim();
        let (weak, rest) = match s.strip_prefix("W/") {
            Some(r) => (true, r),
            None => (false, s),
        };
        let inner = rest.strip_prefix('"')?.strip_suffix('"')?;
        if !inner.bytes().all(etagc) {
            return None;
        }
        Some(EntityTag {
            weak,
            tag: inner.to_owned(),
        })
    }

    /// Strong comparison: both strong and equal.
    pub fn strong_eq(&self, other: &EntityTag) -> bool {
        !self.weak && !other.weak && self.tag == other.tag
    }

    /// Weak comparison: equal tags, weakness ignored.
    pub fn weak_eq(&self, other: &EntityTag) -> bool {
        self.tag == other.tag
    }
}

impl fmt::Display for EntityTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.weak {
            f.write_str("W/")?;
        }
        write!(f, "\"{}\"", self.tag)
    }
}

/// `etagc = %x21 / %x23-7E / obs-text`
fn etagc(b: u8) -> bool {
    b == 0x21 || (0x23..=0x7E).contains(&b) || b >= 0x80
}

/// The value of `If-Match` or `If-None-Match`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `*`: any current representation.
    Any,
    /// A list of tags.
    Tags(Vec<EntityTag>),
}

impl Condition {
    /// Parses a header value; `None` when it is malformed (a server should then answer 400).
    pub fn parse(value: &str) -> Option<Condition> {
        let v = value.trim();
        if v == "*" {
            return Some(Condition::Any);
        }
        let mut tags = Vec::new();
        let mut rest = v;
        loop {
            rest = rest.trim_start_matches([' ', '\t', ',']);
            if rest.is_empty() {
                break;
            }
            let weak = rest.starts_with("W/");
            let body = if weak { &rest[2..] } else { rest };
            let after_quote = body.strip_prefix('"')?;
            let end = after_quote.find('"')?;
            tags.push(EntityTag::parse(
                &rest[..(if weak { 2 } else { 0 }) + 1 + end + 1],
            )?);
            rest = &after_quote[end + 1..];
            let next = rest.trim_start_matches([' ', '\t']);
            if !next.is_empty() && !next.starts_with(',') {
                return None;
            }
        }
        (!tags.is_empty()).then_some(Condition::Tags(tags))
    }
}

/// The outcome of evaluating preconditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Perform the request.
    Proceed,
    /// `304 Not Modified` (GET/HEAD whose `If-None-Match` matched).
    NotModified,
    /// `412 Precondition Failed`.
    Failed,
}

/// Evaluates `If-Match` then `If-None-Match` against the current representation's tag
/// (`None` when the resource does not exist), in the order RFC 9110 §13.2.2 prescribes.
pub(crate) fn evaluate(
    safe_method: bool,
    current: Option<&EntityTag>,
    if_match: Option<&Condition>,
    if_none_match: Option<&Condition>,
) -> Outcome {
    if let Some(cond) = if_match {
        let ok = match (cond, current) {
            (Condition::Any, Some(_)) => true,
            (Condition::Any, None) => false,
            (Condition::Tags(tags), Some(cur)) => tags.iter().any(|t| t.strong_eq(cur)),
            (Condition::Tags(_), None) => false,
        };
        if !ok {
            return Outcome::Failed;
        }
    }
    if let Some(cond) = if_none_match {
        let matched = match (cond, current) {
            (Condition::Any, Some(_)) => true,
            (Condition::Any, None) => false,
            (Condition::Tags(tags), Some(cur)) => tags.iter().any(|t| t.weak_eq(cur)),
            (Condition::Tags(_), None) => false,
        };
        if matched {
            return if safe_method {
                Outcome::NotModified
            } else {
                Outcome::Failed
            };
        }
    }
    Outcome::Proceed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display() {
        assert_eq!(
            EntityTag::parse("\"xyzzy\""),
            Some(EntityTag::strong("xyzzy"))
        );
        assert_eq!(
            EntityTag::parse("W/\"xyzzy\""),
            Some(EntityTag::weak("xyzzy"))
        );
        assert_eq!(EntityTag::parse("xyzzy"), None);
        assert_eq!(EntityTag::parse("\"a\"b\""), None);
        assert_eq!(EntityTag::weak("v1").to_string(), "W/\"v1\"");
        assert_eq!(
            Condition::parse("\"a,b\", W/\"c\" ,\"d\""),
            Some(Condition::Tags(vec![
                EntityTag::strong("a,b"),
                EntityTag::weak("c"),
                EntityTag::strong("d")
            ]))
        );
        assert_eq!(Condition::parse("*"), Some(Condition::Any));
        assert_eq!(Condition::parse("\"a\" junk"), None);
        assert_eq!(Condition::parse(""), None);
    }

    /// The comparison table of RFC 9110 §8.8.3.2.
    #[test]
    fn strong_and_weak_comparison() {
        let cases = [
            ("W/\"1\"", "W/\"1\"", false, true),
            ("W/\"1\"", "W/\"2\"", false, false),
            ("W/\"1\"", "\"1\"", false, true),
            ("\"1\"", "\"1\"", true, true),
        ];
        for (a, b, strong, weak) in cases {
            let (a, b) = (
                EntityTag::parse(a).expect("a"),
                EntityTag::parse(b).expect("b"),
            );
            assert_eq!(a.strong_eq(&b), strong, "{a} {b}");
            assert_eq!(a.weak_eq(&b), weak, "{a} {b}");
        }
    }

    #[test]
    fn preconditions() {
        let cur = EntityTag::strong("v2");
        let c = |s: &str| Condition::parse(s).expect("condition");
        // Optimistic locking.
        assert_eq!(
            evaluate(false, Some(&cur), Some(&c("\"v2\"")), None),
            Outcome::Proceed
        );
        assert_eq!(
            evaluate(false, Some(&cur), Some(&c("\"v1\"")), None),
            Outcome::Failed
        );
        assert_eq!(
            evaluate(false, Some(&cur), Some(&c("W/\"v2\"")), None),
            Outcome::Failed,
            "If-Match compares strongly"
        );
        assert_eq!(
            evaluate(false, Some(&cur), Some(&c("*")), None),
            Outcome::Proceed
        );
        assert_eq!(evaluate(false, None, Some(&c("*")), None), Outcome::Failed);
        // Conditional GET / polling.
        assert_eq!(
            evaluate(true, Some(&cur), None, Some(&c("W/\"v2\""))),
            Outcome::NotModified
        );
        assert_eq!(
            evaluate(true, Some(&cur), None, Some(&c("\"v1\""))),
            Outcome::Proceed
        );
        // Create-only: If-None-Match: * on an unsafe method.
        assert_eq!(
            evaluate(false, Some(&cur), None, Some(&c("*"))),
            Outcome::Failed
        );
        assert_eq!(evaluate(false, None, None, Some(&c("*"))), Outcome::Proceed);
    }
}
