//! The generated `kafka` module: per server its bootstrap address and a configuration with the
//! security scheme mapped to librdkafka settings, the topics of the channel bindings
//! (`ensure_topics`), a `Sender` with one method per *send* operation (topic from the
//! binding or address, typed key from the message binding, typed headers), and a `Handler`
//! trait with a `Consumer` for the *receive* operations (group and client id from the
//! operation bindings; at least once, retries and dead letters by the runtime).

use std::collections::BTreeSet;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::brokers::{Cx, channel_items, fixed_string, server_doc, server_host, topic_values};
use crate::model::{BrokerModel, BrokerOp};
use crate::tokens::{ident, lit};
use crate::types::Warning;

fn konst(name: &str) -> proc_macro2::Ident {
    format_ident!("{}", crate::names::const_name(name))
}

fn servers(cx: &Cx<'_>, model: &BrokerModel) -> TokenStream {
    let mut out = TokenStream::new();
    for id in &model.servers {
        let s = cx.api.server(*id);
        let base =
            crate::names::sanitize(heck::ToSnakeCase::to_snake_case(s.key.as_str()), "server");
        let bootstrap = format_ident!("{}_BOOTSTRAP", base.to_uppercase());
        let config_fn = format_ident!("{}_config", base);
        let host = server_host(cx.api, *id);
        let doc = server_doc(cx.api, *id, "Kafka");
        let protocol = s.protocol.to_ascii_lowercase();
        let kind = match s.security.first() {
            Some(r) => {
                let k = &cx.api.security_scheme(r.scheme).kind;
                quote!(Some(#k))
            }
            None => quote!(None),
        };
        let boot_doc = format!(" The bootstrap servers of server `{}`.", s.key);
        let cfg_doc = format!(
            " A configuration for server `{}`: its security (protocol `{}`, the first security requirement) mapped to librdkafka settings with `credentials` (secrets never come from the document).",
            s.key, s.protocol
        );
        out.extend(quote! {
            #[doc = #boot_doc]
            #doc
            pub const #bootstrap: &str = #host;

            #[doc = #cfg_doc]
            pub fn #config_fn(credentials: &kafka::Credentials) -> Result<kafka::KafkaConfig, Error> {
                let security = kafka::security_config(#protocol, #kind, credentials)?;
                Ok(kafka::KafkaConfig::new(#bootstrap).with(security))
            }
        });
    }
    out
}

fn topics(cx: &Cx<'_>, model: &BrokerModel) -> TokenStream {
    let specs = model.channels.iter().filter(|c| c.params.is_empty()).map(|c| {
        let k = konst(&c.name);
        let b = cx.api.channel(c.id).bindings.kafka.clone().unwrap_or_default();
        let opt = |v: Option<u64>| match v {
            Some(n) => quote!(Some(#n)),
            None => quote!(None),
        };
        let (partitions, replicas) = (opt(b.partitions), opt(b.replicas));
        let config = match &b.topic_configuration {
            Some(v) => {
                let text = lit(&v.to_string());
                quote!(kafka::TopicSpec::config_from_json(&crate::runtime::codegen::serde_json::from_str(#text).unwrap_or_default()))
            }
            None => quote!(Default::default()),
        };
        quote!(kafka::TopicSpec { name: #k.to_owned(), partitions: #partitions, replicas: #replicas, config: #config },)
    });
    quote! {
        /// The topics of the channels without parameters, with `partitions`, `replicas` and
        /// `topicConfiguration` from their bindings. (A channel with parameters names a topic
        /// per value; create those as the values become known.)
        pub fn topics() -> Vec<kafka::TopicSpec> {
            vec![#(#specs)*]
        }

        /// Creates the [`topics`] that do not exist yet (existing ones are left as they are).
        pub async fn ensure_topics(config: &kafka::KafkaConfig, timeout: Duration) -> Result<Vec<kafka::TopicOutcome>, Error> {
            Ok(kafka::ensure_topics(config, &topics(), timeout).await?)
        }
    }
}

/// The key type of an operation: the message binding's `key` type when its messages agree,
/// else `str` (a string key, as its bytes), and whether it is typed.
fn key_ty(cx: &Cx<'_>, op: &BrokerOp) -> (TokenStream, bool) {
    let keys: BTreeSet<String> = op
        .messages
        .iter()
        .map(|m| cx.key_ty(*m).map(|t| t.to_string()).unwrap_or_default())
        .collect();
    match (keys.len(), op.messages.first().and_then(|m| cx.key_ty(*m))) {
        (1, Some(t)) if t.to_string() == "String" => (quote!(str), true),
        (1, Some(t)) => (t, true),
        _ => (quote!(str), false),
    }
}

/// The client id the bindings of `ops` fix: the first one's; a different one of a later
/// operation is reported (one client has one id).
fn client_id(
    cx: &Cx<'_>,
    ops: &[BrokerOp],
    client: &str,
    warnings: &mut Vec<Warning>,
) -> Option<String> {
    let mut first: Option<(String, String)> = None;
    for op in ops {
        let o = cx.api.operation(op.id);
        let Some(id) = o
            .bindings
            .kafka
            .as_ref()
            .and_then(|b| fixed_string(cx.api, b.client_id))
        else {
            continue;
        };
        match &first {
            Some((f, by)) if *f != id => warnings.push(Warning {
                message: format!(
                    "operation `{}`: client id `{id}` differs from `{f}` of `{by}`; the generated {client} uses `{f}`",
                    o.key
                ),
                source: o.source.clone(),
            }),
            Some(_) => {}
            None => first = Some((id, o.key.clone())),
        }
    }
    first.map(|(id, _)| id)
}

fn producer(cx: &Cx<'_>, model: &BrokerModel, warnings: &mut Vec<Warning>) -> TokenStream {
    let methods = model.send.iter().map(|op| {
        let c = model.channel(op);
        let method = ident(&op.method);
        let doc = cx.op_doc(op, "Sends `{}`.");
        let k = konst(&c.name);
        let (lets, values) = topic_values(cx, c, &quote!(params));
        let tmpl = format_ident!("{}_TEMPLATE", k);
        let params_arg = (!c.params.is_empty()).then(|| {
            let p = cx.params_ty(c);
            quote!(params: &#p,)
        });
        let (key, typed) = key_ty(cx, op);
        let key_doc = if typed {
            " The record key is typed by the message binding's `key` schema."
        } else {
            " The record key, when there is one, is sent as the string's bytes."
        };
        let msg_ty = cx.op_message_ty(op);
        let check = cx.check_outgoing(op);
        let send = |m: TokenStream, id| {
            if cx.has_headers(id) {
                quote!(self.inner.send_with_headers(&topic, key, #m, #m.headers.as_ref()).await)
            } else {
                quote!(self.inner.send(&topic, key, #m, &[]).await)
            }
        };
        let body = match op.messages.as_slice() {
            [one] => send(quote!(message), *one),
            many => {
                let e = format_ident!("{}Message", op.type_base);
                let arms = many.iter().map(|m| {
                    let v = cx.msg_variant(*m);
                    let s = send(quote!(m), *m);
                    quote!(#e::#v(m) => #s,)
                });
                quote!(match message { #(#arms)* })
            }
        };
        quote! {
            #doc
            ///
            #[doc = #key_doc]
            /// Resolves when the broker has the record.
            pub async fn #method(&self, #params_arg key: Option<&#key>, message: &#msg_ty) -> Result<kafka::Delivered, Error> {
                #check
                #lets
                let template = #tmpl.as_ref().map_err(|e| kafka::KafkaError::Topic(e.clone()))?;
                let topic = template.topic(#values)?;
                Ok(#body?)
            }
        }
    });
    // Each send channel's topic template, parsed once.
    let mut done = BTreeSet::new();
    let statics: Vec<TokenStream> = model
        .send
        .iter()
        .filter(|op| done.insert(op.channel))
        .map(|op| {
            let k = konst(&model.channel(op).name);
            let tmpl = format_ident!("{}_TEMPLATE", k);
            quote! {
                static #tmpl: std::sync::LazyLock<Result<KafkaTopic, crate::runtime::address::AddressError>> =
                    std::sync::LazyLock::new(|| KafkaTopic::parse(#k));
            }
        })
        .collect();
    // The client id: the first send operation's binding that fixes one.
    let client = match client_id(cx, &model.send, "producer", warnings) {
        Some(c) => quote!(Some(#c)),
        None => quote!(None),
    };
    quote! {
        #(#statics)*

        /// The producer's client id: `clientId` of the first send operation's binding that
        /// fixes one.
        pub const PRODUCER_CLIENT_ID: Option<&str> = #client;

        /// Sends the application's *send* operations (idempotent producer, `acks=all`; a
        /// `content-type` header and the message's typed headers go with every record).
        #[derive(Clone)]
        pub struct Sender {
            inner: kafka::Producer,
        }

        impl Sender {
            /// A sender for `config` (an idempotent producer), with [`PRODUCER_CLIENT_ID`] as its `client.id` unless
            /// `config` sets one.
            pub fn new(config: &kafka::KafkaConfig) -> Result<Self, Error> {
                let config = config.clone().or_client_id(PRODUCER_CLIENT_ID);
                Ok(Sender { inner: kafka::Producer::new(&config)? })
            }

            /// The runtime's producer (`flush`, raw sends).
            pub fn inner(&self) -> &kafka::Producer {
                &self.inner
            }

            #(#methods)*
        }
    }
}

fn consumer(cx: &Cx<'_>, model: &BrokerModel, warnings: &mut Vec<Warning>) -> TokenStream {
    if model.receive.is_empty() {
        return TokenStream::new();
    }
    // Group and client id: the first receive operation's binding that fixes one.
    let mut group: Option<(String, String)> = None;
    for op in &model.receive {
        let o = cx.api.operation(op.id);
        let Some(b) = &o.bindings.kafka else { continue };
        if let Some(g) = fixed_string(cx.api, b.group_id) {
            match &group {
                Some((first, by)) if *first != g => warnings.push(Warning {
                    message: format!(
                        "operation `{}`: group id `{g}` differs from `{first}` of `{by}`; the generated consumer joins `{first}` (run another consumer with other options for `{g}`)",
                        o.key
                    ),
                    source: o.source.clone(),
                }),
                Some(_) => {}
                None => group = Some((g, o.key.clone())),
            }
        }
    }
    let client = client_id(cx, &model.receive, "consumer", warnings);
    let group_doc = match &group {
        Some((_, by)) => format!(" The consumer group: `groupId` of `{by}`'s binding."),
        None => " The consumer group: the bindings fix none, so the API's title.".to_owned(),
    };
    let group = group
        .map(|(g, _)| g)
        .unwrap_or_else(|| heck::ToKebabCase::to_kebab_case(cx.api.info.title.as_str()));
    let client = match client {
        Some(c) => quote!(Some(#c)),
        None => quote!(None),
    };
    let trait_methods = model.receive.iter().map(|op| {
        let c = model.channel(op);
        let method = ident(&op.method);
        let doc = cx.op_doc(op, "Receives `{}`.");
        let p = cx.params_ty(c);
        let m = cx.op_message_ty(op);
        let (k, typed) = key_ty(cx, op);
        let k = if typed && k.to_string() != "str" { k } else if typed { quote!(String) } else { quote!(Vec<u8>) };
        quote! {
            #doc
            fn #method(&self, received: Received<#m, #p, Inbound<#k>>) -> impl Future<Output = Result<(), Reject>> + Send;
        }
    });
    let subs = model.receive.iter().map(|op| {
        let k = konst(&model.channel(op).name);
        quote!(KafkaTopic::parse(#k)?,)
    });
    let any_params = model
        .receive
        .iter()
        .any(|op| !model.channel(op).params.is_empty());
    let found = if any_params { quote!(found) } else { quote!(_) };
    let arms = model.receive.iter().enumerate().map(|(i, op)| {
        let c = model.channel(op);
        let method = ident(&op.method);
        let params = cx.params_from(c, &quote!(found));
        let (k, typed) = key_ty(cx, op);
        let key = if typed {
            let k = if k.to_string() == "str" {
                quote!(String)
            } else {
                k
            };
            quote!(record.key::<#k>()?)
        } else {
            quote!(record.key.clone())
        };
        let decode = match op.messages.as_slice() {
            [one] => {
                let t = cx.msg_ty(*one);
                let check = cx.check(*one);
                if cx.has_headers(*one) {
                    quote! {{
                        let mut message = record.decode_checked::<#t>(&#check)?;
                        // Headers that do not fit the headers schema are left out.
                        message.headers = record.typed_headers().ok();
                        message
                    }}
                } else {
                    quote!(record.decode_checked::<#t>(&#check)?)
                }
            }
            _ => cx.decode_any(op, quote!(record)),
        };
        let (params_let, params) = if c.params.is_empty() {
            (TokenStream::new(), quote!(params: ()))
        } else {
            (quote!(let params = #params;), quote!(params))
        };
        quote! {
            #i => {
                #params_let
                let key = #key;
                let message = #decode;
                self.handler.#method(Received { message, #params, meta: Inbound { key, record } }).await
            }
        }
    });
    quote! {
        #[doc = #group_doc]
        pub const GROUP_ID: &str = #group;

        /// The consumer's client id: `clientId` of the first receive operation's binding that
        /// fixes one (`consumer_options` sets it; a `client.id` in the configuration wins).
        pub const CLIENT_ID: Option<&str> = #client;

        /// What the consumer subscribes to, in route order: each receive operation's topic, or
        /// a `^…$` pattern when its address has parameters.
        pub fn subscriptions() -> Result<Vec<String>, Error> {
            Ok(topic_templates()?.iter().map(KafkaTopic::subscription).collect())
        }

        fn topic_templates() -> Result<Vec<KafkaTopic>, Error> {
            Ok(vec![#(#subs)*])
        }

        /// Consumer options from the bindings ([`GROUP_ID`], [`CLIENT_ID`], the
        /// [`subscriptions`]) and the runtime's defaults: 5 retries with backoff, no
        /// dead-letter topic (set `dead_letter_topic` to keep consuming past a record that
        /// keeps failing), commits every second.
        pub fn consumer_options() -> Result<kafka::ConsumerOptions, Error> {
            let mut options = kafka::ConsumerOptions::new(GROUP_ID, subscriptions()?);
            options.client_id = CLIENT_ID.map(str::to_owned);
            Ok(options)
        }

        /// What the application implements: one method per *receive* operation. `Ok` lets the
        /// record's offset be committed; a failure ([`Reject::failed`]) is retried with
        /// backoff, then dead-lettered when a dead-letter topic is configured; an invalid
        /// record ([`Reject::invalid`]) is dead-lettered or skipped.
        pub trait Handler: Send + Sync + 'static {
            #(#trait_methods)*
        }

        /// A consumer-group member for the receive operations, at least once.
        pub struct Consumer {
            inner: kafka::Consumer,
            topics: Vec<KafkaTopic>,
        }

        impl Consumer {
            /// Joins the group and subscribes (`options` usually from [`consumer_options`]).
            pub fn new(config: &kafka::KafkaConfig, options: kafka::ConsumerOptions) -> Result<Self, Error> {
                Ok(Consumer { inner: kafka::Consumer::new(config, options)?, topics: topic_templates()? })
            }

            /// Counters so far.
            pub fn stats(&self) -> kafka::ConsumerStats {
                self.inner.stats()
            }

            /// Consumes until `shutdown` completes (then commits what was handled), or until a
            /// record can neither be handled nor dead-lettered.
            pub async fn run<H: Handler>(&self, handler: H, shutdown: impl Future<Output = ()> + Send) -> Result<kafka::ConsumerStats, Error> {
                let dispatcher = Dispatcher { handler, topics: self.topics.clone() };
                Ok(self.inner.run(dispatcher, shutdown).await?)
            }
        }

        struct Dispatcher<H> {
            handler: H,
            topics: Vec<KafkaTopic>,
        }

        impl<H: Handler> Dispatch<kafka::Record> for Dispatcher<H> {
            async fn dispatch(&self, record: kafka::Record) -> Result<(), Reject> {
                let Some((route, #found)) = self
                    .topics
                    .iter()
                    .enumerate()
                    .find_map(|(i, t)| t.matches(&record.topic).map(|p| (i, p)))
                else {
                    return Err(Reject::invalid(format!("no receive operation for topic `{}`", record.topic)));
                };
                match route {
                    #(#arms)*
                    _ => Err(Reject::invalid("no receive operation for this route")),
                }
            }
        }
    }
}

/// The body of the generated `kafka` module.
pub(super) fn emit(cx: &Cx<'_>, model: &BrokerModel, warnings: &mut Vec<Warning>) -> TokenStream {
    let common = channel_items(cx, model);
    let servers = servers(cx, model);
    let topics = topics(cx, model);
    let producer = producer(cx, model, warnings);
    let consumer = consumer(cx, model, warnings);
    let checks = cx.checks(model);
    let future = (!model.receive.is_empty()).then(|| {
        quote!(
            use std::future::Future;
            use crate::runtime::{Dispatch, Received, Reject};
            pub use crate::runtime::kafka::Inbound;
        )
    });
    let topic = (!model.send.is_empty() || !model.receive.is_empty()).then(|| {
        quote!(
            use crate::runtime::kafka::topic::KafkaTopic;
        )
    });
    quote! {
        //! Kafka: the servers, the topics of the channel bindings, a `Sender` for the *send*
        //! operations, and a `Handler` with a `Consumer` for the *receive* operations.
        //! At-least-once delivery, retries and dead letters are the runtime's
        //! (`asyncforge_runtime::kafka`, see docs/protocols.md).
        #future
        use std::time::Duration;
        use crate::runtime::kafka;
        use crate::runtime::Error;
        #topic

        #servers
        #common
        #topics
        #producer
        #consumer
        #checks
    }
}

#[cfg(test)]
mod tests {
    use crate::model::tests::api;

    const TWO_PRODUCER_IDS: &str = "asyncapi: 3.0.0
info: {title: T, version: '1'}
servers: {k: {host: 'localhost:9092', protocol: kafka}}
channels:
  a: {address: a, messages: {m: {payload: {type: object}}}}
  b: {address: b, messages: {n: {payload: {type: object}}}}
operations:
  sendA:
    action: send
    channel: {$ref: '#/channels/a'}
    bindings: {kafka: {clientId: {type: string, enum: [first-id]}}}
  sendB:
    action: send
    channel: {$ref: '#/channels/b'}
    bindings: {kafka: {clientId: {type: string, const: second-id}}}
  receiveA:
    action: receive
    channel: {$ref: '#/channels/a'}
    bindings: {kafka: {clientId: {type: string, enum: [reader]}}}
";

    #[test]
    fn operation_binding_client_ids_reach_producer_and_consumer() {
        let generated =
            crate::generate(&api(TWO_PRODUCER_IDS), &crate::Settings::new("t")).expect("generates");
        let kafka = generated
            .files
            .iter()
            .find(|f| f.path.ends_with("kafka.rs"))
            .expect("src/kafka.rs");
        assert!(
            kafka
                .contents
                .contains(r#"pub const PRODUCER_CLIENT_ID: Option<&str> = Some("first-id");"#),
            "{}",
            kafka.contents
        );
        assert!(
            kafka
                .contents
                .contains(r#"pub const CLIENT_ID: Option<&str> = Some("reader");"#)
        );
        assert!(
            generated.warnings.iter().any(|w| w
                .message
                .contains("client id `second-id` differs from `first-id` of `sendA`")),
            "{:?}",
            generated.warnings
        );
    }
}
