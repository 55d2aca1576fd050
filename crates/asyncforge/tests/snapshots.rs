//! The checked-in snapshot crates are what the generator produces today.

use std::path::PathBuf;

#[test]
fn snapshots_are_fresh() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    if asyncforge::snapshots::corpus(&root).is_none() {
        eprintln!(
            "skipping the official examples' snapshots: ../shared/corpus is absent (the committed crates are used as they are)"
        );
    }
    let stale = asyncforge::snapshots::regenerate(&root, true).expect("regenerate");
    assert!(
        stale.is_empty(),
        "generated snapshots are stale: {:?}\nrun `cargo xtask codegen` and commit",
        stale
            .iter()
            .map(|s| s.path.display().to_string())
            .collect::<Vec<_>>()
    );
}
