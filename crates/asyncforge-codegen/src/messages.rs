//! One Rust type per message: payload, typed headers, name, content type, correlation id.

use asyncforge_spec::ir::{Api, MessageId, OperationId, SchemaBody, SchemaId};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::names::{NameSet, type_name};
use crate::tokens::{doc_attrs, ident};
use crate::types::{Kind, Prim, Ty, TypeSpace};

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

/// Whether a payload schema names `property` at its top level, directly or in one of the
/// schemas it combines (`allOf`, `oneOf`, `anyOf`, followed a few levels deep).
fn declares_property(api: &Api, schema: SchemaId, property: &str, depth: u8) -> bool {
    let SchemaBody::Object(o) = &api.schema(schema).body else {
        return false;
    };
    if o.properties.iter().any(|(n, _)| n == property) {
        return true;
    }
    depth > 0
        && o.all_of
            .iter()
            .chain(&o.one_of)
            .chain(&o.any_of)
            .any(|s| declares_property(api, *s, property, depth - 1))
}

/// Where a reply message without a `correlationId` of its own carries the id anyway: the
/// payload pointer of the requests it answers, when they all agree on one and its payload
/// schema has that property. The official Kraken example declares `reqid` as the
/// correlation id of `subscribe` but not of its reply `subscriptionStatus`, whose schema has
/// `reqid` all the same.
pub(crate) fn inherited_pointer(api: &Api, message: MessageId) -> Option<String> {
    let m = api.message(message);
    if m.correlation_id.is_some() {
        return None;
    }
    let mut found: Option<String> = None;
    for i in 0..api.operations.len() {
        let id = OperationId(i as u32);
        let Some(reply) = crate::model::reply_messages(api, id) else {
            continue;
        };
        if !reply.contains(&message) {
            continue;
        }
        for request in crate::model::op_messages(api, id) {
            let Some(c) = &api.message(request).correlation_id else {
                continue;
            };
            let Some((false, ptr)) = location_pointer(&c.location) else {
                continue;
            };
            match &found {
                Some(f) if *f != ptr => return None,
                _ => found = Some(ptr),
            }
        }
    }
    let ptr = found?;
    let property = ptr.strip_prefix('/').filter(|p| !p.contains('/'))?;
    let property = property.replace("~1", "/").replace("~0", "~");
    declares_property(api, m.payload?, &property, 4).then_some(ptr)
}

