//! What the endpoint and broker parts of the model share: the protocols, channel parameters,
//! the servers of a channel, and the messages and names of an operation.

use asyncforge_spec::ir::{
    Action, Api, Channel, MessageId, OperationId, SchemaId, ServerId, synthesized_operation_key,
};

use crate::names::{NameSet, field_name, type_name};

/// A protocol asyncforge generates code for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// WebSocket (`ws`, `wss`).
    Ws,
    /// Server-Sent Events (`sse`, `http+sse`, `https+sse`), with POST for receive operations.
    Sse,
    /// Plain HTTP (`http`, `https`): webhooks, callbacks and resources.
    Http,
    /// MQTT (`mqtt`, `mqtts`, `secure-mqtt`).
    Mqtt,
    /// Kafka (`kafka`, `kafka-secure`).
    Kafka,
}

impl Protocol {
    /// The protocol of a server's protocol name.
    pub(crate) fn of_protocol(protocol: &str) -> Option<Protocol> {
        match protocol.to_ascii_lowercase().as_str() {
            "ws" | "wss" => Some(Protocol::Ws),
            "sse" | "http+sse" | "https+sse" => Some(Protocol::Sse),
            "http" | "https" => Some(Protocol::Http),
            "mqtt" | "mqtts" | "secure-mqtt" => Some(Protocol::Mqtt),
            "kafka" | "kafka-secure" => Some(Protocol::Kafka),
            _ => None,
        }
    }

    /// Whether its channels are topics on a message broker (else routes of a server the
    /// application runs, grouped into endpoints).
    pub(crate) fn is_broker(self) -> bool {
        matches!(self, Protocol::Mqtt | Protocol::Kafka)
    }

    /// Its name in messages.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Protocol::Ws => "WebSocket",
            Protocol::Sse => "SSE",
            Protocol::Http => "HTTP",
            Protocol::Mqtt => "MQTT",
            Protocol::Kafka => "Kafka",
        }
    }
}

/// A channel parameter.
#[derive(Debug, Clone)]
pub(crate) struct Param {
    /// Name in the address.
    pub name: String,
    /// Rust field name.
    pub field: String,
    /// Description.
    pub doc: Option<String>,
    /// Schema (2.x) or none.
    pub schema: Option<SchemaId>,
    /// Allowed values (3.x `enum`).
    pub allowed: Vec<String>,
}

/// The parameters `names` (in address order) of a channel, with their declarations and unique
/// field names.
pub(super) fn params(channel: &Channel, names: Vec<String>) -> Vec<Param> {
    let mut fields = NameSet::default();
    names
        .into_iter()
        .map(|p| {
            let decl = channel.parameters.iter().find(|d| d.name == p);
            Param {
                field: fields.unique_field(&field_name(&p)),
                doc: decl.and_then(|d| d.description.clone()),
                schema: decl.and_then(|d| d.schema),
                allowed: decl.map(|d| d.allowed.clone()).unwrap_or_default(),
                name: p,
            }
        })
        .collect()
}

/// The servers a channel is available on: its own list, else every server.
pub(super) fn channel_servers(api: &Api, channel: &Channel) -> Vec<ServerId> {
    if channel.servers.is_empty() {
        (0..api.servers.len()).map(|i| ServerId(i as u32)).collect()
    } else {
        channel.servers.clone()
    }
}

/// The messages of an operation: its own list, else its channel's.
pub(crate) fn op_messages(api: &Api, id: OperationId) -> Vec<MessageId> {
    let op = api.operation(id);
    if op.messages.is_empty() {
        api.channel(op.channel).messages.clone()
    } else {
        op.messages.clone()
    }
}

/// The messages of an operation's reply: its own list, else its channel's.
pub(crate) fn reply_messages(api: &Api, id: OperationId) -> Option<Vec<MessageId>> {
    let reply = api.operation(id).reply.as_ref()?;
    if !reply.messages.is_empty() {
        return Some(reply.messages.clone());
    }
    let channel = reply.channel?;
    let msgs = api.channel(channel).messages.clone();
    (!msgs.is_empty()).then_some(msgs)
}

/// The name of an operation's generated method and types. A 2.x operation without an
/// `operationId` has a key made of its channel's name (there, the address) and the 2.x verb
/// (`v1MarketdataSymbolSubscribe`), whose verb reads backwards from the application's side:
/// when it carries one named message, it is named after its action and that message
/// (`sendMarketData`), as a 3.x document would name it.
fn operation_name(api: &Api, id: OperationId, messages: &[MessageId]) -> String {
    let op = api.operation(id);
    let verb = match op.action {
        Action::Send => "subscribe",
        Action::Receive => "publish",
    };
    let channel = &api.channel(op.channel).key;
    if op.key != synthesized_operation_key(channel, verb) {
        return op.key.clone();
    }
    let [message] = messages else {
        return op.key.clone();
    };
    let message = &api.message(*message).key;
    // Inline messages are named after the operation already.
    if message.starts_with(&op.key) {
        return op.key.clone();
    }
    let action = match op.action {
        Action::Send => "send",
        Action::Receive => "receive",
    };
    format!("{action}_{message}")
}

/// The names a generated module gives its operations: methods and type name bases, each
/// unique in the module.
pub(super) struct OpNames {
    methods: NameSet,
    types: NameSet,
}

impl OpNames {
    /// Names that take none of `methods` and `types`.
    pub(super) fn new(methods: &[&str], types: &[&str]) -> Self {
        let mut names = OpNames {
            methods: NameSet::default(),
            types: NameSet::default(),
        };
        names.methods.reserve(methods);
        names.types.reserve(types);
        names
    }

    /// Keeps a type name (of an item generated beside the operations) from the operations.
    pub(super) fn reserve_type(&mut self, name: &str) {
        self.types.reserve(&[name]);
    }

    /// The method name and type name base of an operation carrying `messages`.
    pub(super) fn name(
        &mut self,
        api: &Api,
        id: OperationId,
        messages: &[MessageId],
    ) -> (String, String) {
        let name = operation_name(api, id, messages);
        (
            self.methods.unique_field(&field_name(&name)),
            self.types.unique(&type_name(&name)),
        )
    }
}
