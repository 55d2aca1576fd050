//! Rust code generation from the asyncforge IR.
//!
//! [`generate`] turns an [`Api`] into files, as [`Settings`] say: the files of a generated
//! crate (`Cargo.toml`, `README.md`, `src/lib.rs`, `src/types.rs`, `src/messages.rs`, the
//! protocol modules, and the vendored runtime by default), or one module for a build script's
//! `include!` ([`Layout`]). Both come out of one pipeline (IR → type space → tokens →
//! [`render`]) and differ only in how the rendered modules are laid out. It does no IO:
//! reading the document and templates, writing files and talking to cargo are the caller's
//! job (the `asyncforge` crate's `Generator`). Rust is emitted with `quote!` and formatted by
//! one [`render`]; non-Rust files come from tera templates. What is generated less precisely
//! than the document says is reported as located [`Diagnostic`]s with stable codes.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod avro;
mod imports;
mod krate;
pub mod messages;
pub mod names;
mod schema_json;
pub mod transport;
pub mod types;
mod vendor;

use std::path::PathBuf;

use asyncforge_spec::Diagnostic;
use asyncforge_spec::ir::{Api, SchemaId};
use proc_macro2::TokenStream;
use quote::quote;

pub use krate::{DEFAULT_CARGO_TEMPLATE, DEFAULT_README_TEMPLATE};

/// The code of a schema generated as a looser Rust type than it describes.
const LOOSE_TYPE: &str = "generate-type-loose";
/// The code of a channel or operation served with less than the document says, or not at all.
const PARTIAL_TRANSPORT: &str = "generate-transport-partial";

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
    layout: Layout,
    /// `None`: from the API's title.
    crate_name: Option<String>,
    runtime: Runtime,
    cargo_template: String,
    readme_template: String,
    deny_warnings: bool,
    spec_name: String,
    transports: bool,
    default_protocol: Option<String>,
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
}

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A template could not be rendered.
    #[error("template `{name}`: {message}")]
    Template {
        /// Template name.
        name: String,
        /// What went wrong.
        message: String,
    },
    /// Generated Rust did not parse (a bug in asyncforge: please report it).
    #[error("generated Rust for `{file}` does not parse: {message}")]
    Syntax {
        /// File.
        file: String,
        /// Parser message.
        message: String,
    },
    /// The crate name is not a valid package name.
    #[error(
        "`{0}` is not a valid crate name (letters, digits, `-` and `_`, starting with a letter)"
    )]
    CrateName(String),
    /// The embedded runtime could not be copied (a bug in asyncforge: please report it).
    #[error("the generated runtime: {0}")]
    Vendor(String),
}

/// A generated file, relative to the crate root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// Path relative to the generated crate's root.
    pub path: PathBuf,
    /// Content.
    pub contents: String,
}

/// The output of [`generate`].
#[derive(Debug, Clone)]
pub struct Generated {
    /// The files: of the crate, relative to its root, or the one [`MODULE_FILE`].
    pub files: Vec<File>,
    /// What is generated less precisely than the document says: warnings with a stable code
    /// (`generate-…`, listed in `asyncforge_spec::rules::RULES`), located at the schema,
    /// channel or operation they concern.
    pub warnings: Vec<Diagnostic>,
    /// Where the messages and named schemas went.
    pub index: ModuleIndex,
}

/// The `@generated` header every generated Rust file starts with.
pub const HEADER: &str =
    "// @generated by asyncforge. Do not edit: regenerate from the specification instead.\n";

/// Formats Rust tokens with prettyplease, behind the `@generated` header.
pub fn render(file: &str, tokens: TokenStream) -> Result<String, Error> {
    let mut parsed: syn::File = syn::parse2(tokens).map_err(|e| Error::Syntax {
        file: file.to_owned(),
        message: e.to_string(),
    })?;
    imports::prune(&mut parsed);
    Ok(format!(
        "{HEADER}\n{}",
        space_items(&prettyplease::unparse(&parsed))
    ))
}

