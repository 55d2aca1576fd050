//! What the WebSocket, SSE and HTTP emitters share: the [`Ctx`] they read (messages, their
//! checks and enums, typed query parameters), operation docs, payload checks, path parameter
//! extraction, and the [`ServerParts`] each protocol adds to the one generated `server`
//! module.

use std::collections::BTreeMap;

use asyncforge_spec::ir::{Api, JsonType, MessageId, OperationId, SchemaBody, SchemaId};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::messages::MessageTypes;
use crate::model::{Endpoint, Model, Op};
use crate::names::const_name;
use crate::tokens::{doc_attrs, lit};
use crate::types::{Ty, TypeSpace};

/// Types assigned before the type space is emitted: the WebSocket binding's `query` schemas,
/// by endpoint index.
pub(super) struct EndpointTypes {
    pub query: BTreeMap<usize, Ty>,
}

/// Assigns types to the endpoints' query schemas.
pub(super) fn collect(model: &Model, space: &mut TypeSpace<'_>) -> EndpointTypes {
    let mut query = BTreeMap::new();
    for (i, e) in model.endpoints.iter().enumerate() {
        if let Some(q) = e.query {
            query.insert(i, space.ty(q, &format!("{}Query", e.name)));
        }
    }
    EndpointTypes { query }
}

/// What the WebSocket, SSE and HTTP emitters read.
pub(super) struct Ctx<'a> {
    pub api: &'a Api,
    pub space: &'a TypeSpace<'a>,
    pub messages: &'a [MessageTypes],
    pub types: &'a EndpointTypes,
    /// One enum per set of messages: its name and the operations (and replies) it serves,
    /// named after the first.
    pub enums: BTreeMap<Vec<MessageId>, (String, Vec<String>)>,
}

/// The message sets of several messages (operations' and replies'), each named after the
/// first operation that has it.
fn message_sets(api: &Api, model: &Model) -> BTreeMap<Vec<MessageId>, (String, Vec<String>)> {
    let mut sets: BTreeMap<Vec<MessageId>, (String, Vec<String>)> = BTreeMap::new();
    for e in &model.endpoints {
        for op in e.receive.iter().chain(&e.send) {
            let key = &api.operation(op.id).key;
            let mut add = |ids: &[MessageId], name: String, what: String| {
                if ids.len() > 1 {
                    let entry = sets
                        .entry(ids.to_vec())
                        .or_insert_with(|| (name, Vec::new()));
                    if !entry.1.contains(&what) {
                        entry.1.push(what);
                    }
                }
            };
            add(
                &op.messages,
                message_enum_name(op),
                format!("operation `{key}`"),
            );
            if let Some(r) = &op.reply {
                add(r, reply_enum_name(op), format!("operation `{key}`'s reply"));
            }
        }
    }
    sets
}

impl<'a> Ctx<'a> {
    pub(super) fn new(
        api: &'a Api,
        model: &Model,
        space: &'a TypeSpace<'a>,
        messages: &'a [MessageTypes],
        types: &'a EndpointTypes,
    ) -> Self {
        Ctx {
            api,
            space,
            messages,
            types,
            enums: message_sets(api, model),
        }
    }

    pub(super) fn msg_name(&self, id: MessageId) -> &str {
        &self.messages[id.0 as usize].name
    }

