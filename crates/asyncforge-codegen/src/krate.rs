//! The generated crate around the types: `lib.rs`, `Cargo.toml` and `README.md` (tera
//! templates), and the vendored runtime.

use asyncforge_spec::ir::Api;
use quote::quote;

use crate::output::{Error, File};
use crate::settings::{Engine, Runtime, Settings};
use crate::tokens::render;

fn semver_like(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

/// The crate name of an API without one given: its title in kebab case (`api-…` when the title
/// does not start with a letter).
pub(crate) fn name_from_title(title: &str) -> String {
    let name = title
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
    if name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        name
    } else {
        format!("api-{name}")
    }
}

/// What the templates are told about the generated crate beyond the API and the settings.
pub(crate) struct Contents<'a> {
    /// The crate's name.
    pub crate_name: &'a str,
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

/// What a module of the generated crate declares, for the README's usage snippets.
#[derive(Default)]
struct Declared {
    /// The methods of its `Handler` trait (the receive operations).
    handler: Vec<String>,
    /// The public functions of its top level (`broker_config`, `subscribe`, …).
    functions: Vec<String>,
    /// Public methods by the type they are implemented on (`Sender`, `Client`, …).
    methods: Vec<(String, String)>,
    /// Public structs.
    structs: Vec<String>,
}

fn declared(files: &[File], module: &str) -> Option<Declared> {
    let path = std::path::Path::new("src").join(format!("{module}.rs"));
    let file = files.iter().find(|f| f.path == path)?;
    let parsed = syn::parse_file(&file.contents).ok()?;
    let public = |v: &syn::Visibility| matches!(v, syn::Visibility::Public(_));
    let mut d = Declared::default();
    for item in &parsed.items {
        match item {
            syn::Item::Trait(t) if t.ident == "Handler" => {
                d.handler = t
                    .items
                    .iter()
                    .filter_map(|i| match i {
                        syn::TraitItem::Fn(f) if f.default.is_none() => {
                            Some(f.sig.ident.to_string())
                        }
                        _ => None,
                    })
                    .collect();
            }
            syn::Item::Fn(f) if public(&f.vis) => d.functions.push(f.sig.ident.to_string()),
            syn::Item::Struct(st) if public(&st.vis) => d.structs.push(st.ident.to_string()),
            syn::Item::Impl(i) if i.trait_.is_none() => {
                let syn::Type::Path(ty) = i.self_ty.as_ref() else {
                    continue;
                };
                let Some(name) = ty.path.segments.last().map(|s| s.ident.to_string()) else {
                    continue;
                };
                for it in &i.items {
                    if let syn::ImplItem::Fn(f) = it
                        && public(&f.vis)
                    {
                        d.methods.push((name.clone(), f.sig.ident.to_string()));
                    }
                }
            }
            _ => {}
        }
    }
    Some(d)
}

impl Declared {
    /// The first public method of `ty` that is not a constructor or an accessor.
    fn operation(&self, ty: &str, skip: &[&str]) -> Option<&str> {
        self.methods
            .iter()
            .filter(|(t, _)| t == ty)
            .map(|(_, m)| m.as_str())
            .find(|m| !skip.contains(m))
    }

    fn handler_lines(&self) -> String {
        self.handler
            .iter()
            .map(|m| format!("    // async fn {m}(&self, received: Received<…>) -> Result<…, Reject> {{ … }}\n"))
            .collect()
    }
}