/// Puts an empty line between items, as rustfmt-formatted code has (prettyplease packs them).
fn space_items(code: &str) -> String {
    let mut out = String::with_capacity(code.len() + code.len() / 16);
    let mut prev_end = false;
    let mut depth_zero_prev = false;
    let mut prev_use = false;
    for line in code.lines() {
        let top_level = !line.starts_with(' ') && !line.is_empty();
        let starts_item = top_level && !line.starts_with('}') && !line.starts_with(')');
        let is_use = line.starts_with("use ") || line.starts_with("#[allow(unused_imports)]");
        if starts_item && prev_end && depth_zero_prev && !(prev_use && is_use) {
            out.push('\n');
        }
        if top_level {
            prev_use = line.starts_with("use ") || (prev_use && line.starts_with('#'));
        }
        prev_end = top_level && (line.ends_with('}') || line.ends_with(';'));
        depth_zero_prev = top_level;
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// `#[doc = …]` attributes for a documentation string (one per line, as `///` would be).
pub(crate) fn doc_attrs(doc: Option<&str>) -> TokenStream {
    let Some(doc) = doc.map(str::trim).filter(|d| !d.is_empty()) else {
        return TokenStream::new();
    };
    let lines = doc.lines().map(|l| {
        let l = format!(" {}", l.trim_end());
        quote!(#[doc = #l])
    });
    quote!(#(#lines)*)
}

/// An identifier that may be raw (`r#type`).
pub(crate) fn ident(name: &str) -> proc_macro2::Ident {
    match name.strip_prefix("r#") {
        Some(raw) => proc_macro2::Ident::new_raw(raw, proc_macro2::Span::call_site()),
        None => proc_macro2::Ident::new(name, proc_macro2::Span::call_site()),
    }
}

/// Where the generated code put things: for tests and tools that refer to generated types.
#[derive(Debug, Clone, Default)]
pub struct ModuleIndex {
    /// Message → name of its type in `messages`.
    pub messages: Vec<(asyncforge_spec::ir::MessageId, String)>,
    /// Named schema → its Rust type, written with a `types::` prefix for named types.
    pub schemas: Vec<(SchemaId, String)>,
}

fn module_tokens(types: TokenStream, messages: TokenStream) -> TokenStream {
    let tuse = (!types.is_empty()).then(|| {
        quote!(
            use crate::runtime::codegen::*;
        )
    });
    let muse = (!messages.is_empty()).then(|| {
        quote!(
            use crate::runtime::codegen::*;
        )
    });
    quote! {
        /// Types of the schemas of the API.
        pub mod types {
            #![allow(clippy::large_enum_variant, clippy::enum_variant_names)]
            #tuse
            #types
        }
        /// One type per message of the API.
        pub mod messages {
            #muse
            #messages
        }
    }
}

/// [`Layout::Module`]: the modules of a crate as one module body (`pub mod types { … } pub mod
/// messages { … }` …) that uses `asyncforge_runtime`.
fn module_file(b: Built) -> Result<File, Error> {
    let mut tokens = quote! {
        /// The asyncforge runtime, through which the generated code reaches its transports.
        pub use asyncforge_runtime as runtime;
        pub use runtime::types::{Date, DateTime, Uuid};
    };
    tokens.extend(module_tokens(b.types, b.messages));
    let serves = b.transports.is_some() || b.brokers.mqtt.is_some() || b.brokers.kafka.is_some();
    if let Some(t) = b.transports {
        tokens.extend(transport_modules(t));
    }
    tokens.extend(broker_modules(&b.brokers));
    if serves {
        tokens.extend(krate::outcome_exports());
    }
    Ok(File {
        path: MODULE_FILE.into(),
        contents: render(MODULE_FILE, tokens)?,
    })
}

fn transport_modules(t: transport::Emitted) -> TokenStream {
    let (channels, server, client) = (t.channels, t.server, t.client);
    quote! {
        /// Channel parameters, message sets and the schemas incoming messages are checked against.
        pub mod channels {
            #channels
        }
        pub mod server {
            #server
        }
        pub mod client {
            #client
        }
    }
}

/// `pub mod mqtt { … }` and `pub mod kafka { … }` for a module body.
fn broker_modules(b: &BrokerModules) -> TokenStream {
    let mqtt = b.mqtt.as_ref().map(|m| quote!(pub mod mqtt { #m }));
    let kafka = b.kafka.as_ref().map(|k| quote!(pub mod kafka { #k }));
    quote!(#mqtt #kafka)
}

/// The generated broker modules (`src/mqtt.rs`, `src/kafka.rs`).
#[derive(Default)]
struct BrokerModules {
    mqtt: Option<TokenStream>,
    kafka: Option<TokenStream>,
    features: Vec<&'static str>,
}

/// The runtime features a generated crate needs for its transports.
fn runtime_features(model: &transport::model::Model) -> Vec<&'static str> {
    let mut f = Vec::new();
    if model.has(transport::model::Kind::Ws) {
        f.extend(["ws", "ws-client"]);
    }
    if model.has(transport::model::Kind::Sse) {
        f.extend(["sse", "sse-client"]);
    }
    if model.has(transport::model::Kind::Http) {
        f.push("http");
    }
    f
}

struct Built {
    types: TokenStream,
    messages: TokenStream,
    transports: Option<transport::Emitted>,
    model: transport::model::Model,
    brokers: BrokerModules,
    warnings: Vec<Diagnostic>,
    index: ModuleIndex,
}

/// The one pipeline of both layouts: the type space, the protocol models and every module's
/// tokens.
fn build(api: &Api, settings: &Settings) -> Built {
    let mut space = types::TypeSpace::new(api);
    let msgs = messages::collect(api, &mut space);
    let model = if settings.transports {
        transport::model::build(api, settings.default_protocol.as_deref())
    } else {
        transport::model::Model::default()
    };
    let parts = transport::collect(&model, &mut space);
    let brokers = if settings.transports {
        transport::brokers::build(api)
    } else {
        transport::brokers::Brokers::default()
    };
    let broker_types = transport::brokers::collect(api, &brokers, &msgs, &mut space);
    // Named schemas nobody's message uses still get their types.
    let mut named = Vec::new();
    for (i, s) in api.schemas.iter().enumerate() {
        if let Some(n) = &s.name {
            let id = SchemaId(i as u32);
            named.push((id, space.ty(id, n)));
        }
    }
    space.box_recursion();
    let prefix = quote!(types::);
    let index = ModuleIndex {
        messages: msgs.iter().map(|m| (m.id, m.name.clone())).collect(),
        schemas: named
            .into_iter()
            .map(|(id, t)| (id, space.tokens(&t, &prefix).to_string()))
            .collect(),
    };
    let t = types::emit(&space, SERDE);
    let m = messages::emit(api, &space, &msgs);
    let emitted =
        (!model.endpoints.is_empty()).then(|| transport::emit(api, &model, &space, &msgs, &parts));
    let mut partial = model.warnings.clone();
    partial.extend(brokers.warnings.iter().cloned());
    let bcx = transport::brokers::Cx {
        api,
        space: &space,
        messages: &msgs,
        types: &broker_types,
    };
    let broker_modules = BrokerModules {
        mqtt: brokers
            .mqtt
            .as_ref()
            .map(|m| transport::mqtt::emit(&bcx, m)),
        kafka: brokers
            .kafka
            .as_ref()
            .map(|k| transport::kafka::emit(&bcx, k, &mut partial)),
        features: brokers.features(),
    };
    let mut warnings: Vec<Diagnostic> = diagnostics(LOOSE_TYPE, &space.warnings)
        .chain(diagnostics(PARTIAL_TRANSPORT, &partial))
        .collect();
    asyncforge_spec::diagnostic::normalize(&mut warnings);
    Built {
        types: t,
        messages: m,
        transports: emitted,
        model,
        brokers: broker_modules,
        warnings,
        index,
    }
}

/// Generator warnings as diagnostics with `code`, at the IR node each concerns.
fn diagnostics<'a>(
    code: &'static str,
    warnings: &'a [types::Warning],
) -> impl Iterator<Item = Diagnostic> + 'a {
    warnings
        .iter()
        .map(move |w| Diagnostic::warning(code, w.message.clone()).at(w.source.location()))
}

/// The path generated types name serde by: generated code reaches every dependency through
/// `crate::runtime` (the runtime crate re-exported at the crate root, or its vendored copy).
const SERDE: &str = "crate::runtime::codegen::serde";

/// Generates the crate or module of an API.
pub fn generate(api: &Api, settings: &Settings) -> Result<Generated, Error> {
    let mut b = build(api, settings);
    let warnings = std::mem::take(&mut b.warnings);
    let index = std::mem::take(&mut b.index);
    let files = match settings.layout {
        Layout::Crate => crate_files(api, settings, b)?,
        Layout::Module => vec![module_file(b)?],
    };
    Ok(Generated {
        files,
        warnings,
        index,
    })
}

/// [`Layout::Crate`]: the crate's files.
fn crate_files(api: &Api, settings: &Settings, b: Built) -> Result<Vec<File>, Error> {
    let name = match &settings.crate_name {
        Some(name) => name.clone(),
        None => krate::name_from_title(&api.info.title),
    };
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(Error::CrateName(name));
    }
    let vendored = settings.runtime == Runtime::Vendored;
    let (types, messages) = (b.types, b.messages);
    let mut features = runtime_features(&b.model);
    features.extend(b.brokers.features.iter().copied());
    let vendored_runtime = if vendored {
        Some(vendor::vendor(&features)?)
    } else {
        None
    };
    let vendored_deps = vendored_runtime
        .as_ref()
        .map_or(&[][..], |v| v.dependencies.as_slice());
    let tuse = (!types.is_empty()).then(|| {
        quote!(
            use crate::runtime::codegen::*;
        )
    });
    let muse = (!messages.is_empty()).then(|| {
        quote!(
            use crate::runtime::codegen::*;
        )
    });
    let types_rs = render(
        "src/types.rs",
        quote! {
            //! Types of the schemas of the API.
            #![allow(clippy::large_enum_variant, clippy::enum_variant_names)]
            #tuse
            #types
        },
    )?;
    let messages_rs = render(
        "src/messages.rs",
        quote! {
            //! One type per message of the API, with its name, content type and correlation id.
            #muse
            #messages
        },
    )?;
    let mut files = vec![
        File {
            path: "src/types.rs".into(),
            contents: types_rs,
        },
        File {
            path: "src/messages.rs".into(),
            contents: messages_rs,
        },
        File {
            path: "src/lib.rs".into(),
            contents: krate::lib_rs(
                api,
                settings,
                b.transports.is_some(),
                (b.brokers.mqtt.is_some(), b.brokers.kafka.is_some()),
            )?,
        },
    ];
    if let Some(t) = b.transports {
        let channels = t.channels;
        files.push(File {
            path: "src/channels.rs".into(),
            contents: render(
                "src/channels.rs",
                quote! {
                    //! Channel parameters, message sets and the schemas incoming messages are checked against.
                    #channels
                },
            )?,
        });
        files.push(File {
            path: "src/server.rs".into(),
            contents: render("src/server.rs", t.server)?,
        });
        files.push(File {
            path: "src/client.rs".into(),
            contents: render("src/client.rs", t.client)?,
        });
    }
    for (path, module) in [
        ("src/mqtt.rs", b.brokers.mqtt),
        ("src/kafka.rs", b.brokers.kafka),
    ] {
        if let Some(tokens) = module {
            files.push(File {
                path: path.into(),
                contents: render(path, tokens)?,
            });
        }
    }
    let mut templates = Vec::new();
    for (path, template) in [
        ("Cargo.toml", &settings.cargo_template),
        ("README.md", &settings.readme_template),
    ] {
        let contents = krate::Contents {
            crate_name: &name,
            features: &features,
            vendored_dependencies: vendored_deps,
            files: &files,
        };
        templates.push(File {
            path: path.into(),
            contents: krate::render_template(path, template, api, settings, &contents)?,
        });
    }
    files.extend(templates);
    if let Some(runtime) = vendored_runtime {
        files.extend(runtime.files);
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::model::tests::api;

    const LOOSE: &str = "\
asyncapi: 3.0.0
info: {title: Loose, version: '1.0'}
channels:
  feed:
    address: feed
    messages:
      tick:
        payload:
          allOf: [{type: string}, {type: object}]
";

    #[test]
    fn warning_codes_are_in_the_registry() {
        for code in [LOOSE_TYPE, PARTIAL_TRANSPORT] {
            let rule = asyncforge_spec::rules::info(code).expect("registered");
            assert_eq!(rule.severity, asyncforge_spec::Severity::Warning, "{code}");
        }
    }

    #[test]
    fn warnings_are_coded_diagnostics_at_their_node() {
        let generated = generate(&api(LOOSE), &Settings::default()).expect("generates");
        let [w] = generated.warnings.as_slice() else {
            panic!("{:?}", generated.warnings);
        };
        assert_eq!(w.code, LOOSE_TYPE);
        let at = w.location.as_ref().expect("located");
        assert_eq!(at.pointer, "/channels/feed/messages/tick/payload");
        assert_eq!((at.span.start.line, at.span.start.col), (9, 11));
    }

    #[test]
    fn both_layouts_come_from_one_pipeline() {
        let api = api(LOOSE);
        let krate = generate(&api, &Settings::default()).expect("crate");
        let module = generate(&api, &Settings::default().layout(Layout::Module)).expect("module");
        assert_eq!(krate.warnings, module.warnings);
        let [file] = module.files.as_slice() else {
            panic!("one file");
        };
        assert_eq!(file.path, std::path::Path::new(MODULE_FILE));
        assert!(
            file.contents.contains("pub mod messages"),
            "{}",
            file.contents
        );
        let cargo = krate
            .files
            .iter()
            .find(|f| f.path == std::path::Path::new("Cargo.toml"))
            .expect("Cargo.toml");
        assert!(
            cargo.contents.contains("name = \"loose\""),
            "{}",
            cargo.contents
        );
    }
}
