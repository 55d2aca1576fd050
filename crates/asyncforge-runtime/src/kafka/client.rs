//! Kafka producer and consumer (feature `kafka`, on rdkafka with its bundled librdkafka): what
//! generated Kafka code runs.
//!
//! - [`Producer`] sends a [`Message`] to a topic (the channel binding's `topic`, else the
//!   channel address) with a typed key, headers (`content-type` always) and waits for the
//!   broker's delivery report. Idempotent, `acks=all`.
//! - [`Consumer`] runs a [`Dispatch`](crate::outcome::Dispatch) over the records of its topics in a consumer group
//!   (`groupId`/`clientId` from the operation binding; a `client.id` of the [`KafkaConfig`]
//!   wins), **at least once**:
//!   - `enable.auto.commit=false` and `enable.auto.offset.store=false`: an offset is stored
//!     only after the handler returned `Ok` (or the record went to the dead-letter topic), and
//!     stored offsets are committed every [`ConsumerOptions::commit_interval`], before
//!     partitions are revoked in a rebalance, and at shutdown;
//!   - records are handled one at a time, in order: per-partition order holds (and a failing
//!     record holds back the other partitions while it is retried);
//!   - a handler failure ([`Reject::failed`]) is retried with [`ConsumerOptions::retry`]
//!     (exponential backoff with jitter); when the retries are used up the record goes to the
//!     dead-letter topic if one is configured, with the error and its origin in headers, and
//!     consumption goes on. Without a dead-letter topic the consumer **stops** and
//!     [`Consumer::run`] returns [`KafkaError::HandlerFailed`]: the record's offset is not
//!     committed, so the next run (this process or another member of the group) starts at
//!     that record. Skipping it silently would lose it;
//!   - an invalid record ([`Reject::invalid`]: undecodable payload or key, a payload
//!     that breaks its schema ([`Record::decode_checked`]) or a topic parameter that breaks
//!     its own) is not
//!     retried: it goes to the dead-letter topic if there is one, else it is logged and
//!     skipped (committed) — retrying a poison record would stop the partition forever;
//!   - a crash (kill -9) loses no record: everything handled but not yet committed is
//!     delivered again to whoever owns the partition next. Those are the duplicates
//!     at-least-once allows; handlers must be idempotent.
//! - [`ensure_topics`] creates topics with `partitions`/`replicas`/`topicConfiguration` from
//!   the channel bindings (existing topics are left alone).
//! - [`security_config`] maps a server's protocol and security scheme to librdkafka settings
//!   (SASL PLAIN, SCRAM, GSSAPI, OAUTHBEARER, TLS, mutual TLS). TLS and SCRAM need the
//!   `kafka-ssl` feature (librdkafka built with OpenSSL).
//!
//! Bounded memory: librdkafka's prefetch queue is capped (`queued.max.messages.kbytes`), one
//! record is in the handler at a time, and the producer's queue has librdkafka's limits.

use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::FutureExt;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer as _, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::message::{Header, Headers, Message as _, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::backoff::Backoff;
use crate::codec::{Codec, CodecError};
use crate::message::Message;
use crate::outcome::{Dispatch, Reject};
use crate::validate::SchemaCheck;

/// Header carrying the payload's content type.
pub const CONTENT_TYPE_HEADER: &str = "content-type";
/// Dead-letter header: why the record failed.
pub const DLT_ERROR_HEADER: &str = "asyncforge-error";
/// Dead-letter header: the topic it came from.
pub const DLT_TOPIC_HEADER: &str = "asyncforge-original-topic";
/// Dead-letter header: its partition.
pub const DLT_PARTITION_HEADER: &str = "asyncforge-original-partition";
/// Dead-letter header: its offset.
pub const DLT_OFFSET_HEADER: &str = "asyncforge-original-offset";

/// Errors of the Kafka runtime.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    /// librdkafka refused a configuration or an operation.
    #[error("kafka: {0}")]
    Client(#[from] rdkafka::error::KafkaError),
    /// A bad configuration.
    #[error("kafka configuration: {0}")]
    Config(String),
    /// A channel address or parameter value that makes no topic name.
    #[error(transparent)]
    Topic(#[from] crate::address::AddressError),
    /// The payload or key could not be encoded.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// The broker did not confirm a record.
    #[error("delivery to `{topic}` failed: {source}")]
    Delivery {
        /// Topic.
        topic: String,
        /// Why.
        #[source]
        source: rdkafka::error::KafkaError,
    },
    /// The handler kept failing and there is no dead-letter topic: the consumer stopped
    /// before this record, whose offset is not committed.
    #[error("handler failed on {topic}[{partition}]@{offset} after {attempts} attempts: {error}")]
    HandlerFailed {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// Offset.
        offset: i64,
        /// Attempts made.
        attempts: u32,
        /// The last error.
        error: String,
    },
    /// A security scheme that Kafka cannot use.
    #[error("security scheme `{0}` cannot be used with Kafka")]
    UnsupportedSecurity(String),
    /// Creating a topic failed.
    #[error("cannot create topic `{topic}`: {reason}")]
    CreateTopic {
        /// Topic.
        topic: String,
        /// Why.
        reason: String,
    },
}

impl From<KafkaError> for crate::error::Error {
    fn from(e: KafkaError) -> Self {
        use crate::error::ErrorKind;
        let kind = match &e {
            KafkaError::Config(_) | KafkaError::UnsupportedSecurity(_) => ErrorKind::Config,
            KafkaError::Topic(_) | KafkaError::Codec(_) => ErrorKind::Invalid,
            KafkaError::Client(_)
            | KafkaError::Delivery { .. }
            | KafkaError::HandlerFailed { .. }
            | KafkaError::CreateTopic { .. } => ErrorKind::Transport,
        };
        crate::error::Error::new(kind, e)
    }
}

/// Connection settings shared by producers, consumers and the admin client: the bootstrap
/// servers and any librdkafka property (security from [`security_config`], tuning).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KafkaConfig {
    /// `host:port[,host:port…]`.
    pub bootstrap_servers: String,
    /// Further librdkafka properties; they override the runtime's defaults.
    pub properties: BTreeMap<String, String>,
}

impl KafkaConfig {
    /// Settings for the given bootstrap servers.
    pub fn new(bootstrap_servers: impl Into<String>) -> KafkaConfig {
        KafkaConfig {
            bootstrap_servers: bootstrap_servers.into(),
            properties: BTreeMap::new(),
        }
    }

    /// Adds a librdkafka property.
    pub fn set(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties.insert(key.into(), value.into());
        self
    }

    /// Sets `client.id` to a binding's `clientId` unless the configuration already names one
    /// (the application's choice wins).
    pub fn or_client_id(mut self, client_id: Option<&str>) -> Self {
        if let Some(id) = client_id {
            self.properties
                .entry("client.id".to_owned())
                .or_insert_with(|| id.to_owned());
        }
        self
    }

    /// Adds every property of a map (the result of [`security_config`]).
    pub fn with(mut self, properties: BTreeMap<String, String>) -> Self {
        self.properties.extend(properties);
        self
    }

    fn client_config(&self, defaults: &[(&str, &str)]) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.bootstrap_servers);
        for (k, v) in defaults {
            c.set(*k, *v);
        }
        for (k, v) in &self.properties {
            c.set(k, v);
        }
        c
    }
}

