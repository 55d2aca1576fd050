//! The generated `client` module: one client per WebSocket, SSE and HTTP endpoint, emitted by
//! `ws.rs`, `sse.rs` and `http.rs`, under the imports they need.

use proc_macro2::TokenStream;
use quote::quote;

use super::common::Ctx;
use super::{http, sse, ws};
use crate::model::{Model, Protocol};
use crate::tokens::doc_lines;

/// The `client` module body.
pub(super) fn emit(cx: &Ctx<'_>, model: &Model) -> TokenStream {
    let mut items = Vec::new();
    for (index, e) in model.endpoints.iter().enumerate() {
        match e.protocol {
            Protocol::Ws => items.push(ws::client(cx, e, index)),
            Protocol::Sse => items.push(sse::client(cx, e)),
            Protocol::Http => items.push(http::client(cx, e)),
            // Brokers have no endpoints.
            Protocol::Mqtt | Protocol::Kafka => {}
        }
    }
    let has_ws = model.has(Protocol::Ws);
    let has_sse = model.has(Protocol::Sse);
    let ws_imports = has_ws.then(ws::client_imports);
    let sse_imports = has_sse.then(sse::client_imports);
    let http_imports = http::client_imports(model);
    let options = has_ws.then(ws::client_options);
    let client_doc = doc_lines(
        if model.has(Protocol::Http) && !has_ws && !has_sse {
            " The client side: one client per endpoint. Resource clients make conditional requests\n (a `412` is a conflict), lock and poll; webhook clients sign and retry."
        } else {
            " The client side: one client per endpoint. WebSocket clients reconnect by themselves\n (exponential backoff with jitter); SSE clients resume with `Last-Event-ID`."
        },
        true,
    );
    quote! {
        #client_doc
        #![allow(clippy::too_many_arguments)]
        use std::sync::Arc;
        use std::time::Duration;

        use crate::runtime::codegen::*;
        use crate::runtime::address::join_path;
        use crate::runtime::endpoint::{Incoming, Outgoing};
        use crate::runtime::{Error, ErrorKind};
        #ws_imports
        #sse_imports
        #http_imports

        #options

        #(#items)*
    }
}
