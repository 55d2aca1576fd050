//! Which endpoints a generated server offers and a generated client uses: channels on
//! WebSocket and Server-Sent-Events servers, grouped by request path, with the messages
//! that flow each way.

use std::collections::BTreeSet;

use asyncforge_runtime::address::{Address, join_path};
use asyncforge_spec::ir::{
    Action, Api, ChannelId, MessageId, OperationId, SchemaId, Server, synthesized_operation_key,
};

use crate::names::{NameSet, field_name, type_name};
use crate::types::Warning;

/// The transport an endpoint is served with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// WebSocket (`ws`, `wss`).
    Ws,
    /// Server-Sent Events (`sse`, `http+sse`, `https+sse`), with POST for receive operations.
    Sse,
    /// Plain HTTP (`http`, `https`): webhooks, callbacks and resources (`transport/http.rs`).
    Http,
}

impl Kind {
    /// The transport of a server.
    pub fn of(server: &Server) -> Option<Kind> {
        Kind::of_protocol(&server.protocol)
    }

    /// The transport of a protocol name.
    pub fn of_protocol(protocol: &str) -> Option<Kind> {
        match protocol.to_ascii_lowercase().as_str() {
            "ws" | "wss" => Some(Kind::Ws),
            "sse" | "http+sse" | "https+sse" => Some(Kind::Sse),
            "http" | "https" => Some(Kind::Http),
            _ => None,
        }
    }
}

