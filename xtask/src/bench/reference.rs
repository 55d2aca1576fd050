//! The reference validator, `@asyncapi/parser` 3.6.6 (the version that produced
//! `expected.jsonl`), installed with npm into `.cache/npm` (git-ignored) and driven by
//! `xtask/node/validate.mjs`. Only the benchmark uses Node; the product never does.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::root;

/// The pinned version.
pub const VERSION: &str = "3.6.6";

/// An installed reference validator, ready to run.
pub struct Reference {
    /// The npm folder; the script is copied here so that ES module resolution finds
    /// `node_modules/@asyncapi/parser` next to it.
    dir: PathBuf,
    script: PathBuf,
}

/// One document as timed inside a single Node process.
pub struct InProcess {
    /// `None` when the parser threw instead of returning diagnostics.
    pub valid: Option<bool>,
    pub best: Duration,
    pub median: Duration,
}

impl Reference {
    /// Installs `@asyncapi/parser` once (npm) and copies the Node script next to it.
    pub fn install() -> Result<Self, String> {
        let dir = root().join(".cache/npm");
        crate::npm::install(
            &dir,
            "@asyncapi/parser",
            VERSION,
            "{\"private\": true, \"type\": \"module\"}\n",
            &[],
        )?;
        let script = dir.join("validate.mjs");
        std::fs::copy(root().join("xtask/node/validate.mjs"), &script)
            .map_err(|e| format!("cannot copy xtask/node/validate.mjs: {e}"))?;
        Ok(Self { dir, script })
    }

    fn node(&self) -> Command {
        let mut cmd = Command::new("node");
        cmd.arg(&self.script).current_dir(&self.dir);
        cmd
    }

    /// Times every document inside one Node process (after one untimed warm-up validation),
    /// `runs` times each. Keyed by the path as given.
    pub fn in_process(
        &self,
        paths: &[&Path],
        runs: usize,
    ) -> Result<HashMap<String, InProcess>, String> {
        let out = self
            .node()
            .args(paths)
            .env("RUNS", runs.to_string())
            .env("WARMUP", "1")
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("cannot run node: {e}"))?;
        if !out.status.success() {
            return Err(format!("the Node script failed ({})", out.status));
        }
        let ms = |v: &Value| v.as_f64().map(|m| Duration::from_secs_f64(m / 1000.0));
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|v| {
                let path = v["path"].as_str()?.to_owned();
                let r = InProcess {
                    valid: v["valid"].as_bool(),
                    best: ms(&v["best_ms"])?,
                    median: ms(&v["median_ms"])?,
                };
                Some((path, r))
            })
            .collect())
    }

    /// Wall time of one fresh `node validate.mjs DOC` process (start-up, module loading and
    /// one validation), or `None` when it failed or ran over `timeout`.
    pub fn end_to_end(&self, path: &Path, timeout: Duration) -> Option<Duration> {
        let start = Instant::now();
        let mut child = self
            .node()
            .arg(path)
            .env("RUNS", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        loop {
            match child.try_wait() {
                Ok(Some(status)) => {
                    let t = start.elapsed();
                    return status.success().then_some(t);
                }
                Ok(None) if start.elapsed() > timeout => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return None;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(1)),
                Err(_) => return None,
            }
        }
    }
}
