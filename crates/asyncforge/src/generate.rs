//! The generator: one engine for `asyncforge generate rust`, build scripts and
//! `cargo xtask codegen`.
//!
//! [`Generator::generate`] runs one pipeline — read and check the document, lower it to the
//! IR, generate and render the code — and puts the result where its [`Settings`] say: the
//! files of a crate into a directory, or one module file for a build script's `include!`.
//! Only that last step differs between the two.

use std::path::{Path, PathBuf};

use asyncforge_codegen::{File, Layout, MODULE_FILE, Runtime};
use asyncforge_spec::{Checked, Diagnostic, report};

/// The name a document read from standard input is known by.
const STDIN: &str = "<stdin>";

/// Where the generated code goes.
#[derive(Debug, Clone)]
enum Target {
    /// A crate in this directory.
    Crate(PathBuf),
    /// One module in this file; `None`: [`MODULE_FILE`] in `$OUT_DIR`.
    Module(Option<PathBuf>),
}

/// What to generate and where to: start from [`Settings::crate_dir`], [`Settings::module`] or
/// [`Settings::build_script`], then change what differs from the defaults.
///
/// ```no_run
/// use asyncforge::{Generator, Runtime, Settings};
///
/// let settings = Settings::crate_dir("../harbor")
///     .crate_name("harbor")
///     .runtime(Runtime::Version("0.1.0".into()));
/// let output = Generator::new(settings).generate("specs/harbor-telemetry.yaml")?;
/// println!("{} files, {} warnings", output.files.len(), output.diagnostics.len());
/// # Ok::<(), asyncforge::GenerateError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Settings {
    target: Target,
    code: asyncforge_codegen::Settings,
    spec_name: Option<String>,
    templates: Option<PathBuf>,
    allow_invalid: bool,
    force: bool,
    check: bool,
    cargo_lines: bool,
}

impl Settings {
    fn with_target(target: Target) -> Self {
        let layout = match target {
            Target::Crate(_) => Layout::Crate,
            Target::Module(_) => Layout::Module,
        };
        Settings {
            target,
            code: asyncforge_codegen::Settings::default().layout(layout),
            spec_name: None,
            templates: None,
            allow_invalid: false,
            force: false,
            check: false,
            cargo_lines: false,
        }
    }

    /// A crate in `dir` (created if needed): `Cargo.toml`, `README.md`, `src/`, with the
    /// runtime vendored into it unless [`Settings::runtime`] says otherwise.
    pub fn crate_dir(dir: impl Into<PathBuf>) -> Self {
        Settings::with_target(Target::Crate(dir.into()))
    }

    /// One module file for `include!`, which depends on the `asyncforge-runtime` crate.
    pub fn module(file: impl Into<PathBuf>) -> Self {
        Settings::with_target(Target::Module(Some(file.into())))
    }

    /// What a build script wants: the module in `$OUT_DIR/asyncforge.rs`, and `cargo:` lines
    /// (`rerun-if-changed` for every file of the document, a `warning` per diagnostic).
    pub fn build_script() -> Self {
        Settings::with_target(Target::Module(None)).cargo_lines(true)
    }

    /// The crate's name (default: the API's title in kebab case).
    pub fn crate_name(mut self, name: impl Into<String>) -> Self {
        self.code = self.code.crate_name(name);
        self
    }

    /// Where the crate gets its runtime from (default: [`Runtime::Vendored`], copied into the
    /// crate). A [`Runtime::Path`] is written as given, so it is relative to the crate's
    /// directory, or absolute. A module always uses the `asyncforge-runtime` crate.
    pub fn runtime(mut self, runtime: Runtime) -> Self {
        self.code = self.code.runtime(runtime);
        self
    }

    /// Serves the channels of a document without `servers` with this protocol (`ws`, `wss`,
    /// `sse`, `http+sse`, `https+sse`); by default they get types and messages only.
    pub fn default_protocol(mut self, protocol: impl Into<String>) -> Self {
        self.code = self.code.default_protocol(protocol);
        self
    }

    /// Compiles the runtime's support for these engines into the crate, so that replicas of
    /// the service can share their state (default: none).
    pub fn engines(mut self, engines: impl IntoIterator<Item = crate::Engine>) -> Self {
        self.code = self.code.engines(engines);
        self
    }

    /// Puts `#![deny(warnings)]` in the crate (default: no).
    pub fn deny_warnings(mut self, yes: bool) -> Self {
        self.code = self.code.deny_warnings(yes);
        self
    }

    /// The document's name as the generated files mention it (default: its file name).
    pub fn spec_name(mut self, name: impl Into<String>) -> Self {
        self.spec_name = Some(name.into());
        self
    }

