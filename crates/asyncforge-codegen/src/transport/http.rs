//! Servers and clients for channels on plain HTTP servers (`http`, `https`): webhooks
//! (sent and received), callback subscriptions, and resources with conditional requests, lock
//! tokens and long polling. Everything protocol-related is the runtime's `http` module; this
//! file only writes the typed glue (`docs/protocols.md`, "Generated HTTP code").
//!
//! What an HTTP endpoint becomes:
//! - a channel with `x-asyncforge-resource` → a resource store served at the route
//!   (`GET`/`HEAD`/`PUT`/`DELETE`, `POST`/`DELETE <route>/lock`), typed accessors on the
//!   `Sender`, and a typed resource client;
//! - otherwise its webhook operations (`x-asyncforge-webhook` on the operation or channel, or
//!   an `http` operation binding with `method: POST`): *receive* → a verifying, deduplicating
//!   endpoint calling one `Handler` method; *send* → typed delivery methods on the `Sender`
//!   (to one subscriber, queued, or to every callback subscription that wants the message).

use asyncforge_spec::ir::{
    Api, MessageId, SchemaBody, SchemaId, SignatureScheme, WebhookExtension,
};
use heck::ToSnakeCase;
use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use super::common::{Ctx, ServerParts, headers_check_ident, message_enum_name, schema_scalar};
use crate::model::{Endpoint, Model, Op, Protocol, resource_of, webhook_of};
use crate::tokens::{doc_lines, ident, lit};

fn scheme(s: Option<SignatureScheme>) -> TokenStream {
    match s.unwrap_or_default() {
        SignatureScheme::StandardWebhooks => quote!(Scheme::StandardWebhooks),
        SignatureScheme::Github => quote!(Scheme::GitHub),
        SignatureScheme::Stripe => quote!(Scheme::Stripe),
    }
}

fn snake(s: &str) -> String {
    s.to_snake_case()
}

fn plain(method: &str) -> &str {
    method.trim_start_matches("r#")
}