/// One usage snippet per protocol module of the crate, written with the names the crate
/// really has: (heading, Rust code).
fn usage(files: &[File], krate: &str, engines: &[Engine]) -> Vec<serde_json::Value> {
    const ACCESSORS: &[&str] = &[
        "new",
        "start",
        "client",
        "inner",
        "sender",
        "router",
        "shutdown",
        "webhooks",
        "subscriptions",
        "resume_webhooks",
        "work_webhooks",
        "stats",
        "run",
        "url",
        "subscriber",
    ];
    let mut out = Vec::new();
    let mut push = |title: &str, code: String| {
        out.push(serde_json::json!({ "title": title, "code": code }));
    };
    if let Some(d) = declared(files, "server") {
        let fallible = files.iter().any(|f| {
            f.path == std::path::Path::new("src/server.rs")
                && f.contents
                    .contains("pub fn new(config: Config) -> Result<Self, Error>")
        });
        let new = if fallible { "?" } else { "" };
        let server_rs = |needle: &str| {
            files.iter().any(|f| {
                f.path == std::path::Path::new("src/server.rs") && f.contents.contains(needle)
            })
        };
        let send = d
            .operation("Sender", ACCESSORS)
            .map(|m| {
                let wait = if server_rs(&format!("pub async fn {m}(")) {
                    ".await"
                } else {
                    ""
                };
                format!("let out = server.sender();   // out.{m}(…){wait} sends, to one peer or to all\n")
            })
            .unwrap_or_default();
        let backplane = engines
            .iter()
            .find(|e| matches!(e, Engine::Redis | Engine::Nats));
        let replicas = match backplane {
            Some(engine) if server_rs("pub backplane: Backplane") => format!(
                "// Replicas share publishes through {}:\n// Config {{ backplane: Backplane::from_url(\"{}://…\")?, .. }}\n",
                engine.name(),
                engine.name()
            ),
            _ => String::new(),
        };
        push(
            "Server",
            format!(
                "use {krate}::server::{{Config, Handler, Server}};\nuse {krate}::{{Received, Reject}};\n\nstruct App;\nimpl Handler for App {{\n{}}}\n\n{replicas}let server = Server::new(Config::default()){new};\n{send}let listener = tokio::net::TcpListener::bind(\"127.0.0.1:8080\").await?;\n{krate}::runtime::axum::serve(listener, server.router(App)).await?;\n",
                d.handler_lines()
            ),
        );
    }
    if let Some(d) = declared(files, "client")
        && let Some(client) = d.structs.iter().find(|s| s.ends_with("Client"))
    {
        let op = d
            .operation(
                client,
                &[
                    "connect",
                    "new",
                    "url",
                    "state",
                    "wait_connected",
                    "next",
                    "dropped_events",
                    "with_timeout",
                    "subscribe",
                    "subscriber",
                    "wait_for",
                ],
            )
            .map(|m| {
                format!("// client.{m}(…) sends; a failure is an `Error` whose `kind()` says why\n")
            })
            .unwrap_or_default();
        let connects = d.methods.iter().any(|(t, m)| t == client && m == "connect");
        let open = if connects {
            format!(
                "let client = {client}::connect(server_url, &params, …, ClientOptions::default());\n"
            )
        } else {
            format!("let client = {client}::new(server_url, …);\n")
        };
        push("Client", format!("use {krate}::client::*;\n\n{open}{op}"));
    }
    for (module, title, sender, start) in [
        ("mqtt", "MQTT", "Sender", "subscribe"),
        ("kafka", "Kafka", "Sender", "Consumer::new"),
    ] {
        let Some(d) = declared(files, module) else {
            continue;
        };
        let config = d
            .functions
            .iter()
            .find(|f| f.ends_with("_config") && *f != "consumer_config")
            .cloned()
            .unwrap_or_else(|| "config".to_owned());
        let config_args = if module == "mqtt" {
            "None"
        } else {
            "&credentials"
        };
        let op = d
            .operation(sender, ACCESSORS)
            .map(|m| {
                format!(
                    "// {}.{m}(…).await? sends; a failure is an `Error`\n",
                    sender.to_lowercase()
                )
            })
            .unwrap_or_default();
        let handler = if d.handler.is_empty() {
            String::new()
        } else {
            format!(
                "struct App;\nimpl {module}::Handler for App {{\n{}}}\n// {module}::{start}(…) hands what arrives to App\n",
                d.handler_lines()
            )
        };
        let ctor = if module == "mqtt" {
            "start(config.clone())"
        } else {
            "new(&config)"
        };
        let reject = if d.handler.is_empty() {
            String::new()
        } else {
            format!("use {krate}::{{Received, Reject}};\n")
        };
        push(
            title,
            format!(
                "use {krate}::{module};\n{reject}\nlet config = {module}::{config}({config_args})?;\n{handler}let {} = {module}::{sender}::{ctor}?;\n{op}",
                sender.to_lowercase(),
            ),
        );
    }
    out
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
    ctx.insert("crate_name", contents.crate_name);
    ctx.insert("crate_ident", &contents.crate_name.replace('-', "_"));
    ctx.insert(
        "crate_version",
        if semver_like(&api.info.version) {
            api.info.version.as_str()
        } else {
            "0.1.0"
        },
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
    ctx.insert(
        "usage",
        &usage(
            contents.files,
            &contents.crate_name.replace('-', "_"),
            &settings.engines,
        ),
    );
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
    http: bool,
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
    // The WebSocket backplane's `Backplane` is re-exported by `server`.
    let engines = settings
        .engines
        .iter()
        .filter(|_| http)
        .map(|engine| match engine {
            Engine::Postgres => quote! {
                /// State shared by replicas, in Postgres: the webhook outbox (`Config::outbox`),
                /// the ids webhook receivers processed (`Config::idempotency`), and resources
                /// with their locks (`Config::resources`).
                pub use runtime::http::postgres_outbox::PostgresOutbox;
                pub use runtime::http::postgres_resource::PostgresResources;
                pub use runtime::http::postgres_store::PostgresStore;
            },
            Engine::Redis => quote! {
                /// State shared by replicas, in Redis: the ids webhook receivers processed
                /// (`Config::idempotency`).
                pub use runtime::http::redis_store::RedisStore;
            },
            Engine::Nats => quote! {},
        });
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
            #(#engines)*
        },
    )
}

/// The re-exports of a crate (or `build.rs` module) with servers, clients or brokers: the one
/// error, the one refusal, and the switch of outgoing checks.
pub(crate) fn outcome_exports() -> proc_macro2::TokenStream {
    quote! {
        /// What every sender, publisher, producer and client returns on failure, and what
        /// every handler returns when it does not handle a message.
        pub use runtime::{Error, ErrorKind, Received, Reject, RejectKind};
        /// Turns the checking of outgoing messages against their schemas on or off (on in
        /// debug builds by default; also `ASYNCFORGE_CHECK_OUTGOING=0|1`).
        pub use runtime::validate::check_outgoing;
    }
}