// ---------------------------------------------------------------------------------------------
// Security.

/// Secrets and files that go with a security scheme (from the environment or a secret store,
/// never from the specification).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// SASL user name (PLAIN, SCRAM).
    pub username: Option<String>,
    /// SASL password (PLAIN, SCRAM).
    pub password: Option<String>,
    /// CA certificate file (PEM) to verify the brokers.
    pub ca_location: Option<String>,
    /// Client certificate file (PEM), mutual TLS.
    pub certificate_location: Option<String>,
    /// Client private key file (PEM), mutual TLS.
    pub key_location: Option<String>,
    /// Password of the private key.
    pub key_password: Option<String>,
    /// OAuth2 token endpoint (client credentials flow).
    pub token_url: Option<String>,
    /// OAuth2 client id.
    pub client_id: Option<String>,
    /// OAuth2 client secret.
    pub client_secret: Option<String>,
    /// OAuth2 scopes.
    pub scopes: Vec<String>,
    /// Kerberos service name (GSSAPI), `kafka` if unset.
    pub kerberos_service_name: Option<String>,
}

/// librdkafka properties for a server.
///
/// `protocol` is the server's `protocol` (`kafka`, or `kafka-secure` for TLS); `scheme_kind`
/// is the `type` of the security scheme the server requires (`None`: none), as the IR names
/// it: `plain`, `userPassword` (SASL PLAIN), `scramSha256`, `scramSha512`, `gssapi`, `oauth2`,
/// `openIdConnect` (SASL OAUTHBEARER), `X509` (mutual TLS). Other kinds (`apiKey`,
/// `httpApiKey`, `http`, `symmetricEncryption`, `asymmetricEncryption`) do not exist in Kafka
/// and are refused.
pub fn security_config(
    protocol: &str,
    scheme_kind: Option<&str>,
    credentials: &Credentials,
) -> Result<BTreeMap<String, String>, KafkaError> {
    let tls = match protocol.to_ascii_lowercase().as_str() {
        "kafka" => false,
        "kafka-secure" | "kafka+ssl" | "ssl" => true,
        other => {
            return Err(KafkaError::Config(format!(
                "protocol `{other}` is not a Kafka protocol"
            )));
        }
    };
    let mut out = BTreeMap::new();
    let mut put = |k: &str, v: &str| {
        out.insert(k.to_owned(), v.to_owned());
    };
    let need = |field: &Option<String>, what: &str| -> Result<String, KafkaError> {
        field
            .clone()
            .ok_or_else(|| KafkaError::Config(format!("{what} is required by the security scheme")))
    };
    let sasl_protocol = if tls { "SASL_SSL" } else { "SASL_PLAINTEXT" };
    match scheme_kind {
        None => put("security.protocol", if tls { "SSL" } else { "PLAINTEXT" }),
        Some(kind) => match kind {
            "plain" | "userPassword" | "scramSha256" | "scramSha512" => {
                let mechanism = match kind {
                    "scramSha256" => "SCRAM-SHA-256",
                    "scramSha512" => "SCRAM-SHA-512",
                    _ => "PLAIN",
                };
                put("security.protocol", sasl_protocol);
                put("sasl.mechanism", mechanism);
                put(
                    "sasl.username",
                    &need(&credentials.username, "a user name")?,
                );
                put("sasl.password", &need(&credentials.password, "a password")?);
            }
            "gssapi" => {
                put("security.protocol", sasl_protocol);
                put("sasl.mechanism", "GSSAPI");
                put(
                    "sasl.kerberos.service.name",
                    credentials
                        .kerberos_service_name
                        .as_deref()
                        .unwrap_or("kafka"),
                );
            }
            "oauth2" | "openIdConnect" => {
                put("security.protocol", sasl_protocol);
                put("sasl.mechanism", "OAUTHBEARER");
                put("sasl.oauthbearer.method", "oidc");
                put(
                    "sasl.oauthbearer.token.endpoint.url",
                    &need(&credentials.token_url, "a token URL")?,
                );
                put(
                    "sasl.oauthbearer.client.id",
                    &need(&credentials.client_id, "a client id")?,
                );
                put(
                    "sasl.oauthbearer.client.secret",
                    &need(&credentials.client_secret, "a client secret")?,
                );
                if !credentials.scopes.is_empty() {
                    put("sasl.oauthbearer.scope", &credentials.scopes.join(" "));
                }
            }
            "X509" => {
                put("security.protocol", "SSL");
                put(
                    "ssl.certificate.location",
                    &need(&credentials.certificate_location, "a client certificate")?,
                );
                put(
                    "ssl.key.location",
                    &need(&credentials.key_location, "a client key")?,
                );
                if let Some(p) = &credentials.key_password {
                    put("ssl.key.password", p);
                }
            }
            other => return Err(KafkaError::UnsupportedSecurity(other.to_owned())),
        },
    }
    let uses_tls = out
        .get("security.protocol")
        .is_some_and(|p| p.contains("SSL"));
    if let (true, Some(ca)) = (uses_tls, &credentials.ca_location) {
        out.insert("ssl.ca.location".into(), ca.clone());
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Producer.

/// Where a record was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
}

/// Encodes a key: a string key is its UTF-8 bytes, anything else its JSON text.
pub fn encode_key<K: Serialize + ?Sized>(key: &K) -> Result<Vec<u8>, CodecError> {
    Codec::Text.encode(&key)
}

/// Record headers: the message's content type first (`content-type`), then `extra` without
/// any `content-type` of its own (librdkafka copies each header in, so nothing is kept).
fn record_headers<'a, M: Message>(
    count: usize,
    extra: impl Iterator<Item = (&'a str, &'a [u8])>,
) -> OwnedHeaders {
    let content_type = M::CONTENT_TYPE.unwrap_or("application/json");
    let mut h = OwnedHeaders::new_with_capacity(count + 1).insert(Header {
        key: CONTENT_TYPE_HEADER,
        value: Some(content_type.as_bytes()),
    });
    for (key, value) in extra.filter(|(k, _)| !k.eq_ignore_ascii_case(CONTENT_TYPE_HEADER)) {
        h = h.insert(Header {
            key,
            value: Some(value),
        });
    }
    h
}

