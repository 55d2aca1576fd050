//! What the generated `mqtt` and `kafka` modules share — address constants, typed parameter
//! structs, one enum per operation that carries several messages, schema checks, server
//! docs — for `mqtt.rs` and `kafka.rs` beside this file.
//!
//! The generated code is thin: topics, acknowledgements, retries and reconnects are the
//! runtime's (`asyncforge_runtime::{mqtt, kafka}`), whose topic rules also decide (in
//! `model::brokers`) which addresses get code.

use asyncforge_spec::ir::{Api, JsonType, MessageId, SchemaBody, SchemaId, ServerId};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::common::{message_check, operation_doc};
use crate::messages::MessageTypes;
use crate::model::{BrokerChannel, BrokerModel, BrokerOp, Model, Param, Protocol};
use crate::tokens::{doc_attrs, ident, lit};
use crate::types::{Ty, TypeSpace};

/// Types assigned before the type space is emitted: Kafka message keys.
#[derive(Debug, Default)]
pub(super) struct BrokerTypes {
    keys: Vec<(MessageId, Ty)>,
}

/// Assigns the Kafka message binding's `key` schemas their types.
pub(super) fn collect(
    api: &Api,
    model: &Model,
    messages: &[MessageTypes],
    space: &mut TypeSpace<'_>,
) -> BrokerTypes {
    let mut keys = Vec::new();
    if let Some(k) = &model.kafka {
        for op in k.send.iter().chain(&k.receive) {
            for m in &op.messages {
                if keys.iter().any(|(id, _)| id == m) {
                    continue;
                }
                if let Some(schema) = api.message(*m).bindings.kafka.as_ref().and_then(|b| b.key) {
                    let name = &messages[m.0 as usize].name;
                    keys.push((*m, space.ty(schema, &format!("{name}Key"))));
                }
            }
        }
    }
    BrokerTypes { keys }
}

/// What the emitters read.
pub(super) struct Cx<'a> {
    pub api: &'a Api,
    pub space: &'a TypeSpace<'a>,
    pub messages: &'a [MessageTypes],
    pub types: &'a BrokerTypes,
}

