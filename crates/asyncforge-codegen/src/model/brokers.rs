//! What each message broker (MQTT, Kafka) carries: its servers, the channels on them whose
//! addresses the runtime's topic rules accept, and the operations on those channels.

use asyncforge_runtime::kafka::KafkaTopic;
use asyncforge_runtime::mqtt::TopicTemplate;
use asyncforge_spec::ir::{Action, Api, ChannelId, MessageId, OperationId, ServerId};

use super::common::{
    OpNames, Param, Protocol, channel_servers, op_messages, params, reply_messages,
};
use crate::names::{NameSet, type_name};
use crate::types::Warning;

/// A channel a broker carries.
#[derive(Debug, Clone)]
pub(crate) struct BrokerChannel {
    /// The channel.
    pub id: ChannelId,
    /// Base name of its items (`LightingMeasured` → `LightingMeasuredParams`).
    pub name: String,
    /// The address (Kafka: the binding's `topic` when it has one), with `{parameters}`.
    pub address: String,
    /// Its parameters, in address order.
    pub params: Vec<Param>,
}

/// An operation on a broker channel.
#[derive(Debug, Clone)]
pub(crate) struct BrokerOp {
    /// The operation.
    pub id: OperationId,
    /// Rust method name.
    pub method: String,
    /// Rust type name base.
    pub type_base: String,
    /// Index of its channel in [`BrokerModel::channels`].
    pub channel: usize,
    /// Its messages.
    pub messages: Vec<MessageId>,
    /// The one message of its reply (request/reply), when it has one.
    pub reply: Option<MessageId>,
}

/// What one broker carries.
#[derive(Debug, Clone)]
pub(crate) struct BrokerModel {
    /// The protocol: MQTT or Kafka.
    pub protocol: Protocol,
    /// Its servers.
    pub servers: Vec<ServerId>,
    /// Its channels.
    pub channels: Vec<BrokerChannel>,
    /// Operations the application sends.
    pub send: Vec<BrokerOp>,
    /// Operations the application receives.
    pub receive: Vec<BrokerOp>,
}

impl BrokerModel {
    /// The channel of an operation.
    pub(crate) fn channel(&self, op: &BrokerOp) -> &BrokerChannel {
        &self.channels[op.channel]
    }
}

/// The name of a channel keyed by its address (2.x): its last two literal words, numbers and
/// versions left out (`smartylighting/streetlights/1/0/event/{id}/lighting/measured` →
/// `lighting_measured`, `fleet/{id}/position` → `fleet_position`); the address itself when it
/// has no such word.
fn address_name(address: &str) -> String {
    let is_version = |w: &str| {
        let digits = w.trim_start_matches(['v', 'V']);
        !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
    };
    let words: Vec<&str> = address
        .split(['/', '.'])
        .filter(|w| !w.is_empty() && !w.contains('{') && !is_version(w))
        .collect();
    match words.as_slice() {
        [] => address.to_owned(),
        [one] => (*one).to_owned(),
        [.., a, b] => format!("{a}_{b}"),
    }
}

