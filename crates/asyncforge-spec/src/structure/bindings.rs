//! Structure of protocol bindings, by `bindingVersion`.
//!
//! 3.x: as in the official schemas, a Bindings Object may only name the protocols the
//! specification lists; the bindings of kafka, mqtt, ws, http, amqp, anypointmq, googlepubsub,
//! ibmmq, jms, nats, pulsar, sns, sqs, solace and ros2 are checked against the version named by
//! `bindingVersion` (the latest one when it is absent), and an unknown `bindingVersion` is an
//! error listing the known ones. The other protocols' bindings may hold anything.
//!
//! 2.x: the specification's schemas leave bindings open (any protocol, any content), so the same
//! checks run but report warnings, and bindings whose `bindingVersion` we do not know are skipped.

use serde_json::Value;

use super::schema::{AVRO, SCHEMA};
use super::*;
use crate::diagnostic::Severity;
use crate::version::Version::V3_1;

// ---------------------------------------------------------------------------------------------
// Helpers.

/// A string of at most (and at least) some number of characters.
macro_rules! str_len {
    ($fname:ident, $min:expr, $max:expr) => {
        fn $fname(c: &mut Checker<'_>, at: Loc<'_>) {
            str_len(c, at, $min, $max)
        }
    };
}

fn str_len(c: &mut Checker<'_>, at: Loc<'_>, min: usize, max: usize) {
    c.check(at, &s::STR);
    if let Some(text) = at.value.as_str() {
        let n = text.chars().count();
        if n < min || n > max {
            c.error(
                codes::RANGE,
                at,
                format!(
                    "{} must be {min} to {max} characters long, found {n}",
                    field_label(at.ptr)
                ),
            );
        }
    }
}

str_len!(max_48, 0, 48);
str_len!(max_255, 0, 255);
str_len!(max_10240, 0, 10240);
str_len!(len_1_160, 1, 160);

static NAME_255: Shape = Shape::Custom(max_255);

const fn int(min: i64, max: i64) -> Shape {
    Shape::Int {
        min: Some(min),
        max: Some(max),
    }
}

static INT_MIN_1: Shape = Shape::Int {
    min: Some(1),
    max: None,
};

static QOS: Shape = Shape::Values(&["0", "1", "2"]);

static STR_OR_STRINGS: Shape = Shape::AnyOf(&[&s::STR, &s::STR_ARRAY]);

/// `bindingVersion` inside a binding: the dispatch already matched it.
const fn version_field() -> Field {
    Field::new("bindingVersion", &s::STR)
}

/// A binding object: closed, with `x-` extensions.
macro_rules! binding {
    ($name:literal, [$($field:expr),* $(,)?]) => {
        binding!($name, [$($field),*], &[])
    };
    ($name:literal, [$($field:expr),* $(,)?], $required:expr) => {
        binding!($name, [$($field),*], $required, &[])
    };
    ($name:literal, [$($field:expr),* $(,)?], $required:expr, $checks:expr) => {
        Shape::Object(&Obj {
            name: $name,
            fields: &[$($field,)* version_field()],
            required: $required,
            extensions: true,
            additional: None,
            checks: $checks,
        })
    };
}

/// A nested object of a binding that the official schemas leave open.
macro_rules! open_obj {
    ($name:literal, [$($field:expr),* $(,)?], $required:expr) => {
        Shape::Object(&Obj {
            name: $name,
            fields: &[$($field),*],
            required: $required,
            extensions: true,
            additional: Some(&s::ANY),
            checks: &[],
        })
    };
}

