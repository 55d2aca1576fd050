//! MQTT client (feature `mqtt`, on rumqttc): what generated MQTT publishers and subscribers run.
//!
//! [`MqttClient::start`] connects in the background (MQTT 3.1.1 or 5, [`Version`]), subscribes
//! to one filter per [`Subscription`] (a channel address whose `{parameters}` became `+`, see
//! [`TopicTemplate`]), and hands every received message, as a [`Delivery`] carrying the index
//! of the subscription it matched and the parameters taken from its topic, to a
//! [`Dispatch`](crate::outcome::Dispatch), with the client it came on.
//!
//! Delivery guarantees — what the client does and what MQTT adds to it:
//! - **Manual acknowledgements.** A QoS 1 or 2 message is acknowledged (PUBACK / PUBREC) only
//!   after the handler returned `Ok`, on the connection it arrived on. An acknowledgement is
//!   never sent on a later connection: after a reconnect the packet id may name another
//!   message.
//! - **Handler error** ([`Reject::failed`], or a panic): logged, counted, *not*
//!   acknowledged. MQTT wants acknowledgements in arrival order (3.1.1 §4.6; rumqttd even
//!   takes an acknowledgement for the oldest message in flight, whatever its packet id), so
//!   the client acknowledges nothing more on that connection and drops it (DISCONNECT, so no
//!   last will), waiting longer after each failure in a row. On the next connection a broker
//!   that kept the session (3.1.1 `cleanSession: false`; 5 `clean start` false and a session
//!   expiry interval, a day by default here) resends every unacknowledged message, the failed
//!   one first; messages of the dropped connection still queued for the handler are not
//!   handled (they come again). MQTT never resends on the same connection (MQTT 5 §4.4
//!   forbids it). With a clean session the broker forgets the message: it is lost.
//! - **Invalid message** ([`Reject::invalid`]: undecodable payload, one that breaks its
//!   schema ([`Delivery::decode_checked`]), a parameter that does not parse or breaks its
//!   schema, a topic no subscription matches): logged, counted and *acknowledged*.
//!   Redelivering it would fail the same way forever (a poison message), and it would hold an
//!   in-flight slot.
//! - **QoS 2** gives the broker exactly-once, but the handler runs before PUBREC: if the client
//!   dies in between, the message is handled again after the reconnect. To the handler QoS 1
//!   and 2 both mean at least once; make handlers idempotent.
//! - **QoS 0** messages are dropped (and counted) when the handler queue is full.
//! - **Order**: one handler call at a time per client, in arrival order (MQTT orders messages
//!   per topic and QoS); acknowledgements go out in the same order. When nothing else is in
//!   hand the event-loop task polls the handler first (most handlers finish there, saving a
//!   hand-over to the dispatcher task): synchronous work before a handler's first `.await`
//!   holds up the connection (keep-alives, publishes) while it runs, so long computations
//!   belong in `tokio::task::spawn_blocking`.
//!
//! Publishing: [`MqttClient::publish`] returns a [`Published`] once the message is handed to
//! the connection; [`Published::acknowledged`] waits for the broker's PUBACK (QoS 1) or PUBCOMP
//! (QoS 2). [`MqttClient::close`] waits (up to [`MqttConfig::close_timeout`]) for every QoS 1/2
//! publish in flight before it disconnects and reports those left unacknowledged
//! ([`CloseReport`]), so a client that publishes and closes at once loses nothing.
//!
//! Client ids: an id the application gives is used as it is (a second live client of the
//! process with the same id on the same broker is refused); a default id
//! ([`MqttConfig::client_id_is_default`]: a binding's `clientId` or a made-up one) is never
//! shared inside the process — `<id>-publisher` for a publisher-only client, `<id>-2`… for a
//! second client.
//!
//! Reconnects use [`Backoff`]; after a reconnect to a fresh session the subscriptions are
//! made again, and publishes that were queued or in flight are sent again (rumqttc alone drops
//! them when the broker has no session). [`MqttClient::state`] tells whether the client is
//! connected and subscribed.
//!
//! MQTT 5 (with [`Version::V5`]): message [`Properties`] (`contentType`, `responseTopic`,
//! `correlationData`, `messageExpiryInterval`, user properties) on publish and receive, and
//! request/reply: [`MqttClient::request`] publishes with a response topic and correlation data
//! and waits for the matching answer, which a responder sends with [`MqttClient::reply`].
//! With MQTT 3.1.1 the properties are not sent (the protocol has no place for them).
//!
//! Limits: incoming packets are bounded by [`MqttConfig::max_packet_size`] (with MQTT 5 the
//! broker is told and drops larger messages; with 3.1.1 a larger packet breaks the connection),
//! the handler queue by [`MqttConfig::queue`], pending requests by [`MAX_PENDING_REQUESTS`].
//!
//! TLS: `mqtts` URLs (or [`MqttConfig::tls`]) connect over rustls (ring provider), checking
//! the broker's certificate against the public webpki roots and any private CA given in
//! [`MqttTls`], with an optional client certificate.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use futures_util::FutureExt;
use rumqttc::v5;
use tokio::sync::{mpsc, oneshot, watch};

use super::topic::{Topic, TopicTemplate, check_publish_topic};
use crate::address::{AddressError, Params};
use crate::backoff::Backoff;
use crate::codec::{Codec, CodecError};
use crate::message::Message;
use crate::outcome::{Dispatch, Reject};
use crate::validate::SchemaCheck;

/// Most requests waiting for a reply at once ([`MqttClient::request`]).
pub const MAX_PENDING_REQUESTS: usize = 4096;

/// MQTT quality of service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Qos {
    /// 0: at most once.
    #[default]
    AtMostOnce,
    /// 1: at least once.
    AtLeastOnce,
    /// 2: exactly once (between client and broker).
    ExactlyOnce,
}

impl Qos {
    /// The QoS of a binding's `qos` value.
    pub fn from_level(level: u8) -> Result<Qos, MqttError> {
        match level {
            0 => Ok(Qos::AtMostOnce),
            1 => Ok(Qos::AtLeastOnce),
            2 => Ok(Qos::ExactlyOnce),
            n => Err(MqttError::Config(format!("QoS {n} does not exist"))),
        }
    }

    /// 0, 1 or 2.
    pub fn level(self) -> u8 {
        match self {
            Qos::AtMostOnce => 0,
            Qos::AtLeastOnce => 1,
            Qos::ExactlyOnce => 2,
        }
    }

    fn v4(self) -> rumqttc::QoS {
        match self {
            Qos::AtMostOnce => rumqttc::QoS::AtMostOnce,
            Qos::AtLeastOnce => rumqttc::QoS::AtLeastOnce,
            Qos::ExactlyOnce => rumqttc::QoS::ExactlyOnce,
        }
    }

    fn v5(self) -> v5::mqttbytes::QoS {
        match self {
            Qos::AtMostOnce => v5::mqttbytes::QoS::AtMostOnce,
            Qos::AtLeastOnce => v5::mqttbytes::QoS::AtLeastOnce,
            Qos::ExactlyOnce => v5::mqttbytes::QoS::ExactlyOnce,
        }
    }

    fn from_v4(q: rumqttc::QoS) -> Qos {
        match q {
            rumqttc::QoS::AtMostOnce => Qos::AtMostOnce,
            rumqttc::QoS::AtLeastOnce => Qos::AtLeastOnce,
            rumqttc::QoS::ExactlyOnce => Qos::ExactlyOnce,
        }
    }

    fn from_v5(q: v5::mqttbytes::QoS) -> Qos {
        match q {
            v5::mqttbytes::QoS::AtMostOnce => Qos::AtMostOnce,
            v5::mqttbytes::QoS::AtLeastOnce => Qos::AtLeastOnce,
            v5::mqttbytes::QoS::ExactlyOnce => Qos::ExactlyOnce,
        }
    }
}

/// The protocol version spoken to the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Version {
    /// MQTT 3.1.1 (protocol level 4).
    #[default]
    V311,
    /// MQTT 5.
    V5,
}

/// The message the broker publishes when the client disappears without disconnecting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastWill {
    /// Topic.
    pub topic: String,
    /// Payload.
    pub message: Vec<u8>,
    /// QoS.
    pub qos: Qos,
    /// Retain.
    pub retain: bool,
}

/// The MQTT server binding of a server (`bindings.mqtt`), as generated code passes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerBinding {
    /// `clientId`.
    pub client_id: Option<String>,
    /// `cleanSession`.
    pub clean_session: Option<bool>,
    /// `keepAlive`, seconds.
    pub keep_alive: Option<u64>,
    /// `lastWill`.
    pub last_will: Option<LastWill>,
    /// `sessionExpiryInterval` (MQTT 5), seconds.
    pub session_expiry_interval: Option<u32>,
    /// `maximumPacketSize` (MQTT 5), bytes.
    pub maximum_packet_size: Option<u32>,
}

/// How a client connects.
#[derive(Debug, Clone)]
pub struct MqttConfig {
    /// Broker host.
    pub host: String,
    /// Broker port.
    pub port: u16,
    /// Protocol version.
    pub version: Version,
    /// Client id (brokers keep sessions by client id, and drop a connection when another one
    /// comes with its id). [`MqttClient::start`] refuses an id another client of this process
    /// uses on the same broker.
    pub client_id: String,
    /// `client_id` is a default (a server binding's `clientId`, or made up by
    /// [`MqttConfig::default_client_id`]), not the application's choice: a binding's
    /// `clientId` replaces it ([`MqttConfig::apply_binding`]), a publisher-only client
    /// ([`MqttClient::publisher`]) uses `<id>-publisher` (so it never takes over a
    /// subscriber's kept session), and a client whose id another client of this process uses
    /// on the same broker gets `<id>-2`, `<id>-3`… instead.
    pub client_id_is_default: bool,
    /// Start a fresh session on every connect (3.1.1 `cleanSession`, 5 `clean start`).
    /// `false` keeps subscriptions and unacknowledged messages across reconnects.
    pub clean_session: bool,
    /// Keep-alive interval.
    pub keep_alive: Duration,
    /// Last will.
    pub last_will: Option<LastWill>,
    /// User name and password.
    pub credentials: Option<(String, String)>,
    /// MQTT 5 session expiry interval, seconds (`None`: the session ends with the connection,
    /// unless `clean_session` is false, when it is kept for a day).
    pub session_expiry_interval: Option<u32>,
    /// Largest packet accepted from (and sent to) the broker, bytes.
    pub max_packet_size: usize,
    /// Most unacknowledged outgoing QoS 1/2 publishes; with MQTT 5 also the `Receive Maximum`
    /// announced to the broker (the most unacknowledged incoming ones). 20 by default:
    /// MQTT 3.1.1 gives a broker no way to say how many it takes, and Mosquitto acknowledges
    /// and drops the QoS 1/2 publishes beyond its `max_inflight_messages` (20 by default).
    /// An MQTT 5 broker's own `Receive Maximum` lowers it further.
    pub inflight: u16,
    /// Received messages waiting for the handler.
    pub queue: usize,
    /// Requests (publishes, acknowledgements) waiting for the connection.
    pub request_queue: usize,
    /// Delays between connection attempts (`max_attempts`: give up and close).
    pub backoff: Backoff,
    /// Time allowed for one connection attempt.
    pub connect_timeout: Duration,
    /// MQTT 5: the topic replies to this client's requests come to (subscribed on connect);
    /// `None` disables [`MqttClient::request`].
    pub reply_topic: Option<String>,
    /// TLS (`mqtts`): `None` connects over plain TCP.
    pub tls: Option<MqttTls>,
    /// How long [`MqttClient::close`] waits for the broker to acknowledge the QoS 1/2
    /// publishes still in flight (PUBACK / PUBCOMP) before it disconnects.
    pub close_timeout: Duration,
}

/// TLS for a broker connection: the server's certificate is checked against the public
/// (webpki) roots and any certificate authorities given here, for the configured host name
/// or IP address.
#[derive(Clone, Default)]
pub struct MqttTls {
    /// Certificate authorities (PEM) to trust, such as a private CA that signed the broker's
    /// certificate.
    pub ca_pem: Option<Vec<u8>>,
    /// Trust only `ca_pem`, not the public roots.
    pub only_ca: bool,
    /// Client certificate chain and private key (PEM), for brokers that ask for one (the
    /// `X509` security scheme).
    pub client_auth: Option<(Vec<u8>, Vec<u8>)>,
}

impl std::fmt::Debug for MqttTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the private key.
        f.debug_struct("MqttTls")
            .field("ca_pem", &self.ca_pem.as_ref().map(|p| p.len()))
            .field("only_ca", &self.only_ca)
            .field("client_auth", &self.client_auth.is_some())
            .finish()
    }
}

impl MqttTls {
    /// Trusts a private certificate authority (PEM) besides the public roots.
    pub fn with_ca(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pem = Some(pem.into());
        self
    }

    /// Presents a client certificate chain and its private key (both PEM).
    pub fn with_client_cert(mut self, chain: impl Into<Vec<u8>>, key: impl Into<Vec<u8>>) -> Self {
        self.client_auth = Some((chain.into(), key.into()));
        self
    }

    fn transport(&self) -> Result<rumqttc::Transport, MqttError> {
        let config = crate::tls::config_with(&crate::tls::Trust {
            ca_pem: self.ca_pem.as_deref(),
            public_roots: !self.only_ca,
            client_auth: self
                .client_auth
                .as_ref()
                .map(|(c, k)| (c.as_slice(), k.as_slice())),
        })
        .map_err(|e| MqttError::Config(format!("TLS: {e}")))?;
        Ok(rumqttc::Transport::tls_with_config(
            rumqttc::TlsConfiguration::Rustls(Arc::new(config)),
        ))
    }
}

