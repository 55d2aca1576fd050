//! What [`generate`](crate::generate) is asked for: [`Settings`], with the [`Layout`] of the
//! output and the [`Runtime`] a generated crate uses.

/// Default `Cargo.toml` template (`templates/Cargo.toml.tera`).
pub const DEFAULT_CARGO_TEMPLATE: &str = include_str!("../../../templates/Cargo.toml.tera");
/// Default `README.md` template (`templates/README.md.tera`).
pub const DEFAULT_README_TEMPLATE: &str = include_str!("../../../templates/README.md.tera");

/// Where the generated crate gets its runtime from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runtime {
    /// `asyncforge-runtime = { path = "…" }`.
    Path(String),
    /// `asyncforge-runtime = "…"` from a registry.
    Version(String),
    /// The runtime modules are written into the generated crate (no asyncforge dependency).
    Vendored,
}

impl std::str::FromStr for Runtime {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "vendored" {
            return Ok(Runtime::Vendored);
        }
        match s.split_once('=') {
            Some(("path", p)) => Ok(Runtime::Path(p.to_owned())),
            Some(("version", v)) => Ok(Runtime::Version(v.to_owned())),
            _ => Err(format!(
                "`{s}`: expected `path=DIR`, `version=X.Y` or `vendored`"
            )),
        }
    }
}

/// An engine a generated service keeps shared state in, so that it runs as several
/// replicas: the runtime support for it is compiled into the crate (`--with postgres`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Engine {
    /// Postgres: the webhook outbox shared by sender replicas, and receivers' webhook ids.
    Postgres,
    /// Redis: the WebSocket backplane (pub/sub), and receivers' webhook ids.
    Redis,
    /// NATS: the WebSocket backplane (core subjects).
    Nats,
}

impl Engine {
    /// The engine's name, as `--with` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Postgres => "postgres",
            Engine::Redis => "redis",
            Engine::Nats => "nats",
        }
    }
}

impl std::str::FromStr for Engine {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "postgres" => Ok(Engine::Postgres),
            "redis" => Ok(Engine::Redis),
            "nats" => Ok(Engine::Nats),
            _ => Err(format!("`{s}`: expected `postgres`, `redis` or `nats`")),
        }
    }
}

/// How the generated code is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// A crate: `Cargo.toml`, `README.md`, one `src/` file per module, and the runtime as
    /// [`Settings::runtime`] says.
    #[default]
    Crate,
    /// One file, [`MODULE_FILE`], holding the same modules inline, for `include!` from a build
    /// script; it reaches the runtime through the `asyncforge-runtime` crate. The crate name,
    /// runtime, templates and `deny_warnings` do not apply.
    Module,
}

/// The name of the one file of [`Layout::Module`].
pub const MODULE_FILE: &str = "asyncforge.rs";

/// How to generate: [`Settings::default`] (or [`Settings::new`] with a crate name) and the
/// builder methods.
#[derive(Debug, Clone)]
pub struct Settings {
    pub(crate) layout: Layout,
    /// `None`: from the API's title.
    pub(crate) crate_name: Option<String>,
    pub(crate) runtime: Runtime,
    pub(crate) cargo_template: String,
    pub(crate) readme_template: String,
    pub(crate) deny_warnings: bool,
    pub(crate) spec_name: String,
    pub(crate) transports: bool,
    pub(crate) default_protocol: Option<String>,
    pub(crate) engines: Vec<Engine>,
}

impl Default for Settings {
    /// A crate named after the API's title in kebab case, with the runtime vendored into it
    /// (its only dependencies are then crates.io crates), servers and clients included.
    fn default() -> Self {
        Settings {
            layout: Layout::Crate,
            crate_name: None,
            runtime: Runtime::Vendored,
            cargo_template: DEFAULT_CARGO_TEMPLATE.to_owned(),
            readme_template: DEFAULT_README_TEMPLATE.to_owned(),
            deny_warnings: false,
            spec_name: "asyncapi.yaml".to_owned(),
            transports: true,
            default_protocol: None,
            engines: Vec::new(),
        }
    }
}

impl Settings {
    /// The default settings for a crate with this name.
    pub fn new(crate_name: impl Into<String>) -> Self {
        Settings::default().crate_name(crate_name)
    }

    /// A crate, or one module for `include!` (default: a crate).
    pub fn layout(mut self, layout: Layout) -> Self {
        self.layout = layout;
        self
    }

    /// The generated crate's name (default: the API's title in kebab case).
    pub fn crate_name(mut self, name: impl Into<String>) -> Self {
        self.crate_name = Some(name.into());
        self
    }

    /// Where the generated crate gets its runtime from (default: vendored into it).
    pub fn runtime(mut self, runtime: Runtime) -> Self {
        self.runtime = runtime;
        self
    }

    /// Replaces the `Cargo.toml` template (tera).
    pub fn cargo_template(mut self, template: impl Into<String>) -> Self {
        self.cargo_template = template.into();
        self
    }

    /// Replaces the `README.md` template (tera).
    pub fn readme_template(mut self, template: impl Into<String>) -> Self {
        self.readme_template = template.into();
        self
    }

    /// Puts `#![deny(warnings)]` in the generated crate's `lib.rs` (default: no).
    pub fn deny_warnings(mut self, yes: bool) -> Self {
        self.deny_warnings = yes;
        self
    }

    /// The document's name as the generated files mention it (default `asyncapi.yaml`).
    pub fn spec_name(mut self, name: impl Into<String>) -> Self {
        self.spec_name = name.into();
        self
    }

    /// Generates servers, clients and broker modules, or only types and messages (default:
    /// all of them).
    pub fn transports(mut self, yes: bool) -> Self {
        self.transports = yes;
        self
    }

    /// Serves the channels of a document without `servers` with this protocol (`ws`, `wss`,
    /// `sse`, `http+sse`, `https+sse`); by default such channels get types and messages only.
    /// Ignored when the document declares servers.
    pub fn default_protocol(mut self, protocol: impl Into<String>) -> Self {
        self.default_protocol = Some(protocol.into());
        self
    }

    /// Compiles the runtime's support for these engines into the crate (default: none, every
    /// piece of state in the process). Generating fails when the document has no channel
    /// whose state an engine can hold. A crate only: a [`Layout::Module`] reaches the runtime
    /// crate, whose features the build's own manifest chooses.
    pub fn engines(mut self, engines: impl IntoIterator<Item = Engine>) -> Self {
        self.engines = engines.into_iter().collect();
        self.engines.sort();
        self.engines.dedup();
        self
    }
}