/// Decodes a key written by [`encode_key`] (or by any producer writing strings or JSON).
pub fn decode_key<K: DeserializeOwned>(bytes: &[u8]) -> Result<K, CodecError> {
    match Codec::Text.decode(bytes) {
        Ok(k) => Ok(k),
        Err(_) => Codec::Json.decode(bytes),
    }
}

/// A producer for send operations. Cheap to clone.
#[derive(Clone)]
pub struct Producer {
    inner: FutureProducer,
    queue_timeout: Duration,
}

impl Producer {
    /// A producer (idempotent, `acks=all`, 30 s delivery timeout unless overridden).
    pub fn new(config: &KafkaConfig) -> Result<Producer, KafkaError> {
        let inner: FutureProducer = config
            .client_config(&[
                ("enable.idempotence", "true"),
                ("acks", "all"),
                ("message.timeout.ms", "30000"),
                ("linger.ms", "5"),
            ])
            .create()?;
        Ok(Producer {
            inner,
            queue_timeout: Duration::from_secs(30),
        })
    }

    /// Sends a message and waits for the broker's acknowledgement. The payload is encoded by
    /// the message's content type, which also goes in the `content-type` header; `key` is
    /// encoded with [`encode_key`].
    pub async fn send<M: Message, K: Serialize + ?Sized>(
        &self,
        topic: &str,
        key: Option<&K>,
        message: &M,
        headers: &[(&str, &[u8])],
    ) -> Result<Delivered, KafkaError> {
        self.send_record(topic, key, message, headers.len(), headers.iter().copied())
            .await
    }

    /// Like [`Producer::send`], with the message's typed headers (encoded as docs/protocols.md says) as
    /// record headers: what generated producers call.
    pub async fn send_with_headers<M: Message, K: Serialize + ?Sized, H: Serialize>(
        &self,
        topic: &str,
        key: Option<&K>,
        message: &M,
        headers: Option<&H>,
    ) -> Result<Delivered, KafkaError> {
        let pairs = match headers {
            Some(h) => crate::headers::to_pairs(h)?,
            None => Vec::new(),
        };
        let extra = pairs.iter().map(|(k, v)| (k.as_str(), v.as_bytes()));
        self.send_record(topic, key, message, pairs.len(), extra)
            .await
    }

