//! Generating a Rust crate or module from a document: the engine shared by the CLI, build
//! scripts and `cargo xtask codegen`.

use std::path::{Path, PathBuf};

use asyncforge_codegen::{Runtime, Settings, Warning};
use asyncforge_spec::{Checked, Diagnostic};

/// Why generation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// The document has errors.
    #[error(
        "{path} is not a valid AsyncAPI document ({count} errors); run `asyncforge validate {path}`"
    )]
    Invalid {
        /// The document.
        path: String,
        /// Number of errors.
        count: usize,
        /// The errors.
        diagnostics: Vec<Diagnostic>,
    },
    /// Code generation failed.
    #[error(transparent)]
    Codegen(#[from] asyncforge_codegen::Error),
    /// Reading templates or writing files failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// What a generation run produced.
#[derive(Debug)]
pub struct Output {
    /// Files written (absolute or as given).
    pub written: Vec<PathBuf>,
    /// Every file the document was read from (for `rerun-if-changed`).
    pub inputs: Vec<PathBuf>,
    /// Places generated less precisely than the spec says, as `file:line:col: message`.
    pub warnings: Vec<String>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> GenerateError + '_ {
    move |source| GenerateError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Loads and checks a document, refusing invalid ones.
pub fn load_checked(spec: &Path) -> Result<Checked, GenerateError> {
    let checked = asyncforge_spec::load(spec);
    if checked.generation_errors().next().is_some() || checked.version.is_none() {
        let diagnostics: Vec<Diagnostic> = checked.generation_errors().cloned().collect();
        return Err(GenerateError::Invalid {
            path: spec.display().to_string(),
            count: diagnostics.len().max(1),
            diagnostics,
        });
    }
    Ok(checked)
}

fn describe(checked: &Checked, api: &asyncforge_spec::ir::Api, w: &[Warning]) -> Vec<String> {
    w.iter()
        .map(|w| {
            let file = api
                .files
                .get(w.source.file as usize)
                .cloned()
                .unwrap_or_default();
            let _ = checked;
            format!(
                "{file}:{}:{}: warning: {}",
                w.source.span.start.line, w.source.span.start.col, w.message
            )
        })
        .collect()
}

/// Reads `Cargo.toml.tera` / `README.md.tera` overrides from a directory into the settings.
pub fn apply_templates(mut settings: Settings, dir: &Path) -> Result<Settings, GenerateError> {
    for (file, cargo) in [("Cargo.toml.tera", true), ("README.md.tera", false)] {
        let p = dir.join(file);
        if p.exists() {
            let text = std::fs::read_to_string(&p).map_err(io(&p))?;
            settings = if cargo {
                settings.with_cargo_template(text)
            } else {
                settings.with_readme_template(text)
            };
        }
    }
    Ok(settings)
}

/// Generates a crate from `spec` into `out`.
pub fn generate_crate(
    spec: &Path,
    out: &Path,
    settings: &Settings,
) -> Result<Output, GenerateError> {
    generate_crate_with(spec, out, settings, false)
}

/// Like [`generate_crate`]; with `allow_invalid`, a document with errors is generated anyway
/// (what the errors break becomes `serde_json::Value` or is left out).
pub fn generate_crate_with(
    spec: &Path,
    out: &Path,
    settings: &Settings,
    allow_invalid: bool,
) -> Result<Output, GenerateError> {
    let checked = if allow_invalid {
        let c = asyncforge_spec::load(spec);
        if c.version.is_none() {
            load_checked(spec)?
        } else {
            c
        }
    } else {
        load_checked(spec)?
    };
    let api = checked.lower().ok_or_else(|| GenerateError::Invalid {
        path: spec.display().to_string(),
        count: 1,
        diagnostics: Vec::new(),
    })?;
    let generated = asyncforge_codegen::generate(&api, settings)?;
    let mut written = Vec::new();
    for f in &generated.files {
        let path = out.join(&f.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        // Leave untouched files alone, so cargo does not rebuild what did not change.
        let same = std::fs::read_to_string(&path).is_ok_and(|old| old == f.contents);
        if !same {
            std::fs::write(&path, &f.contents).map_err(io(&path))?;
        }
        written.push(path);
    }
    Ok(Output {
        written,
        inputs: checked.workspace.disk_paths(),
        warnings: describe(&checked, &api, &generated.warnings),
    })
}

/// What a build script uses: generate the types and messages of a spec into `OUT_DIR`.
///
/// In `build.rs`:
///
/// ```no_run
/// asyncforge::build::Builder::new("asyncapi.yaml").generate().expect("asyncforge");
/// ```
///
/// and in `src/lib.rs`: `include!(concat!(env!("OUT_DIR"), "/asyncforge.rs"));`.
pub mod build {
    use super::*;

    /// Generates a module file for `include!` and prints `cargo:rerun-if-changed` for the spec
    /// and every file it references.
    #[derive(Debug, Clone)]
    pub struct Builder {
        spec: PathBuf,
        out_dir: Option<PathBuf>,
        file_name: String,
        emit_cargo_lines: bool,
        default_protocol: Option<String>,
    }

    impl Builder {
        /// A builder for the spec at `spec` (relative to the crate's manifest directory).
        pub fn new(spec: impl Into<PathBuf>) -> Self {
            Builder {
                spec: spec.into(),
                out_dir: None,
                file_name: "asyncforge.rs".into(),
                emit_cargo_lines: true,
                default_protocol: None,
            }
        }

        /// Serves the channels of a document without servers with this protocol (`ws`,
        /// `wss`, `sse`, `http+sse`, `https+sse`); by default such channels get types and
        /// messages only.
        pub fn default_protocol(mut self, protocol: impl Into<String>) -> Self {
            self.default_protocol = Some(protocol.into());
            self
        }

        /// Writes to this directory instead of `$OUT_DIR`.
        pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
            self.out_dir = Some(dir.into());
            self
        }

        /// The generated file's name (default `asyncforge.rs`).
        pub fn file_name(mut self, name: impl Into<String>) -> Self {
            self.file_name = name.into();
            self
        }

        /// Whether to print `cargo:` lines (default true; off for use outside build scripts).
        pub fn emit_cargo_lines(mut self, yes: bool) -> Self {
            self.emit_cargo_lines = yes;
            self
        }

        /// Generates the module. Returns the path written and the inputs it depends on.
        pub fn generate(self) -> Result<Output, GenerateError> {
            let out_dir = match self
                .out_dir
                .clone()
                .or_else(|| std::env::var_os("OUT_DIR").map(PathBuf::from))
            {
                Some(d) => d,
                None => {
                    return Err(GenerateError::Io {
                        path: "OUT_DIR".into(),
                        source: std::io::Error::new(
                            std::io::ErrorKind::NotFound,
                            "OUT_DIR is not set: call this from a build script or set out_dir()",
                        ),
                    });
                }
            };
            let checked = asyncforge_spec::load(&self.spec);
            if self.emit_cargo_lines {
                for p in checked.workspace.disk_paths() {
                    println!("cargo:rerun-if-changed={}", p.display());
                }
            }
            if checked.generation_errors().next().is_some() {
                if self.emit_cargo_lines {
                    for d in checked.generation_errors() {
                        let place = d
                            .location
                            .as_ref()
                            .map(|l| asyncforge_spec::report::place(&checked.workspace, l))
                            .unwrap_or_default();
                        println!("cargo:warning={place}: {}", d.message);
                    }
                }
                return Err(GenerateError::Invalid {
                    path: self.spec.display().to_string(),
                    count: checked.diagnostics.iter().filter(|d| d.is_error()).count(),
                    diagnostics: checked.diagnostics.clone(),
                });
            }
            let api = checked.lower().ok_or_else(|| GenerateError::Invalid {
                path: self.spec.display().to_string(),
                count: 1,
                diagnostics: Vec::new(),
            })?;
            let (text, warnings) = asyncforge_codegen::generate_module_with_protocol(
                &api,
                self.default_protocol.as_deref(),
            )?;
            std::fs::create_dir_all(&out_dir).map_err(io(&out_dir))?;
            let path = out_dir.join(&self.file_name);
            let same = std::fs::read_to_string(&path).is_ok_and(|old| old == text);
            if !same {
                std::fs::write(&path, text).map_err(io(&path))?;
            }
            let warnings = describe(&checked, &api, &warnings);
            if self.emit_cargo_lines {
                for w in &warnings {
                    println!("cargo:warning={w}");
                }
            }
            Ok(Output {
                written: vec![path],
                inputs: checked.workspace.disk_paths(),
                warnings,
            })
        }
    }
}

/// Settings for a spec: crate name defaults to the spec's title in kebab case.
pub fn default_settings(api_title: &str) -> Settings {
    let name: String = api_title
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    let name = if name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        name
    } else {
        format!("api-{name}")
    };
    Settings::new(name).with_runtime(Runtime::Version(env!("CARGO_PKG_VERSION").to_owned()))
}
