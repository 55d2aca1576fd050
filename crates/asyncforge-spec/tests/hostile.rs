//! Hostile and broken inputs: each gets one precise diagnostic, never a panic or a hang.

use std::path::Path;
use std::time::Instant;

use asyncforge_spec::{Checked, LoadOptions, Pos, load_bytes};

fn check(text: &[u8]) -> Checked {
    load_bytes(
        Path::new("/nonexistent/hostile.yaml"),
        text,
        &LoadOptions::default(),
    )
}

/// The single error of a document: its code and 1-based (line, col).
fn only_error(c: &Checked) -> (&'static str, (u32, u32)) {
    let errors: Vec<_> = c.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert_eq!(errors.len(), 1, "expected one error, got {errors:#?}");
    let d = errors[0];
    let loc = d.location.as_ref().expect("located");
    (d.code, (loc.span.start.line, loc.span.start.col))
}

#[test]
fn malformed_yaml() {
    let c = check(b"asyncapi: 3.0.0\ninfo:\n  title: [unclosed\n  version: 1\n");
    let (code, (line, _)) = only_error(&c);
    assert_eq!(code, "yaml-syntax");
    assert!(
        line >= 3,
        "error should point at or after the open bracket, got line {line}"
    );
}

#[test]
fn tab_indentation() {
    let c = check(b"asyncapi: 3.0.0\ninfo:\n\ttitle: x\n");
    let (code, (line, col)) = only_error(&c);
    assert_eq!(code, "yaml-syntax");
    assert_eq!(line, 3);
    assert!(col <= 2, "column {col}");
    assert!(
        c.diagnostics[0].message.contains("tab"),
        "{}",
        c.diagnostics[0].message
    );
}

