//! The reference `asyncapi diff`: `@asyncapi/cli`, pinned, installed with npm into
//! `.cache/npm/cli` (git-ignored; a folder of its own so that it never disturbs the
//! `@asyncapi/parser` install of `bench/reference.rs` in `.cache/npm`). Used by
//! `cargo xtask diff-reference` and `cargo xtask bench diff`; the product never needs Node.
//!
//! The CLI sends anonymous usage metrics to New Relic after every command unless its analytics
//! file says `"analyticsEnabled": "false"`, and oclif checks npm for a newer version: every run
//! gets a `HOME` of its own under `.cache/npm/cli/home`, an analytics file that disables the
//! metrics (`ASYNCAPI_METRICS_CONFIG_PATH`) and `ASYNCAPI_SKIP_NEW_VERSION_CHECK=true`. npm
//! leaves the packages' install scripts (autocomplete setup, a scarf.sh ping) unrun.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::root;

/// The pinned version (it declares `node >= 24`, but runs `diff` on Node 20).
pub const VERSION: &str = "6.2.0";

/// An installed `asyncapi` CLI.
pub struct AsyncapiCli {
    dir: PathBuf,
}

/// What one `asyncapi diff --format json --type all` printed.
pub enum Verdict {
    /// Counts of the changes it classified as breaking, non-breaking and unclassified.
    Changes {
        breaking: usize,
        non_breaking: usize,
        unclassified: usize,
    },
    /// It failed: the first line of what it said.
    Error(String),
}

impl AsyncapiCli {
    /// Installs `@asyncapi/cli` once and prepares its isolated home.
    pub fn install() -> Result<Self, String> {
        let dir = root().join(".cache/npm/cli");
        crate::npm::install(
            &dir,
            "@asyncapi/cli",
            VERSION,
            "{\"private\": true}\n",
            &["--ignore-scripts"],
        )?;
        let home = dir.join("home");
        std::fs::create_dir_all(&home)
            .map_err(|e| format!("cannot create {}: {e}", home.display()))?;
        std::fs::write(
            home.join("analytics.json"),
            "{\"analyticsEnabled\": \"false\", \"infoMessageShown\": \"true\", \"userID\": \"asyncforge-xtask\"}\n",
        )
        .map_err(|e| format!("cannot write the analytics file: {e}"))?;
        Ok(Self { dir })
    }

    /// `asyncapi diff OLD NEW --format json --type all --no-error --no-log-diagnostics`,
    /// metrics and update checks off.
    pub fn diff_command(&self, old: &Path, new: &Path) -> Command {
        let home = self.dir.join("home");
        let mut cmd = Command::new(self.dir.join("node_modules/.bin/asyncapi"));
        cmd.arg("diff")
            .arg(old)
            .arg(new)
            .args([
                "--format",
                "json",
                "--type",
                "all",
                "--no-error",
                "--no-log-diagnostics",
            ])
            .env("HOME", &home)
            .env("ASYNCAPI_METRICS_CONFIG_PATH", home.join("analytics.json"))
            .env("ASYNCAPI_SKIP_NEW_VERSION_CHECK", "true")
            .env("SUPPRESS_NO_CONFIG_WARNING", "1")
            .current_dir(&self.dir)
            .stdin(Stdio::null());
        cmd
    }

    /// Runs one diff and reads its verdict (an error when it ran over `timeout`).
    pub fn diff(&self, old: &Path, new: &Path, timeout: Duration) -> Verdict {
        let out = match run_with_timeout(
            self.diff_command(old, new)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
            timeout,
        ) {
            Ok(out) => out,
            Err(e) => return Verdict::Error(e),
        };
        let stdout = String::from_utf8_lossy(&out.stdout);
        let parsed = stdout
            .find('{')
            .and_then(|i| serde_json::from_str::<Value>(&stdout[i..]).ok());
        match parsed.as_ref().and_then(|v| v["changes"].as_array()) {
            Some(changes) if out.status.success() => {
                let of = |t: &str| changes.iter().filter(|c| c["type"] == t).count();
                Verdict::Changes {
                    breaking: of("breaking"),
                    non_breaking: of("non-breaking"),
                    unclassified: of("unclassified"),
                }
            }
            _ => {
                let stderr = String::from_utf8_lossy(&out.stderr);
                let said = stderr
                    .lines()
                    .chain(stdout.lines())
                    .map(str::trim)
                    .find(|l| !l.is_empty() && !l.starts_with("WARNING:"))
                    .unwrap_or("(no output)")
                    .to_owned();
                Verdict::Error(format!("exit {}: {said}", out.status.code().unwrap_or(-1)))
            }
        }
    }

    /// The Node version the CLI runs on.
    pub fn node_version() -> String {
        Command::new("node")
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    }
}

/// Runs `cmd` to the end, or kills it after `timeout`.
pub fn run_with_timeout(
    cmd: &mut Command,
    timeout: Duration,
) -> Result<std::process::Output, String> {
    let mut child = cmd.spawn().map_err(|e| format!("cannot start: {e}"))?;
    // Read the pipes on threads so that a chatty child never blocks on a full pipe.
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let read = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out_t = read(stdout.map(|p| Box::new(p) as Box<dyn std::io::Read + Send>));
    let err_t = read(stderr.map(|p| Box::new(p) as Box<dyn std::io::Read + Send>));
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("timed out after {} s", timeout.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("cannot wait: {e}")),
        }
    };
    Ok(std::process::Output {
        status,
        stdout: out_t.join().unwrap_or_default(),
        stderr: err_t.join().unwrap_or_default(),
    })
}