    /// Encodes the message and its key and sends them with `extra` headers (`count` of them).
    async fn send_record<'a, M: Message, K: Serialize + ?Sized>(
        &self,
        topic: &str,
        key: Option<&K>,
        message: &M,
        count: usize,
        extra: impl Iterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<Delivered, KafkaError> {
        let payload = message.encode()?;
        let key = key.map(encode_key).transpose()?;
        let h = record_headers::<M>(count, extra);
        self.deliver(topic, key.as_deref(), Some(&payload), h).await
    }

    /// Sends bytes as they are.
    pub async fn send_raw(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        payload: Option<&[u8]>,
        headers: &[(&str, &[u8])],
    ) -> Result<Delivered, KafkaError> {
        let mut h = OwnedHeaders::new_with_capacity(headers.len());
        for (k, v) in headers {
            h = h.insert(Header {
                key: k,
                value: Some(*v),
            });
        }
        self.deliver(topic, key, payload, h).await
    }

    async fn deliver(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        payload: Option<&[u8]>,
        headers: OwnedHeaders,
    ) -> Result<Delivered, KafkaError> {
        let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic).headers(headers);
        if let Some(k) = key {
            record = record.key(k);
        }
        if let Some(p) = payload {
            record = record.payload(p);
        }
        match self.inner.send(record, self.queue_timeout).await {
            Ok(d) => Ok(Delivered {
                partition: d.partition,
                offset: d.offset,
            }),
            Err((source, _)) => Err(KafkaError::Delivery {
                topic: topic.to_owned(),
                source,
            }),
        }
    }

    /// Waits until every queued record is delivered or `timeout` passes.
    pub fn flush(&self, timeout: Duration) -> Result<(), KafkaError> {
        use rdkafka::producer::Producer as _;
        Ok(self.inner.flush(timeout)?)
    }
}

// ---------------------------------------------------------------------------------------------
// Topics.

/// A topic to create, from a channel binding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicSpec {
    /// Name (the binding's `topic`, else the channel address).
    pub name: String,
    /// `partitions` (1 if unset).
    pub partitions: Option<u64>,
    /// `replicas` (1 if unset).
    pub replicas: Option<u64>,
    /// `topicConfiguration`, as strings (`cleanup.policy` lists joined with `,`).
    pub config: BTreeMap<String, String>,
}

impl TopicSpec {
    /// Turns a binding's `topicConfiguration` object into properties: numbers and booleans as
    /// text, arrays joined with `,` (`cleanup.policy: [delete, compact]`).
    pub fn config_from_json(value: &serde_json::Value) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        if let Some(map) = value.as_object() {
            for (k, v) in map {
                let text = match v {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Array(items) => items
                        .iter()
                        .map(|i| match i {
                            serde_json::Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                        .collect::<Vec<_>>()
                        .join(","),
                    serde_json::Value::Null => continue,
                    other => other.to_string(),
                };
                out.insert(k.clone(), text);
            }
        }
        out
    }
}

/// What [`ensure_topics`] did to one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicOutcome {
    /// Created.
    Created(String),
    /// It existed already (left as it is).
    Existed(String),
}

