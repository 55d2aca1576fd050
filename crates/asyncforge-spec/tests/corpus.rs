//! Every corpus document gets the reference validator's verdict (`expected.jsonl`), except the
//! deliberate disagreements listed below, each with its reason.

use std::path::PathBuf;

fn corpus() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    p.join("expected.jsonl").exists().then_some(p)
}

/// Documents where asyncforge's verdict differs from `@asyncapi/parser` 3.6.6 on purpose, with
/// the reason (none today: the 3.x examples that contradict their schemas in the official
/// Kraken documents are warnings, see `kraken_examples_contradict_their_schemas`).
const DISAGREEMENTS: &[(&str, bool, &str)] = &[];

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

fn diagnostics_of(
    doc: &str,
    severity: asyncforge_spec::Severity,
) -> Option<Vec<(String, String, u32)>> {
    let root = corpus()?;
    let c = asyncforge_spec::load(&root.join(doc));
    Some(
        c.diagnostics
            .iter()
            .filter(|d| d.severity == severity)
            .map(|d| {
                let l = d.location.as_ref().expect("located");
                (d.code.to_owned(), l.pointer.clone(), l.span.start.line)
            })
            .collect(),
    )
}

fn errors_of(doc: &str) -> Option<Vec<(String, String, u32)>> {
    diagnostics_of(doc, asyncforge_spec::Severity::Error)
}

/// The official Kraken 3.x examples have message examples that their own payload schemas
/// reject. 3.x makes valid examples a recommendation (the reference does not check them), so
/// they are warnings at the example and the documents are valid.
#[test]
fn kraken_examples_contradict_their_schemas() {
    for version in ["3.0.0", "3.1.0"] {
        for name in ["multiple-channels", "message-filter-in-reply"] {
            let doc =
                format!("examples/{version}/kraken-websocket-request-reply-{name}-asyncapi.yml");
            let Some(errors) = errors_of(&doc) else {
                return;
            };
            assert!(errors.is_empty(), "{doc}: {errors:?}");
            let warnings =
                diagnostics_of(&doc, asyncforge_spec::Severity::Warning).expect("corpus");
            assert!(
                warnings
                    .iter()
                    .any(|(code, ptr, _)| code == "asyncapi3-message-examples"
                        && ptr == "/components/messages/subscriptionStatus/examples/0/payload"),
                "{doc}: {warnings:?}"
            );
        }
    }
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
