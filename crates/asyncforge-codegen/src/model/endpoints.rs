//! Endpoints: the channels of WebSocket, SSE and HTTP servers grouped by request path, with
//! the operations on them.

use std::collections::BTreeSet;

use asyncforge_runtime::address::{Address, join_path};
use asyncforge_spec::ir::{Action, Api, ChannelId, MessageId, OperationId, SchemaId};

use super::common::{
    OpNames, Param, Protocol, channel_servers, op_messages, params, reply_messages,
};
use crate::names::{NameSet, type_name};
use crate::types::Warning;

/// An operation as an endpoint sees it.
#[derive(Debug, Clone)]
pub(crate) struct Op {
    /// The operation.
    pub id: OperationId,
    /// Rust method name (the application's side: its handler's or sender's method).
    pub method: String,
    /// The method of a client that sends what this receive operation takes, named from the
    /// caller's side (`receive_bid` → `send_bid`).
    pub caller: String,
    /// Rust type name base (`RelayMessage`).
    pub type_base: String,
    /// Its messages.
    pub messages: Vec<MessageId>,
    /// Messages of its reply, when it has one.
    pub reply: Option<Vec<MessageId>>,
}

/// One request path of a server, with the channels served there.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    /// Transport: WebSocket, SSE or HTTP.
    pub protocol: Protocol,
    /// Base name of the generated items (`Room` → `RoomParams`, `RoomClient`).
    pub name: String,
    /// The channel address (a template).
    pub address: String,
    /// The server's pathname.
    pub pathname: String,
    /// The axum route (`/ws/rooms/{roomId}`).
    pub route: String,
    /// The channels at this path.
    pub channels: Vec<ChannelId>,
    /// Parameters of the address.
    pub params: Vec<Param>,
    /// WebSocket binding: `query` schema.
    pub query: Option<SchemaId>,
    /// WebSocket binding: `headers` schema.
    pub headers: Option<SchemaId>,
    /// Operations the application receives here (the client sends).
    pub receive: Vec<Op>,
    /// Operations the application sends here (the client receives).
    pub send: Vec<Op>,
}

/// An axum route for a path template, or why there is none: every `{param}` must be a
/// whole segment and literal segments must not start with `:` or `*`.
fn route(path: &str) -> Result<String, String> {
    Address::parse(path, "a route").map_err(|e| e.to_string())?;
    for seg in path.split('/') {
        if seg.starts_with(':') || seg.starts_with('*') {
            return Err(format!("the path segment `{seg}` cannot be routed"));
        }
        let opens = seg.matches('{').count();
        let closes = seg.matches('}').count();
        if opens == 0 && closes == 0 {
            continue;
        }
        let whole = opens == 1
            && closes == 1
            && seg.starts_with('{')
            && seg.ends_with('}')
            && seg.len() > 2
            && seg[1..seg.len() - 1]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
        if !whole {
            return Err(format!(
                "the path segment `{seg}` mixes a parameter with other text"
            ));
        }
    }
    Ok(path.to_owned())
}

