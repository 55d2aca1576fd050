//! Reference tools from the npm registry, installed once into a folder of `.cache/npm`
//! (git-ignored); the product never needs Node.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Installs `name@version` into `dir` unless that version is there already: `dir` gets its
/// own `package.json` (`package_json`), then `npm install` with `extra` arguments.
pub fn install(
    dir: &Path,
    name: &str,
    version: &str,
    package_json: &str,
    extra: &[&str],
) -> Result<(), String> {
    let node = std::process::Command::new("node")
        .arg("--version")
        .output()
        .map_err(|e| format!("node is not available ({e})"))?;
    if !node.status.success() {
        return Err("`node --version` failed".into());
    }
    let package = dir.join("node_modules").join(name).join("package.json");
    let installed = std::fs::read_to_string(&package)
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|v| v["version"].as_str().map(str::to_owned));
    if installed.as_deref() == Some(version) {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    std::fs::write(dir.join("package.json"), package_json)
        .map_err(|e| format!("cannot write {}/package.json: {e}", dir.display()))?;
    eprintln!("installing {name}@{version} into {} (once)…", dir.display());
    let status = Command::new("npm")
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--silent",
            "--save-exact",
        ])
        .args(extra)
        .arg(format!("{name}@{version}"))
        .current_dir(dir)
        .status()
        .map_err(|e| format!("npm is not available ({e})"))?;
    if !status.success() || !package.exists() {
        return Err(format!("`npm install {name}@{version}` failed"));
    }
    Ok(())
}
