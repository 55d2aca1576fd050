//! The generated `server` module: one `Handler` trait, `Config`, `Sender` and `Server` (with
//! its axum router) for every WebSocket, SSE and HTTP endpoint, assembled from the parts
//! `ws.rs`, `sse.rs` and `http.rs` emit.

use proc_macro2::TokenStream;
use quote::quote;

use super::common::{Ctx, ServerParts, backplane_config};
use super::{http, sse, ws};
use crate::model::{Model, Protocol};
use crate::tokens::doc_lines;

/// The `server` module body.
pub(super) fn emit(cx: &Ctx<'_>, model: &Model) -> TokenStream {
    let mut parts = ServerParts::default();
    for (index, e) in model.endpoints.iter().enumerate() {
        match e.protocol {
            Protocol::Ws => ws::server_endpoint(cx, e, index, &mut parts),
            Protocol::Sse => sse::server_endpoint(cx, e, &mut parts),
            // HTTP endpoints come from `http::server_parts`; brokers have no endpoints.
            Protocol::Http | Protocol::Mqtt | Protocol::Kafka => {}
        }
    }
    let (has_ws, has_sse, has_http) = (
        model.has(Protocol::Ws),
        model.has(Protocol::Sse),
        model.has(Protocol::Http),
    );
    if has_ws {
        ws::server_config(&mut parts);
    }
    if has_sse {
        sse::server_config(&mut parts);
    }
    if has_ws || has_sse {
        backplane_config(&mut parts);
    }
    http::server_parts(cx, model, &mut parts);
    let ServerParts {
        imports,
        trait_items,
        config_fields,
        config_defaults,
        sender_fields,
        sender_inits,
        sender_items,
        pending_fields,
        pending_inits,
        routes,
        fns,
        new_prelude: prelude,
        shutdown,
    } = parts;
    // Only WebSocket connections have requests from the server waiting for replies.
    let rpc = !pending_fields.is_empty();
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
    // HTTP's trait objects (outbox, stores, hooks) have no `Debug`.
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
        use crate::runtime::{Dispatch, Error, Received, Reject};
        #imports

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
