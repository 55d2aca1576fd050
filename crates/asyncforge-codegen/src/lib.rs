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
mod krate;
mod messages;
mod model;
mod names;
mod output;
mod schema_json;
mod settings;
mod tokens;
mod transport;
mod types;
mod vendor;

use asyncforge_spec::Diagnostic;
use asyncforge_spec::ir::{Api, SchemaId};
use proc_macro2::TokenStream;
use quote::quote;

pub use output::{Error, File};
pub use settings::{
    DEFAULT_CARGO_TEMPLATE, DEFAULT_README_TEMPLATE, Engine, Layout, MODULE_FILE, Runtime, Settings,
};
pub use tokens::{HEADER, render};

/// The code of a schema generated as a looser Rust type than it describes.
const LOOSE_TYPE: &str = "generate-type-loose";
/// The code of a channel or operation served with less than the document says, or not at all.
const PARTIAL_TRANSPORT: &str = "generate-transport-partial";

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
    let p = b.protocols;
    let serves = p.endpoints.is_some() || p.mqtt.is_some() || p.kafka.is_some();
    tokens.extend(protocol_modules(p));
    if serves {
        tokens.extend(krate::outcome_exports());
    }
    Ok(File {
        path: MODULE_FILE.into(),
        contents: render(MODULE_FILE, tokens)?,
    })
}

/// The protocol modules as inline modules of a module body.
fn protocol_modules(p: transport::Emitted) -> TokenStream {
    let endpoints = p.endpoints.map(|e| {
        let (channels, server, client) = (e.channels, e.server, e.client);
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
    });
    let mqtt = p.mqtt.map(|m| quote!(pub mod mqtt { #m }));
    let kafka = p.kafka.map(|k| quote!(pub mod kafka { #k }));
    quote!(#endpoints #mqtt #kafka)
}

struct Built {
    types: TokenStream,
    messages: TokenStream,
    protocols: transport::Emitted,
    model: model::Model,
    warnings: Vec<Diagnostic>,
    index: ModuleIndex,
}

/// The one pipeline of both layouts: the type space, the protocol models and every module's
/// tokens.
fn build(api: &Api, settings: &Settings) -> Built {
    let mut space = types::TypeSpace::new(api);
    let msgs = messages::collect(api, &mut space);
    let model = if settings.transports {
        model::build(api, settings.default_protocol.as_deref())
    } else {
        model::Model::default()
    };
    let protocol_types = transport::collect(api, &model, &msgs, &mut space);
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
    let mut partial = model.warnings.clone();
    let protocols = transport::emit(api, &model, &space, &msgs, &protocol_types, &mut partial);
    let mut warnings: Vec<Diagnostic> = diagnostics(LOOSE_TYPE, &space.warnings)
        .chain(diagnostics(PARTIAL_TRANSPORT, &partial))
        .collect();
    asyncforge_spec::diagnostic::normalize(&mut warnings);
    Built {
        types: t,
        messages: m,
        protocols,
        model,
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
    let features = b.model.features(&settings.engines)?;
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
                b.protocols.endpoints.is_some(),
                (b.protocols.mqtt.is_some(), b.protocols.kafka.is_some()),
                features.contains(&"http"),
            )?,
        },
    ];
    if let Some(t) = b.protocols.endpoints {
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
        ("src/mqtt.rs", b.protocols.mqtt),
        ("src/kafka.rs", b.protocols.kafka),
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
    use crate::model::tests::api;

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