/// The parameter names of an address [`route`] accepted.
fn address_params(address: &str) -> Vec<String> {
    Address::parse(address, "a path")
        .map(|a| a.params().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// The base name of an endpoint's generated items. A path with one channel is named after
/// it; a path several channels share (the official Kraken example puts all of its channels
/// on `/`) after the path's last literal segment, or the API's title when it has none.
fn endpoint_name(api: &Api, e: &Endpoint) -> String {
    if let [only] = e.channels.as_slice() {
        return type_name(&api.channel(*only).key);
    }
    let literal = e
        .address
        .rsplit('/')
        .find(|seg| !seg.is_empty() && !seg.contains('{'));
    match literal {
        Some(seg) => type_name(seg),
        None => type_name(&api.info.title),
    }
}

/// The verbs that name an operation from the receiving side.
const RECEIVING_VERBS: &[&str] = &[
    "receive", "receives", "recv", "on", "handle", "handles", "consume", "process", "accept",
];

/// The name a client gives the method that sends what a server's `method` receives: a leading
/// receiving verb becomes `send` (`receive_bid` → `send_bid`, `on_order` → `send_order`);
/// other names read the same from both sides (`submit_quote`, `ping`).
fn caller_method(method: &str) -> String {
    let plain = method.trim_start_matches("r#");
    match plain.split_once('_') {
        Some((verb, rest)) if RECEIVING_VERBS.contains(&verb) && !rest.is_empty() => {
            format!("send_{rest}")
        }
        _ => method.to_owned(),
    }
}

/// Groups the API's WebSocket, SSE and HTTP channels into endpoints. `default_protocol`
/// serves the channels of a document that declares no servers at all.
pub(super) fn build(
    api: &Api,
    default_protocol: Option<&str>,
    warnings: &mut Vec<Warning>,
) -> Vec<Endpoint> {
    let mut endpoints: Vec<Endpoint> = Vec::new();
    let served = |p: &Protocol| !p.is_broker();
    let assumed = if api.servers.is_empty() {
        default_protocol
            .and_then(Protocol::of_protocol)
            .filter(served)
    } else {
        None
    };
    let mut routes: BTreeSet<String> = BTreeSet::new();
    for (ci, channel) in api.channels.iter().enumerate() {
        let cid = ChannelId(ci as u32);
        let found = channel_servers(api, channel)
            .into_iter()
            .map(|s| api.server(s))
            .find_map(|s| {
                let protocol = Protocol::of_protocol(&s.protocol).filter(served)?;
                Some((protocol, s.pathname.clone().unwrap_or_default()))
            })
            .or_else(|| assumed.map(|p| (p, String::new())));
        let Some((protocol, pathname)) = found else {
            continue;
        };
        let Some(address) = channel.address.clone() else {
            // A channel without an address is only a reply target decided at run time.
            continue;
        };
        let path = join_path(&pathname, &address);
        let existing = endpoints
            .iter()
            .position(|e| e.protocol == protocol && e.route == path);
        let index = match existing {
            Some(i) => i,
            None => {
                let route = match route(&path) {
                    Ok(r) => r,
                    Err(why) => {
                        warnings.push(Warning {
                            message: format!(
                                "channel `{}` has no generated endpoint: {why}",
                                channel.key
                            ),
                            source: channel.source.clone(),
                        });
                        continue;
                    }
                };
                if !routes.insert(route.clone()) {
                    warnings.push(Warning {
                        message: format!(
                            "channel `{}` has no generated endpoint: its path `{route}` is already served by another transport",
                            channel.key
                        ),
                        source: channel.source.clone(),
                    });
                    continue;
                }
                endpoints.push(Endpoint {
                    protocol,
                    name: String::new(),
                    params: params(channel, address_params(&address)),
                    address,
                    pathname,
                    route,
                    channels: Vec::new(),
                    query: None,
                    headers: None,
                    receive: Vec::new(),
                    send: Vec::new(),
                });
                endpoints.len() - 1
            }
        };
        let e = &mut endpoints[index];
        e.channels.push(cid);
        if let Some(ws) = &channel.bindings.ws
            && protocol == Protocol::Ws
        {
            if e.query.is_none() {
                e.query = ws.query;
            }
            if e.headers.is_none() {
                e.headers = ws.headers;
            }
            if let Some(m) = &ws.method
                && !m.eq_ignore_ascii_case("GET")
            {
                warnings.push(Warning {
                    message: format!(
                        "channel `{}`: a WebSocket upgrade is a GET request; the binding's method `{m}` is not enforced",
                        channel.key
                    ),
                    source: channel.source.clone(),
                });
            }
        }
    }
    let mut names = NameSet::default();
    names.reserve(crate::names::RESERVED);
    names.reserve(&["Server", "Sender", "Handler", "Config"]);
    for e in &mut endpoints {
        e.name = names.unique(&endpoint_name(api, e));
    }
    // Operations, in document order, on the endpoint of their channel.
    let mut op_names = OpNames::new(
        &[
            "new",
            "sender",
            "router",
            "config",
            "connect",
            "state",
            "next",
            "close",
            "split",
            "wait_connected",
            "events",
            "hub",
        ],
        &["Outgoing", "Message"],
    );
    for e in &endpoints {
        op_names.reserve_type(&format!("{}Params", e.name));
    }
    for (oi, op) in api.operations.iter().enumerate() {
        let id = OperationId(oi as u32);
        let Some(e) = endpoints
            .iter_mut()
            .find(|e| e.channels.contains(&op.channel))
        else {
            continue;
        };
        let messages = op_messages(api, id);
        if messages.is_empty() {
            continue;
        }
        let (method, type_base) = op_names.name(api, id, &messages);
        let entry = Op {
            id,
            caller: caller_method(&method),
            method,
            type_base,
            messages,
            reply: reply_messages(api, id),
        };
        match op.action {
            Action::Receive => e.receive.push(entry),
            Action::Send => e.send.push(entry),
        }
    }
    endpoints
}

#[cfg(test)]
mod tests {
    use super::caller_method;

    #[test]
    fn clients_name_their_methods_from_the_callers_side() {
        assert_eq!(caller_method("receive_bid"), "send_bid");
        assert_eq!(caller_method("on_order_placed"), "send_order_placed");
        assert_eq!(caller_method("handle_command"), "send_command");
        assert_eq!(caller_method("submit_quote"), "submit_quote");
        assert_eq!(caller_method("ping"), "ping");
        assert_eq!(caller_method("receive"), "receive");
        assert_eq!(caller_method("r#move"), "r#move");
    }
}