/// Checks a binding against the version its `bindingVersion` names (the first, latest, one
/// when absent).
fn by_version(
    c: &mut Checker<'_>,
    at: Loc<'_>,
    what: &str,
    versions: &'static [(&'static str, &'static Shape)],
) {
    let Some((_, latest)) = versions.first() else {
        return;
    };
    // 2.x documents reference protocol bindings (the official 2.6 examples do); every resolver
    // replaces the reference with its target, so check that.
    if c.version.is_v2() && is_ref(at.value) {
        if let Some(t) = c.ws.ref_target(at.file, at.ptr).cloned()
            && let Some(value) = c.ws.get(t.file, &t.pointer)
        {
            let target = Loc {
                file: t.file,
                ptr: &t.pointer,
                value,
            };
            by_version(c, target, what, versions);
        }
        return;
    }
    let Some(obj) = at.value.as_object() else {
        return c.check(at, latest);
    };
    let Some(v) = obj.get("bindingVersion") else {
        let before = c.diags.len();
        c.check(at, latest);
        let version = versions.first().map_or("", |(name, _)| name);
        for d in &mut c.diags[before..] {
            if d.help.is_none() {
                d.help = Some(format!(
                    "without `bindingVersion`, the {what} is checked as version {version}, the latest"
                ));
            }
        }
        return;
    };
    match versions.iter().find(|(name, _)| v.as_str() == Some(*name)) {
        Some((_, shape)) => c.check(at, shape),
        // 2.x documents often name binding versions older than the ones we describe.
        None if c.version.is_v2() => {}
        None => {
            let list = versions
                .iter()
                .map(|(n, _)| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ");
            let p = pointer::join(at.ptr, "bindingVersion");
            let shown = match v {
                Value::String(s) => format!("`{s}`"),
                other => other.to_string(),
            };
            c.error(
                codes::ENUM,
                Loc {
                    file: at.file,
                    ptr: &p,
                    value: v,
                },
                format!("`bindingVersion` of the {what} must be one of {list}; found {shown}"),
            );
        }
    }
}

/// Defines a function checking one protocol's binding of one kind by version.
macro_rules! versioned {
    ($fname:ident, $what:literal, [$(($v:literal, $shape:expr)),+ $(,)?]) => {
        fn $fname(c: &mut Checker<'_>, at: Loc<'_>) {
            static VERSIONS: &[(&str, &Shape)] = &[$(($v, $shape)),+];
            by_version(c, at, $what, VERSIONS)
        }
    };
}

// ---------------------------------------------------------------------------------------------
// Kafka.

static KAFKA_SERVER: Shape = binding!(
    "Kafka server binding",
    [
        Field::new("schemaRegistryUrl", &s::STR),
        Field::new("schemaRegistryVendor", &s::STR),
    ]
);

static KAFKA_CHANNEL_0_3: Shape = binding!(
    "Kafka channel binding",
    [
        Field::new("topic", &s::STR),
        Field::new("partitions", &INT_MIN_1),
        Field::new("replicas", &INT_MIN_1),
    ]
);

static CLEANUP_POLICY: Shape = Shape::Array {
    items: &Shape::Enum(&["compact", "delete"]),
    min_items: 0,
    unique: false,
};

static KAFKA_CHANNEL_0_4: Shape = binding!(
    "Kafka channel binding",
    [
        Field::new("topic", &s::STR),
        Field::new("partitions", &INT_MIN_1),
        Field::new("replicas", &INT_MIN_1),
        Field::new(
            "topicConfiguration",
            &Shape::Object(&Obj {
                name: "Kafka topic configuration",
                fields: &[
                    Field::new("cleanup.policy", &CLEANUP_POLICY),
                    Field::new("retention.ms", &int(-1, i64::MAX)),
                    Field::new("retention.bytes", &int(-1, i64::MAX)),
                    Field::new("delete.retention.ms", &s::UINT),
                    Field::new("max.message.bytes", &s::UINT),
                ],
                required: &[],
                extensions: false,
                additional: None,
                checks: &[],
            }),
        ),
    ]
);

static KAFKA_CHANNEL_0_5: Shape = binding!(
    "Kafka channel binding",
    [
        Field::new("topic", &s::STR),
        Field::new("partitions", &INT_MIN_1),
        Field::new("replicas", &INT_MIN_1),
        Field::new(
            "topicConfiguration",
            &open_obj!(
                "Kafka topic configuration",
                [
                    Field::new("cleanup.policy", &CLEANUP_POLICY),
                    Field::new("retention.ms", &int(-1, i64::MAX)),
                    Field::new("retention.bytes", &int(-1, i64::MAX)),
                    Field::new("delete.retention.ms", &s::UINT),
                    Field::new("max.message.bytes", &s::UINT),
                    Field::new("confluent.key.schema.validation", &s::BOOL),
                    Field::new("confluent.key.subject.name.strategy", &s::STR),
                    Field::new("confluent.value.schema.validation", &s::BOOL),
                    Field::new("confluent.value.subject.name.strategy", &s::STR),
                ],
                &[]
            ),
        ),
    ]
);

static KAFKA_OPERATION: Shape = binding!(
    "Kafka operation binding",
    [
        Field::new("groupId", &SCHEMA),
        Field::new("clientId", &SCHEMA),
    ]
);

macro_rules! kafka_message {
    ($key:expr) => {
        binding!(
            "Kafka message binding",
            [
                Field::new("key", $key),
                Field::new("schemaIdLocation", &Shape::Enum(&["header", "payload"])),
                Field::new("schemaIdPayloadEncoding", &s::STR),
                Field::new("schemaLookupStrategy", &s::STR),
            ]
        )
    };
}

static KAFKA_MESSAGE_0_3: Shape = kafka_message!(&SCHEMA);
static KAFKA_MESSAGE_0_4: Shape = kafka_message!(&Shape::AnyOf(&[&SCHEMA, &AVRO]));
static KAFKA_MESSAGE_0_5: Shape = kafka_message!(&SCHEMA);

versioned!(
    kafka_server,
    "Kafka server binding",
    [
        ("0.5.0", &KAFKA_SERVER),
        ("0.4.0", &KAFKA_SERVER),
        ("0.3.0", &KAFKA_SERVER)
    ]
);
versioned!(
    kafka_channel,
    "Kafka channel binding",
    [
        ("0.5.0", &KAFKA_CHANNEL_0_5),
        ("0.4.0", &KAFKA_CHANNEL_0_4),
        ("0.3.0", &KAFKA_CHANNEL_0_3)
    ]
);
versioned!(
    kafka_operation,
    "Kafka operation binding",
    [
        ("0.5.0", &KAFKA_OPERATION),
        ("0.4.0", &KAFKA_OPERATION),
        ("0.3.0", &KAFKA_OPERATION)
    ]
);
versioned!(
    kafka_message,
    "Kafka message binding",
    [
        ("0.5.0", &KAFKA_MESSAGE_0_5),
        ("0.4.0", &KAFKA_MESSAGE_0_4),
        ("0.3.0", &KAFKA_MESSAGE_0_3)
    ]
);

// ---------------------------------------------------------------------------------------------
// MQTT.

static UINT32: Shape = int(0, 4_294_967_295);

static MQTT_SERVER: Shape = binding!(
    "MQTT server binding",
    [
        Field::new("clientId", &s::STR),
        Field::new("cleanSession", &s::BOOL),
        Field::new(
            "lastWill",
            &Shape::Object(&Obj {
                name: "MQTT last will",
                fields: &[
                    Field::new("topic", &s::STR),
                    Field::new("qos", &QOS),
                    Field::new("message", &s::STR),
                    Field::new("retain", &s::BOOL),
                ],
                required: &[],
                extensions: false,
                additional: Some(&s::ANY),
                checks: &[],
            }),
        ),
        Field::new("keepAlive", &s::INT),
        Field::new("sessionExpiryInterval", &Shape::AnyOf(&[&s::UINT, &SCHEMA])),
        Field::new(
            "maximumPacketSize",
            &Shape::AnyOf(&[&int(1, 4_294_967_295), &SCHEMA])
        ),
    ]
);

static MQTT_OPERATION: Shape = binding!(
    "MQTT operation binding",
    [
        Field::new("qos", &QOS),
        Field::new("retain", &s::BOOL),
        Field::new("messageExpiryInterval", &Shape::AnyOf(&[&UINT32, &SCHEMA])),
    ]
);

/// An MQTT `responseTopic`: a URI template, or a schema of the topic.
fn response_topic(c: &mut Checker<'_>, at: Loc<'_>) {
    let Some(t) = at.value.as_str() else {
        return c.check(at, &SCHEMA);
    };
    if let Err(why) = super::v2::uri_template(t) {
        c.error(
            codes::FORMAT,
            at,
            format!("`responseTopic` `{t}` is not a URI template (RFC 6570): {why}"),
        );
    }
}

static MQTT_MESSAGE: Shape = binding!(
    "MQTT message binding",
    [
        Field::new("payloadFormatIndicator", &Shape::Values(&["0", "1"])),
        Field::new("correlationData", &SCHEMA),
        Field::new("contentType", &s::STR),
        Field::new("responseTopic", &Shape::Custom(response_topic)),
    ]
);

versioned!(
    mqtt_server,
    "MQTT server binding",
    [("0.2.0", &MQTT_SERVER)]
);
versioned!(
    mqtt_operation,
    "MQTT operation binding",
    [("0.2.0", &MQTT_OPERATION)]
);
versioned!(
    mqtt_message,
    "MQTT message binding",
    [("0.2.0", &MQTT_MESSAGE)]
);

// ---------------------------------------------------------------------------------------------
// WebSockets and HTTP.

static WS_CHANNEL: Shape = binding!(
    "WebSockets channel binding",
    [
        Field::new("method", &Shape::Enum(&["GET", "POST"])),
        Field::new("query", &SCHEMA),
        Field::new("headers", &SCHEMA),
    ]
);

versioned!(
    ws_channel,
    "WebSockets channel binding",
    [("0.1.0", &WS_CHANNEL)]
);

static HTTP_OPERATION: Shape = binding!(
    "HTTP operation binding",
    [
        Field::new(
            "method",
            &Shape::Enum(&[
                "GET", "PUT", "POST", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT", "TRACE",
            ])
        ),
        Field::new("query", &SCHEMA),
    ]
);

static HTTP_MESSAGE_0_2: Shape = binding!("HTTP message binding", [Field::new("headers", &SCHEMA)]);

static HTTP_MESSAGE_0_3: Shape = binding!(
    "HTTP message binding",
    [
        Field::new("headers", &SCHEMA),
        Field::new("statusCode", &s::NUM),
    ]
);

versioned!(
    http_operation,
    "HTTP operation binding",
    [("0.3.0", &HTTP_OPERATION), ("0.2.0", &HTTP_OPERATION)]
);
versioned!(
    http_message,
    "HTTP message binding",
    [("0.3.0", &HTTP_MESSAGE_0_3), ("0.2.0", &HTTP_MESSAGE_0_2)]
);

// ---------------------------------------------------------------------------------------------
// AMQP 0-9-1.

static AMQP_CHANNEL: Shape = binding!(
    "AMQP channel binding",
    [
        Field::new("is", &Shape::Enum(&["queue", "routingKey"])),
        Field::new(
            "exchange",
            &open_obj!(
                "AMQP exchange",
                [
                    Field::new("name", &NAME_255),
                    Field::new(
                        "type",
                        &Shape::Enum(&["topic", "direct", "fanout", "default", "headers"])
                    ),
                    Field::new("durable", &s::BOOL),
                    Field::new("autoDelete", &s::BOOL),
                    Field::new("vhost", &s::STR),
                ],
                &[]
            )
        ),
        Field::new(
            "queue",
            &open_obj!(
                "AMQP queue",
                [
                    Field::new("name", &NAME_255),
                    Field::new("durable", &s::BOOL),
                    Field::new("exclusive", &s::BOOL),
                    Field::new("autoDelete", &s::BOOL),
                    Field::new("vhost", &s::STR),
                ],
                &[]
            )
        ),
    ],
    &[],
    &[amqp_is]
);

/// `is: routingKey` goes with `exchange`, `is: queue` with `queue`, never both.
fn amqp_is(c: &mut Checker<'_>, at: Loc<'_>) {
    let is = at.value.get("is").and_then(Value::as_str);
    let exchange = at.value.get("exchange").is_some();
    let queue = at.value.get("queue").is_some();
    let routing = is.is_none_or(|v| v == "routingKey") && exchange && !queue;
    let to_queue = is.is_none_or(|v| v == "queue") && queue && !exchange;
    if !routing && !to_queue {
        let why = match is {
            Some("queue") => "with `is: queue` it needs `queue` and no `exchange`",
            Some("routingKey") => "with `is: routingKey` it needs `exchange` and no `queue`",
            _ => "it needs either `exchange` (`is: routingKey`) or `queue` (`is: queue`), not both",
        };
        c.error_at_key(
            codes::NO_MATCH,
            at,
            format!("invalid AMQP channel binding: {why}"),
        );
    }
}

static AMQP_OPERATION: Shape = binding!(
    "AMQP operation binding",
    [
        Field::new("expiration", &s::UINT),
        Field::new("userId", &s::STR),
        Field::new("cc", &s::STR_ARRAY),
        Field::new("priority", &s::INT),
        Field::new("deliveryMode", &Shape::Values(&["1", "2"])),
        Field::new("mandatory", &s::BOOL),
        Field::new("bcc", &s::STR_ARRAY),
        Field::new("timestamp", &s::BOOL),
        Field::new("ack", &s::BOOL),
    ]
);

static AMQP_MESSAGE: Shape = binding!(
    "AMQP message binding",
    [
        Field::new("contentEncoding", &s::STR),
        Field::new("messageType", &s::STR),
    ]
);

versioned!(
    amqp_channel,
    "AMQP channel binding",
    [("0.3.0", &AMQP_CHANNEL)]
);
versioned!(
    amqp_operation,
    "AMQP operation binding",
    [("0.3.0", &AMQP_OPERATION)]
);
versioned!(
    amqp_message,
    "AMQP message binding",
    [("0.3.0", &AMQP_MESSAGE)]
);

// ---------------------------------------------------------------------------------------------
// Anypoint MQ, Google Pub/Sub, IBM MQ, JMS, NATS, Pulsar.

static ANYPOINTMQ_CHANNEL: Shape = binding!(
    "Anypoint MQ channel binding",
    [
        Field::new("destination", &s::STR),
        Field::new(
            "destinationType",
            &Shape::Enum(&["exchange", "queue", "fifo-queue"])
        ),
    ]
);

static ANYPOINTMQ_MESSAGE: Shape = binding!(
    "Anypoint MQ message binding",
    [Field::new("headers", &SCHEMA)]
);

versioned!(
    anypointmq_channel,
    "Anypoint MQ channel binding",
    [("0.0.1", &ANYPOINTMQ_CHANNEL)]
);
versioned!(
    anypointmq_message,
    "Anypoint MQ message binding",
    [("0.0.1", &ANYPOINTMQ_MESSAGE)]
);

static GOOGLEPUBSUB_CHANNEL: Shape = binding!(
    "Google Cloud Pub/Sub channel binding",
    [
        Field::new("labels", &s::ANY_OBJECT),
        Field::new("messageRetentionDuration", &s::STR),
        Field::new(
            "messageStoragePolicy",
            &Shape::Object(&Obj {
                name: "Pub/Sub message storage policy",
                fields: &[Field::new("allowedPersistenceRegions", &s::STR_ARRAY)],
                required: &[],
                extensions: false,
                additional: None,
                checks: &[],
            })
        ),
        Field::new(
            "schemaSettings",
            &open_obj!(
                "Pub/Sub schema settings",
                [
                    Field::new("encoding", &s::STR),
                    Field::new("firstRevisionId", &s::STR),
                    Field::new("lastRevisionId", &s::STR),
                    Field::new("name", &s::STR),
                ],
                &["encoding", "name"]
            )
        ),
    ],
    &["schemaSettings"]
);

static GOOGLEPUBSUB_MESSAGE: Shape = binding!(
    "Google Cloud Pub/Sub message binding",
    [
        Field::new("attributes", &s::ANY_OBJECT),
        Field::new("orderingKey", &s::STR),
        Field::new(
            "schema",
            &open_obj!(
                "Pub/Sub message schema",
                [Field::new("name", &s::STR)],
                &["name"]
            )
        ),
    ]
);

versioned!(
    googlepubsub_channel,
    "Google Cloud Pub/Sub channel binding",
    [("0.2.0", &GOOGLEPUBSUB_CHANNEL)]
);
versioned!(
    googlepubsub_message,
    "Google Cloud Pub/Sub message binding",
    [("0.2.0", &GOOGLEPUBSUB_MESSAGE)]
);

static IBMMQ_SERVER: Shape = binding!(
    "IBM MQ server binding",
    [
        Field::new("groupId", &s::STR),
        Field::new("ccdtQueueManagerName", &s::STR),
        Field::new("cipherSpec", &s::STR),
        Field::new("multiEndpointServer", &s::BOOL),
        Field::new("heartBeatInterval", &int(0, 999_999)),
    ]
);

static IBMMQ_CHANNEL: Shape = binding!(
    "IBM MQ channel binding",
    [
        Field::new("destinationType", &Shape::Enum(&["topic", "queue"])),
        Field::new(
            "queue",
            &open_obj!(
                "IBM MQ queue",
                [
                    Field::new("objectName", &Shape::Custom(max_48)),
                    Field::new("isPartitioned", &s::BOOL),
                    Field::new("exclusive", &s::BOOL),
                ],
                &["objectName"]
            )
        ),
        Field::new(
            "topic",
            &open_obj!(
                "IBM MQ topic",
                [
                    Field::new("string", &Shape::Custom(max_10240)),
                    Field::new("objectName", &Shape::Custom(max_48)),
                    Field::new("durablePermitted", &s::BOOL),
                    Field::new("lastMsgRetained", &s::BOOL),
                ],
                &[]
            )
        ),
        Field::new("maxMsgLength", &int(0, 104_857_600)),
    ],
    &[],
    &[ibmmq_destination]
);

/// A topic destination has no `queue`; a queue destination has `queue` and no `topic`.
fn ibmmq_destination(c: &mut Checker<'_>, at: Loc<'_>) {
    let kind = at.value.get("destinationType").and_then(Value::as_str);
    let queue = at.value.get("queue").is_some();
    let topic = at.value.get("topic").is_some();
    let as_topic = kind.is_none_or(|k| k == "topic") && !queue;
    let as_queue = kind.is_none_or(|k| k == "queue") && queue && !topic;
    if as_topic == as_queue {
        let why = match kind {
            Some("queue") => "`destinationType: queue` needs `queue` and no `topic`",
            Some("topic") => "`destinationType: topic` allows no `queue`",
            _ => "a binding with `queue` may not also have `topic`",
        };
        c.error_at_key(
            codes::NO_MATCH,
            at,
            format!("invalid IBM MQ channel binding: {why}"),
        );
    }
}

static IBMMQ_MESSAGE: Shape = binding!(
    "IBM MQ message binding",
    [
        Field::new("type", &Shape::Enum(&["string", "jms", "binary"])),
        Field::new("headers", &s::STR),
        Field::new("description", &s::STR),
        Field::new("expiry", &s::UINT),
    ],
    &[],
    &[ibmmq_headers]
);

/// `headers` only go with `type: binary`; the official schema also needs `type` or `headers`.
fn ibmmq_headers(c: &mut Checker<'_>, at: Loc<'_>) {
    let kind = at.value.get("type").and_then(Value::as_str);
    let headers = at.value.get("headers").is_some();
    let matches = [
        kind.is_none_or(|k| k == "binary"),
        kind.is_none_or(|k| k == "jms") && !headers,
        kind.is_none_or(|k| k == "string") && !headers,
    ]
    .iter()
    .filter(|m| **m)
    .count();
    if matches != 1 {
        let why = if headers {
            "`headers` are only allowed with `type: binary`"
        } else {
            "say which `type` the message is (`string`, `jms` or `binary`)"
        };
        c.error_at_key(
            codes::NO_MATCH,
            at,
            format!("invalid IBM MQ message binding: {why}"),
        );
    }
}

versioned!(
    ibmmq_server,
    "IBM MQ server binding",
    [("0.1.0", &IBMMQ_SERVER)]
);
versioned!(
    ibmmq_channel,
    "IBM MQ channel binding",
    [("0.1.0", &IBMMQ_CHANNEL)]
);
versioned!(
    ibmmq_message,
    "IBM MQ message binding",
    [("0.1.0", &IBMMQ_MESSAGE)]
);

static JMS_SERVER: Shape = binding!(
    "JMS server binding",
    [
        Field::new("jmsConnectionFactory", &s::STR),
        Field::new(
            "properties",
            &Shape::Array {
                items: &open_obj!(
                    "JMS property",
                    [
                        Field::new("name", &s::STR),
                        Field::new(
                            "value",
                            &Shape::AnyOf(&[&s::STR, &s::BOOL, &s::NUM, &Shape::Values(&["null"])])
                        ),
                    ],
                    &["name", "value"]
                ),
                min_items: 0,
                unique: false,
            }
        ),
        Field::new("clientID", &s::STR),
    ],
    &["jmsConnectionFactory"]
);

static JMS_CHANNEL: Shape = binding!(
    "JMS channel binding",
    [
        Field::new("destination", &s::STR),
        Field::new("destinationType", &Shape::Enum(&["queue", "fifo-queue"])),
    ]
);

static JMS_MESSAGE: Shape = binding!("JMS message binding", [Field::new("headers", &SCHEMA)]);

versioned!(jms_server, "JMS server binding", [("0.0.1", &JMS_SERVER)]);
versioned!(
    jms_channel,
    "JMS channel binding",
    [("0.0.1", &JMS_CHANNEL)]
);
versioned!(
    jms_message,
    "JMS message binding",
    [("0.0.1", &JMS_MESSAGE)]
);

static NATS_OPERATION: Shape = binding!("NATS operation binding", [Field::new("queue", &NAME_255)]);

versioned!(
    nats_operation,
    "NATS operation binding",
    [("0.1.0", &NATS_OPERATION)]
);

static PULSAR_SERVER: Shape = binding!("Pulsar server binding", [Field::new("tenant", &s::STR)]);

static PULSAR_CHANNEL: Shape = binding!(
    "Pulsar channel binding",
    [
        Field::new("namespace", &s::STR),
        Field::new(
            "persistence",
            &Shape::Enum(&["persistent", "non-persistent"])
        ),
        Field::new("compaction", &s::UINT),
        Field::new("geo-replication", &s::STR_ARRAY),
        Field::new(
            "retention",
            &Shape::Object(&Obj {
                name: "Pulsar retention",
                fields: &[Field::new("time", &s::UINT), Field::new("size", &s::UINT),],
                required: &[],
                extensions: false,
                additional: None,
                checks: &[],
            })
        ),
        Field::new("ttl", &s::INT),
        Field::new("deduplication", &s::BOOL),
    ],
    &["namespace", "persistence"]
);

versioned!(
    pulsar_server,
    "Pulsar server binding",
    [("0.1.0", &PULSAR_SERVER)]
);
versioned!(
    pulsar_channel,
    "Pulsar channel binding",
    [("0.1.0", &PULSAR_CHANNEL)]
);

// ---------------------------------------------------------------------------------------------
// Amazon SNS and SQS.

static AWS_STATEMENTS: Shape = open_obj!(
    "policy",
    [Field::new(
        "statements",
        &Shape::Array {
            items: &open_obj!(
                "policy statement",
                [
                    Field::new("effect", &Shape::Enum(&["Allow", "Deny"])),
                    Field::new("principal", &STR_OR_STRINGS),
                    Field::new("action", &STR_OR_STRINGS),
                ],
                &["effect", "principal", "action"]
            ),
            min_items: 0,
            unique: false,
        }
    )],
    &["statements"]
);

static SNS_IDENTIFIER: Shape = open_obj!(
    "SNS identifier",
    [
        Field::new("url", &s::STR),
        Field::new("email", &s::STR),
        Field::new("phone", &s::STR),
        Field::new("arn", &s::STR),
        Field::new("name", &s::STR),
    ],
    &[]
);

static SNS_DELIVERY_POLICY: Shape = open_obj!(
    "SNS delivery policy",
    [
        Field::new("minDelayTarget", &s::INT),
        Field::new("maxDelayTarget", &s::INT),
        Field::new("numRetries", &s::INT),
        Field::new("numNoDelayRetries", &s::INT),
        Field::new("numMinDelayRetries", &s::INT),
        Field::new("numMaxDelayRetries", &s::INT),
        Field::new(
            "backoffFunction",
            &Shape::Enum(&["arithmetic", "exponential", "geometric", "linear"])
        ),
        Field::new("maxReceivesPerSecond", &s::INT),
    ],
    &[]
);

static SNS_CHANNEL: Shape = binding!(
    "SNS channel binding",
    [
        Field::new("name", &s::STR),
        Field::new(
            "ordering",
            &open_obj!(
                "SNS ordering",
                [
                    Field::new("type", &Shape::Enum(&["standard", "FIFO"])),
                    Field::new("contentBasedDeduplication", &s::BOOL),
                ],
                &["type"]
            )
        ),
        Field::new("policy", &AWS_STATEMENTS),
        Field::new("tags", &s::ANY_OBJECT),
    ],
    &["name"]
);

static SNS_OPERATION: Shape = binding!(
    "SNS operation binding",
    [
        Field::new("topic", &SNS_IDENTIFIER),
        Field::new(
            "consumers",
            &Shape::Array {
                items: &open_obj!(
                    "SNS consumer",
                    [
                        Field::new(
                            "protocol",
                            &Shape::Enum(&[
                                "http",
                                "https",
                                "email",
                                "email-json",
                                "sms",
                                "sqs",
                                "application",
                                "lambda",
                                "firehose",
                            ])
                        ),
                        Field::new("endpoint", &SNS_IDENTIFIER),
                        Field::new(
                            "filterPolicy",
                            &Shape::Map(&MapShape {
                                name: "SNS filter policy",
                                keys: Keys::Any,
                                values: &Shape::AnyOf(&[&s::STR_ARRAY, &s::STR, &s::ANY_OBJECT]),
                                extensions: true,
                            })
                        ),
                        Field::new(
                            "filterPolicyScope",
                            &Shape::Enum(&["MessageAttributes", "MessageBody"])
                        ),
                        Field::new("rawMessageDelivery", &s::BOOL),
                        Field::new(
                            "redrivePolicy",
                            &open_obj!(
                                "SNS redrive policy",
                                [
                                    Field::new("deadLetterQueue", &SNS_IDENTIFIER),
                                    Field::new("maxReceiveCount", &s::INT),
                                ],
                                &["deadLetterQueue"]
                            )
                        ),
                        Field::new("deliveryPolicy", &SNS_DELIVERY_POLICY),
                        Field::new("displayName", &s::STR),
                    ],
                    &["protocol", "endpoint", "rawMessageDelivery"]
                ),
                min_items: 1,
                unique: false,
            }
        ),
        Field::new("deliveryPolicy", &SNS_DELIVERY_POLICY),
    ],
    &["consumers"]
);

versioned!(
    sns_channel,
    "SNS channel binding",
    [("0.1.0", &SNS_CHANNEL)]
);
versioned!(
    sns_operation,
    "SNS operation binding",
    [("0.1.0", &SNS_OPERATION)]
);

/// Fields of an SQS queue definition.
macro_rules! sqs_queue {
    ($name:literal, [$($extra:expr),*], $required:expr) => {
        open_obj!(
            $name,
            [
                $($extra,)*
                Field::new("name", &s::STR),
                Field::new("fifoQueue", &s::BOOL),
                Field::new("deduplicationScope", &Shape::Enum(&["queue", "messageGroup"])),
                Field::new(
                    "fifoThroughputLimit",
                    &Shape::Enum(&["perQueue", "perMessageGroupId"])
                ),
                Field::new("deliveryDelay", &int(0, 900)),
                Field::new("visibilityTimeout", &int(0, 43_200)),
                Field::new("receiveMessageWaitTime", &s::INT),
                Field::new("messageRetentionPeriod", &int(60, 1_209_600)),
                Field::new(
                    "redrivePolicy",
                    &open_obj!(
                        "SQS redrive policy",
                        [
                            Field::new(
                                "deadLetterQueue",
                                &open_obj!(
                                    "SQS identifier",
                                    [Field::new("arn", &s::STR), Field::new("name", &s::STR)],
                                    &[]
                                )
                            ),
                            Field::new("maxReceiveCount", &s::INT),
                        ],
                        &["deadLetterQueue"]
                    )
                ),
                Field::new("policy", &AWS_STATEMENTS),
                Field::new("tags", &s::ANY_OBJECT),
            ],
            $required
        )
    };
}

static SQS_CHANNEL_QUEUE: Shape = sqs_queue!("SQS queue", [], &["name", "fifoQueue"]);

static SQS_CHANNEL: Shape = binding!(
    "SQS channel binding",
    [
        Field::new("queue", &SQS_CHANNEL_QUEUE),
        Field::new("deadLetterQueue", &SQS_CHANNEL_QUEUE),
    ],
    &["queue"]
);

static SQS_OPERATION: Shape = binding!(
    "SQS operation binding",
    [Field::new(
        "queues",
        &Shape::Array {
            items: &sqs_queue!("SQS queue", [Field::new("$ref", &s::STR)], &["name"]),
            min_items: 0,
            unique: false,
        }
    )],
    &["queues"]
);

versioned!(
    sqs_channel,
    "SQS channel binding",
    [("0.2.0", &SQS_CHANNEL)]
);
versioned!(
    sqs_operation,
    "SQS operation binding",
    [("0.2.0", &SQS_OPERATION)]
);

// ---------------------------------------------------------------------------------------------
// Solace.

static SOLACE_SERVER_0_2: Shape =
    binding!("Solace server binding", [Field::new("msvVpn", &s::STR)]);
static SOLACE_SERVER_0_3: Shape =
    binding!("Solace server binding", [Field::new("msgVpn", &s::STR)]);
static SOLACE_SERVER_0_4: Shape = binding!(
    "Solace server binding",
    [
        Field::new("msgVpn", &s::STR),
        Field::new("clientName", &Shape::Custom(len_1_160)),
    ]
);

static DELIVERY_MODE: Shape = Shape::Enum(&["direct", "persistent"]);
static ACCESS_TYPE: Shape = Shape::Enum(&["exclusive", "nonexclusive"]);

/// A Solace destination, by `destinationType`; `$queue` lists the queue's fields.
macro_rules! solace_destination {
    ([$($queue:expr),*]) => {
        Shape::Tagged {
            field: "destinationType",
            variants: &[
                (
                    "queue",
                    &open_obj!(
                        "Solace queue destination",
                        [
                            Field::new("destinationType", &s::STR),
                            Field::new("deliveryMode", &DELIVERY_MODE),
                            Field::new(
                                "queue",
                                &open_obj!(
                                    "Solace queue",
                                    [
                                        Field::new("name", &s::STR),
                                        Field::new("topicSubscriptions", &s::STR_ARRAY),
                                        Field::new("accessType", &ACCESS_TYPE),
                                        $($queue),*
                                    ],
                                    &[]
                                )
                            ),
                        ],
                        &[]
                    ),
                ),
                (
                    "topic",
                    &open_obj!(
                        "Solace topic destination",
                        [
                            Field::new("destinationType", &s::STR),
                            Field::new("deliveryMode", &DELIVERY_MODE),
                            Field::new("topicSubscriptions", &s::STR_ARRAY),
                        ],
                        &[]
                    ),
                ),
            ],
            name: "Solace destination",
        }
    };
}

/// Solace operation bindings allow no extensions.
macro_rules! solace_operation {
    ([$($field:expr),*], [$($queue:expr),*]) => {
        Shape::Object(&Obj {
            name: "Solace operation binding",
            fields: &[
                Field::new(
                    "destinations",
                    &Shape::Array {
                        items: &solace_destination!([$($queue),*]),
                        min_items: 0,
                        unique: false,
                    },
                ),
                $($field,)*
                version_field(),
            ],
            required: &[],
            extensions: false,
            additional: None,
            checks: &[],
        })
    };
}

static SOLACE_OPERATION_0_2: Shape = solace_operation!([], []);
static SOLACE_OPERATION_0_3: Shape = solace_operation!(
    [],
    [
        Field::new("maxTtl", &s::STR),
        Field::new("maxMsgSpoolUsage", &s::STR)
    ]
);
static SOLACE_OPERATION_0_4: Shape = solace_operation!(
    [
        Field::new("timeToLive", &s::INT),
        Field::new("priority", &int(0, 255)),
        Field::new("dmqEligible", &s::BOOL)
    ],
    [
        Field::new("maxTtl", &s::STR),
        Field::new("maxMsgSpoolUsage", &s::STR)
    ]
);

versioned!(
    solace_server,
    "Solace server binding",
    [
        ("0.4.0", &SOLACE_SERVER_0_4),
        ("0.3.0", &SOLACE_SERVER_0_3),
        ("0.2.0", &SOLACE_SERVER_0_2)
    ]
);
versioned!(
    solace_operation,
    "Solace operation binding",
    [
        ("0.4.0", &SOLACE_OPERATION_0_4),
        ("0.3.0", &SOLACE_OPERATION_0_3),
        ("0.2.0", &SOLACE_OPERATION_0_2)
    ]
);

// ---------------------------------------------------------------------------------------------
// ROS 2 (3.1).

static ROS2_SERVER: Shape = Shape::Object(&Obj {
    name: "ROS 2 server binding",
    fields: &[
        Field::new("domainId", &int(0, 231)),
        Field::new("rmwImplementation", &s::STR),
        version_field(),
    ],
    required: &[],
    extensions: true,
    additional: Some(&s::ANY),
    checks: &[],
});

static ROS2_OPERATION: Shape = binding!(
    "ROS 2 operation binding",
    [
        Field::new("node", &s::STR),
        Field::new(
            "role",
            &Shape::Enum(&[
                "publisher",
                "action_client",
                "service_client",
                "subscriber",
                "action_server",
                "service_server",
            ])
        ),
        Field::new(
            "qosPolicies",
            &open_obj!(
                "ROS 2 QoS policies",
                [
                    Field::new("deadline", &s::INT),
                    Field::new("durability", &Shape::Enum(&["transient_local", "volatile"])),
                    Field::new(
                        "history",
                        &Shape::Enum(&["keep_last", "keep_all", "unknown"])
                    ),
                    Field::new("leaseDuration", &s::INT),
                    Field::new("lifespan", &s::INT),
                    Field::new("liveliness", &Shape::Enum(&["automatic", "manual"])),
                    Field::new("reliability", &Shape::Enum(&["best_effort", "realiable"])),
                ],
                &[]
            )
        ),
    ],
    &["role", "node"]
);

versioned!(
    ros2_server,
    "ROS 2 server binding",
    [("0.1.0", &ROS2_SERVER)]
);
versioned!(
    ros2_operation,
    "ROS 2 operation binding",
    [("0.1.0", &ROS2_OPERATION)]
);

// ---------------------------------------------------------------------------------------------
// Bindings Objects.

/// A protocol whose bindings of this kind the specification does not describe.
const fn open(name: &'static str) -> Field {
    Field::new(name, &s::ANY)
}

/// A protocol whose bindings of this kind are checked.
const fn checked(name: &'static str, f: &'static Shape) -> Field {
    Field::new(name, f)
}

static SERVER_FIELDS: &[Field] = &[
    open("http"),
    open("ws"),
    open("amqp"),
    open("amqp1"),
    checked("mqtt", &Shape::Custom(mqtt_server)),
    checked("kafka", &Shape::Custom(kafka_server)),
    open("anypointmq"),
    open("nats"),
    checked("jms", &Shape::Custom(jms_server)),
    open("sns"),
    open("sqs"),
    open("stomp"),
    open("redis"),
    checked("ibmmq", &Shape::Custom(ibmmq_server)),
    checked("solace", &Shape::Custom(solace_server)),
    open("googlepubsub"),
    checked("pulsar", &Shape::Custom(pulsar_server)),
    checked("ros2", &Shape::Custom(ros2_server)).since(V3_1),
];

static CHANNEL_FIELDS: &[Field] = &[
    open("http"),
    checked("ws", &Shape::Custom(ws_channel)),
    checked("amqp", &Shape::Custom(amqp_channel)),
    open("amqp1"),
    open("mqtt"),
    checked("kafka", &Shape::Custom(kafka_channel)),
    checked("anypointmq", &Shape::Custom(anypointmq_channel)),
    open("nats"),
    checked("jms", &Shape::Custom(jms_channel)),
    checked("sns", &Shape::Custom(sns_channel)),
    checked("sqs", &Shape::Custom(sqs_channel)),
    open("stomp"),
    open("redis"),
    checked("ibmmq", &Shape::Custom(ibmmq_channel)),
    open("solace"),
    checked("googlepubsub", &Shape::Custom(googlepubsub_channel)),
    checked("pulsar", &Shape::Custom(pulsar_channel)),
];

static OPERATION_FIELDS: &[Field] = &[
    checked("http", &Shape::Custom(http_operation)),
    open("ws"),
    checked("amqp", &Shape::Custom(amqp_operation)),
    open("amqp1"),
    checked("mqtt", &Shape::Custom(mqtt_operation)),
    checked("kafka", &Shape::Custom(kafka_operation)),
    open("anypointmq"),
    checked("nats", &Shape::Custom(nats_operation)),
    open("jms"),
    checked("sns", &Shape::Custom(sns_operation)),
    checked("sqs", &Shape::Custom(sqs_operation)),
    open("stomp"),
    open("redis"),
    open("ibmmq"),
    checked("solace", &Shape::Custom(solace_operation)),
    open("googlepubsub"),
    checked("ros2", &Shape::Custom(ros2_operation)).since(V3_1),
];

static MESSAGE_FIELDS: &[Field] = &[
    checked("http", &Shape::Custom(http_message)),
    open("ws"),
    checked("amqp", &Shape::Custom(amqp_message)),
    open("amqp1"),
    checked("mqtt", &Shape::Custom(mqtt_message)),
    checked("kafka", &Shape::Custom(kafka_message)),
    checked("anypointmq", &Shape::Custom(anypointmq_message)),
    open("nats"),
    checked("jms", &Shape::Custom(jms_message)),
    open("sns"),
    open("sqs"),
    open("stomp"),
    open("redis"),
    checked("ibmmq", &Shape::Custom(ibmmq_message)),
    open("solace"),
    checked("googlepubsub", &Shape::Custom(googlepubsub_message)),
];

/// The 3.x Bindings Object of one kind (closed) and the 2.x one (open).
macro_rules! bindings_objects {
    ($v3:ident, $v2:ident, $name:literal, $fields:expr) => {
        static $v3: Shape = Shape::Object(&Obj {
            name: $name,
            fields: $fields,
            required: &[],
            extensions: true,
            additional: None,
            checks: &[],
        });
        static $v2: Shape = Shape::Object(&Obj {
            name: $name,
            fields: $fields,
            required: &[],
            extensions: true,
            additional: Some(&s::ANY),
            checks: &[],
        });
    };
}

bindings_objects!(
    SERVER_V3,
    SERVER_V2,
    "Server Bindings Object",
    SERVER_FIELDS
);
bindings_objects!(
    CHANNEL_V3,
    CHANNEL_V2,
    "Channel Bindings Object",
    CHANNEL_FIELDS
);
bindings_objects!(
    OPERATION_V3,
    OPERATION_V2,
    "Operation Bindings Object",
    OPERATION_FIELDS
);
bindings_objects!(
    MESSAGE_V3,
    MESSAGE_V2,
    "Message Bindings Object",
    MESSAGE_FIELDS
);

/// In 3.x, checks the bindings; in 2.x, checks them too but reports problems as warnings.
fn bindings(c: &mut Checker<'_>, at: Loc<'_>, v3: &'static Shape, v2: &'static Shape) {
    if c.version.is_v3() {
        return c.check(at, v3);
    }
    if !at.value.is_object() {
        return c.check(at, &s::ANY_OBJECT);
    }
    let mut trial = c.trial();
    trial.run(at, v2);
    for mut d in trial.diags {
        if d.severity == Severity::Error {
            d.severity = Severity::Warning;
            let note = "a warning because AsyncAPI 2.x leaves bindings unchecked";
            d.help = Some(match d.help.take() {
                Some(h) => format!("{h}; {note}"),
                None => note.to_owned(),
            });
        }
        c.diags.push(d);
    }
}

fn server(c: &mut Checker<'_>, at: Loc<'_>) {
    bindings(c, at, &SERVER_V3, &SERVER_V2)
}

fn channel(c: &mut Checker<'_>, at: Loc<'_>) {
    bindings(c, at, &CHANNEL_V3, &CHANNEL_V2)
}

fn operation(c: &mut Checker<'_>, at: Loc<'_>) {
    bindings(c, at, &OPERATION_V3, &OPERATION_V2)
}

fn message(c: &mut Checker<'_>, at: Loc<'_>) {
    bindings(c, at, &MESSAGE_V3, &MESSAGE_V2)
}

/// Server Bindings Object or a Reference Object.
pub static SERVER_OR_REF: Shape = Shape::RefOr(&Shape::Custom(server));
/// Channel Bindings Object or a Reference Object.
pub static CHANNEL_OR_REF: Shape = Shape::RefOr(&Shape::Custom(channel));
/// Operation Bindings Object or a Reference Object.
pub static OPERATION_OR_REF: Shape = Shape::RefOr(&Shape::Custom(operation));
/// Message Bindings Object or a Reference Object.
pub static MESSAGE_OR_REF: Shape = Shape::RefOr(&Shape::Custom(message));

// ---------------------------------------------------------------------------------------------
// Editor support (`crate::ide`): the shapes behind the custom checks above.

/// What a Bindings Object is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BindingKind {
    /// A server's bindings.
    Server,
    /// A channel's bindings.
    Channel,
    /// An operation's bindings.
    Operation,
    /// A message's bindings.
    Message,
}

