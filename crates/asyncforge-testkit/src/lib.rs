//! What asyncforge's own tests share.
//!
//! A test that needs an external peer (a broker, a browser, a command-line client, a Python
//! library) skips when the peer is missing, so `cargo test` works on a laptop without them.
//! In CI a skip would hide a test that never ran, so `.ci/run` sets [`REQUIRE_PEERS`] and
//! every such skip fails the test instead. `cargo xtask peers` installs and starts them all.
//!
//! Tests that damage or generate input draw from [`Rng`], so that a failure repeats.

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

/// A small deterministic random source (xorshift64) for tests that damage or generate input:
/// the same seed gives the same sequence, so a failing case can be run again.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A source seeded with `seed` (not zero: xorshift stays at zero).
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn bits(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.bits() % n.max(1) as u64) as usize
    }
}
