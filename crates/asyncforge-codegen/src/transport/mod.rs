//! Servers and clients for WebSocket and Server-Sent-Events channels.
//!
//! Three modules beside `types` and `messages`:
//! - `channels`: typed channel parameters, the schema checks of incoming messages, and one
//!   enum per operation that carries several messages;
//! - `server`: a `Handler` trait with one method per *receive* operation, a `Sender` with
//!   typed methods per *send* operation, and `Server::router(handler) -> axum::Router`;
//! - `client`: one client per endpoint, with typed send methods, request/reply with a
//!   timeout, and a typed stream of what the server sends.
//!
//! The conventions (paths, frames, SSE) are in `docs/protocols.md`.

pub mod brokers;
mod http;
pub mod kafka;
pub mod mqtt;

use std::collections::BTreeMap;

use asyncforge_spec::ir::{Api, JsonType, MessageId, SchemaBody, SchemaId};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::messages::MessageTypes;
use crate::model::{Endpoint, Model, Op, Protocol};
use crate::names::type_name;
use crate::tokens::{doc_attrs, doc_lines, ident, lit, names};
use crate::types::{Ty, TypeSpace};

/// Typed parts of the endpoints that need types from the type space (binding query and
/// headers schemas).
pub struct Parts {
    query: BTreeMap<usize, Ty>,
}

/// Assigns types to the endpoints' query schemas (before the type space is emitted).
pub fn collect(model: &Model, space: &mut TypeSpace<'_>) -> Parts {
    let mut query = BTreeMap::new();
    for (i, e) in model.endpoints.iter().enumerate() {
        if let Some(q) = e.query {
            query.insert(i, space.ty(q, &format!("{}Query", e.name)));
        }
    }
    Parts { query }
}

/// The generated modules.
pub struct Emitted {
    /// `channels` module body.
    pub channels: TokenStream,
    /// `server` module body.
    pub server: TokenStream,
    /// `client` module body.
    pub client: TokenStream,
}

struct Ctx<'a> {
    api: &'a Api,
    space: &'a TypeSpace<'a>,
    messages: &'a [MessageTypes],
    parts: &'a Parts,
    /// One enum per set of messages: its name and the operations (and replies) it serves,
    /// named after the first.
    enums: BTreeMap<Vec<MessageId>, (String, Vec<String>)>,
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

