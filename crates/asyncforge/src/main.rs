//! The `asyncforge` command line.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use asyncforge::spec::report::{self, Format};
use asyncforge::spec::{Checked, LoadOptions, Severity};
use clap::{Parser, Subcommand, ValueEnum};

// Loading builds many small strings and maps; mimalloc makes that markedly cheaper than the
// system allocator (see ARCHITECTURE.md, "Dependencies").
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "asyncforge",
    version,
    about = "AsyncAPI toolchain: validate documents and generate Rust from them."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate AsyncAPI 2.0–3.1 documents (structure and semantic rules).
    Validate(ValidateArgs),
    /// Print the version-independent model (IR) of a document.
    Inspect(InspectArgs),
    /// Make one self-contained document from a multi-file one.
    Bundle(OutputArgs),
    /// Rewrite a document in YAML or JSON, keeping its content and key order.
    Format(OutputArgs),
    /// Convert an AsyncAPI 2.x document to 3.0.0 or 3.1.0.
    Convert(ConvertArgs),
    /// Compare two documents (any versions) and classify every change: breaking,
    /// non-breaking or unclassified. Exit status 1 when a change at `--fail-on` is found.
    Diff(DiffArgs),
    /// Generate code from a document.
    #[command(subcommand)]
    Generate(GenerateCommand),
    /// Run the language server (LSP over standard input and output) for editors.
    Lsp {
        /// Accepted for editors that pass it; stdio is the only transport.
        #[arg(long)]
        stdio: bool,
    },
}

#[derive(Subcommand)]
enum GenerateCommand {
    /// Generate a Rust crate: payload types, message types, and the crate around them.
    Rust(RustArgs),
}

#[derive(clap::Args)]
struct RustArgs {
    /// The AsyncAPI document (`-`: standard input, `$ref`s relative to the current directory).
    #[arg(long)]
    spec: PathBuf,
    /// Directory of the generated crate (created if needed).
    #[arg(long)]
    out: PathBuf,
    /// Crate name (default: from the API title).
    #[arg(long)]
    crate_name: Option<String>,
    /// The runtime: `vendored` (copied into the crate, which then depends on crates.io crates
    /// only), `path=DIR` (a checkout's `crates/asyncforge-runtime`) or `version=X.Y.Z`.
    #[arg(long, default_value = "vendored")]
    runtime: String,
    /// Directory with `Cargo.toml.tera` and/or `README.md.tera` overriding the built-in templates.
    #[arg(long)]
    templates: Option<PathBuf>,
    /// Put `#![deny(warnings)]` in the generated crate.
    #[arg(long)]
    deny_warnings: bool,
    /// Generate even when the document has errors (what they break becomes `serde_json::Value`).
    #[arg(long)]
    allow_invalid: bool,
    /// Overwrite files in `--out` that asyncforge did not generate.
    #[arg(long)]
    force: bool,
    /// Serve the channels of a document without servers with this protocol (`ws`, `wss`,
    /// `sse`, `http+sse`, `https+sse`).
    #[arg(long, value_name = "PROTOCOL", value_parser = ["ws", "wss", "sse", "http+sse", "https+sse"])]
    default_protocol: Option<String>,
    /// Engines the service keeps shared state in, so that it runs as several replicas
    /// (`redis` or `nats`: WebSocket backplane; `postgres`: webhook outbox and received ids;
    /// `redis`: received ids). Comma-separated.
    #[arg(long = "with", value_name = "ENGINE", value_delimiter = ',')]
    engines: Vec<asyncforge::Engine>,
    /// Generate again whenever the document or a file it references changes (changes inside
    /// `--out` are ignored).
    #[arg(long)]
    watch: bool,
}

#[derive(clap::Args)]
struct ConvertArgs {
    #[command(flatten)]
    output: OutputArgs,
    /// Target version.
    #[arg(long = "target", value_parser = ["3.0.0", "3.1.0"], default_value = "3.0.0")]
    target: String,
}

#[derive(Clone, Copy, ValueEnum)]
enum Syntax {
    Yaml,
    Json,
}

#[derive(clap::Args)]
struct OutputArgs {
    /// The document.
    file: PathBuf,
    /// Where to write (default: standard output).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Output syntax (default: from the output file's extension, else the input's).
    #[arg(long = "to", value_enum)]
    syntax: Option<Syntax>,
}

