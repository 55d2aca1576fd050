//! WebSocket: the connection handler, upgrade route and `Sender` methods of each endpoint in
//! the generated `server` module, and one reconnecting client per endpoint in `client`.

use asyncforge_spec::ir::{MessageId, SchemaBody};
use heck::ToSnakeCase;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::common::{
    Ctx, ServerParts, conv, message_enum_name, path_extractor, read_params, reply_enum_name,
    schema_scalar,
};
use crate::model::Endpoint;
use crate::names::{const_name, type_name};
use crate::tokens::{ident, lit, names};

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

/// What WebSocket endpoints add to the `server` module once: imports, the `ws` settings in
/// `Config`, the connection hub in `Sender`, and closing every connection on shutdown.
pub(super) fn server_config(p: &mut ServerParts) {
    p.imports.extend(quote! {
        use crate::runtime::ws::{self, Ctx, Hub};
        pub use crate::runtime::ws::{ConnId, Session, WsConfig};
        use crate::runtime::axum::extract::ws::WebSocketUpgrade;
        use crate::runtime::axum::extract::RawQuery;
        use crate::runtime::endpoint::{frame_bytes, headers_object, query_object, outgoing_frame, typed_part, Incoming, Scalar};
    });
    p.config_fields.push(quote! {
        /// WebSocket limits: message size, Origin allow-list, connections, send queue,
        /// slow-consumer policy, keepalive.
        pub ws: WsConfig,
    });
    p.config_defaults.push(quote!(ws: WsConfig::default(),));
    p.sender_fields.push(quote!(hub: Hub,));
    p.sender_inits
        .push(quote!(hub: Hub::with_backplane(config.ws.clone(), &config.backplane),));
    p.sender_items.push(quote! {
        /// The state of the WebSocket backplane's subscription (`None` without a backplane):
        /// while it is not connected, what other replicas send does not reach this one.
        pub fn backplane_state(&self) -> Option<crate::runtime::ws::State> {
            self.hub.backplane_state()
        }

        /// Waits until the WebSocket backplane's subscription is connected (or closed for
        /// good) and returns its state; `None` at once without a backplane.
        pub async fn backplane_connected(&self) -> Option<crate::runtime::ws::State> {
            self.hub.backplane_connected().await
        }
    });
    p.shutdown
        .push(quote!(self.sender.hub.close_all(1001, "server shutting down");));
}

