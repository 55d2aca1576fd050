//! The protocol model: which channels and operations the generated code serves on which
//! protocol, read from the IR once. WebSocket, SSE and HTTP channels become endpoints (routes
//! of the server the application runs, `endpoints.rs`, with HTTP's webhooks and resources
//! chosen in `http.rs`); MQTT and Kafka channels become broker models (topics,
//! `brokers.rs`). What cannot be served becomes a located warning, never a panic or a silent
//! drop.

mod brokers;
mod common;
mod endpoints;
mod http;

use asyncforge_spec::ir::Api;

pub(crate) use brokers::{BrokerChannel, BrokerModel, BrokerOp};
pub(crate) use common::{Param, Protocol, op_messages, reply_messages};
pub(crate) use endpoints::{Endpoint, Op};
pub(crate) use http::{resource_of, webhook_of};

use crate::output::Error;
use crate::settings::Engine;
use crate::types::Warning;

/// What the generated code serves, per protocol, and what it leaves out.
#[derive(Debug, Default)]
pub(crate) struct Model {
    /// WebSocket, SSE and HTTP endpoints, in channel order.
    pub endpoints: Vec<Endpoint>,
    /// MQTT, when a server speaks it.
    pub mqtt: Option<BrokerModel>,
    /// Kafka, when a server speaks it.
    pub kafka: Option<BrokerModel>,
    /// What is left out or served with less than the document says, and why.
    pub warnings: Vec<Warning>,
}

impl Model {
    /// Whether anything is served with `protocol`.
    pub(crate) fn has(&self, protocol: Protocol) -> bool {
        match protocol {
            Protocol::Mqtt => self.mqtt.is_some(),
            Protocol::Kafka => self.kafka.is_some(),
            _ => self.endpoints.iter().any(|e| e.protocol == protocol),
        }
    }

    /// The runtime features the generated code needs, with those of the `engines` asked for.
    pub(crate) fn features(&self, engines: &[Engine]) -> Result<Vec<&'static str>, Error> {
        let mut f = Vec::new();
        if self.has(Protocol::Ws) {
            f.extend(["ws", "ws-client"]);
        }
        if self.has(Protocol::Sse) {
            f.extend(["sse", "sse-client"]);
        }
        if self.has(Protocol::Http) {
            f.push("http");
        }
        if self.has(Protocol::Mqtt) {
            f.push("mqtt");
        }
        if self.has(Protocol::Kafka) {
            f.push("kafka");
        }
        for &engine in engines {
            let (used, reason) = match engine {
                Engine::Postgres => (
                    self.has(Protocol::Http),
                    "it keeps webhook state (outbox, received ids), and the document has no HTTP channels",
                ),
                Engine::Redis => (
                    self.has(Protocol::Http) || self.has(Protocol::Ws) || self.has(Protocol::Sse),
                    "it carries WebSocket publishes, holds SSE replay windows and keeps received webhook ids, and the document has no WebSocket, SSE or HTTP channels",
                ),
                Engine::Nats => (
                    self.has(Protocol::Ws) || self.has(Protocol::Sse),
                    "it carries WebSocket publishes and holds SSE replay windows, and the document has no WebSocket or SSE channels",
                ),
            };
            if !used {
                return Err(Error::Engine {
                    engine: engine.name(),
                    reason,
                });
            }
            f.push(engine.name());
        }
        Ok(f)
    }
}