impl OutputArgs {
    fn syntax(&self) -> asyncforge::spec::tools::emit::Syntax {
        use asyncforge::spec::tools::emit::Syntax as S;
        match self.syntax {
            Some(Syntax::Yaml) => S::Yaml,
            Some(Syntax::Json) => S::Json,
            None => S::from_path(self.output.as_deref().unwrap_or(&self.file)),
        }
    }

    fn write(&self, value: &serde_json::Value) -> ExitCode {
        let text = asyncforge::spec::tools::emit::to_string(value, self.syntax());
        match &self.output {
            Some(path) => match std::fs::write(path, text) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("cannot write {}: {e}", path.display());
                    ExitCode::from(2)
                }
            },
            None => {
                let mut out = std::io::stdout().lock();
                if out.write_all(text.as_bytes()).is_err() {
                    return ExitCode::from(2);
                }
                ExitCode::SUCCESS
            }
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum DiffFormat {
    /// Readable text.
    Human,
    /// `{"summary", "changes"}`.
    Json,
    /// A Markdown table.
    Markdown,
    /// GitHub Actions workflow commands.
    Github,
    /// SARIF 2.1.0.
    Sarif,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum FailOn {
    /// Breaking changes.
    Breaking,
    /// Breaking or unclassified changes.
    Unclassified,
    /// Any change, even a non-breaking one.
    Any,
    /// Never (exit status 0 unless the input is unusable).
    None,
}

#[derive(clap::Args)]
struct DiffArgs {
    /// The old document: a file, or `REV:path` (read with `git show`).
    old: String,
    /// The new document: a file, or `REV:path`.
    new: String,
    /// Which changes make the exit status 1.
    #[arg(long, value_enum, default_value_t = FailOn::Breaking)]
    fail_on: FailOn,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DiffFormat::Human)]
    format: DiffFormat,
}

#[derive(Clone, Copy, ValueEnum)]
enum InspectFormat {
    /// A readable summary.
    Human,
    /// The whole IR as JSON (arenas and ids).
    Json,
    /// The id-free canonical form used to compare documents.
    Canonical,
}

#[derive(clap::Args)]
struct InspectArgs {
    /// The document.
    file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = InspectFormat::Human)]
    format: InspectFormat,
}

#[derive(Clone, Copy, ValueEnum)]
enum OutputFormat {
    Human,
    Json,
    Sarif,
    Github,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, PartialOrd, Ord)]
enum MinSeverity {
    Error,
    Warning,
    Info,
}

#[derive(clap::Args)]
struct ValidateArgs {
    /// Documents to validate (YAML or JSON).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    format: OutputFormat,
    /// Exit with status 1 when there are warnings, not only errors.
    #[arg(long)]
    deny_warnings: bool,
    /// Least severe diagnostics to print (all are counted).
    #[arg(long, value_enum, default_value_t = MinSeverity::Warning)]
    severity: MinSeverity,
    /// Fetch `http(s)://` references instead of reporting them.
    #[arg(long)]
    allow_remote_refs: bool,
    /// Colored output (`NO_COLOR` is respected with `auto`).
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    /// Largest file accepted, in bytes.
    #[arg(long, value_name = "BYTES")]
    max_file_size: Option<u64>,
    /// Validate again whenever a document or a file it references changes.
    #[arg(long)]
    watch: bool,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.command {
        Command::Validate(args) => {
            let roots = args.files.clone();
            watching(args.watch, roots, None, || validate(&args))
        }
        Command::Inspect(args) => inspect(args),
        Command::Bundle(args) => bundle(args),
        Command::Format(args) => format(args),
        Command::Convert(args) => convert(args),
        Command::Diff(args) => diff(args),
        Command::Generate(GenerateCommand::Rust(args)) => {
            let (roots, out) = (vec![args.spec.clone()], Some(args.out.clone()));
            watching(args.watch, roots, out, || generate_rust(&args))
        }
        Command::Lsp { stdio: _ } => match asyncforge_lsp::run_stdio() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("asyncforge lsp: {e}");
                ExitCode::from(1)
            }
        },
    }
}