/// A WebSocket endpoint's part of the `server` module: its session type, `Handler` methods
/// (opened, closed, one per *receive* operation), `Sender` methods (one per *send*
/// operation), connection handler and upgrade route.
pub(super) fn server_endpoint(cx: &Ctx<'_>, e: &Endpoint, index: usize, p: &mut ServerParts) {
    let session = format_ident!("{}Session", e.name);
    let params_ty = format_ident!("{}Params", e.name);
    let params_path = quote!(super::channels::#params_ty);
    let snake = e.name.to_snake_case();
    let group = lit(&format!("#{}", e.route));
    let opened = format_ident!("{}_opened", snake);
    let closed = format_ident!("{}_closed", snake);
    let upgrade = format_ident!("{}_upgrade", snake);
    let query_ty = cx.query_ty(index);
    let sdoc = format!(
        " A WebSocket connection on `{}`: its parameters and typed query.",
        e.address
    );
    p.fns.push(quote! {
        #[doc = #sdoc]
        pub type #session = Session<#params_path, #query_ty>;
    });
    let odoc = format!(
        " A connection on `{}` opened (it is subscribed to its concrete address).",
        e.address
    );
    let cdoc = format!(" A connection on `{}` closed.", e.address);
    p.trait_items.push(quote! {
        #[doc = #odoc]
        ///
        /// Its frames are handled once this returns: a request that waits for this
        /// connection's reply belongs on a task of its own.
        fn #opened(&self, _session: &#session) -> impl std::future::Future<Output = ()> + Send {
            async {}
        }
        #[doc = #cdoc]
        fn #closed(&self, _session: &#session) -> impl std::future::Future<Output = ()> + Send {
            async {}
        }
    });
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
                p.trait_items.push(quote! {
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
                p.trait_items.push(quote! {
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
                            return ctx.hub.send(ctx.conn, frame).await.map_err(|e| FrameRefusal::new(e.to_string()));
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
                p.sender_items.push(quote! {
                    #doc
                    ///
                    /// Goes to every connection on the concrete address of `params` (of every
                    /// replica, with a backplane: done when the backplane has it); returns how
                    /// many of this process's connections it was queued for.
                    pub async fn #method(&self, params: &#params_path, message: impl Into<#msg_ty>) -> Result<usize, Error> {
                        let message: #msg_ty = message.into();
                        #check
                        let frame = outgoing_frame(&message, None)?;
                        Ok(self.hub.publish(&params.address(), frame).await?)
                    }

                    #doc
                    ///
                    /// Goes to one connection (held by any replica, with a backplane).
                    pub async fn #to(&self, conn: ConnId, message: impl Into<#msg_ty>) -> Result<(), Error> {
                        let message: #msg_ty = message.into();
                        #check
                        let frame = outgoing_frame(&message, None)?;
                        Ok(self.hub.send(conn, frame).await?)
                    }

                    #doc
                    ///
                    /// Goes to every connection on this channel, whatever its parameters.
                    pub async fn #all(&self, message: impl Into<#msg_ty>) -> Result<usize, Error> {
                        let message: #msg_ty = message.into();
                        #check
                        let frame = outgoing_frame(&message, None)?;
                        Ok(self.hub.publish(#group, frame).await?)
                    }
                });
            }
            Some(reply) => {
                let reply_ty = cx.set_ty(reply, &reply_enum_name(op));
                let field = format_ident!("{}", op.method.trim_start_matches("r#"));
                p.pending_fields.push(quote!(#field: Pending<#reply_ty>,));
                p.pending_inits.push(quote!(#field: Pending::default(),));
                let decodes = reply.iter().map(|m| {
                    let ty = cx.msg_ty(*m);
                    let check = cx.check(*m);
                    let m_conv = conv(reply.len());
                    quote! {
                        if let Some(m) = incoming.try_message::<#ty>(&#check) {
                            return Ok(#m_conv);
                        }
                    }
                });
                p.sender_items.push(quote! {
                    #doc
                    ///
                    /// Sends the request to one connection and waits for its reply (matched by
                    /// correlation id, or in order when the request has none). A connection
                    /// another replica holds is reached through the backplane, and its reply
                    /// comes back the same way.
                    pub async fn #method(&self, conn: ConnId, message: impl Into<#msg_ty>) -> Result<#reply_ty, Error> {
                        let message: #msg_ty = message.into();
                        #check
                        let (frame, id) = crate::runtime::endpoint::request_frame(&message)?;
                        if !self.hub.holds(conn) {
                            let correlation = id.as_ref().map(|k| k.as_str());
                            let reply = self.hub.request_elsewhere(conn, frame, correlation, self.request_timeout).await?;
                            let mut incoming = Incoming::new(frame_bytes(&reply));
                            #(#decodes)*
                            return Err(crate::runtime::rpc::RequestError::Invalid(incoming.rejection()).into());
                        }
                        let waiter = self.pending.#field.register(conn.0, id)?;
                        self.hub.send_local(conn, frame)?;
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
        // A reply no request of this replica awaits may answer another replica's request.
        let relay = quote! {
            if ctx.hub.relay_reply(ctx.conn, relayed.as_ref().map(|k| k.as_str()), &frame).await {
                Ok(())
            } else {
                Err(FrameRefusal::new("a reply to no pending request"))
            }
        };
        let dispatch = reply_dispatch(
            takers,
            &quote!(self.shared.sender.pending),
            &quote!(ctx.conn.0),
            |complete| {
                quote! {
                    match #complete {
                        Ok(()) => Ok(()),
                        Err(_) => #relay,
                    }
                }
            },
            &relay,
        );
        tries.push(quote! {
            if let Some(m) = incoming.try_message::<#ty>(&#check) {
                let id = incoming.correlation_key(&m);
                let relayed = id.clone();
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
    let query_clone = if cx.types.query.contains_key(&index) {
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
    let base = const_name(&e.name);
    let query = match (e.query, cx.types.query.get(&index)) {
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
    let typed_query = cx.types.query.contains_key(&index);
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
    p.fns.push(quote! {
        #[doc = #doc_conn]
        struct #conn_ty<H> {
            shared: Arc<Shared<H>>,
            params: #params_path,
            #query_field
            session: std::sync::OnceLock<#session>,
        }

        impl<'a, H: Handler> Dispatch<ws::Event<'a>, FrameRefusal> for #conn_ty<H> {
            async fn dispatch(&self, event: ws::Event<'a>) -> Result<(), FrameRefusal> {
                match event {
                    ws::Event::Opened(ctx) => {
                        ctx.hub.subscribe(ctx.conn, self.params.address());
                        ctx.hub.subscribe(ctx.conn, #group);
                        let session = self.session.get_or_init(|| Session { ctx: ctx.clone(), params: self.params.clone(), query: #query_clone });
                        self.shared.handler.#opened(session).await;
                        Ok(())
                    }
                    ws::Event::Frame(#ctx_arg, frame) => {
                        #session_let
                        let #incoming_mut incoming = Incoming::new(frame_bytes(&frame));
                        #(#tries)*
                        #refuse
                    }
                    ws::Event::Closed(#close_ctx) => {
                        #(#close_pending)*
                        if let Some(session) = self.session.get() {
                            self.shared.handler.#closed(session).await;
                        }
                        Ok(())
                    }
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
    let route = lit(&e.route);
    p.routes
        .push(quote!(.route(#route, routing::get(#upgrade::<H>))));
}

fn model_pending_fields(e: &Endpoint) -> Vec<String> {
    e.send
        .iter()
        .filter(|o| o.reply.is_some())
        .map(|o| o.method.trim_start_matches("r#").to_owned())
        .collect()
}

/// The client of a WebSocket endpoint, with its events and request/reply dispatch.
pub(super) fn client(cx: &Ctx<'_>, e: &Endpoint, index: usize) -> TokenStream {
    let client = format_ident!("{}Client", e.name);
    let event = format_ident!("{}Event", e.name);
    let pending_ty = format_ident!("{}Pending", e.name);
    let dispatch_ty = format_ident!("{}Dispatch", e.name);
    let params_ty = format_ident!("{}Params", e.name);
    let params_path = quote!(super::channels::#params_ty);
    let query_ty = cx.query_ty(index);
    let has_query = cx.types.query.contains_key(&index);
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

        impl Decode for #dispatch_ty {
            type Event = #event;

            fn decode(&mut self, data: &[u8]) -> Option<#event> {
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

/// What the `client` module imports for WebSocket clients.
pub(super) fn client_imports() -> TokenStream {
    quote! {
        use crate::runtime::ws::client::{Decode, WsClient, WsSender};
        pub use crate::runtime::ws::client::{ClientConfig, Overflow, Responder, State};
        use crate::runtime::endpoint::{outgoing_frame, query_string, request_frame};
        use crate::runtime::rpc::Pending;
        use crate::runtime::tokio::sync::mpsc;
    }
}

/// `ClientOptions`: how every WebSocket client of the `client` module connects and waits.
pub(super) fn client_options() -> TokenStream {
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
}
