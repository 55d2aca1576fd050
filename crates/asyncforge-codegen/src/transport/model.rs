//! Which endpoints a generated server offers and a generated client uses: channels on
//! WebSocket and Server-Sent-Events servers, grouped by request path, with the messages
//! that flow each way.

use std::collections::BTreeSet;

use asyncforge_spec::ir::{Action, Api, ChannelId, MessageId, OperationId, SchemaId, Server};

use crate::names::{NameSet, field_name, type_name};
use crate::types::Warning;

/// The transport an endpoint is served with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// WebSocket (`ws`, `wss`).
    Ws,
    /// Server-Sent Events (`sse`, `http+sse`, `https+sse`), with POST for receive operations.
    Sse,
}

impl Kind {
    /// The transport of a server protocol.
    pub fn of(server: &Server) -> Option<Kind> {
        match server.protocol.to_ascii_lowercase().as_str() {
            "ws" | "wss" => Some(Kind::Ws),
            "sse" | "http+sse" | "https+sse" => Some(Kind::Sse),
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
    /// Rust method name.
    pub method: String,
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

fn op_messages(api: &Api, id: OperationId) -> Vec<MessageId> {
    let op = api.operation(id);
    if op.messages.is_empty() {
        api.channel(op.channel).messages.clone()
    } else {
        op.messages.clone()
    }
}

fn reply_messages(api: &Api, id: OperationId) -> Option<Vec<MessageId>> {
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

fn address_params(address: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = address;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        let name = &rest[start + 1..start + len];
        if !out.iter().any(|n| n == name) {
            out.push(name.to_owned());
        }
        rest = &rest[start + len + 1..];
    }
    out
}

/// Groups the API's WebSocket and SSE channels into endpoints.
pub fn build(api: &Api) -> Model {
    let mut model = Model::default();
    let mut names = NameSet::default();
    names.reserve(crate::names::RESERVED);
    names.reserve(&["Server", "Sender", "Handler", "Config"]);
    let mut routes: BTreeSet<String> = BTreeSet::new();
    for (ci, channel) in api.channels.iter().enumerate() {
        let cid = ChannelId(ci as u32);
        let servers: Vec<&Server> = if channel.servers.is_empty() {
            api.servers.iter().collect()
        } else {
            channel.servers.iter().map(|s| api.server(*s)).collect()
        };
        let Some((kind, server)) = servers.iter().find_map(|s| Kind::of(s).map(|k| (k, *s))) else {
            continue;
        };
        let Some(address) = channel.address.clone() else {
            // A channel without an address is only a reply target decided at run time.
            continue;
        };
        let pathname = server.pathname.clone().unwrap_or_default();
        let path = asyncforge_join(&pathname, &address);
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
                let name = names.unique(&type_name(&channel.key));
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
                    name,
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
        let entry = Op {
            id,
            method: methods.unique_field(&field_name(&op.key)),
            type_base: type_names.unique(&type_name(&op.key)),
            messages,
            reply: reply_messages(api, id),
        };
        match op.action {
            Action::Receive => e.receive.push(entry),
            Action::Send => e.send.push(entry),
        }
    }
    model
}

fn asyncforge_join(pathname: &str, address: &str) -> String {
    let base = pathname.trim_end_matches('/');
    let addr = address.trim_start_matches('/');
    if addr.is_empty() {
        if base.is_empty() {
            "/".to_owned()
        } else {
            base.to_owned()
        }
    } else if base.is_empty() {
        format!("/{addr}")
    } else if base.starts_with('/') {
        format!("{base}/{addr}")
    } else {
        format!("/{base}/{addr}")
    }
}
