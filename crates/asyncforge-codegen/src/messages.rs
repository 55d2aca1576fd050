//! One Rust type per message: payload, typed headers, name, content type, correlation id.

use asyncforge_spec::ir::{Api, MessageId};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::names::{NameSet, type_name};
use crate::types::{Ty, TypeSpace};

/// A message and the types of its parts.
pub struct MessageTypes {
    /// The message.
    pub id: MessageId,
    /// Rust name of the message type.
    pub name: String,
    /// Payload type.
    pub payload: Ty,
    /// Headers type, when the message has a headers schema.
    pub headers: Option<Ty>,
}

/// Assigns payload and header types for every message of the API (before other schemas, so
/// that message names win the short type names).
pub fn collect(api: &Api, space: &mut TypeSpace<'_>) -> Vec<MessageTypes> {
    let mut names = NameSet::default();
    names.reserve(crate::names::RESERVED);
    api.messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let base = type_name(&m.key);
            let payload = match m.payload {
                Some(p) => space.ty(p, &format!("{base}Payload")),
                None => Ty::Value,
            };
            let headers = m.headers.map(|h| space.ty(h, &format!("{base}Headers")));
            MessageTypes {
                id: MessageId(i as u32),
                name: names.unique(&base),
                payload,
                headers,
            }
        })
        .collect()
}

fn location_pointer(location: &str) -> Option<(bool, String)> {
    let (part, ptr) = location.split_once('#')?;
    let headers = match part.trim() {
        "$message.payload" => false,
        "$message.header" | "$message.headers" => true,
        _ => return None,
    };
    Some((headers, ptr.to_owned()))
}

/// Emits the message types (in a module beside `types`).
pub fn emit(api: &Api, space: &TypeSpace<'_>, messages: &[MessageTypes]) -> TokenStream {
    let types = quote!(super::types::);
    let items = messages.iter().map(|mt| {
        let m = api.message(mt.id);
        let name = format_ident!("{}", mt.name);
        let payload = space.tokens(&mt.payload, &types);
        let mut doc = Vec::new();
        for part in [&m.title, &m.summary, &m.description].into_iter().flatten() {
            doc.push(part.trim().to_owned());
        }
        if doc.is_empty() {
            doc.push(format!("The `{}` message.", m.key));
        }
        let doc = crate::doc_attrs(Some(&doc.join("\n\n")));
        let key = &m.key;
        let content_type = match &m.content_type {
            Some(ct) => quote!(Some(#ct)),
            None => quote!(None),
        };
        let (headers_field, headers_init) = match &mt.headers {
            Some(h) => {
                let h = space.tokens(h, &types);
                (
                    quote! {
                        /// Headers of the message.
                        pub headers: Option<#h>,
                    },
                    quote!(headers: None,),
                )
            }
            None => (quote!(), quote!()),
        };
        let correlation = m.correlation_id.as_ref().and_then(|c| {
            let (in_headers, ptr) = location_pointer(&c.location)?;
            let loc = &c.location;
            let source = if in_headers {
                mt.headers.as_ref()?;
                quote!(serde_json::to_value(self.headers.as_ref()?).ok()?)
            } else {
                quote!(serde_json::to_value(&self.payload).ok()?)
            };
            let doc = format!("The correlation id, found at `{loc}`.");
            Some(quote! {
                #[doc = #doc]
                pub fn correlation_id(&self) -> Option<String> {
                    let v = #source;
                    match v.pointer(#ptr)? {
                        Value::String(s) => Some(s.clone()),
                        Value::Null => None,
                        other => Some(other.to_string()),
                    }
                }
            })
        });
        let pointer = m.correlation_id.as_ref().and_then(|c| {
            let (in_headers, ptr) = location_pointer(&c.location)?;
            (!in_headers)
                .then(|| quote!(const CORRELATION_POINTER: Option<&'static str> = Some(#ptr);))
        });
        quote! {
            #doc
            #[derive(Debug, Clone, PartialEq)]
            pub struct #name {
                /// Payload of the message.
                pub payload: #payload,
                #headers_field
            }

            impl #name {
                /// Creates the message from its payload.
                pub fn new(payload: #payload) -> Self {
                    #name { payload, #headers_init }
                }
                #correlation
            }

            impl Message for #name {
                type Payload = #payload;
                const NAME: &'static str = #key;
                const CONTENT_TYPE: Option<&'static str> = #content_type;
                #pointer

                fn payload(&self) -> &Self::Payload {
                    &self.payload
                }

                fn from_payload(payload: Self::Payload) -> Self {
                    #name::new(payload)
                }
            }
        }
    });
    quote!(#(#items)*)
}
