//! Writing documents back out: block-style YAML that every YAML 1.1/1.2 parser reads back as the
//! same data, and pretty JSON. Key order is kept as it is in the value.

use serde_json::Value;

/// Output syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// YAML (block style).
    Yaml,
    /// JSON (two-space indentation).
    Json,
}

impl Syntax {
    /// Guesses the syntax from a file name (`.json` → JSON, anything else YAML).
    pub fn from_path(path: &std::path::Path) -> Syntax {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("json") => Syntax::Json,
            _ => Syntax::Yaml,
        }
    }
}

/// Serializes a value in the given syntax, ending with a newline.
pub fn to_string(v: &Value, syntax: Syntax) -> String {
    match syntax {
        Syntax::Json => {
            let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
            s.push('\n');
            s
        }
        Syntax::Yaml => to_yaml(v),
    }
}

/// Serializes a value as block-style YAML.
pub fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Object(m) if !m.is_empty() => write_map(&mut out, m, 0),
        Value::Array(a) if !a.is_empty() => write_seq(&mut out, a, 0),
        other => {
            out.push_str(&inline_scalar(other, 0));
            out.push('\n');
        }
    }
    out
}

fn indent(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push(' ');
    }
}

fn write_map(out: &mut String, m: &serde_json::Map<String, Value>, ind: usize) {
    let mut first = true;
    for (k, v) in m {
        if !first {
            indent(out, ind);
        }
        first = false;
        out.push_str(&scalar_string(k, ind));
        out.push(':');
        write_value_after_key(out, v, ind);
    }
}

/// Writes what follows `key:` (or `- `): an inline scalar, or a nested block.
fn write_value_after_key(out: &mut String, v: &Value, ind: usize) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            indent(out, ind + 2);
            write_map(out, m, ind + 2);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            indent(out, ind + 2);
            write_seq(out, a, ind + 2);
        }
        other => {
            out.push(' ');
            out.push_str(&inline_scalar(other, ind + 2));
            out.push('\n');
        }
    }
}

fn write_seq(out: &mut String, a: &[Value], ind: usize) {
    let mut first = true;
    for v in a {
        if !first {
            indent(out, ind);
        }
        first = false;
        out.push('-');
        match v {
            Value::Object(m) if !m.is_empty() => {
                out.push(' ');
                write_map(out, m, ind + 2);
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push(' ');
                write_seq(out, inner, ind + 2);
            }
            other => {
                out.push(' ');
                out.push_str(&inline_scalar(other, ind + 2));
                out.push('\n');
            }
        }
    }
}

fn inline_scalar(v: &Value, ind: usize) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => scalar_string(s, ind),
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
    }
}

/// Words other YAML parsers (YAML 1.1 ones included) would not read as a string.
fn reserved(s: &str) -> bool {
    matches!(
        s.to_ascii_lowercase().as_str(),
        "null"
            | "~"
            | "true"
            | "false"
            | "yes"
            | "no"
            | "on"
            | "off"
            | "y"
            | "n"
            | ".inf"
            | "-.inf"
            | "+.inf"
            | ".nan"
    )
}

fn looks_numeric(s: &str) -> bool {
    let t = s.strip_prefix(['-', '+']).unwrap_or(s);
    if t.is_empty() {
        return false;
    }
    if t.starts_with("0x") || t.starts_with("0o") || t.starts_with("0b") {
        return true;
    }
    if t.contains(':') {
        // YAML 1.1 sexagesimal numbers (`12:30`).
        return t.split(':').all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_digit() || c == '_' || c == '.')
        });
    }
    let (mantissa, exponent) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let mantissa_ok = mantissa.matches('.').count() <= 1
        && mantissa.chars().any(|c| c.is_ascii_digit())
        && mantissa
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == '_');
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && e.chars().all(|c| c.is_ascii_digit())
    });
    mantissa_ok && exponent_ok
}

fn plain_ok(s: &str) -> bool {
    if s.is_empty() || reserved(s) || looks_numeric(s) {
        return false;
    }
    let first = s.chars().next().unwrap_or(' ');
    if matches!(
        first,
        '-' | '?'
            | ':'
            | ','
            | '['
            | ']'
            | '{'
            | '}'
            | '#'
            | '&'
            | '*'
            | '!'
            | '|'
            | '>'
            | '\''
            | '"'
            | '%'
            | '@'
            | '`'
            | ' '
    ) {
        // `-` and `?` and `:` are allowed when followed by a non-space, but keep it simple.
        return false;
    }
    if s.ends_with([' ', ':']) {
        return false;
    }
    if s.contains(": ") || s.contains(" #") || s.contains(['\n', '\r', '\t']) {
        return false;
    }
    if s.contains([',', '[', ']', '{', '}']) {
        // Fine in block context, but keep keys and values safe to paste into flow context.
        return false;
    }
    s.chars().all(|c| !c.is_control() && c != '\u{feff}')
}

fn scalar_string(s: &str, ind: usize) -> String {
    if plain_ok(s) {
        return s.to_owned();
    }
    let printable = s.chars().all(|c| !c.is_control() || c == '\n');
    if s.contains('\n') && printable && !s.starts_with([' ', '\n']) && !s.contains('\r') {
        return literal_block(s, ind);
    }
    if printable && !s.contains('\n') {
        return format!("'{}'", s.replace('\'', "''"));
    }
    double_quoted(s)
}

fn literal_block(s: &str, ind: usize) -> String {
    let trailing = s.len() - s.trim_end_matches('\n').len();
    let chomp = match trailing {
        0 => "-",
        1 => "",
        _ => "+",
    };
    let body = if trailing == 1 {
        &s[..s.len() - 1]
    } else if trailing == 0 {
        s
    } else {
        s.trim_end_matches('\n')
    };
    let mut out = format!("|{chomp}");
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            for _ in 0..ind {
                out.push(' ');
            }
            out.push_str(line);
        }
    }
    if trailing > 1 {
        for _ in 1..trailing {
            out.push('\n');
        }
    }
    out
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || c == '\u{feff}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{Limits, parse_text};

    fn round_trip(v: &Value) {
        let y = to_yaml(v);
        let back = parse_text(&y, &Limits::default()).unwrap_or_else(|e| panic!("{e:?}\n{y}"));
        assert_eq!(&back.value, v, "\n{y}");
    }

    #[test]
    fn tricky_scalars_round_trip() {
        round_trip(&serde_json::json!({
            "asyncapi": "3.0.0", "version": "1.0", "n": 1, "f": 1.5, "t": true, "s": "true", "no": "no",
            "empty": "", "colon": "a: b", "hash": "a #b", "lead": " x", "trail": "x ", "multi": "a\nb\n",
            "multi2": "a\n\nb", "multi3": "a\n\n", "quote": "it's", "dq": "say \"hi\"", "tab": "a\tb",
            "ctl": "a\u{1}b", "dash": "-x", "ref": "#/components/schemas/A", "url": "https://x.y/z?a=1",
            "list": [1, "two", {"k": "v", "k2": [true, null]}, [], {}], "nested": {"deep": {"deeper": []}},
            "unicode": "żółw ✓", "num-like": "0x1F", "semver": "3.0.0", "dotted": "1.0", "e": "e3", "oct": "0o17", "exp": "1e3", "time": "12:30",
            "key with spaces": 1, "-": "dash key", "multi-lead": "  indented\nsecond"
        }));
        round_trip(&serde_json::json!([1, [2, [3]], {"a": [{"b": 1}]}]));
        round_trip(&serde_json::json!("just a string"));
    }
}