/// Runs a command once, or with `--watch` again after every change to what it read.
fn watching(
    watch: bool,
    roots: Vec<PathBuf>,
    ignore: Option<PathBuf>,
    mut once: impl FnMut() -> asyncforge::watch::Run,
) -> ExitCode {
    if !watch {
        return once().status;
    }
    let options = asyncforge::watch::Options { roots, ignore };
    asyncforge::watch::run(&options, once).unwrap_or_else(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })
}

fn generate_rust(args: &RustArgs) -> asyncforge::watch::Run {
    let mut inputs = Vec::new();
    let status = generate_rust_into(args, &mut inputs);
    asyncforge::watch::Run { status, inputs }
}

/// `generate rust`; `inputs` receives the files the document was read from.
fn generate_rust_into(args: &RustArgs, inputs: &mut Vec<PathBuf>) -> ExitCode {
    use asyncforge::{GenerateError, Generator, Settings};
    let runtime: asyncforge::Runtime = match args.runtime.parse() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: --runtime {e}");
            return ExitCode::from(2);
        }
    };
    let mut settings = Settings::crate_dir(&args.out)
        .runtime(runtime_from(runtime, &args.out))
        .deny_warnings(args.deny_warnings)
        .allow_invalid(args.allow_invalid)
        .force(args.force);
    if let Some(name) = &args.crate_name {
        settings = settings.crate_name(name.clone());
    }
    if let Some(protocol) = &args.default_protocol {
        settings = settings.default_protocol(protocol.clone());
    }
    settings = settings.engines(args.engines.clone());
    if let Some(dir) = &args.templates {
        settings = settings.templates(dir);
    }
    let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::io::stderr().is_terminal();
    match Generator::new(settings).generate(&args.spec) {
        Ok(out) => {
            inputs.extend(out.inputs());
            for d in &out.diagnostics {
                eprintln!("{}", report::human(&out.document.workspace, d, color));
            }
            eprintln!(
                "generated {} files into {}",
                out.files.len(),
                args.out.display()
            );
            ExitCode::SUCCESS
        }
        Err(GenerateError::Invalid { document, .. }) => {
            inputs.extend(document.workspace.disk_paths());
            for d in document.diagnostics.iter().filter(|d| d.is_error()) {
                eprintln!("{}", report::human(&document.workspace, d, color));
            }
            eprintln!(
                "{}: not generated: the document has errors",
                args.spec.display()
            );
            ExitCode::from(1)
        }
        Err(e @ GenerateError::Templates { .. }) => {
            eprintln!("error: --templates {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(match e {
                // An engine the document has no use for: the command line asked for it.
                GenerateError::Codegen(asyncforge_codegen::Error::Engine { .. }) => 2,
                GenerateError::Codegen(_) => 1,
                _ => 2,
            })
        }
    }
}

/// A `path=` runtime as the generated crate must spell it: a relative path given on the
/// command line is relative to the current directory, but Cargo resolves it from the crate's
/// own directory, so it is rewritten relative to `out` (or made absolute when no relative path
/// leads there).
fn runtime_from(runtime: asyncforge::Runtime, out: &std::path::Path) -> asyncforge::Runtime {
    use asyncforge::Runtime;
    let Runtime::Path(p) = &runtime else {
        return runtime;
    };
    let given = std::path::Path::new(p);
    if given.is_absolute() {
        return runtime;
    }
    let Ok(cwd) = std::env::current_dir() else {
        return runtime;
    };
    let target = normalize(&cwd.join(given));
    let base = normalize(&cwd.join(out));
    let rel = relative(&target, &base).unwrap_or(target);
    Runtime::Path(rel.to_string_lossy().replace('\\', "/"))
}