impl MqttConfig {
    /// A configuration with defaults: MQTT 3.1.1, clean session, 30 s keep-alive, 1 MiB packets.
    pub fn new(host: impl Into<String>, port: u16, client_id: impl Into<String>) -> MqttConfig {
        MqttConfig {
            host: host.into(),
            port,
            version: Version::V311,
            client_id: client_id.into(),
            client_id_is_default: false,
            clean_session: true,
            keep_alive: Duration::from_secs(30),
            last_will: None,
            credentials: None,
            session_expiry_interval: None,
            max_packet_size: 1 << 20,
            inflight: 20,
            queue: 1024,
            request_queue: 1024,
            backoff: Backoff {
                base: Duration::from_millis(50),
                max: Duration::from_secs(10),
                ..Backoff::default()
            },
            connect_timeout: Duration::from_secs(10),
            reply_topic: None,
            tls: None,
            close_timeout: Duration::from_secs(10),
        }
    }

    /// A configuration from a server URL: `mqtt://host:port` or `tcp://host:port` (port 1883
    /// by default), or over TLS `mqtts://host:port` (also `ssl`, `tls`, `secure-mqtt`; port
    /// 8883 by default) trusting the public roots — set [`MqttConfig::tls`] for a private CA
    /// or a client certificate.
    pub fn from_url(url: &str, client_id: impl Into<String>) -> Result<MqttConfig, MqttError> {
        let (scheme, rest) = url.split_once("://").unwrap_or(("mqtt", url));
        let tls = match scheme.to_ascii_lowercase().as_str() {
            "mqtt" | "tcp" => None,
            "mqtts" | "ssl" | "tls" | "secure-mqtt" => Some(MqttTls::default()),
            other => {
                return Err(MqttError::Config(format!(
                    "`{url}`: unknown scheme `{other}`"
                )));
            }
        };
        let authority = rest.split('/').next().unwrap_or(rest);
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
                let port = p
                    .parse::<u16>()
                    .map_err(|_| MqttError::Config(format!("`{url}`: bad port `{p}`")))?;
                (h, port)
            }
            _ => (authority, if tls.is_some() { 8883 } else { 1883 }),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(MqttError::Config(format!("`{url}`: no host")));
        }
        let mut config = MqttConfig::new(host, port, client_id);
        config.tls = tls;
        Ok(config)
    }

    /// Makes the client id a default the application did not choose (see
    /// [`MqttConfig::client_id_is_default`]): `prefix` and a random suffix, so that two
    /// processes never share it by accident. A kept session (`cleanSession: false`) needs an
    /// id that stays the same across restarts: give one explicitly.
    pub fn default_client_id(&mut self, prefix: &str) -> &mut Self {
        let prefix: String = prefix
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .take(14)
            .collect();
        let random = std::collections::hash_map::RandomState::new();
        let n = std::hash::BuildHasher::hash_one(&random, std::process::id()) as u32;
        self.client_id = format!("{prefix}-{n:08x}");
        self.client_id_is_default = true;
        self
    }

    /// Applies a server binding: every field it sets overrides the configuration, except the
    /// `clientId`, which replaces only a default id (an id the application gave wins).
    pub fn apply_binding(&mut self, binding: &ServerBinding) -> &mut Self {
        if let Some(id) = &binding.client_id
            && self.client_id_is_default
        {
            self.client_id = id.clone();
        }
        if let Some(c) = binding.clean_session {
            self.clean_session = c;
        }
        if let Some(k) = binding.keep_alive {
            self.keep_alive = Duration::from_secs(k);
        }
        if let Some(w) = &binding.last_will {
            self.last_will = Some(w.clone());
        }
        if let Some(s) = binding.session_expiry_interval {
            self.session_expiry_interval = Some(s);
        }
        if let Some(m) = binding.maximum_packet_size {
            self.max_packet_size = m as usize;
        }
        self
    }
}

/// MQTT 5 message properties (ignored with MQTT 3.1.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Properties {
    /// Content type of the payload.
    pub content_type: Option<String>,
    /// Where the receiver should send its reply.
    pub response_topic: Option<String>,
    /// Opaque data the reply carries back, to match it with its request.
    pub correlation_data: Option<Vec<u8>>,
    /// Seconds after which the broker discards the message if undelivered.
    pub message_expiry_interval: Option<u32>,
    /// 0: unspecified bytes, 1: UTF-8 text.
    pub payload_format_indicator: Option<u8>,
    /// User properties.
    pub user_properties: Vec<(String, String)>,
}

impl Properties {
    fn is_empty(&self) -> bool {
        *self == Properties::default()
    }

    fn to_v5(&self) -> v5::mqttbytes::v5::PublishProperties {
        v5::mqttbytes::v5::PublishProperties {
            payload_format_indicator: self.payload_format_indicator,
            message_expiry_interval: self.message_expiry_interval,
            topic_alias: None,
            response_topic: self.response_topic.clone(),
            correlation_data: self.correlation_data.clone().map(Bytes::from),
            user_properties: self.user_properties.clone(),
            subscription_identifiers: Vec::new(),
            content_type: self.content_type.clone(),
        }
    }

    fn from_v5(p: Option<v5::mqttbytes::v5::PublishProperties>) -> Properties {
        let Some(p) = p else {
            return Properties::default();
        };
        Properties {
            content_type: p.content_type,
            response_topic: p.response_topic,
            correlation_data: p.correlation_data.map(|b| b.to_vec()),
            message_expiry_interval: p.message_expiry_interval,
            payload_format_indicator: p.payload_format_indicator,
            user_properties: p.user_properties,
        }
    }
}

/// How to publish: from the operation binding (`qos`, `retain`, `messageExpiryInterval`) and
/// the message binding (MQTT 5 properties).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishOptions {
    /// QoS.
    pub qos: Qos,
    /// Retain.
    pub retain: bool,
    /// MQTT 5 properties.
    pub properties: Properties,
}

impl PublishOptions {
    /// Options with a QoS, not retained, no properties.
    pub fn new(qos: Qos) -> PublishOptions {
        PublishOptions {
            qos,
            ..PublishOptions::default()
        }
    }

    /// Sets `retain`.
    pub fn retain(mut self, retain: bool) -> Self {
        self.retain = retain;
        self
    }

    /// Sets the MQTT 5 message expiry interval, seconds.
    pub fn expiry(mut self, seconds: u32) -> Self {
        self.properties.message_expiry_interval = Some(seconds);
        self
    }
}

/// One filter to subscribe to: a channel address and the QoS asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The channel address.
    pub template: TopicTemplate,
    /// Requested QoS.
    pub qos: Qos,
}

impl Subscription {
    /// A subscription to a channel address.
    pub fn new(address: &str, qos: Qos) -> Result<Subscription, MqttError> {
        Ok(Subscription {
            template: TopicTemplate::parse(address)?,
            qos,
        })
    }
}

/// A received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Index of the [`Subscription`] it matched (the generated dispatcher's route).
    pub route: usize,
    /// The topic it was published to.
    pub topic: String,
    /// Parameters taken from the topic.
    pub params: Params,
    /// The payload (shared with the received packet, not copied).
    pub payload: Bytes,
    /// QoS it was delivered with.
    pub qos: Qos,
    /// Whether it is a retained message.
    pub retain: bool,
    /// Whether the broker says it may have been delivered before.
    pub dup: bool,
    /// MQTT 5 properties, when it has any ([`Delivery::properties`]).
    properties: Option<Box<Properties>>,
}

/// What an MQTT delivery says beside its message and topic parameters: the `meta` of a
/// [`Received`](crate::received::Received) that generated MQTT handlers get.
#[derive(Clone)]
pub struct Inbound {
    /// The topic it was published to.
    pub topic: String,
    /// QoS it was delivered with.
    pub qos: Qos,
    /// Whether it is a retained message.
    pub retain: bool,
    /// Whether the broker says it may have been delivered before.
    pub dup: bool,
    /// MQTT 5 properties, when it has any ([`Inbound::properties`]).
    properties: Option<Box<Properties>>,
    /// The client it came on, to publish from the handler.
    pub client: MqttClient,
}

/// The properties of a message that has none (always so with MQTT 3.1.1).
static NO_PROPERTIES: Properties = Properties {
    content_type: None,
    response_topic: None,
    correlation_data: None,
    message_expiry_interval: None,
    payload_format_indicator: None,
    user_properties: Vec::new(),
};

impl Inbound {
    /// The metadata of `delivery`, received on `client`.
    pub fn new(delivery: Delivery, client: MqttClient) -> Inbound {
        Inbound {
            topic: delivery.topic,
            qos: delivery.qos,
            retain: delivery.retain,
            dup: delivery.dup,
            properties: delivery.properties,
            client,
        }
    }

    /// MQTT 5 properties (response topic, correlation data, user properties, …); all empty
    /// with MQTT 3.1.1.
    pub fn properties(&self) -> &Properties {
        self.properties.as_deref().unwrap_or(&NO_PROPERTIES)
    }
}

impl Delivery {
    /// MQTT 5 properties (response topic, correlation data, user properties, …); all empty
    /// with MQTT 3.1.1.
    pub fn properties(&self) -> &Properties {
        self.properties.as_deref().unwrap_or(&NO_PROPERTIES)
    }

    /// Decodes the payload as `M`. A MQTT 5 content type whose codec differs from `M`'s, or a
    /// payload that does not decode, is [`Reject::invalid`].
    pub fn decode<M: Message>(&self) -> Result<M, Reject> {
        self.content_type_fits::<M>()?;
        Ok(M::decode(&self.payload)?)
    }

    /// Decodes the payload as `M` and checks it against the message's whole schema (bounds,
    /// lengths, patterns, enums, formats): what generated subscribers call. A payload that
    /// breaks the schema is [`Reject::invalid`] with the path of each violation.
    pub fn decode_checked<M: Message>(&self, check: &SchemaCheck) -> Result<M, Reject> {
        self.content_type_fits::<M>()?;
        if !crate::endpoint::is_json(M::CONTENT_TYPE) {
            return Ok(M::decode(&self.payload)?);
        }
        if let Some(m) = crate::endpoint::decoded_by_type::<M>(&self.payload, check) {
            return Ok(m);
        }
        let mut incoming = crate::endpoint::Incoming::new(&self.payload);
        incoming
            .try_message::<M>(check)
            .ok_or_else(|| Reject::invalid(incoming.rejection()))
    }

    fn content_type_fits<M: Message>(&self) -> Result<(), Reject> {
        if let Some(ct) = &self.properties().content_type {
            let expected = Codec::for_content_type(M::CONTENT_TYPE)?;
            match Codec::for_content_type(Some(ct)) {
                Ok(c) if c == expected => {}
                _ => {
                    return Err(Reject::invalid(format!(
                        "content type `{ct}` where {} expects {}",
                        M::NAME,
                        M::CONTENT_TYPE.unwrap_or("application/json")
                    )));
                }
            }
        }
        Ok(())
    }

    /// The MQTT 5 user properties as the message's typed headers (encoded as docs/protocols.md says).
    /// Properties that do not fit the type are [`Reject::invalid`]; with MQTT 3.1.1
    /// there are none, which fits a headers type whose fields are all optional.
    pub fn typed_headers<H: serde::de::DeserializeOwned>(&self) -> Result<H, Reject> {
        crate::headers::from_pairs(
            self.properties()
                .user_properties
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_bytes())),
            &[],
        )
        .map_err(|e| Reject::invalid(format!("headers: {e}")))
    }

    /// A topic parameter parsed as `T`; one that does not parse is [`Reject::invalid`].
    pub fn param<T: std::str::FromStr>(&self, name: &str) -> Result<T, Reject> {
        Ok(self.params.parse(name)?)
    }
}

/// A topic that does not match its template, or a parameter that does not parse, can never
/// be handled.
impl From<AddressError> for Reject {
    fn from(e: AddressError) -> Self {
        Reject::invalid(e)
    }
}

struct NoHandler;

impl Dispatch<(MqttClient, Delivery)> for NoHandler {
    async fn dispatch(&self, _: (MqttClient, Delivery)) -> Result<(), Reject> {
        Err(Reject::invalid("this client has no handler"))
    }
}