/// What `protocol` (MQTT or Kafka) carries, when a server speaks it.
pub(super) fn build(
    api: &Api,
    protocol: Protocol,
    warnings: &mut Vec<Warning>,
) -> Option<BrokerModel> {
    let servers: Vec<ServerId> = api
        .servers
        .iter()
        .enumerate()
        .filter(|(_, s)| Protocol::of_protocol(&s.protocol) == Some(protocol))
        .map(|(i, _)| ServerId(i as u32))
        .collect();
    if servers.is_empty() {
        return None;
    }
    let mut names = NameSet::default();
    names.reserve(crate::names::RESERVED);
    names.reserve(&["Sender", "Consumer", "Handler", "Received", "Dispatch"]);
    let mut channels = Vec::new();
    for (ci, channel) in api.channels.iter().enumerate() {
        let on_broker = channel_servers(api, channel)
            .iter()
            .any(|s| servers.contains(s));
        if !on_broker {
            continue;
        }
        // A channel without an address is a reply target decided at run time.
        let Some(address) = channel.address.clone() else {
            continue;
        };
        let address = match protocol {
            Protocol::Kafka => channel
                .bindings
                .kafka
                .as_ref()
                .and_then(|k| k.topic.clone())
                .unwrap_or(address),
            _ => address,
        };
        // The runtime's own topic rules: what it would refuse at start is not generated.
        let param_names: Result<Vec<String>, _> = match protocol {
            Protocol::Kafka => {
                KafkaTopic::parse(&address).map(|t| t.params().map(str::to_owned).collect())
            }
            _ => TopicTemplate::parse(&address).map(|t| t.params().map(str::to_owned).collect()),
        };
        let param_names = match param_names {
            Ok(names) => names,
            Err(why) => {
                warnings.push(Warning {
                    message: format!(
                        "channel `{}` has no generated {} code: {why}",
                        channel.key,
                        protocol.label()
                    ),
                    source: channel.source.clone(),
                });
                continue;
            }
        };
        // A 2.x channel is keyed by its address: it is named after the address's last words.
        let base = if channel.address.as_deref() == Some(channel.key.as_str()) {
            address_name(&channel.key)
        } else {
            channel.key.clone()
        };
        channels.push(BrokerChannel {
            id: ChannelId(ci as u32),
            name: names.unique(&type_name(&base)),
            address,
            params: params(channel, param_names),
        });
    }
    let mut op_names = OpNames::new(
        &[
            "new", "start", "client", "inner", "run", "stats", "close", "flush",
        ],
        &["Sender", "Consumer", "Handler", "Received", "Dispatch"],
    );
    for c in &channels {
        op_names.reserve_type(&format!("{}Params", c.name));
    }
    let (mut send, mut receive) = (Vec::new(), Vec::new());
    for (oi, op) in api.operations.iter().enumerate() {
        let id = OperationId(oi as u32);
        let Some(channel) = channels.iter().position(|c| c.id == op.channel) else {
            continue;
        };
        let messages = op_messages(api, id);
        if messages.is_empty() {
            continue;
        }
        let reply = match reply_messages(api, id) {
            Some(r) if protocol == Protocol::Kafka => {
                warnings.push(Warning {
                    message: format!(
                        "operation `{}`: request/reply over Kafka is not generated; its reply ({} message(s)) is sent and received as an operation of its own",
                        op.key,
                        r.len()
                    ),
                    source: op.source.clone(),
                });
                None
            }
            Some(r) if r.len() == 1 => Some(r[0]),
            Some(_) => {
                warnings.push(Warning {
                    message: format!(
                        "operation `{}`: an MQTT reply with several messages is not generated as request/reply",
                        op.key
                    ),
                    source: op.source.clone(),
                });
                None
            }
            None => None,
        };
        if op.action == Action::Receive
            && protocol == Protocol::Mqtt
            && receive.iter().any(|r: &BrokerOp| r.channel == channel)
        {
            warnings.push(Warning {
                message: format!(
                    "operation `{}`: another receive operation subscribes to the same MQTT topic; its messages go to the first one",
                    op.key
                ),
                source: op.source.clone(),
            });
            continue;
        }
        let (method, type_base) = op_names.name(api, id, &messages);
        let entry = BrokerOp {
            id,
            method,
            type_base,
            channel,
            messages,
            reply,
        };
        match op.action {
            Action::Send => send.push(entry),
            Action::Receive => receive.push(entry),
        }
    }
    Some(BrokerModel {
        protocol,
        servers,
        channels,
        send,
        receive,
    })
}

#[cfg(test)]
mod tests {
    use super::address_name;

    #[test]
    fn channels_keyed_by_their_address_are_named_after_its_last_words() {
        assert_eq!(
            address_name("smartylighting/streetlights/1/0/event/{streetlightId}/lighting/measured"),
            "lighting_measured"
        );
        assert_eq!(
            address_name("smartylighting.streetlights.1.0.action.{streetlightId}.turn.on"),
            "turn_on"
        );
        assert_eq!(address_name("fleet/{vehicleId}/position"), "fleet_position");
        assert_eq!(address_name("v2/{id}/status"), "status");
        assert_eq!(address_name("{tenant}/{id}"), "{tenant}/{id}");
    }
}