    /// A directory whose `Cargo.toml.tera` and `README.md.tera`, when present, replace the
    /// built-in templates of the crate's `Cargo.toml` and `README.md`.
    pub fn templates(mut self, dir: impl Into<PathBuf>) -> Self {
        self.templates = Some(dir.into());
        self
    }

    /// Generates from a document with errors too (default: no); what they break becomes
    /// `serde_json::Value` or is left out. A document without a supported version is still
    /// refused.
    pub fn allow_invalid(mut self, yes: bool) -> Self {
        self.allow_invalid = yes;
        self
    }

    /// Overwrites files that asyncforge did not generate (default: no, such a file is an
    /// error and nothing is written).
    pub fn force(mut self, yes: bool) -> Self {
        self.force = yes;
        self
    }

    /// Writes nothing, only compares (default: no): [`Output::changed`] then lists the files
    /// that differ from what would be written.
    pub fn check(mut self, yes: bool) -> Self {
        self.check = yes;
        self
    }

    /// Prints `cargo:rerun-if-changed` for every file of the document and `cargo:warning` for
    /// every diagnostic (default: only with [`Settings::build_script`]).
    pub fn cargo_lines(mut self, yes: bool) -> Self {
        self.cargo_lines = yes;
        self
    }
}

/// Why nothing was generated.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// The document itself cannot be read (missing, not text, …).
    #[error("{message}")]
    Unreadable {
        /// What went wrong, naming the file.
        message: String,
    },
    /// The document has errors that make the generated code wrong, or no supported version.
    #[error(
        "{path} is not a valid AsyncAPI document ({count} errors); run `asyncforge validate {path}`"
    )]
    Invalid {
        /// The document.
        path: String,
        /// Number of errors.
        count: usize,
        /// The document with its diagnostics (its workspace renders them).
        document: Box<Checked>,
    },
    /// The templates directory is not a directory.
    #[error("{}: not a directory (it holds Cargo.toml.tera and/or README.md.tera)", dir.display())]
    Templates {
        /// The directory.
        dir: PathBuf,
    },
    /// A module was to go to `$OUT_DIR`, which is not set.
    #[error("OUT_DIR is not set: generate from a build script, or use Settings::module")]
    NoOutDir,
    /// Code generation failed.
    #[error(transparent)]
    Codegen(#[from] asyncforge_codegen::Error),
    /// A file at the output was not written by asyncforge ([`Settings::force`] overwrites it).
    #[error(
        "{path} exists and was not generated by asyncforge: not overwritten (move it away, or pass --force)"
    )]
    NotOurs {
        /// The file.
        path: String,
    },
    /// Reading a template or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// What a generation produced.
#[derive(Debug)]
pub struct Output {
    /// The document, with the files it was read from (which render the diagnostics) and the
    /// validator's diagnostics.
    pub document: Checked,
    /// What to show: the document's errors that did not stop generation (those of examples,
    /// defaults and tags, or all of them with [`Settings::allow_invalid`]), then the
    /// generator's warnings (`generate-…` codes), each at the node it concerns.
    pub diagnostics: Vec<Diagnostic>,
    /// Every generated file, where it is (or would be) written.
    pub files: Vec<PathBuf>,
    /// The files written because they were missing or differed; with [`Settings::check`], the
    /// files that differ.
    pub changed: Vec<PathBuf>,
}

impl Output {
    /// Every file the document was read from (what a build script reruns on).
    pub fn inputs(&self) -> Vec<PathBuf> {
        self.document.workspace.disk_paths()
    }
}

/// The generator. See [`Settings`] for what it can be told.
#[derive(Debug, Clone)]
pub struct Generator {
    settings: Settings,
}

impl Generator {
    /// A generator with these settings.
    pub fn new(settings: Settings) -> Self {
        Generator { settings }
    }

