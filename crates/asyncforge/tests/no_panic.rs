//! The whole pipeline (load, validate, lower, bundle, convert, generate) on mutated corpus
//! documents: whatever the input, a result or diagnostics, never a panic.

use std::path::PathBuf;

use asyncforge::spec::{LoadOptions, load_bytes};
use asyncforge_testkit::Rng;

fn corpus() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    p.join("expected.jsonl").exists().then_some(p)
}

const TOKENS: &[&[u8]] = &[
    b"$ref: '#/components/schemas/x'\n",
    b"{",
    b"}",
    b"[",
    b"- ",
    b": ",
    b"\n  ",
    b"null",
    b"oneOf:",
    b"allOf:",
    b"type: object\n",
    b"&a ",
    b"*a",
    b"'",
    b"\"",
    b"#",
    b"\t",
    b"~1",
    b"%",
    b"properties:\n  a: {}\n",
];

#[test]
fn mutated_documents_never_panic() {
    let Some(root) = corpus() else {
        eprintln!("skipped: ../shared/corpus is absent");
        return;
    };
    let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
    let mut docs: Vec<PathBuf> = ["examples/2.6.0", "examples/3.0.0", "examples/3.1.0"]
        .iter()
        .flat_map(|d| std::fs::read_dir(root.join(d)).into_iter().flatten())
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    docs.sort();
    let module = asyncforge_codegen::Settings::default().layout(asyncforge_codegen::Layout::Module);
    let mut runs = 0;
    for doc in &docs {
        let original = std::fs::read(doc).expect("read");
        for _ in 0..12 {
            let mut bytes = original.clone();
            for _ in 0..(1 + rng.bits() % 4) {
                let at = (rng.bits() as usize) % bytes.len().max(1);
                match rng.bits() % 3 {
                    0 => {
                        let end = (at + (rng.bits() % 40) as usize).min(bytes.len());
                        bytes.drain(at..end);
                    }
                    1 => {
                        let t = TOKENS[(rng.bits() as usize) % TOKENS.len()];
                        bytes.splice(at..at, t.iter().copied());
                    }
                    _ => {
                        if let Some(b) = bytes.get_mut(at) {
                            *b = (rng.bits() % 128) as u8;
                        }
                    }
                }
            }
            let checked = load_bytes(doc, &bytes, &LoadOptions::default());
            for d in &checked.diagnostics {
                let _ = asyncforge::spec::report::human(&checked.workspace, d, false);
            }
            if let Some(v) = checked.version {
                let api = asyncforge::spec::ir::lower(&checked.workspace, v);
                let _ = asyncforge::spec::ir::summary(&api);
                let _ = asyncforge::spec::ir::canonical(&api);
                let _ = asyncforge_codegen::generate(&api, &module);
                let _ = asyncforge::spec::tools::bundle::bundle(&checked.workspace, v);
                if v.is_v2() {
                    let _ = asyncforge::spec::tools::convert_workspace(
                        &checked.workspace,
                        v,
                        asyncforge::spec::Version::V3_0,
                    );
                }
            }
            runs += 1;
        }
    }
    println!("{runs} mutated documents went through the whole pipeline");
    assert!(runs > 300);
}
