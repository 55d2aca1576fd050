//! The README's journey, run verbatim: install the binary, generate a crate outside the
//! repository, build it, and run the README's code against it. The commands are read from the
//! README's first `sh` block under "## Generating Rust" and run with `sh -e` in a copy of the
//! repository inside a temporary directory, so `../harbor` lands beside the copy, as it would
//! beside a fresh clone; the first `rust` block after them becomes an example of that crate.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The first ```` ```lang ```` block after `heading`.
fn block(readme: &str, heading: &str, lang: &str) -> String {
    let after = readme
        .split_once(heading)
        .unwrap_or_else(|| panic!("README has no `{heading}`"))
        .1;
    let fence = format!("```{lang}\n");
    let start = after.find(&fence).expect("a block") + fence.len();
    let len = after[start..].find("```").expect("the block ends");
    after[start..start + len].to_owned()
}

/// Copies the files git tracks (the repository as a fresh clone has it) into `to`.
fn copy_tracked(from: &Path, to: &Path) {
    let out = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(from)
        .output()
        .expect("git ls-files");
    assert!(out.status.success(), "git ls-files failed");
    for rel in out.stdout.split(|b| *b == 0).filter(|p| !p.is_empty()) {
        let rel = Path::new(std::str::from_utf8(rel).expect("utf-8 path"));
        let src = from.join(rel);
        if !src.is_file() {
            continue;
        }
        let dst = to.join(rel);
        std::fs::create_dir_all(dst.parent().expect("parent")).expect("mkdir");
        std::fs::copy(&src, &dst).expect("copy");
    }
}

#[test]
fn the_readme_journey_works_verbatim() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let commands = block(&readme, "## Generating Rust", "sh");
    assert!(
        commands.contains("asyncforge generate rust"),
        "the block is the journey: {commands}"
    );
    let dir = tempfile::tempdir().expect("tmp");
    let clone = dir.path().join("asyncforge");
    copy_tracked(&root(), &clone);
    let install = dir.path().join("install");
    let path = format!(
        "{}:{}",
        install.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let o = Command::new("sh")
        .args(["-e", "-x", "-c", &commands])
        .current_dir(&clone)
        .env("PATH", path)
        .env("CARGO_INSTALL_ROOT", &install)
        .output()
        .expect("sh");
    assert!(
        o.status.success(),
        "{commands}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let harbor = dir.path().join("harbor");
    let manifest = std::fs::read_to_string(harbor.join("Cargo.toml")).expect("generated crate");
    assert!(!manifest.contains("asyncforge-runtime"), "{manifest}");
    assert!(harbor.join("src/runtime/mod.rs").is_file());

    // The README's code, as a user of the generated crate writes it.
    let code = block(&readme, "## Generating Rust", "rust");
    assert!(code.contains("use harbor_telemetry::"), "{code}");
    let (uses, body): (Vec<&str>, Vec<&str>) = code.lines().partition(|l| l.starts_with("use "));
    let example = format!(
        "{}\n\nfn main() -> Result<(), Box<dyn std::error::Error>> {{\n{}\n    assert_eq!(back, status);\n    Ok(())\n}}\n",
        uses.join("\n"),
        body.join("\n")
    );
    std::fs::create_dir_all(harbor.join("examples")).expect("mkdir");
    std::fs::write(harbor.join("examples/readme.rs"), example).expect("write");
    let o = Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--example", "readme", "--manifest-path"])
        .arg(harbor.join("Cargo.toml"))
        .output()
        .expect("cargo run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}