impl Ctx<'_> {
    fn msg_name(&self, id: MessageId) -> &str {
        &self.messages[id.0 as usize].name
    }

    fn msg_ty(&self, id: MessageId) -> TokenStream {
        let n = format_ident!("{}", self.msg_name(id));
        quote!(super::messages::#n)
    }

    fn check_ident(&self, id: MessageId) -> proc_macro2::Ident {
        format_ident!("{}", crate::names::const_name(self.msg_name(id)))
    }

    fn check(&self, id: MessageId) -> TokenStream {
        let c = self.check_ident(id);
        quote!(super::channels::checks::#c)
    }

    /// The type of an operation's message set: the message itself, or the enum of that set
    /// (one per set, whichever operations share it).
    fn set_ty(&self, ids: &[MessageId], enum_name: &str) -> TokenStream {
        if ids.len() == 1 {
            self.msg_ty(ids[0])
        } else {
            let n = format_ident!("{}", self.enum_name(ids, enum_name));
            quote!(super::channels::#n)
        }
    }

    /// The name of the enum of a set of several messages (`fallback` for a set no operation
    /// has, which does not happen).
    fn enum_name<'s>(&'s self, ids: &[MessageId], fallback: &'s str) -> &'s str {
        self.enums
            .get(ids)
            .map_or(fallback, |(name, _)| name.as_str())
    }

    /// The statement that checks `message`, of the set `ids`, against its schema before it
    /// leaves (when outgoing checks are on: `runtime::validate::check_outgoing`).
    fn check_outgoing(&self, ids: &[MessageId]) -> TokenStream {
        let check = self.outgoing_check(ids, &quote!(message));
        quote!(#check?;)
    }

    /// The check of `value`, of the set `ids`, before it leaves: a
    /// `Result<(), runtime::validate::Invalid>`.
    fn outgoing_check(&self, ids: &[MessageId], value: &TokenStream) -> TokenStream {
        if let [one] = ids {
            let check = self.check(*one);
            quote!(#check.check_outgoing(&#value))
        } else {
            quote!(#value.check_outgoing())
        }
    }

    fn query_ty(&self, index: usize) -> TokenStream {
        match self.parts.query.get(&index) {
            Some(t) => self.space.tokens(t, &quote!(super::types::)),
            None => quote!(()),
        }
    }

    fn op_doc(&self, op: &Op, fallback: String) -> TokenStream {
        operation_doc(self.api, op.id, fallback)
    }
}

/// Rustdoc for an operation of any transport: its title, summary and description (or
/// `fallback` when it has none), then the operation's key.
pub(crate) fn operation_doc(
    api: &Api,
    id: asyncforge_spec::ir::OperationId,
    fallback: String,
) -> TokenStream {
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
fn conv(messages: usize) -> TokenStream {
    if messages > 1 {
        quote!(m.into())
    } else {
        quote!(m)
    }
}

fn reply_enum_name(op: &Op) -> String {
    format!("{}Reply", op.type_base)
}

fn message_enum_name(op: &Op) -> String {
    op.type_base.clone()
}

/// Emits the three modules for an API's WebSocket and SSE endpoints.
pub fn emit(
    api: &Api,
    model: &Model,
    space: &TypeSpace<'_>,
    messages: &[MessageTypes],
    parts: &Parts,
) -> Emitted {
    let cx = Ctx {
        api,
        space,
        messages,
        parts,
        enums: message_sets(api, model),
    };
    Emitted {
        channels: channels(&cx, model),
        server: server(&cx, model),
        client: client(&cx, model),
    }
}

// ---------------------------------------------------------------------------------------
// channels

fn schema_scalar(api: &Api, id: SchemaId) -> Option<&'static str> {
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
pub(crate) fn message_check(api: &Api, ident: proc_macro2::Ident, m: MessageId) -> TokenStream {
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

fn checks_for(cx: &Ctx<'_>, model: &Model) -> TokenStream {
    let mut used: Vec<MessageId> = Vec::new();
    for e in &model.endpoints {
        for op in e.receive.iter().chain(&e.send) {
            for m in op.messages.iter().chain(op.reply.iter().flatten()) {
                if !used.contains(m) {
                    used.push(*m);
                }
            }
        }
    }
    used.sort_by_key(|m| m.0);
    let mut items = Vec::new();
    for m in used {
        items.push(message_check(cx.api, cx.check_ident(m), m));
    }
    // The headers schemas of messages received over HTTP (a webhook's headers are checked).
    let mut headers_checked: Vec<MessageId> = Vec::new();
    for e in model
        .endpoints
        .iter()
        .filter(|e| e.protocol == Protocol::Http)
    {
        for op in &e.receive {
            for m in &op.messages {
                if cx.api.message(*m).headers.is_some() && !headers_checked.contains(m) {
                    headers_checked.push(*m);
                }
            }
        }
    }
    headers_checked.sort_by_key(|m| m.0);
    for m in headers_checked {
        let msg = cx.api.message(m);
        let schema = msg
            .headers
            .and_then(|h| crate::schema_json::validation_schema(cx.api, h))
            .unwrap_or(serde_json::Value::Bool(true));
        let ident = headers_check_ident(cx, m);
        let doc = format!(" The headers schema of message `{}`.", msg.key);
        let schema = lit(&schema.to_string());
        items.push(quote! {
            #[doc = #doc]
            pub static #ident: SchemaCheck = SchemaCheck::new(#schema);
        });
    }
    for e in &model.endpoints {
        let base = crate::names::const_name(&e.name);
        for p in &e.params {
            if let Some(schema) = crate::schema_json::parameter_schema(cx.api, p.schema, &p.allowed)
            {
                let ident = format_ident!(
                    "{}_{}",
                    base,
                    crate::names::const_name(p.field.trim_start_matches("r#"))
                );
                let doc = format!(" The schema of parameter `{}` of `{}`.", p.name, e.address);
                let schema = lit(&schema.to_string());
                items.push(quote! {
                    #[doc = #doc]
                    pub static #ident: SchemaCheck = SchemaCheck::new(#schema);
                });
            }
        }
        for (what, schema_id) in [("QUERY", e.query), ("HEADERS", e.headers)] {
            let Some(schema) =
                schema_id.and_then(|s| crate::schema_json::validation_schema(cx.api, s))
            else {
                continue;
            };
            let ident = format_ident!("{}_{}", base, what);
            let doc = format!(
                " The WebSocket binding's {} schema of `{}`.",
                what.to_lowercase(),
                e.address
            );
            let schema = lit(&schema.to_string());
            items.push(quote! {
                #[doc = #doc]
                pub static #ident: SchemaCheck = SchemaCheck::new(#schema);
            });
        }
    }
    let doc = if model.has(Protocol::Ws) || !model.has(Protocol::Http) {
        " The schemas incoming messages, parameters and upgrade requests are checked against."
    } else {
        " The schemas incoming messages, their headers and parameters are checked against."
    };
    quote! {
        #[doc = #doc]
        pub mod checks {
            use crate::runtime::validate::SchemaCheck;
            #(#items)*
        }
    }
}

/// The name of the static check of a message's headers schema.
fn headers_check_ident(cx: &Ctx<'_>, m: MessageId) -> proc_macro2::Ident {
    format_ident!("{}_HEADERS", cx.check_ident(m))
}

fn param_check(e: &Endpoint, field: &str, has: bool) -> TokenStream {
    if !has {
        return quote!(None);
    }
    let ident = format_ident!(
        "{}_{}",
        crate::names::const_name(&e.name),
        crate::names::const_name(field.trim_start_matches("r#"))
    );
    quote!(Some(&checks::#ident))
}

fn channels(cx: &Ctx<'_>, model: &Model) -> TokenStream {
    let checks = checks_for(cx, model);
    let mut items = vec![checks];
    for e in &model.endpoints {
        let name = format_ident!("{}Params", e.name);
        let doc = format!(" Parameters of the channel address `{}`.", e.address);
        let address = lit(&e.address);
        let fields = e.params.iter().map(|p| {
            let f = ident(&p.field);
            let doc = doc_attrs(Some(
                p.doc
                    .as_deref()
                    .unwrap_or(&format!("The `{}` parameter.", p.name)),
            ));
            quote!(#doc pub #f: String,)
        });
        let pairs = e.params.iter().map(|p| {
            let f = ident(&p.field);
            let n = lit(&p.name);
            quote!((#n, self.#f.as_str()))
        });
        let reads = e.params.iter().map(|p| {
            let f = ident(&p.field);
            let n = lit(&p.name);
            let has = crate::schema_json::parameter_schema(cx.api, p.schema, &p.allowed).is_some();
            let check = param_check(e, &p.field, has);
            quote! {
                #f: {
                    let value = get(#n).ok_or_else(|| missing_parameter(#n))?;
                    parameter(#n, &value, #check)?
                },
            }
        });
        let get = if e.params.is_empty() {
            quote!(_get)
        } else {
            quote!(get)
        };
        items.push(quote! {
            #[doc = #doc]
            #[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
            pub struct #name {
                #(#fields)*
            }

            impl #name {
                /// The address template.
                pub const ADDRESS: &'static str = #address;

                /// The concrete address (`rooms/42` for `rooms/{roomId}`).
                pub fn address(&self) -> String {
                    fill_address(Self::ADDRESS, &[#(#pairs),*])
                }

                /// Reads and checks the parameters (`get` looks one up by name).
                pub fn read(#get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
                    Ok(#name { #(#reads)* })
                }
            }
        });
    }
    // One enum per set of several messages, whichever operations and replies share it.
    for (ids, (name, users)) in &cx.enums {
        items.push(message_enum(cx, name, ids, users));
    }
    quote! {
        use crate::runtime::codegen::*;
        use crate::runtime::endpoint::{fill_address, missing_parameter, parameter, Outgoing};
        #(#items)*
    }
}

fn message_enum(cx: &Ctx<'_>, name: &str, ids: &[MessageId], users: &[String]) -> TokenStream {
    let ident = format_ident!("{}", name);
    let doc = format!(" The messages of {}.", users.join(", "));
    let variants: Vec<proc_macro2::Ident> = ids
        .iter()
        .map(|m| format_ident!("{}", cx.msg_name(*m)))
        .collect();
    let tys: Vec<TokenStream> = ids.iter().map(|m| cx.msg_ty(*m)).collect();
    let consts: Vec<proc_macro2::Ident> = ids.iter().map(|m| cx.check_ident(*m)).collect();
    let docs: Vec<String> = ids
        .iter()
        .map(|m| format!(" Message `{}`.", cx.api.message(*m).key))
        .collect();
    quote! {
        #[doc = #doc]
        #[derive(Debug, Clone, PartialEq)]
        pub enum #ident {
            #( #[doc = #docs] #variants(#tys), )*
        }

        #(
            impl From<#tys> for #ident {
                fn from(m: #tys) -> Self {
                    #ident::#variants(m)
                }
            }
        )*

        impl #ident {
            /// Checks the message against its schema before it is sent, when outgoing checks
            /// are on (`runtime::validate::check_outgoing`).
            pub fn check_outgoing(&self) -> Result<(), crate::runtime::validate::Invalid> {
                match self { #( #ident::#variants(m) => checks::#consts.check_outgoing(m), )* }
            }
        }

        impl Outgoing for #ident {
            fn name(&self) -> &'static str {
                match self { #( #ident::#variants(m) => m.name(), )* }
            }
            fn content_type(&self) -> Option<&'static str> {
                match self { #( #ident::#variants(m) => m.content_type(), )* }
            }
            fn correlation_pointer(&self) -> Option<&'static str> {
                match self { #( #ident::#variants(m) => m.correlation_pointer(), )* }
            }
            fn to_bytes(&self) -> Result<Vec<u8>, CodecError> {
                match self { #( #ident::#variants(m) => m.to_bytes(), )* }
            }
            fn typed_correlation(&self) -> crate::runtime::message::Correlation {
                match self { #( #ident::#variants(m) => Message::correlation(m), )* }
            }
        }
    }
}

/// A reply message and the operations (pending field, size of its reply set) it may answer.
type ReplyRoute = (MessageId, Vec<(proc_macro2::Ident, usize)>);

fn add_reply_route(routes: &mut Vec<ReplyRoute>, reply: &[MessageId], field: &proc_macro2::Ident) {
    for m in reply {
        match routes.iter_mut().find(|(id, _)| id == m) {
            Some((_, takers)) => takers.push((field.clone(), reply.len())),
            None => routes.push((*m, vec![(field.clone(), reply.len())])),
        }
    }
}

/// Hands a decoded reply `m` (correlation id `id`) to the request waiting for it. When one
/// message answers several operations (Kraken's `subscriptionStatus` answers `subscribe` and
/// `unsubscribe`), the operation whose request has the id takes it, else the one with a
/// request waiting in order.
fn reply_dispatch(
    takers: &[(proc_macro2::Ident, usize)],
    pending: &TokenStream,
    scope: &TokenStream,
    done: impl Fn(TokenStream) -> TokenStream,
    nobody: &TokenStream,
) -> TokenStream {
    if let [(field, n)] = takers {
        let m_conv = conv(*n);
        return done(quote!(#pending.#field.complete(#scope, id, #m_conv)));
    }
    let routes = takers
        .iter()
        .map(|(field, _)| quote!(#pending.#field.route(#scope, id.as_ref())));
    let arms = takers.iter().enumerate().map(|(i, (field, n))| {
        let m_conv = conv(*n);
        let complete = done(quote!(#pending.#field.complete(#scope, id, #m_conv)));
        let i = proc_macro2::Literal::usize_unsuffixed(i);
        quote!(Some(#i) => #complete,)
    });
    quote! {
        match crate::runtime::rpc::choose(&[#(#routes),*]) {
            #(#arms)*
            _ => #nobody,
        }
    }
}

/// Code that reads an endpoint's parameters from axum's path map.
fn read_params(e: &Endpoint) -> TokenStream {
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

fn path_extractor(e: &Endpoint) -> TokenStream {
    if e.params.is_empty() {
        quote!()
    } else {
        quote!(Path(path): Path<HashMap<String, String>>,)
    }
}

// ---------------------------------------------------------------------------------------
// server

fn server(cx: &Ctx<'_>, model: &Model) -> TokenStream {
    let has_ws = model.has(Protocol::Ws);
    let has_sse = model.has(Protocol::Sse);
    let mut trait_items = Vec::new();
    let mut sender_items = Vec::new();
    let mut pending_fields = Vec::new();
    let mut pending_inits = Vec::new();
    let mut routes = Vec::new();
    let mut fns = Vec::new();

    for (index, e) in model.endpoints.iter().enumerate() {
        let params_ty = format_ident!("{}Params", e.name);
        let params_path = quote!(super::channels::#params_ty);
        let route = lit(&e.route);
        match e.protocol {
            Protocol::Ws => {
                let session = format_ident!("{}Session", e.name);
                let query_ty = cx.query_ty(index);
                let sdoc = format!(
                    " A WebSocket connection on `{}`: its parameters and typed query.",
                    e.address
                );
                fns.push(quote! {
                    #[doc = #sdoc]
                    pub type #session = Session<#params_path, #query_ty>;
                });
                let opened = format_ident!("{}_opened", e.name.to_lowercase_snake());
                let closed = format_ident!("{}_closed", e.name.to_lowercase_snake());
                let odoc = format!(
                    " A connection on `{}` opened (it is subscribed to its concrete address).",
                    e.address
                );
                let cdoc = format!(" A connection on `{}` closed.", e.address);
                trait_items.push(quote! {
                    #[doc = #odoc]
                    fn #opened(&self, _session: &#session) {}
                    #[doc = #cdoc]
                    fn #closed(&self, _session: &#session) {}
                });
                ws_endpoint(
                    cx,
                    e,
                    index,
                    &mut trait_items,
                    &mut sender_items,
                    &mut pending_fields,
                    &mut pending_inits,
                    &mut fns,
                );
                let upgrade = format_ident!("{}_upgrade", e.name.to_lowercase_snake());
                routes.push(quote!(.route(#route, routing::get(#upgrade::<H>))));
            }
            Protocol::Sse => {
                let stream = format_ident!("{}_stream", e.name.to_lowercase_snake());
                let post = format_ident!("{}_post", e.name.to_lowercase_snake());
                let mut methods = Vec::new();
                if !e.send.is_empty() {
                    methods.push(quote!(routing::get(#stream)));
                }
                if !e.receive.is_empty() {
                    if methods.is_empty() {
                        methods.push(quote!(routing::post(#post::<H>)));
                    } else {
                        methods.push(quote!(.post(#post::<H>)));
                    }
                }
                if !methods.is_empty() {
                    routes.push(quote!(.route(#route, #(#methods)*)));
                }
                sse_endpoint(cx, e, &mut trait_items, &mut sender_items, &mut fns);
            }
            // HTTP endpoints come from `http::server_parts`; brokers have no endpoints.
            Protocol::Http | Protocol::Mqtt | Protocol::Kafka => {}
        }
    }
    let has_http = model.has(Protocol::Http);
    let http_parts = http::server_parts(cx, model);
    trait_items.extend(http_parts.trait_items);
    sender_items.extend(http_parts.sender_items);
    routes.extend(http_parts.routes);
    fns.extend(http_parts.fns);
    let imports_http = http_parts.imports;
    let prelude = http_parts.new_prelude;
    // Only WebSocket connections have requests from the server waiting for replies.
    let rpc = !pending_fields.is_empty();

    let (config_fields, config_defaults, sender_fields, sender_inits) = {
        let mut cf = Vec::new();
        let mut cd = Vec::new();
        let mut sf = Vec::new();
        let mut si = Vec::new();
        if has_ws {
            cf.push(quote! {
                /// WebSocket limits: message size, Origin allow-list, connections, send queue,
                /// slow-consumer policy, keepalive.
                pub ws: WsConfig,
            });
            cd.push(quote!(ws: WsConfig::default(),));
            sf.push(quote!(hub: Hub,));
            si.push(quote!(hub: Hub::new(config.ws.clone()),));
        }
        if has_sse {
            cf.push(quote! {
                /// SSE replay window, retry hint, heartbeat and subscriber queue.
                pub sse: SseConfig,
                /// Most SSE topics (concrete addresses) held at once.
                pub max_topics: usize,
            });
            cd.push(quote!(sse: SseConfig::default(), max_topics: 10_000,));
            sf.push(quote!(topics: Topics,));
            si.push(quote!(topics: Topics::new(config.sse.clone(), config.max_topics),));
        }
        cf.extend(http_parts.config_fields);
        cd.extend(http_parts.config_defaults);
        sf.extend(http_parts.sender_fields);
        si.extend(http_parts.sender_inits);
        (cf, cd, sf, si)
    };
    // Trait objects (outbox, stores, hooks) have no `Debug`.

    let imports_ws = has_ws.then(|| {
        quote! {
            use crate::runtime::ws::{self, Ctx, Hub};
            pub use crate::runtime::ws::{ConnId, Session, WsConfig};
            use crate::runtime::axum::extract::ws::WebSocketUpgrade;
            use crate::runtime::axum::extract::RawQuery;
            use crate::runtime::endpoint::{frame_bytes, headers_object, query_object, outgoing_frame, typed_part, Incoming, Scalar};
        }
    });
    let imports_sse = has_sse.then(|| {
        quote! {
            use crate::runtime::sse::server::{accepted, reply_response, Topics};
            pub use crate::runtime::sse::server::SseConfig;
            use crate::runtime::axum::body::Bytes;
        }
    });
    let mut shutdown = Vec::new();
    if has_ws {
        shutdown.push(quote!(self.sender.hub.close_all(1001, "server shutting down");));
    }
    if has_sse {
        shutdown.push(quote!(self.sender.topics.close_all();));
    }
    let pending_field = rpc.then(|| quote!(pending: Pendings,));
    // The connections and streams reach the sender through the router's state.
    let shared_sender = fns
        .iter()
        .any(|f| f.to_string().contains("shared . sender"));
    let shared_sender_field = shared_sender.then(|| quote!(sender: Sender,));
    let shared_sender_init = shared_sender.then(|| quote!(sender: self.sender.clone(),));
    let pending_init = rpc.then(|| quote!(pending: Pendings { #(#pending_inits)* },));
    let (timeout_field, timeout_default, timeout_sender_field, timeout_init) = if rpc {
        (
            quote! {
                /// How long a request the server sends waits for its reply.
                pub request_timeout: Duration,
            },
            quote!(request_timeout: Duration::from_secs(10),),
            quote!(request_timeout: Duration,),
            quote!(request_timeout: config.request_timeout,),
        )
    } else {
        Default::default()
    };
    // `Default` is derived when every field's default is its type's.
    let derived_default = timeout_default.is_empty()
        && config_defaults
            .iter()
            .all(|d| d.to_string().ends_with(":: default () ,"));
    let config_default = (!derived_default).then(|| {
        quote! {
            impl Default for Config {
                fn default() -> Self {
                    Config {
                        #(#config_defaults)*
                        #timeout_default
                    }
                }
            }
        }
    });
    let default_derive = derived_default.then(|| quote!(Default,));
    let (config_derive, config_debug) = if has_http {
        (
            quote!(#[derive(Clone, #default_derive)]),
            quote! {
                impl std::fmt::Debug for Config {
                    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.debug_struct("Config").finish_non_exhaustive()
                    }
                }
            },
        )
    } else {
        (quote!(#[derive(Debug, Clone, #default_derive)]), quote!())
    };
    let streams = has_ws || has_sse || !has_http;
    let handler_doc = doc_lines(
        if streams {
            " What the application does with the messages it receives: one method per *receive*\n operation. A method returning `Err(Reject)` answers the peer with\n `{\"error\": …}` and keeps the connection; the refusal of a request carries the\n request's operation and correlation id, so the peer's request fails at once."
        } else {
            " What the application does with the webhooks it receives: one method per *receive*\n operation, called after the request was verified, deduplicated and checked; its\n result is the HTTP answer (`204`, or an error status the sender acts on)."
        },
        false,
    );
    let sender_doc = doc_lines(
        if streams {
            " Typed handles for every *send* operation: to one connection, to the subscribers of\n a concrete address, or to everyone. Cheap to clone."
        } else {
            " Typed handles for every *send* operation (webhooks to subscribers) and the\n application's side of its resources. Cheap to clone."
        },
        false,
    );
    let server_doc = doc_lines(
        if streams {
            " The server: owns the connection hub and topics; hands out [`Sender`]s and the router."
        } else {
            " The server: owns the webhook sender, the receivers' settings and the resource\n stores; hands out [`Sender`]s and the router."
        },
        false,
    );
    let shutdown_doc = doc_lines(
        if streams {
            " Ends every connection and stream (WebSocket close 1001 \"going away\"); call it\n when the HTTP server shuts down (axum's `with_graceful_shutdown`). Clients\n reconnect: WebSocket clients with backoff, SSE clients with `Last-Event-ID`."
        } else {
            " Nothing to end: HTTP endpoints keep no streams open (axum's\n `with_graceful_shutdown` lets requests in flight finish). Deliveries still pending\n stay in the outbox for `Sender::resume_webhooks`."
        },
        false,
    );
    let inits = quote! {
        Server {
            sender: Sender {
                #(#sender_inits)*
                #pending_init
                #timeout_init
            },
        }
    };
    let new_fn = if prelude.is_empty() {
        quote! {
            /// A server with these settings.
            pub fn new(config: Config) -> Self {
                #inits
            }
        }
    } else {
        quote! {
            /// A server with these settings, or why they cannot work (a webhook endpoint
            /// without a valid secret, say): checked now, not on the first request.
            pub fn new(config: Config) -> Result<Self, Error> {
                #(#prelude)*
                Ok(#inits)
            }
        }
    };
    let pending_struct = rpc.then(|| {
        quote! {
            /// Requests the server sent and waits replies for.
            #[derive(Clone, Default)]
            struct Pendings {
                #(#pending_fields)*
            }
        }
    });
    quote! {
        //! The server side: implement [`Handler`], build a [`Server`], mount [`Server::router`].
        #![allow(clippy::too_many_arguments)]
        use std::collections::HashMap;
        use std::sync::Arc;
        use std::time::Duration;

        use crate::runtime::axum::extract::{Path, State};
        pub use crate::runtime::axum::http::HeaderMap;
        use crate::runtime::axum::http::StatusCode;
        use crate::runtime::axum::response::Response;
        use crate::runtime::axum::routing;
        use crate::runtime::axum::Router;
        use crate::runtime::codegen::Message;
        use crate::runtime::endpoint::{error_response, reject_response, reply_frame, Outgoing, Refusal as FrameRefusal};
        use crate::runtime::rpc::Pending;
        use crate::runtime::{Error, Received, Reject};
        #imports_ws
        #imports_sse
        #imports_http

        #handler_doc
        pub trait Handler: Send + Sync + 'static {
            #(#trait_items)*
        }

        /// Server settings.
        #config_derive
        pub struct Config {
            #(#config_fields)*
            #timeout_field
        }

        #config_default

        #config_debug

        #pending_struct

        #sender_doc
        #[derive(Clone)]
        pub struct Sender {
            #(#sender_fields)*
            #pending_field
            #timeout_sender_field
        }

        impl Sender {
            #(#sender_items)*
        }

        #server_doc
        pub struct Server {
            sender: Sender,
        }

        impl Server {
            #new_fn

            /// A handle to send messages with.
            pub fn sender(&self) -> Sender {
                self.sender.clone()
            }

            #shutdown_doc
            pub fn shutdown(&self) {
                #(#shutdown)*
            }

            /// The axum router of every endpoint, calling `handler` for incoming messages.
            pub fn router<H: Handler>(&self, handler: H) -> Router {
                let state = Arc::new(Shared { handler: Arc::new(handler), #shared_sender_init });
                Router::new()
                    #(#routes)*
                    .with_state(state)
            }
        }

        struct Shared<H> {
            handler: Arc<H>,
            #shared_sender_field
        }

        #(#fns)*

    }
}

trait SnakeExt {
    fn to_lowercase_snake(&self) -> String;
}

impl SnakeExt for String {
    fn to_lowercase_snake(&self) -> String {
        heck::ToSnakeCase::to_snake_case(self.as_str())
    }
}

#[allow(clippy::too_many_arguments)]
fn ws_endpoint(
    cx: &Ctx<'_>,
    e: &Endpoint,
    index: usize,
    trait_items: &mut Vec<TokenStream>,
    sender_items: &mut Vec<TokenStream>,
    pending_fields: &mut Vec<TokenStream>,
    pending_inits: &mut Vec<TokenStream>,
    fns: &mut Vec<TokenStream>,
) {
    let session = format_ident!("{}Session", e.name);
    let params_ty = format_ident!("{}Params", e.name);
    let params_path = quote!(super::channels::#params_ty);
    let snake = e.name.to_lowercase_snake();
    let group = lit(&format!("#{}", e.route));
    let mut tries = Vec::new();
    let mut replies: Vec<ReplyRoute> = Vec::new();
    // The request/reply operations received here, with the correlation id places of their
    // messages (for the refusal of a frame that fits none of the messages).
    let mut requests = Vec::new();

    for op in &e.receive {
        let method = ident(&op.method);
        let msg_ty = cx.set_ty(&op.messages, &message_enum_name(op));
        let doc = cx.op_doc(op, format!("A client sent a message on `{}`.", e.address));
        let op_key = lit(&cx.api.operation(op.id).key);
        match &op.reply {
            None => {
                trait_items.push(quote! {
                    #doc
                    fn #method(&self, received: Received<#msg_ty, &#params_path, &#session>) -> impl std::future::Future<Output = Result<(), Reject>> + Send;
                });
                for m in &op.messages {
                    let m_conv = conv(op.messages.len());
                    let ty = cx.msg_ty(*m);
                    let check = cx.check(*m);
                    tries.push(quote! {
                        if let Some(m) = incoming.try_message::<#ty>(&#check) {
                            return self.shared.handler.#method(Received { message: #m_conv, params: &session.params, meta: session }).await.map_err(FrameRefusal::from);
                        }
                    });
                }
            }
            Some(reply) => {
                let reply_ty = cx.set_ty(reply, &reply_enum_name(op));
                trait_items.push(quote! {
                    #doc
                    ///
                    /// The reply goes back on the same connection, with the request's correlation
                    /// id filled in when the reply does not set it.
                    fn #method(&self, received: Received<#msg_ty, &#params_path, &#session>) -> impl std::future::Future<Output = Result<#reply_ty, Reject>> + Send;
                });
                let reply_check = cx.outgoing_check(reply, &quote!(reply));
                for m in &op.messages {
                    let m_conv = conv(op.messages.len());
                    let ty = cx.msg_ty(*m);
                    let check = cx.check(*m);
                    tries.push(quote! {
                        if let Some(m) = incoming.try_message::<#ty>(&#check) {
                            let pointer = <#ty as Message>::CORRELATION_POINTER;
                            let reply = match self.shared.handler.#method(Received { message: #m_conv, params: &session.params, meta: session }).await {
                                Ok(reply) => reply,
                                Err(reject) => return Err(incoming.refuse(reject, #op_key, pointer)),
                            };
                            let id = incoming.id_for_reply(&reply, pointer);
                            let frame = match reply_frame(&reply, #reply_check, id.as_ref()) {
                                Ok(frame) => frame,
                                Err(reject) => return Err(incoming.refuse(reject, #op_key, pointer)),
                            };
                            return ctx.hub.send(ctx.conn, frame).map_err(|e| FrameRefusal::new(e.to_string()));
                        }
                    });
                }
                let pointers = op.messages.iter().map(|m| {
                    let ty = cx.msg_ty(*m);
                    quote!(<#ty as Message>::CORRELATION_POINTER)
                });
                requests.push(quote!((#op_key, &[#(#pointers),*])));
            }
        }
    }

    for op in &e.send {
        let method = ident(&op.method);
        let msg_ty = cx.set_ty(&op.messages, &message_enum_name(op));
        let check = cx.check_outgoing(&op.messages);
        let doc = cx.op_doc(op, format!("Sends a message on `{}`.", e.address));
        match &op.reply {
            None => {
                let to = format_ident!("{}_to", op.method.trim_start_matches("r#"));
                let all = format_ident!("{}_broadcast", op.method.trim_start_matches("r#"));
                sender_items.push(quote! {
                    #doc
                    ///
                    /// Goes to every connection on the concrete address of `params`; returns how
                    /// many it was queued for.
                    pub fn #method(&self, params: &#params_path, message: impl Into<#msg_ty>) -> Result<usize, Error> {
                        let message: #msg_ty = message.into();
                        #check
                        let frame = outgoing_frame(&message, None)?;
                        Ok(self.hub.publish(&params.address(), frame))
                    }

                    #doc
                    ///
                    /// Goes to one connection.
                    pub fn #to(&self, conn: ConnId, message: impl Into<#msg_ty>) -> Result<(), Error> {
                        let message: #msg_ty = message.into();
                        #check
                        let frame = outgoing_frame(&message, None)?;
                        Ok(self.hub.send(conn, frame)?)
                    }

                    #doc
                    ///
                    /// Goes to every connection on this channel, whatever its parameters.
                    pub fn #all(&self, message: impl Into<#msg_ty>) -> Result<usize, Error> {
                        let message: #msg_ty = message.into();
                        #check
                        let frame = outgoing_frame(&message, None)?;
                        Ok(self.hub.publish(#group, frame))
                    }
                });
            }
            Some(reply) => {
                let reply_ty = cx.set_ty(reply, &reply_enum_name(op));
                let field = format_ident!("{}", op.method.trim_start_matches("r#"));
                pending_fields.push(quote!(#field: Pending<#reply_ty>,));
                pending_inits.push(quote!(#field: Pending::default(),));
                sender_items.push(quote! {
                    #doc
                    ///
                    /// Sends the request to one connection and waits for its reply (matched by
                    /// correlation id, or in order when the request has none).
                    pub async fn #method(&self, conn: ConnId, message: impl Into<#msg_ty>) -> Result<#reply_ty, Error> {
                        let message: #msg_ty = message.into();
                        #check
                        let (frame, id) = crate::runtime::endpoint::request_frame(&message)?;
                        let waiter = self.pending.#field.register(conn.0, id)?;
                        self.hub.send(conn, frame)?;
                        Ok(waiter.wait(self.request_timeout).await?)
                    }
                });
                add_reply_route(&mut replies, reply, &field);
            }
        }
    }
    for (m, takers) in &replies {
        let ty = cx.msg_ty(*m);
        let check = cx.check(*m);
        let dispatch = reply_dispatch(
            takers,
            &quote!(self.shared.sender.pending),
            &quote!(ctx.conn.0),
            |complete| quote!(#complete.map_err(|_| FrameRefusal::new("a reply to no pending request"))),
            &quote!(Err(FrameRefusal::new("a reply to no pending request"))),
        );
        tries.push(quote! {
            if let Some(m) = incoming.try_message::<#ty>(&#check) {
                let id = incoming.correlation_key(&m);
                return #dispatch;
            }
        });
    }

    let close_pending: Vec<TokenStream> = model_pending_fields(e)
        .into_iter()
        .map(|f| {
            let f = format_ident!("{}", f);
            quote!(self.shared.sender.pending.#f.close_scope(ctx.conn.0);)
        })
        .collect();
    // Every frame is a request of the one operation received here (no other operation, no
    // replies to the server's own requests): a frame that fits none of its messages answers it.
    let sole = e.receive.len() == 1 && requests.len() == 1 && replies.is_empty();
    let incoming_mut = (!tries.is_empty()).then(|| quote!(mut));
    let refuse = if requests.is_empty() {
        quote!(Err(FrameRefusal::new(incoming.rejection())))
    } else {
        quote!(Err(incoming.refusal(&[#(#requests),*], #sole)))
    };
    let conn_ty = format_ident!("{}Connection", e.name);
    let opened = format_ident!("{}_opened", snake);
    let closed = format_ident!("{}_closed", snake);
    let upgrade = format_ident!("{}_upgrade", snake);
    let query_ty = cx.query_ty(index);
    let query_clone = if cx.parts.query.contains_key(&index) {
        quote!(self.query.clone())
    } else {
        quote!(())
    };
    // What a frame's handling names: the session (receive operations), the connection
    // (replies to the server's requests).
    let uses = |what: &str| tries.iter().any(|t| names(t, what));
    let session_let = uses("session").then(|| {
        quote!(let session = self.session.get_or_init(|| Session { ctx: ctx.clone(), params: self.params.clone(), query: #query_clone });)
    });
    let ctx_arg = if session_let.is_some() || uses("ctx") {
        quote!(ctx)
    } else {
        quote!(_ctx)
    };
    let close_ctx = if close_pending.is_empty() {
        quote!(_ctx)
    } else {
        quote!(ctx)
    };
    let base = crate::names::const_name(&e.name);
    let query = match (e.query, cx.parts.query.get(&index)) {
        (Some(q), Some(_)) => {
            let kinds: Vec<TokenStream> = match &cx.api.schema(q).body {
                SchemaBody::Object(o) => o
                    .properties
                    .iter()
                    .filter_map(|(name, sid)| {
                        let k = format_ident!("{}", schema_scalar(cx.api, *sid)?);
                        let n = lit(name);
                        Some(quote!((#n, Scalar::#k)))
                    })
                    .collect(),
                _ => Vec::new(),
            };
            let has_check = crate::schema_json::validation_schema(cx.api, q).is_some();
            let check = if has_check {
                let c = format_ident!("{}_QUERY", base);
                quote!(&super::channels::checks::#c)
            } else {
                quote!(&crate::runtime::validate::SchemaCheck::new("true"))
            };
            quote! {
                let query: #query_ty = match typed_part("query", query_object(raw_query.as_deref(), &[#(#kinds),*]), #check) {
                    Ok(q) => q,
                    Err(why) => return error_response(StatusCode::BAD_REQUEST, why),
                };
            }
        }
        _ => TokenStream::new(),
    };
    let typed_query = cx.parts.query.contains_key(&index);
    let query_field = typed_query.then(|| quote!(query: #query_ty,));
    let query_init = typed_query.then(|| quote!(query,));
    let raw_query = if names(&query, "raw_query") {
        quote!(raw_query)
    } else {
        quote!(_)
    };
    let headers_check = e
        .headers
        .filter(|h| crate::schema_json::validation_schema(cx.api, *h).is_some())
        .map(|h| {
            let names: Vec<proc_macro2::Literal> = match &cx.api.schema(h).body {
                SchemaBody::Object(o) => o.properties.iter().map(|(n, _)| lit(n)).collect(),
                _ => Vec::new(),
            };
            let c = format_ident!("{}_HEADERS", base);
            quote! {
                let found = headers_object(&[#(#names),*], |n| headers.get(n).and_then(|v| v.to_str().ok()));
                if let Err(why) = typed_part::<crate::runtime::codegen::Value>("headers", found, &super::channels::checks::#c) {
                    return error_response(StatusCode::BAD_REQUEST, why);
                }
            }
        });
    let read = read_params(e);
    let path_arg = path_extractor(e);
    let doc_conn = format!(" The per-connection handler of `{}`.", e.address);
    fns.push(quote! {
        #[doc = #doc_conn]
        struct #conn_ty<H> {
            shared: Arc<Shared<H>>,
            params: #params_path,
            #query_field
            session: std::sync::OnceLock<#session>,
        }

        impl<H: Handler> ws::Handler for #conn_ty<H> {
            fn on_open(&self, ctx: &Ctx) {
                ctx.hub.subscribe(ctx.conn, self.params.address());
                ctx.hub.subscribe(ctx.conn, #group);
                let session = self.session.get_or_init(|| Session { ctx: ctx.clone(), params: self.params.clone(), query: #query_clone });
                self.shared.handler.#opened(session);
            }

            async fn on_frame(&self, #ctx_arg: &Ctx, frame: crate::runtime::frame::Frame) -> Result<(), FrameRefusal> {
                #session_let
                let #incoming_mut incoming = Incoming::new(frame_bytes(&frame));
                #(#tries)*
                #refuse
            }

            fn on_close(&self, #close_ctx: &Ctx) {
                #(#close_pending)*
                if let Some(session) = self.session.get() {
                    self.shared.handler.#closed(session);
                }
            }
        }

        async fn #upgrade<H: Handler>(
            State(shared): State<Arc<Shared<H>>>,
            #path_arg
            RawQuery(#raw_query): RawQuery,
            headers: HeaderMap,
            uri: crate::runtime::axum::http::Uri,
            upgrade: WebSocketUpgrade,
        ) -> Response {
            #read
            #query
            #headers_check
            let hub = shared.sender.hub.clone();
            let connection = #conn_ty { shared, params, #query_init session: std::sync::OnceLock::new() };
            let path = uri.path().to_owned();
            let raw = uri.query().map(str::to_owned);
            ws::accept(hub, Arc::new(connection), upgrade, headers, path, raw)
        }
    });
}

fn model_pending_fields(e: &Endpoint) -> Vec<String> {
    e.send
        .iter()
        .filter(|o| o.reply.is_some())
        .map(|o| o.method.trim_start_matches("r#").to_owned())
        .collect()
}

fn sse_endpoint(
    cx: &Ctx<'_>,
    e: &Endpoint,
    trait_items: &mut Vec<TokenStream>,
    sender_items: &mut Vec<TokenStream>,
    fns: &mut Vec<TokenStream>,
) {
    let params_ty = format_ident!("{}Params", e.name);
    let params_path = quote!(super::channels::#params_ty);
    let snake = e.name.to_lowercase_snake();
    let read = read_params(e);
    let path_arg = path_extractor(e);
    if !e.send.is_empty() {
        let stream = format_ident!("{}_stream", snake);
        let doc = format!(
            " `GET` on `{}`: the event stream of one address.",
            e.address
        );
        fns.push(quote! {
            #[doc = #doc]
            async fn #stream<H: Handler>(
                State(shared): State<Arc<Shared<H>>>,
                #path_arg
                headers: HeaderMap,
            ) -> Response {
                #read
                match shared.sender.topics.topic(&params.address()) {
                    Some(topic) => topic.response(&headers),
                    None => error_response(StatusCode::SERVICE_UNAVAILABLE, "too many event streams"),
                }
            }
        });
    }
    for op in &e.send {
        let method = ident(&op.method);
        let msg_ty = cx.set_ty(&op.messages, &message_enum_name(op));
        let check = cx.check_outgoing(&op.messages);
        let doc = cx.op_doc(op, format!("Streams an event on `{}`.", e.address));
        sender_items.push(quote! {
            #doc
            ///
            /// Publishes one event (named after the message) to the stream of the concrete
            /// address of `params`; returns its event id.
            pub fn #method(&self, params: &#params_path, message: impl Into<#msg_ty>) -> Result<u64, Error> {
                let message: #msg_ty = message.into();
                #check
                let bytes = Outgoing::to_bytes(&message)?;
                let data = String::from_utf8_lossy(&bytes);
                match self.topics.topic(&params.address()) {
                    Some(topic) => Ok(topic.publish(Outgoing::name(&message), &data)),
                    None => Ok(0),
                }
            }
        });
    }
    if e.receive.is_empty() {
        return;
    }
    let mut tries = Vec::new();
    for op in &e.receive {
        let method = ident(&op.method);
        let msg_ty = cx.set_ty(&op.messages, &message_enum_name(op));
        let doc = cx.op_doc(op, format!("A client posted a message to `{}`.", e.address));
        let ret = match &op.reply {
            Some(reply) => cx.set_ty(reply, &reply_enum_name(op)),
            None => quote!(()),
        };
        trait_items.push(quote! {
            #doc
            fn #method(&self, received: Received<#msg_ty, #params_path, HeaderMap>) -> impl std::future::Future<Output = Result<#ret, Reject>> + Send;
        });
        for m in &op.messages {
            let m_conv = conv(op.messages.len());
            let ty = cx.msg_ty(*m);
            let check = cx.check(*m);
            let respond = if let Some(reply) = &op.reply {
                let reply_check = cx.outgoing_check(reply, &quote!(reply));
                quote! {
                    Ok(reply) => match #reply_check {
                        Ok(()) => {
                            let id = incoming.id_for_reply(&reply, <#ty as Message>::CORRELATION_POINTER);
                            reply_response(&reply, id.as_ref())
                        }
                        Err(e) => reject_response(&Reject::failed(format!("the reply breaks its schema: {e}"))),
                    },
                }
            } else {
                quote!(Ok(()) => accepted(),)
            };
            tries.push(quote! {
                if let Some(m) = incoming.try_message::<#ty>(&#check) {
                    return match shared.handler.#method(Received { message: #m_conv, params, meta: headers }).await {
                        #respond
                        Err(reject) => reject_response(&reject),
                    };
                }
            });
        }
    }
    // An operation without messages tries nothing: its parameters and headers go unread.
    let unused = tries.is_empty().then(|| quote!(drop((params, headers));));
    let post_fn = format_ident!("{}_post", snake);
    let doc = format!(
        " `POST` on `{}`: a message for a *receive* operation.",
        e.address
    );
    fns.push(quote! {
        #[doc = #doc]
        async fn #post_fn<H: Handler>(
            State(shared): State<Arc<Shared<H>>>,
            #path_arg
            headers: HeaderMap,
            body: Bytes,
        ) -> Response {
            #read
            let mut incoming = crate::runtime::endpoint::Incoming::new(&body);
            #(#tries)*
            #unused
            error_response(StatusCode::BAD_REQUEST, incoming.rejection())
        }
    });
}

// ---------------------------------------------------------------------------------------
// client

fn client(cx: &Ctx<'_>, model: &Model) -> TokenStream {
    let mut items = Vec::new();
    for (index, e) in model.endpoints.iter().enumerate() {
        match e.protocol {
            Protocol::Ws => items.push(ws_client(cx, e, index)),
            Protocol::Sse => items.push(sse_client(cx, e)),
            Protocol::Http => items.push(http::client(cx, e)),
            // Brokers have no endpoints.
            Protocol::Mqtt | Protocol::Kafka => {}
        }
    }
    let has_ws = model.has(Protocol::Ws);
    let has_sse = model.has(Protocol::Sse);
    let ws_imports = has_ws.then(|| {
        quote! {
            use crate::runtime::ws::client::{Dispatch, WsClient, WsSender};
            pub use crate::runtime::ws::client::{ClientConfig, Overflow, Responder, State};
            use crate::runtime::endpoint::{outgoing_frame, query_string, request_frame};
            use crate::runtime::rpc::Pending;
            use crate::runtime::tokio::sync::mpsc;
        }
    });
    let sse_imports = has_sse.then(|| {
        quote! {
            use crate::runtime::sse::client::{HttpClient, SseClient, SseItem};
            pub use crate::runtime::sse::client::SseClientConfig;
            use crate::runtime::sse::post::{http_client, post, PostError};
        }
    });
    let http_imports = http::client_imports(model);
    let options = has_ws.then(|| {
        quote! {
            /// How a WebSocket client connects and waits.
            #[derive(Debug, Clone)]
            pub struct ClientOptions {
                /// Reconnect backoff, queues, connect timeout, extra headers, what happens
                /// to events the queue has no room for.
                pub ws: ClientConfig,
                /// How long a request waits for its reply.
                pub request_timeout: Duration,
                /// Received messages buffered until the client's `next` reads them. When
                /// they are full, `ws.overflow` decides: drop (the default here: counted by
                /// `dropped_events`; replies keep coming) or wait, reading nothing (replies
                /// included) until `next` takes one.
                pub events: usize,
            }

            impl Default for ClientOptions {
                fn default() -> Self {
                    // Replies never wait behind events the application has not read.
                    let ws = ClientConfig { overflow: Overflow::Drop, ..ClientConfig::default() };
                    ClientOptions { ws, request_timeout: Duration::from_secs(10), events: 1024 }
                }
            }
        }
    });
    let client_doc = doc_lines(
        if model.has(Protocol::Http) && !has_ws && !has_sse {
            " The client side: one client per endpoint. Resource clients make conditional requests\n (a `412` is a conflict), lock and poll; webhook clients sign and retry."
        } else {
            " The client side: one client per endpoint. WebSocket clients reconnect by themselves\n (exponential backoff with jitter); SSE clients resume with `Last-Event-ID`."
        },
        true,
    );
    quote! {
        #client_doc
        #![allow(clippy::too_many_arguments)]
        use std::sync::Arc;
        use std::time::Duration;

        use crate::runtime::codegen::*;
        use crate::runtime::address::join_path;
        use crate::runtime::endpoint::{Incoming, Outgoing};
        use crate::runtime::{Error, ErrorKind};
        #ws_imports
        #sse_imports
        #http_imports

        #options

        #(#items)*
    }
}

fn ws_client(cx: &Ctx<'_>, e: &Endpoint, index: usize) -> TokenStream {
    let client = format_ident!("{}Client", e.name);
    let event = format_ident!("{}Event", e.name);
    let pending_ty = format_ident!("{}Pending", e.name);
    let dispatch_ty = format_ident!("{}Dispatch", e.name);
    let params_ty = format_ident!("{}Params", e.name);
    let params_path = quote!(super::channels::#params_ty);
    let query_ty = cx.query_ty(index);
    let has_query = cx.parts.query.contains_key(&index);
    let mut variants = Vec::new();
    let mut methods = Vec::new();
    let mut tries = Vec::new();
    let mut pending_fields = Vec::new();
    let mut pending_inits = Vec::new();
    let mut replies: Vec<ReplyRoute> = Vec::new();
    // Refusals of this client's requests, by operation.
    let mut refusals = Vec::new();

    for op in &e.receive {
        let method = ident(&op.caller);
        let msg_ty = cx.set_ty(&op.messages, &message_enum_name(op));
        let check = cx.check_outgoing(&op.messages);
        let doc = cx.op_doc(op, format!("Sends a message on `{}`.", e.address));
        match &op.reply {
            None => methods.push(quote! {
                #doc
                pub fn #method(&self, message: impl Into<#msg_ty>) -> Result<(), Error> {
                    let message: #msg_ty = message.into();
                    #check
                    let frame = outgoing_frame(&message, None)?;
                    Ok(self.tx.send(frame)?)
                }
            }),
            Some(reply) => {
                let reply_ty = cx.set_ty(reply, &reply_enum_name(op));
                let field = format_ident!("{}", op.method.trim_start_matches("r#"));
                pending_fields.push(quote!(#field: Pending<#reply_ty>,));
                pending_inits.push(quote!(#field: Pending::default(),));
                methods.push(quote! {
                    #doc
                    ///
                    /// Sends the request and waits for the reply (matched by correlation id, or
                    /// in order when the request has none), at most `request_timeout`. A refusal
                    /// from the server ends the wait with a
                    /// [`Refused`](crate::runtime::ErrorKind::Refused) error carrying its reason.
                    pub async fn #method(&self, message: impl Into<#msg_ty>) -> Result<#reply_ty, Error> {
                        let message: #msg_ty = message.into();
                        #check
                        let (frame, id) = request_frame(&message)?;
                        let waiter = self.pending.#field.register(0, id)?;
                        self.tx.send(frame)?;
                        Ok(self.tx.wait_reply(waiter, self.request_timeout).await?)
                    }
                });
                add_reply_route(&mut replies, reply, &field);
                let op_key = lit(&cx.api.operation(op.id).key);
                let pointers = op.messages.iter().map(|m| {
                    let ty = cx.msg_ty(*m);
                    quote!(<#ty as Message>::CORRELATION_POINTER)
                });
                refusals.push(quote! {
                    if refusal.operation.as_deref() == Some(#op_key) {
                        let id = incoming.refused_id(&[#(#pointers),*]);
                        return match pending.#field.refuse(0, id, refusal.reason) {
                            Ok(()) => None,
                            Err(reason) => Some(#event::Refused(reason)),
                        };
                    }
                });
            }
        }
    }
    for (m, takers) in &replies {
        let ty = cx.msg_ty(*m);
        let check = cx.check(*m);
        let dispatch = reply_dispatch(
            takers,
            &quote!(pending),
            &quote!(0),
            |complete| {
                quote! {
                    if #complete.is_err() {
                        crate::runtime::endpoint::unmatched("a reply to no pending request");
                    }
                }
            },
            &quote!(crate::runtime::endpoint::unmatched(
                "a reply to no pending request"
            )),
        );
        tries.push(quote! {
            if let Some(m) = incoming.try_message::<#ty>(&#check) {
                let id = incoming.correlation_key(&m);
                #dispatch
                return None;
            }
        });
    }
    for op in &e.send {
        let variant = format_ident!("{}", type_name(&op.method));
        let msg_ty = cx.set_ty(&op.messages, &message_enum_name(op));
        let doc = cx.op_doc(op, format!("The server sent a message on `{}`.", e.address));
        match &op.reply {
            None => {
                variants.push(quote!(#doc #variant(#msg_ty),));
                for m in &op.messages {
                    let m_conv = conv(op.messages.len());
                    let ty = cx.msg_ty(*m);
                    let check = cx.check(*m);
                    tries.push(quote! {
                        if let Some(m) = incoming.try_message::<#ty>(&#check) {
                            return Some(#event::#variant(#m_conv));
                        }
                    });
                }
            }
            Some(reply) => {
                let reply_ty = cx.set_ty(reply, &reply_enum_name(op));
                variants.push(quote! {
                    #doc
                    ///
                    /// The server waits for the reply: answer with the responder.
                    #variant(#msg_ty, Responder<#reply_ty>),
                });
                for m in &op.messages {
                    let m_conv = conv(op.messages.len());
                    let ty = cx.msg_ty(*m);
                    let check = cx.check(*m);
                    tries.push(quote! {
                        if let Some(m) = incoming.try_message::<#ty>(&#check) {
                            let id = incoming.correlation(<#ty as Message>::CORRELATION_POINTER);
                            let responder = Responder::new(tx.clone(), id);
                            return Some(#event::#variant(#m_conv, responder));
                        }
                    });
                }
            }
        }
    }
    let event_doc = format!(" What the server sends on `{}`.", e.address);
    // The dispatcher binds what its tries and refusals name.
    let uses = |what: &str| tries.iter().chain(&refusals).any(|t| names(t, what));
    let (uses_pending, uses_tx) = (uses("pending"), uses("tx"));
    let pending_field = uses_pending.then(|| quote!(pending: Arc<#pending_ty>,));
    let tx_field = uses_tx.then(|| quote!(tx: WsSender,));
    let pending_bind = uses_pending.then(|| quote!(pending,));
    let tx_bind = uses_tx.then(|| quote!(tx,));
    let pending_init = uses_pending.then(|| quote!(pending: shared,));
    let tx_init = uses_tx.then(|| quote!(tx,));
    let dispatch_tx = if uses_tx { quote!(tx) } else { quote!(_tx) };
    let shared_let = uses_pending.then(|| quote!(let shared = pending.clone();));
    // The client keeps the requests in flight when it has request methods.
    let client_pending = methods.iter().any(|m| names(m, "pending"));
    let client_pending_field =
        client_pending.then(|| quote!(pending: Arc<#pending_ty>, request_timeout: Duration,));
    let client_pending_init =
        client_pending.then(|| quote!(pending, request_timeout: options.request_timeout,));
    let pending_struct = (client_pending || uses_pending).then(|| {
        quote! {
            #[derive(Default)]
            struct #pending_ty {
                #(#pending_fields)*
            }
        }
    });
    let pending_let = (client_pending || uses_pending)
        .then(|| quote!(let pending = Arc::new(#pending_ty { #(#pending_inits)* });));
    let client_doc = format!(
        " A WebSocket client of `{}`: reconnects by itself; frames sent while disconnected wait in a bounded queue.",
        e.address
    );
    let address_path = lit(&e.pathname);
    let (query_arg, query_use) = if has_query {
        (
            quote!(query: &#query_ty,),
            quote! {
                let q = query_string(&serde_json::to_value(query).unwrap_or_default());
                if !q.is_empty() {
                    url.push('?');
                    url.push_str(&q);
                }
            },
        )
    } else {
        (quote!(), quote!())
    };
    quote! {
        #[doc = #event_doc]
        #[derive(Debug)]
        pub enum #event {
            #(#variants)*
            /// The server refused a message this client sent (`{"error": …}`) that was not a
            /// request still waiting for its answer (a refused request fails instead, with a
            /// [`Refused`](crate::runtime::ErrorKind::Refused) error).
            Refused(String),
        }

        #pending_struct

        /// Decodes the frames of one connection: replies complete waiting requests,
        /// everything else becomes an event.
        struct #dispatch_ty {
            #pending_field
            #tx_field
        }

        impl Dispatch for #dispatch_ty {
            type Event = #event;

            fn dispatch(&mut self, data: &[u8]) -> Option<#event> {
                let #dispatch_ty { #pending_bind #tx_bind } = self;
                let mut incoming = Incoming::new(data);
                if let Some(refusal) = incoming.refusal_report() {
                    #(#refusals)*
                    return Some(#event::Refused(refusal.reason));
                }
                #(#tries)*
                crate::runtime::endpoint::unmatched(&incoming.rejection());
                None
            }
        }

        #[doc = #client_doc]
        pub struct #client {
            tx: WsSender,
            events: mpsc::Receiver<#event>,
            #client_pending_field
            task: crate::runtime::tokio::task::JoinHandle<()>,
        }

        impl #client {
            /// Connects to the endpoint under `server_url` (scheme, host and port, such as
            /// `ws://127.0.0.1:8080`; the server's pathname and the channel address are added).
            pub fn connect(server_url: &str, params: &#params_path, #query_arg options: ClientOptions) -> Self {
                let mut url = server_url.trim_end_matches('/').to_owned();
                url.push_str(&join_path(#address_path, &params.address()));
                #query_use
                let (events, events_rx) = mpsc::channel(options.events.max(1));
                #pending_let
                #shared_let
                let (tx, task) = WsClient::connect_with(url, options.ws.clone(), events, move |#dispatch_tx| #dispatch_ty {
                    #pending_init
                    #tx_init
                });
                #client { tx, events: events_rx, #client_pending_init task }
            }

            #(#methods)*

            /// The next message from the server (`None` once the client is closed).
            pub async fn next(&mut self) -> Option<#event> {
                self.events.recv().await
            }

            /// The connection's state.
            pub fn state(&self) -> State {
                self.tx.state()
            }

            /// Messages from the server dropped because the queue of events was full (see
            /// `ClientOptions::events` and `ClientConfig::overflow`).
            pub fn dropped_events(&self) -> u64 {
                self.tx.dropped_events()
            }

            /// Waits until the client is connected (or closed, or refused).
            pub async fn wait_connected(&self) -> State {
                self.tx.wait_for(|s| !matches!(s, State::Connecting { .. })).await
            }

            /// Waits until the state satisfies `f`.
            pub async fn wait_for(&self, f: impl Fn(&State) -> bool) -> State {
                self.tx.wait_for(f).await
            }
        }

        impl Drop for #client {
            fn drop(&mut self) {
                self.task.abort();
            }
        }

    }
}

fn sse_client(cx: &Ctx<'_>, e: &Endpoint) -> TokenStream {
    let client = format_ident!("{}Client", e.name);
    let event = format_ident!("{}Event", e.name);
    let params_ty = format_ident!("{}Params", e.name);
    let params_path = quote!(super::channels::#params_ty);
    let pathname = lit(&e.pathname);
    let mut variants = Vec::new();
    let mut arms = Vec::new();
    for op in &e.send {
        let variant = format_ident!("{}", type_name(&op.method));
        let msg_ty = cx.set_ty(&op.messages, &message_enum_name(op));
        let doc = cx.op_doc(
            op,
            format!("The server streamed an event on `{}`.", e.address),
        );
        variants.push(quote!(#doc #variant(#msg_ty),));
        for m in &op.messages {
            let m_conv = conv(op.messages.len());
            let ty = cx.msg_ty(*m);
            let check = cx.check(*m);
            arms.push(quote! {
                if event.name == <#ty as Message>::NAME {
                    let mut incoming = Incoming::new(event.data.as_bytes());
                    if let Some(m) = incoming.try_message::<#ty>(&#check) {
                        return Some(#event::#variant(#m_conv));
                    }
                    crate::runtime::endpoint::unmatched(&incoming.rejection());
                    continue;
                }
            });
        }
    }
    let mut posts = Vec::new();
    for op in &e.receive {
        let method = ident(&op.caller);
        let msg_ty = cx.set_ty(&op.messages, &message_enum_name(op));
        let check = cx.check_outgoing(&op.messages);
        let doc = cx.op_doc(op, format!("Posts a message to `{}`.", e.address));
        let (ret, decode) = match &op.reply {
            Some(reply) => {
                let reply_ty = cx.set_ty(reply, &reply_enum_name(op));
                let tries = reply.iter().map(|m| {
                    let m_conv = conv(reply.len());
                    let ty = cx.msg_ty(*m);
                    let check = cx.check(*m);
                    quote! {
                        if let Some(m) = incoming.try_message::<#ty>(&#check) {
                            return Ok(#m_conv);
                        }
                    }
                });
                (
                    reply_ty,
                    quote! {
                        let mut incoming = Incoming::new(&body);
                        #(#tries)*
                        Err(PostError::Reply(incoming.rejection()).into())
                    },
                )
            }
            None => (quote!(()), quote!(let _ = body; Ok(()))),
        };
        posts.push(quote! {
            #doc
            ///
            /// `POST`s the message to the channel address; a refusal comes back as a
            /// [`Refused`](crate::runtime::ErrorKind::Refused) error with the
            /// server's status and reason.
            pub async fn #method(&self, params: &#params_path, message: impl Into<#msg_ty>) -> Result<#ret, Error> {
                let message: #msg_ty = message.into();
                #check
                let bytes = Outgoing::to_bytes(&message)?;
                let url = self.url(params);
                let content_type = Outgoing::content_type(&message).unwrap_or("application/json");
                let body = post(&self.http, &url, content_type, bytes, self.timeout).await?;
                #decode
            }
        });
    }
    let stream = (!e.send.is_empty()).then(|| {
        let event_doc = format!(" What the server streams on `{}`.", e.address);
        let stream_ty = format_ident!("{}Stream", e.name);
        let sdoc = format!(
            " The event stream of one address of `{}`: resumes with `Last-Event-ID` after a reconnect, without duplicates.",
            e.address
        );
        quote! {
            #[doc = #event_doc]
            #[derive(Debug, Clone, PartialEq)]
            pub enum #event {
                #(#variants)*
                /// The client missed events the server no longer holds (it was away longer than
                /// the replay window): resynchronize.
                Gap {
                    /// The last event id the client had.
                    last_event_id: String,
                    /// The oldest id the server still held, if any.
                    oldest: Option<u64>,
                },
            }

            #[doc = #sdoc]
            pub struct #stream_ty {
                inner: SseClient,
                last_event_id: Option<String>,
            }

            impl #stream_ty {
                /// The next event (`None` once the stream is closed for good); its id is then
                /// [`Self::last_event_id`].
                pub async fn next(&mut self) -> Option<#event> {
                    loop {
                        let event = match self.inner.next().await? {
                            SseItem::Event(event) => event,
                            SseItem::Gap { last_event_id, oldest } => return Some(#event::Gap { last_event_id, oldest }),
                        };
                        if event.id.is_some() {
                            self.last_event_id.clone_from(&event.id);
                        }
                        #(#arms)*
                        crate::runtime::endpoint::unmatched(&event.name);
                    }
                }

                /// The server's id of the last event this stream took (the one [`Self::next`]
                /// returned last, or an unreadable one it skipped since), or the id it was
                /// started from (`SseClientConfig::last_event_id`). Persist it and start a later
                /// stream from it, after a restart of the application, to get what was missed.
                pub fn last_event_id(&self) -> Option<&str> {
                    self.last_event_id.as_deref()
                }

                /// The connection's state.
                pub fn state(&self) -> crate::runtime::sse::client::State {
                    self.inner.state()
                }

                /// Waits until the state satisfies `f`.
                pub async fn wait_for(&mut self, f: impl Fn(&crate::runtime::sse::client::State) -> bool) -> crate::runtime::sse::client::State {
                    self.inner.wait_for(f).await
                }
            }

            impl #client {
                /// Opens the event stream of the concrete address of `params`.
                /// It resumes from `config.last_event_id` when set (an id an earlier stream
                /// gave, see `last_event_id`).
                pub fn subscribe(&self, params: &#params_path, config: SseClientConfig) -> #stream_ty {
                    let last_event_id = config.last_event_id.clone();
                    let inner = match &self.http {
                        Ok(http) => SseClient::with_http(http.clone(), self.url(params), config),
                        Err(_) => SseClient::connect(self.url(params), config),
                    };
                    #stream_ty { inner, last_event_id }
                }
            }
        }
    });
    let doc = format!(" An HTTP client of the SSE endpoint `{}`.", e.address);
    quote! {
        #stream

        #[doc = #doc]
        #[derive(Clone)]
        pub struct #client {
            http: Result<HttpClient, PostError>,
            server_url: String,
            timeout: Duration,
        }

        impl #client {
            /// A client of the endpoint under `server_url` (scheme, host and port, such as
            /// `http://127.0.0.1:8080`; the server's pathname and the channel address are added).
            pub fn new(server_url: &str) -> Self {
                #client { http: http_client(), server_url: server_url.trim_end_matches('/').to_owned(), timeout: Duration::from_secs(30) }
            }

            /// Sets how long a POST may take (default 30 s).
            pub fn with_timeout(mut self, timeout: Duration) -> Self {
                self.timeout = timeout;
                self
            }

            /// The URL of the concrete address of `params`.
            pub fn url(&self, params: &#params_path) -> String {
                let mut url = self.server_url.clone();
                url.push_str(&join_path(#pathname, &params.address()));
                url
            }

            #(#posts)*
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::model::tests::api;

    /// A channel whose application sends and receives the same two messages.
    const SAME_SET: &str = "asyncapi: 3.0.0
info: {title: Chat, version: '1'}
servers: {s: {host: h, protocol: ws}}
channels:
  room:
    address: room
    messages:
      text: {payload: {type: object, properties: {text: {type: string}}}}
      emoji: {payload: {type: object, properties: {emoji: {type: string}}}}
operations:
  say:
    action: receive
    channel: {$ref: '#/channels/room'}
  relay:
    action: send
    channel: {$ref: '#/channels/room'}
";

    #[test]
    fn one_enum_serves_every_operation_with_the_same_messages() {
        let api = api(SAME_SET);
        let generated = crate::generate(&api, &crate::Settings::new("chat")).expect("generates");
        let channels = generated
            .files
            .iter()
            .find(|f| f.path.ends_with("channels.rs"))
            .expect("channels.rs");
        assert_eq!(
            channels.contents.matches("pub enum ").count(),
            1,
            "{}",
            channels.contents
        );
        assert!(
            channels
                .contents
                .contains("The messages of operation `say`, operation `relay`."),
            "{}",
            channels.contents
        );
        let server = generated
            .files
            .iter()
            .find(|f| f.path.ends_with("server.rs"))
            .expect("server.rs");
        assert!(
            !server.contents.contains("channels::Relay"),
            "{}",
            server.contents
        );
    }
}
