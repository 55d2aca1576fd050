//! JSON pointers (RFC 6901) as used in `$ref` fragments.

use percent_encoding::percent_decode_str;

/// Splits a JSON pointer into unescaped segments. `""` is the root. Returns `None` when the
/// pointer does not start with `/` or contains a bad escape.
pub fn parse(pointer: &str) -> Option<Vec<String>> {
    if pointer.is_empty() {
        return Some(Vec::new());
    }
    let rest = pointer.strip_prefix('/')?;
    rest.split('/').map(unescape).collect()
}

/// Unescapes one segment: `~1` → `/`, `~0` → `~`.
pub fn unescape(segment: &str) -> Option<String> {
    if !segment.contains('~') {
        return Some(segment.to_owned());
    }
    let mut out = String::with_capacity(segment.len());
    let mut chars = segment.chars();
    while let Some(c) = chars.next() {
        if c == '~' {
            match chars.next() {
                Some('0') => out.push('~'),
                Some('1') => out.push('/'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// The value at `pointer` below `root`, exactly as `serde_json::Value::pointer` finds it, but
/// without allocating for segments that have no escape (the common case, and a hot path: every
/// `$ref` resolution and structure check goes through it).
pub fn lookup<'a>(root: &'a serde_json::Value, pointer: &str) -> Option<&'a serde_json::Value> {
    use serde_json::Value;
    if pointer.is_empty() {
        return Some(root);
    }
    let mut at = root;
    for raw in pointer.strip_prefix('/')?.split('/') {
        let token: std::borrow::Cow<'_, str> = if raw.contains('~') {
            raw.replace("~1", "/").replace("~0", "~").into()
        } else {
            raw.into()
        };
        at = match at {
            Value::Object(map) => map.get(token.as_ref())?,
            Value::Array(items) => {
                if token.starts_with('+') || (token.starts_with('0') && token.len() != 1) {
                    return None;
                }
                items.get(token.parse::<usize>().ok()?)?
            }
            _ => return None,
        };
    }
    Some(at)
}

/// Escapes one segment for use in a pointer.
pub fn escape(segment: &str) -> String {
    if !segment.contains(['~', '/']) {
        return segment.to_owned();
    }
    segment.replace('~', "~0").replace('/', "~1")
}

/// Appends an escaped segment to a pointer.
pub fn join(pointer: &str, segment: &str) -> String {
    let mut p = String::with_capacity(pointer.len() + segment.len() + 1);
    p.push_str(pointer);
    crate::load::push_segment(&mut p, segment);
    p
}

/// Decodes the fragment of a URI reference (percent-decoding) into a JSON pointer.
pub fn from_fragment(fragment: &str) -> Option<String> {
    percent_decode_str(fragment)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// The last segment of a pointer, unescaped.
pub fn last(pointer: &str) -> Option<String> {
    let i = pointer.rfind('/')?;
    unescape(&pointer[i + 1..])
}

/// The parent of a pointer (`None` for the root).
pub fn parent(pointer: &str) -> Option<&str> {
    pointer.rfind('/').map(|i| &pointer[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_round_trip() {
        assert_eq!(parse("/a~1b/c~0d").unwrap(), vec!["a/b", "c~d"]);
        assert_eq!(escape("a/b~"), "a~1b~0");
        assert!(parse("a").is_none());
        assert!(parse("/a~2").is_none());
        assert_eq!(
            from_fragment("/channels/user%7Bid%7D").unwrap(),
            "/channels/user{id}"
        );
    }

    #[test]
    fn lookup_agrees_with_serde_json() {
        let doc = serde_json::json!({
            "a/b": {"c~d": [10, 20, {"": "empty key"}]},
            "x": {"~01": 1, "~1": 2, "0": "zero", "list": [1, 2]},
        });
        for p in [
            "",
            "/",
            "/a~1b",
            "/a~1b/c~0d",
            "/a~1b/c~0d/1",
            "/a~1b/c~0d/2/",
            "/x/~001",
            "/x/~01",
            "/x/0",
            "/x/list/01",
            "/x/list/+1",
            "/x/list/1",
            "/x/list/2",
            "/x/list/-1",
            "/x/~2",
            "x",
            "/missing/deeper",
            "/x/list/1/deeper",
        ] {
            assert_eq!(lookup(&doc, p), doc.pointer(p), "{p}");
        }
    }
}
