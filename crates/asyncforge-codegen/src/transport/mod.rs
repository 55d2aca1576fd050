//! Emitters, one module per protocol, from the [`Model`]:
//! - WebSocket, SSE and HTTP endpoints share three generated modules beside `types` and
//!   `messages`: `channels` (`channels.rs`: typed channel parameters, the schema checks of
//!   incoming messages, one enum per set of several messages), `server` (`server.rs`: a
//!   `Handler` trait with one method per *receive* operation, a `Sender` with typed methods per
//!   *send* operation, and `Server::router(handler) -> axum::Router`) and `client`
//!   (`client.rs`: one client per endpoint). Each protocol's part of them comes from `ws.rs`,
//!   `sse.rs` and `http.rs`; `common.rs` holds what they share.
//! - MQTT and Kafka get a module each (`mqtt.rs`, `kafka.rs`), with what they share in
//!   `brokers.rs`.
//!
//! The conventions (paths, frames, SSE, webhooks, topics) are in `docs/protocols.md`.

mod brokers;
mod channels;
mod client;
mod common;
mod http;
mod kafka;
mod mqtt;
mod server;
mod sse;
mod ws;

use asyncforge_spec::ir::Api;
use proc_macro2::TokenStream;

use crate::messages::MessageTypes;
use crate::model::Model;
use crate::types::{TypeSpace, Warning};
use brokers::{BrokerTypes, Cx};
use common::{Ctx, EndpointTypes};

/// Types the emitters need from the type space, assigned before it is emitted.
pub(crate) struct Types {
    endpoints: EndpointTypes,
    brokers: BrokerTypes,
}

/// Assigns the types of WebSocket binding query schemas and of Kafka message keys.
pub(crate) fn collect(
    api: &Api,
    model: &Model,
    messages: &[MessageTypes],
    space: &mut TypeSpace<'_>,
) -> Types {
    Types {
        endpoints: common::collect(model, space),
        brokers: brokers::collect(api, model, messages, space),
    }
}

/// The generated protocol modules' bodies.
pub(crate) struct Emitted {
    /// `channels`, `server` and `client`, when there are WebSocket, SSE or HTTP endpoints.
    pub endpoints: Option<EndpointModules>,
    /// `mqtt`, when a server speaks MQTT.
    pub mqtt: Option<TokenStream>,
    /// `kafka`, when a server speaks Kafka.
    pub kafka: Option<TokenStream>,
}

/// The modules of the WebSocket, SSE and HTTP endpoints.
pub(crate) struct EndpointModules {
    /// `channels` module body.
    pub channels: TokenStream,
    /// `server` module body.
    pub server: TokenStream,
    /// `client` module body.
    pub client: TokenStream,
}

/// Emits the protocol modules of the model; what is generated with less than the document
/// says goes to `warnings`.
pub(crate) fn emit(
    api: &Api,
    model: &Model,
    space: &TypeSpace<'_>,
    messages: &[MessageTypes],
    types: &Types,
    warnings: &mut Vec<Warning>,
) -> Emitted {
    let endpoints = (!model.endpoints.is_empty()).then(|| {
        let cx = Ctx::new(api, model, space, messages, &types.endpoints);
        EndpointModules {
            channels: channels::emit(&cx, model),
            server: server::emit(&cx, model),
            client: client::emit(&cx, model),
        }
    });
    let cx = Cx {
        api,
        space,
        messages,
        types: &types.brokers,
    };
    Emitted {
        endpoints,
        mqtt: model.mqtt.as_ref().map(|m| mqtt::emit(&cx, m)),
        kafka: model.kafka.as_ref().map(|k| kafka::emit(&cx, k, warnings)),
    }
}