/// Whether a message's content type is JSON (`None`: the AsyncAPI default, JSON), as the
/// runtime's codec decides.
fn is_json(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else {
        return true;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or(ct)
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || essence == "text/json" || essence.ends_with("+json")
}

/// The body of `Message::correlation` for a message whose correlation id is at `pointer` in
/// its payload, when that names a member of the payload struct whose Rust type gives the key
/// its JSON encoding would (the runtime's `CorrelationField`: strings, UUIDs, integers,
/// booleans, and string enums through their `as_str`), optional or nullable. Other members
/// (nested, numbers with a fraction, objects, unions, undeclared) keep the runtime's default,
/// which reads the id from the encoded payload.
fn typed_correlation(space: &TypeSpace<'_>, payload: &Ty, pointer: &str) -> Option<TokenStream> {
    let property = pointer.strip_prefix('/').filter(|p| !p.contains('/'))?;
    let property = property.replace("~1", "/").replace("~0", "~");
    let mut ty = payload;
    let fields = loop {
        match ty {
            Ty::Named(i) => match &space.entries[*i].kind {
                Kind::Struct { fields, .. } => break fields,
                Kind::Alias(t) => ty = t,
                _ => return None,
            },
            _ => return None,
        }
    };
    let field = fields.iter().find(|f| f.json == property)?;
    let name = ident(&field.rust);
    // Options around the value: the field's own (optional) and nullable types'.
    let mut options = usize::from(field.optional && !matches!(field.ty, Ty::Option(_)));
    let mut ty = &field.ty;
    for _ in 0..8 {
        match ty {
            Ty::Option(t) => {
                options += 1;
                ty = t;
            }
            Ty::Prim(
                Prim::String
                | Prim::Uuid
                | Prim::Bool
                | Prim::I32
                | Prim::I64
                | Prim::U32
                | Prim::U64,
            ) => return Some(quote!(Correlation::of(&self.payload.#name))),
            Ty::Named(i) => match &space.entries[*i].kind {
                Kind::Alias(t) => ty = t,
                Kind::StringEnum(_) => {
                    return match options {
                        0 => Some(quote!(Correlation::of(self.payload.#name.as_str()))),
                        1 => Some(quote!(Correlation::of(&self.payload.#name.map(|v| v.as_str())))),
                        _ => None,
                    };
                }
                _ => return None,
            },
            _ => return None,
        }
    }
    None
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
        let doc = doc_attrs(Some(&doc.join("\n\n")));
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
        let own = m.correlation_id.as_ref().and_then(|c| {
            let (in_headers, ptr) = location_pointer(&c.location)?;
            (!in_headers).then_some(ptr)
        });
        let (pointer, typed) = match own {
            Some(ptr) => (
                Some(quote!(const CORRELATION_POINTER: Option<&'static str> = Some(#ptr);)),
                Some(ptr),
            ),
            None => match inherited_pointer(api, mt.id) {
                Some(ptr) => {
                    let doc = format!(
                        " Where the requests this message answers carry their correlation id: the message declares none, but its payload has `{ptr}`."
                    );
                    (
                        Some(quote! {
                            #[doc = #doc]
                            const CORRELATION_POINTER: Option<&'static str> = Some(#ptr);
                        }),
                        Some(ptr),
                    )
                }
                None => (None, None),
            },
        };
        let typed = typed
            .filter(|_| is_json(m.content_type.as_deref()))
            .and_then(|ptr| typed_correlation(space, &mt.payload, &ptr))
            .map(|body| {
                quote! {
                    fn correlation(&self) -> Correlation {
                        #body
                    }
                }
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

                #typed

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tests::api;

    fn message(api: &Api, key: &str) -> MessageId {
        MessageId(
            api.messages
                .iter()
                .position(|m| m.key == key)
                .expect("message") as u32,
        )
    }

    #[test]
    fn a_reply_without_correlation_id_takes_the_requests_when_its_payload_has_it() {
        // As in the official Kraken example: `subscriptionStatus` has `reqid` (inside
        // `oneOf`/`allOf`) but no correlationId; `pong` has its own; `bare` lacks the property.
        let doc = "asyncapi: 3.0.0
info: {title: T, version: '1'}
channels:
  c:
    address: /
    messages:
      subscribe:
        payload: {type: object, properties: {reqid: {type: integer}}}
        correlationId: {location: '$message.payload#/reqid'}
      status:
        payload:
          oneOf:
            - allOf: [{properties: {error: {type: string}}}, {$ref: '#/components/schemas/common'}]
            - $ref: '#/components/schemas/common'
      bare: {payload: {type: object, properties: {other: {type: string}}}}
operations:
  subscribe:
    action: receive
    channel: {$ref: '#/channels/c'}
    messages: [{$ref: '#/channels/c/messages/subscribe'}]
    reply:
      channel: {$ref: '#/channels/c'}
      messages: [{$ref: '#/channels/c/messages/status'}, {$ref: '#/channels/c/messages/bare'}]
components:
  schemas:
    common: {type: object, properties: {reqid: {type: integer}}}
";
        let api = api(doc);
        assert_eq!(
            inherited_pointer(&api, message(&api, "status")).as_deref(),
            Some("/reqid")
        );
        assert_eq!(inherited_pointer(&api, message(&api, "bare")), None);
        // A request keeps its own.
        assert_eq!(inherited_pointer(&api, message(&api, "subscribe")), None);
    }

    /// Which messages read their correlation id from a field, and how.
    #[test]
    fn typed_correlation_ids_are_read_where_the_field_keys_like_its_json() {
        let doc = "asyncapi: 3.0.0
info: {title: T, version: '1'}
channels:
  c:
    address: /
    messages:
      uuid:
        payload: {type: object, properties: {id: {type: string, format: uuid}}}
        correlationId: {location: '$message.payload#/id'}
      required_int:
        payload: {type: object, required: [id], properties: {id: {type: integer, format: int64}}}
        correlationId: {location: '$message.payload#/id'}
      nullable_text:
        payload: {type: object, properties: {id: {type: [string, 'null']}}}
        correlationId: {location: '$message.payload#/id'}
      kind:
        payload: {type: object, required: [id], properties: {id: {type: string, enum: [a, b]}}}
        correlationId: {location: '$message.payload#/id'}
      optional_kind:
        payload: {type: object, properties: {id: {type: string, enum: [a, b]}}}
        correlationId: {location: '$message.payload#/id'}
      float:
        payload: {type: object, properties: {id: {type: number}}}
        correlationId: {location: '$message.payload#/id'}
      nested:
        payload: {type: object, properties: {meta: {type: object, properties: {id: {type: string}}}}}
        correlationId: {location: '$message.payload#/meta/id'}
      undeclared:
        payload: {type: object, properties: {other: {type: string}}}
        correlationId: {location: '$message.payload#/id'}
      text:
        contentType: text/plain
        payload: {type: object, properties: {id: {type: string}}}
        correlationId: {location: '$message.payload#/id'}
operations:
  o:
    action: receive
    channel: {$ref: '#/channels/c'}
";
        let api = api(doc);
        let mut space = TypeSpace::new(&api);
        let messages = collect(&api, &mut space);
        let code = emit(&api, &space, &messages).to_string();
        let body = |key: &str| {
            let id = message(&api, key);
            let name = &messages
                .iter()
                .find(|m| m.id == id)
                .expect("message type")
                .name;
            let start = code
                .find(&format!("impl Message for {name} "))
                .unwrap_or_else(|| panic!("no impl for {name}"));
            let rest = &code[start..];
            let end = rest.find("fn payload").expect("payload method");
            let part = &rest[..end];
            part.find("fn correlation")
                .map(|i| part[i..].replace(' ', ""))
        };
        let reads = |name: &str, expr: &str| {
            let body = body(name).unwrap_or_else(|| panic!("{name}: not typed"));
            assert!(body.contains(expr), "{name}: {body}");
        };
        reads("uuid", "Correlation::of(&self.payload.id)");
        reads("required_int", "Correlation::of(&self.payload.id)");
        reads("nullable_text", "Correlation::of(&self.payload.id)");
        reads("kind", "Correlation::of(self.payload.id.as_str())");
        reads(
            "optional_kind",
            "Correlation::of(&self.payload.id.map(|v|v.as_str()))",
        );
        // Read from the encoded payload instead: a float's JSON text is not its Rust text, a
        // nested member, a member the schema does not declare, and a payload that is not JSON.
        for name in ["float", "nested", "undeclared", "text"] {
            assert_eq!(body(name), None, "{name}");
        }
    }
}
