//! Typed protocol bindings (kafka, mqtt, mqtt5, websockets, http); other protocols are kept as
//! raw JSON.

use serde::Serialize;
use serde_json::Value;

use super::SchemaId;

/// Bindings of a server.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ServerBindings {
    /// Kafka.
    pub kafka: Option<KafkaServerBinding>,
    /// MQTT.
    pub mqtt: Option<MqttServerBinding>,
    /// MQTT 5 (the separate, deprecated `mqtt5` binding).
    pub mqtt5: Option<Mqtt5ServerBinding>,
    /// Other protocols, as written.
    pub other: Vec<(String, Value)>,
}

/// Bindings of a channel.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ChannelBindings {
    /// Kafka.
    pub kafka: Option<KafkaChannelBinding>,
    /// WebSockets.
    pub ws: Option<WsChannelBinding>,
    /// Other protocols, as written.
    pub other: Vec<(String, Value)>,
}

/// Bindings of an operation.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OperationBindings {
    /// Kafka.
    pub kafka: Option<KafkaOperationBinding>,
    /// MQTT.
    pub mqtt: Option<MqttOperationBinding>,
    /// HTTP.
    pub http: Option<HttpOperationBinding>,
    /// Other protocols, as written.
    pub other: Vec<(String, Value)>,
}

/// Bindings of a message.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MessageBindings {
    /// Kafka.
    pub kafka: Option<KafkaMessageBinding>,
    /// MQTT.
    pub mqtt: Option<MqttMessageBinding>,
    /// HTTP.
    pub http: Option<HttpMessageBinding>,
    /// Other protocols, as written.
    pub other: Vec<(String, Value)>,
}

/// Kafka server binding.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct KafkaServerBinding {
    /// Schema registry URL.
    pub schema_registry_url: Option<String>,
    /// Schema registry vendor.
    pub schema_registry_vendor: Option<String>,
    /// Binding version.
    pub binding_version: Option<String>,
}

/// Kafka channel binding.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct KafkaChannelBinding {
    /// Topic, when it differs from the channel address.
    pub topic: Option<String>,
    /// Number of partitions.
    pub partitions: Option<u64>,
    /// Number of replicas.
    pub replicas: Option<u64>,
    /// Topic configuration (`cleanup.policy`, `retention.ms`, …), as written.
    pub topic_configuration: Option<Value>,
    /// Binding version.
    pub binding_version: Option<String>,
}

/// Kafka operation binding.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct KafkaOperationBinding {
    /// Consumer group id schema.
    pub group_id: Option<SchemaId>,
    /// Client id schema.
    pub client_id: Option<SchemaId>,
    /// Binding version.
    pub binding_version: Option<String>,
}

/// Kafka message binding.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct KafkaMessageBinding {
    /// Message key schema.
    pub key: Option<SchemaId>,
    /// Where the schema id is (`header` or `payload`).
    pub schema_id_location: Option<String>,
    /// Encoding of a schema id in the payload.
    pub schema_id_payload_encoding: Option<String>,
    /// Schema lookup strategy.
    pub schema_lookup_strategy: Option<String>,
    /// Binding version.
    pub binding_version: Option<String>,
}

/// MQTT last will.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MqttLastWill {
    /// Topic.
    pub topic: Option<String>,
    /// QoS.
    pub qos: Option<u8>,
    /// Message.
    pub message: Option<String>,
    /// Retain.
    pub retain: Option<bool>,
}

/// An MQTT 5 value given as a number or described by a schema.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IntervalOrSchema {
    /// A fixed value.
    Value(u64),
    /// A schema describing it.
    Schema(SchemaId),
}

/// MQTT server binding.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MqttServerBinding {
    /// Client id.
    pub client_id: Option<String>,
    /// Clean session (MQTT 5: clean start).
    pub clean_session: Option<bool>,
    /// Last will.
    pub last_will: Option<MqttLastWill>,
    /// Keep alive, seconds.
    pub keep_alive: Option<u64>,
    /// MQTT 5 session expiry interval.
    pub session_expiry_interval: Option<IntervalOrSchema>,
    /// MQTT 5 maximum packet size.
    pub maximum_packet_size: Option<IntervalOrSchema>,
    /// Binding version.
    pub binding_version: Option<String>,
}

/// MQTT 5 server binding (`mqtt5`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Mqtt5ServerBinding {
    /// Session expiry interval.
    pub session_expiry_interval: Option<IntervalOrSchema>,
    /// Binding version.
    pub binding_version: Option<String>,
}

/// MQTT operation binding.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MqttOperationBinding {
    /// QoS (0, 1, 2).
    pub qos: Option<u8>,
    /// Retain.
    pub retain: Option<bool>,
    /// MQTT 5 message expiry interval.
    pub message_expiry_interval: Option<IntervalOrSchema>,
    /// Binding version.
    pub binding_version: Option<String>,
}

/// MQTT message binding.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MqttMessageBinding {
    /// MQTT 5 payload format indicator (0 bytes, 1 UTF-8).
    pub payload_format_indicator: Option<u8>,
    /// MQTT 5 correlation data schema.
    pub correlation_data: Option<SchemaId>,
    /// MQTT 5 content type.
    pub content_type: Option<String>,
    /// MQTT 5 response topic: a topic, or a schema describing it.
    pub response_topic: Option<ResponseTopic>,
    /// Binding version.
    pub binding_version: Option<String>,
}

/// An MQTT 5 response topic.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ResponseTopic {
    /// A fixed topic.
    Topic(String),
    /// A schema describing it.
    Schema(SchemaId),
}

/// WebSockets channel binding.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WsChannelBinding {
    /// `GET` or `POST`.
    pub method: Option<String>,
    /// Query parameters schema.
    pub query: Option<SchemaId>,
    /// Headers schema.
    pub headers: Option<SchemaId>,
    /// Binding version.
    pub binding_version: Option<String>,
}

/// HTTP operation binding.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HttpOperationBinding {
    /// 2.x `type` (`request` or `response`).
    pub kind: Option<String>,
    /// HTTP method.
    pub method: Option<String>,
    /// Query parameters schema.
    pub query: Option<SchemaId>,
    /// Binding version.
    pub binding_version: Option<String>,
}

/// HTTP message binding.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HttpMessageBinding {
    /// Headers schema.
    pub headers: Option<SchemaId>,
    /// Status code of a response.
    pub status_code: Option<u16>,
    /// Binding version.
    pub binding_version: Option<String>,
}
