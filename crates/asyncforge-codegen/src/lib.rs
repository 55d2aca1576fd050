//! Rust code generation from the asyncforge IR.
//!
//! [`generate`] turns an [`Api`] into the files of a generated crate (`Cargo.toml`, `README.md`,
//! `src/lib.rs`, `src/types.rs`, `src/messages.rs`, and the vendored runtime by default). It
//! does no IO: writing files, reading template overrides and emitting `rerun-if-changed` lines
//! are the caller's job (the `asyncforge` CLI, its build-script API, and `cargo xtask codegen`
//! all use this one entry point). Rust is emitted with `quote!` and formatted by one
//! [`render`]; non-Rust files come from tera templates.
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

use asyncforge_spec::ir::Api;
use proc_macro2::TokenStream;
use quote::quote;

pub use krate::{DEFAULT_CARGO_TEMPLATE, DEFAULT_README_TEMPLATE};
pub use types::Warning;

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

/// How to generate. Built with [`Settings::new`] and the `with_*` methods.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Name of the generated crate.
    pub crate_name: String,
    /// Version of the generated crate (default: the API's `info.version` when it is semver).
    pub crate_version: Option<String>,
    /// Where the runtime comes from.
    pub runtime: Runtime,
    /// `Cargo.toml` template (tera).
    pub cargo_template: String,
    /// `README.md` template (tera).
    pub readme_template: String,
    /// Put `#![deny(warnings)]` in the generated `lib.rs`.
    pub deny_warnings: bool,
    /// The spec's path as shown in the generated header.
    pub spec_name: String,
    /// Generate servers and clients for WebSocket and SSE channels.
    pub transports: bool,
    /// The protocol (`ws`, `wss`, `sse`, …) of the channels of a document that declares no
    /// servers at all, such as the official Kraken example; ignored when it declares some.
    pub default_protocol: Option<String>,
}

impl Settings {
    /// Settings for a crate name, with the runtime vendored into the crate (its only
    /// dependencies are then crates.io crates).
    pub fn new(crate_name: impl Into<String>) -> Self {
        Settings {
            crate_name: crate_name.into(),
            crate_version: None,
            runtime: Runtime::Vendored,
            cargo_template: DEFAULT_CARGO_TEMPLATE.to_owned(),
            readme_template: DEFAULT_README_TEMPLATE.to_owned(),
            deny_warnings: false,
            spec_name: "asyncapi.yaml".to_owned(),
            transports: true,
            default_protocol: None,
        }
    }

    /// Sets the runtime dependency.
    pub fn with_runtime(mut self, runtime: Runtime) -> Self {
        self.runtime = runtime;
        self
    }

    /// Sets the crate version.
    pub fn with_crate_version(mut self, v: impl Into<String>) -> Self {
        self.crate_version = Some(v.into());
        self
    }

    /// Replaces the `Cargo.toml` template.
    pub fn with_cargo_template(mut self, t: impl Into<String>) -> Self {
        self.cargo_template = t.into();
        self
    }

    /// Replaces the `README.md` template.
    pub fn with_readme_template(mut self, t: impl Into<String>) -> Self {
        self.readme_template = t.into();
        self
    }

    /// Adds `#![deny(warnings)]` to the generated crate.
    pub fn with_deny_warnings(mut self, yes: bool) -> Self {
        self.deny_warnings = yes;
        self
    }

    /// Generates (or not) servers and clients for WebSocket and SSE channels.
    pub fn with_transports(mut self, yes: bool) -> Self {
        self.transports = yes;
        self
    }

    /// Serves the channels of a document without `servers` with this protocol.
    pub fn with_default_protocol(mut self, protocol: impl Into<String>) -> Self {
        self.default_protocol = Some(protocol.into());
        self
    }