/// `path` with `.` and `..` components folded (lexically).
fn normalize(path: &std::path::Path) -> std::path::PathBuf {
    use std::path::Component;
    let mut out = std::path::PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The path leading from directory `base` to `target` (both absolute and normalized).
fn relative(target: &std::path::Path, base: &std::path::Path) -> Option<std::path::PathBuf> {
    let t: Vec<_> = target.components().collect();
    let b: Vec<_> = base.components().collect();
    if t.first() != b.first() {
        return None;
    }
    let common = t.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut rel = std::path::PathBuf::new();
    for _ in common..b.len() {
        rel.push("..");
    }
    for c in &t[common..] {
        rel.push(c);
    }
    Some(rel)
}

fn convert(args: ConvertArgs) -> ExitCode {
    let checked = match load_valid(&args.output.file) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let (Some(from), Some(target)) = (
        checked.version,
        asyncforge::spec::Version::parse(&args.target),
    ) else {
        return ExitCode::from(2);
    };
    match asyncforge::spec::tools::convert_workspace_with_notes(&checked.workspace, from, target) {
        Ok((v, notes)) => {
            for n in &notes {
                eprintln!("note: {n}");
            }
            args.output.write(&v)
        }
        Err(e) => {
            eprintln!("{}: {e}", args.output.file.display());
            ExitCode::from(1)
        }
    }
}

fn bundle(args: OutputArgs) -> ExitCode {
    let checked = match load_valid(&args.file) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let Some(version) = checked.version else {
        return ExitCode::from(1);
    };
    let value = asyncforge::spec::tools::bundle::bundle(&checked.workspace, version);
    args.write(&value)
}

fn format(args: OutputArgs) -> ExitCode {
    // Formatting works on any well-formed YAML/JSON, valid AsyncAPI or not.
    let mut diags = Vec::new();
    let ws = asyncforge::spec::Workspace::load(&args.file, &LoadOptions::default(), &mut diags);
    let Some(root) = ws.root() else {
        for d in &diags {
            eprintln!("{}", report::human(&ws, d, false));
        }
        return ExitCode::from(if diags.iter().any(|d| d.code == "io-error") {
            2
        } else {
            1
        });
    };
    args.write(root.value)
}

/// Loads a document for the document tools: errors are printed and end the command.
fn load_valid(path: &std::path::Path) -> Result<Checked, ExitCode> {
    let checked = asyncforge::spec::load(path);
    if checked.has_errors() || checked.version.is_none() {
        let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            && std::io::stderr().is_terminal();
        for d in checked.diagnostics.iter().filter(|d| d.is_error()) {
            eprintln!("{}", report::human(&checked.workspace, d, color));
        }
        let io = checked.workspace.root().is_none();
        eprintln!(
            "{}: the document has errors; run `asyncforge validate` for details",
            path.display()
        );
        return Err(ExitCode::from(if io { 2 } else { 1 }));
    }
    Ok(checked)
}

/// Reads one side of `diff`: a file, or `REV:path` through `git show` when no such file
/// exists. A revision's document is read as git has it at that revision, and so is every
/// file it references (`path` is relative to the repository's top, as git reads it, or to the
/// current directory when it starts with `./` or `../`).
fn load_side(arg: &str) -> Result<Checked, String> {
    let path = std::path::Path::new(arg);
    if path.exists() || !arg.contains(':') {
        return Ok(asyncforge::spec::load(path));
    }
    let (rev, file) = arg.split_once(':').unwrap_or(("", arg));
    let git = |args: &[&str]| -> Result<Vec<u8>, String> {
        let out = std::process::Command::new("git")
            .args(args)
            .output()
            .map_err(|e| format!("cannot run git: {e}"))?;
        if out.status.success() {
            Ok(out.stdout)
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
        }
    };
    let top = git(&["rev-parse", "--show-toplevel"]).map_err(|e| format!("{arg}: {e}"))?;
    let top = std::path::PathBuf::from(String::from_utf8_lossy(&top).trim());
    let cwd = std::env::current_dir().map_err(|e| format!("{arg}: {e}"))?;
    let absolute = if file.starts_with("./") || file.starts_with("../") {
        cwd.join(file)
    } else {
        top.join(file)
    };
    let root = repo_relative(&top, &absolute)
        .ok_or_else(|| format!("{arg}: not inside the repository"))?;
    let bytes = git(&["show", &format!("{rev}:{root}")])
        .map_err(|e| format!("{arg}: git show failed: {e}"))?;
    let options = LoadOptions {
        local: Some(std::sync::Arc::new(Revision {
            rev: rev.to_owned(),
            top,
        })),
        ..LoadOptions::default()
    };
    // Named as the user named it when that is where git found it.
    let shown = if cwd.join(file) == absolute {
        std::path::PathBuf::from(file)
    } else {
        absolute
    };
    Ok(asyncforge::spec::load_bytes(&shown, &bytes, &options))
}

/// The files of one git revision, by their absolute paths inside the repository at `top`.
struct Revision {
    rev: String,
    top: std::path::PathBuf,
}

impl asyncforge::spec::workspace::Fetch for Revision {
    fn fetch(&self, key: &str) -> Result<Vec<u8>, String> {
        let rel = repo_relative(&self.top, std::path::Path::new(key))
            .ok_or_else(|| format!("`{key}` is outside the repository"))?;
        let out = std::process::Command::new("git")
            .args(["show", &format!("{}:{rel}", self.rev)])
            .output()
            .map_err(|e| format!("cannot run git: {e}"))?;
        if out.status.success() {
            Ok(out.stdout)
        } else {
            Err(format!("not in {}: {rel}", self.rev))
        }
    }
}

/// `path` (absolute) as git names it in the repository at `top`: relative, `/`-separated,
/// `..` resolved; `None` outside the repository.
fn repo_relative(top: &std::path::Path, path: &std::path::Path) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    for c in path.strip_prefix(top).ok()?.components() {
        match c {
            std::path::Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            std::path::Component::ParentDir => {
                parts.pop()?;
            }
            _ => {}
        }
    }
    Some(parts.join("/"))
}