/// Creates the topics that do not exist yet through the admin API.
pub async fn ensure_topics(
    config: &KafkaConfig,
    topics: &[TopicSpec],
    timeout: Duration,
) -> Result<Vec<TopicOutcome>, KafkaError> {
    if topics.is_empty() {
        return Ok(Vec::new());
    }
    let admin: AdminClient<DefaultClientContext> = config.client_config(&[]).create()?;
    let mut new_topics = Vec::with_capacity(topics.len());
    for t in topics {
        let partitions = i32::try_from(t.partitions.unwrap_or(1))
            .map_err(|_| KafkaError::Config(format!("`{}`: too many partitions", t.name)))?;
        let replicas = i32::try_from(t.replicas.unwrap_or(1))
            .map_err(|_| KafkaError::Config(format!("`{}`: too many replicas", t.name)))?;
        let mut nt = NewTopic::new(&t.name, partitions, TopicReplication::Fixed(replicas));
        for (k, v) in &t.config {
            nt = nt.set(k, v);
        }
        new_topics.push(nt);
    }
    let opts = AdminOptions::new()
        .request_timeout(Some(timeout))
        .operation_timeout(Some(timeout));
    let results = admin.create_topics(new_topics.iter(), &opts).await?;
    let mut out = Vec::with_capacity(results.len());
    for r in results {
        match r {
            Ok(name) => out.push(TopicOutcome::Created(name)),
            Err((name, RDKafkaErrorCode::TopicAlreadyExists)) => {
                out.push(TopicOutcome::Existed(name))
            }
            Err((topic, code)) => {
                return Err(KafkaError::CreateTopic {
                    topic,
                    reason: code.to_string(),
                });
            }
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Consumer.

/// A received record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Index of the topic in [`ConsumerOptions::topics`] (the generated dispatcher's route).
    pub route: usize,
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Key bytes.
    pub key: Option<Vec<u8>>,
    /// Payload bytes (`None`: a tombstone).
    pub payload: Option<Vec<u8>>,
    /// Headers, in order.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Timestamp, milliseconds since the epoch.
    pub timestamp: Option<i64>,
    /// How many times this record was handed to the handler in this process (1 first).
    pub attempt: u32,
}

/// What a Kafka record says beside its message and topic parameters: the `meta` of a
/// [`Received`](crate::received::Received) that generated Kafka handlers get.
#[derive(Debug, Clone)]
pub struct Inbound<K> {
    /// The key, typed by the message binding's `key` schema (else its bytes).
    pub key: Option<K>,
    /// The record as received (topic, partition, offset, headers, timestamp, attempt).
    pub record: Record,
}

impl Record {
    /// The first header of that name.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// Decodes the payload as `M`. A `content-type` header whose codec differs from `M`'s, a
    /// missing payload or bytes that do not decode are [`Reject::invalid`].
    pub fn decode<M: Message>(&self) -> Result<M, Reject> {
        let payload = self.payload_for::<M>()?;
        Ok(M::decode(payload)?)
    }

    /// Decodes the payload as `M` and checks it against the message's whole schema (bounds,
    /// lengths, patterns, enums, formats): what generated consumers call. A record that
    /// breaks the schema is [`Reject::invalid`] (dead-lettered, or skipped without a
    /// dead-letter topic) with the path of each violation.
    pub fn decode_checked<M: Message>(&self, check: &SchemaCheck) -> Result<M, Reject> {
        let payload = self.payload_for::<M>()?;
        if !crate::endpoint::is_json(M::CONTENT_TYPE) {
            return Ok(M::decode(payload)?);
        }
        let mut incoming = crate::endpoint::Incoming::new(payload);
        incoming
            .try_message::<M>(check)
            .ok_or_else(|| Reject::invalid(incoming.rejection()))
    }

    /// The payload, when the record's `content-type` (if any) names `M`'s codec.
    fn payload_for<M: Message>(&self) -> Result<&[u8], Reject> {
        if let Some(ct) = self.header(CONTENT_TYPE_HEADER) {
            let ct = String::from_utf8_lossy(ct);
            let expected = Codec::for_content_type(M::CONTENT_TYPE)?;
            if !Codec::for_content_type(Some(&ct)).is_ok_and(|c| c == expected) {
                return Err(Reject::invalid(format!(
                    "content type `{ct}` where {} expects {}",
                    M::NAME,
                    M::CONTENT_TYPE.unwrap_or("application/json")
                )));
            }
        }
        match &self.payload {
            Some(p) => Ok(p),
            None => Err(Reject::invalid("no payload")),
        }
    }

    /// The record's headers as the message's typed headers (encoded as docs/protocols.md says);
    /// `content-type` and the dead-letter headers are not part of them. Headers that do not
    /// fit the type are [`Reject::invalid`].
    pub fn typed_headers<H: DeserializeOwned>(&self) -> Result<H, Reject> {
        crate::headers::from_pairs(
            self.headers.iter().map(|(k, v)| (k.as_str(), v.as_slice())),
            &[
                CONTENT_TYPE_HEADER,
                DLT_ERROR_HEADER,
                DLT_TOPIC_HEADER,
                DLT_PARTITION_HEADER,
                DLT_OFFSET_HEADER,
            ],
        )
        .map_err(|e| Reject::invalid(format!("headers: {e}")))
    }

    /// Decodes the key as `K` (see [`decode_key`]).
    pub fn key<K: DeserializeOwned>(&self) -> Result<Option<K>, Reject> {
        self.key
            .as_deref()
            .map(decode_key)
            .transpose()
            .map_err(|e| Reject::invalid(format!("key: {e}")))
    }
}

/// How a consumer consumes.
#[derive(Debug, Clone)]
pub struct ConsumerOptions {
    /// Consumer group (`groupId` of the operation binding).
    pub group_id: String,
    /// Client id (`clientId` of the operation binding); a `client.id` property of the
    /// [`KafkaConfig`] (the application's choice) wins over it.
    pub client_id: Option<String>,
    /// Topics, in route order.
    pub topics: Vec<String>,
    /// Retries of a failing record: `max_attempts` is the number of *retries* after the first
    /// attempt (`None`: retry forever).
    pub retry: Backoff,
    /// Where records go when retries are used up or they are invalid.
    pub dead_letter_topic: Option<String>,
    /// How often stored offsets are committed.
    pub commit_interval: Duration,
    /// Where a group without committed offsets starts (`earliest` or `latest`).
    pub auto_offset_reset: String,
}

impl ConsumerOptions {
    /// Options for a group reading `topics`: 5 retries (100 ms doubling, at most 5 s), no
    /// dead-letter topic, commits every second, starting at the earliest offset.
    pub fn new(group_id: impl Into<String>, topics: Vec<String>) -> ConsumerOptions {
        ConsumerOptions {
            group_id: group_id.into(),
            client_id: None,
            topics,
            retry: Backoff {
                base: Duration::from_millis(100),
                max: Duration::from_secs(5),
                max_attempts: Some(5),
                ..Backoff::default()
            },
            dead_letter_topic: None,
            commit_interval: Duration::from_secs(1),
            auto_offset_reset: "earliest".into(),
        }
    }
}

/// Counters of a consumer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConsumerStats {
    /// Records handled with `Ok`.
    pub handled: u64,
    /// Handler attempts that failed and were retried.
    pub retries: u64,
    /// Records sent to the dead-letter topic.
    pub dead_lettered: u64,
    /// Invalid records skipped (no dead-letter topic).
    pub skipped: u64,
    /// Successful commits.
    pub commits: u64,
}

#[derive(Default)]
struct Counters {
    handled: AtomicU64,
    retries: AtomicU64,
    dead_lettered: AtomicU64,
    skipped: AtomicU64,
    commits: AtomicU64,
}

/// Commits handled offsets before partitions are taken away.
struct GroupContext {
    counters: Arc<Counters>,
}

impl rdkafka::client::ClientContext for GroupContext {}

impl ConsumerContext for GroupContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            // The handler is not running now (rebalances are served inside `recv`), so the
            // stored offsets are exactly the handled records. Kafka's group coordinator
            // accepts a commit of the current generation while it prepares a rebalance;
            // librdkafka's mock cluster refuses it (REBALANCE_IN_PROGRESS), and then the next
            // owner handles again what was handled since the last periodic commit.
            match consumer.commit_consumer_state(CommitMode::Sync) {
                Ok(()) => {
                    self.counters.commits.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(partitions = tpl.count(), "committed before revocation");
                }
                Err(rdkafka::error::KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
                Err(e) => tracing::warn!(error = %e, "commit before revocation failed"),
            }
        }
    }

    fn commit_callback(
        &self,
        result: rdkafka::error::KafkaResult<()>,
        _offsets: &rdkafka::TopicPartitionList,
    ) {
        match result {
            Ok(())
            | Err(rdkafka::error::KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
            Err(e) => tracing::warn!(error = %e, "offset commit failed"),
        }
    }
}

