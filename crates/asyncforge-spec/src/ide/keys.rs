//! Which keys are valid where: a walk over the validator's own structure tables
//! ([`crate::structure`]), plus our one-line description of each key.

use crate::structure::bindings::{self, BindingKind};
use crate::structure::{MapShape, Obj, Shape, is_extension, schema, v2, v3};
use crate::version::Version;

/// What the structure tables say about one place of a document.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    /// An object with known fields (several when the place has alternatives).
    Objs(Vec<&'static Obj>),
    /// A map from user-chosen names to values.
    Map(&'static MapShape),
    /// A list.
    Array(&'static Shape),
    /// A scalar.
    Leaf(&'static Shape),
    /// Only a Reference Object (`$ref`) is allowed.
    RefOnly,
    /// Nothing known (free-form or extension content).
    Unknown,
}

/// A resolved place: the node, whether a `$ref` may stand there, and the field that led there.
#[derive(Debug, Clone)]
pub(crate) struct Place {
    pub node: Node,
    pub ref_allowed: bool,
    /// The last object field walked through (`messages` for `components/messages/X`).
    pub field: String,
    /// The name of the object or map that holds the place.
    pub parent: &'static str,
}

/// One key valid in an object.
#[derive(Debug, Clone)]
pub(crate) struct KeyInfo {
    pub name: &'static str,
    pub shape: &'static Shape,
    pub object: &'static str,
    pub required: bool,
}

fn document(v: Version) -> &'static Shape {
    if v.is_v2() {
        &v2::DOCUMENT
    } else {
        &v3::DOCUMENT
    }
}

fn binding_kind(field: &str, parent: &str) -> Option<BindingKind> {
    let by_field = match field {
        "serverBindings" => Some(BindingKind::Server),
        "channelBindings" => Some(BindingKind::Channel),
        "operationBindings" => Some(BindingKind::Operation),
        "messageBindings" => Some(BindingKind::Message),
        _ => None,
    };
    by_field.or_else(|| {
        if parent.contains("Server") {
            Some(BindingKind::Server)
        } else if parent.contains("Channel") {
            Some(BindingKind::Channel)
        } else if parent.contains("Operation") {
            Some(BindingKind::Operation)
        } else if parent.contains("Message") {
            Some(BindingKind::Message)
        } else {
            None
        }
    })
}

/// Fields whose free-form (`Any`) or custom-checked value is a schema.
fn schema_field(field: &str) -> bool {
    matches!(
        field,
        "payload"
            | "headers"
            | "schema"
            | "schemas"
            | "properties"
            | "patternProperties"
            | "additionalProperties"
            | "items"
            | "additionalItems"
            | "contains"
            | "propertyNames"
            | "not"
            | "if"
            | "then"
            | "else"
            | "allOf"
            | "anyOf"
            | "oneOf"
            | "definitions"
            | "$defs"
            | "dependencies"
            | "key"
            | "query"
    )
}

struct Walker<'a> {
    v: Version,
    /// Scalar values of the final mapping's keys (for `type` and `bindingVersion`).
    values: &'a dyn Fn(&str) -> Option<String>,
}

impl Walker<'_> {
    fn normalize(
        &self,
        shape: &'static Shape,
        field: &str,
        parent: &str,
        last: bool,
    ) -> (Node, bool) {
        let mut ref_allowed = false;
        let mut shape = shape;
        while let Shape::RefOr(inner) = shape {
            ref_allowed = true;
            shape = inner;
        }
        let node = match shape {
            Shape::Any | Shape::Custom(_)
                if schema_field(field)
                    && !(self.v.is_v2() && field == "oneOf" && parent.contains("Operation")) =>
            {
                if matches!(shape, Shape::Custom(_))
                    && self.v.is_v2()
                    && field == "oneOf"
                    && parent.starts_with("Message")
                {
                    return (self.message_forms(), true);
                }
                ref_allowed = true;
                self.normalize(&schema::SCHEMA, field, parent, last).0
            }
            Shape::Any => Node::Unknown,
            Shape::Str { .. }
            | Shape::Bool
            | Shape::Int { .. }
            | Shape::Num { .. }
            | Shape::Enum(_)
            | Shape::Values(_) => Node::Leaf(shape),
            Shape::Object(o) => Node::Objs(vec![o]),
            Shape::Map(m) => Node::Map(m),
            Shape::Array { items, .. } => Node::Array(items),
            Shape::RefOr(_) => Node::Unknown,
            Shape::AnyOf(alts) => {
                let mut objs = Vec::new();
                let mut other = None;
                for a in alts.iter() {
                    match self.normalize(a, field, parent, last) {
                        (Node::Objs(o), r) => {
                            objs.extend(o);
                            ref_allowed |= r;
                        }
                        (n @ (Node::Map(_) | Node::Array(_)), _) if other.is_none() => {
                            other = Some(n)
                        }
                        (n @ Node::Leaf(_), _) if other.is_none() => other = Some(n),
                        _ => {}
                    }
                }
                if objs.is_empty() {
                    other.unwrap_or(Node::Unknown)
                } else {
                    Node::Objs(objs)
                }
            }
            Shape::Tagged {
                field: tag,
                variants,
                ..
            } => {
                let chosen = if last { (self.values)(tag) } else { None };
                let picked: Vec<&'static Shape> = match chosen
                    .as_deref()
                    .and_then(|t| variants.iter().find(|(n, _)| *n == t))
                {
                    Some((_, s)) => vec![s],
                    None => variants.iter().map(|(_, s)| *s).collect(),
                };
                let mut objs = Vec::new();
                for s in picked {
                    match s {
                        Shape::Object(o) => objs.push(*o),
                        Shape::Custom(_) => {
                            for f in v2::ide_http_scheme_forms() {
                                if let Shape::Object(o) = f {
                                    objs.push(*o);
                                }
                            }
                        }
                        _ => {}
                    }
                }
                dedup_objs(&mut objs);
                Node::Objs(objs)
            }
            Shape::Custom(_) => self.custom(field, parent, last),
        };
        (node, ref_allowed)
    }

    fn message_forms(&self) -> Node {
        let mut objs = Vec::new();
        for s in v2::ide_message_forms() {
            if let Shape::Object(o) = s {
                objs.push(*o);
            }
        }
        Node::Objs(objs)
    }

    /// The shape behind a custom check, recognised by the field that leads to it.
    fn custom(&self, field: &str, parent: &str, last: bool) -> Node {
        let v3 = self.v.is_v3();
        if parent.contains("Bindings Object") {
            let Some(kind) = binding_kind("", parent) else {
                return Node::Unknown;
            };
            let versions = bindings::protocol_binding_versions(kind, field);
            let wanted = if last {
                (self.values)("bindingVersion")
            } else {
                None
            };
            let shape = wanted
                .and_then(|w| versions.iter().find(|(n, _)| *n == w))
                .or(versions.first())
                .map(|(_, s)| *s);
            return match shape {
                Some(s) => self.normalize(s, field, parent, last).0,
                None => Node::Unknown,
            };
        }
        match field {
            "bindings" | "serverBindings" | "channelBindings" | "operationBindings"
            | "messageBindings" => match binding_kind(field, parent) {
                Some(kind) => {
                    self.normalize(bindings::bindings_object(kind, v3), field, parent, last)
                        .0
                }
                None => Node::Unknown,
            },
            "channels" if !v3 => Node::Map(match v2::ide_channels() {
                Shape::Map(m) => m,
                _ => return Node::Unknown,
            }),
            "message" | "messages" | "oneOf" if !v3 => self.message_forms(),
            "channel" | "messages" | "servers" if v3 => Node::RefOnly,
            "securitySchemes" | "security" => {
                self.normalize(v2::ide_security_scheme(self.v), field, parent, last)
                    .0
            }
            "externalDocs" => self.normalize(&v2::EXTERNAL_DOCS, field, parent, last).0,
            _ => Node::Unknown,
        }
    }

    fn step(
        &self,
        node: &Node,
        seg: &str,
        field: &str,
        parent: &'static str,
    ) -> Option<(&'static Shape, String, &'static str)> {
        match node {
            Node::Objs(objs) => {
                for o in objs {
                    if let Some(f) = o
                        .fields
                        .iter()
                        .find(|f| f.name == seg && f.since <= self.v && self.v <= f.until)
                    {
                        return Some((f.shape, seg.to_owned(), o.name));
                    }
                }
                if is_extension(seg) {
                    return None;
                }
                objs.iter()
                    .find_map(|o| o.additional.map(|a| (a, field.to_owned(), o.name)))
            }
            Node::Map(m) => {
                if m.extensions && is_extension(seg) {
                    return None;
                }
                Some((m.values, field.to_owned(), m.name))
            }
            Node::Array(items) => Some((items, field.to_owned(), parent)),
            _ => None,
        }
    }
}