/// Errors of the MQTT client.
#[derive(Debug, thiserror::Error)]
pub enum MqttError {
    /// A bad configuration.
    #[error("MQTT configuration: {0}")]
    Config(String),
    /// A bad topic or template.
    #[error(transparent)]
    Topic(#[from] AddressError),
    /// The payload could not be encoded or decoded.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// The client is closed.
    #[error("the MQTT client is closed")]
    Closed,
    /// The payload is larger than `max_packet_size`.
    #[error("payload of {0} bytes exceeds the maximum packet size")]
    TooLarge(usize),
    /// A feature of MQTT 5 was used with MQTT 3.1.1.
    #[error("{0} needs MQTT 5")]
    NeedsV5(&'static str),
    /// No reply came in time, or the client was not connected in time.
    #[error("timed out: {0}")]
    Timeout(&'static str),
    /// The delivery to reply to has no response topic.
    #[error("the message has no response topic to reply to")]
    NoResponseTopic,
    /// Too many requests wait for replies.
    #[error("too many requests waiting for replies")]
    TooManyRequests,
    /// The broker refused a QoS 1/2 publish (an MQTT 5 reason code), or the client closed or
    /// lost the broker's session before the broker acknowledged it.
    #[error("publish not acknowledged: {0}")]
    NotAcknowledged(String),
    /// A reply does not decode as the operation's reply message, or breaks its schema.
    #[error("invalid reply: {0}")]
    InvalidReply(String),
}

impl From<MqttError> for crate::error::Error {
    fn from(e: MqttError) -> Self {
        use crate::error::ErrorKind;
        let kind = match &e {
            MqttError::Config(_) | MqttError::NeedsV5(_) | MqttError::NoResponseTopic => {
                ErrorKind::Config
            }
            MqttError::Topic(_) | MqttError::Codec(_) | MqttError::TooLarge(_) => {
                ErrorKind::Invalid
            }
            MqttError::InvalidReply(_) => ErrorKind::Invalid,
            MqttError::Closed => ErrorKind::Closed,
            MqttError::Timeout(_) => ErrorKind::Timeout,
            MqttError::TooManyRequests => ErrorKind::Busy,
            MqttError::NotAcknowledged(_) => ErrorKind::Refused,
        };
        crate::error::Error::new(kind, e)
    }
}

/// A publish handed to the connection. QoS 1 and 2 publishes can be awaited until the broker
/// has them ([`Published::acknowledged`]); [`MqttClient::close`] also waits for them, up to
/// [`MqttConfig::close_timeout`]. Dropping it does not cancel the publish.
pub struct Published {
    /// The ledger the publish is booked in, and its ticket number (QoS 1/2).
    ack: Option<(Arc<Unacked>, u64)>,
}

impl std::fmt::Debug for Published {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Published")
            .field("ticket", &self.ack.as_ref().map(|(_, n)| n))
            .finish()
    }
}

impl Published {
    /// Waits until the broker acknowledged the publish: PUBACK for QoS 1, PUBCOMP for QoS 2
    /// (the broker then owns the message). A QoS 0 publish has no acknowledgement: it returns
    /// at once. Across a reconnect the wait goes on while the publish is sent again; it ends
    /// with [`MqttError::NotAcknowledged`] when the broker refuses the message (MQTT 5 reason
    /// code) or forgot the session in the middle of a QoS 2 handshake, and with
    /// [`MqttError::Closed`] when the client stops first. Bound it with a timeout of your own.
    pub async fn acknowledged(mut self) -> Result<(), MqttError> {
        let Some((ledger, n)) = &self.ack else {
            return Ok(());
        };
        let outcome = std::future::poll_fn(|cx| ledger.poll_outcome(*n, cx)).await;
        // Asked and answered (dropped before, it tells the ledger it will not ask).
        self.ack = None;
        match outcome {
            Ok(()) => Ok(()),
            Err(Some(why)) => Err(MqttError::NotAcknowledged(why)),
            Err(None) => Err(MqttError::Closed),
        }
    }
}

impl Drop for Published {
    fn drop(&mut self) {
        if let Some((ledger, n)) = self.ack.take() {
            ledger.forget(n);
        }
    }
}

/// What [`MqttClient::close`] could not finish.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CloseReport {
    /// QoS 1/2 publishes the broker had not acknowledged when the close timeout ran out (or
    /// the connection was gone): they may be lost.
    pub unacknowledged: usize,
}

/// The ledger of QoS 1/2 publishes: each gets a ticket number when it is handed to the
/// connection and is settled when the broker acknowledges or refuses it (or the client stops).
/// A settled publish needs no memory of its own unless it failed, so a publish costs no
/// allocation: [`Published`] asks the ledger by number.
///
/// A failure is kept until its [`Published`] asks for it or is dropped. Until the first
/// failure, dropping a [`Published`] costs nothing; from then on the ledger notes which
/// unsettled tickets nobody will ask for, so that their failures are not kept. (Those dropped
/// before the first failure, at most the publishes queued and in flight then, may leave their
/// failure behind until the client goes.)
#[derive(Default)]
struct Unacked {
    /// Ticket numbers handed out.
    issued: AtomicU64,
    book: Mutex<Book>,
    /// Woken when the last publish handed out is settled ([`MqttClient::close`] waits).
    zero: tokio::sync::Notify,
    /// Some publish failed and its reason is kept (its [`Published`] then cleans up as it
    /// goes).
    any_failed: AtomicBool,
}

#[derive(Default)]
struct Book {
    /// Every ticket below this number is settled.
    floor: u64,
    /// Tickets at or above `floor` settled out of order.
    above: std::collections::BTreeSet<u64>,
    /// How the failed ones failed (`None`: the client stopped first), kept until their
    /// [`Published`] asks or is dropped.
    failed: HashMap<u64, Option<String>>,
    /// Who waits for which ticket.
    waiting: HashMap<u64, std::task::Waker>,
    /// Unsettled tickets whose [`Published`] is gone (noted once some publish failed).
    forgotten: std::collections::BTreeSet<u64>,
    /// How many tickets are settled.
    settled: u64,
}

impl Book {
    fn is_settled(&self, n: u64) -> bool {
        n < self.floor || self.above.contains(&n)
    }
}

impl Unacked {
    fn book(&self) -> MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Publishes handed out and not settled yet.
    fn get(&self) -> usize {
        let issued = self.issued.load(Ordering::Acquire);
        let settled = self.book().settled;
        usize::try_from(issued.saturating_sub(settled)).unwrap_or(usize::MAX)
    }

    /// Waits until every publish handed out is settled.
    async fn drained(&self) {
        loop {
            let notified = self.zero.notified();
            tokio::pin!(notified);
            // Registered before the check: a drop to zero in between still wakes us.
            notified.as_mut().enable();
            if self.get() == 0 {
                return;
            }
            notified.await;
        }
    }

    /// Settles ticket `n`: `Ok`, refused (`Err(Some(why))`) or ended with the client
    /// (`Err(None)`).
    fn settle(&self, n: u64, outcome: Result<(), Option<String>>) {
        let mut book = self.book();
        if n == book.floor {
            book.floor += 1;
            while book.above.first() == Some(&book.floor) {
                book.above.pop_first();
                book.floor += 1;
            }
        } else {
            book.above.insert(n);
        }
        book.settled += 1;
        let forgotten = !book.forgotten.is_empty() && book.forgotten.remove(&n);
        if let Err(why) = outcome
            && !forgotten
        {
            book.failed.insert(n, why);
            self.any_failed.store(true, Ordering::Release);
        }
        if !book.waiting.is_empty()
            && let Some(w) = book.waiting.remove(&n)
        {
            w.wake();
        }
        // Only the way back to zero is worth a wake-up: `close` waits for it.
        if book.settled == self.issued.load(Ordering::Acquire) {
            self.zero.notify_waiters();
        }
    }

    /// The outcome of ticket `n` once it is settled.
    fn poll_outcome(
        &self,
        n: u64,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Result<(), Option<String>>> {
        let mut book = self.book();
        if book.is_settled(n) {
            book.waiting.remove(&n);
            return Poll::Ready(book.failed.remove(&n).map_or(Ok(()), Err));
        }
        book.waiting.insert(n, cx.waker().clone());
        Poll::Pending
    }

    /// Ticket `n`'s [`Published`] is gone: nobody asks for its outcome any more.
    fn forget(&self, n: u64) {
        if self.any_failed.load(Ordering::Acquire) {
            let mut book = self.book();
            book.waiting.remove(&n);
            if book.is_settled(n) {
                book.failed.remove(&n);
            } else {
                // Settled later: its failure, if any, must not stay behind.
                book.forgotten.insert(n);
            }
        }
    }
}

/// The completion of one QoS 1/2 publish: settled by the event loop when the broker
/// acknowledges it, counted in [`Shared::unacked`] until then; dropped unsettled, it ends
/// with [`MqttError::Closed`].
struct Ticket {
    n: u64,
    ledger: Option<Arc<Unacked>>,
}

impl Ticket {
    fn new(unacked: &Arc<Unacked>) -> (Ticket, Published) {
        let n = unacked.issued.fetch_add(1, Ordering::AcqRel);
        (
            Ticket {
                n,
                ledger: Some(unacked.clone()),
            },
            Published {
                ack: Some((unacked.clone(), n)),
            },
        )
    }

    fn finish(mut self, outcome: Result<(), String>) {
        if let Some(ledger) = self.ledger.take() {
            ledger.settle(self.n, outcome.map_err(Some));
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Some(ledger) = self.ledger.take() {
            ledger.settle(self.n, Err(None));
        }
    }
}

/// Which acknowledgement answers which publish. rumqttc assigns packet ids as it sends, in
/// request order: the tickets of QoS 1/2 publishes wait in that order (first those of the
/// requests carried over a reconnect, then [`Shared::sent`], in channel order) until the event
/// loop sees their packet go out with its id, then wait under that id for PUBACK / PUBCOMP.
struct Acks {
    /// Where the tickets of QoS 1/2 publishes in the request channel wait ([`Shared::order`]).
    shared: Arc<Shared>,
    /// Tickets of the QoS 1/2 publishes carried over a reconnect, in resend order.
    carried: VecDeque<Ticket>,
    /// Tickets of sent publishes, indexed by packet id (rumqttc's ids run from 1 to the
    /// in-flight limit).
    inflight: Vec<Option<Ticket>>,
    /// Tickets of QoS 2 publishes the broker has received (PUBREC) and not completed
    /// (PUBCOMP), by packet id: rumqttc gives the id to a new publish once PUBREC is in, so
    /// the two must not share a slot.
    releasing: Vec<Option<Ticket>>,
}

impl Acks {
    fn new(shared: Arc<Shared>, max_inflight: u16) -> Acks {
        Acks {
            shared,
            carried: VecDeque::new(),
            inflight: std::iter::repeat_with(|| None)
                .take(usize::from(max_inflight) + 1)
                .collect(),
            releasing: Vec::new(),
        }
    }

    /// The ticket of the oldest QoS 1/2 publish request not seen going out yet.
    fn next_requested(&mut self) -> Option<Ticket> {
        self.shared.order().tickets.pop_front()
    }

    /// The ticket waiting under `pkid`, if any.
    fn take(&mut self, pkid: u16) -> Option<Ticket> {
        self.inflight
            .get_mut(usize::from(pkid))
            .and_then(Option::take)
    }

    /// A QoS 1/2 publish went out with packet id `pkid`.
    fn sent(&mut self, pkid: u16) {
        if let Some(t) = self.carried.pop_front().or_else(|| self.next_requested()) {
            file(
                &mut self.inflight,
                pkid,
                t,
                "reused before its acknowledgement",
            );
        }
    }

    /// The broker received the QoS 2 publish `pkid` (PUBREC): it waits for PUBCOMP apart.
    fn received(&mut self, pkid: u16) {
        if let Some(t) = self.take(pkid) {
            file(
                &mut self.releasing,
                pkid,
                t,
                "released again before its PUBCOMP",
            );
        }
    }

    /// PUBACK / PUBCOMP (`complete`), or a refusal, for `pkid`.
    fn acknowledged(&mut self, pkid: u16, refused: Option<String>, complete: bool) {
        let t = if complete {
            self.releasing
                .get_mut(usize::from(pkid))
                .and_then(Option::take)
        } else {
            self.take(pkid)
        };
        if let Some(t) = t {
            t.finish(refused.map_or(Ok(()), Err));
        }
    }

    /// An event buffered from a connection that is gone: publishes that went out and
    /// acknowledgements that came in still count; a message received on it is not handled
    /// (a kept session delivers a QoS 1/2 message again; a QoS 0 one is dropped).
    fn settle_buffered(&mut self, shared: &Shared, ev: Ev) {
        match ev {
            Ev::Sent(pkid) => self.sent(pkid),
            Ev::Received(pkid) => self.received(pkid),
            Ev::Acked {
                pkid,
                refused,
                complete,
            } => self.acknowledged(pkid, refused, complete),
            Ev::Publish(p) => {
                bump(&shared.counters.received);
                if p.qos == Qos::AtMostOnce {
                    bump(&shared.counters.dropped);
                } else {
                    bump(&shared.counters.abandoned);
                }
            }
            Ev::ConnAck { .. } | Ev::SubAck { .. } | Ev::Disconnect | Ev::Other => {}
        }
    }

