//! The generated `channels` module: typed channel parameters, the schema checks of incoming
//! messages (payloads, webhook headers, parameters, WebSocket query and headers), and one enum
//! per set of several messages.

use asyncforge_spec::ir::MessageId;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::common::{Ctx, headers_check_ident, message_check};
use crate::model::{Endpoint, Model, Protocol};
use crate::names::const_name;
use crate::tokens::{doc_attrs, ident, lit};

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
        let base = const_name(&e.name);
        for p in &e.params {
            if let Some(schema) = crate::schema_json::parameter_schema(cx.api, p.schema, &p.allowed)
            {
                let ident =
                    format_ident!("{}_{}", base, const_name(p.field.trim_start_matches("r#")));
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

fn param_check(e: &Endpoint, field: &str, has: bool) -> TokenStream {
    if !has {
        return quote!(None);
    }
    let ident = format_ident!(
        "{}_{}",
        const_name(&e.name),
        const_name(field.trim_start_matches("r#"))
    );
    quote!(Some(&checks::#ident))
}

/// The `channels` module body.
pub(super) fn emit(cx: &Ctx<'_>, model: &Model) -> TokenStream {
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