impl Cx<'_> {
    pub fn msg_ty(&self, id: MessageId) -> TokenStream {
        let n = format_ident!("{}", self.messages[id.0 as usize].name);
        quote!(super::messages::#n)
    }

    pub fn msg_variant(&self, id: MessageId) -> proc_macro2::Ident {
        format_ident!("{}", self.messages[id.0 as usize].name)
    }

    /// Decoding an operation that carries several messages: each message type is tried on
    /// `source` (an expression with a `decode::<T>()` method) in order, and a payload that is
    /// The name of a message's payload check in the module's `checks`.
    pub fn check_ident(&self, id: MessageId) -> proc_macro2::Ident {
        format_ident!(
            "{}",
            crate::names::const_name(self.messages[id.0 as usize].name.as_str())
        )
    }

    /// `checks::IDENT` of a message.
    pub fn check(&self, id: MessageId) -> TokenStream {
        let c = self.check_ident(id);
        quote!(checks::#c)
    }

    /// The `checks` module of a broker module: the payload schema of every message it sends
    /// or receives (replies included), and the schema of every parameter of the receive
    /// operations' channels.
    pub fn checks(&self, model: &BrokerModel) -> TokenStream {
        let mut messages: Vec<MessageId> = model
            .receive
            .iter()
            .chain(&model.send)
            .flat_map(|op| op.messages.iter().copied())
            // Only MQTT generates request/reply.
            .chain(
                model
                    .send
                    .iter()
                    .chain(&model.receive)
                    .filter(|_| model.protocol == Protocol::Mqtt)
                    .filter_map(|op| op.reply),
            )
            .collect();
        messages.sort_by_key(|m| m.0);
        messages.dedup();
        let mut items: Vec<TokenStream> = messages
            .into_iter()
            .map(|m| message_check(self.api, self.check_ident(m), m))
            .collect();
        let mut channels: Vec<usize> = model.receive.iter().map(|op| op.channel).collect();
        channels.sort_unstable();
        channels.dedup();
        for c in channels.into_iter().map(|i| &model.channels[i]) {
            for p in &c.params {
                let Some(schema) =
                    crate::schema_json::parameter_schema(self.api, p.schema, &p.allowed)
                else {
                    continue;
                };
                let ident = param_check_ident(c, p);
                let doc = format!(" The schema of parameter `{}` of `{}`.", p.name, c.address);
                let schema = lit(&schema.to_string());
                items.push(quote! {
                    #[doc = #doc]
                    pub static #ident: SchemaCheck = SchemaCheck::new(#schema);
                });
            }
        }
        if items.is_empty() {
            return TokenStream::new();
        }
        quote! {
            /// The schemas messages are checked against: received ones and the parameters in
            /// their topics always (a message that breaks one is invalid), sent ones when
            /// outgoing checks are on (`runtime::validate::check_outgoing`).
            pub mod checks {
                use crate::runtime::validate::SchemaCheck;
                #(#items)*
            }
        }
    }

    /// The parameters struct of a received message's channel from `found` (the parameters
    /// taken from its topic), each value parsed and checked against its schema.
    pub fn params_from(&self, c: &BrokerChannel, found: &TokenStream) -> TokenStream {
        let error = quote!(crate::runtime::Reject);
        if c.params.is_empty() {
            return quote!(());
        }
        let name = format_ident!("{}Params", c.name);
        let fields = c.params.iter().map(|p| {
            let f = ident(&p.field);
            let n = lit(&p.name);
            if crate::schema_json::parameter_schema(self.api, p.schema, &p.allowed).is_none() {
                return quote!(#f: #found.parse(#n).map_err(#error::invalid)?,);
            }
            let check = param_check_ident(c, p);
            quote! {
                #f: {
                    let value = #found.parse(#n).map_err(#error::invalid)?;
                    checks::#check
                        .check_parameter(#n, &value)
                        .map_err(#error::invalid)?;
                    value
                },
            }
        });
        quote!(#name { #(#fields)* })
    }

    /// Decoding an operation that carries several messages: each message type is tried on
    /// `source` (an expression with a `decode_checked::<T>()` method) in order, and a payload
    /// that is none of them is refused as invalid.
    pub fn decode_any(&self, op: &BrokerOp, source: TokenStream) -> TokenStream {
        let e = format_ident!("{}Message", op.type_base);
        let tries = op.messages.iter().map(|m| {
            let v = self.msg_variant(*m);
            let t = self.msg_ty(*m);
            let check = self.check(*m);
            quote!(if let Ok(m) = #source.decode_checked::<#t>(&#check) { #e::#v(m) } else)
        });
        let none = lit(&format!(
            "the payload is none of the messages of `{}`",
            self.api.operation(op.id).key
        ));
        quote!(#(#tries)* { return Err(crate::runtime::Reject::invalid(#none)); })
    }

    /// The statement that checks `message` (a reference to the operation's message, or to
    /// its enum) against its schema before it is sent, when outgoing checks are on.
    pub fn check_outgoing(&self, op: &BrokerOp) -> TokenStream {
        match op.messages.as_slice() {
            [one] => {
                let check = self.check(*one);
                quote!(#check.check_outgoing(message)?;)
            }
            many => {
                let e = format_ident!("{}Message", op.type_base);
                let arms = many.iter().map(|m| {
                    let v = self.msg_variant(*m);
                    let check = self.check(*m);
                    quote!(#e::#v(m) => #check.check_outgoing(m)?,)
                });
                quote!(match message { #(#arms)* })
            }
        }
    }

    pub fn has_headers(&self, id: MessageId) -> bool {
        self.messages[id.0 as usize].headers.is_some()
    }

    /// The Kafka key type of a message, when its binding has a `key` schema.
    pub fn key_ty(&self, id: MessageId) -> Option<TokenStream> {
        self.types
            .keys
            .iter()
            .find(|(m, _)| *m == id)
            .map(|(_, t)| self.space.tokens(t, &quote!(super::types::)))
    }

    /// Rustdoc for an operation: title, summary, description, or a sentence naming it.
    pub fn op_doc(&self, op: &BrokerOp, fallback: &str) -> TokenStream {
        let key = &self.api.operation(op.id).key;
        operation_doc(self.api, op.id, fallback.replace("{}", key))
    }

    /// The message type an operation carries: the message's own type, or its enum.
    pub fn op_message_ty(&self, op: &BrokerOp) -> TokenStream {
        match op.messages.as_slice() {
            [one] => self.msg_ty(*one),
            _ => {
                let e = format_ident!("{}Message", op.type_base);
                quote!(#e)
            }
        }
    }

    /// The parameter type of an operation's channel (`()` without parameters).
    pub fn params_ty(&self, c: &BrokerChannel) -> TokenStream {
        if c.params.is_empty() {
            quote!(())
        } else {
            let p = format_ident!("{}Params", c.name);
            quote!(#p)
        }
    }
}

/// The Rust type of a parameter: from its 2.x schema's type, else `String`.
fn param_ty(api: &Api, schema: Option<SchemaId>) -> TokenStream {
    let scalar = schema.and_then(|id| match &api.schema(id).body {
        SchemaBody::Object(o) => o.types.first().copied(),
        _ => None,
    });
    match scalar {
        Some(JsonType::Integer) => quote!(i64),
        Some(JsonType::Number) => quote!(f64),
        Some(JsonType::Boolean) => quote!(bool),
        _ => quote!(String),
    }
}

fn is_string_param(api: &Api, p: &Param) -> bool {
    param_ty(api, p.schema).to_string() == "String"
}

/// Address constants, parameter structs and message enums of a broker module.
pub(super) fn channel_items(cx: &Cx<'_>, model: &BrokerModel) -> TokenStream {
    let mut out = TokenStream::new();
    for c in &model.channels {
        let ch = cx.api.channel(c.id);
        let konst = format_ident!("{}", crate::names::const_name(c.name.as_str()));
        let mut doc = vec![format!("Channel `{}`: `{}`.", ch.key, c.address)];
        doc.extend(
            [&ch.title, &ch.summary, &ch.description]
                .into_iter()
                .flatten()
                .map(|s| s.trim().to_owned()),
        );
        let doc = doc_attrs(Some(&doc.join("\n\n")));
        let addr = lit(&c.address);
        out.extend(quote! {
            #doc
            pub const #konst: &str = #addr;
        });
        if c.params.is_empty() {
            continue;
        }
        let name = format_ident!("{}Params", c.name);
        let derive = if c
            .params
            .iter()
            .any(|p| param_ty(cx.api, p.schema).to_string() == "f64")
        {
            quote!(#[derive(Debug, Clone, PartialEq)])
        } else {
            quote!(#[derive(Debug, Clone, PartialEq, Eq, Hash)])
        };
        let fields = c.params.iter().map(|p| {
            let f = ident(&p.field);
            let t = param_ty(cx.api, p.schema);
            let mut d = p.doc.clone().unwrap_or_else(|| format!("`{}`.", p.name));
            if !p.allowed.is_empty() {
                d.push_str(&format!("\n\nOne of: `{}`.", p.allowed.join("`, `")));
            }
            let d = doc_attrs(Some(&d));
            quote!(#d pub #f: #t,)
        });
        let doc = format!(" The parameters of `{}`.", c.address);
        out.extend(quote! {
            #[doc = #doc]
            #derive
            pub struct #name {
                #(#fields)*
            }
        });
    }
    for op in model.send.iter().chain(&model.receive) {
        if op.messages.len() < 2 {
            continue;
        }
        let e = format_ident!("{}Message", op.type_base);
        let variants = op.messages.iter().map(|m| {
            let v = cx.msg_variant(*m);
            let t = cx.msg_ty(*m);
            let d = format!(" `{}`.", cx.api.message(*m).key);
            quote!(#[doc = #d] #v(#t),)
        });
        let doc = format!(" The messages of `{}`.", cx.api.operation(op.id).key);
        out.extend(quote! {
            #[doc = #doc]
            #[derive(Debug, Clone, PartialEq)]
            #[allow(clippy::large_enum_variant)]
            pub enum #e {
                #(#variants)*
            }
        });
    }
    out
}

/// `(name, value)` pairs of a params value for a topic template: `let`s for non-string
/// values, then the slice expression. `params` is the expression of the struct.
pub(super) fn topic_values(
    cx: &Cx<'_>,
    c: &BrokerChannel,
    params: &TokenStream,
) -> (TokenStream, TokenStream) {
    let mut lets = TokenStream::new();
    let mut pairs = Vec::new();
    for (i, p) in c.params.iter().enumerate() {
        let f = ident(&p.field);
        let n = lit(&p.name);
        if is_string_param(cx.api, p) {
            pairs.push(quote!((#n, #params.#f.as_str())));
        } else {
            let v = format_ident!("value{}", i);
            lets.extend(quote!(let #v = #params.#f.to_string();));
            pairs.push(quote!((#n, #v.as_str())));
        }
    }
    (lets, quote!(&[#(#pairs),*]))
}

/// A params struct from matched topic parameters (`found: Params`), each parsed to its type;
/// one that does not parse makes the message invalid.
/// The name of a parameter's check in the module's `checks`: `<CHANNEL>_<PARAMETER>`.
fn param_check_ident(c: &BrokerChannel, p: &Param) -> proc_macro2::Ident {
    format_ident!(
        "{}_{}",
        crate::names::const_name(&c.name),
        crate::names::const_name(p.field.trim_start_matches("r#"))
    )
}

/// A string value the spec fixes through a schema (`const`, one `enum` value, `default`, the
/// first example): Kafka `groupId`/`clientId`.
pub(super) fn fixed_string(api: &Api, schema: Option<SchemaId>) -> Option<String> {
    let SchemaBody::Object(o) = &api.schema(schema?).body else {
        return None;
    };
    let v = o
        .const_value
        .as_ref()
        .or_else(|| o.enum_values.as_ref().and_then(|e| e.first()))
        .or(o.default.as_ref())
        .or_else(|| o.examples.first())?;
    v.as_str().map(str::to_owned)
}

/// The URL host of a server with its variables at their defaults.
pub(super) fn server_host(api: &Api, id: ServerId) -> String {
    let s = api.server(id);
    let mut host = s.host.clone();
    for v in &s.variables {
        if let Some(d) = v.default.as_ref().or_else(|| v.allowed.first()) {
            host = host.replace(&format!("{{{}}}", v.name), d);
        }
    }
    host
}

/// Rustdoc for a server: its key, description and security.
pub(super) fn server_doc(api: &Api, id: ServerId, what: &str) -> TokenStream {
    let s = api.server(id);
    let mut parts = vec![format!(
        "{what} server `{}` (`{}`, protocol `{}`).",
        s.key,
        server_host(api, id),
        s.protocol
    )];
    parts.extend(
        [&s.title, &s.summary, &s.description]
            .into_iter()
            .flatten()
            .map(|d| d.trim().to_owned()),
    );
    if !s.variables.is_empty() {
        let vars: Vec<String> = s
            .variables
            .iter()
            .map(|v| format!("`{}` = `{}`", v.name, v.default.clone().unwrap_or_default()))
            .collect();
        parts.push(format!("Variables at their defaults: {}.", vars.join(", ")));
    }
    for r in &s.security {
        let sch = api.security_scheme(r.scheme);
        let mut line = format!("Security: `{}` (`{}`)", sch.key, sch.kind);
        if let Some(d) = &sch.description {
            line.push_str(": ");
            line.push_str(d.trim());
        }
        parts.push(line);
    }
    doc_attrs(Some(&parts.join("\n\n")))
}
