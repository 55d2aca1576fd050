//! What asyncforge's own tests share.
//!
//! A test that needs an external peer (a broker, a browser, a command-line client, a Python
//! library) skips when the peer is missing, so `cargo test` works on a laptop without them.
//! In CI a skip would hide a test that never ran, so `.ci/run` sets [`REQUIRE_PEERS`] and
//! every such skip fails the test instead. `cargo xtask peers` installs and starts them all.

#![deny(missing_docs)]

/// The environment variable that turns a skip into a failure (set to anything but `0` or an
/// empty string; `.ci/run` sets it to `1`).
pub const REQUIRE_PEERS: &str = "ASYNCFORGE_REQUIRE_PEERS";

/// Whether missing peers fail tests instead of skipping them.
pub fn peers_required() -> bool {
    std::env::var_os(REQUIRE_PEERS).is_some_and(|v| !v.is_empty() && v != "0")
}

/// Skips the calling test because `peer` is missing, saying how to get it (`how`); with
/// [`REQUIRE_PEERS`] set, fails it instead.
///
/// Written as `return skip(…)` in a test (or the helper that looks for the peer), so that the
/// rest of the test does not run.
///
/// # Panics
///
/// When [`REQUIRE_PEERS`] is set: a peer CI should have installed is missing.
#[track_caller]
pub fn skip(peer: &str, how: &str) {
    if peers_required() {
        panic!("{peer} is missing ({how}), and {REQUIRE_PEERS} is set: this test must not skip");
    }
    eprintln!("SKIP: {peer} is missing ({how})");
}

/// Like [`skip`], for a helper that returns what it found: `None` after skipping.
#[track_caller]
pub fn skip_none<T>(peer: &str, how: &str) -> Option<T> {
    skip(peer, how);
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_skip_fails_only_when_peers_are_required() {
        // The variable is process-wide, so the skipping test runs in a child process.
        let exe = std::env::current_exe().expect("test binary");
        for (value, fails) in [("", false), ("0", false), ("1", true)] {
            let status = std::process::Command::new(&exe)
                .args(["--exact", "tests::skip_here", "--ignored", "--quiet"])
                .env(REQUIRE_PEERS, value)
                .output()
                .expect("run the test binary");
            assert_eq!(!status.status.success(), fails, "{REQUIRE_PEERS}={value:?}");
        }
    }

    #[test]
    #[ignore = "run by a_skip_fails_only_when_peers_are_required"]
    fn skip_here() {
        skip("a peer", "nothing to install");
    }
}