/// `call(m, id)` for the one message, or a `match` over the operation's enum (`m` names the
/// message: `message`, or the bound variant).
fn per_message(
    cx: &Ctx<'_>,
    op: &Op,
    call: impl Fn(TokenStream, MessageId) -> TokenStream,
) -> TokenStream {
    if op.messages.len() == 1 {
        let c = call(quote!(message), op.messages[0]);
        return quote!(#c);
    }
    let en = format_ident!("{}", cx.enum_name(&op.messages, &message_enum_name(op)));
    let arms = op.messages.iter().map(|m| {
        let v = format_ident!("{}", cx.msg_name(*m));
        let c = call(quote!(m), *m);
        quote!(super::channels::#en::#v(m) => #c,)
    });
    quote!(match message { #(#arms)* })
}

/// Whether a message has typed headers (a `headers` schema).
fn has_headers(cx: &Ctx<'_>, id: MessageId) -> bool {
    cx.messages[id.0 as usize].headers.is_some()
}

/// A call of the sender's `method` (`deliver`, `enqueue`, `publish`) for the message `m`,
/// with its typed headers when it has them (`method_with_headers`).
fn send_call(
    cx: &Ctx<'_>,
    (target, method): (TokenStream, &str),
    to: TokenStream,
    m: TokenStream,
    id: MessageId,
) -> TokenStream {
    if has_headers(cx, id) {
        let f = format_ident!("{}_with_headers", method);
        quote!(#target.#f(#to, &#m, #m.headers.as_ref()).await)
    } else {
        let f = format_ident!("{}", method);
        quote!(#target.#f(#to, &#m).await)
    }
}

/// The properties of a message's headers schema with the JSON kind of each (what a receiver
/// reads from a request: `("X-Attempt", Scalar::Integer)`).
fn header_names(api: &Api, id: MessageId) -> Vec<(String, TokenStream)> {
    let mut names: Vec<(String, TokenStream)> = Vec::new();
    let mut todo: Vec<SchemaId> = api.message(id).headers.into_iter().collect();
    let mut seen = Vec::new();
    while let Some(s) = todo.pop() {
        if seen.contains(&s) {
            continue;
        }
        seen.push(s);
        if let SchemaBody::Object(o) = &api.schema(s).body {
            for (name, schema) in &o.properties {
                if !names.iter().any(|(n, _)| n == name) {
                    let kind = format_ident!("{}", schema_scalar(api, *schema).unwrap_or("String"));
                    names.push((
                        name.clone(),
                        quote!(crate::runtime::endpoint::Scalar::#kind),
                    ));
                }
            }
            todo.extend(o.all_of.iter().copied());
        }
    }
    names
}

fn secs(n: u64) -> Literal {
    Literal::u64_unsuffixed(n)
}

/// What HTTP endpoints add to the `server` module: webhook receivers and senders, callback
/// subscriptions and resources.
pub(super) fn server_parts(cx: &Ctx<'_>, model: &Model, p: &mut ServerParts) {
    let endpoints: Vec<&Endpoint> = model
        .endpoints
        .iter()
        .filter(|e| e.protocol == Protocol::Http)
        .collect();
    if endpoints.is_empty() {
        return;
    }
    let api = cx.api;
    let senders: Vec<(&Endpoint, &Op)> = endpoints
        .iter()
        .filter(|e| resource_of(api, e).is_none())
        .flat_map(|e| e.send.iter().map(move |o| (*e, o)))
        .collect();
    p.imports.extend(quote! {
        use crate::runtime::http::callbacks::{SubscriptionConfig, Subscriptions};
        use crate::runtime::http::idempotency::{IdempotencyStore, MemoryStore};
        use crate::runtime::http::outbox::{MemoryOutbox, Outbox};
        pub use crate::runtime::http::receiver::{Inbound, Receiver, ReceiverConfig};
        use crate::runtime::http::receiver::{decode_checked, select, typed_headers, CheckedConfig, Refusal, VerifiedRequest};
        pub use crate::runtime::http::ConfigError;
        pub use crate::runtime::http::resource::{Preconditions, ResourceBackend, ResourceConfig, ResourceStore, Versioned};
        pub use crate::runtime::http::sender::{DeadLetter, Delivered, SenderConfig, Subscriber};
        use crate::runtime::http::sender::Sender as WebhookSender;
        pub use crate::runtime::http::signature::Scheme;
        use crate::runtime::address::join_path;
        use crate::runtime::endpoint::encode_path;

        /// What `Config::dead_letter` calls with a delivery given up on.
        pub type DeadLetterHook = Arc<dyn Fn(&DeadLetter) + Send + Sync>;
    });

    // The webhook sender, its outbox and dead-letter hook, and the callback subscriptions.
    if !senders.is_empty() {
        let hook = senders
            .iter()
            .filter_map(|(_, o)| webhook_of(api, o.id))
            .fold(WebhookExtension::default(), |acc, w| WebhookExtension {
                max_retries: acc.max_retries.or(w.max_retries),
                timeout_seconds: acc.timeout_seconds.or(w.timeout_seconds),
                ..acc
            });
        let retries = hook.max_retries.map(|n| {
            let n = Literal::u32_unsuffixed(n);
            quote!(backoff: crate::runtime::backoff::Backoff { max_attempts: Some(#n), ..SenderConfig::default().backoff },)
        });
        let timeout = hook.timeout_seconds.map(|n| {
            let n = secs(n);
            quote!(timeout: Duration::from_secs(#n),)
        });
        p.config_fields.push(quote! {
            /// Webhook deliveries: retries and backoff, timeouts, which destinations the SSRF
            /// guard lets through (public addresses only by default), concurrency.
            pub webhooks: SenderConfig,
            /// Where deliveries wait until they succeed or are dead-lettered. In memory by
            /// default; a `FileOutbox` lets a restarted process finish them
            /// (`Sender::resume_webhooks`); a `PostgresOutbox` (runtime feature `postgres`)
            /// is shared by replicas, each running `Sender::work_webhooks`.
            pub outbox: Arc<dyn Outbox>,
            /// Called with every delivery given up on (after the last retry, or at once for a
            /// refused destination or a `4xx`).
            pub dead_letter: Option<DeadLetterHook>,
        });
        p.config_defaults.push(quote! {
            webhooks: SenderConfig {
                #retries
                #timeout
                ..SenderConfig::default()
            },
            outbox: Arc::new(MemoryOutbox::default()),
            dead_letter: None,
        });
        p.sender_fields.push(quote!(webhooks: WebhookSender,));
        p.new_prelude.push(quote! {
            let webhooks = WebhookSender::new(config.webhooks.clone(), config.outbox.clone())?;
            let webhooks = match config.dead_letter.clone() {
                Some(hook) => webhooks.with_dead_letter(move |d| hook(d)),
                None => webhooks,
            };
        });
        p.sender_inits.push(quote!(webhooks,));
        p.sender_items.push(quote! {
            /// The webhook sender (untyped deliveries, pending deliveries).
            pub fn webhooks(&self) -> &WebhookSender {
                &self.webhooks
            }

            /// Finishes the deliveries a previous process left in the outbox (call once at
            /// start-up, with a durable outbox); returns their results.
            pub async fn resume_webhooks(&self) -> Result<Vec<Result<Delivered, Error>>, Error> {
                let results = self.webhooks.resume().await?;
                Ok(results.into_iter().map(|r| r.map_err(Error::from)).collect())
            }

            /// Keeps a shared outbox moving while the future is polled (spawn it on every
            /// replica): every `every`, claims the deliveries that are due and that no sender
            /// holds — retries, deliveries other replicas stored, deliveries of a replica
            /// that stopped — and attempts them.
            pub async fn work_webhooks(&self, every: Duration) {
                self.webhooks.work(every).await
            }
        });
    }
    let mut subscription_paths: Vec<(String, String)> = Vec::new();
    for (e, o) in &senders {
        if let Some(path) = webhook_of(api, o.id).and_then(|w| w.subscriptions) {
            let full = join(&e.pathname, &path);
            if !subscription_paths.iter().any(|(f, _)| *f == full) {
                subscription_paths.push((full, path));
            }
        }
    }
    if !subscription_paths.is_empty() {
        let mut events: Vec<String> = Vec::new();
        for (_, o) in &senders {
            if webhook_of(api, o.id).is_some_and(|w| w.subscriptions.is_some()) {
                for m in &o.messages {
                    let name = cx.api.message(*m).key.clone();
                    if !events.contains(&name) {
                        events.push(name);
                    }
                }
            }
        }
        let events = events.iter().map(|e| lit(e));
        p.config_fields.push(quote! {
            /// Callback subscriptions: the events that may be registered, destinations
            /// allowed, limits.
            pub subscriptions: SubscriptionConfig,
        });
        p.config_defaults.push(quote! {
            subscriptions: SubscriptionConfig {
                events: vec![#(#events.to_owned()),*],
                ..SubscriptionConfig::default()
            },
        });
        p.sender_fields.push(quote!(subscriptions: Subscriptions,));
        p.sender_inits
            .push(quote!(subscriptions: Subscriptions::new(config.subscriptions.clone()),));
        p.sender_items.push(quote! {
            /// The callback subscriptions registered so far.
            pub fn subscriptions(&self) -> &Subscriptions {
                &self.subscriptions
            }
        });
        for (full, _) in &subscription_paths {
            let full = lit(full);
            p.routes.push(quote! {
                .merge(self.sender.subscriptions.router::<Arc<Shared<H>>>(#full))
            });
        }
    }
    for (e, op) in &senders {
        let hook = webhook_of(api, op.id).unwrap_or_default();
        let method = ident(&op.method);
        let base = plain(&op.method);
        let enqueue = format_ident!("{}_enqueue", base);
        let publish = format_ident!("{}_publish", base);
        let subscriber = format_ident!("{}_subscriber", base);
        let msg_ty = cx.set_ty(&op.messages, &message_enum_name(op));
        let check = cx.check_outgoing(&op.messages);
        let doc = cx.op_doc(op, format!("Delivers a webhook (channel `{}`).", e.address));
        let scheme = scheme(hook.signature);
        let deliver = per_message(cx, op, |m, id| {
            send_call(
                cx,
                (quote!(self.webhooks), "deliver"),
                quote!(subscriber),
                m,
                id,
            )
        });
        let queue = per_message(cx, op, |m, id| {
            send_call(
                cx,
                (quote!(self.webhooks), "enqueue"),
                quote!(subscriber),
                m,
                id,
            )
        });
        p.sender_items.push(quote! {
            #doc
            ///
            /// Delivers to one subscriber: stored in the outbox, signed, retried with backoff
            /// until the subscriber acknowledges it (or it is dead-lettered).
            pub async fn #method(&self, subscriber: &Subscriber, message: impl Into<#msg_ty>) -> Result<Delivered, Error> {
                let message: #msg_ty = message.into();
                #check
                Ok(#deliver?)
            }

            #doc
            ///
            /// Stores the delivery in the outbox and returns its webhook id at once; it proceeds
            /// in the background.
            pub async fn #enqueue(&self, subscriber: &Subscriber, message: impl Into<#msg_ty>) -> Result<String, Error> {
                let message: #msg_ty = message.into();
                #check
                Ok(#queue?)
            }

            /// A subscriber of this webhook with the signature scheme the specification gives it.
            pub fn #subscriber(id: impl Into<String>, url: impl Into<String>, secret: impl Into<String>) -> Subscriber {
                Subscriber { id: id.into(), url: url.into(), secrets: vec![secret.into()], scheme: #scheme }
            }
        });
        if hook.subscriptions.is_some() {
            let publish_call = per_message(cx, op, |m, id| {
                send_call(
                    cx,
                    (quote!(self.webhooks), "publish"),
                    quote!(&self.subscriptions),
                    m,
                    id,
                )
            });
            p.sender_items.push(quote! {
                #doc
                ///
                /// Queues a delivery to every callback subscription that wants this message;
                /// returns the webhook ids.
                pub async fn #publish(&self, message: impl Into<#msg_ty>) -> Result<Vec<String>, Error> {
                    let message: #msg_ty = message.into();
                    #check
                    Ok(#publish_call?)
                }
            });
        }
    }

    // Received webhooks: one endpoint per path, dispatching to one handler method per
    // operation.
    let receiving: Vec<&Endpoint> = endpoints
        .iter()
        .copied()
        .filter(|e| resource_of(api, e).is_none() && !e.receive.is_empty())
        .collect();
    if !receiving.is_empty() {
        p.config_fields.push(quote! {
            /// Where received webhook ids are remembered (deduplication). In memory by
            /// default; a `RedisStore` shares them between instances.
            pub idempotency: Arc<dyn IdempotencyStore>,
        });
        p.config_defaults
            .push(quote!(idempotency: Arc::new(MemoryStore::default()),));
        p.sender_fields
            .push(quote!(idempotency: Arc<dyn IdempotencyStore>,));
        p.sender_inits
            .push(quote!(idempotency: config.idempotency.clone(),));
    }
    for e in receiving {
        receiver_parts(cx, e, p);
    }

    // Resources.
    if endpoints.iter().any(|e| resource_of(api, e).is_some()) {
        p.config_fields.push(quote! {
            /// Where the resources, their lock tokens and change notices live. In this process
            /// by default; `ResourceBackend::postgres(PostgresResources::connect(…).await?)`
            /// (runtime feature `postgres`) shares them between replicas.
            pub resources: ResourceBackend,
        });
        p.config_defaults
            .push(quote!(resources: ResourceBackend::in_process(),));
    }
    for e in &endpoints {
        let Some(res) = resource_of(api, e) else {
            continue;
        };
        let Some(msg) = e
            .channels
            .iter()
            .find_map(|c| api.channel(*c).messages.first().copied())
        else {
            continue;
        };
        let msg_ty = cx.msg_ty(msg);
        let check_value = cx.outgoing_check(&[msg], &quote!(value));
        let name = snake(&e.name);
        let field = format_ident!("{}_resource", name);
        let store = format_ident!("{}_store", name);
        let get = format_ident!("{}_get", name);
        let set = format_ident!("{}_set", name);
        let key_fn = format_ident!("{}_key", name);
        let store_name = lit(&name);
        let params_ty = format_ident!("{}Params", e.name);
        let params_path = quote!(super::channels::#params_ty);
        let route = lit(&e.route);
        let require = res.require_precondition;
        let wait = secs(res.max_wait_seconds.unwrap_or(60));
        let ttl = secs(res.lock_ttl_seconds.unwrap_or(30));
        let max_ttl = secs(res.max_lock_ttl_seconds.unwrap_or(600));
        let cdoc = format!(
            " The resource `{}`: preconditions required or not, long-polling and lock limits.",
            e.address
        );
        p.config_fields.push(quote! {
            #[doc = #cdoc]
            pub #field: ResourceConfig,
        });
        p.config_defaults.push(quote! {
            #field: ResourceConfig {
                require_precondition: #require,
                max_wait: Duration::from_secs(#wait),
                locks: crate::runtime::http::lock::LockConfig {
                    default_ttl: Duration::from_secs(#ttl),
                    max_ttl: Duration::from_secs(#max_ttl),
                    ..crate::runtime::http::lock::LockConfig::default()
                },
                ..ResourceConfig::default()
            },
        });
        p.sender_fields
            .push(quote!(#store: ResourceStore<#msg_ty>,));
        let check = cx.check(msg);
        p.sender_inits.push(quote! {
            #store: ResourceStore::with_backend(config.#field.clone(), &config.resources, #store_name)
                .with_schema(&#check),
        });
        let sdoc = format!(
            " The store of the resource `{}` (conditional reads and writes, locks, waiting for changes).",
            e.address
        );
        let kdoc = format!(
            " The store key of a concrete address of `{}`: its request path, every parameter\n percent-encoded as `encode_path` does (what HTTP requests for it are keyed by).",
            e.address
        );
        let pairs = path_pairs(e);
        p.sender_items.push(quote! {
            #[doc = #sdoc]
            pub fn #store(&self) -> &ResourceStore<#msg_ty> {
                &self.#store
            }

            #[doc = #kdoc]
            pub fn #key_fn(params: &#params_path) -> String {
                encode_path(#route, &[#pairs])
            }

            /// The current version of the resource at the concrete address of `params`.
            pub async fn #get(&self, params: &#params_path) -> Result<Option<Versioned<#msg_ty>>, Error> {
                Ok(self.#store.get(&Self::#key_fn(params)).await?)
            }

            /// Sets the resource at the concrete address of `params` (the application's own
            /// write: no precondition, no lock); clients see a new `ETag`, and long polls
            /// waiting on it return.
            pub async fn #set(&self, params: &#params_path, value: impl Into<#msg_ty>) -> Result<Versioned<#msg_ty>, Error> {
                let value: #msg_ty = value.into();
                #check_value?;
                Ok(self.#store.set(&Self::#key_fn(params), value).await?)
            }
        });
        p.routes.push(quote! {
            .merge(self.sender.#store.router::<Arc<Shared<H>>>(#route))
        });
    }
}

/// The handler methods, configuration, dispatch and route of one webhook endpoint.
fn receiver_parts(cx: &Ctx<'_>, e: &Endpoint, p: &mut ServerParts) {
    let api = cx.api;
    let first = &e.receive[0];
    let hook = webhook_of(api, first.id).unwrap_or_default();
    let scheme = scheme(hook.signature);
    let tolerance = secs(hook.tolerance_seconds.unwrap_or(300));
    let route = lit(&e.route);
    // Named after its operation when it has one, after the channel otherwise.
    let base = if e.receive.len() == 1 {
        plain(&first.method).to_owned()
    } else {
        snake(&e.name)
    };
    let field = format_ident!("{}_receiver", base);
    let field_name = lit(&field.to_string());
    let dispatch_ty = format_ident!("{}Webhooks", e.name);
    let route_fn = format_ident!("{}_route", base);
    let ops: Vec<String> = e
        .receive
        .iter()
        .map(|o| format!("`{}`", api.operation(o.id).key))
        .collect();
    let candidates: Vec<(MessageId, &Op)> = e
        .receive
        .iter()
        .flat_map(|o| o.messages.iter().map(move |m| (*m, o)))
        .collect();
    // Ids are kept apart per endpoint: by the message's name when the endpoint takes one (as
    // a `Receiver` of that message does), by the route otherwise.
    let name = match candidates.as_slice() {
        [(m, _)] => api.message(*m).key.clone(),
        _ => e.route.clone(),
    };
    let name = lit(&name);

    for op in &e.receive {
        let method = ident(&op.method);
        let msg_ty = cx.set_ty(&op.messages, &message_enum_name(op));
        let doc = cx.op_doc(op, format!("A webhook arrived on `{}`.", e.address));
        let which = if candidates.len() > 1 {
            " The endpoint takes several messages: the `webhook-event` header says which,\n or else the one message whose schema the payload fits."
        } else {
            ""
        };
        let call_doc = format!(
            " Called once per webhook id, after the signature, the timestamp, the payload and its\n headers were checked.{which} `Err(Reject::failed(…))` answers 500 (the sender\n retries), `Err(Reject::invalid(…))` 422 (it does not)."
        );
        let call_doc = doc_lines(&call_doc, false);
        p.trait_items.push(quote! {
            #doc
            ///
            #call_doc
            fn #method(&self, received: Received<#msg_ty, (), Inbound>) -> impl std::future::Future<Output = Result<(), Reject>> + Send;
        });
    }
    let cdoc = format!(
        " The webhook endpoint `{}` (operation{} {}): secrets (required: `Server::new` fails without a valid one), scheme, timestamp tolerance, body limit.",
        e.route,
        if ops.len() > 1 { "s" } else { "" },
        ops.join(", ")
    );
    p.config_fields.push(quote! {
        #[doc = #cdoc]
        pub #field: ReceiverConfig,
    });
    p.config_defaults.push(quote! {
        #field: ReceiverConfig {
            scheme: #scheme,
            secrets: Vec::new(),
            tolerance: Duration::from_secs(#tolerance),
            ..ReceiverConfig::new(String::new())
        },
    });
    p.sender_fields.push(quote!(#field: CheckedConfig,));
    p.sender_inits.push(quote!(#field,));
    p.new_prelude.push(quote! {
        let #field = config.#field.check().map_err(|source| ConfigError::Receiver {
            field: #field_name,
            route: #route,
            source,
        })?;
    });

    // Decoding one candidate and calling its operation's method.
    let handle = |m: MessageId, op: &Op| -> TokenStream {
        let ty = cx.msg_ty(m);
        let check = cx.check(m);
        let method = ident(&op.method);
        let headers = has_headers(cx, m).then(|| {
            let names = header_names(api, m).into_iter().map(|(n, kind)| {
                let n = lit(&n);
                quote!((#n, #kind))
            });
            let hc = headers_check_ident(cx, m);
            quote! {
                message.headers = Some(typed_headers(request.headers, &[#(#names),*], &super::channels::checks::#hc)?);
            }
        });
        let mutable = if headers.is_some() {
            quote!(mut)
        } else {
            quote!()
        };
        let wrapped = if op.messages.len() > 1 {
            let en = format_ident!("{}", cx.enum_name(&op.messages, &message_enum_name(op)));
            quote!(super::channels::#en::from(message))
        } else {
            quote!(message)
        };
        quote! {{
            let #mutable message: #ty = decode_checked(request.body, &#check)?;
            #headers
            self.0.#method(request.webhook(#wrapped)).await.map_err(Refusal::Handler)
        }}
    };
    let body = if let [(m, op)] = candidates.as_slice() {
        handle(*m, op)
    } else {
        let names = candidates.iter().map(|(m, _)| {
            let n = lit(&api.message(*m).key);
            let c = cx.check(*m);
            quote!((#n, &#c))
        });
        let arms = candidates.iter().enumerate().map(|(i, (m, op))| {
            let i = Literal::usize_unsuffixed(i);
            let h = handle(*m, op);
            quote!(#i => #h,)
        });
        quote! {
            match select(request.event, request.body, &[#(#names),*])? {
                #(#arms)*
                other => Err(Refusal::Invalid(format!("no message number {other} on this endpoint"))),
            }
        }
    };
    let ddoc = format!(
        " Decodes and checks what arrives at `{}` and calls the handler.",
        e.route
    );
    p.fns.push(quote! {
        #[doc = #ddoc]
        struct #dispatch_ty<H>(Arc<H>);

        impl<'a, H: Handler> Dispatch<VerifiedRequest<'a>, Refusal> for #dispatch_ty<H> {
            async fn dispatch(&self, request: VerifiedRequest<'a>) -> Result<(), Refusal> {
                #body
            }
        }

        fn #route_fn<H: Handler>(handler: &Arc<H>, sender: &Sender) -> routing::MethodRouter<Arc<Shared<H>>> {
            Receiver::with_dispatch(#name, sender.#field.clone(), #dispatch_ty(handler.clone()))
                .with_store(sender.idempotency.clone())
                .endpoint()
        }
    });
    p.routes
        .push(quote!(.route(#route, #route_fn(&state.handler, &self.sender))));
}

/// `("name", params.field.as_str()),` for every parameter of an endpoint.
fn path_pairs(e: &Endpoint) -> TokenStream {
    let pairs = e.params.iter().map(|p| {
        let f = ident(&p.field);
        let n = lit(&p.name);
        quote!((#n, params.#f.as_str()),)
    });
    quote!(#(#pairs)*)
}

fn join(pathname: &str, path: &str) -> String {
    let base = pathname.trim_end_matches('/');
    let path = path.trim_start_matches('/');
    if base.is_empty() {
        format!("/{path}")
    } else if base.starts_with('/') {
        format!("{base}/{path}")
    } else {
        format!("/{base}/{path}")
    }
}

// ---------------------------------------------------------------------------------------
// client

/// The imports of `client.rs` for HTTP endpoints.
pub(super) fn client_imports(model: &Model) -> TokenStream {
    if !model.has(Protocol::Http) {
        return TokenStream::new();
    }
    quote! {
        pub use crate::runtime::http::client::{Fetched, LockGrant, PollConfig, PollMode, Poller, ResourceClient, WriteOptions};
        pub use crate::runtime::etag::EntityTag;
        use crate::runtime::http::outbox::MemoryOutbox;
        use crate::runtime::http::sender::{Delivered, Sender as WebhookSender, SenderConfig, Subscriber};
        use crate::runtime::http::signature::Scheme;
        use crate::runtime::endpoint::encode_path;
    }
}

/// The client of one HTTP endpoint: a resource client, or a webhook poster for its received
/// webhooks (none for an endpoint that only sends webhooks).
pub(super) fn client(cx: &Ctx<'_>, e: &Endpoint) -> TokenStream {
    let api = cx.api;
    let client = format_ident!("{}Client", e.name);
    let params_ty = format_ident!("{}Params", e.name);
    let params_path = quote!(super::channels::#params_ty);
    let pathname = lit(&e.pathname);
    if resource_of(api, e).is_some() {
        let Some(msg) = e
            .channels
            .iter()
            .find_map(|c| api.channel(*c).messages.first().copied())
        else {
            return TokenStream::new();
        };
        let m = cx.msg_ty(msg);
        let check = cx.check(msg);
        let check_value = quote!(#check.check_outgoing(value));
        let route = lit(&e.route);
        let pairs = path_pairs(e);
        let doc = format!(
            " A client of the resource `{}`: conditional reads and writes (a `412` is `ClientError::Conflict`), read-modify-write, lock tokens, polling and long polling.",
            e.address
        );
        return quote! {
            #[doc = #doc]
            #[derive(Debug, Clone)]
            pub struct #client {
                inner: ResourceClient<#m>,
                server_url: String,
            }

            impl #client {
                /// A client of the resource under `server_url` (scheme, host and port, such as
                /// `http://127.0.0.1:8080`; the server's pathname and the address are added).
                pub fn new(server_url: &str) -> Result<Self, Error> {
                    Ok(#client { inner: ResourceClient::new()?, server_url: server_url.trim_end_matches('/').to_owned() })
                }

                /// The URL of the concrete address of `params` (every parameter
                /// percent-encoded: the path the server keys the resource by).
                pub fn url(&self, params: &#params_path) -> String {
                    let mut url = self.server_url.clone();
                    url.push_str(&encode_path(#route, &[#pairs]));
                    url
                }

                /// Reads the resource (`200` with its `ETag`).
                pub async fn get(&self, params: &#params_path) -> Result<Fetched<#m>, Error> {
                    Ok(self.inner.get(&self.url(params)).await?)
                }

                /// Reads the resource unless it still has the tag `known` (`Ok(None)`: `304`);
                /// with `wait`, the server holds the request until it changes (`Prefer: wait`).
                pub async fn get_if_changed(&self, params: &#params_path, known: Option<&EntityTag>, wait: Option<Duration>) -> Result<Option<Fetched<#m>>, Error> {
                    Ok(self.inner.get_if_changed(&self.url(params), known, wait).await?)
                }

                /// Writes the resource with the preconditions and lock token of `options`;
                /// returns the new tag. A failed `If-Match` is an `ErrorKind::Conflict` error.
                pub async fn put(&self, params: &#params_path, value: &#m, options: &WriteOptions) -> Result<Option<EntityTag>, Error> {
                    #check_value?;
                    Ok(self.inner.put(&self.url(params), value, options).await?)
                }

                /// Writes the resource only if it still has the tag `etag` (`If-Match`).
                pub async fn put_if_match(&self, params: &#params_path, value: &#m, etag: &EntityTag) -> Result<Option<EntityTag>, Error> {
                    #check_value?;
                    Ok(self.inner.put(&self.url(params), value, &WriteOptions::if_match(etag.clone())).await?)
                }

                /// Deletes the resource.
                pub async fn delete(&self, params: &#params_path, options: &WriteOptions) -> Result<(), Error> {
                    Ok(self.inner.delete(&self.url(params), options).await?)
                }

                /// Read-modify-write with `If-Match`, retried on conflicts (at most
                /// `max_attempts` times); returns the new tag.
                pub async fn update(&self, params: &#params_path, max_attempts: u32, f: impl FnMut(#m) -> #m) -> Result<Option<EntityTag>, Error> {
                    Ok(self.inner.update(&self.url(params), max_attempts, f).await?)
                }

                /// Acquires the resource's lock (on a `409`, an `ErrorKind::Conflict` error whose
                /// `runtime::http::client::ClientError::Locked` says who holds it until when).
                pub async fn lock(&self, params: &#params_path, holder: &str, ttl: Option<Duration>) -> Result<LockGrant, Error> {
                    Ok(self.inner.lock(&self.url(params), holder, ttl).await?)
                }

                /// Releases the lock.
                pub async fn unlock(&self, params: &#params_path, token: &str) -> Result<(), Error> {
                    Ok(self.inner.unlock(&self.url(params), token).await?)
                }

                /// A poller yielding the current version, then every change: long polling by
                /// default (`PollConfig::default()`: 25 s waits), or `PollConfig::interval`.
                pub fn poll(&self, params: &#params_path, config: PollConfig) -> Poller<#m> {
                    self.inner.poll(self.url(params), config)
                }
            }
        };
    }
    if e.receive.is_empty() {
        return TokenStream::new();
    }
    let mut methods = Vec::new();
    let mut scheme_tokens = quote!(Scheme::StandardWebhooks);
    if let Some(first) = e.receive.first() {
        scheme_tokens = scheme(webhook_of(api, first.id).unwrap_or_default().signature);
    }
    for op in &e.receive {
        let method = ident(&op.caller);
        let m = cx.set_ty(&op.messages, &message_enum_name(op));
        let check = cx.check_outgoing(&op.messages);
        let doc = cx.op_doc(op, format!("Posts a webhook to `{}`.", e.address));
        let deliver = per_message(cx, op, |msg, id| {
            send_call(
                cx,
                (quote!(self.sender), "deliver"),
                quote!(&self.subscriber),
                msg,
                id,
            )
        });
        methods.push(quote! {
            #doc
            ///
            /// Signed, retried with backoff until acknowledged (or dead-lettered).
            pub async fn #method(&self, message: impl Into<#m>) -> Result<Delivered, Error> {
                let message: #m = message.into();
                #check
                Ok(#deliver?)
            }
        });
    }
    let doc = format!(
        " Posts signed webhooks to the endpoint `{}` (the sender side, as a webhook provider would).",
        e.address
    );
    quote! {
        #[doc = #doc]
        #[derive(Debug, Clone)]
        pub struct #client {
            sender: WebhookSender,
            subscriber: Subscriber,
        }

        impl #client {
            /// A client of the endpoint under `server_url` signing with `secret`; `config`
            /// sets retries and which addresses may be reached (`AddressPolicy`: public only by
            /// default).
            pub fn new(server_url: &str, secret: impl Into<String>, config: SenderConfig) -> Result<Self, Error> {
                let mut url = server_url.trim_end_matches('/').to_owned();
                url.push_str(&join_path(#pathname, &#params_path::default().address()));
                let sender = WebhookSender::new(config, Arc::new(MemoryOutbox::default()))?;
                Ok(#client { sender, subscriber: Subscriber { id: "server".to_owned(), url, secrets: vec![secret.into()], scheme: #scheme_tokens } })
            }

            /// Where webhooks go, and how they are signed.
            pub fn subscriber(&self) -> &Subscriber {
                &self.subscriber
            }

            #(#methods)*
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::model::tests::api;
    use crate::model::{Protocol, build, resource_of, webhook_of};

    const DOC: &str = "asyncapi: 3.0.0
info: {title: T, version: '1'}
servers: {s: {host: h, protocol: https, pathname: /api}}
channels:
  hooks: {address: hooks/in, messages: {a: {payload: {type: object}}}}
  out: {address: hooks/out, messages: {b: {payload: {type: object}}}}
  plain: {address: plain, messages: {c: {payload: {type: object}}}}
  two: {address: two, messages: {d: {payload: {type: object}}, e: {payload: {type: object}}}}
  thing:
    address: things/{id}
    messages: {t: {payload: {type: object}}}
    x-asyncforge-resource: {requirePrecondition: true, maxWaitSeconds: zero}
  param: {address: 'p/{x}', messages: {f: {payload: {type: object}}}}
  shared: {address: shared, messages: {g: {payload: {type: object}}, h: {payload: {type: object}}}}
operations:
  takeHook:
    action: receive
    channel: {$ref: '#/channels/hooks'}
    bindings: {http: {method: POST}}
  sendHook:
    action: send
    channel: {$ref: '#/channels/out'}
    x-asyncforge-webhook: {signature: stripe, subscriptions: /subs, colour: red}
  notAHook: {action: receive, channel: {$ref: '#/channels/plain'}}
  twoMessages:
    action: receive
    channel: {$ref: '#/channels/two'}
    x-asyncforge-webhook: true
  readThing: {action: send, channel: {$ref: '#/channels/thing'}}
  withParam:
    action: receive
    channel: {$ref: '#/channels/param'}
    x-asyncforge-webhook: true
  sharedG:
    action: receive
    channel: {$ref: '#/channels/shared'}
    messages: [{$ref: '#/channels/shared/messages/g'}]
    x-asyncforge-webhook: true
  sharedH:
    action: receive
    channel: {$ref: '#/channels/shared'}
    messages: [{$ref: '#/channels/shared/messages/h'}]
    x-asyncforge-webhook: {signature: github}
  sharedAgain:
    action: receive
    channel: {$ref: '#/channels/shared'}
    messages: [{$ref: '#/channels/shared/messages/g'}]
    x-asyncforge-webhook: true
";

    #[test]
    fn http_endpoints_keep_what_can_be_served_and_say_why_not() {
        let api = api(DOC);
        let model = build(&api, None);
        let by_name = |n: &str| {
            model
                .endpoints
                .iter()
                .find(|e| e.name == n)
                .unwrap_or_else(|| panic!("no endpoint {n}"))
        };
        assert!(model.endpoints.iter().all(|e| e.protocol == Protocol::Http));
        assert_eq!(by_name("Hooks").route, "/api/hooks/in");
        assert_eq!(by_name("Hooks").receive[0].method, "take_hook");
        assert_eq!(by_name("Out").send[0].method, "send_hook");
        assert!(by_name("Plain").receive.is_empty());
        // One operation with two messages, and two operations on one path, are served by one
        // endpoint; a message two operations claim is not.
        assert_eq!(by_name("Two").receive[0].messages.len(), 2);
        let shared: Vec<&str> = by_name("Shared")
            .receive
            .iter()
            .map(|o| o.method.as_str())
            .collect();
        assert_eq!(shared, ["shared_g", "shared_h"]);
        assert!(by_name("Param").receive.is_empty());
        assert!(resource_of(&api, by_name("Thing")).is_some_and(|r| r.require_precondition));
        let warnings: Vec<&str> = model.warnings.iter().map(|w| w.message.as_str()).collect();
        let has = |needle: &str| warnings.iter().any(|w| w.contains(needle));
        assert!(
            has("operation `notAHook` on an http server has no generated code"),
            "{warnings:?}"
        );
        assert!(has(
            "operation `sharedAgain` has no generated webhook endpoint: its message `g` is already received on this path by operation `sharedG`"
        ));
        assert!(has(
            "operation `sharedH` shares its webhook endpoint with operation `sharedG` but not its signature settings"
        ));
        assert!(has(
            "`withParam` has no generated webhook endpoint: a webhook endpoint's address cannot have parameters"
        ));
        assert!(has("unknown field `colour`"));
        assert!(has("`maxWaitSeconds` must be a positive integer"));
        assert_eq!(warnings.len(), 6, "{warnings:?}");
        let hook = webhook_of(&api, by_name("Out").send[0].id).expect("webhook");
        assert_eq!(hook.subscriptions.as_deref(), Some("/subs"));
    }

    #[test]
    fn a_resource_with_several_messages_is_dropped() {
        let doc = "asyncapi: 3.0.0
info: {title: T, version: '1'}
servers: {s: {host: h, protocol: http}}
channels:
  thing:
    address: things/{id}
    messages: {a: {payload: {type: object}}, b: {payload: {type: object}}}
    x-asyncforge-resource: true
";
        let model = build(&api(doc), None);
        assert!(model.endpoints.is_empty());
        assert!(model.warnings[0].message.contains("exactly one message"));
    }
}