    /// After a CONNACK without a session: QoS 2 publishes the broker had taken (PUBREC) but not
    /// completed are gone with the session.
    fn session_lost(&mut self) {
        let slots =
            (self.inflight.iter_mut().enumerate()).chain(self.releasing.iter_mut().enumerate());
        for (pkid, slot) in slots {
            let Some(t) = slot.take() else {
                continue;
            };
            t.finish(Err(format!(
                "the broker lost the session during the QoS 2 handshake of packet {pkid}"
            )));
        }
    }
}

/// Files ticket `t` under packet id `pkid`; one already there ends with an error saying what
/// went wrong.
fn file(slots: &mut Vec<Option<Ticket>>, pkid: u16, t: Ticket, wrong: &str) {
    let i = usize::from(pkid);
    if i >= slots.len() {
        slots.resize_with(i + 1, || None);
    }
    if let Some(old) = slots[i].replace(t) {
        old.finish(Err(format!("packet id {pkid} {wrong}")));
    }
}

impl Drop for Acks {
    /// The event loop is gone (its request channel with it): the publishes whose tickets still
    /// wait end with [`MqttError::Closed`].
    fn drop(&mut self) {
        self.shared.order().tickets.clear();
    }
}

/// The tickets of the QoS 1/2 publishes in the request channel, in channel order: a publish
/// queues its request and its ticket under this lock, and the event loop takes the ticket when
/// it sees the request go out.
struct Order {
    tickets: VecDeque<Ticket>,
    /// A publish found the request channel full and waits for room with its ticket queued:
    /// until it is in, every other QoS 1/2 publish waits its turn behind it
    /// ([`send_when_room`]).
    waiting: bool,
}

/// A publish request for either MQTT version; what rumqttc gives back when its request
/// channel has no room.
struct Outgoing {
    topic: String,
    payload: Vec<u8>,
    qos: Qos,
    retain: bool,
    /// MQTT 5 properties (`None` when there are none, and always with MQTT 3.1.1); boxed,
    /// as most publishes have none.
    properties: Option<Box<v5::mqttbytes::v5::PublishProperties>>,
}

pub use crate::connection::State;

/// Counters of a client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Messages received (all QoS).
    pub received: u64,
    /// Handled with `Ok` (and acknowledged when QoS > 0).
    pub handled: u64,
    /// Handler failures (not acknowledged).
    pub failed: u64,
    /// Invalid messages (acknowledged and dropped).
    pub invalid: u64,
    /// Messages whose topic matched no subscription (acknowledged and dropped).
    pub unmatched: u64,
    /// QoS 0 messages dropped because the handler queue was full.
    pub dropped: u64,
    /// Acknowledgements not sent because the connection they belonged to was gone.
    pub stale_acks: u64,
    /// QoS 1/2 messages of a lost connection not handled because the kept session will
    /// deliver them again.
    pub abandoned: u64,
    /// Successful connections.
    pub connections: u64,
}

#[derive(Default)]
struct Counters {
    received: AtomicU64,
    handled: AtomicU64,
    failed: AtomicU64,
    invalid: AtomicU64,
    unmatched: AtomicU64,
    dropped: AtomicU64,
    stale_acks: AtomicU64,
    abandoned: AtomicU64,
    connections: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

#[derive(Clone)]
enum Handle {
    V4(rumqttc::AsyncClient),
    V5(v5::AsyncClient),
}

#[derive(Debug, Clone, Copy)]
struct AckToken {
    generation: u64,
    qos: Qos,
    pkid: u16,
}

impl Handle {
    /// Queues an acknowledgement; `false` when the request queue is full.
    fn try_ack(&self, t: AckToken) -> bool {
        match self {
            Handle::V4(c) => {
                let mut p = rumqttc::Publish::new("", t.qos.v4(), Vec::new());
                p.pkid = t.pkid;
                c.try_ack(&p).is_ok()
            }
            Handle::V5(c) => {
                let mut p = v5::mqttbytes::v5::Publish::new("", t.qos.v5(), Bytes::new(), None);
                p.pkid = t.pkid;
                c.try_ack(&p).is_ok()
            }
        }
    }

    /// Queues a publish if the request channel has room now; gives it back when not (the
    /// channel is full, or the event loop is gone). `Err(None)`: rumqttc refused it otherwise,
    /// which its API allows but its code never does.
    fn try_publish(&self, out: Outgoing) -> Result<(), Option<Outgoing>> {
        let (qos, retain) = (out.qos, out.retain);
        match self {
            Handle::V4(c) => match c.try_publish(out.topic, qos.v4(), retain, out.payload) {
                Ok(()) => Ok(()),
                Err(rumqttc::ClientError::TryRequest(rumqttc::Request::Publish(p)))
                | Err(rumqttc::ClientError::Request(rumqttc::Request::Publish(p))) => {
                    Err(Some(Outgoing {
                        topic: p.topic,
                        payload: Vec::from(p.payload),
                        qos,
                        retain,
                        properties: None,
                    }))
                }
                Err(_) => Err(None),
            },
            Handle::V5(c) => {
                let sent = match out.properties {
                    None => c.try_publish(out.topic, qos.v5(), retain, out.payload),
                    Some(props) => c.try_publish_with_properties(
                        out.topic,
                        qos.v5(),
                        retain,
                        out.payload,
                        *props,
                    ),
                };
                match sent {
                    Ok(()) => Ok(()),
                    Err(v5::ClientError::TryRequest(v5::Request::Publish(p)))
                    | Err(v5::ClientError::Request(v5::Request::Publish(p))) => {
                        Err(Some(Outgoing {
                            topic: String::from_utf8_lossy(&p.topic).into_owned(),
                            payload: Vec::from(p.payload),
                            qos,
                            retain,
                            properties: p.properties.map(Box::new),
                        }))
                    }
                    Err(_) => Err(None),
                }
            }
        }
    }

    /// Queues a publish, waiting for room in the request channel.
    async fn publish(&self, out: Outgoing) -> Result<(), MqttError> {
        let (qos, retain) = (out.qos, out.retain);
        match self {
            Handle::V4(c) => c
                .publish(out.topic, qos.v4(), retain, out.payload)
                .await
                .map_err(|_| MqttError::Closed),
            Handle::V5(c) => match out.properties {
                None => c.publish(out.topic, qos.v5(), retain, out.payload).await,
                Some(props) => {
                    c.publish_with_properties(out.topic, qos.v5(), retain, out.payload, *props)
                        .await
                }
            }
            .map_err(|_| MqttError::Closed),
        }
    }

    fn try_disconnect(&self) {
        let _ = match self {
            Handle::V4(c) => c.try_disconnect().is_ok(),
            Handle::V5(c) => c.try_disconnect().is_ok(),
        };
    }
}

/// The client ids the live clients of this process use, per broker: two clients of one
/// process with one id would take the connection (and a kept session) from each other forever.
static CLIENT_IDS: Mutex<Vec<(String, u16, String)>> = Mutex::new(Vec::new());

/// A client id held by a live client of this process; released on close or drop.
struct IdClaim {
    key: (String, u16, String),
}

impl IdClaim {
    /// Claims `config`'s client id, or for a default id the first free one derived from it
    /// (`-publisher` for a publisher-only client, then `-2`, `-3`…). Returns the id.
    fn claim(config: &MqttConfig, publisher_only: bool) -> Result<IdClaim, MqttError> {
        let mut ids = CLIENT_IDS.lock().unwrap_or_else(|e| e.into_inner());
        let taken = |id: &str| {
            ids.iter()
                .any(|(h, p, i)| *h == config.host && *p == config.port && i == id)
        };
        let id = if !config.client_id_is_default {
            // An empty id asks the broker for one of its own: nothing to share.
            if !config.client_id.is_empty() && taken(&config.client_id) {
                return Err(MqttError::Config(format!(
                    "client id `{}` is already used by another client of this process on {}:{} \
                     (the broker would drop one connection for the other, again and again)",
                    config.client_id, config.host, config.port
                )));
            }
            config.client_id.clone()
        } else {
            let base = if publisher_only {
                format!("{}-publisher", config.client_id)
            } else {
                config.client_id.clone()
            };
            let mut id = base.clone();
            let mut n = 1u32;
            while taken(&id) {
                n += 1;
                id = format!("{base}-{n}");
            }
            id
        };
        let key = (config.host.clone(), config.port, id);
        if !key.2.is_empty() {
            ids.push(key.clone());
        }
        Ok(IdClaim { key })
    }

    fn id(&self) -> &str {
        &self.key.2
    }
}

impl Drop for IdClaim {
    fn drop(&mut self) {
        let mut ids = CLIENT_IDS.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = ids.iter().position(|k| *k == self.key) {
            ids.swap_remove(i);
        }
    }
}

/// What the background tasks share with the client handles.
struct Shared {
    /// Generation of the live connection, 0 while disconnected. Acknowledgements are sent
    /// under this lock, and only for their own generation.
    gate: Mutex<u64>,
    counters: Counters,
    replies: Mutex<HashMap<Vec<u8>, oneshot::Sender<Delivery>>>,
    state: watch::Sender<State>,
    shutdown: AtomicBool,
    alive: AtomicBool,
    /// The dispatcher dropped the connection after a handler failure.
    forced: AtomicBool,
    /// Handler failures since the last success (spaces out forced reconnects).
    consecutive_failures: AtomicU64,
    /// Jobs sent to the dispatcher and not finished yet. Only the event loop adds to it, so
    /// when it reads 0 the dispatcher is idle until the event loop hands it something.
    queued: AtomicUsize,
    /// Tickets of QoS 1/2 publishes in the request channel, in channel order.
    order: Mutex<Order>,
    /// Taken by a QoS 1/2 publish that waits for room in the request channel
    /// ([`send_when_room`]), so that such publishes go in one at a time.
    publishing: tokio::sync::Mutex<()>,
    /// QoS 1/2 publishes not acknowledged yet.
    unacked: Arc<Unacked>,
    /// [`MqttClient::close`] sent DISCONNECT: the event loop stops at the next error.
    disconnecting: AtomicBool,
}

impl Shared {
    fn gate(&self) -> MutexGuard<'_, u64> {
        self.gate.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn order(&self) -> MutexGuard<'_, Order> {
        self.order.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn replies(&self) -> MutexGuard<'_, HashMap<Vec<u8>, oneshot::Sender<Delivery>>> {
        self.replies.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Acknowledges on the connection the message came from, or not at all.
    async fn ack(&self, handle: &Handle, token: AckToken) {
        while !self.try_ack(handle, token) {
            // The request queue is full: let the event loop drain it (never wait while holding
            // the gate, which the event loop takes when the connection drops).
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// [`Shared::try_ack`] from the event loop itself, for a message of the connection it is
    /// serving: only the event loop moves the gate, so here it needs no lock.
    fn try_ack_in_loop(&self, handle: &Handle, token: AckToken) -> bool {
        if !self.alive.load(Ordering::Acquire) {
            bump(&self.counters.stale_acks);
            return true;
        }
        handle.try_ack(token)
    }

    /// One attempt of [`Shared::ack`]: `false` only when the request queue is full.
    fn try_ack(&self, handle: &Handle, token: AckToken) -> bool {
        let gate = self.gate();
        if *gate != token.generation || !self.alive.load(Ordering::Acquire) {
            bump(&self.counters.stale_acks);
            tracing::debug!(
                pkid = token.pkid,
                "not acknowledging: the connection the message came on is gone"
            );
            return true;
        }
        handle.try_ack(token)
    }
}

struct Tasks {
    event_loop: Option<tokio::task::JoinHandle<()>>,
    dispatcher: Option<tokio::task::JoinHandle<()>>,
}

struct Inner {
    handle: Handle,
    shared: Arc<Shared>,
    config: MqttConfig,
    next_correlation: AtomicU64,
    tasks: Mutex<Tasks>,
    stop_dispatch: watch::Sender<bool>,
    /// The client id, held until the client closes.
    id: Mutex<Option<IdClaim>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let tasks = self.tasks.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = tasks.event_loop.take() {
            t.abort();
        }
        if let Some(t) = tasks.dispatcher.take() {
            t.abort();
        }
    }
}

/// A self-reconnecting MQTT client. Cheap to clone; the connection ends with
/// [`MqttClient::close`] or when the last clone is dropped.
#[derive(Clone)]
pub struct MqttClient {
    inner: Arc<Inner>,
}

/// A handler's future, boxed so that a handler started in the event loop can finish in the
/// dispatcher.
type HandlerFuture = Pin<Box<dyn Future<Output = Result<(), Reject>> + Send>>;

/// Work for the dispatcher, in arrival order, each with the acknowledgement to send when it is
/// done — acknowledgements go out in the order the messages came, as MQTT asks (and as brokers
/// such as rumqttd require).
struct Job {
    work: Work,
    ack: Option<AckToken>,
}

enum Work {
    /// A message for the handler.
    Deliver(Delivery),
    /// A handler the event loop started that did not finish at its first poll.
    Running {
        future: HandlerFuture,
        /// For the log, if the handler fails ([`logged_topic`]).
        topic: Option<String>,
    },
    /// Nothing to handle: only the acknowledgement, in its turn.
    AckOnly,
}

/// The MQTT 5 properties of a publish of `M`: those of `opts`, with `M`'s content type unless
/// `opts` names one.
fn v5_properties<M: Message>(opts: &PublishOptions) -> Properties {
    let mut properties = opts.properties.clone();
    if properties.content_type.is_none() {
        properties.content_type = M::CONTENT_TYPE.map(str::to_owned);
    }
    properties
}

impl MqttClient {
    /// Starts a client that subscribes to `subscriptions` and hands what arrives to `handler`.
    /// Must be called inside a tokio runtime.
    pub fn start<H: Dispatch<(MqttClient, Delivery)>>(
        config: MqttConfig,
        subscriptions: Vec<Subscription>,
        handler: H,
    ) -> Result<MqttClient, MqttError> {
        MqttClient::start_as(config, subscriptions, handler, false)
    }