/// The Bindings Object of one kind, as a document of this family checks it.
pub(crate) fn bindings_object(kind: BindingKind, v3: bool) -> &'static Shape {
    match (kind, v3) {
        (BindingKind::Server, true) => &SERVER_V3,
        (BindingKind::Server, false) => &SERVER_V2,
        (BindingKind::Channel, true) => &CHANNEL_V3,
        (BindingKind::Channel, false) => &CHANNEL_V2,
        (BindingKind::Operation, true) => &OPERATION_V3,
        (BindingKind::Operation, false) => &OPERATION_V2,
        (BindingKind::Message, true) => &MESSAGE_V3,
        (BindingKind::Message, false) => &MESSAGE_V2,
    }
}

type Versions = &'static [(&'static str, &'static Shape)];

static IDE_BINDINGS: &[(BindingKind, &str, Versions)] = {
    use BindingKind::*;
    &[
        (
            Server,
            "kafka",
            &[
                ("0.5.0", &KAFKA_SERVER),
                ("0.4.0", &KAFKA_SERVER),
                ("0.3.0", &KAFKA_SERVER),
            ],
        ),
        (
            Channel,
            "kafka",
            &[
                ("0.5.0", &KAFKA_CHANNEL_0_5),
                ("0.4.0", &KAFKA_CHANNEL_0_4),
                ("0.3.0", &KAFKA_CHANNEL_0_3),
            ],
        ),
        (
            Operation,
            "kafka",
            &[
                ("0.5.0", &KAFKA_OPERATION),
                ("0.4.0", &KAFKA_OPERATION),
                ("0.3.0", &KAFKA_OPERATION),
            ],
        ),
        (
            Message,
            "kafka",
            &[
                ("0.5.0", &KAFKA_MESSAGE_0_5),
                ("0.4.0", &KAFKA_MESSAGE_0_4),
                ("0.3.0", &KAFKA_MESSAGE_0_3),
            ],
        ),
        (Server, "mqtt", &[("0.2.0", &MQTT_SERVER)]),
        (Operation, "mqtt", &[("0.2.0", &MQTT_OPERATION)]),
        (Message, "mqtt", &[("0.2.0", &MQTT_MESSAGE)]),
        (Channel, "ws", &[("0.1.0", &WS_CHANNEL)]),
        (
            Operation,
            "http",
            &[("0.3.0", &HTTP_OPERATION), ("0.2.0", &HTTP_OPERATION)],
        ),
        (
            Message,
            "http",
            &[("0.3.0", &HTTP_MESSAGE_0_3), ("0.2.0", &HTTP_MESSAGE_0_2)],
        ),
        (Channel, "amqp", &[("0.3.0", &AMQP_CHANNEL)]),
        (Operation, "amqp", &[("0.3.0", &AMQP_OPERATION)]),
        (Message, "amqp", &[("0.3.0", &AMQP_MESSAGE)]),
        (Channel, "anypointmq", &[("0.0.1", &ANYPOINTMQ_CHANNEL)]),
        (Message, "anypointmq", &[("0.0.1", &ANYPOINTMQ_MESSAGE)]),
        (Channel, "googlepubsub", &[("0.2.0", &GOOGLEPUBSUB_CHANNEL)]),
        (Message, "googlepubsub", &[("0.2.0", &GOOGLEPUBSUB_MESSAGE)]),
        (Server, "ibmmq", &[("0.1.0", &IBMMQ_SERVER)]),
        (Channel, "ibmmq", &[("0.1.0", &IBMMQ_CHANNEL)]),
        (Message, "ibmmq", &[("0.1.0", &IBMMQ_MESSAGE)]),
        (Server, "jms", &[("0.0.1", &JMS_SERVER)]),
        (Channel, "jms", &[("0.0.1", &JMS_CHANNEL)]),
        (Message, "jms", &[("0.0.1", &JMS_MESSAGE)]),
        (Operation, "nats", &[("0.1.0", &NATS_OPERATION)]),
        (Server, "pulsar", &[("0.1.0", &PULSAR_SERVER)]),
        (Channel, "pulsar", &[("0.1.0", &PULSAR_CHANNEL)]),
        (Channel, "sns", &[("0.1.0", &SNS_CHANNEL)]),
        (Operation, "sns", &[("0.1.0", &SNS_OPERATION)]),
        (Channel, "sqs", &[("0.2.0", &SQS_CHANNEL)]),
        (Operation, "sqs", &[("0.2.0", &SQS_OPERATION)]),
        (
            Server,
            "solace",
            &[
                ("0.4.0", &SOLACE_SERVER_0_4),
                ("0.3.0", &SOLACE_SERVER_0_3),
                ("0.2.0", &SOLACE_SERVER_0_2),
            ],
        ),
        (
            Operation,
            "solace",
            &[
                ("0.4.0", &SOLACE_OPERATION_0_4),
                ("0.3.0", &SOLACE_OPERATION_0_3),
                ("0.2.0", &SOLACE_OPERATION_0_2),
            ],
        ),
        (Server, "ros2", &[("0.1.0", &ROS2_SERVER)]),
        (Operation, "ros2", &[("0.1.0", &ROS2_OPERATION)]),
    ]
};

/// The described versions (newest first) of one protocol's binding of one kind.
pub(crate) fn protocol_binding_versions(kind: BindingKind, protocol: &str) -> Versions {
    IDE_BINDINGS
        .iter()
        .find(|(k, p, _)| *k == kind && *p == protocol)
        .map_or(&[], |(_, _, v)| v)
}