/// Reads the API's protocols. `default_protocol` (WebSocket, SSE or HTTP) serves the channels
/// of a document that declares no servers at all.
pub(crate) fn build(api: &Api, default_protocol: Option<&str>) -> Model {
    let mut warnings = Vec::new();
    let mut endpoints = endpoints::build(api, default_protocol, &mut warnings);
    http::refine(api, &mut endpoints, &mut warnings);
    let mqtt = brokers::build(api, Protocol::Mqtt, &mut warnings);
    let kafka = brokers::build(api, Protocol::Kafka, &mut warnings);
    Model {
        endpoints,
        mqtt,
        kafka,
        warnings,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A valid document, lowered (tests of every transport's generator use it).
    pub(crate) fn api(yaml: &str) -> Api {
        let checked = asyncforge_spec::load_bytes(
            std::path::Path::new("api.yaml"),
            yaml.as_bytes(),
            &asyncforge_spec::LoadOptions::default(),
        );
        assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
        checked.lower().expect("lowers")
    }

    /// Shaped like the official Kraken example: no servers, every channel on `/`.
    const SHARED_ROOT: &str = "asyncapi: 3.0.0
info: {title: Kraken Websockets API, version: '1'}
channels:
  ping: {address: /, messages: {ping: {payload: {type: object}}}}
  heartbeat: {address: /, messages: {heartbeat: {payload: {type: object}}}}
operations:
  receivePing: {action: receive, channel: {$ref: '#/channels/ping'}}
  heartbeat: {action: send, channel: {$ref: '#/channels/heartbeat'}}
";

    #[test]
    fn a_document_without_servers_gets_endpoints_only_with_a_default_protocol() {
        let api = api(SHARED_ROOT);
        assert!(build(&api, None).endpoints.is_empty());
        let model = build(&api, Some("wss"));
        assert_eq!(model.endpoints.len(), 1);
        let e = &model.endpoints[0];
        assert_eq!((e.protocol, e.route.as_str()), (Protocol::Ws, "/"));
        assert_eq!(e.channels.len(), 2);
        assert_eq!(e.receive[0].method, "receive_ping");
        assert_eq!(e.send[0].method, "heartbeat");
        // A protocol with no generated transport is no protocol.
        assert!(build(&api, Some("amqp")).endpoints.is_empty());
        // A broker's channels are topics on its servers, never endpoints.
        let model = build(&api, Some("mqtt"));
        assert!(model.endpoints.is_empty() && !model.has(Protocol::Mqtt));
    }

    #[test]
    fn a_path_shared_by_channels_is_named_after_it_or_the_api() {
        // `/`: nothing literal in the path, so the API's title.
        assert_eq!(
            build(&api(SHARED_ROOT), Some("ws")).endpoints[0].name,
            "KrakenWebsocketsApi"
        );
        let market = SHARED_ROOT.replace("address: /,", "address: /v1/market,");
        assert_eq!(build(&api(&market), Some("ws")).endpoints[0].name, "Market");
        // One channel on a path keeps the channel's name.
        let one = "asyncapi: 3.0.0
info: {title: T, version: '1'}
servers: {s: {host: h, protocol: ws}}
channels:
  marketDataV1: {address: '/v1/marketdata/{symbol}', messages: {m: {payload: {type: object}}}}
";
        assert_eq!(build(&api(one), None).endpoints[0].name, "MarketDataV1");
    }

    #[test]
    fn a_2x_operation_without_operation_id_is_named_after_its_action_and_message() {
        let doc = "asyncapi: 2.6.0
info: {title: T, version: '1'}
servers: {s: {url: 'wss://h', protocol: wss}}
channels:
  /v1/marketdata/{symbol}:
    parameters: {symbol: {schema: {type: string}}}
    subscribe: {message: {$ref: '#/components/messages/marketData'}}
    publish: {operationId: placeOrder, message: {payload: {type: object}}}
  /v1/orders:
    publish: {message: {payload: {type: object}}}
components:
  messages:
    marketData: {payload: {type: object}}
";
        let model = build(&api(doc), None);
        let market = &model.endpoints[0];
        // 2.x `subscribe`: the application sends; the client receives.
        assert_eq!(market.send[0].method, "send_market_data");
        assert_eq!(market.send[0].type_base, "SendMarketData");
        // An operationId is kept as it is.
        assert_eq!(market.receive[0].method, "place_order");
        // An inline message is named after the operation: the operation keeps its key.
        assert_eq!(model.endpoints[1].receive[0].method, "v1_orders_publish");
    }
}
