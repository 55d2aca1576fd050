#![no_main]
//! Arbitrary bytes through loading, validation, rendering, lowering and type generation.

use std::path::Path;

use asyncforge::spec::{LoadOptions, load_bytes, report};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let checked = load_bytes(Path::new("fuzz.yaml"), data, &LoadOptions::default());
    for d in &checked.diagnostics {
        let _ = report::human(&checked.workspace, d, false);
        let _ = report::json(&checked.workspace, d);
    }
    if let Some(api) = checked.lower() {
        let _ = asyncforge::codegen::generate_module(&api);
    }
});