fn dedup_objs(objs: &mut Vec<&'static Obj>) {
    let mut seen: Vec<*const Obj> = Vec::new();
    objs.retain(|o| {
        let p: *const Obj = *o;
        if seen.contains(&p) {
            false
        } else {
            seen.push(p);
            true
        }
    });
}

/// Resolves a key path from the document's root. `values` gives the scalar values written in
/// the final mapping (used to pick a security scheme's or a binding's variant).
pub(crate) fn resolve(
    v: Version,
    path: &[String],
    values: &dyn Fn(&str) -> Option<String>,
) -> Place {
    let w = Walker { v, values };
    let mut field = String::new();
    let mut parent: &'static str = "";
    let (mut node, mut ref_allowed) = w.normalize(document(v), "", "", path.is_empty());
    for (i, seg) in path.iter().enumerate() {
        let Some((shape, f, p)) = w.step(&node, seg, &field, parent) else {
            return Place {
                node: Node::Unknown,
                ref_allowed: false,
                field,
                parent,
            };
        };
        field = f;
        parent = p;
        let (n, r) = w.normalize(shape, &field, parent, i + 1 == path.len());
        node = n;
        ref_allowed = r;
    }
    Place {
        node,
        ref_allowed,
        field,
        parent,
    }
}

/// The keys an object place allows in this version (extensions aside).
pub(crate) fn keys_of(v: Version, node: &Node) -> Vec<KeyInfo> {
    let mut out: Vec<KeyInfo> = Vec::new();
    if let Node::Objs(objs) = node {
        for o in objs {
            for f in o.fields {
                if f.since <= v
                    && v <= f.until
                    && !out.iter().any(|k| k.name == f.name)
                    && !f.name.starts_with("x-")
                {
                    out.push(KeyInfo {
                        name: f.name,
                        shape: f.shape,
                        object: o.name,
                        required: o.required.contains(&f.name),
                    });
                }
            }
        }
    }
    out
}

