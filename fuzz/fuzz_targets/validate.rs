#![no_main]
//! Arbitrary bytes through loading, validation, rendering, lowering and type generation.
//!
//! When `ASYNCFORGE_FUZZ_LAST_INPUT` names a file, every input is written there before it runs:
//! a stack overflow kills the process before libFuzzer can save the input (the target has no
//! sanitizer to catch it), so `cargo xtask fuzz` keeps the last input as the crashing one.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use asyncforge::spec::{LoadOptions, load_bytes, report};
use libfuzzer_sys::fuzz_target;

fn last_input() -> Option<&'static Path> {
    static LAST: OnceLock<Option<PathBuf>> = OnceLock::new();
    LAST.get_or_init(|| std::env::var_os("ASYNCFORGE_FUZZ_LAST_INPUT").map(PathBuf::from))
        .as_deref()
}

fuzz_target!(|data: &[u8]| {
    if let Some(path) = last_input() {
        let _ = std::fs::write(path, data);
    }
    let checked = load_bytes(Path::new("fuzz.yaml"), data, &LoadOptions::default());
    for d in &checked.diagnostics {
        let _ = report::human(&checked.workspace, d, false);
        let _ = report::json(&checked.workspace, d);
    }
    if let Some(api) = checked.lower() {
        let module =
            asyncforge_codegen::Settings::default().layout(asyncforge_codegen::Layout::Module);
        let _ = asyncforge_codegen::generate(&api, &module);
    }
});