    pub(super) fn msg_ty(&self, id: MessageId) -> TokenStream {
        let n = format_ident!("{}", self.msg_name(id));
        quote!(super::messages::#n)
    }

    pub(super) fn check_ident(&self, id: MessageId) -> proc_macro2::Ident {
        format_ident!("{}", const_name(self.msg_name(id)))
    }

    pub(super) fn check(&self, id: MessageId) -> TokenStream {
        let c = self.check_ident(id);
        quote!(super::channels::checks::#c)
    }

    /// The type of an operation's message set: the message itself, or the enum of that set
    /// (one per set, whichever operations share it).
    pub(super) fn set_ty(&self, ids: &[MessageId], enum_name: &str) -> TokenStream {
        if ids.len() == 1 {
            self.msg_ty(ids[0])
        } else {
            let n = format_ident!("{}", self.enum_name(ids, enum_name));
            quote!(super::channels::#n)
        }
    }

    /// The name of the enum of a set of several messages (`fallback` for a set no operation
    /// has, which does not happen).
    pub(super) fn enum_name<'s>(&'s self, ids: &[MessageId], fallback: &'s str) -> &'s str {
        self.enums
            .get(ids)
            .map_or(fallback, |(name, _)| name.as_str())
    }

    /// The statement that checks `message`, of the set `ids`, against its schema before it
    /// leaves (when outgoing checks are on: `runtime::validate::check_outgoing`).
    pub(super) fn check_outgoing(&self, ids: &[MessageId]) -> TokenStream {
        let check = self.outgoing_check(ids, &quote!(message));
        quote!(#check?;)
    }

    /// The check of `value`, of the set `ids`, before it leaves: a
    /// `Result<(), runtime::validate::Invalid>`.
    pub(super) fn outgoing_check(&self, ids: &[MessageId], value: &TokenStream) -> TokenStream {
        if let [one] = ids {
            let check = self.check(*one);
            quote!(#check.check_outgoing(&#value))
        } else {
            quote!(#value.check_outgoing())
        }
    }

    pub(super) fn query_ty(&self, index: usize) -> TokenStream {
        match self.types.query.get(&index) {
            Some(t) => self.space.tokens(t, &quote!(super::types::)),
            None => quote!(()),
        }
    }

    pub(super) fn op_doc(&self, op: &Op, fallback: String) -> TokenStream {
        operation_doc(self.api, op.id, fallback)
    }
}

/// Rustdoc for an operation of any transport: its title, summary and description (or
/// `fallback` when it has none), then the operation's key.
pub(super) fn operation_doc(api: &Api, id: OperationId, fallback: String) -> TokenStream {
    let o = api.operation(id);
    let mut parts: Vec<String> = [&o.title, &o.summary, &o.description]
        .into_iter()
        .flatten()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    parts.dedup();
    if parts.is_empty() {
        parts.push(fallback);
    }
    parts.push(format!("Operation `{}`.", o.key));
    doc_attrs(Some(&parts.join("\n\n")))
}

/// `m` or `m.into()`: a message goes into an operation's enum when it has several.
pub(super) fn conv(messages: usize) -> TokenStream {
    if messages > 1 {
        quote!(m.into())
    } else {
        quote!(m)
    }
}

pub(super) fn reply_enum_name(op: &Op) -> String {
    format!("{}Reply", op.type_base)
}

pub(super) fn message_enum_name(op: &Op) -> String {
    op.type_base.clone()
}

pub(super) fn schema_scalar(api: &Api, id: SchemaId) -> Option<&'static str> {
    let SchemaBody::Object(o) = &api.schema(id).body else {
        return None;
    };
    match o.types.first()? {
        JsonType::Integer => Some("Integer"),
        JsonType::Number => Some("Number"),
        JsonType::Boolean => Some("Boolean"),
        _ => None,
    }
}

/// `pub static IDENT: SchemaCheck` for a message's payload schema (`by_type` when its
/// generated type enforces the schema by itself); the module it goes in imports `SchemaCheck`.
pub(super) fn message_check(api: &Api, ident: proc_macro2::Ident, m: MessageId) -> TokenStream {
    let msg = api.message(m);
    let bundle = msg
        .payload
        .and_then(|p| crate::schema_json::validation_schema(api, p));
    let by_type = crate::schema_json::enforced_by_type(bundle.as_ref());
    let schema = bundle
        .map(|v| v.to_string())
        .unwrap_or_else(|| "true".to_owned());
    let schema = lit(&schema);
    let (doc, new) = if by_type {
        (
            format!(
                " The payload schema of message `{}` (its type enforces it: messages are decoded straight from their bytes).",
                msg.key
            ),
            quote!(by_type),
        )
    } else {
        (
            format!(" The payload schema of message `{}`.", msg.key),
            quote!(new),
        )
    };
    quote! {
        #[doc = #doc]
        pub static #ident: SchemaCheck = SchemaCheck::#new(#schema);
    }
}

/// The name of the static check of a message's headers schema.
pub(super) fn headers_check_ident(cx: &Ctx<'_>, m: MessageId) -> proc_macro2::Ident {
    format_ident!("{}_HEADERS", cx.check_ident(m))
}

/// Code that reads an endpoint's parameters from axum's path map.
pub(super) fn read_params(e: &Endpoint) -> TokenStream {
    let name = format_ident!("{}Params", e.name);
    if e.params.is_empty() {
        quote!(let params = super::channels::#name::default();)
    } else {
        quote! {
            let params = match super::channels::#name::read(|n| path.get(n).cloned()) {
                Ok(p) => p,
                Err(why) => return error_response(StatusCode::NOT_FOUND, why),
            };
        }
    }
}

pub(super) fn path_extractor(e: &Endpoint) -> TokenStream {
    if e.params.is_empty() {
        quote!()
    } else {
        quote!(Path(path): Path<HashMap<String, String>>,)
    }
}

/// What each protocol adds to the generated `server` module, in the order of its endpoints.
#[derive(Default)]
pub(super) struct ServerParts {
    /// `use` items.
    pub imports: TokenStream,
    /// Methods of the `Handler` trait.
    pub trait_items: Vec<TokenStream>,
    /// Fields of `Config`, with their defaults.
    pub config_fields: Vec<TokenStream>,
    pub config_defaults: Vec<TokenStream>,
    /// Fields of `Sender`, with how `Server::new` sets them from the `config`.
    pub sender_fields: Vec<TokenStream>,
    pub sender_inits: Vec<TokenStream>,
    /// Methods of `Sender`.
    pub sender_items: Vec<TokenStream>,
    /// Requests the server sends and waits replies for: fields of `Pendings`, with their
    /// initial values.
    pub pending_fields: Vec<TokenStream>,
    pub pending_inits: Vec<TokenStream>,
    /// `.route(…)` calls of `Server::router`.
    pub routes: Vec<TokenStream>,
    /// Items beside the server (connection handlers, axum handlers).
    pub fns: Vec<TokenStream>,
    /// Statements at the start of `Server::new` (checks of the configuration; `?` returns a
    /// `ConfigError`).
    pub new_prelude: Vec<TokenStream>,
    /// Statements of `Server::shutdown`.
    pub shutdown: Vec<TokenStream>,
}

/// The `backplane` setting of `Config`, once for the WebSocket hub and the SSE topics.
pub(super) fn backplane_config(p: &mut ServerParts) {
    p.imports.extend(quote! {
        pub use crate::runtime::backplane::Backplane;
    });
    p.config_fields.push(quote! {
        /// What the server's replicas share: nothing (the default: each process on its own),
        /// or a Redis or NATS server (`Backplane::from_url("redis://…")`) that carries
        /// WebSocket publishes and sends between replicas and holds the SSE replay windows;
        /// with one, make the [`Server`] inside a Tokio runtime.
        pub backplane: Backplane,
    });
    p.config_defaults
        .push(quote!(backplane: Backplane::default(),));
}