    fn start_as<H: Dispatch<(MqttClient, Delivery)>>(
        mut config: MqttConfig,
        subscriptions: Vec<Subscription>,
        handler: H,
        publisher_only: bool,
    ) -> Result<MqttClient, MqttError> {
        let claim = IdClaim::claim(&config, publisher_only)?;
        if claim.id() != config.client_id {
            // A reply topic named after the client follows its id.
            if let Some(rt) = &mut config.reply_topic
                && let Some(stem) = rt.strip_suffix(config.client_id.as_str())
                && stem.ends_with('/')
            {
                *rt = format!("{stem}{}", claim.id());
            }
            tracing::debug!(
                default = %config.client_id,
                id = claim.id(),
                "default client id taken in this process; using a derived one"
            );
            config.client_id = claim.id().to_owned();
        }
        if config.reply_topic.is_some() && config.version != Version::V5 {
            return Err(MqttError::NeedsV5("a reply topic (request/reply)"));
        }
        if let Some(rt) = &config.reply_topic {
            check_publish_topic(rt)?;
        }
        if config.client_id.is_empty() && !config.clean_session {
            return Err(MqttError::Config(
                "a kept session (cleanSession: false) needs a client id".into(),
            ));
        }
        if let Some(w) = &config.last_will {
            check_publish_topic(&w.topic)?;
        }
        let mut filters: Vec<(String, Qos)> = subscriptions
            .iter()
            .map(|s| (s.template.filter(), s.qos))
            .collect();
        if let Some(rt) = &config.reply_topic {
            filters.push((rt.clone(), Qos::AtLeastOnce));
        }
        let cap = config.request_queue.max(1);
        let transport = config.tls.as_ref().map(MqttTls::transport).transpose()?;
        let (handle, link) = match config.version {
            Version::V311 => {
                let mut o = rumqttc::MqttOptions::new(&config.client_id, &config.host, config.port);
                o.set_keep_alive(config.keep_alive.max(Duration::from_secs(1)))
                    .set_clean_session(config.clean_session)
                    .set_manual_acks(true)
                    .set_max_packet_size(config.max_packet_size, config.max_packet_size)
                    .set_inflight(config.inflight.max(1))
                    .set_request_channel_capacity(cap);
                if let Some(w) = &config.last_will {
                    o.set_last_will(rumqttc::LastWill::new(
                        &w.topic,
                        w.message.clone(),
                        w.qos.v4(),
                        w.retain,
                    ));
                }
                if let Some((u, p)) = &config.credentials {
                    o.set_credentials(u, p);
                }
                if let Some(t) = transport {
                    o.set_transport(t);
                }
                let (c, mut el) = rumqttc::AsyncClient::new(o, cap);
                let mut net = el.network_options();
                net.set_connection_timeout(config.connect_timeout.as_secs().max(1));
                el.set_network_options(net);
                (Handle::V4(c), Link::V4(Box::new(el), Carry::default()))
            }
            Version::V5 => {
                let mut o = v5::MqttOptions::new(&config.client_id, &config.host, config.port);
                let packet = u32::try_from(config.max_packet_size).unwrap_or(u32::MAX);
                let expiry = match (config.session_expiry_interval, config.clean_session) {
                    (Some(s), _) => Some(s),
                    (None, false) => Some(86_400),
                    (None, true) => None,
                };
                // rumqttc's MQTT 5 client refuses (panics on) keep alives under 5 s.
                o.set_keep_alive(config.keep_alive.max(Duration::from_secs(5)))
                    .set_clean_start(config.clean_session)
                    .set_manual_acks(true)
                    .set_max_packet_size(Some(packet))
                    .set_receive_maximum(Some(config.inflight.max(1)))
                    .set_outgoing_inflight_upper_limit(config.inflight.max(1))
                    .set_session_expiry_interval(expiry)
                    .set_request_channel_capacity(cap)
                    .set_connection_timeout(config.connect_timeout.as_secs().max(1));
                if let Some(w) = &config.last_will {
                    o.set_last_will(v5::mqttbytes::v5::LastWill::new(
                        &w.topic,
                        w.message.clone(),
                        w.qos.v5(),
                        w.retain,
                        None,
                    ));
                }
                if let Some((u, p)) = &config.credentials {
                    o.set_credentials(u, p);
                }
                if let Some(t) = transport {
                    o.set_transport(t);
                }
                let (c, el) = v5::AsyncClient::new(o, cap);
                (Handle::V5(c), Link::V5(Box::new(el), Carry::default()))
            }
        };
        let (state_tx, _) = watch::channel(State::Connecting { attempt: 0 });
        let shared = Arc::new(Shared {
            gate: Mutex::new(0),
            counters: Counters::default(),
            replies: Mutex::new(HashMap::new()),
            state: state_tx,
            shutdown: AtomicBool::new(false),
            alive: AtomicBool::new(true),
            forced: AtomicBool::new(false),
            consecutive_failures: AtomicU64::new(0),
            queued: AtomicUsize::new(0),
            // Tickets wait only for requests in the channel: room for all of them up front.
            order: Mutex::new(Order {
                tickets: VecDeque::with_capacity(cap + 1),
                waiting: false,
            }),
            publishing: tokio::sync::Mutex::new(()),
            unacked: Arc::default(),
            disconnecting: AtomicBool::new(false),
        });
        let (jobs_tx, jobs_rx) = mpsc::channel::<Job>(config.queue.max(1));
        let (stop_tx, stop_rx) = watch::channel(false);
        let inner = Arc::new(Inner {
            handle: handle.clone(),
            shared: shared.clone(),
            config: config.clone(),
            next_correlation: AtomicU64::new(1),
            tasks: Mutex::new(Tasks {
                event_loop: None,
                dispatcher: None,
            }),
            stop_dispatch: stop_tx,
            id: Mutex::new(Some(claim)),
        });
        let handler = Arc::new(handler);
        let event_loop = tokio::spawn(run_event_loop(EventLoopTask {
            link,
            acks: Acks::new(shared.clone(), config.inflight.max(1)),
            inflight: config.inflight.max(1),
            filters,
            backoff: config.backoff.clone(),
            shared: shared.clone(),
            router: Router {
                shared: shared.clone(),
                subscriptions,
                reply_topic: config.reply_topic.clone(),
                jobs: jobs_tx,
                inner: Arc::downgrade(&inner),
                handler: handler.clone(),
            },
        }));
        let dispatcher = tokio::spawn(run_dispatcher(
            Arc::downgrade(&inner),
            handler,
            jobs_rx,
            stop_rx,
        ));
        if let Ok(mut t) = inner.tasks.lock() {
            t.event_loop = Some(event_loop);
            t.dispatcher = Some(dispatcher);
        }
        Ok(MqttClient { inner })
    }

    /// Starts a client that only publishes (and, with a reply topic, sends requests). With a
    /// default client id ([`MqttConfig::client_id_is_default`]) it connects as
    /// `<id>-publisher`.
    pub fn publisher(config: MqttConfig) -> Result<MqttClient, MqttError> {
        MqttClient::start_as(config, Vec::new(), NoHandler, true)
    }

    /// The configuration it was started with.
    pub fn config(&self) -> &MqttConfig {
        &self.inner.config
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.inner.shared.state.borrow().clone()
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        let c = &self.inner.shared.counters;
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            received: g(&c.received),
            handled: g(&c.handled),
            failed: g(&c.failed),
            invalid: g(&c.invalid),
            unmatched: g(&c.unmatched),
            dropped: g(&c.dropped),
            stale_acks: g(&c.stale_acks),
            abandoned: g(&c.abandoned),
            connections: g(&c.connections),
        }
    }

    /// Waits until the state satisfies `f`.
    pub async fn wait_for(&self, f: impl Fn(&State) -> bool) -> State {
        crate::connection::wait_for(self.inner.shared.state.subscribe(), f).await
    }

    /// Waits until the client is connected and subscribed; returns the connection generation.
    pub async fn wait_connected(&self, timeout: Duration) -> Result<u64, MqttError> {
        let up = self.wait_for(|s| matches!(s, State::Connected { .. } | State::Closed));
        match tokio::time::timeout(timeout, up).await {
            Ok(State::Connected { generation }) => Ok(generation),
            Ok(_) => Err(MqttError::Closed),
            Err(_) => Err(MqttError::Timeout("connecting")),
        }
    }

    /// Publishes a message: its payload encoded by its content type, which MQTT 5 also sends
    /// as the `contentType` property unless `opts` sets one. Returns once the publish is
    /// handed to the connection; [`Published::acknowledged`] waits for the broker's
    /// acknowledgement (QoS 1/2).
    pub async fn publish<M: Message>(
        &self,
        topic: impl Into<Topic>,
        message: &M,
        opts: &PublishOptions,
    ) -> Result<Published, MqttError> {
        let payload = message.encode()?;
        let properties = match self.inner.config.version {
            // MQTT 3.1.1 has no properties: nothing to copy.
            Version::V311 => None,
            Version::V5 => Some(v5_properties::<M>(opts)),
        };
        self.send(topic.into(), payload, opts, properties).await
    }

    /// Like [`MqttClient::publish`], with the message's typed headers (encoded as docs/protocols.md says)
    /// as MQTT 5 user properties, after those of `opts`: what generated publishers call.
    /// MQTT 3.1.1 has no place for them, so there they are left out.
    pub async fn publish_with_headers<M: Message, H: serde::Serialize>(
        &self,
        topic: impl Into<Topic>,
        message: &M,
        opts: &PublishOptions,
        headers: Option<&H>,
    ) -> Result<Published, MqttError> {
        let (Version::V5, Some(headers)) = (self.inner.config.version, headers) else {
            return self.publish(topic, message, opts).await;
        };
        let payload = message.encode()?;
        let mut properties = v5_properties::<M>(opts);
        properties
            .user_properties
            .extend(crate::headers::to_pairs(headers)?);
        self.send(topic.into(), payload, opts, Some(properties))
            .await
    }

    /// Publishes raw bytes (see [`MqttClient::publish`]).
    pub async fn publish_bytes(
        &self,
        topic: impl Into<Topic>,
        payload: Vec<u8>,
        opts: &PublishOptions,
    ) -> Result<Published, MqttError> {
        let properties = match self.inner.config.version {
            Version::V311 => None,
            Version::V5 => Some(opts.properties.clone()),
        };
        self.send(topic.into(), payload, opts, properties).await
    }

    async fn send(
        &self,
        topic: Topic,
        payload: Vec<u8>,
        opts: &PublishOptions,
        properties: Option<Properties>,
    ) -> Result<Published, MqttError> {
        let topic = topic.checked()?;
        let shared = &self.inner.shared;
        if shared.shutdown.load(Ordering::Acquire) {
            return Err(MqttError::Closed);
        }
        if payload.len() + topic.len() + 16 > self.inner.config.max_packet_size {
            return Err(MqttError::TooLarge(payload.len()));
        }
        let out = Outgoing {
            topic,
            payload,
            qos: opts.qos,
            retain: opts.retain,
            properties: properties
                .filter(|p| !p.is_empty())
                .map(|p| Box::new(p.to_v5())),
        };
        let handle = &self.inner.handle;
        if opts.qos == Qos::AtMostOnce {
            match handle.try_publish(out) {
                Ok(()) => {}
                Err(Some(out)) => handle.publish(out).await?,
                Err(None) => return Err(MqttError::Closed),
            }
            return Ok(Published { ack: None });
        }
        let (ticket, published) = Ticket::new(&shared.unacked);
        // The request and its ticket enter their queues under one lock, so both keep one
        // order; when the channel has no room, the publish waits in a task of its own, so that
        // dropping this future cannot leave a ticket without its request.
        let out = {
            let mut order = shared.order();
            if shared.shutdown.load(Ordering::Acquire) {
                return Err(MqttError::Closed);
            }
            if order.waiting {
                out
            } else {
                match handle.try_publish(out) {
                    Ok(()) => {
                        order.tickets.push_back(ticket);
                        return Ok(published);
                    }
                    Err(Some(out)) => out,
                    Err(None) => return Err(MqttError::Closed),
                }
            }
        };
        tokio::spawn(send_when_room(shared.clone(), handle.clone(), out, ticket))
            .await
            .map_err(|_| MqttError::Closed)??;
        Ok(published)
    }

    /// MQTT 5 request/reply: publishes `request` with this client's reply topic and a fresh
    /// correlation id, and waits up to `timeout` for the reply carrying that id.
    pub async fn request<Req: Message, Resp: Message>(
        &self,
        topic: &str,
        request: &Req,
        opts: &PublishOptions,
        timeout: Duration,
    ) -> Result<Resp, MqttError> {
        self.request_with(topic, request, opts, timeout, None).await
    }

    /// Like [`MqttClient::request`], with the reply checked against its message's whole schema
    /// (a reply that breaks it is an error naming the violations): what generated requesters
    /// call.
    pub async fn request_checked<Req: Message, Resp: Message>(
        &self,
        topic: &str,
        request: &Req,
        opts: &PublishOptions,
        timeout: Duration,
        check: &SchemaCheck,
    ) -> Result<Resp, MqttError> {
        self.request_with(topic, request, opts, timeout, Some(check))
            .await
    }

