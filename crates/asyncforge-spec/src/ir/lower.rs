//! Lowering a checked document (2.x or 3.x) into the [`Api`] IR.

use std::collections::HashMap;

use serde_json::{Map, Value};
use typed_arena::Arena;

use super::*;
use crate::rules::{At, template_vars};
use crate::source::FileId;
use crate::structure::is_ref;
use crate::version::Version;
use crate::workspace::Workspace;

/// Lowers a document. Never fails: what is missing or broken in an invalid document is left
/// out (validate first to know).
pub fn lower(ws: &Workspace, version: Version) -> Api {
    let arena = Arena::new();
    let mut l = Lowerer::new(ws, version, &arena);
    l.run();
    l.api
}

pub(crate) struct Lowerer<'a> {
    pub ws: &'a Workspace,
    pub version: Version,
    pub api: Api,
    arena: &'a Arena<Value>,
    pub schema_ids: HashMap<(FileId, String), SchemaId>,
    message_ids: HashMap<(FileId, String), MessageId>,
    channel_ids: HashMap<(FileId, String), ChannelId>,
    server_ids: HashMap<(FileId, String), ServerId>,
    scheme_ids: HashMap<(FileId, String), SecuritySchemeId>,
    scheme_names: HashMap<String, SecuritySchemeId>,
}