fn diff(args: DiffArgs) -> ExitCode {
    use asyncforge::spec::diff;
    let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::io::stderr().is_terminal();
    let mut apis = Vec::new();
    for arg in [&args.old, &args.new] {
        let checked = match load_side(arg) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
        let api = if checked.has_errors() {
            None
        } else {
            checked.lower()
        };
        let Some(api) = api else {
            for d in checked.diagnostics.iter().filter(|d| d.is_error()) {
                eprintln!("{}", report::human(&checked.workspace, d, color));
            }
            eprintln!("{arg}: the document has errors; run `asyncforge validate` for details");
            return ExitCode::from(2);
        };
        apis.push(api);
    }
    // Schema comparison recurses (at most `diff::schema` depth limit levels); give it room.
    let changes = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn_scoped(scope, || diff::diff(&apis[0], &apis[1]))
            .ok()
            .and_then(|h| h.join().ok())
    });
    let Some(changes) = changes else {
        eprintln!("error: the comparison failed");
        return ExitCode::from(2);
    };
    let text = match args.format {
        DiffFormat::Human => diff::render::human(&changes),
        DiffFormat::Json => {
            serde_json::to_string_pretty(&diff::render::json(&changes)).unwrap_or_default() + "\n"
        }
        DiffFormat::Markdown => diff::render::markdown(&changes),
        DiffFormat::Github => diff::render::github(&changes),
        DiffFormat::Sarif => {
            serde_json::to_string_pretty(&diff::render::sarif(&changes)).unwrap_or_default() + "\n"
        }
    };
    let mut out = std::io::stdout().lock();
    if out
        .write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .is_err()
    {
        return ExitCode::from(2);
    }
    let counts = diff::render::Counts::of(&changes);
    let failed = match args.fail_on {
        FailOn::Breaking => counts.breaking > 0,
        FailOn::Unclassified => counts.breaking + counts.unclassified > 0,
        FailOn::Any => !changes.is_empty(),
        FailOn::None => false,
    };
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn inspect(args: InspectArgs) -> ExitCode {
    let checked = match load_valid(&args.file) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let Some(api) = checked.lower() else {
        return ExitCode::from(1);
    };
    let text = match args.format {
        InspectFormat::Human => asyncforge::spec::ir::summary(&api),
        InspectFormat::Json => serde_json::to_string_pretty(&api).unwrap_or_default(),
        InspectFormat::Canonical => {
            serde_json::to_string_pretty(&asyncforge::spec::ir::canonical(&api)).unwrap_or_default()
        }
    };
    println!("{}", text.trim_end());
    ExitCode::SUCCESS
}

fn shown(sev: Severity, min: MinSeverity) -> bool {
    match min {
        MinSeverity::Error => sev == Severity::Error,
        MinSeverity::Warning => matches!(sev, Severity::Error | Severity::Warning),
        MinSeverity::Info => true,
    }
}