/// A consumer-group member handing records to a [`Dispatch`] at least once.
pub struct Consumer {
    consumer: StreamConsumer<GroupContext>,
    options: ConsumerOptions,
    dead_letters: Option<Producer>,
    counters: Arc<Counters>,
}

enum Outcome {
    Done,
    Stop(KafkaError),
    Shutdown,
}

impl Consumer {
    /// Joins the group and subscribes to the topics.
    pub fn new(config: &KafkaConfig, options: ConsumerOptions) -> Result<Consumer, KafkaError> {
        if options.topics.is_empty() {
            return Err(KafkaError::Config("a consumer needs topics".into()));
        }
        if options.group_id.is_empty() {
            return Err(KafkaError::Config("a consumer needs a group id".into()));
        }
        let counters = Arc::new(Counters::default());
        let mut cc = config.client_config(&[
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            ("enable.partition.eof", "false"),
            ("queued.max.messages.kbytes", "16384"),
        ]);
        cc.set("group.id", &options.group_id);
        cc.set("auto.offset.reset", &options.auto_offset_reset);
        // The binding's client id, unless the application's configuration names one.
        if let Some(id) = &options.client_id
            && !config.properties.contains_key("client.id")
        {
            cc.set("client.id", id);
        }
        // The at-least-once settings cannot be overridden by `properties`.
        cc.set("enable.auto.commit", "false");
        cc.set("enable.auto.offset.store", "false");
        let consumer: StreamConsumer<GroupContext> = cc.create_with_context(GroupContext {
            counters: counters.clone(),
        })?;
        let topics: Vec<&str> = options.topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics)?;
        let dead_letters = match &options.dead_letter_topic {
            Some(_) => Some(Producer::new(config)?),
            None => None,
        };
        Ok(Consumer {
            consumer,
            options,
            dead_letters,
            counters,
        })
    }

    /// Counters so far.
    pub fn stats(&self) -> ConsumerStats {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ConsumerStats {
            handled: g(&self.counters.handled),
            retries: g(&self.counters.retries),
            dead_lettered: g(&self.counters.dead_lettered),
            skipped: g(&self.counters.skipped),
            commits: g(&self.counters.commits),
        }
    }

    /// Consumes until `shutdown` completes (then commits what was handled and returns `Ok`) or
    /// a record cannot be handled nor dead-lettered (returns the error; what was handled
    /// before it is committed).
    pub async fn run<H: Dispatch<Record>>(
        &self,
        handler: H,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<ConsumerStats, KafkaError> {
        let mut shutdown = std::pin::pin!(shutdown.fuse());
        let mut commit_tick = tokio::time::interval(self.options.commit_interval);
        commit_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut dirty = false;
        let result = loop {
            let received = tokio::select! {
                biased;
                _ = &mut shutdown => break Ok(()),
                _ = commit_tick.tick() => {
                    if dirty {
                        self.commit(CommitMode::Async);
                        dirty = false;
                    }
                    continue;
                }
                m = self.consumer.recv() => m,
            };
            let record = match received {
                Ok(m) => self.record_of(&m),
                Err(e) => {
                    tracing::warn!(error = %e, "kafka consumer error");
                    continue;
                }
            };
            match self.process(&handler, record, &mut shutdown).await {
                (Outcome::Done, Some((topic, partition, offset))) => {
                    if let Err(e) = self.consumer.store_offset(&topic, partition, offset) {
                        // The partition was revoked meanwhile: its next owner handles the
                        // record again (at least once).
                        tracing::debug!(error = %e, %topic, partition, offset, "offset not stored");
                    }
                    dirty = true;
                }
                (Outcome::Done, None) => {}
                (Outcome::Shutdown, _) => break Ok(()),
                (Outcome::Stop(e), _) => break Err(e),
            }
        };
        self.commit(CommitMode::Sync);
        result.map(|()| self.stats())
    }

    fn commit(&self, mode: CommitMode) {
        match self.consumer.commit_consumer_state(mode) {
            Ok(()) => {
                self.counters.commits.fetch_add(1, Ordering::Relaxed);
            }
            Err(rdkafka::error::KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
            Err(e) => tracing::warn!(error = %e, "offset commit failed"),
        }
    }

    fn record_of(&self, m: &rdkafka::message::BorrowedMessage<'_>) -> Record {
        let topic = m.topic().to_owned();
        let route = self
            .options
            .topics
            .iter()
            .position(|t| *t == topic)
            .unwrap_or(usize::MAX);
        let headers = m
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| {
                        (
                            h.key.to_owned(),
                            h.value.map(<[u8]>::to_vec).unwrap_or_default(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        Record {
            route,
            topic,
            partition: m.partition(),
            offset: m.offset(),
            key: m.key().map(<[u8]>::to_vec),
            payload: m.payload().map(<[u8]>::to_vec),
            headers,
            timestamp: m.timestamp().to_millis(),
            attempt: 0,
        }
    }

    /// Runs the handler with retries; returns what to do and the offset to store.
    async fn process<H: Dispatch<Record>, S: Future<Output = ()> + Unpin>(
        &self,
        handler: &H,
        mut record: Record,
        shutdown: &mut S,
    ) -> (Outcome, Option<(String, i32, i64)>) {
        let position = Some((record.topic.clone(), record.partition, record.offset));
        let mut delays = self.options.retry.delays();
        loop {
            record.attempt += 1;
            let outcome = AssertUnwindSafe(handler.dispatch(record.clone()))
                .catch_unwind()
                .await
                .unwrap_or_else(|_| Err(Reject::failed("handler panicked")));
            let error = match outcome {
                Ok(()) => {
                    self.counters.handled.fetch_add(1, Ordering::Relaxed);
                    return (Outcome::Done, position);
                }
                Err(reject) if reject.is_invalid() => {
                    let why = reject.reason();
                    tracing::warn!(topic = %record.topic, partition = record.partition, offset = record.offset, %why, "invalid record");
                    return match self.dead_letter(&record, why).await {
                        Ok(true) => (Outcome::Done, position),
                        Ok(false) => {
                            self.counters.skipped.fetch_add(1, Ordering::Relaxed);
                            (Outcome::Done, position)
                        }
                        Err(e) => (Outcome::Stop(e), None),
                    };
                }
                Err(reject) => reject.reason().to_owned(),
            };
            let Some(delay) = delays.next() else {
                tracing::error!(topic = %record.topic, partition = record.partition, offset = record.offset, attempts = record.attempt, error = %error, "retries exhausted");
                return match self.dead_letter(&record, &error).await {
                    Ok(true) => (Outcome::Done, position),
                    Ok(false) => (
                        Outcome::Stop(KafkaError::HandlerFailed {
                            topic: record.topic.clone(),
                            partition: record.partition,
                            offset: record.offset,
                            attempts: record.attempt,
                            error,
                        }),
                        None,
                    ),
                    Err(e) => (Outcome::Stop(e), None),
                };
            };
            self.counters.retries.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(topic = %record.topic, partition = record.partition, offset = record.offset, attempt = record.attempt, ?delay, error = %error, "handler failed; retrying");
            tokio::select! {
                biased;
                _ = &mut *shutdown => return (Outcome::Shutdown, None),
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }

    /// Sends a record to the dead-letter topic; `Ok(false)` if there is none.
    async fn dead_letter(&self, record: &Record, error: &str) -> Result<bool, KafkaError> {
        let (Some(topic), Some(producer)) = (&self.options.dead_letter_topic, &self.dead_letters)
        else {
            return Ok(false);
        };
        let partition = record.partition.to_string();
        let offset = record.offset.to_string();
        let mut headers: Vec<(&str, &[u8])> = record
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_slice()))
            .collect();
        headers.push((DLT_ERROR_HEADER, error.as_bytes()));
        headers.push((DLT_TOPIC_HEADER, record.topic.as_bytes()));
        headers.push((DLT_PARTITION_HEADER, partition.as_bytes()));
        headers.push((DLT_OFFSET_HEADER, offset.as_bytes()));
        producer
            .send_raw(
                topic,
                record.key.as_deref(),
                record.payload.as_deref(),
                &headers,
            )
            .await?;
        self.counters.dead_lettered.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(topic = %record.topic, partition = record.partition, offset = record.offset, dead_letter_topic = %topic, "record dead-lettered");
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials {
            username: Some("alice".into()),
            password: Some("s3cret".into()),
            ca_location: Some("/etc/ca.pem".into()),
            ..Credentials::default()
        }
    }

    fn get<'a>(m: &'a BTreeMap<String, String>, k: &str) -> Option<&'a str> {
        m.get(k).map(String::as_str)
    }

    #[test]
    fn sasl_schemes_map_to_mechanisms() {
        for (kind, mechanism) in [
            ("plain", "PLAIN"),
            ("userPassword", "PLAIN"),
            ("scramSha256", "SCRAM-SHA-256"),
            ("scramSha512", "SCRAM-SHA-512"),
        ] {
            let m = security_config("kafka-secure", Some(kind), &creds()).expect(kind);
            assert_eq!(get(&m, "security.protocol"), Some("SASL_SSL"), "{kind}");
            assert_eq!(get(&m, "sasl.mechanism"), Some(mechanism));
            assert_eq!(get(&m, "sasl.username"), Some("alice"));
            assert_eq!(get(&m, "sasl.password"), Some("s3cret"));
            assert_eq!(get(&m, "ssl.ca.location"), Some("/etc/ca.pem"));
            let m = security_config("kafka", Some(kind), &creds()).expect(kind);
            assert_eq!(get(&m, "security.protocol"), Some("SASL_PLAINTEXT"));
            assert_eq!(get(&m, "ssl.ca.location"), None, "no TLS, no CA");
        }
        assert!(matches!(
            security_config("kafka", Some("scramSha256"), &Credentials::default()),
            Err(KafkaError::Config(_))
        ));
    }

    #[test]
    fn tls_oauth_kerberos_and_refusals() {
        let m = security_config("kafka-secure", None, &creds()).expect("tls");
        assert_eq!(get(&m, "security.protocol"), Some("SSL"));
        assert_eq!(get(&m, "ssl.ca.location"), Some("/etc/ca.pem"));
        let m = security_config("kafka", None, &Credentials::default()).expect("plain");
        assert_eq!(get(&m, "security.protocol"), Some("PLAINTEXT"));

        let x509 = Credentials {
            certificate_location: Some("/c.pem".into()),
            key_location: Some("/k.pem".into()),
            ..Credentials::default()
        };
        let m = security_config("kafka-secure", Some("X509"), &x509).expect("mtls");
        assert_eq!(get(&m, "security.protocol"), Some("SSL"));
        assert_eq!(get(&m, "ssl.certificate.location"), Some("/c.pem"));
        assert_eq!(get(&m, "ssl.key.location"), Some("/k.pem"));

        let oauth = Credentials {
            token_url: Some("https://idp/token".into()),
            client_id: Some("svc".into()),
            client_secret: Some("x".into()),
            scopes: vec!["a".into(), "b".into()],
            ..Credentials::default()
        };
        let m = security_config("kafka-secure", Some("oauth2"), &oauth).expect("oauth");
        assert_eq!(get(&m, "sasl.mechanism"), Some("OAUTHBEARER"));
        assert_eq!(get(&m, "sasl.oauthbearer.method"), Some("oidc"));
        assert_eq!(get(&m, "sasl.oauthbearer.scope"), Some("a b"));

        let m = security_config("kafka", Some("gssapi"), &Credentials::default()).expect("krb");
        assert_eq!(get(&m, "sasl.mechanism"), Some("GSSAPI"));
        assert_eq!(get(&m, "sasl.kerberos.service.name"), Some("kafka"));

        for kind in ["httpApiKey", "apiKey", "http", "symmetricEncryption"] {
            assert!(matches!(
                security_config("kafka", Some(kind), &creds()),
                Err(KafkaError::UnsupportedSecurity(_))
            ));
        }
        assert!(security_config("mqtt", None, &creds()).is_err());
    }

    #[test]
    fn keys_and_topic_configuration() {
        assert_eq!(encode_key("lamp-7").ok(), Some(b"lamp-7".to_vec()));
        assert_eq!(encode_key(&42u32).ok(), Some(b"42".to_vec()));
        assert_eq!(decode_key::<String>(b"lamp-7").ok(), Some("lamp-7".into()));
        assert_eq!(decode_key::<u32>(b"42").ok(), Some(42));
        assert!(decode_key::<u32>(b"forty-two").is_err());

        let cfg = TopicSpec::config_from_json(&serde_json::json!({
            "cleanup.policy": ["delete", "compact"],
            "retention.ms": 604800000,
            "confluent.key.schema.validation": false,
            "ignored": null,
        }));
        assert_eq!(get(&cfg, "cleanup.policy"), Some("delete,compact"));
        assert_eq!(get(&cfg, "retention.ms"), Some("604800000"));
        assert_eq!(get(&cfg, "confluent.key.schema.validation"), Some("false"));
        assert!(!cfg.contains_key("ignored"));
    }

    #[test]
    fn records_decode_by_content_type() {
        struct Num(u32);
        impl Message for Num {
            type Payload = u32;
            const NAME: &'static str = "num";
            const CONTENT_TYPE: Option<&'static str> = None;
            fn payload(&self) -> &u32 {
                &self.0
            }
            fn from_payload(p: u32) -> Self {
                Num(p)
            }
        }
        let mut r = Record {
            route: 0,
            topic: "t".into(),
            partition: 0,
            offset: 0,
            key: Some(b"7".to_vec()),
            payload: Some(b"5".to_vec()),
            headers: vec![("Content-Type".into(), b"application/json".to_vec())],
            timestamp: None,
            attempt: 1,
        };
        assert_eq!(r.decode::<Num>().map(|n| n.0), Ok(5));
        assert_eq!(r.key::<u32>(), Ok(Some(7)));
        r.headers[0].1 = b"application/avro".to_vec();
        assert!(r.decode::<Num>().is_err_and(|e| e.is_invalid()));
        r.headers.clear();
        r.payload = None;
        assert!(r.decode::<Num>().is_err_and(|e| e.is_invalid()));
    }
}