    async fn request_with<Req: Message, Resp: Message>(
        &self,
        topic: &str,
        request: &Req,
        opts: &PublishOptions,
        timeout: Duration,
        check: Option<&SchemaCheck>,
    ) -> Result<Resp, MqttError> {
        if self.inner.config.version != Version::V5 {
            return Err(MqttError::NeedsV5("request/reply"));
        }
        let Some(reply_topic) = self.inner.config.reply_topic.clone() else {
            return Err(MqttError::Config(
                "request/reply needs `reply_topic` in the configuration".into(),
            ));
        };
        let deadline = tokio::time::Instant::now() + timeout;
        // The reply subscription must be in place before the request can be answered.
        self.wait_connected(timeout).await?;
        let n = self.inner.next_correlation.fetch_add(1, Ordering::Relaxed);
        let correlation = format!("{}:{n}", self.inner.config.client_id).into_bytes();
        let (tx, rx) = oneshot::channel();
        {
            let mut replies = self.inner.shared.replies();
            if replies.len() >= MAX_PENDING_REQUESTS {
                return Err(MqttError::TooManyRequests);
            }
            replies.insert(correlation.clone(), tx);
        }
        let mut opts = opts.clone();
        opts.properties.response_topic = Some(reply_topic);
        opts.properties.correlation_data = Some(correlation.clone());
        let sent = self.publish(topic, request, &opts).await;
        let answer = match sent {
            Ok(_) => tokio::time::timeout_at(deadline, rx).await,
            Err(e) => {
                self.inner.shared.replies().remove(&correlation);
                return Err(e);
            }
        };
        self.inner.shared.replies().remove(&correlation);
        match answer {
            Ok(Ok(delivery)) => match check {
                Some(check) => delivery.decode_checked::<Resp>(check),
                None => delivery.decode::<Resp>(),
            }
            .map_err(|e| MqttError::InvalidReply(e.reason().to_owned())),
            Ok(Err(_)) => Err(MqttError::Closed),
            Err(_) => Err(MqttError::Timeout("waiting for the reply")),
        }
    }

    /// Answers a request: publishes to its response topic with its correlation data.
    pub async fn reply<M: Message>(
        &self,
        to: &Delivery,
        message: &M,
        opts: &PublishOptions,
    ) -> Result<Published, MqttError> {
        if self.inner.config.version != Version::V5 {
            return Err(MqttError::NeedsV5("reply"));
        }
        let Some(topic) = to.properties().response_topic.clone() else {
            return Err(MqttError::NoResponseTopic);
        };
        let mut opts = opts.clone();
        opts.properties.correlation_data = to.properties().correlation_data.clone();
        self.publish(topic, message, &opts).await
    }

    /// Closes the client: refuses new publishes, lets the handler finish the message in hand
    /// (acknowledging it), waits up to [`MqttConfig::close_timeout`] for the broker to
    /// acknowledge the QoS 1/2 publishes in flight (PUBACK / PUBCOMP: a QoS 2 message the
    /// broker has only received is not delivered until its handshake completes), disconnects
    /// cleanly (the broker then does not publish the last will), and stops. Messages still
    /// queued for the handler are not acknowledged. Returns how many publishes were left
    /// unacknowledged.
    pub async fn close(&self) -> CloseReport {
        let timeout = self.inner.config.close_timeout;
        self.close_within(timeout).await
    }

    /// [`MqttClient::close`] with another bound on the wait for acknowledgements.
    pub async fn close_within(&self, timeout: Duration) -> CloseReport {
        let shared = &self.inner.shared;
        let deadline = tokio::time::Instant::now() + timeout;
        shared.shutdown.store(true, Ordering::Release);
        // A publish between its ticket and its request finishes first.
        drop(shared.order());
        drop(shared.publishing.lock().await);
        let _ = self.inner.stop_dispatch.send(true);
        let (dispatcher, event_loop) = match self.inner.tasks.lock() {
            Ok(mut t) => (t.dispatcher.take(), t.event_loop.take()),
            Err(_) => (None, None),
        };
        if let Some(d) = dispatcher {
            let abort = d.abort_handle();
            if tokio::time::timeout(Duration::from_secs(10), d)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        let drained = tokio::time::timeout_at(deadline, shared.unacked.drained()).await;
        let unacknowledged = match drained {
            Ok(()) => 0,
            Err(_) => shared.unacked.get(),
        };
        if unacknowledged > 0 {
            tracing::warn!(
                unacknowledged,
                "closing with QoS 1/2 publishes the broker has not acknowledged"
            );
        }
        shared.disconnecting.store(true, Ordering::Release);
        self.inner.handle.try_disconnect();
        if let Some(e) = event_loop {
            let abort = e.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), e)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        shared.alive.store(false, Ordering::Release);
        // Publishes never handed to the connection ended with `Closed` when the event loop
        // went: their tickets went with its queue.
        shared.state.send_replace(State::Closed);
        if let Ok(mut id) = self.inner.id.lock() {
            id.take();
        }
        CloseReport { unacknowledged }
    }
}

/// A QoS 1/2 publish that found no room in the request channel (or others waiting for room):
/// it goes in when its turn comes and there is room, with its ticket queued first and nothing
/// else queued in between.
async fn send_when_room(
    shared: Arc<Shared>,
    handle: Handle,
    out: Outgoing,
    ticket: Ticket,
) -> Result<(), MqttError> {
    let _turn = shared.publishing.lock().await;
    {
        let mut order = shared.order();
        if shared.shutdown.load(Ordering::Acquire) {
            return Err(MqttError::Closed);
        }
        order.waiting = true;
        order.tickets.push_back(ticket);
    }
    let sent = handle.publish(out).await;
    let mut order = shared.order();
    order.waiting = false;
    if sent.is_err() {
        // The request never went in: its ticket is the last one (nothing was queued behind it
        // while `waiting`), and the publish ends with `Closed` as it drops.
        order.tickets.pop_back();
    }
    sent
}

/// The rumqttc event loop of either version, with the requests carried over a reconnect.
enum Link {
    V4(Box<rumqttc::EventLoop>, Carry<rumqttc::Request>),
    V5(Box<v5::EventLoop>, Carry<v5::Request>),
}

/// Requests carried over a reconnect.
///
/// rumqttc moves the requests still in its channel into its pending list when a connection
/// drops, and sends that list without flow control after the next CONNACK: beyond the
/// in-flight limit a new publish's packet id is still taken, and a second such publish
/// replaces the first one rumqttc held back (which is then never sent). So only the
/// publishes that already have a packet id (and QoS 2 releases) go back into the pending
/// list; the new ones wait here, with their tickets, and enter it as in-flight slots free up
/// ([`Link::top_up`]). While any wait here, the pending list is never left empty with room in
/// flight, so rumqttc does not read its channel past them.
struct Carry<R> {
    /// Between a lost connection and the next CONNACK.
    requests: Vec<R>,
    /// New publishes (and QoS 0 ones behind them) waiting for room in flight.
    held: VecDeque<(R, Option<Ticket>)>,
}

impl<R> Default for Carry<R> {
    fn default() -> Self {
        Carry {
            requests: Vec::new(),
            held: VecDeque::new(),
        }
    }
}

/// What the carrying over needs to know of a request of either MQTT version.
trait CarriedRequest: Sized {
    /// The packet id of a QoS 1/2 publish (0 before rumqttc gave it one); `None` otherwise.
    fn tracked(&self) -> Option<u16>;
    /// A publish (any QoS) that has no packet id yet.
    fn new_publish(&self) -> bool;
    /// Publishes and QoS 2 releases go out again; acknowledgements and the rest do not.
    fn kept(&self) -> bool;
    /// For a broker that kept no session: a publish goes out as a new one, a release not at
    /// all.
    fn renewed(self) -> Option<Self>;
}

impl CarriedRequest for rumqttc::Request {
    fn tracked(&self) -> Option<u16> {
        match self {
            rumqttc::Request::Publish(p) if p.qos != rumqttc::QoS::AtMostOnce => Some(p.pkid),
            _ => None,
        }
    }
    fn new_publish(&self) -> bool {
        matches!(self, rumqttc::Request::Publish(p) if p.pkid == 0)
    }
    fn kept(&self) -> bool {
        matches!(
            self,
            rumqttc::Request::Publish(_) | rumqttc::Request::PubRel(_)
        )
    }
    fn renewed(self) -> Option<Self> {
        match self {
            rumqttc::Request::Publish(mut p) => {
                p.pkid = 0;
                p.dup = false;
                Some(rumqttc::Request::Publish(p))
            }
            rumqttc::Request::PubRel(_) => None,
            other => Some(other),
        }
    }
}

impl CarriedRequest for v5::Request {
    fn tracked(&self) -> Option<u16> {
        match self {
            v5::Request::Publish(p) if p.qos != v5::mqttbytes::QoS::AtMostOnce => Some(p.pkid),
            _ => None,
        }
    }
    fn new_publish(&self) -> bool {
        matches!(self, v5::Request::Publish(p) if p.pkid == 0)
    }
    fn kept(&self) -> bool {
        matches!(self, v5::Request::Publish(_) | v5::Request::PubRel(_))
    }
    fn renewed(self) -> Option<Self> {
        match self {
            v5::Request::Publish(mut p) => {
                p.pkid = 0;
                p.dup = false;
                Some(v5::Request::Publish(p))
            }
            v5::Request::PubRel(_) => None,
            other => Some(other),
        }
    }
}

impl<R: CarriedRequest> Carry<R> {
    /// After the connection dropped, with rumqttc's pending list (see [`Link::on_disconnect`]):
    /// keeps what must go out again, in the order it goes, and the tickets of its QoS 1/2
    /// publishes in the same order in [`Acks::carried`].
    ///
    /// `held_back` is the publish rumqttc held back for a packet id still in flight (its
    /// "collision"): it never went out, so it goes again as a new publish, the oldest of those
    /// taken from the channel.
    fn lost(&mut self, pending: VecDeque<R>, held_back: Option<R>, acks: &mut Acks) {
        let mut tickets = VecDeque::new();
        // The front of the pending list is what the last CONNACK put there and rumqttc did not
        // send yet: its tickets are the carried ones.
        let mut unsent = acks.carried.len();
        let mut held = Some((std::mem::take(&mut self.held), held_back));
        let mut older = |requests: &mut Vec<R>, tickets: &mut VecDeque<Ticket>, acks: &mut Acks| {
            if let Some((held, held_back)) = held.take() {
                for (h, t) in held {
                    tickets.extend(t);
                    requests.push(h);
                }
                if let Some(r) = held_back.and_then(R::renewed) {
                    if r.tracked().is_some() {
                        tickets.extend(acks.next_requested());
                    }
                    requests.push(r);
                }
            }
        };
        for r in pending {
            if !r.kept() {
                continue;
            }
            let tracked = r.tracked();
            if unsent > 0 {
                if tracked.is_some() {
                    unsent -= 1;
                    tickets.extend(acks.carried.pop_front());
                }
            } else {
                if r.new_publish() {
                    // The requests taken from the channel start here; the held ones are older.
                    older(&mut self.requests, &mut tickets, acks);
                }
                match tracked {
                    Some(0) => tickets.extend(acks.next_requested()),
                    Some(pkid) => tickets.extend(acks.take(pkid)),
                    None => {}
                }
            }
            self.requests.push(r);
        }
        older(&mut self.requests, &mut tickets, acks);
        acks.carried = tickets;
    }

    /// After a CONNACK: the requests that go out first (with a packet id already, or releases;
    /// as new publishes when the broker kept no session) into `pending`; the new publishes and
    /// everything behind them wait in [`Carry::held`] with their tickets.
    fn restore(&mut self, session_present: bool, pending: &mut VecDeque<R>, acks: &mut Acks) {
        let mut tickets = std::mem::take(&mut acks.carried);
        let mut holding = false;
        for r in self.requests.drain(..) {
            let r = if session_present {
                Some(r)
            } else {
                r.renewed()
            };
            let Some(r) = r else {
                continue;
            };
            holding |= r.tracked() == Some(0);
            let ticket = r.tracked().and_then(|_| tickets.pop_front());
            if holding {
                self.held.push_back((r, ticket));
            } else {
                acks.carried.extend(ticket);
                pending.push_back(r);
            }
        }
    }

    /// Moves held requests into `pending` while there is room in flight (`room` QoS 1/2
    /// publishes); only when `pending` is empty, so that they keep their order.
    fn top_up(&mut self, pending: &mut VecDeque<R>, mut room: u16, acks: &mut Acks) {
        if !pending.is_empty() {
            return;
        }
        while let Some((r, _)) = self.held.front() {
            if r.tracked().is_some() {
                if room == 0 {
                    break;
                }
                room -= 1;
            }
            if let Some((r, t)) = self.held.pop_front() {
                acks.carried.extend(t);
                pending.push_back(r);
            }
        }
    }
}

/// A received publish, either version.
struct Incoming {
    topic: Option<String>,
    payload: Bytes,
    qos: Qos,
    retain: bool,
    dup: bool,
    pkid: u16,
    /// MQTT 5 properties, if the message has any (boxed: most have none).
    properties: Option<Box<Properties>>,
}

enum Ev {
    ConnAck {
        session_present: bool,
        /// MQTT 5: the most QoS 1/2 publishes the broker takes in flight.
        receive_max: Option<u16>,
    },
    SubAck {
        refused: usize,
    },
    Publish(Incoming),
    /// A QoS 1/2 publish went out with this packet id.
    Sent(u16),
    /// The broker received the QoS 2 publish with this packet id (PUBREC).
    Received(u16),
    /// The broker acknowledged (PUBACK / PUBCOMP) or refused (MQTT 5 reason code) the publish
    /// with this packet id.
    Acked {
        pkid: u16,
        refused: Option<String>,
        /// PUBCOMP: the end of a QoS 2 handshake whose PUBREC came before.
        complete: bool,
    },
    Disconnect,
    Other,
}

impl Ev {
    /// What an MQTT 3.1.1 event means to the client.
    fn from_v4(event: rumqttc::Event) -> Ev {
        use rumqttc::{Event, Outgoing, Packet};
        match event {
            Event::Incoming(Packet::ConnAck(c)) => Ev::ConnAck {
                session_present: c.session_present,
                receive_max: None,
            },
            Event::Incoming(Packet::SubAck(s)) => Ev::SubAck {
                refused: s
                    .return_codes
                    .iter()
                    .filter(|c| matches!(c, rumqttc::SubscribeReasonCode::Failure))
                    .count(),
            },
            Event::Incoming(Packet::Publish(p)) => Ev::Publish(Incoming {
                topic: Some(p.topic),
                payload: p.payload,
                qos: Qos::from_v4(p.qos),
                retain: p.retain,
                dup: p.dup,
                pkid: p.pkid,
                properties: None,
            }),
            Event::Outgoing(Outgoing::Publish(pkid)) if pkid != 0 => Ev::Sent(pkid),
            Event::Incoming(Packet::PubAck(a)) => Ev::Acked {
                pkid: a.pkid,
                refused: None,
                complete: false,
            },
            Event::Incoming(Packet::PubRec(r)) => Ev::Received(r.pkid),
            Event::Incoming(Packet::PubComp(c)) => Ev::Acked {
                pkid: c.pkid,
                refused: None,
                complete: true,
            },
            Event::Outgoing(Outgoing::Disconnect) => Ev::Disconnect,
            _ => Ev::Other,
        }
    }