/// JSON Merge Patch (RFC 7386) of `patch` onto `target`.
pub(crate) fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            if let Value::Object(t) = target {
                for (k, v) in p {
                    if v.is_null() {
                        t.remove(k);
                    } else {
                        merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| match x {
                    Value::String(s) => Some(s.clone()),
                    Value::Null => None,
                    other => Some(other.to_string()),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn scalar_string(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        Value::Object(_) | Value::Array(_) => None,
        other => Some(other.to_string()),
    }
}

/// Splits a 2.x server URL into host and pathname.
pub(crate) fn split_url(url: &str) -> (String, Option<String>) {
    let rest = match url.find("://") {
        Some(i) => &url[i + 3..],
        None => url,
    };
    match rest.find('/') {
        Some(i) => (rest[..i].to_owned(), Some(rest[i..].to_owned())),
        None => (rest.to_owned(), None),
    }
}

/// A key usable in 3.x `messages` maps (`^[A-Za-z0-9_.-]+$`): other characters become `_`.
pub fn component_key(s: &str) -> String {
    let k: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if k.is_empty() { "message".into() } else { k }
}

/// Name of an operation that has no `operationId` (2.x): the channel name in camel case,
/// then the 2.x verb. The converter uses the same names.
pub fn synthesized_operation_key(channel: &str, verb: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in channel.chars() {
        if c.is_ascii_alphanumeric() {
            if upper && !out.is_empty() {
                out.extend(c.to_uppercase());
            } else {
                out.push(c);
            }
            upper = false;
        } else {
            upper = true;
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "channel");
    }
    let mut v = verb.chars();
    if let Some(f) = v.next() {
        out.extend(f.to_uppercase());
        out.push_str(v.as_str());
    }
    out
}

impl<'a> Lowerer<'a> {
    fn new(ws: &'a Workspace, version: Version, arena: &'a Arena<Value>) -> Self {
        let files = ws
            .files()
            .map(|(_, f)| f.source().display_name().to_owned())
            .collect();
        Lowerer {
            ws,
            version,
            api: Api {
                source_version: version,
                files,
                id: None,
                info: Info::default(),
                default_content_type: None,
                servers: Vec::new(),
                channels: Vec::new(),
                operations: Vec::new(),
                messages: Vec::new(),
                schemas: Vec::new(),
                security_schemes: Vec::new(),
            },
            arena,
            schema_ids: HashMap::new(),
            message_ids: HashMap::new(),
            channel_ids: HashMap::new(),
            server_ids: HashMap::new(),
            scheme_ids: HashMap::new(),
            scheme_names: HashMap::new(),
        }
    }

    pub(crate) fn source(&self, at: &At<'_>) -> Source {
        let loc = self.ws.location(at.file, &at.ptr);
        Source {
            file: at.file.index() as u32,
            pointer: at.ptr.clone(),
            span: loc.span,
        }
    }

    /// Follows references (a broken one leaves the node as it is).
    pub(crate) fn resolve(&self, at: &At<'a>) -> At<'a> {
        if !is_ref(at.v) {
            return at.clone();
        }
        let target = self.ws.ref_target(at.file, &at.ptr).cloned().or_else(|| {
            // Nodes built by trait merging have no recorded reference site.
            let r = at.str("$ref")?;
            let one = self.ws.resolve_one(at.file, r).ok()?;
            self.ws.resolve_chain(one.file, &one.pointer).ok()
        });
        match target.and_then(|t| self.ws.get(t.file, &t.pointer).map(|v| (t, v))) {
            Some((t, v)) => At {
                file: t.file,
                ptr: t.pointer,
                v,
            },
            None => at.clone(),
        }
    }

    /// The component key when `node` is `#/components/<kind>/<key>` of the root file.
    pub(crate) fn component_name(&self, node: &At<'_>, kind: &str) -> Option<String> {
        if node.file != self.ws.root_id() {
            return None;
        }
        let rest = node
            .ptr
            .strip_prefix("/components/")?
            .strip_prefix(kind)?
            .strip_prefix('/')?;
        if rest.contains('/') {
            return None;
        }
        crate::pointer::unescape(rest)
    }

    /// A copy of the node with every reference inlined (for schemas in foreign languages).
    /// Recursion is cut after a fixed depth with the reference kept.
    pub(crate) fn inline(&self, at: &At<'_>, depth: usize) -> Value {
        if depth > 64 {
            return at.v.clone();
        }
        let node = if is_ref(at.v) {
            self.resolve(at)
        } else {
            at.clone()
        };
        if is_ref(node.v) {
            return node.v.clone();
        }
        match node.v {
            Value::Object(m) => {
                let mut out = Map::new();
                for k in m.keys() {
                    if let Some(c) = node.child(k) {
                        out.insert(k.clone(), self.inline(&c, depth + 1));
                    }
                }
                Value::Object(out)
            }
            Value::Array(a) => Value::Array(
                (0..a.len())
                    .filter_map(|i| node.index(i))
                    .map(|c| self.inline(&c, depth + 1))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// Applies traits to an object: 2.x lets traits override (merge patch of each trait onto
    /// the object), 3.x lets the object win (the object patched onto the merged traits).
    fn with_traits(&self, node: &At<'a>) -> At<'a> {
        let Some(traits) = node.child("traits") else {
            return node.clone();
        };
        let trait_values: Vec<Value> = traits
            .items()
            .iter()
            .map(|t| self.inline(&self.resolve(t), 0))
            .collect();
        if trait_values.is_empty() {
            return node.clone();
        }
        let merged = if self.version.is_v2() {
            let mut v = node.v.clone();
            for t in &trait_values {
                merge_patch(&mut v, t);
            }
            v
        } else {
            let mut v = Value::Object(Map::new());
            for t in &trait_values {
                merge_patch(&mut v, t);
            }
            merge_patch(&mut v, node.v);
            v
        };
        let v: &'a Value = self.arena.alloc(merged);
        At {
            file: node.file,
            ptr: node.ptr.clone(),
            v,
        }
    }

    fn root(&self) -> Option<At<'a>> {
        let r = self.ws.root()?;
        Some(At {
            file: r.file,
            ptr: String::new(),
            v: r.value,
        })
    }

    fn run(&mut self) {
        let Some(root) = self.root() else { return };
        self.api.id = root.str("id").map(str::to_owned);
        self.api.default_content_type = root.str("defaultContentType").map(str::to_owned);
        self.info(&root);
        if let Some(ss) = root
            .child("components")
            .and_then(|c| c.child("securitySchemes"))
        {
            for (name, s) in ss.entries() {
                let s = self.resolve(&s);
                let id = self.security_scheme(&s, Some(name));
                self.scheme_names.insert(name.to_owned(), id);
            }
        }
        if let Some(servers) = root.child("servers") {
            for (name, s) in servers.entries() {
                self.server(&s, name);
            }
        }
        if self.version.is_v2() {
            self.v2_channels(&root);
        } else {
            if let Some(channels) = root.child("channels") {
                for (name, c) in channels.entries() {
                    self.channel3(&c, Some(name));
                }
            }
            if let Some(ops) = root.child("operations") {
                for (name, o) in ops.entries() {
                    self.operation3(&o, name);
                }
            }
        }
        // Components nobody references still belong to the API (generators emit their types).
        if let Some(comp) = root.child("components") {
            if let Some(msgs) = comp.child("messages") {
                for (_, m) in msgs.entries() {
                    self.message(&m, None);
                }
            }
            if let Some(schemas) = comp.child("schemas") {
                for (name, s) in schemas.entries() {
                    self.schema(&s, &SchemaFormat::JsonSchema, Some(name));
                }
            }
        }
    }

    fn tags(&self, node: &At<'a>) -> Vec<Tag> {
        node.child("tags")
            .map(|t| {
                t.items()
                    .iter()
                    .map(|t| self.resolve(t))
                    .filter_map(|t| {
                        Some(Tag {
                            name: t.str("name")?.to_owned(),
                            description: t.str("description").map(str::to_owned),
                            external_docs: self.external_docs(&t),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn external_docs(&self, node: &At<'a>) -> Option<ExternalDocs> {
        let d = self.resolve(&node.child("externalDocs")?);
        Some(ExternalDocs {
            url: d.str("url")?.to_owned(),
            description: d.str("description").map(str::to_owned),
        })
    }

    fn info(&mut self, root: &At<'a>) {
        let Some(info) = root.child("info") else {
            return;
        };
        let contact = info.child("contact").map(|c| Contact {
            name: c.str("name").map(str::to_owned),
            url: c.str("url").map(str::to_owned),
            email: c.str("email").map(str::to_owned),
        });
        let license = info.child("license").and_then(|l| {
            Some(License {
                name: l.str("name")?.to_owned(),
                url: l.str("url").map(str::to_owned),
            })
        });
        // 2.x keeps tags and externalDocs at the root, 3.x in `info`.
        let holder = if self.version.is_v2() { root } else { &info };
        self.api.info = Info {
            title: info.str("title").unwrap_or_default().to_owned(),
            version: scalar_string(info.v.get("version")).unwrap_or_default(),
            description: info.str("description").map(str::to_owned),
            terms_of_service: info.str("termsOfService").map(str::to_owned),
            contact,
            license,
            tags: self.tags(holder),
            external_docs: self.external_docs(holder),
        };
    }

    fn security_scheme(&mut self, s: &At<'a>, name: Option<&str>) -> SecuritySchemeId {
        let key = (s.file, s.ptr.clone());
        if let Some(&id) = self.scheme_ids.get(&key) {
            return id;
        }
        let id = SecuritySchemeId(self.api.security_schemes.len() as u32);
        self.scheme_ids.insert(key, id);
        let flows = s
            .child("flows")
            .map(|f| {
                f.entries()
                    .into_iter()
                    .map(|(kind, flow)| {
                        let flow = self.resolve(&flow);
                        let scopes_v = flow
                            .v
                            .get("availableScopes")
                            .or_else(|| flow.v.get("scopes"));
                        OAuthFlow {
                            kind: kind.to_owned(),
                            authorization_url: flow.str("authorizationUrl").map(str::to_owned),
                            token_url: flow.str("tokenUrl").map(str::to_owned),
                            refresh_url: flow.str("refreshUrl").map(str::to_owned),
                            scopes: scopes_v
                                .and_then(Value::as_object)
                                .map(|m| {
                                    m.iter()
                                        .map(|(k, v)| {
                                            (k.clone(), v.as_str().unwrap_or_default().to_owned())
                                        })
                                        .collect()
                                })
                                .unwrap_or_default(),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        let key_name = name
            .map(str::to_owned)
            .or_else(|| self.component_name(s, "securitySchemes"))
            .unwrap_or_else(|| format!("scheme{}", id.0 + 1));
        self.api.security_schemes.push(SecurityScheme {
            key: key_name,
            kind: s.str("type").unwrap_or_default().to_owned(),
            description: s.str("description").map(str::to_owned),
            name: s.str("name").map(str::to_owned),
            location: s.str("in").map(str::to_owned),
            http_scheme: s.str("scheme").map(str::to_owned),
            bearer_format: s.str("bearerFormat").map(str::to_owned),
            open_id_connect_url: s.str("openIdConnectUrl").map(str::to_owned),
            flows,
            source: self.source(s),
        });
        id
    }

    /// Security requirements: 2.x `[{name: [scopes]}]`, 3.x `[scheme or $ref]`.
    fn security(&mut self, node: &At<'a>) -> Vec<SecurityRequirement> {
        let Some(list) = node.child("security") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in list.items() {
            if self.version.is_v2() {
                let item = self.resolve(&item);
                for (name, scopes) in item.entries() {
                    if let Some(&scheme) = self.scheme_names.get(name) {
                        out.push(SecurityRequirement {
                            scheme,
                            scopes: strings(Some(scopes.v)),
                        });
                    }
                }
            } else {
                let s = self.resolve(&item);
                let scheme = self.security_scheme(&s, None);
                out.push(SecurityRequirement {
                    scheme,
                    scopes: strings(s.v.get("scopes")),
                });
            }
        }
        out
    }

    fn server(&mut self, s: &At<'a>, name: &str) -> ServerId {
        let s = self.resolve(s);
        let key = (s.file, s.ptr.clone());
        if let Some(&id) = self.server_ids.get(&key) {
            return id;
        }
        let id = ServerId(self.api.servers.len() as u32);
        self.server_ids.insert(key, id);
        let (host, pathname) = if self.version.is_v2() {
            split_url(s.str("url").unwrap_or_default())
        } else {
            (
                s.str("host").unwrap_or_default().to_owned(),
                s.str("pathname").map(str::to_owned),
            )
        };
        let variables = s
            .child("variables")
            .map(|v| self.resolve(&v))
            .map(|vars| {
                vars.entries()
                    .into_iter()
                    .map(|(n, v)| {
                        let v = self.resolve(&v);
                        ServerVariable {
                            source: self.source(&v),
                            name: n.to_owned(),
                            allowed: strings(v.v.get("enum")),
                            default: scalar_string(v.v.get("default")),
                            description: v.str("description").map(str::to_owned),
                            examples: strings(v.v.get("examples")),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        let source = self.source(&s);
        let mut server = Server {
            key: name.to_owned(),
            host,
            pathname,
            protocol: s.str("protocol").unwrap_or_default().to_owned(),
            protocol_version: scalar_string(s.v.get("protocolVersion")),
            title: s.str("title").map(str::to_owned),
            summary: s.str("summary").map(str::to_owned),
            description: s.str("description").map(str::to_owned),
            variables,
            security: Vec::new(),
            tags: self.tags(&s),
            external_docs: self.external_docs(&s),
            bindings: ServerBindings::default(),
            source,
        };
        server.security = self.security(&s);
        server.bindings = self.server_bindings(&s);
        self.api.servers.push(server);
        id
    }

    fn parameters_of(&mut self, channel: &At<'a>, address: Option<&str>) -> Vec<Parameter> {
        let declared: Vec<(String, At<'a>)> = channel
            .child("parameters")
            .map(|p| self.resolve(&p))
            .map(|p| {
                p.entries()
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect()
            })
            .unwrap_or_default();
        let mut names: Vec<String> = address
            .map(|a| {
                template_vars(a)
                    .into_iter()
                    .map(|(n, _)| n.to_owned())
                    .filter(|n| !n.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        names.dedup();
        for (k, _) in &declared {
            if !names.contains(k) {
                names.push(k.clone());
            }
        }
        names
            .into_iter()
            .map(|name| {
                let p = declared
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| self.resolve(v));
                let Some(p) = p else {
                    // Used in the address but not declared: where the address is written.
                    return Parameter {
                        source: self.source(channel),
                        name,
                        description: None,
                        allowed: Vec::new(),
                        default: None,
                        examples: Vec::new(),
                        location: None,
                        schema: None,
                    };
                };
                let schema = p
                    .child("schema")
                    .map(|s| self.schema(&s, &SchemaFormat::JsonSchema, None));
                // 2.x keeps enum/default/examples in the schema; 3.x on the parameter.
                let from_schema = p.child("schema").map(|s| self.resolve(&s));
                let pick = |k: &str| {
                    p.v.get(k)
                        .or_else(|| from_schema.as_ref().and_then(|s| s.v.get(k)))
                };
                Parameter {
                    source: self.source(&p),
                    allowed: strings(pick("enum")),
                    default: scalar_string(pick("default")),
                    examples: strings(pick("examples")),
                    description: p
                        .str("description")
                        .or_else(|| from_schema.as_ref().and_then(|s| s.str("description")))
                        .map(str::to_owned),
                    location: p.str("location").map(str::to_owned),
                    schema,
                    name,
                }
            })
            .collect()
    }

    fn new_channel(&mut self, key: String, address: Option<String>, node: &At<'a>) -> ChannelId {
        let id = ChannelId(self.api.channels.len() as u32);
        let source = self.source(node);
        self.api.channels.push(Channel {
            key,
            address,
            parameters: Vec::new(),
            messages: Vec::new(),
            servers: Vec::new(),
            title: node.str("title").map(str::to_owned),
            summary: node.str("summary").map(str::to_owned),
            description: node.str("description").map(str::to_owned),
            tags: self.tags(node),
            external_docs: self.external_docs(node),
            bindings: ChannelBindings::default(),
            webhook: self.webhook_ext(node),
            resource: self.resource_ext(node),
            source,
        });
        id
    }

    /// `x-asyncforge-webhook` of an operation or channel.
    fn webhook_ext(&self, node: &At<'a>) -> Option<WebhookExtension> {
        let v = self.inline(&node.child("x-asyncforge-webhook")?, 0);
        WebhookExtension::parse(&v)
    }

    /// `x-asyncforge-resource` of a channel.
    fn resource_ext(&self, node: &At<'a>) -> Option<ResourceExtension> {
        let v = self.inline(&node.child("x-asyncforge-resource")?, 0);
        ResourceExtension::parse(&v)
    }

    // ---- 2.x -------------------------------------------------------------------------------

    fn v2_channels(&mut self, root: &At<'a>) {
        let Some(channels) = root.child("channels") else {
            return;
        };
        for (name, item) in channels.entries() {
            let item = self.resolve(&item);
            let id = self.new_channel(name.to_owned(), Some(name.to_owned()), &item);
            self.channel_ids.insert((item.file, item.ptr.clone()), id);
            let params = self.parameters_of(&item, Some(name));
            let bindings = self.channel_bindings(&item);
            let servers: Vec<ServerId> = strings(item.v.get("servers"))
                .iter()
                .filter_map(|n| {
                    self.api
                        .servers
                        .iter()
                        .position(|s| s.key == *n)
                        .map(|i| ServerId(i as u32))
                })
                .collect();
            {
                let c = &mut self.api.channels[id.index()];
                c.parameters = params;
                c.bindings = bindings;
                c.servers = servers;
            }
            for (verb, action) in [("subscribe", Action::Send), ("publish", Action::Receive)] {
                let Some(op) = item.child(verb) else { continue };
                let op = self.resolve(&op);
                let op = self.with_traits(&op);
                let key = op
                    .str("operationId")
                    .map(str::to_owned)
                    .unwrap_or_else(|| synthesized_operation_key(name, verb));
                let messages = self.v2_operation_messages(&op, &key);
                for m in &messages {
                    if !self.api.channels[id.index()].messages.contains(m) {
                        self.api.channels[id.index()].messages.push(*m);
                    }
                }
                let security = self.security(&op);
                let bindings = self.operation_bindings(&op);
                let source = self.source(&op);
                self.api.operations.push(Operation {
                    key,
                    action,
                    channel: id,
                    messages,
                    reply: None,
                    title: op.str("title").map(str::to_owned),
                    summary: op.str("summary").map(str::to_owned),
                    description: op.str("description").map(str::to_owned),
                    security,
                    tags: self.tags(&op),
                    external_docs: self.external_docs(&op),
                    bindings,
                    webhook: self.webhook_ext(&op),
                    source,
                });
            }
        }
    }

    fn v2_operation_messages(&mut self, op: &At<'a>, op_key: &str) -> Vec<MessageId> {
        let Some(m) = op.child("message") else {
            return Vec::new();
        };
        let m = self.resolve(&m);
        match m.child("oneOf") {
            Some(list) if m.v.get("payload").is_none() => list
                .items()
                .iter()
                .enumerate()
                .map(|(i, item)| self.message(item, Some(&format!("{op_key}Message{}", i + 1))))
                .collect(),
            _ => vec![self.message(&m, Some(&format!("{op_key}Message")))],
        }
    }

    // ---- 3.x -------------------------------------------------------------------------------

    fn channel3(&mut self, c: &At<'a>, name: Option<&str>) -> ChannelId {
        let c = self.resolve(c);
        let key = (c.file, c.ptr.clone());
        if let Some(&id) = self.channel_ids.get(&key) {
            return id;
        }
        let name = name
            .map(str::to_owned)
            .or_else(|| self.component_name(&c, "channels"))
            .or_else(|| crate::pointer::last(&c.ptr))
            .unwrap_or_else(|| "channel".into());
        let address = c.str("address").map(str::to_owned);
        let id = self.new_channel(name, address.clone(), &c);
        self.channel_ids.insert(key, id);
        let params = self.parameters_of(&c, address.as_deref());
        let bindings = self.channel_bindings(&c);
        let mut servers = Vec::new();
        if let Some(list) = c.child("servers") {
            for s in list.items() {
                let target = self.resolve(&s);
                let name = crate::pointer::last(&target.ptr).unwrap_or_default();
                servers.push(self.server(&target, &name));
            }
        }
        let mut messages = Vec::new();
        if let Some(ms) = c.child("messages") {
            for (k, m) in ms.entries() {
                messages.push(self.message(&m, Some(k)));
            }
        }
        let ch = &mut self.api.channels[id.index()];
        ch.parameters = params;
        ch.bindings = bindings;
        ch.servers = servers;
        ch.messages = messages;
        id
    }

    fn operation3(&mut self, o: &At<'a>, name: &str) {
        let o = self.resolve(o);
        let o = self.with_traits(&o);
        let Some(channel_at) = o.child("channel") else {
            return;
        };
        let channel = self.channel3(&channel_at, None);
        let action = if o.str("action") == Some("send") {
            Action::Send
        } else {
            Action::Receive
        };
        let mut messages: Vec<MessageId> = o
            .child("messages")
            .map(|ms| ms.items().iter().map(|m| self.message(m, None)).collect())
            .unwrap_or_default();
        if o.child("messages").is_none() {
            messages = self.api.channels[channel.index()].messages.clone();
        }
        let reply = o.child("reply").map(|r| self.resolve(&r)).map(|r| {
            let address = r.child("address").map(|a| self.resolve(&a)).and_then(|a| {
                Some(ReplyAddress {
                    location: a.str("location")?.to_owned(),
                    description: a.str("description").map(str::to_owned),
                })
            });
            let channel = r.child("channel").map(|c| self.channel3(&c, None));
            let mut messages: Vec<MessageId> = r
                .child("messages")
                .map(|ms| ms.items().iter().map(|m| self.message(m, None)).collect())
                .unwrap_or_default();
            if r.child("messages").is_none()
                && let Some(c) = channel
            {
                messages = self.api.channels[c.index()].messages.clone();
            }
            Reply {
                address,
                channel,
                messages,
            }
        });
        let security = self.security(&o);
        let bindings = self.operation_bindings(&o);
        let source = self.source(&o);
        self.api.operations.push(Operation {
            key: name.to_owned(),
            action,
            channel,
            messages,
            reply,
            title: o.str("title").map(str::to_owned),
            summary: o.str("summary").map(str::to_owned),
            description: o.str("description").map(str::to_owned),
            security,
            tags: self.tags(&o),
            external_docs: self.external_docs(&o),
            bindings,
            webhook: self.webhook_ext(&o),
            source,
        });
    }

    // ---- messages --------------------------------------------------------------------------

    /// Lowers a message (interned by location). `fallback` names it when nothing better does.
    fn message(&mut self, m: &At<'a>, fallback: Option<&str>) -> MessageId {
        let m = self.resolve(m);
        let loc = (m.file, m.ptr.clone());
        if let Some(&id) = self.message_ids.get(&loc) {
            return id;
        }
        let id = MessageId(self.api.messages.len() as u32);
        self.message_ids.insert(loc, id);
        let merged = self.with_traits(&m);
        let v2 = self.version.is_v2();
        let key = (if v2 && self.version >= Version::V2_4 {
            merged.str("messageId").map(str::to_owned)
        } else {
            None
        })
        .or_else(|| self.component_name(&m, "messages"))
        .or_else(|| {
            // 3.x: the key under a channel's `messages`.
            let parent = crate::pointer::parent(&m.ptr)?;
            parent
                .ends_with("/messages")
                .then(|| crate::pointer::last(&m.ptr))
                .flatten()
        })
        .or_else(|| merged.str("name").map(str::to_owned))
        .or_else(|| fallback.map(str::to_owned))
        .unwrap_or_else(|| format!("message{}", id.0 + 1));
        // 2.x names (messageId, name) may hold characters that 3.x message keys cannot; the
        // converter makes the same keys.
        let key = if v2 { component_key(&key) } else { key };
        let key = self.unique_message_key(key);
        let source = self.source(&m);
        self.api.messages.push(Message {
            key,
            name: merged.str("name").map(str::to_owned),
            title: merged.str("title").map(str::to_owned),
            summary: merged.str("summary").map(str::to_owned),
            description: merged.str("description").map(str::to_owned),
            content_type: merged
                .str("contentType")
                .map(str::to_owned)
                .or_else(|| self.api.default_content_type.clone()),
            payload: None,
            headers: None,
            correlation_id: None,
            examples: Vec::new(),
            tags: self.tags(&merged),
            external_docs: self.external_docs(&merged),
            deprecated: merged
                .v
                .get("deprecated")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            bindings: MessageBindings::default(),
            source,
        });
        let format = SchemaFormat::from_media_type(merged.str("schemaFormat"));
        let payload = merged
            .child("payload")
            .map(|p| self.payload_schema(&p, &format));
        let headers = merged
            .child("headers")
            .map(|h| self.payload_schema(&h, &SchemaFormat::JsonSchema));
        let correlation_id = merged
            .child("correlationId")
            .map(|c| self.resolve(&c))
            .and_then(|c| {
                Some(CorrelationId {
                    location: c.str("location")?.to_owned(),
                    description: c.str("description").map(str::to_owned),
                })
            });
        let examples = merged
            .child("examples")
            .map(|e| {
                e.items()
                    .iter()
                    .map(|x| self.resolve(x))
                    .map(|x| MessageExample {
                        name: x.str("name").map(str::to_owned),
                        summary: x.str("summary").map(str::to_owned),
                        headers: x.child("headers").map(|h| self.inline(&h, 0)),
                        payload: x.child("payload").map(|p| self.inline(&p, 0)),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let bindings = self.message_bindings(&merged);
        let msg = &mut self.api.messages[id.index()];
        msg.payload = payload;
        msg.headers = headers;
        msg.correlation_id = correlation_id;
        msg.examples = examples;
        msg.bindings = bindings;
        id
    }

    fn unique_message_key(&self, key: String) -> String {
        if !self.api.messages.iter().any(|m| m.key == key) {
            return key;
        }
        (2..)
            .map(|n| format!("{key}{n}"))
            .find(|k| !self.api.messages.iter().any(|m| m.key == *k))
            .unwrap_or(key)
    }

    /// A payload or headers schema; 3.x Multi Format Schema Objects carry their own format.
    fn payload_schema(&mut self, at: &At<'a>, format: &SchemaFormat) -> SchemaId {
        let node = self.resolve(at);
        if self.version.is_v3()
            && node.v.get("schemaFormat").is_some()
            && node.v.get("schema").is_some()
        {
            let f = SchemaFormat::from_media_type(node.str("schemaFormat"));
            if let Some(s) = node.child("schema") {
                return self.schema(&s, &f, None);
            }
        }
        self.schema(&node, format, None)
    }

    // ---- bindings --------------------------------------------------------------------------

    fn bindings_of(&self, node: &At<'a>) -> Option<At<'a>> {
        node.child("bindings").map(|b| self.resolve(&b))
    }

    /// One protocol's binding; a `$ref` that lands on a whole Bindings Object (holding the
    /// protocol's key itself, a common 2.x slip) is read through.
    fn binding(&self, b: &At<'a>, proto: &str) -> Option<At<'a>> {
        let v = self.resolve(&b.child(proto)?);
        match v.child(proto) {
            Some(inner) if is_ref(&b.child(proto)?.v.clone()) => Some(self.resolve(&inner)),
            _ => Some(v),
        }
    }

    fn other_bindings(&self, b: &At<'a>, typed: &[&str]) -> Vec<(String, Value)> {
        b.entries()
            .into_iter()
            .filter(|(k, _)| !typed.contains(k))
            .map(|(k, v)| (k.to_owned(), self.inline(&v, 0)))
            .collect()
    }

    fn opt_schema(&mut self, b: &At<'a>, key: &str) -> Option<SchemaId> {
        b.child(key)
            .map(|s| self.schema(&s, &SchemaFormat::JsonSchema, None))
    }

    fn interval(&mut self, b: &At<'a>, key: &str) -> Option<IntervalOrSchema> {
        let c = b.child(key)?;
        match c.v.as_u64() {
            Some(n) => Some(IntervalOrSchema::Value(n)),
            None => Some(IntervalOrSchema::Schema(self.schema(
                &c,
                &SchemaFormat::JsonSchema,
                None,
            ))),
        }
    }

    fn server_bindings(&mut self, node: &At<'a>) -> ServerBindings {
        let Some(b) = self.bindings_of(node) else {
            return ServerBindings::default();
        };
        let kafka = self.binding(&b, "kafka").map(|k| KafkaServerBinding {
            schema_registry_url: k.str("schemaRegistryUrl").map(str::to_owned),
            schema_registry_vendor: k.str("schemaRegistryVendor").map(str::to_owned),
            binding_version: k.str("bindingVersion").map(str::to_owned),
        });
        let mqtt = self.binding(&b, "mqtt").map(|m| MqttServerBinding {
            client_id: m.str("clientId").map(str::to_owned),
            clean_session: m.v.get("cleanSession").and_then(Value::as_bool),
            last_will: m.child("lastWill").map(|w| MqttLastWill {
                topic: w.str("topic").map(str::to_owned),
                qos: w
                    .v
                    .get("qos")
                    .and_then(Value::as_u64)
                    .map(|q| q.min(2) as u8),
                message: w.str("message").map(str::to_owned),
                retain: w.v.get("retain").and_then(Value::as_bool),
            }),
            keep_alive: m.v.get("keepAlive").and_then(Value::as_u64),
            session_expiry_interval: self.interval(&m, "sessionExpiryInterval"),
            maximum_packet_size: self.interval(&m, "maximumPacketSize"),
            binding_version: m.str("bindingVersion").map(str::to_owned),
        });
        let mqtt5 = self.binding(&b, "mqtt5").map(|m| Mqtt5ServerBinding {
            session_expiry_interval: self.interval(&m, "sessionExpiryInterval"),
            binding_version: m.str("bindingVersion").map(str::to_owned),
        });
        ServerBindings {
            kafka,
            mqtt,
            mqtt5,
            other: self.other_bindings(&b, &["kafka", "mqtt", "mqtt5"]),
        }
    }

    fn channel_bindings(&mut self, node: &At<'a>) -> ChannelBindings {
        let Some(b) = self.bindings_of(node) else {
            return ChannelBindings::default();
        };
        let kafka = self.binding(&b, "kafka").map(|k| KafkaChannelBinding {
            topic: k.str("topic").map(str::to_owned),
            partitions: k.v.get("partitions").and_then(Value::as_u64),
            replicas: k.v.get("replicas").and_then(Value::as_u64),
            topic_configuration: k.child("topicConfiguration").map(|t| self.inline(&t, 0)),
            binding_version: k.str("bindingVersion").map(str::to_owned),
        });
        let ws = self.binding(&b, "ws").map(|w| WsChannelBinding {
            method: w.str("method").map(str::to_owned),
            query: self.opt_schema(&w, "query"),
            headers: self.opt_schema(&w, "headers"),
            binding_version: w.str("bindingVersion").map(str::to_owned),
        });
        ChannelBindings {
            kafka,
            ws,
            other: self.other_bindings(&b, &["kafka", "ws"]),
        }
    }

    fn operation_bindings(&mut self, node: &At<'a>) -> OperationBindings {
        let Some(b) = self.bindings_of(node) else {
            return OperationBindings::default();
        };
        let kafka = self.binding(&b, "kafka").map(|k| KafkaOperationBinding {
            group_id: self.opt_schema(&k, "groupId"),
            client_id: self.opt_schema(&k, "clientId"),
            binding_version: k.str("bindingVersion").map(str::to_owned),
        });
        let mqtt = self.binding(&b, "mqtt").map(|m| MqttOperationBinding {
            qos: m
                .v
                .get("qos")
                .and_then(Value::as_u64)
                .map(|q| q.min(2) as u8),
            retain: m.v.get("retain").and_then(Value::as_bool),
            message_expiry_interval: self.interval(&m, "messageExpiryInterval"),
            binding_version: m.str("bindingVersion").map(str::to_owned),
        });
        let http = self.binding(&b, "http").map(|h| HttpOperationBinding {
            kind: h.str("type").map(str::to_owned),
            method: h.str("method").map(str::to_owned),
            query: self.opt_schema(&h, "query"),
            binding_version: h.str("bindingVersion").map(str::to_owned),
        });
        OperationBindings {
            kafka,
            mqtt,
            http,
            other: self.other_bindings(&b, &["kafka", "mqtt", "http"]),
        }
    }

    fn message_bindings(&mut self, node: &At<'a>) -> MessageBindings {
        let Some(b) = self.bindings_of(node) else {
            return MessageBindings::default();
        };
        let kafka = match self.binding(&b, "kafka") {
            Some(k) => {
                // The key may be an Avro schema; it follows the message's schema format then.
                let key_format = match k.child("key").map(|x| self.resolve(&x)) {
                    Some(x) if x.v.get("type").and_then(Value::as_str) == Some("record") => {
                        SchemaFormat::Avro("application/vnd.apache.avro;version=1.9.0".into())
                    }
                    _ => SchemaFormat::JsonSchema,
                };
                Some(KafkaMessageBinding {
                    key: k.child("key").map(|x| self.schema(&x, &key_format, None)),
                    schema_id_location: k.str("schemaIdLocation").map(str::to_owned),
                    schema_id_payload_encoding: k.str("schemaIdPayloadEncoding").map(str::to_owned),
                    schema_lookup_strategy: k.str("schemaLookupStrategy").map(str::to_owned),
                    binding_version: k.str("bindingVersion").map(str::to_owned),
                })
            }
            None => None,
        };
        let mqtt = self.binding(&b, "mqtt").map(|m| MqttMessageBinding {
            payload_format_indicator: m
                .v
                .get("payloadFormatIndicator")
                .and_then(Value::as_u64)
                .map(|x| x.min(1) as u8),
            correlation_data: self.opt_schema(&m, "correlationData"),
            content_type: m.str("contentType").map(str::to_owned),
            response_topic: match m.child("responseTopic") {
                Some(t) => match t.v.as_str() {
                    Some(s) => Some(ResponseTopic::Topic(s.to_owned())),
                    None => Some(ResponseTopic::Schema(self.schema(
                        &t,
                        &SchemaFormat::JsonSchema,
                        None,
                    ))),
                },
                None => None,
            },
            binding_version: m.str("bindingVersion").map(str::to_owned),
        });
        let http = self.binding(&b, "http").map(|h| HttpMessageBinding {
            headers: self.opt_schema(&h, "headers"),
            status_code: h
                .v
                .get("statusCode")
                .and_then(Value::as_u64)
                .and_then(|c| u16::try_from(c).ok()),
            binding_version: h.str("bindingVersion").map(str::to_owned),
        });
        MessageBindings {
            kafka,
            mqtt,
            http,
            other: self.other_bindings(&b, &["kafka", "mqtt", "http"]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_split() {
        assert_eq!(
            split_url("mqtt://test.mosquitto.org:{port}"),
            ("test.mosquitto.org:{port}".into(), None)
        );
        assert_eq!(
            split_url("wss://ws.example.com/v1/ws"),
            ("ws.example.com".into(), Some("/v1/ws".into()))
        );
        assert_eq!(
            split_url("api.example.com/x"),
            ("api.example.com".into(), Some("/x".into()))
        );
    }

    #[test]
    fn operation_names() {
        assert_eq!(
            synthesized_operation_key("user/{id}/signedup", "publish"),
            "userIdSignedupPublish"
        );
        assert_eq!(
            synthesized_operation_key("/", "subscribe"),
            "channelSubscribe"
        );
    }

    #[test]
    fn merge_patch_rfc7386() {
        let mut t = serde_json::json!({"a": 1, "b": {"c": 2, "d": 3}});
        merge_patch(
            &mut t,
            &serde_json::json!({"a": null, "b": {"c": 4}, "e": 5}),
        );
        assert_eq!(t, serde_json::json!({"b": {"c": 4, "d": 3}, "e": 5}));
    }
}