/// The key `name` of the mapping at `path`, when the tables know it.
pub(crate) fn key_at(
    v: Version,
    path: &[String],
    name: &str,
    values: &dyn Fn(&str) -> Option<String>,
) -> Option<KeyInfo> {
    let place = resolve(v, path, values);
    keys_of(v, &place.node).into_iter().find(|k| k.name == name)
}

/// A short type label for a shape.
pub(crate) fn type_label(shape: &Shape) -> String {
    match shape {
        Shape::Any => "any value".into(),
        Shape::Str {
            format: Some(f), ..
        } => format!(
            "string ({})",
            match f {
                crate::structure::Format::Uri => "URI",
                crate::structure::Format::UriReference => "URI reference",
                crate::structure::Format::Email => "e-mail",
                crate::structure::Format::Regex => "regular expression",
            }
        ),
        Shape::Str {
            pattern: Some(_), ..
        } => "string (pattern)".into(),
        Shape::Str { .. } => "string".into(),
        Shape::Bool => "boolean".into(),
        Shape::Int { .. } => "integer".into(),
        Shape::Num { .. } => "number".into(),
        Shape::Enum(vals) => vals
            .iter()
            .map(|v| format!("`{v}`"))
            .collect::<Vec<_>>()
            .join(" \\| "),
        Shape::Values(vals) => vals.join(" \\| "),
        Shape::Object(o) => o.name.to_owned(),
        Shape::Map(m) => format!("map ({})", m.name.trim_matches('`')),
        Shape::Array { items, .. } => format!("list of {}", type_label(items)),
        Shape::RefOr(inner) => format!("{} or `$ref`", type_label(inner)),
        Shape::AnyOf(alts) => alts
            .iter()
            .map(|a| type_label(a))
            .collect::<Vec<_>>()
            .join(" or "),
        Shape::Tagged { name, .. } => (*name).to_owned(),
        Shape::Custom(_) => "object".into(),
    }
}

