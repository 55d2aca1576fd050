//! Server-Sent Events: the event stream and `POST` routes and `Sender` methods of each endpoint
//! in the generated `server` module, and one client per endpoint in `client`.

use heck::ToSnakeCase;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::common::{
    Ctx, ServerParts, conv, message_enum_name, path_extractor, read_params, reply_enum_name,
};
use crate::model::Endpoint;
use crate::names::type_name;
use crate::tokens::{ident, lit};

/// What SSE endpoints add to the `server` module once: imports, the `sse` settings in
/// `Config`, the topics in `Sender`, and closing every stream on shutdown.
pub(super) fn server_config(p: &mut ServerParts) {
    p.imports.extend(quote! {
        use crate::runtime::sse::server::{accepted, reply_response, Topics};
        pub use crate::runtime::sse::server::SseConfig;
        use crate::runtime::axum::body::Bytes;
    });
    p.config_fields.push(quote! {
        /// SSE replay window (events and age per topic), retry hint, heartbeat and
        /// subscriber queue.
        pub sse: SseConfig,
        /// Most SSE topics (concrete addresses) held at once.
        pub max_topics: usize,
    });
    p.config_defaults
        .push(quote!(sse: SseConfig::default(), max_topics: 10_000,));
    p.sender_fields.push(quote!(topics: Topics,));
    p.sender_inits
        .push(quote!(topics: Topics::with_backplane(config.sse.clone(), config.max_topics, &config.backplane),));
    p.shutdown.push(quote!(self.sender.topics.close_all();));
}

/// An SSE endpoint's part of the `server` module: its route (`GET` for the event stream of
/// its *send* operations, `POST` for its *receive* operations), `Sender` methods and
/// `Handler` methods.
pub(super) fn server_endpoint(cx: &Ctx<'_>, e: &Endpoint, p: &mut ServerParts) {
    let params_ty = format_ident!("{}Params", e.name);
    let params_path = quote!(super::channels::#params_ty);
    let snake = e.name.to_snake_case();
    let stream = format_ident!("{}_stream", snake);
    let post = format_ident!("{}_post", snake);
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
        let route = lit(&e.route);
        p.routes.push(quote!(.route(#route, #(#methods)*)));
    }
    let read = read_params(e);
    let path_arg = path_extractor(e);
    if !e.send.is_empty() {
        let doc = format!(
            " `GET` on `{}`: the event stream of one address.",
            e.address
        );
        p.fns.push(quote! {
            #[doc = #doc]
            async fn #stream<H: Handler>(
                State(shared): State<Arc<Shared<H>>>,
                #path_arg
                headers: HeaderMap,
            ) -> Response {
                #read
                match shared.sender.topics.topic(&params.address()) {
                    Some(topic) => topic.response(&headers).await,
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
        p.sender_items.push(quote! {
            #doc
            ///
            /// Publishes one event (named after the message) to the stream of the concrete
            /// address of `params`; returns its event id (opaque: a number in process, the
            /// engine's id with a backplane, done when the engine has the event).
            pub async fn #method(&self, params: &#params_path, message: impl Into<#msg_ty>) -> Result<String, Error> {
                let message: #msg_ty = message.into();
                #check
                let bytes = Outgoing::to_bytes(&message)?;
                let data = String::from_utf8_lossy(&bytes);
                self.topics.publish(&params.address(), Outgoing::name(&message), &data).await
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
        p.trait_items.push(quote! {
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
    let doc = format!(
        " `POST` on `{}`: a message for a *receive* operation.",
        e.address
    );
    p.fns.push(quote! {
        #[doc = #doc]
        async fn #post<H: Handler>(
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

/// The client of an SSE endpoint: `POST`s for its *receive* operations, an event stream for
/// its *send* operations.
pub(super) fn client(cx: &Ctx<'_>, e: &Endpoint) -> TokenStream {
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
                    oldest: Option<String>,
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

/// What the `client` module imports for SSE clients.
pub(super) fn client_imports() -> TokenStream {
    quote! {
        use crate::runtime::sse::client::{HttpClient, SseClient, SseItem};
        pub use crate::runtime::sse::client::SseClientConfig;
        use crate::runtime::sse::post::{http_client, post, PostError};
    }
}
