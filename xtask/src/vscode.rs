//! `cargo xtask vscode`: builds the VS Code extension in `editors/vscode` and packages it as a
//! `.vsix` (`npm ci`, `tsc`, `vsce package`; needs Node and npm, and the npm registry unless the
//! npm cache has every package already).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use serde_json::Value;

use crate::root;

pub fn run(args: &[String]) -> ExitCode {
    if let Some(extra) = args.first() {
        eprintln!("cargo xtask vscode takes no arguments (got `{extra}`)");
        return ExitCode::from(2);
    }
    match build() {
        Ok(vsix) => {
            println!("packaged {}", vsix.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("vscode: {e}");
            ExitCode::from(1)
        }
    }
}

/// Where the package goes: `$CARGO_TARGET_DIR/vscode`, else `target/vscode`.
fn out_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
        .join("vscode")
}

fn build() -> Result<PathBuf, String> {
    let dir = root().join("editors/vscode");
    let manifest = std::fs::read_to_string(dir.join("package.json"))
        .map_err(|e| format!("cannot read editors/vscode/package.json: {e}"))?;
    let manifest: Value =
        serde_json::from_str(&manifest).map_err(|e| format!("editors/vscode/package.json: {e}"))?;
    let (Some(name), Some(version)) = (manifest["name"].as_str(), manifest["version"].as_str())
    else {
        return Err("editors/vscode/package.json has no name or version".into());
    };
    let out = out_dir();
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let vsix = out.join(format!("{name}-{version}.vsix"));
    // A stale package must not pass the check below.
    let _ = std::fs::remove_file(&vsix);

    npm(&dir, &["ci", "--no-audit", "--no-fund", "--prefer-offline"])?;
    npm(&dir, &["run", "compile"])?;
    let listed = npx(&dir, &["vsce", "ls"])?;
    for needed in [
        "out/extension.js",
        "node_modules/vscode-languageclient/package.json",
    ] {
        if !listed.lines().any(|l| l.trim() == needed) {
            return Err(format!(
                "`vsce ls` does not list {needed}: it would not be packaged"
            ));
        }
    }
    let target = vsix.to_string_lossy().into_owned();
    npx(
        &dir,
        &["vsce", "package", "--skip-license", "--out", &target],
    )?;
    check_zip(&vsix)?;
    Ok(vsix)
}

/// A `.vsix` is a zip archive: it must exist and start like one.
fn check_zip(vsix: &Path) -> Result<(), String> {
    let bytes =
        std::fs::read(vsix).map_err(|e| format!("{} was not written: {e}", vsix.display()))?;
    if bytes.len() < 22 || !bytes.starts_with(b"PK\x03\x04") {
        return Err(format!("{} is not a zip archive", vsix.display()));
    }
    Ok(())
}

fn npm(dir: &Path, args: &[&str]) -> Result<(), String> {
    eprintln!("npm {}", args.join(" "));
    let status = Command::new("npm")
        .args(args)
        .current_dir(dir)
        .status()
        .map_err(|e| format!("npm is not available ({e})"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`npm {}` failed ({status})", args.join(" ")))
    }
}

/// Runs a tool installed in the extension's `node_modules`; returns its standard output.
fn npx(dir: &Path, args: &[&str]) -> Result<String, String> {
    eprintln!("npx {}", args.join(" "));
    let out = Command::new("npx")
        .arg("--no-install")
        .args(args)
        .current_dir(dir)
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("npx is not available ({e})"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!("`npx {}` failed ({})", args.join(" "), out.status))
    }
}