/// Scalar values a shape allows, for value completion.
pub(crate) fn enum_values(shape: &Shape) -> Vec<String> {
    match shape {
        Shape::Enum(vals) => vals.iter().map(|v| (*v).to_owned()).collect(),
        Shape::Values(vals) => vals
            .iter()
            .map(|v| v.trim_matches('"').to_owned())
            .collect(),
        Shape::Bool => vec!["true".into(), "false".into()],
        Shape::RefOr(inner) => enum_values(inner),
        Shape::AnyOf(alts) => alts.iter().flat_map(|a| enum_values(a)).collect(),
        Shape::Array { items, .. } => enum_values(items),
        _ => Vec::new(),
    }
}

/// Our description of a key in an object (by the object's name in the tables).
pub(crate) fn describe(object: &str, key: &str, v3: bool) -> Option<&'static str> {
    let specific = match (object, key) {
        ("AsyncAPI Object", "asyncapi") => "The AsyncAPI version this document follows.",
        ("AsyncAPI Object", "id") => {
            "A URI that identifies the application this document describes."
        }
        ("AsyncAPI Object", "servers") => {
            "The brokers or endpoints the application connects to, by name."
        }
        ("AsyncAPI Object", "channels") => {
            if v3 {
                "The channels of the application by id; each has an address and the messages sent on it."
            } else {
                "The channels of the application, keyed by their address."
            }
        }
        ("AsyncAPI Object", "operations") => {
            "What the application does: each operation sends or receives messages on one channel."
        }
        ("AsyncAPI Object", "components") => {
            "Reusable definitions that other parts of the document `$ref`."
        }
        ("AsyncAPI Object", "tags") => "Tags grouping the document's operations.",
        ("AsyncAPI Object", "info") => {
            "Metadata about the application: title, version, contact, license."
        }
        ("Operation Object", "action") | ("Operation Trait Object", "action") => {
            "`send`: the application sends messages to the channel; `receive`: it receives messages from it."
        }
        ("Operation Object", "channel") => {
            "A `$ref` to the channel (under `#/channels`) the operation works on."
        }
        ("Operation Object", "messages") => {
            if v3 {
                "`$ref`s to messages of the operation's channel that this operation handles (all of them when absent)."
            } else {
                "Messages of the operation."
            }
        }
        ("Operation Object", "message") => {
            "The message this operation handles, or `oneOf` several."
        }
        ("Operation Object", "reply") => "What answers this operation in a request/reply exchange.",
        ("Channel Object", "address") => {
            "The channel's address (topic, path, queue); `{name}` marks a parameter; `null` when unknown or dynamic."
        }
        ("Channel Object", "messages") => "The messages that may be sent on this channel, by id.",
        ("Channel Object", "servers") | ("Channel Item Object", "servers") => {
            "The servers this channel is available on (all servers when absent)."
        }
        ("Channel Item Object", "publish") => {
            "What other applications send on this channel: this application receives it."
        }
        ("Channel Item Object", "subscribe") => {
            "What this application sends on this channel: other applications receive it."
        }
        ("Channel Item Object", "$ref") => "A reference to a channel definition elsewhere.",
        ("Server Object", "url") => "The server's URL; `{name}` marks a server variable.",
        ("Server Object", "host") => {
            "The server's host name, optionally with a port; `{name}` marks a variable."
        }
        ("Server Object", "pathname") => "The path to the resource on the host.",
        ("Server Object", "protocol") => {
            "The protocol used to talk to the server (kafka, mqtt, ws, http, amqp, …)."
        }
        ("Server Object", "protocolVersion") => {
            "The version of the protocol, such as `0.9.1` for AMQP."
        }
        ("Server Object", "variables") => {
            "Values for the `{name}` placeholders of the server's address."
        }
        ("Server Object", "security") => {
            "Security schemes that can be used to connect to the server."
        }
        ("Server Variable Object", "enum") => "The values the variable may take.",
        ("Server Variable Object", "default") => "The value used when none is given.",
        ("Server Variable Object", "examples") => "Example values.",
        ("Parameter Object", "location") => {
            "A runtime expression saying where in the message the parameter's value is found."
        }
        ("Parameter Object", "enum") => "The values the parameter may take.",
        ("Parameter Object", "default") => "The value used when none is given.",
        ("Parameter Object", "schema") => "The schema of the parameter's value.",
        ("Correlation ID Object", "location") => {
            "A runtime expression (`$message.header#/…`) naming the field that correlates messages."
        }
        ("Reply Object", "address") => "Where the reply is sent (a Reply Address Object).",
        ("Reply Object", "channel") => "A `$ref` to the channel the reply is sent on.",
        ("Reply Object", "messages") => "`$ref`s to the messages a reply may be.",
        ("Reply Address Object", "location") => {
            "A runtime expression naming the field that holds the reply's address."
        }
        ("Contact Object", "name") => "The name of the contact person or organisation.",
        ("Contact Object", "url") => "A URL with contact information.",
        ("Contact Object", "email") => "An e-mail address to write to.",
        ("License Object", "name") => "The name of the license.",
        ("License Object", "url") => "A URL to the license text.",
        ("Tag Object", "name") => "The tag's name.",
        ("External Documentation Object", "url") => "Where the documentation is.",
        ("Info Object", "title") => "The application's name.",
        ("Info Object", "version") => {
            "The version of the application's API (not the AsyncAPI version)."
        }
        ("Info Object", "termsOfService") => "A URL to the terms of service.",
        ("MQTT server binding", "clientId") => "The identifier the MQTT client connects with.",
        ("WebSockets channel binding", "method") => {
            "The HTTP method of the handshake request: `GET` or `POST`."
        }
        ("WebSockets channel binding", "query") => {
            "The schema of the handshake's query parameters."
        }
        ("WebSockets channel binding", "headers") => "The schema of the handshake's HTTP headers.",
        ("HTTP operation binding", "method") => "The HTTP method of the request.",
        ("HTTP operation binding", "query") => "The schema of the request's query parameters.",
        ("HTTP message binding", "headers") => "The schema of the message's HTTP headers.",
        ("Kafka message binding", "key") => "The schema of the Kafka record key.",
        ("Kafka server binding", "schemaRegistryUrl") => {
            "The URL of the schema registry the server uses."
        }
        _ => "",
    };
    if !specific.is_empty() {
        return Some(specific);
    }
    Some(match key {
        "title" => "A short human-readable title.",
        "summary" => "A one-line summary.",
        "description" => "A longer description; CommonMark is allowed.",
        "tags" => "Tags for grouping and filtering.",
        "externalDocs" => "A link to more documentation.",
        "bindings" => "Protocol-specific settings, by protocol name.",
        "traits" => "Traits merged into this object (reusable partial definitions).",
        "parameters" => "The `{name}` parameters of the address, by name.",
        "payload" => "The schema of the message body.",
        "headers" => "The schema of the message headers (an object schema).",
        "contentType" => "The MIME type of the payload, such as `application/json`.",
        "schemaFormat" => {
            "The format of the payload schema (AsyncAPI, JSON Schema, Avro, …) as a MIME type."
        }
        "correlationId" => "Where the id that correlates requests and replies is found.",
        "messageId" => "A unique id for the message across the document.",
        "operationId" => {
            "A unique id for the operation across the document (used for generated names)."
        }
        "name" => "A machine-friendly name.",
        "examples" => "Examples.",
        "deprecated" => "Whether this should no longer be used.",
        "security" => "Security requirements that apply.",
        "defaultContentType" => "The content type of messages that do not set `contentType`.",
        "bindingVersion" => "The version of the binding definition this object follows.",
        "contact" => "Who to contact about the API.",
        "license" => "The license of the API.",
        "url" => "A URL.",
        "type" => "The kind of value or scheme.",
        "enum" => "The allowed values.",
        "default" => "The default value.",
        "location" => "A runtime expression pointing into the message.",
        "scheme" => "The HTTP authorization scheme, such as `bearer` or `basic`.",
        "bearerFormat" => "How the bearer token is formatted, such as `JWT`.",
        "in" => "Where the key is sent.",
        "flows" => "The OAuth2 flows the scheme supports.",
        "openIdConnectUrl" => "The OpenID Connect discovery URL.",
        "scopes" => "The scopes the scheme offers, or those required.",
        "authorizationUrl" => "The OAuth2 authorization endpoint.",
        "tokenUrl" => "The OAuth2 token endpoint.",
        "refreshUrl" => "The OAuth2 refresh endpoint.",
        "availableScopes" => "The scopes this flow offers, with their descriptions.",
        // Bindings.
        "http" => "HTTP binding settings.",
        "ws" => "WebSocket binding settings.",
        "kafka" => "Kafka binding settings.",
        "mqtt" => "MQTT binding settings.",
        "amqp" => "AMQP 0-9-1 binding settings.",
        "topic" => "The topic name, when it differs from the channel's address.",
        "partitions" => "The number of partitions of the topic.",
        "replicas" => "The number of replicas of each partition.",
        "topicConfiguration" => "Kafka topic settings (retention, cleanup policy, …).",
        "cleanup.policy" => "What Kafka does with old records: `delete`, `compact`, or both.",
        "retention.ms" => "How long records are kept, in milliseconds (-1: forever).",
        "retention.bytes" => "How large a partition may grow before old records go (-1: no limit).",
        "delete.retention.ms" => {
            "How long delete markers of a compacted topic are kept, in milliseconds."
        }
        "max.message.bytes" => "The largest record batch the topic accepts, in bytes.",
        "groupId" => "The schema of the Kafka consumer group id.",
        "clientId" => "The schema of the client id.",
        "key" => "The schema of the message key.",
        "schemaIdLocation" => "Where the schema id is written: `header` or `payload`.",
        "schemaIdPayloadEncoding" => "How the schema id is encoded in the payload.",
        "schemaLookupStrategy" => "How the schema registry looks up the schema.",
        "schemaRegistryUrl" => "The URL of the schema registry.",
        "schemaRegistryVendor" => "The vendor of the schema registry.",
        "qos" => "The MQTT quality of service: 0, 1 or 2.",
        "retain" => "Whether the broker keeps the last message for new subscribers.",
        "cleanSession" => "Whether the broker forgets the session when the client disconnects.",
        "lastWill" => "The message the broker sends when the client disconnects unexpectedly.",
        "keepAlive" => "Seconds between pings that keep the connection alive.",
        "sessionExpiryInterval" => "Seconds the broker keeps the session after a disconnect.",
        "maximumPacketSize" => "The largest packet the client accepts, in bytes.",
        "messageExpiryInterval" => "Seconds after which the broker drops the message.",
        "payloadFormatIndicator" => {
            "Whether the payload is UTF-8 text (1) or unspecified bytes (0)."
        }
        "correlationData" => "The schema of the MQTT 5 correlation data.",
        "responseTopic" => "The topic a reply should be sent to.",
        "method" => "The HTTP method.",
        "query" => "The schema of the query parameters.",
        "statusCode" => "The HTTP status code of the response.",
        "is" => "Whether the channel is a queue (`queue`) or a routing key (`routingKey`).",
        "exchange" => "The AMQP exchange.",
        "queue" => "The queue, or the queue group.",
        "expiration" => "Milliseconds after which the message expires.",
        "userId" => "The user id of the publisher.",
        "cc" => "Routing keys the message is also sent to.",
        "priority" => "The message priority.",
        "deliveryMode" => "Whether the message is transient (1) or persistent (2).",
        "mandatory" => "Whether an unroutable message is returned to the sender.",
        "bcc" => "Routing keys the message is also sent to, hidden from receivers.",
        "timestamp" => "Whether a timestamp is set on the message.",
        "ack" => "Whether the consumer acknowledges messages.",
        "contentEncoding" => "The content encoding of the message.",
        "messageType" => "An application-specific message type.",
        // Schema keywords.
        "properties" => "The schema of each named property.",
        "required" => "The properties an object must have.",
        "items" => "The schema of a list's items.",
        "additionalProperties" => {
            "The schema of properties not listed in `properties` (or whether they are allowed)."
        }
        "format" => "A hint about the string's format (date-time, email, uuid, …).",
        "pattern" => "A regular expression the string must match.",
        "minimum" => "The smallest allowed number.",
        "maximum" => "The largest allowed number.",
        "exclusiveMinimum" => "Numbers must be greater than this.",
        "exclusiveMaximum" => "Numbers must be less than this.",
        "minLength" => "The shortest allowed string.",
        "maxLength" => "The longest allowed string.",
        "minItems" => "The fewest list items allowed.",
        "maxItems" => "The most list items allowed.",
        "uniqueItems" => "Whether list items must all differ.",
        "const" => "The only allowed value.",
        "allOf" => "The value must match every one of these schemas.",
        "anyOf" => "The value must match at least one of these schemas.",
        "oneOf" => "The value must match exactly one of these schemas.",
        "not" => "The value must not match this schema.",
        "discriminator" => "The property whose value tells which schema applies.",
        "$ref" => "A reference to a definition elsewhere (`#/components/...` or a file).",
        "readOnly" => "The value is only sent, never received.",
        "writeOnly" => "The value is only received, never sent.",
        "example" => "An example value.",
        "multipleOf" => "Numbers must be a multiple of this.",
        "nullable" => "Whether `null` is allowed too.",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| (*x).to_owned()).collect()
    }

    fn names(v: Version, path: &[&str]) -> Vec<&'static str> {
        let place = resolve(v, &p(path), &|_| None);
        keys_of(v, &place.node).iter().map(|k| k.name).collect()
    }

    #[test]
    fn walks_both_families() {
        assert!(names(Version::V3_0, &["channels", "x"]).contains(&"address"));
        assert!(names(Version::V2_6, &["channels", "x/y"]).contains(&"publish"));
        assert!(
            names(Version::V2_6, &["channels", "x", "publish", "message"]).contains(&"payload")
        );
        assert!(names(Version::V3_0, &["operations", "o"]).contains(&"action"));
        assert!(
            names(
                Version::V3_0,
                &["components", "messages", "m", "payload", "properties", "a"]
            )
            .contains(&"type")
        );
        assert!(
            names(Version::V3_0, &["channels", "c", "bindings", "kafka"]).contains(&"partitions")
        );
        assert!(names(Version::V2_6, &["components", "securitySchemes", "s"]).contains(&"flows"));
        assert!(names(Version::V3_0, &["servers", "s", "bindings", "mqtt"]).contains(&"clientId"));
        assert!(names(Version::V3_0, &["channels", "c", "bindings", "ws"]).contains(&"method"));
        assert!(
            names(
                Version::V2_6,
                &["channels", "c", "publish", "bindings", "http"]
            )
            .contains(&"method")
        );
        assert!(
            names(
                Version::V3_0,
                &["components", "messages", "m", "bindings", "kafka"]
            )
            .contains(&"key")
        );
        assert!(
            names(
                Version::V3_0,
                &["channels", "c", "bindings", "kafka", "topicConfiguration"]
            )
            .contains(&"retention.ms")
        );
        assert!(!names(Version::V2_0, &["channels", "x"]).contains(&"servers"));
        assert!(matches!(
            resolve(Version::V3_0, &p(&["operations", "o", "channel"]), &|_| {
                None
            })
            .node,
            Node::RefOnly
        ));
    }

    #[test]
    fn describes_action() {
        let k = key_at(Version::V3_0, &p(&["operations", "o"]), "action", &|_| None);
        let k = k.expect("action is a key of operations");
        assert!(describe(k.object, "action", true).is_some_and(|d| d.contains("send")));
        assert_eq!(type_label(k.shape), "`send` \\| `receive`");
    }
}