#[test]
fn truncated_json() {
    let c = check(br#"{"asyncapi": "3.0.0", "info": {"title": "x", "version": "1""#);
    let (code, (line, _)) = only_error(&c);
    assert_eq!(code, "yaml-syntax");
    assert_eq!(line, 1);
}

#[test]
fn binary_input() {
    let c = check(b"asyncapi: 3.0.0\n\x00\x01\x02\xff");
    assert_eq!(only_error(&c), ("binary-file", (2, 1)));
}

#[test]
fn invalid_utf8() {
    let c = check(b"asyncapi: 3.0.0\ninfo:\n  title: caf\xe9\n");
    assert_eq!(only_error(&c), ("not-utf8", (3, 13)));
}

#[test]
fn utf16_is_refused() {
    let c = check(b"\xff\xfea\x00s\x00");
    assert_eq!(only_error(&c).0, "not-utf8");
}

#[test]
fn utf8_bom_is_accepted() {
    let c = check(b"\xef\xbb\xbfasyncapi: 3.0.0\ninfo: {title: x, version: '1'}\n");
    assert!(!c.has_errors(), "{:#?}", c.diagnostics);
}

#[test]
fn empty_file() {
    assert_eq!(only_error(&check(b"")), ("empty-document", (1, 1)));
    assert_eq!(only_error(&check(b"  \n\n")), ("empty-document", (1, 1)));
    assert_eq!(
        only_error(&check(b"# only a comment\n")).0,
        "empty-document"
    );
}

#[test]
fn duplicate_keys() {
    let c = check(b"asyncapi: 3.0.0\ninfo:\n  title: a\n  version: '1'\n  title: b\n");
    assert_eq!(only_error(&c), ("duplicate-key", (5, 3)));
    let d = &c
        .diagnostics
        .iter()
        .find(|d| d.is_error())
        .expect("error")
        .related[0];
    assert_eq!(d.location.span.start, Pos::new(3, 3));
}

#[test]
fn duplicate_keys_in_json() {
    let c = check(br#"{"asyncapi": "3.0.0", "asyncapi": "2.6.0"}"#);
    assert_eq!(only_error(&c), ("duplicate-key", (1, 23)));
}

#[test]
fn multiple_documents() {
    let c = check(b"asyncapi: 3.0.0\n---\nasyncapi: 2.6.0\n");
    assert_eq!(only_error(&c).0, "multiple-documents");
}

#[test]
fn billion_laughs_is_rejected_fast() {
    let mut doc =
        String::from("asyncapi: 3.0.0\na0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let p = i - 1;
        doc.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    assert!(
        doc.len() < 1100,
        "the bomb is about 1 KB ({} bytes)",
        doc.len()
    );
    let start = Instant::now();
    let c = check(doc.as_bytes());
    let elapsed = start.elapsed();
    let (code, (line, _)) = only_error(&c);
    assert_eq!(code, "alias-limit");
    assert!(line > 2);
    // Not a timing assertion on speed, a guard against a hang: the limit stops expansion early.
    assert!(elapsed.as_secs() < 10, "took {elapsed:?}");
}

#[test]
fn deep_nesting_flow() {
    let doc = format!("asyncapi: 3.0.0\nx: {}\n", "[".repeat(100_000));
    let c = check(doc.as_bytes());
    let (code, (line, _)) = only_error(&c);
    assert_eq!((code, line), ("too-deep", 2));
}

#[test]
fn deep_nesting_json_objects() {
    let doc = "{\"a\":".repeat(100_000);
    let c = check(doc.as_bytes());
    assert_eq!(only_error(&c).0, "too-deep");
}

#[test]
fn deep_nesting_block() {
    let mut doc = String::from("asyncapi: 3.0.0\nx:\n");
    for i in 1..300 {
        doc.push_str(&" ".repeat(i * 2));
        doc.push_str("a:\n");
    }
    let c = check(doc.as_bytes());
    assert_eq!(only_error(&c).0, "too-deep");
}

#[test]
fn huge_file_is_refused_before_parsing() {
    let opts = LoadOptions {
        limits: asyncforge_spec::load::Limits {
            max_file_size: 1024,
            ..Default::default()
        },
        ..Default::default()
    };
    let big = vec![b'a'; 4096];
    let c = load_bytes(Path::new("/nonexistent/big.yaml"), &big, &opts);
    assert_eq!(only_error(&c), ("file-too-large", (1, 1)));
}

#[test]
fn non_mapping_root() {
    assert_eq!(only_error(&check(b"- a\n- b\n")), ("not-asyncapi", (1, 1)));
    assert_eq!(only_error(&check(b"just text\n")), ("not-asyncapi", (1, 1)));
}

#[test]
fn missing_and_unsupported_versions() {
    assert_eq!(
        only_error(&check(b"info: {title: x, version: '1'}\n")),
        ("not-asyncapi", (1, 1))
    );
    let c = check(b"openapi: 3.0.0\n");
    assert!(c.diagnostics[0].message.contains("OpenAPI"));
    let c = check(b"asyncapi: 4.0.0\ninfo: {title: x, version: '1'}\n");
    assert_eq!(only_error(&c), ("version-unsupported", (1, 11)));
    assert!(
        c.diagnostics
            .iter()
            .any(|d| d.message.contains("2.0.x") && d.message.contains("3.1.x"))
    );
    let c = check(b"asyncapi: 2.0\ninfo: {title: x, version: '1'}\n");
    assert_eq!(only_error(&c), ("version-unsupported", (1, 11)));
}

#[test]
fn patch_versions_are_accepted() {
    let c = check(b"asyncapi: 3.0.7\ninfo: {title: x, version: '1'}\noperations: {}\n");
    assert_eq!(c.version, Some(asyncforge_spec::Version::V3_0));
}

#[test]
fn complex_keys_are_refused() {
    let c = check(b"asyncapi: 3.0.0\n? [a, b]\n: c\n");
    assert_eq!(only_error(&c).0, "yaml-unsupported");
}

#[test]
fn unknown_tags_are_refused() {
    let c = check(b"asyncapi: 3.0.0\ninfo: !Ref something\n");
    assert_eq!(only_error(&c), ("yaml-tag", (2, 7)));
}

/// Random garbage never panics.
#[test]
fn garbage_never_panics() {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let alphabet = b"{}[]:,-?&*!|>'\"#%@` \n\tabc019$ref/.~";
    for len in [1usize, 7, 31, 128, 1000] {
        for _ in 0..200 {
            let doc: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    alphabet[(state % alphabet.len() as u64) as usize]
                })
                .collect();
            let c = check(&doc);
            for d in &c.diagnostics {
                let _ = asyncforge_spec::report::human(&c.workspace, d, false);
            }
        }
    }
}

/// A document whose message payload is `s0`, each `sN` written as `link` with `{next}` standing
/// for `N + 1`, and the last one, `s{links}`, with `type: 7` (an error to find at the end).
/// Returns the document and the (line, column) of that `7`.
fn ref_chain(links: usize, link: &str) -> (String, (u32, u32)) {
    let mut doc = String::from(
        "asyncapi: 3.0.0\ninfo: {title: chain, version: '1'}\nchannels:\n  c:\n    messages:\n      \
         m:\n        payload: {$ref: '#/components/schemas/s0'}\ncomponents:\n  schemas:\n",
    );
    for i in 0..links {
        let body = link.replace("{next}", &(i + 1).to_string());
        doc.push_str(&format!("    s{i}: {body}\n"));
    }
    let last = format!("    s{links}: {{type: 7}}\n");
    let line = doc.lines().count() as u32 + 1;
    let col = last.find('7').expect("a 7") as u32 + 1;
    doc.push_str(&last);
    (doc, (line, col))
}

/// A chain of thousands of schemas joined by `$ref`s is checked to its end and lowered. Each
/// link used to cost the structure checker about ten nested calls and the lowering a few more:
/// 1,500 links overflowed the 8 MB main thread (`asyncforge validate` died of a stack overflow).
/// References are now followed from a work list, so the chain costs heap, not stack (test
/// threads have 2 MB).
#[test]
fn long_ref_chains_cost_no_stack() {
    let links = 5_000;
    for link in [
        "{type: object, properties: {p: {$ref: '#/components/schemas/s{next}'}}}",
        "{items: {$ref: '#/components/schemas/s{next}'}}",
        "{allOf: [{$ref: '#/components/schemas/s{next}'}]}",
        "{oneOf: [{$ref: '#/components/schemas/s{next}'}, {type: 'null'}]}",
    ] {
        let (doc, at) = ref_chain(links, link);
        let c = check(doc.as_bytes());
        assert_eq!(only_error(&c), ("struct-type", at), "{link}");
        let error = c.diagnostics.iter().find(|d| d.is_error()).expect("error");
        let loc = error.location.as_ref().expect("located");
        assert_eq!(loc.pointer, format!("/components/schemas/s{links}/type"));

        let api = c.lower().expect("lowered");
        assert!(api.schemas.len() > links, "{link}: {}", api.schemas.len());
        let payload = api.messages[0].payload.expect("payload");
        assert_eq!(
            api.schema(payload).source.pointer,
            "/components/schemas/s0",
            "{link}"
        );
    }
}

/// Schemas are numbered as a depth-first walk meets them, in the order the keywords are listed,
/// even though lowering no longer recurses.
#[test]
fn lowered_schemas_are_numbered_depth_first() {
    let doc = b"asyncapi: 3.0.0\ninfo: {title: order, version: '1'}\ncomponents:\n  schemas:\n    \
        s:\n      items: {type: string}\n      properties:\n        a: {properties: {x: {type: integer}}}\n        \
        b: {type: boolean}\n      allOf: [{$ref: '#/components/schemas/t'}]\n    t: {not: {type: 'null'}}\n";
    let c = check(doc);
    assert!(!c.has_errors(), "{:#?}", c.diagnostics);
    let api = c.lower().expect("lowered");
    let pointers: Vec<&str> = api
        .schemas
        .iter()
        .map(|s| s.source.pointer.as_str())
        .collect();
    assert_eq!(
        pointers,
        [
            "/components/schemas/s",
            "/components/schemas/s/items",
            "/components/schemas/s/properties/a",
            "/components/schemas/s/properties/a/properties/x",
            "/components/schemas/s/properties/b",
            "/components/schemas/t",
            "/components/schemas/t/not",
        ]
    );
}