    /// What an MQTT 5 event means to the client.
    fn from_v5(event: v5::Event) -> Ev {
        use rumqttc::Outgoing;
        use v5::Event;
        use v5::mqttbytes::v5::Packet;
        match event {
            Event::Incoming(Packet::ConnAck(c)) => Ev::ConnAck {
                session_present: c.session_present,
                receive_max: c.properties.and_then(|p| p.receive_max),
            },
            Event::Incoming(Packet::SubAck(s)) => Ev::SubAck {
                refused: s
                    .return_codes
                    .iter()
                    .filter(|c| !matches!(c, v5::mqttbytes::v5::SubscribeReasonCode::Success(_)))
                    .count(),
            },
            Event::Incoming(Packet::Publish(p)) => Ev::Publish(Incoming {
                topic: String::from_utf8(p.topic.to_vec()).ok(),
                payload: p.payload,
                qos: Qos::from_v5(p.qos),
                retain: p.retain,
                dup: p.dup,
                pkid: p.pkid,
                properties: p.properties.map(|p| Box::new(Properties::from_v5(Some(p)))),
            }),
            Event::Outgoing(Outgoing::Publish(pkid)) if pkid != 0 => Ev::Sent(pkid),
            Event::Incoming(Packet::PubAck(a)) => {
                use v5::mqttbytes::v5::PubAckReason as R;
                let ok = matches!(a.reason, R::Success | R::NoMatchingSubscribers);
                Ev::Acked {
                    pkid: a.pkid,
                    refused: (!ok).then(|| format!("PUBACK {:?}", a.reason)),
                    complete: false,
                }
            }
            Event::Incoming(Packet::PubRec(r)) => {
                use v5::mqttbytes::v5::PubRecReason as R;
                // A refusing PUBREC ends the handshake; a successful one continues it.
                if matches!(r.reason, R::Success | R::NoMatchingSubscribers) {
                    Ev::Received(r.pkid)
                } else {
                    Ev::Acked {
                        pkid: r.pkid,
                        refused: Some(format!("PUBREC {:?}", r.reason)),
                        complete: false,
                    }
                }
            }
            Event::Incoming(Packet::PubComp(c)) => {
                use v5::mqttbytes::v5::PubCompReason as R;
                Ev::Acked {
                    pkid: c.pkid,
                    refused: (!matches!(c.reason, R::Success))
                        .then(|| format!("PUBCOMP {:?}", c.reason)),
                    complete: true,
                }
            }
            Event::Outgoing(Outgoing::Disconnect) => Ev::Disconnect,
            _ => Ev::Other,
        }
    }
}

impl Link {
    /// After the connection dropped: drop acknowledgements queued for it (the gate is closed
    /// now, so no more can come), and keep what must go out on the next connection, with the
    /// tickets of its QoS 1/2 publishes in the same order. rumqttc's pending list holds, in
    /// order, the requests still waiting from the last reconnect, the publishes sent and not
    /// acknowledged (by packet id), the releases of QoS 2 publishes (whose tickets stay under
    /// their packet id) and what was left in the request channel.
    ///
    /// Events rumqttc had buffered from the lost connection (a batch read before a failed
    /// flush, a publish recorded before its write failed) are settled first: otherwise they
    /// would come out after the next CONNACK, a publish's "sent" twice and a received message
    /// acknowledged on a connection where its packet id names another.
    fn on_disconnect(&mut self, acks: &mut Acks, shared: &Shared) {
        match self {
            Link::V4(el, carry) => {
                for ev in el.state.events.drain(..) {
                    acks.settle_buffered(shared, Ev::from_v4(ev));
                }
                el.clean();
                let held_back = el.state.collision.take().map(rumqttc::Request::Publish);
                carry.lost(std::mem::take(&mut el.pending), held_back, acks);
            }
            Link::V5(el, carry) => {
                for ev in el.state.events.drain(..) {
                    acks.settle_buffered(shared, Ev::from_v5(ev));
                }
                el.clean();
                let held_back = el.state.collision.take().map(v5::Request::Publish);
                carry.lost(std::mem::take(&mut el.pending), held_back, acks);
            }
        }
    }

    /// After a CONNACK: put the carried requests back (as new publishes if the broker has no
    /// session any more) and queue the subscriptions when the session is new.
    fn on_connack(&mut self, session_present: bool, filters: &[(String, Qos)], acks: &mut Acks) {
        if !session_present {
            acks.session_lost();
        }
        match self {
            Link::V4(el, carry) => {
                let queued = std::mem::take(&mut el.pending);
                carry.restore(session_present, &mut el.pending, acks);
                el.pending.extend(queued);
                if !session_present && !filters.is_empty() {
                    let f = filters
                        .iter()
                        .map(|(path, q)| rumqttc::SubscribeFilter::new(path.clone(), q.v4()));
                    el.pending
                        .push_front(rumqttc::Request::Subscribe(rumqttc::Subscribe::new_many(f)));
                }
            }
            Link::V5(el, carry) => {
                let queued = std::mem::take(&mut el.pending);
                carry.restore(session_present, &mut el.pending, acks);
                el.pending.extend(queued);
                if !session_present && !filters.is_empty() {
                    let f = filters
                        .iter()
                        .map(|(path, q)| v5::mqttbytes::v5::Filter::new(path.clone(), q.v5()));
                    el.pending.push_front(v5::Request::Subscribe(
                        v5::mqttbytes::v5::Subscribe::new_many(f, None),
                    ));
                }
            }
        }
    }

    /// Before each poll while connected: held requests enter the pending list as in-flight
    /// slots free up (`limit`: the in-flight limit in force).
    #[inline]
    fn top_up(&mut self, limit: u16, acks: &mut Acks) {
        match self {
            Link::V4(el, carry) if !carry.held.is_empty() => {
                let room = limit.saturating_sub(el.state.inflight());
                carry.top_up(&mut el.pending, room, acks);
            }
            Link::V5(el, carry) if !carry.held.is_empty() => {
                let room = limit.saturating_sub(el.state.inflight());
                carry.top_up(&mut el.pending, room, acks);
            }
            _ => {}
        }
    }
}

struct EventLoopTask<H> {
    link: Link,
    acks: Acks,
    /// The in-flight limit rumqttc was given.
    inflight: u16,
    filters: Vec<(String, Qos)>,
    backoff: Backoff,
    shared: Arc<Shared>,
    router: Router<H>,
}

/// What routing a received message needs (shared with `dispatch`, so it must be `Sync`).
struct Router<H> {
    shared: Arc<Shared>,
    subscriptions: Vec<Subscription>,
    reply_topic: Option<String>,
    jobs: mpsc::Sender<Job>,
    /// For handlers started in the event loop (see [`dispatch`]).
    inner: Weak<Inner>,
    handler: Arc<H>,
}

impl<H> Router<H> {
    /// Hands a job to the dispatcher, waiting for room.
    async fn enqueue(&self, job: Job) -> Result<(), ()> {
        self.shared.queued.fetch_add(1, Ordering::AcqRel);
        self.jobs.send(job).await.map_err(|_| {
            self.shared.queued.fetch_sub(1, Ordering::AcqRel);
        })
    }

    /// Hands a job to the dispatcher if there is room now.
    fn try_enqueue(&self, job: Job) -> bool {
        self.shared.queued.fetch_add(1, Ordering::AcqRel);
        let sent = self.jobs.try_send(job).is_ok();
        if !sent {
            self.shared.queued.fetch_sub(1, Ordering::AcqRel);
        }
        sent
    }
}

async fn run_event_loop<H: Dispatch<(MqttClient, Delivery)>>(mut t: EventLoopTask<H>) {
    let mut delays = t.backoff.delays();
    let mut generation = 0u64;
    let mut connected = false;
    let mut attempt = 0u32;
    let mut limit = t.inflight;
    loop {
        if connected {
            t.link.top_up(limit, &mut t.acks);
        }
        // Polled here rather than through a method of `Link`: one future less to build and move
        // for every event.
        let ev = match &mut t.link {
            Link::V4(el, _) => el.poll().await.map(Ev::from_v4).map_err(|e| e.to_string()),
            Link::V5(el, _) => el.poll().await.map(Ev::from_v5).map_err(|e| e.to_string()),
        };
        // Closing: the loop goes on (reconnecting if need be) until the close sent DISCONNECT,
        // so that the publishes in flight can still be acknowledged.
        if t.shared.shutdown.load(Ordering::Acquire)
            && (matches!(ev, Ok(Ev::Disconnect))
                || (ev.is_err() && t.shared.disconnecting.load(Ordering::Acquire)))
        {
            break;
        }
        match ev {
            Ok(Ev::ConnAck {
                session_present,
                receive_max,
            }) => {
                limit = receive_max.map_or(t.inflight, |r| r.clamp(1, t.inflight));
                generation += 1;
                connected = true;
                attempt = 0;
                delays.reset();
                bump(&t.shared.counters.connections);
                *t.shared.gate() = generation;
                t.link.on_connack(session_present, &t.filters, &mut t.acks);
                tracing::info!(generation, session_present, "MQTT connected");
                if session_present || t.filters.is_empty() {
                    t.shared.state.send_replace(State::Connected { generation });
                }
            }
            Ok(Ev::SubAck { refused }) => {
                if refused > 0 {
                    tracing::error!(refused, "the broker refused subscriptions");
                }
                t.shared.state.send_replace(State::Connected { generation });
            }
            Ok(Ev::Publish(p)) => {
                bump(&t.shared.counters.received);
                // QoS 1/2: the broker's in-flight window bounds these, so waiting for room is
                // short.
                if let Some(job) = route(&t.router, generation, p)
                    && t.router.enqueue(job).await.is_err()
                {
                    tracing::debug!("handler gone; message left unacknowledged");
                }
            }
            Ok(Ev::Sent(pkid)) => t.acks.sent(pkid),
            Ok(Ev::Received(pkid)) => t.acks.received(pkid),
            Ok(Ev::Acked {
                pkid,
                refused,
                complete,
            }) => t.acks.acknowledged(pkid, refused, complete),
            Ok(Ev::Disconnect) | Ok(Ev::Other) => {}
            Err(e) => {
                if connected {
                    // Close the gate first, then drop the acknowledgements that slipped in.
                    *t.shared.gate() = 0;
                    t.link.on_disconnect(&mut t.acks, &t.shared);
                    connected = false;
                    tracing::warn!(error = %e, "MQTT connection lost");
                } else {
                    tracing::debug!(error = %e, attempt, "MQTT connection attempt failed");
                }
                t.shared.state.send_replace(State::Connecting { attempt });
                if t.shared.forced.swap(false, Ordering::AcqRel) {
                    // Dropped on purpose after a handler failure: wait longer the more
                    // failures in a row, so a message that keeps failing does not spin.
                    let n = t.shared.consecutive_failures.load(Ordering::Relaxed);
                    let wait = t
                        .backoff
                        .bound(u32::try_from(n.saturating_sub(1)).unwrap_or(u32::MAX));
                    tokio::time::sleep(wait).await;
                    continue;
                }
                let Some(delay) = delays.next() else {
                    tracing::error!("MQTT reconnect attempts exhausted; closing");
                    break;
                };
                attempt = attempt.saturating_add(1);
                tokio::time::sleep(delay).await;
            }
        }
    }
    *t.shared.gate() = 0;
    t.shared.alive.store(false, Ordering::Release);
    t.shared.state.send_replace(State::Closed);
}

/// Routes a received message without waiting: matches its topic, runs its handler here when
/// it can ([`inline`]) and acknowledges it. Returns the job the dispatcher must still do for a
/// QoS 1/2 message (its handler, or only its acknowledgement in its turn), which the event
/// loop queues; a QoS 0 job goes into the queue here, or is dropped when the queue is full.
fn route<H: Dispatch<(MqttClient, Delivery)>>(
    t: &Router<H>,
    generation: u64,
    p: Incoming,
) -> Option<Job> {
    let token = (p.qos != Qos::AtMostOnce).then_some(AckToken {
        generation,
        qos: p.qos,
        pkid: p.pkid,
    });
    let ack_only = |why: &'static str| {
        tracing::debug!(reason = why, "message acknowledged without handling");
        token.map(|ack| Job {
            work: Work::AckOnly,
            ack: Some(ack),
        })
    };
    let Some(topic) = p.topic else {
        bump(&t.shared.counters.unmatched);
        return ack_only("topic is not UTF-8");
    };
    let properties = p.properties;
    if t.reply_topic.as_deref() == Some(topic.as_str()) {
        let waiter = properties
            .as_ref()
            .and_then(|p| p.correlation_data.as_ref())
            .and_then(|c| t.shared.replies().remove(c));
        let delivery = Delivery {
            route: usize::MAX,
            topic,
            params: Params::default(),
            payload: p.payload,
            qos: p.qos,
            retain: p.retain,
            dup: p.dup,
            properties,
        };
        match waiter {
            Some(w) => {
                let _ = w.send(delivery);
            }
            None => bump(&t.shared.counters.unmatched),
        }
        return ack_only("reply");
    }
    let Some((route, params)) = t
        .subscriptions
        .iter()
        .enumerate()
        .find_map(|(i, s)| s.template.matches(&topic).map(|p| (i, p)))
    else {
        bump(&t.shared.counters.unmatched);
        tracing::warn!(topic = %topic.chars().take(200).collect::<String>(), "no subscription matches the topic");
        return ack_only("unmatched topic");
    };
    let delivery = Delivery {
        route,
        topic,
        params,
        payload: p.payload,
        qos: p.qos,
        retain: p.retain,
        dup: p.dup,
        properties,
    };
    // With nothing queued for the dispatcher, start the handler here: most handlers finish at
    // their first poll, and then the message is handled and acknowledged without a hand-over
    // to another task. A handler that waits (on I/O, on a publish, on a reply that this very
    // loop must receive) is handed to the dispatcher as it is and finished there.
    let work = inline(t, generation, delivery, token)?;
    let job = Job { work, ack: token };
    if token.is_none() {
        if !t.try_enqueue(job) {
            bump(&t.shared.counters.dropped);
        }
        return None;
    }
    Some(job)
}

/// Runs a handler in the event loop when that keeps the order of acknowledgements: only when
/// the dispatcher has nothing in hand, and never after [`MqttClient::close`]. Returns what is
/// left for the dispatcher, `None` when the message was handled (or deliberately left alone).
///
/// The first poll wakes nobody (a no-op waker): a handler that is not done then goes to the
/// dispatcher, which polls it again at once with its own. Runs on the event loop, for a
/// message of the connection it serves (`generation` is the gate's).
fn inline<H: Dispatch<(MqttClient, Delivery)>>(
    t: &Router<H>,
    generation: u64,
    delivery: Delivery,
    token: Option<AckToken>,
) -> Option<Work> {
    let shared = &t.shared;
    if shared.queued.load(Ordering::Acquire) != 0 || shared.shutdown.load(Ordering::Acquire) {
        return Some(Work::Deliver(delivery));
    }
    let Some(inner) = t.inner.upgrade() else {
        return Some(Work::Deliver(delivery));
    };
    if token.is_some() && abandoned(&inner, generation) {
        return None;
    }
    let topic = logged_topic(&delivery);
    let client = MqttClient {
        inner: inner.clone(),
    };
    let handler = t.handler.clone();
    // Written into its allocation rather than moved there: a future's size covers every state
    // it can be in, but before its first poll only the captured values hold anything.
    let boxed = Box::write(Box::new_uninit(), async move {
        handler.dispatch((client, delivery)).await
    });
    let mut future: HandlerFuture = Box::into_pin(boxed);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let first = std::panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(&mut cx)));
    let outcome = match first {
        Ok(Poll::Pending) => return Some(Work::Running { future, topic }),
        Ok(Poll::Ready(result)) => Ok(result),
        Err(panic) => Err(panic),
    };
    let ack = settle(&inner, topic.as_deref(), outcome, token)?;
    // A full request queue: the dispatcher waits for room while this loop drains it.
    (!shared.try_ack_in_loop(&inner.handle, ack)).then_some(Work::AckOnly)
}