/// A channel parameter of an endpoint.
#[derive(Debug, Clone)]
pub struct Param {
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

/// An operation as an endpoint sees it.
#[derive(Debug, Clone)]
pub struct Op {
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
pub struct Endpoint {
    /// Transport.
    pub kind: Kind,
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

/// The endpoints of an API, and why some channels have none.
#[derive(Debug, Default)]
pub struct Model {
    /// Endpoints, in channel order.
    pub endpoints: Vec<Endpoint>,
    /// Channels left out, and why.
    pub warnings: Vec<Warning>,
}

impl Model {
    /// Whether any endpoint uses a transport.
    pub fn has(&self, kind: Kind) -> bool {
        self.endpoints.iter().any(|e| e.kind == kind)
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

/// The name of an operation's generated method and types. A 2.x operation without an
/// `operationId` has a key made of its channel's name (there, the address) and the 2.x verb
/// (`v1MarketdataSymbolSubscribe`), whose verb reads backwards from the application's side:
/// when it carries one named message, it is named after its action and that message
/// (`sendMarketData`), as a 3.x document would name it.
pub(crate) fn operation_name(api: &Api, id: OperationId, messages: &[MessageId]) -> String {
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

/// The verbs that name an operation from the receiving side.
const RECEIVING_VERBS: &[&str] = &[
    "receive", "receives", "recv", "on", "handle", "handles", "consume", "process", "accept",
];

/// The name a client gives the method that sends what a server's `method` receives: a leading
/// receiving verb becomes `send` (`receive_bid` → `send_bid`, `on_order` → `send_order`);
/// other names read the same from both sides (`submit_quote`, `ping`).
pub(crate) fn caller_method(method: &str) -> String {
    let plain = method.trim_start_matches("r#");
    match plain.split_once('_') {
        Some((verb, rest)) if RECEIVING_VERBS.contains(&verb) && !rest.is_empty() => {
            format!("send_{rest}")
        }
        _ => method.to_owned(),
    }
}

/// Groups the API's WebSocket and SSE channels into endpoints. `default_protocol` serves the
/// channels of a document that declares no servers at all.
pub fn build(api: &Api, default_protocol: Option<&str>) -> Model {
    let mut model = Model::default();
    let mut names = NameSet::default();
    names.reserve(crate::names::RESERVED);
    names.reserve(&["Server", "Sender", "Handler", "Config"]);
    let assumed = if api.servers.is_empty() {
        default_protocol.and_then(Kind::of_protocol)
    } else {
        None
    };
    let mut routes: BTreeSet<String> = BTreeSet::new();
    for (ci, channel) in api.channels.iter().enumerate() {
        let cid = ChannelId(ci as u32);
        let servers: Vec<&Server> = if channel.servers.is_empty() {
            api.servers.iter().collect()
        } else {
            channel.servers.iter().map(|s| api.server(*s)).collect()
        };
        let found = servers
            .iter()
            .find_map(|s| Kind::of(s).map(|k| (k, s.pathname.clone().unwrap_or_default())))
            .or_else(|| assumed.map(|k| (k, String::new())));
        let Some((kind, pathname)) = found else {
            continue;
        };
        let Some(address) = channel.address.clone() else {
            // A channel without an address is only a reply target decided at run time.
            continue;
        };
        let path = join_path(&pathname, &address);
        let existing = model
            .endpoints
            .iter()
            .position(|e| e.kind == kind && e.route == path);
        let index = match existing {
            Some(i) => i,
            None => {
                let route = match route(&path) {
                    Ok(r) => r,
                    Err(why) => {
                        model.warnings.push(Warning {
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
                    model.warnings.push(Warning {
                        message: format!(
                            "channel `{}` has no generated endpoint: its path `{route}` is already served by another transport",
                            channel.key
                        ),
                        source: channel.source.clone(),
                    });
                    continue;
                }
                let params = address_params(&address)
                    .into_iter()
                    .map(|p| {
                        let decl = channel.parameters.iter().find(|d| d.name == p);
                        Param {
                            field: field_name(&p),
                            doc: decl.and_then(|d| d.description.clone()),
                            schema: decl.and_then(|d| d.schema),
                            allowed: decl.map(|d| d.allowed.clone()).unwrap_or_default(),
                            name: p,
                        }
                    })
                    .collect::<Vec<_>>();
                let mut fields = NameSet::default();
                let params = params
                    .into_iter()
                    .map(|mut p| {
                        p.field = fields.unique_field(&p.field);
                        p
                    })
                    .collect();
                model.endpoints.push(Endpoint {
                    kind,
                    name: String::new(),
                    address: address.clone(),
                    pathname,
                    route,
                    channels: Vec::new(),
                    params,
                    query: None,
                    headers: None,
                    receive: Vec::new(),
                    send: Vec::new(),
                });
                model.endpoints.len() - 1
            }
        };
        let e = &mut model.endpoints[index];
        e.channels.push(cid);
        if let Some(ws) = &channel.bindings.ws
            && kind == Kind::Ws
        {
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
                    model.warnings.push(Warning {
                        message: format!(
                            "channel `{}`: a WebSocket upgrade is a GET request; the binding's method `{m}` is not enforced",
                            channel.key
                        ),
                        source: channel.source.clone(),
                    });
                }
            }
        }
    }
    for e in &mut model.endpoints {
        e.name = names.unique(&endpoint_name(api, e));
    }
    // Operations, in document order, on the endpoint of their channel.
    let mut methods = NameSet::default();
    methods.reserve(&[
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
    ]);
    let mut type_names = NameSet::default();
    type_names.reserve(&["Outgoing", "Message"]);
    for e in &model.endpoints {
        type_names.reserve(&[&format!("{}Params", e.name)]);
    }
    for (oi, op) in api.operations.iter().enumerate() {
        let id = OperationId(oi as u32);
        let Some(e) = model
            .endpoints
            .iter_mut()
            .find(|e| e.channels.contains(&op.channel))
        else {
            continue;
        };
        let messages = op_messages(api, id);
        if messages.is_empty() {
            continue;
        }
        let name = operation_name(api, id, &messages);
        let method = methods.unique_field(&field_name(&name));
        let entry = Op {
            id,
            caller: caller_method(&method),
            method,
            type_base: type_names.unique(&type_name(&name)),
            messages,
            reply: reply_messages(api, id),
        };
        match op.action {
            Action::Receive => e.receive.push(entry),
            Action::Send => e.send.push(entry),
        }
    }
    super::http::refine(api, &mut model);
    model
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
        assert_eq!((e.kind, e.route.as_str()), (Kind::Ws, "/"));
        assert_eq!(e.channels.len(), 2);
        assert_eq!(e.receive[0].method, "receive_ping");
        assert_eq!(e.send[0].method, "heartbeat");
        // A protocol with no generated transport is no protocol.
        assert!(build(&api, Some("amqp")).endpoints.is_empty());
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

    #[test]
    fn clients_name_their_methods_from_the_callers_side() {
        assert_eq!(super::caller_method("receive_bid"), "send_bid");
        assert_eq!(super::caller_method("on_order_placed"), "send_order_placed");
        assert_eq!(super::caller_method("handle_command"), "send_command");
        assert_eq!(super::caller_method("submit_quote"), "submit_quote");
        assert_eq!(super::caller_method("ping"), "ping");
        assert_eq!(super::caller_method("receive"), "receive");
        assert_eq!(super::caller_method("r#move"), "r#move");
    }
}