    /// Generates from the document at `spec` (`-`: standard input, whose relative `$ref`s
    /// resolve against the current directory).
    pub fn generate(&self, spec: impl AsRef<Path>) -> Result<Output, GenerateError> {
        let spec = spec.as_ref();
        let s = &self.settings;
        let document = read(spec)?;
        let ws = &document.workspace;
        if s.cargo_lines {
            for p in ws.disk_paths() {
                println!("cargo:rerun-if-changed={}", p.display());
            }
        }
        if ws.root().is_none() {
            let message = document
                .diagnostics
                .iter()
                .find(|d| d.is_error())
                .map_or_else(
                    || format!("cannot read {}", spec.display()),
                    |d| d.message.clone(),
                );
            return Err(GenerateError::Unreadable { message });
        }
        let blocked = !s.allow_invalid && document.generation_errors().next().is_some();
        let api = match document.lower() {
            Some(api) if !blocked => api,
            _ => {
                let errors = document.diagnostics.iter().filter(|d| d.is_error());
                if s.cargo_lines {
                    for d in errors.clone() {
                        println!("cargo:warning={}", report::short(ws, d));
                    }
                }
                return Err(GenerateError::Invalid {
                    path: spec.display().to_string(),
                    count: errors.count().max(1),
                    document: Box::new(document),
                });
            }
        };
        let generated = asyncforge_codegen::generate(&api, &self.code_settings(spec)?)?;
        let places = self.places(generated.files)?;
        let changed = differing(&places, !s.force && !s.check)?;
        if !s.check {
            for (path, f) in &changed {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(io(parent))?;
                }
                std::fs::write(path, &f.contents).map_err(io(path))?;
            }
        }
        let diagnostics: Vec<Diagnostic> = document
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .cloned()
            .chain(generated.warnings)
            .collect();
        if s.cargo_lines {
            for d in &diagnostics {
                println!("cargo:warning={}", report::short(ws, d));
            }
        }
        let changed = changed.into_iter().map(|(path, _)| path.clone()).collect();
        Ok(Output {
            files: places.into_iter().map(|(path, _)| path).collect(),
            changed,
            diagnostics,
            document,
        })
    }

    /// The code generator's settings for the document at `spec`: its name and the templates.
    fn code_settings(&self, spec: &Path) -> Result<asyncforge_codegen::Settings, GenerateError> {
        let s = &self.settings;
        let name = match &s.spec_name {
            Some(name) => name.clone(),
            None if spec == Path::new("-") => STDIN.to_owned(),
            None => spec
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        let mut code = s.code.clone().spec_name(name);
        if let Some(dir) = &s.templates {
            if !dir.is_dir() {
                return Err(GenerateError::Templates { dir: dir.clone() });
            }
            for (file, cargo) in [("Cargo.toml.tera", true), ("README.md.tera", false)] {
                let path = dir.join(file);
                if !path.exists() {
                    continue;
                }
                let text = std::fs::read_to_string(&path).map_err(io(&path))?;
                code = if cargo {
                    code.cargo_template(text)
                } else {
                    code.readme_template(text)
                };
            }
        }
        Ok(code)
    }

    /// Where each generated file goes: under the crate's directory, or at the module's file.
    fn places(&self, files: Vec<File>) -> Result<Vec<(PathBuf, File)>, GenerateError> {
        Ok(match &self.settings.target {
            Target::Crate(dir) => files.into_iter().map(|f| (dir.join(&f.path), f)).collect(),
            Target::Module(file) => {
                let file = match file {
                    Some(file) => file.clone(),
                    None => std::env::var_os("OUT_DIR")
                        .map(|d| PathBuf::from(d).join(MODULE_FILE))
                        .ok_or(GenerateError::NoOutDir)?,
                };
                files.into_iter().map(|f| (file.clone(), f)).collect()
            }
        })
    }
}

/// Loads and checks a document from a file, or from standard input when `spec` is `-`.
fn read(spec: &Path) -> Result<Checked, GenerateError> {
    if spec != Path::new("-") {
        return Ok(asyncforge_spec::load(spec));
    }
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut bytes).map_err(|e| {
        GenerateError::Unreadable {
            message: format!("cannot read standard input: {e}"),
        }
    })?;
    Ok(asyncforge_spec::load_bytes(
        Path::new(STDIN),
        &bytes,
        &asyncforge_spec::LoadOptions::default(),
    ))
}

/// The files whose contents differ from what is at their place (or that are missing). With
/// `guard`, a file there that asyncforge did not write is an error, found before anything is
/// written.
fn differing(
    places: &[(PathBuf, File)],
    guard: bool,
) -> Result<Vec<&(PathBuf, File)>, GenerateError> {
    let mut out = Vec::new();
    for place in places {
        let (path, f) = place;
        match std::fs::read(path) {
            Ok(old) if old == f.contents.as_bytes() => {}
            Ok(old) => {
                if guard && !generated_by_us(&String::from_utf8_lossy(&old)) {
                    return Err(GenerateError::NotOurs {
                        path: path.display().to_string(),
                    });
                }
                out.push(place);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => out.push(place),
            Err(e) => return Err(io(path)(e)),
        }
    }
    Ok(out)
}

/// Whether the text of a file marks it as written by asyncforge (an `@generated` line near
/// its top, which every generated file and template has).
fn generated_by_us(text: &str) -> bool {
    text.lines().take(5).any(|l| l.contains("@generated"))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> GenerateError + '_ {
    move |source| GenerateError::Io {
        path: path.display().to_string(),
        source,
    }
}