    /// The spec name shown in generated headers.
    pub fn with_spec_name(mut self, name: impl Into<String>) -> Self {
        self.spec_name = name.into();
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
    /// Files of the generated crate.
    pub files: Vec<File>,
    /// Places generated less precisely than the spec says.
    pub warnings: Vec<Warning>,
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

/// Where the generated module put things: for tests and tools that refer to generated types.
#[derive(Debug, Clone, Default)]
pub struct ModuleIndex {
    /// Message → name of its type in `messages`.
    pub messages: Vec<(asyncforge_spec::ir::MessageId, String)>,
    /// Named schema → its Rust type, written with a `types::` prefix for named types.
    pub schemas: Vec<(asyncforge_spec::ir::SchemaId, String)>,
}

/// Like [`generate_module`], also telling where each message and named schema went.
pub fn generate_module_indexed(api: &Api) -> Result<(String, Vec<Warning>, ModuleIndex), Error> {
    let mut space = types::TypeSpace::new(api);
    let msgs = messages::collect(api, &mut space);
    let mut schemas = Vec::new();
    for (i, s) in api.schemas.iter().enumerate() {
        if let Some(n) = &s.name {
            let id = asyncforge_spec::ir::SchemaId(i as u32);
            let t = space.ty(id, n);
            schemas.push((id, t));
        }
    }
    space.box_recursion();
    let prefix = quote!(types::);
    let index = ModuleIndex {
        messages: msgs.iter().map(|m| (m.id, m.name.clone())).collect(),
        schemas: schemas
            .into_iter()
            .map(|(id, t)| (id, space.tokens(&t, &prefix).to_string()))
            .collect(),
    };
    let t = types::emit(&space, SERDE);
    let m = messages::emit(api, &space, &msgs);
    let tokens = module_tokens(t, m);
    Ok((render("module", tokens)?, space.warnings.clone(), index))
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

/// The types and message types of an API as one module body (`pub mod types { … } pub mod
/// messages { … }`), for `include!` from a build script. Uses `asyncforge_runtime`.
pub fn generate_module(api: &Api) -> Result<(String, Vec<Warning>), Error> {
    generate_module_with_protocol(api, None)
}

/// Like [`generate_module`]; channels of a document without servers (or whose servers have
/// no transport asyncforge serves) are served with `default_protocol` (`ws`, `sse`, …) —
/// the same as [`Settings::with_default_protocol`] for a whole crate.
pub fn generate_module_with_protocol(
    api: &Api,
    default_protocol: Option<&str>,
) -> Result<(String, Vec<Warning>), Error> {
    let b = build(api, SERDE, true, default_protocol);
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
    Ok((render("module", tokens)?, b.warnings))
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
pub fn runtime_features(model: &transport::model::Model) -> Vec<&'static str> {
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
    warnings: Vec<Warning>,
}

fn build(api: &Api, serde_crate: &str, transports: bool, default_protocol: Option<&str>) -> Built {
    let mut space = types::TypeSpace::new(api);
    let msgs = messages::collect(api, &mut space);
    let model = if transports {
        transport::model::build(api, default_protocol)
    } else {
        transport::model::Model::default()
    };
    let parts = transport::collect(&model, &mut space);
    let brokers = if transports {
        transport::brokers::build(api)
    } else {
        transport::brokers::Brokers::default()
    };
    let broker_types = transport::brokers::collect(api, &brokers, &msgs, &mut space);
    // Named schemas nobody's message uses still get their types.
    for (i, s) in api.schemas.iter().enumerate() {
        if let Some(n) = &s.name {
            let _ = space.ty(asyncforge_spec::ir::SchemaId(i as u32), n);
        }
    }
    space.box_recursion();
    let t = types::emit(&space, serde_crate);
    let m = messages::emit(api, &space, &msgs);
    let emitted =
        (!model.endpoints.is_empty()).then(|| transport::emit(api, &model, &space, &msgs, &parts));
    let mut warnings = space.warnings.clone();
    warnings.extend(model.warnings.iter().cloned());
    warnings.extend(brokers.warnings.iter().cloned());
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
            .map(|k| transport::kafka::emit(&bcx, k, &mut warnings)),
        features: brokers.features(),
    };
    Built {
        types: t,
        messages: m,
        transports: emitted,
        model,
        brokers: broker_modules,
        warnings,
    }
}

/// The path generated types name serde by: generated code reaches every dependency through
/// `crate::runtime` (the runtime crate re-exported at the crate root, or its vendored copy).
const SERDE: &str = "crate::runtime::codegen::serde";

/// Generates a whole crate.
pub fn generate(api: &Api, settings: &Settings) -> Result<Generated, Error> {
    let name = &settings.crate_name;
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(Error::CrateName(name.clone()));
    }
    let vendored = settings.runtime == Runtime::Vendored;
    let default_protocol = settings.default_protocol.as_deref();
    let b = build(api, SERDE, settings.transports, default_protocol);
    let (types, messages, warnings) = (b.types, b.messages, b.warnings);
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
    Ok(Generated { files, warnings })
}
