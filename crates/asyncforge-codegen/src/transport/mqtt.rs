//! The generated `mqtt` module: per server a URL and a configuration with its bindings
//! applied, a `Sender` with one method per *send* operation (QoS, retain and MQTT 5
//! properties from the bindings; request/reply when the operation has a reply), a `Handler`
//! trait with one method per *receive* operation, and `subscribe(config, handler)`, which
//! subscribes with `{parameters}` as `+` and hands the handler typed parameters and messages.

use asyncforge_spec::ir::{IntervalOrSchema, MessageId, ResponseTopic};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::brokers::{Cx, channel_items, server_doc, server_host, topic_values};
use crate::model::{BrokerModel, BrokerOp};
use crate::tokens::ident;

fn qos(level: Option<u8>) -> TokenStream {
    match level {
        Some(1) => quote!(mqtt::Qos::AtLeastOnce),
        Some(2) => quote!(mqtt::Qos::ExactlyOnce),
        _ => quote!(mqtt::Qos::AtMostOnce),
    }
}

fn opt_str(v: Option<&str>) -> TokenStream {
    match v {
        Some(s) => quote!(Some(#s.to_owned())),
        None => quote!(None),
    }
}

fn interval(v: Option<&IntervalOrSchema>) -> TokenStream {
    match v {
        Some(IntervalOrSchema::Value(n)) => {
            let n = u32::try_from(*n).unwrap_or(u32::MAX);
            quote!(Some(#n))
        }
        _ => quote!(None),
    }
}

/// Whether a server speaks MQTT 5 (`protocolVersion: 5` or `5.0`).
fn is_v5(cx: &Cx<'_>, model: &BrokerModel) -> Vec<bool> {
    model
        .servers
        .iter()
        .map(|s| {
            let s = cx.api.server(*s);
            s.protocol_version
                .as_deref()
                .is_some_and(|v| v.starts_with('5'))
                || s.bindings.mqtt5.is_some()
        })
        .collect()
}

fn servers(cx: &Cx<'_>, model: &BrokerModel) -> TokenStream {
    let mut out = TokenStream::new();
    let v5 = is_v5(cx, model);
    let wants_reply = model.send.iter().any(|o| o.reply.is_some());
    for (i, id) in model.servers.iter().enumerate() {
        let s = cx.api.server(*id);
        let base = heck::ToSnakeCase::to_snake_case(s.key.as_str());
        let base = crate::names::sanitize(base, "server");
        let url_const = format_ident!("{}_URL", base.to_uppercase());
        let config_fn = format_ident!("{}_config", base);
        let scheme = if s.protocol.eq_ignore_ascii_case("mqtt") {
            "mqtt"
        } else {
            "mqtts"
        };
        let url = format!("{scheme}://{}", server_host(cx.api, *id));
        let doc = server_doc(cx.api, *id, "MQTT");
        let b = s.bindings.mqtt.clone().unwrap_or_default();
        let client_id = opt_str(b.client_id.as_deref());
        let clean = match b.clean_session {
            Some(c) => quote!(Some(#c)),
            None => quote!(None),
        };
        let keep_alive = match b.keep_alive {
            Some(k) => quote!(Some(#k)),
            None => quote!(None),
        };
        let last_will = match b
            .last_will
            .as_ref()
            .and_then(|w| w.topic.clone().map(|t| (t, w)))
        {
            Some((topic, w)) => {
                let q = qos(w.qos);
                let msg = w.message.clone().unwrap_or_default();
                let retain = w.retain.unwrap_or(false);
                quote!(Some(mqtt::LastWill {
                    topic: #topic.to_owned(),
                    message: #msg.as_bytes().to_vec(),
                    qos: #q,
                    retain: #retain,
                }))
            }
            None => quote!(None),
        };
        let expiry = interval(
            b.session_expiry_interval.as_ref().or(s
                .bindings
                .mqtt5
                .as_ref()
                .and_then(|m| m.session_expiry_interval.as_ref())),
        );
        let packet = interval(b.maximum_packet_size.as_ref());
        let version = v5[i].then(|| quote!(config.version = mqtt::Version::V5;));
        let reply = (wants_reply && v5[i]).then(|| {
            quote! {
                // Replies to this client's requests come to a topic of its own.
                config.reply_topic = Some(format!("asyncforge/replies/{}", config.client_id));
            }
        });
        let url_doc = format!(" The URL of server `{}`.", s.key);
        let id_doc = match &b.client_id {
            Some(id) => format!("the binding's `clientId` (`{id}`) when it is `None`"),
            None => {
                "a made-up one (`mqtt::MqttConfig::default_client_id`) when it is `None`".to_owned()
            }
        };
        let cfg_doc = format!(
            " A configuration for server `{}` with its bindings applied. The client id is `client_id`, else {id_doc}; a default id is never shared by two clients of one process, and a publisher-only client connects as `<id>-publisher`. An `mqtts` server is reached over TLS trusting the public roots: set `tls` on the configuration for a private CA or a client certificate.",
            s.key
        );
        let default_prefix = heck::ToKebabCase::to_kebab_case(cx.api.info.title.as_str());
        out.extend(quote! {
            #[doc = #url_doc]
            #doc
            pub const #url_const: &str = #url;

            #[doc = #cfg_doc]
            pub fn #config_fn(client_id: Option<&str>) -> Result<mqtt::MqttConfig, Error> {
                let mut config = mqtt::MqttConfig::from_url(#url_const, client_id.unwrap_or_default())?;
                if client_id.is_none() {
                    config.default_client_id(#default_prefix);
                }
                #version
                config.apply_binding(&mqtt::ServerBinding {
                    client_id: #client_id,
                    clean_session: #clean,
                    keep_alive: #keep_alive,
                    last_will: #last_will,
                    session_expiry_interval: #expiry,
                    maximum_packet_size: #packet,
                });
                #reply
                Ok(config)
            }
        });
    }
    out
}

/// `mqtt::PublishOptions` of an operation sending `message`.
fn options(cx: &Cx<'_>, op: &BrokerOp, message: MessageId) -> TokenStream {
    let o = cx.api.operation(op.id);
    let b = o.bindings.mqtt.clone().unwrap_or_default();
    let q = qos(b.qos);
    let retain = b.retain.unwrap_or(false);
    let mut props = TokenStream::new();
    if let Some(IntervalOrSchema::Value(n)) = &b.message_expiry_interval {
        let n = u32::try_from(*n).unwrap_or(u32::MAX);
        props.extend(quote!(o.properties.message_expiry_interval = Some(#n);));
    }
    if let Some(mb) = &cx.api.message(message).bindings.mqtt {
        if let Some(ct) = &mb.content_type {
            props.extend(quote!(o.properties.content_type = Some(#ct.to_owned());));
        }
        if let Some(p) = mb.payload_format_indicator {
            props.extend(quote!(o.properties.payload_format_indicator = Some(#p);));
        }
        if let Some(ResponseTopic::Topic(t)) = &mb.response_topic {
            props.extend(quote!(o.properties.response_topic = Some(#t.to_owned());));
        }
    }
    if props.is_empty() {
        return quote!(mqtt::PublishOptions::new(#q).retain(#retain));
    }
    quote! {{
        let mut o = mqtt::PublishOptions::new(#q).retain(#retain);
        #props
        o
    }}
}

fn publisher(cx: &Cx<'_>, model: &BrokerModel) -> TokenStream {
    let methods = model.send.iter().map(|op| {
        let c = model.channel(op);
        let method = ident(&op.method);
        let doc = cx.op_doc(op, "Sends `{}`.");
        let konst = format_ident!("{}", crate::names::const_name(c.name.as_str()));
        let (lets, values) = topic_values(cx, c, &quote!(params));
        let tmpl = format_ident!("{}_TEMPLATE", konst);
        let params_arg = (!c.params.is_empty()).then(|| {
            let p = cx.params_ty(c);
            quote!(params: &#p,)
        });
        let check = cx.check_outgoing(op);
        let topic = quote! {
            #check
            #lets
            let template = #tmpl.as_ref().map_err(|e| mqtt::MqttError::Topic(e.clone()))?;
            let topic = template.topic(#values)?;
        };
        let msg_ty = cx.op_message_ty(op);
        if let (Some(reply), [one]) = (op.reply, op.messages.as_slice()) {
            let reply_ty = cx.msg_ty(reply);
            let check = cx.check(reply);
            let opts = options(cx, op, *one);
            return quote! {
                #doc
                ///
                /// MQTT 5 request/reply: publishes with this client's reply topic and fresh
                /// correlation data, and waits up to `timeout` for the answer (checked against
                /// its schema).
                pub async fn #method(&self, #params_arg message: &#msg_ty, timeout: Duration) -> Result<#reply_ty, Error> {
                    #topic
                    Ok(self.client.request_checked(&topic, message, &#opts, timeout, &#check).await?)
                }
            };
        }
        // A message with a headers schema sends its headers as MQTT 5 user properties.
        let publish = |m: MessageId, var: TokenStream| {
            let opts = options(cx, op, m);
            if cx.has_headers(m) {
                quote!(self.client.publish_with_headers(topic, #var, &#opts, #var.headers.as_ref()).await)
            } else {
                quote!(self.client.publish(topic, #var, &#opts).await)
            }
        };
        let body = match op.messages.as_slice() {
            [one] => publish(*one, quote!(message)),
            many => {
                let e = format_ident!("{}Message", op.type_base);
                let arms = many.iter().map(|m| {
                    let v = cx.msg_variant(*m);
                    let call = publish(*m, quote!(m));
                    quote!(#e::#v(m) => #call,)
                });
                quote!(match message { #(#arms)* })
            }
        };
        quote! {
            #doc
            ///
            /// Returns once the publish is handed to the connection; await
            /// [`mqtt::Published::acknowledged`] for the broker's PUBACK / PUBCOMP (QoS 1/2).
            pub async fn #method(&self, #params_arg message: &#msg_ty) -> Result<mqtt::Published, Error> {
                #topic
                Ok(#body?)
            }
        }
    });
    // Each send channel's template, parsed once.
    let mut done = std::collections::BTreeSet::new();
    let statics: Vec<TokenStream> = model
        .send
        .iter()
        .filter(|op| done.insert(op.channel))
        .map(|op| {
            let c = model.channel(op);
            let konst = format_ident!("{}", crate::names::const_name(c.name.as_str()));
            let tmpl = format_ident!("{}_TEMPLATE", konst);
            quote! {
                static #tmpl: std::sync::LazyLock<Result<mqtt::TopicTemplate, crate::runtime::address::AddressError>> =
                    std::sync::LazyLock::new(|| mqtt::TopicTemplate::parse(#konst));
            }
        })
        .collect();
    quote! {
        #(#statics)*

        /// Publishes the application's *send* operations (the topic from the channel address
        /// and the parameters; QoS, retain and MQTT 5 properties from the bindings).
        #[derive(Clone)]
        pub struct Sender {
            client: mqtt::MqttClient,
        }

        impl Sender {
            /// A sender on a running client (a subscriber's, or [`mqtt::MqttClient::publisher`]).
            pub fn new(client: mqtt::MqttClient) -> Self {
                Sender { client }
            }

            /// Starts a client that only publishes.
            pub fn start(config: mqtt::MqttConfig) -> Result<Self, Error> {
                Ok(Sender { client: mqtt::MqttClient::publisher(config)? })
            }

            /// The client (state, counters, `close`, which waits for the publishes in flight).
            pub fn client(&self) -> &mqtt::MqttClient {
                &self.client
            }

            #(#methods)*
        }
    }
}

fn subscriber(cx: &Cx<'_>, model: &BrokerModel) -> TokenStream {
    if model.receive.is_empty() {
        return TokenStream::new();
    }
    let trait_methods = model.receive.iter().map(|op| {
        let c = model.channel(op);
        let method = ident(&op.method);
        let doc = cx.op_doc(op, "Receives `{}`.");
        let p = cx.params_ty(c);
        let m = cx.op_message_ty(op);
        let out = match op.reply {
            Some(r) => {
                let r = cx.msg_ty(r);
                quote!(#r)
            }
            None => quote!(()),
        };
        let ret_doc = if op.reply.is_some() {
            quote!(
                ///
                /// The reply goes to the request's response topic with its correlation data.
            )
        } else {
            TokenStream::new()
        };
        quote! {
            #doc
            #ret_doc
            fn #method(&self, received: Received<#m, #p, Inbound>) -> impl Future<Output = Result<#out, Reject>> + Send;
        }
    });
    let subs = model.receive.iter().map(|op| {
        let c = model.channel(op);
        let konst = format_ident!("{}", crate::names::const_name(c.name.as_str()));
        let q = qos(cx
            .api
            .operation(op.id)
            .bindings
            .mqtt
            .as_ref()
            .and_then(|b| b.qos));
        quote!(mqtt::Subscription::new(#konst, #q)?,)
    });
    let arms = model.receive.iter().enumerate().map(|(i, op)| {
        let c = model.channel(op);
        let method = ident(&op.method);
        let params = cx.params_from(c, &quote!(delivery.params));
        let (params_let, params) = if c.params.is_empty() {
            (TokenStream::new(), quote!(params: ()))
        } else {
            (quote!(let params = #params;), quote!(params))
        };
        let decode = match op.messages.as_slice() {
            [one] if cx.has_headers(*one) => {
                let t = cx.msg_ty(*one);
                let check = cx.check(*one);
                quote! {{
                    let mut message = delivery.decode_checked::<#t>(&#check)?;
                    // MQTT 5 user properties; ones that do not fit the headers schema are
                    // left out.
                    message.headers = delivery.typed_headers().ok();
                    message
                }}
            }
            [one] => {
                let t = cx.msg_ty(*one);
                let check = cx.check(*one);
                quote!(delivery.decode_checked::<#t>(&#check)?)
            }
            _ => cx.decode_any(op, quote!(delivery)),
        };
        let call = match op.reply {
            Some(reply) => {
                let check = cx.check(reply);
                quote! {
                    let to = delivery.clone();
                    let reply = self.0.#method(Received { message, #params, meta: Inbound::new(delivery, client.clone()) }).await?;
                    #check
                        .check_outgoing(&reply)
                        .map_err(|e| Reject::failed(format!("the reply breaks its schema: {e}")))?;
                    client
                        .reply(&to, &reply, &mqtt::PublishOptions::new(to.qos))
                        .await
                        .map(drop)
                        .map_err(Reject::failed)
                }
            }
            None => quote! {
                self.0.#method(Received { message, #params, meta: Inbound::new(delivery, client) }).await
            },
        };
        quote! {
            #i => {
                #params_let
                let message = #decode;
                #call
            }
        }
    });
    quote! {
        /// What the application implements: one method per *receive* operation. `Ok`
        /// acknowledges a QoS 1/2 message; [`Reject::failed`] leaves it unacknowledged
        /// (redelivered by a broker that kept the session); [`Reject::invalid`] acknowledges
        /// and drops it.
        pub trait Handler: Send + Sync + 'static {
            #(#trait_methods)*
        }

        /// The subscriptions of the receive operations, in route order.
        pub fn subscriptions() -> Result<Vec<mqtt::Subscription>, Error> {
            Ok(vec![#(#subs)*])
        }

        /// Starts a client that subscribes to every receive operation's topic and hands what
        /// arrives to `handler`. Publish from the same connection with
        /// `Sender::new(client.clone())`.
        pub fn subscribe<H: Handler>(config: mqtt::MqttConfig, handler: H) -> Result<mqtt::MqttClient, Error> {
            Ok(mqtt::MqttClient::start(config, subscriptions()?, Dispatcher(handler))?)
        }

        struct Dispatcher<H>(H);

        impl<H: Handler> Dispatch<(mqtt::MqttClient, mqtt::Delivery)> for Dispatcher<H> {
            async fn dispatch(&self, (client, delivery): (mqtt::MqttClient, mqtt::Delivery)) -> Result<(), Reject> {
                match delivery.route {
                    #(#arms)*
                    _ => Err(Reject::invalid("no receive operation for this subscription")),
                }
            }
        }
    }
}

/// The body of the generated `mqtt` module.
pub(super) fn emit(cx: &Cx<'_>, model: &BrokerModel) -> TokenStream {
    let common = channel_items(cx, model);
    let servers = servers(cx, model);
    let publisher = publisher(cx, model);
    let subscriber = subscriber(cx, model);
    let checks = cx.checks(model);
    let needs_duration = model.send.iter().any(|o| o.reply.is_some());
    let duration = needs_duration.then(|| {
        quote!(
            use std::time::Duration;
        )
    });
    let future = (!model.receive.is_empty()).then(|| {
        quote!(
            use std::future::Future;
            use crate::runtime::{Dispatch, Received, Reject};
            pub use crate::runtime::mqtt::Inbound;
        )
    });
    quote! {
        //! MQTT: the servers, a `Sender` for the *send* operations, and a `Handler` with
        //! `subscribe` for the *receive* operations. Delivery guarantees, reconnects and
        //! topic rules are the runtime's (`asyncforge_runtime::mqtt`, see docs/protocols.md).
        #future
        #duration
        use crate::runtime::mqtt;
        use crate::runtime::Error;

        #servers
        #common
        #publisher
        #subscriber
        #checks
    }
}
