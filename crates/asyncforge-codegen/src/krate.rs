//! The generated crate around the types: `lib.rs`, `Cargo.toml` and `README.md` (tera
//! templates), and the vendored runtime.

use asyncforge_spec::ir::Api;
use quote::quote;

use crate::{Error, File, Runtime, Settings, render};

/// Default `Cargo.toml` template (`templates/Cargo.toml.tera`).
pub const DEFAULT_CARGO_TEMPLATE: &str = include_str!("../../../templates/Cargo.toml.tera");
/// Default `README.md` template (`templates/README.md.tera`).
pub const DEFAULT_README_TEMPLATE: &str = include_str!("../../../templates/README.md.tera");

fn semver_like(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

/// What the templates are told about the generated crate beyond the API and the settings.
pub(crate) struct Contents<'a> {
    /// Runtime features the crate's code needs.
    pub features: &'a [&'a str],
    /// `[dependencies]` lines of a vendored runtime.
    pub vendored_dependencies: &'a [String],
    /// The crate's `src/` files, generated before the templates are rendered.
    pub files: &'a [File],
}

/// One line per top-level module of a generated crate, for its README.
fn modules(files: &[File]) -> Vec<serde_json::Value> {
    const ABOUT: &[(&str, &str)] = &[
        ("types", "one Rust type per schema of the API"),
        (
            "messages",
            "one type per message, implementing `Message` (name, content type, codec, correlation id)",
        ),
        (
            "channels",
            "channel parameters, message sets and the schema checks of incoming messages",
        ),
        (
            "server",
            "the `Handler` trait the application implements, the typed `Sender`, and `Server`",
        ),
        ("client", "typed clients of the servers"),
        (
            "mqtt",
            "MQTT server configurations, the typed publisher, and the `Handler` of a subscriber",
        ),
        (
            "kafka",
            "Kafka server configurations, topics, the typed producer, and the `Handler` of a consumer",
        ),
        (
            "runtime",
            "the asyncforge runtime the generated code runs on",
        ),
    ];
    ABOUT
        .iter()
        .filter(|(m, _)| {
            files.iter().any(|f| {
                f.path == std::path::Path::new("src").join(format!("{m}.rs"))
                    || f.path == std::path::Path::new("src").join(m).join("mod.rs")
            }) || *m == "runtime"
        })
        .map(|(name, about)| serde_json::json!({ "name": name, "about": about }))
        .collect()
}

/// The number of public types in the generated `src/types.rs`.
fn type_count(files: &[File]) -> usize {
    files
        .iter()
        .find(|f| f.path == std::path::Path::new("src/types.rs"))
        .and_then(|f| syn::parse_file(&f.contents).ok())
        .map_or(0, |file| {
            file.items
                .iter()
                .filter(|i| {
                    matches!(
                        i,
                        syn::Item::Struct(_) | syn::Item::Enum(_) | syn::Item::Type(_)
                    )
                })
                .count()
        })
}