fn validate(args: &ValidateArgs) -> asyncforge::watch::Run {
    let mut options = LoadOptions::default();
    if let Some(max) = args.max_file_size {
        options.limits.max_file_size = max;
    }
    if args.allow_remote_refs {
        options.remote = Some(Arc::new(asyncforge::remote::HttpFetch::default()));
    }
    let color = match args.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stdout().is_terminal()
        }
    };
    let format = match args.format {
        OutputFormat::Human => Format::Human,
        OutputFormat::Json => Format::Json,
        OutputFormat::Sarif => Format::Sarif,
        OutputFormat::Github => Format::Github,
    };
    let mut io_failure = false;
    let results: Vec<(PathBuf, Checked)> = args
        .files
        .iter()
        .map(|f| (f.clone(), asyncforge::spec::load_with(f, &options)))
        .collect();
    let mut failed = false;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut json_docs = Vec::new();
    for (path, checked) in &results {
        let errors = checked.diagnostics.iter().filter(|d| d.is_error()).count();
        let warnings = checked
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count();
        let infos = checked.diagnostics.len() - errors - warnings;
        if errors > 0 || (args.deny_warnings && warnings > 0) {
            failed = true;
        }
        // A root file that could not be read at all is an I/O failure, not an invalid document.
        if checked.workspace.root().is_none()
            && checked.diagnostics.iter().any(|d| d.code == "io-error")
        {
            io_failure = true;
        }
        let visible: Vec<_> = checked
            .diagnostics
            .iter()
            .filter(|d| shown(d.severity, args.severity))
            .collect();
        match format {
            Format::Human => {
                for d in &visible {
                    let _ = writeln!(out, "{}", report::human(&checked.workspace, d, color));
                }
                let verdict = if errors > 0 { "invalid" } else { "valid" };
                let version = checked.version.map(|v| format!(" (AsyncAPI {v})")).unwrap_or_default();
                let hidden = checked.diagnostics.len() - visible.len();
                let _ = writeln!(
                    out,
                    "{}: {verdict}{version}: {errors} error{}, {warnings} warning{}, {infos} info{}{}",
                    path.display(),
                    plural(errors),
                    plural(warnings),
                    plural(infos),
                    if hidden > 0 { format!(" ({hidden} not shown; see --severity)") } else { String::new() },
                );
            }
            Format::Github => {
                for d in &visible {
                    let _ = writeln!(out, "{}", report::github(&checked.workspace, d));
                }
            }
            Format::Json => json_docs.push(serde_json::json!({
                "file": path.display().to_string(),
                "valid": errors == 0,
                "version": checked.version.map(|v| v.to_string()),
                "errors": errors,
                "warnings": warnings,
                "infos": infos,
                "diagnostics": visible.iter().map(|d| report::json(&checked.workspace, d)).collect::<Vec<_>>(),
            })),
            Format::Sarif => {}
        }
    }
    match format {
        Format::Json => {
            let _ = writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&json_docs).unwrap_or_default()
            );
        }
        Format::Sarif => {
            let filtered: Vec<(
                &asyncforge::spec::Workspace,
                Vec<asyncforge::spec::Diagnostic>,
            )> = results
                .iter()
                .map(|(_, c)| {
                    (
                        &c.workspace,
                        c.diagnostics
                            .iter()
                            .filter(|d| shown(d.severity, args.severity))
                            .cloned()
                            .collect(),
                    )
                })
                .collect();
            let refs: Vec<(
                &asyncforge::spec::Workspace,
                &[asyncforge::spec::Diagnostic],
            )> = filtered.iter().map(|(w, d)| (*w, d.as_slice())).collect();
            let _ = writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&report::sarif(&refs)).unwrap_or_default()
            );
        }
        _ => {}
    }
    let _ = out.flush();
    let status = if io_failure {
        ExitCode::from(2)
    } else if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    };
    let inputs = results
        .iter()
        .flat_map(|(_, c)| c.workspace.disk_paths())
        .collect();
    if !args.watch {
        // The process ends here: freeing a large document node by node would only delay that.
        std::mem::forget(results);
    }
    asyncforge::watch::Run { status, inputs }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