/// The topic of a message, kept for the warning logged if its handler fails or finds it
/// invalid; only copied when warnings are logged at all.
fn logged_topic(delivery: &Delivery) -> Option<String> {
    tracing::enabled!(tracing::Level::WARN).then(|| delivery.topic.clone())
}

/// Whether a message from connection `generation` must be left alone: that connection is gone
/// and the broker keeps the session, so it will come again and must not be handled twice.
fn abandoned(inner: &Inner, generation: u64) -> bool {
    if !inner.config.clean_session && *inner.shared.gate() != generation {
        bump(&inner.shared.counters.abandoned);
        return true;
    }
    false
}

/// Books a handler's outcome; returns the acknowledgement to send, if any. A failure on a
/// QoS 1/2 message drops the connection, so that the broker sends it (and every later one)
/// again.
fn settle(
    inner: &Inner,
    topic: Option<&str>,
    outcome: Result<Result<(), Reject>, Box<dyn std::any::Any + Send>>,
    token: Option<AckToken>,
) -> Option<AckToken> {
    let shared = &inner.shared;
    let topic = topic.unwrap_or_default();
    let failure = match outcome {
        Ok(Ok(())) => {
            bump(&shared.counters.handled);
            shared.consecutive_failures.store(0, Ordering::Relaxed);
            None
        }
        Ok(Err(reject)) if reject.is_invalid() => {
            bump(&shared.counters.invalid);
            let why = reject.reason();
            tracing::warn!(%topic, %why, "invalid message acknowledged and dropped");
            None
        }
        Ok(Err(reject)) => Some(reject.reason().to_owned()),
        Err(_) => Some("handler panicked".to_owned()),
    };
    let Some(why) = failure else {
        return token;
    };
    bump(&shared.counters.failed);
    let Some(token) = token else {
        tracing::error!(%topic, %why, "handler failed on a QoS 0 message; it is lost");
        return None;
    };
    shared.consecutive_failures.fetch_add(1, Ordering::Relaxed);
    tracing::error!(
        %topic, %why,
        "handler failed; message not acknowledged, reconnecting for redelivery"
    );
    // Later messages may not be acknowledged before this one, so this connection acknowledges
    // nothing more; dropping it makes the broker resend everything unacknowledged (kept
    // session).
    let current = {
        let mut gate = shared.gate();
        let current = *gate == token.generation;
        if current {
            *gate = 0;
        }
        current
    };
    if current {
        shared.forced.store(true, Ordering::Release);
        inner.handle.try_disconnect();
    }
    None
}

async fn run_dispatcher<H: Dispatch<(MqttClient, Delivery)>>(
    inner: Weak<Inner>,
    handler: Arc<H>,
    mut jobs: mpsc::Receiver<Job>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let job = tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => break,
            job = jobs.recv() => match job { Some(j) => j, None => break },
        };
        let Some(inner) = inner.upgrade() else { break };
        let ack = match job.work {
            Work::AckOnly => job.ack,
            Work::Deliver(_) if job.ack.is_some_and(|t| abandoned(&inner, t.generation)) => None,
            Work::Deliver(delivery) => {
                let topic = logged_topic(&delivery);
                let client = MqttClient {
                    inner: inner.clone(),
                };
                let outcome = AssertUnwindSafe(handler.dispatch((client, delivery)))
                    .catch_unwind()
                    .await;
                settle(&inner, topic.as_deref(), outcome, job.ack)
            }
            Work::Running { future, topic } => {
                let outcome = AssertUnwindSafe(future).catch_unwind().await;
                settle(&inner, topic.as_deref(), outcome, job.ack)
            }
        };
        if let Some(token) = ack {
            inner.shared.ack(&inner.handle, token).await;
        }
        // Only now: the event loop may handle the next message itself once this reads 0.
        inner.shared.queued.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_ledger_settles_tickets_in_any_order() {
        let ledger = Arc::new(Unacked::default());
        let (t0, p0) = Ticket::new(&ledger);
        let (t1, p1) = Ticket::new(&ledger);
        let (t2, p2) = Ticket::new(&ledger);
        let (t3, p3) = Ticket::new(&ledger);
        assert_eq!(ledger.get(), 4);
        let waiter = tokio::spawn(p1.acknowledged());
        tokio::task::yield_now().await;
        t2.finish(Err("PUBACK QuotaExceeded".into()));
        t1.finish(Ok(()));
        assert!(matches!(waiter.await.expect("task"), Ok(())));
        assert!(matches!(
            p2.acknowledged().await,
            Err(MqttError::NotAcknowledged(why)) if why == "PUBACK QuotaExceeded"
        ));
        // Dropped unsettled (the client stopped first): `Closed`.
        drop(t0);
        assert!(matches!(p0.acknowledged().await, Err(MqttError::Closed)));
        assert_eq!(ledger.get(), 1);
        {
            let book = ledger.book();
            assert_eq!((book.floor, book.above.len()), (3, 0));
        }
        // A failure nobody asks for any more is not kept.
        drop(p3);
        t3.finish(Err("PUBREC NotAuthorized".into()));
        let (t4, p4) = Ticket::new(&ledger);
        t4.finish(Err("PUBACK NotAuthorized".into()));
        drop(p4);
        {
            let book = ledger.book();
            assert!(book.failed.is_empty() && book.forgotten.is_empty() && book.waiting.is_empty());
        }
        assert_eq!(ledger.get(), 0);
        tokio::time::timeout(Duration::from_secs(1), ledger.drained())
            .await
            .expect("drained");
    }

    #[test]
    fn urls_and_bindings_configure_the_client() {
        let c = MqttConfig::from_url("mqtt://broker.local:1884", "x").expect("url");
        assert_eq!((c.host.as_str(), c.port), ("broker.local", 1884));
        let c = MqttConfig::from_url("tcp://10.0.0.1", "x").expect("url");
        assert_eq!((c.host.as_str(), c.port), ("10.0.0.1", 1883));
        let c = MqttConfig::from_url("[::1]:1999", "x").expect("url");
        assert_eq!((c.host.as_str(), c.port), ("::1", 1999));
        let c = MqttConfig::from_url("mqtts://h", "x").expect("url");
        assert_eq!((c.port, c.tls.is_some()), (8883, true));
        assert!(c.tls.as_ref().is_some_and(|t| t.transport().is_ok()));
        let bad = MqttTls::default().with_ca("not a certificate");
        assert!(bad.transport().is_err());
        let key = MqttTls::default().with_client_cert("", "-----BEGIN PRIVATE KEY-----");
        assert!(!format!("{key:?}").contains("PRIVATE"));
        assert!(MqttConfig::from_url("ws://h", "x").is_err());
        assert!(MqttConfig::from_url("mqtt://h:99999", "x").is_err());

        let mut c = MqttConfig::new("h", 1, "mine");
        c.apply_binding(&ServerBinding {
            client_id: Some("guest".into()),
            ..ServerBinding::default()
        });
        assert_eq!(c.client_id, "mine", "an id the application gave wins");
        let mut c = MqttConfig::new("h", 1, "");
        c.default_client_id("lamp fleet/ü");
        assert!(c.client_id_is_default && c.client_id.starts_with("lampfleet-"));
        c.apply_binding(&ServerBinding {
            client_id: Some("guest".into()),
            clean_session: Some(false),
            keep_alive: Some(60),
            last_will: Some(LastWill {
                topic: "/will".into(),
                message: b"gone".to_vec(),
                qos: Qos::AtLeastOnce,
                retain: false,
            }),
            session_expiry_interval: Some(120),
            maximum_packet_size: Some(1024),
        });
        assert_eq!(c.client_id, "guest");
        assert!(!c.clean_session);
        assert_eq!(c.keep_alive, Duration::from_secs(60));
        assert_eq!(c.last_will.map(|w| w.topic), Some("/will".into()));
        assert_eq!(c.session_expiry_interval, Some(120));
        assert_eq!(c.max_packet_size, 1024);
        assert_eq!(Qos::from_level(2).ok(), Some(Qos::ExactlyOnce));
        assert!(Qos::from_level(3).is_err());
    }

    #[test]
    fn client_ids_are_never_shared_by_accident() {
        let mut default = MqttConfig::new("ids.test", 1, "fleet");
        default.client_id_is_default = true;
        let first = IdClaim::claim(&default, false).expect("first");
        let second = IdClaim::claim(&default, false).expect("second");
        let publisher = IdClaim::claim(&default, true).expect("publisher");
        assert_eq!(
            (first.id(), second.id(), publisher.id()),
            ("fleet", "fleet-2", "fleet-publisher")
        );
        let explicit = MqttConfig::new("ids.test", 1, "mine");
        let mine = IdClaim::claim(&explicit, false).expect("explicit");
        assert!(IdClaim::claim(&explicit, false).is_err(), "taken");
        let other_broker = MqttConfig::new("ids.test", 2, "mine");
        assert!(
            IdClaim::claim(&other_broker, false).is_ok(),
            "another broker"
        );
        drop(mine);
        assert!(IdClaim::claim(&explicit, false).is_ok(), "released");
        drop(first);
        assert_eq!(
            IdClaim::claim(&default, false).expect("again").id(),
            "fleet"
        );
    }

    #[test]
    fn properties_round_trip_through_rumqttc() {
        let p = Properties {
            content_type: Some("application/json".into()),
            response_topic: Some("r/1".into()),
            correlation_data: Some(vec![1, 2, 3]),
            message_expiry_interval: Some(9),
            payload_format_indicator: Some(1),
            user_properties: vec![("k".into(), "v".into())],
        };
        assert_eq!(Properties::from_v5(Some(p.to_v5())), p);
        assert!(Properties::default().is_empty());
    }
}
