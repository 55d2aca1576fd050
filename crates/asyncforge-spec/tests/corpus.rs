//! Every corpus document gets the reference validator's verdict (`expected.jsonl`), except the
//! deliberate disagreements listed below, each with its reason.

use std::path::PathBuf;

fn corpus() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    p.join("expected.jsonl").exists().then_some(p)
}

/// Documents where asyncforge's verdict differs from `@asyncapi/parser` 3.6.6 on purpose.
const DISAGREEMENTS: &[(&str, bool, &str)] = &[
    (
        "examples/3.0.0/kraken-websocket-request-reply-message-filter-in-reply-asyncapi.yml",
        false,
        "3.x message examples are checked against their payload schema (the reference does not check 3.x examples): `status: unsubscribed` is not in the `status` enum, `pair` is a string where the schema wants an array, `depth: 42` is not in its enum",
    ),
    (
        "examples/3.0.0/kraken-websocket-request-reply-multiple-channels-asyncapi.yml",
        false,
        "same invalid message examples as the other Kraken example",
    ),
    (
        "examples/3.1.0/kraken-websocket-request-reply-message-filter-in-reply-asyncapi.yml",
        false,
        "same invalid message examples as the 3.0.0 Kraken example",
    ),
    (
        "examples/3.1.0/kraken-websocket-request-reply-multiple-channels-asyncapi.yml",
        false,
        "same invalid message examples as the 3.0.0 Kraken example",
    ),
];

#[test]
fn corpus_verdicts_match_the_reference() {
    let Some(root) = corpus() else {
        eprintln!("skipped: ../shared/corpus is absent");
        return;
    };
    let expected =
        std::fs::read_to_string(root.join("expected.jsonl")).expect("read expected.jsonl");
    let mut agree = 0;
    let mut unexpected = Vec::new();
    let mut seen_disagreements = Vec::new();
    for line in expected.lines().filter(|l| !l.trim().is_empty()) {
        let e: serde_json::Value = serde_json::from_str(line).expect("jsonl");
        let doc = e["doc"].as_str().expect("doc");
        let want = e["valid"].as_bool().expect("valid");
        let checked = asyncforge_spec::load(&root.join(doc));
        let got = !checked.has_errors();
        let first: Vec<String> = checked
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .take(3)
            .map(|d| {
                let l = d
                    .location
                    .as_ref()
                    .map(|l| asyncforge_spec::report::place(&checked.workspace, l))
                    .unwrap_or_default();
                format!("{} {} {}", d.code, l, d.message)
            })
            .collect();
        if let Some((_, ours, reason)) = DISAGREEMENTS.iter().find(|(d, _, _)| *d == doc) {
            assert_eq!(
                got, *ours,
                "{doc}: listed disagreement no longer holds ({reason}); errors: {first:#?}"
            );
            assert_ne!(
                got, want,
                "{doc}: listed as a disagreement but agrees with the reference"
            );
            seen_disagreements.push(doc.to_owned());
            println!("DISAGREE {doc}: ours {got}, reference {want}: {reason}");
            continue;
        }
        if got == want {
            agree += 1;
        } else {
            unexpected.push(format!(
                "{doc}: asyncforge says {}, reference says {} ({:?}); first errors: {first:#?}",
                if got { "valid" } else { "invalid" },
                if want { "valid" } else { "invalid" },
                e["codes"]
            ));
        }
    }
    println!(
        "{agree} documents agree with the reference, {} deliberate disagreements",
        seen_disagreements.len()
    );
    assert!(
        unexpected.is_empty(),
        "unexpected verdicts:\n{}",
        unexpected.join("\n")
    );
    assert_eq!(
        seen_disagreements.len(),
        DISAGREEMENTS.len(),
        "a listed document is missing from the corpus"
    );
}

fn errors_of(doc: &str) -> Option<Vec<(String, String, u32)>> {
    let root = corpus()?;
    let c = asyncforge_spec::load(&root.join(doc));
    Some(
        c.diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| {
                let l = d.location.as_ref().expect("located");
                (d.code.to_owned(), l.pointer.clone(), l.span.start.line)
            })
            .collect(),
    )
}

/// Deliberate disagreement: the official Kraken 3.x examples have message examples that their
/// own payload schemas reject; the reference validator does not check 3.x examples.
#[test]
fn kraken_examples_contradict_their_schemas() {
    let Some(errors) =
        errors_of("examples/3.0.0/kraken-websocket-request-reply-multiple-channels-asyncapi.yml")
    else {
        return;
    };
    assert!(!errors.is_empty());
    assert!(
        errors
            .iter()
            .all(|(code, _, _)| code == "asyncapi3-message-examples"),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|(_, ptr, line)| ptr
            == "/components/messages/subscriptionStatus/examples/0/payload"
            && *line == 152),
        "{errors:?}"
    );
}

/// Agreement with a different reason: the reference fails the Adeo example because it cannot
/// fetch a remote `$ref` offline; asyncforge does not fetch remote references unless asked and
/// says so at the reference.
#[test]
fn adeo_remote_reference_is_reported_not_fetched() {
    let Some(errors) = errors_of("examples/3.0.0/adeo-kafka-request-reply-asyncapi.yml") else {
        return;
    };
    assert!(
        errors
            .iter()
            .any(|(code, ptr, _)| code == "ref-remote" && ptr.ends_with("/$ref")),
        "{errors:?}"
    );
}
