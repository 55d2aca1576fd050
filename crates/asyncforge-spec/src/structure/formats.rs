//! String formats used by the structure tables.

use super::Format;

/// Checks a string against a format; the error completes the sentence "`field` …".
pub fn check(format: Format, s: &str) -> Result<(), String> {
    match format {
        Format::Uri => {
            if has_scheme(s) && uri_chars_ok(s) {
                Ok(())
            } else {
                Err(format!(
                    "must be an absolute URI (with a scheme such as `https:`); found `{s}`"
                ))
            }
        }
        Format::UriReference => {
            if uri_chars_ok(s) {
                Ok(())
            } else {
                Err(format!(
                    "must be a URI reference; `{s}` contains characters that must be percent-encoded"
                ))
            }
        }
        Format::Email => {
            let ok = s.split_once('@').is_some_and(|(l, d)| {
                !l.is_empty()
                    && !d.is_empty()
                    && !d.contains('@')
                    && !s.contains(char::is_whitespace)
            });
            if ok {
                Ok(())
            } else {
                Err(format!("must be an e-mail address; found `{s}`"))
            }
        }
        Format::Regex => {
            // ECMA-262 regexes; the `regex` crate lacks look-around, so only reject what no
            // dialect accepts: unbalanced groups or classes.
            if balanced(s) {
                Ok(())
            } else {
                Err(format!("must be a regular expression; `{s}` is not"))
            }
        }
    }
}

fn has_scheme(s: &str) -> bool {
    let Some(i) = s.find(':') else { return false };
    let scheme = &s[..i];
    let mut c = scheme.chars();
    c.next().is_some_and(|f| f.is_ascii_alphabetic())
        && c.all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '+' | '-' | '.'))
}

fn uri_chars_ok(s: &str) -> bool {
    // RFC 3986 forbids spaces, controls and a few delimiters outside percent-encoding; IRIs
    // (non-ASCII letters) are accepted as most tools do.
    !s.chars().any(|c| {
        c.is_control() || c == ' ' || matches!(c, '"' | '<' | '>' | '\\' | '^' | '`' | '|')
    }) && percent_ok(s)
}

fn percent_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if !(b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
            {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
}

fn balanced(s: &str) -> bool {
    let mut depth = 0i32;
    let mut in_class = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '(' if !in_class => depth += 1,
            ')' if !in_class => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0 && !in_class
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert!(check(Format::Uri, "https://x.y/z").is_ok());
        assert!(check(Format::Uri, "x.y/z").is_err());
        assert!(check(Format::UriReference, "#/components/schemas/A").is_ok());
        assert!(check(Format::UriReference, "a b").is_err());
        assert!(check(Format::UriReference, "%zz").is_err());
        assert!(check(Format::Email, "a@b.c").is_ok());
        assert!(check(Format::Email, "ab.c").is_err());
        assert!(check(Format::Regex, "^(a|b)$").is_ok());
        assert!(check(Format::Regex, "^(a|b$").is_err());
    }
}