pub(crate) fn render_template(
    name: &str,
    template: &str,
    api: &Api,
    settings: &Settings,
    contents: &Contents<'_>,
) -> Result<String, Error> {
    let (features, vendored_dependencies) = (contents.features, contents.vendored_dependencies);
    let mut tera = tera::Tera::default();
    tera.add_raw_template(name, template)
        .map_err(|e| Error::Template {
            name: name.to_owned(),
            message: format!("{e:?}"),
        })?;
    let description = api
        .info
        .description
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .unwrap_or(&api.info.title)
        .to_owned();
    let first_paragraph = description
        .split("\n\n")
        .next()
        .unwrap_or_default()
        .replace('\n', " ");
    let mut ctx = tera::Context::new();
    ctx.insert("crate_name", &settings.crate_name);
    ctx.insert("crate_ident", &settings.crate_name.replace('-', "_"));
    ctx.insert(
        "crate_version",
        &settings.crate_version.clone().unwrap_or_else(|| {
            if semver_like(&api.info.version) {
                api.info.version.clone()
            } else {
                "0.1.0".into()
            }
        }),
    );
    ctx.insert("description", &description);
    ctx.insert(
        "description_toml",
        &serde_json::to_string(&first_paragraph).unwrap_or_else(|_| "\"\"".into()),
    );
    ctx.insert("title", &api.info.title);
    ctx.insert("api_version", &api.info.version);
    ctx.insert("asyncapi_version", &api.source_version.to_string());
    ctx.insert("spec_name", &settings.spec_name);
    ctx.insert("vendored", &(settings.runtime == Runtime::Vendored));
    ctx.insert("type_count", &type_count(contents.files));
    ctx.insert("modules", &modules(contents.files));
    ctx.insert("message_count", &api.messages.len());
    let dep = match &settings.runtime {
        Runtime::Path(p) => format!("path = {}", serde_json::to_string(p).unwrap_or_default()),
        Runtime::Version(v) => {
            format!("version = {}", serde_json::to_string(v).unwrap_or_default())
        }
        Runtime::Vendored => String::new(),
    };
    ctx.insert("runtime_dependency", &dep);
    ctx.insert("runtime_features", &features);
    ctx.insert("vendored_dependencies", vendored_dependencies);
    ctx.insert(
        "runtime_features_toml",
        &serde_json::to_string(features).unwrap_or_else(|_| "[]".into()),
    );
    let mut out = tera.render(name, &ctx).map_err(|e| Error::Template {
        name: name.to_owned(),
        message: format!("{e:?}"),
    })?;
    if !out.ends_with('\n') {
        out.push('\n');
    }
    Ok(out)
}

pub(crate) fn lib_rs(
    api: &Api,
    settings: &Settings,
    transports: bool,
    (mqtt, kafka): (bool, bool),
) -> Result<String, Error> {
    let mut doc = vec![format!("{} {}", api.info.title, api.info.version)];
    if let Some(d) = api
        .info
        .description
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        doc.push(d.to_owned());
    }
    doc.push(format!(
        "Generated by asyncforge from `{}` (AsyncAPI {}).",
        settings.spec_name, api.source_version
    ));
    let lines: Vec<String> = doc
        .join("\n\n")
        .lines()
        .map(|l| format!(" {}", l.trim_end()))
        .collect();
    let deny = settings.deny_warnings.then(|| quote!(#![deny(warnings)]));
    let vendored = settings.runtime == Runtime::Vendored;
    let runtime = if vendored {
        quote! {
            pub mod runtime;
        }
    } else {
        quote! {
            pub use asyncforge_runtime as runtime;
        }
    };
    let transport_mods = transports.then(|| {
        quote! {
            #[rustfmt::skip]
            pub mod channels;
            #[rustfmt::skip]
            pub mod client;
            #[rustfmt::skip]
            pub mod server;
        }
    });
    let mqtt = mqtt.then(|| {
        quote! {
            #[rustfmt::skip]
            pub mod mqtt;
        }
    });
    let kafka = kafka.then(|| {
        quote! {
            #[rustfmt::skip]
            pub mod kafka;
        }
    });
    let outcomes = (transports || mqtt.is_some() || kafka.is_some()).then(outcome_exports);
    render(
        "src/lib.rs",
        quote! {
            #(#![doc = #lines])*
            #deny
            #![forbid(unsafe_code)]

            #transport_mods
            #kafka
            #[rustfmt::skip]
            pub mod messages;
            #mqtt
            #[rustfmt::skip]
            pub mod types;
            #runtime
            pub use runtime::{Codec, CodecError, Message};
            pub use runtime::types::{Date, DateTime, Uuid};
            #outcomes
        },
    )
}

/// The re-exports of a crate (or `build.rs` module) with servers, clients or brokers: the one
/// error, the one refusal, and the switch of outgoing checks.
pub(crate) fn outcome_exports() -> proc_macro2::TokenStream {
    quote! {
        /// What every sender, publisher, producer and client returns on failure, and what
        /// every handler returns when it does not handle a message.
        pub use runtime::{Error, ErrorKind, Reject, RejectKind};
        /// Turns the checking of outgoing messages against their schemas on or off (on in
        /// debug builds by default; also `ASYNCFORGE_CHECK_OUTGOING=0|1`).
        pub use runtime::validate::check_outgoing;
    }
}
