//! The README's journey, run verbatim: install the binary, generate a crate outside the
//! repository, build it. The commands are read from the README's first `sh` block under
//! "## Generating Rust" and run with `sh -e` in a copy of the repository inside a temporary
//! directory, so `../harbor` lands beside the copy, as it would beside a fresh clone.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The first ```` ```sh ```` block after `heading`.
fn sh_block(readme: &str, heading: &str) -> String {
    let after = readme
        .split_once(heading)
        .unwrap_or_else(|| panic!("README has no `{heading}`"))
        .1;
    let start = after.find("```sh\n").expect("an sh block") + "```sh\n".len();
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
    let commands = sh_block(&readme, "## Generating Rust");
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
}
