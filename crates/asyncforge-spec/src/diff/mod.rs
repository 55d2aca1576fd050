//! Comparing two documents on their resolved model, not their text.
//!
//! Both documents are lowered to the IR ([`crate::ir::Api`]) first, so `$ref`s, file splits,
//! key order, YAML/JSON and the AsyncAPI version are gone before anything is compared. Objects
//! are matched by what they are (a channel by its address, an operation by its channel, action
//! and messages, a message by its key, name or payload), never by where they are written.
//!
//! Every [`Change`] has a stable code (the table is `docs/diff.md`), a [`Class`] and, for a
//! change that breaks someone, the [`Side`] it breaks. Direction decides the class of a schema
//! change: a message the application sends breaks its receivers when its schema accepts more;
//! a message it receives breaks its senders when its schema accepts less.

pub mod render;
pub mod schema;

use std::collections::HashSet;
use std::fmt;

use serde::Serialize;

use crate::ir::{
    Action, Api, ChannelId, Message, MessageId, Operation, OperationId, SchemaId,
    SecurityRequirement, Source,
};
use schema::{Effect, Finding};

/// How a change affects the users of an API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    /// Some existing sender or receiver stops working.
    Breaking,
    /// Nobody who worked with the old document is affected.
    NonBreaking,
    /// asyncforge cannot decide (a changed `pattern`, a binding, a foreign schema).
    Unclassified,
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Class::Breaking => "breaking",
            Class::NonBreaking => "non-breaking",
            Class::Unclassified => "unclassified",
        })
    }
}

/// Who a change breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Side {
    /// Those who receive what the application sends.
    Receivers,
    /// Those who send what the application receives.
    Senders,
    /// Everyone using the changed part (both directions, servers, channels).
    Both,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Receivers => "receivers",
            Side::Senders => "senders",
            Side::Both => "senders and receivers",
        })
    }
}

/// A place in one of the two documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Place {
    /// File, as the document's files are displayed.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub col: u32,
    /// JSON pointer within the file.
    pub pointer: String,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

/// One difference between the two documents.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// Stable code (`payload.type-narrowed`, `operation.removed`, …).
    pub code: String,
    /// Breaking, non-breaking or unclassified.
    pub class: Class,
    /// Who it breaks (breaking and unclassified changes that have a direction).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breaks: Option<Side>,
    /// What changed, with the object it belongs to.
    pub message: String,
    /// Instance path inside a payload, headers or key schema (`/order/id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Where it is in the old document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<Place>,
    /// Where it is in the new document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<Place>,
}

/// The class of a change to something flowing in the direction `action`, given its effect on
/// the accepted values.
pub fn classify(effect: Effect, action: Action) -> (Class, Option<Side>) {
    let side = match action {
        Action::Send => Side::Receivers,
        Action::Receive => Side::Senders,
    };
    match (effect, action) {
        (Effect::None, _) => (Class::NonBreaking, None),
        (Effect::Unknown, _) => (Class::Unclassified, Some(side)),
        (Effect::Changed, _) => (Class::Breaking, Some(side)),
        (Effect::Widened, Action::Send) | (Effect::Narrowed, Action::Receive) => {
            (Class::Breaking, Some(side))
        }
        (Effect::Widened, Action::Receive) | (Effect::Narrowed, Action::Send) => {
            (Class::NonBreaking, None)
        }
    }
}

/// Classifies a change to something used in several directions: breaking when it breaks any.
fn classify_all(effect: Effect, actions: &[Action]) -> (Class, Option<Side>) {
    let mut class = None::<Class>;
    let mut sides: Vec<Side> = Vec::new();
    for a in actions {
        let (c, s) = classify(effect, *a);
        // Breaking beats unclassified, which beats non-breaking.
        let rank = |c: Class| match c {
            Class::Breaking => 2,
            Class::Unclassified => 1,
            Class::NonBreaking => 0,
        };
        class = Some(match class {
            Some(prev) if rank(prev) >= rank(c) => prev,
            _ => c,
        });
        if let Some(s) = s
            && !sides.contains(&s)
        {
            sides.push(s);
        }
    }
    let Some(class) = class else {
        // Used by no operation: nobody to break, but nobody to ask either.
        return match effect {
            Effect::None => (Class::NonBreaking, None),
            _ => (Class::Unclassified, None),
        };
    };
    let side = match sides.len() {
        0 => None,
        1 => Some(sides[0]),
        _ => Some(Side::Both),
    };
    (
        class,
        if class == Class::NonBreaking {
            None
        } else {
            side
        },
    )
}

/// Compares two lowered documents.
pub fn diff(old: &Api, new: &Api) -> Vec<Change> {
    let mut d = Differ {
        old,
        new,
        out: Vec::new(),
        channels: Vec::new(),
        seen_messages: HashSet::new(),
    };
    d.info();
    d.servers();
    d.channels();
    d.operations();
    d.out
}

struct Differ<'a> {
    old: &'a Api,
    new: &'a Api,
    out: Vec<Change>,
    /// Matched channels (old, new).
    channels: Vec<(ChannelId, ChannelId)>,
    /// Message pairs whose own fields were already compared.
    seen_messages: HashSet<(MessageId, MessageId)>,
}

fn place(api: &Api, s: &Source) -> Place {
    Place {
        file: api.files.get(s.file as usize).cloned().unwrap_or_default(),
        line: s.span.start.line,
        col: s.span.start.col,
        pointer: s.pointer.clone(),
    }
}

/// A criterion for pairing an old item with a new one.
type Criterion<'c, T> = &'c dyn Fn(&T, &T) -> bool;

/// Pairs the items of two lists by a sequence of criteria: each pass pairs what is still
/// unpaired, first match wins.
fn pair<T>(
    old: &[T],
    new: &[T],
    passes: &[Criterion<'_, T>],
) -> (Vec<(usize, usize)>, Vec<usize>, Vec<usize>) {
    let mut o_done = vec![false; old.len()];
    let mut n_done = vec![false; new.len()];
    let mut pairs = Vec::new();
    for pass in passes {
        for (i, a) in old.iter().enumerate() {
            if o_done[i] {
                continue;
            }
            if let Some(j) = (0..new.len()).find(|&j| !n_done[j] && pass(a, &new[j])) {
                o_done[i] = true;
                n_done[j] = true;
                pairs.push((i, j));
            }
        }
    }
    let removed = (0..old.len()).filter(|i| !o_done[*i]).collect();
    let added = (0..new.len()).filter(|j| !n_done[*j]).collect();
    (pairs, removed, added)
}

impl<'a> Differ<'a> {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        code: impl Into<String>,
        class: Class,
        breaks: Option<Side>,
        message: String,
        path: Option<String>,
        old: Option<&Source>,
        new: Option<&Source>,
    ) {
        self.out.push(Change {
            code: code.into(),
            class,
            breaks,
            message,
            path,
            old: old.map(|s| place(self.old, s)),
            new: new.map(|s| place(self.new, s)),
        });
    }

    /// A change found at `old` and `new` that breaks `side`'s peers (per `class`).
    fn change(
        &mut self,
        code: impl Into<String>,
        class: Class,
        side: Side,
        message: String,
        old: &Source,
        new: &Source,
    ) {
        self.push(code, class, Some(side), message, None, Some(old), Some(new));
    }

    fn doc_change(&mut self, code: &str, what: String, old: &Source, new: &Source) {
        self.push(
            code,
            Class::NonBreaking,
            None,
            what,
            None,
            Some(old),
            Some(new),
        );
    }

    fn info(&mut self) {
        let (a, b) = (&self.old.info, &self.new.info);
        let mut fields = Vec::new();
        if a.title != b.title {
            fields.push((
                "info.title-changed",
                format!("title `{}` → `{}`", a.title, b.title),
            ));
        }
        if a.version != b.version {
            fields.push((
                "info.version-changed",
                format!("API version {} → {}", a.version, b.version),
            ));
        }
        if a.description != b.description
            || a.terms_of_service != b.terms_of_service
            || a.contact != b.contact
            || a.license != b.license
            || a.tags != b.tags
            || a.external_docs != b.external_docs
        {
            fields.push((
                "info.documentation-changed",
                "description, contact, license, tags or external docs changed".into(),
            ));
        }
        if self.old.id != self.new.id {
            fields.push(("info.id-changed", "document `id` changed".into()));
        }
        let at = |api: &Api| Place {
            file: api.files.first().cloned().unwrap_or_default(),
            line: 1,
            col: 1,
            pointer: "/info".into(),
        };
        for (code, msg) in fields {
            // `info` keeps no position in the IR: the root file is named.
            self.out.push(Change {
                code: code.into(),
                class: Class::NonBreaking,
                breaks: None,
                message: msg,
                path: None,
                old: Some(at(self.old)),
                new: Some(at(self.new)),
            });
        }
    }

    fn servers(&mut self) {
        let (o, n) = (&self.old.servers, &self.new.servers);
        let (pairs, removed, added) = pair(
            o,
            n,
            &[&|a, b| a.key == b.key, &|a, b| {
                a.host == b.host && a.pathname == b.pathname && a.protocol == b.protocol
            }],
        );
        for i in removed {
            let s = &o[i];
            self.push(
                "server.removed",
                Class::Breaking,
                Some(Side::Both),
                format!("server `{}` ({} {}) removed", s.key, s.protocol, s.host),
                None,
                Some(&s.source),
                None,
            );
        }
        for j in added {
            let s = &n[j];
            self.push(
                "server.added",
                Class::NonBreaking,
                None,
                format!("server `{}` ({} {}) added", s.key, s.protocol, s.host),
                None,
                None,
                Some(&s.source),
            );
        }
        for (i, j) in pairs {
            let (a, b) = (&o[i], &n[j]);
            let name = format!("server `{}`", b.key);
            if a.host != b.host || a.pathname != b.pathname {
                self.change(
                    "server.address-changed",
                    Class::Breaking,
                    Side::Both,
                    format!(
                        "{name}: address `{}{}` → `{}{}`",
                        a.host,
                        a.pathname.as_deref().unwrap_or(""),
                        b.host,
                        b.pathname.as_deref().unwrap_or("")
                    ),
                    &a.source,
                    &b.source,
                );
            }
            if a.protocol != b.protocol {
                self.change(
                    "server.protocol-changed",
                    Class::Breaking,
                    Side::Both,
                    format!("{name}: protocol `{}` → `{}`", a.protocol, b.protocol),
                    &a.source,
                    &b.source,
                );
            }
            if a.protocol_version != b.protocol_version {
                self.change(
                    "server.protocol-version-changed",
                    Class::Unclassified,
                    Side::Both,
                    format!(
                        "{name}: protocol version {} → {}",
                        shown(&a.protocol_version),
                        shown(&b.protocol_version)
                    ),
                    &a.source,
                    &b.source,
                );
            }
            let vars = |s: &crate::ir::Server| {
                s.variables
                    .iter()
                    .map(|v| (v.name.clone(), v.allowed.clone(), v.default.clone()))
                    .collect::<Vec<_>>()
            };
            if vars(a) != vars(b) {
                self.change(
                    "server.variables-changed",
                    Class::Unclassified,
                    Side::Both,
                    format!("{name}: variables, their values or defaults changed"),
                    &a.source,
                    &b.source,
                );
            }
            let binding = |s: &crate::ir::Server| {
                (
                    serde_json::to_value(&s.bindings.kafka).ok(),
                    s.bindings.other.clone(),
                )
            };
            if binding(a) != binding(b) {
                self.change(
                    "server.bindings-changed",
                    Class::Unclassified,
                    Side::Both,
                    format!("{name}: bindings changed"),
                    &a.source,
                    &b.source,
                );
            }
            if (
                &a.title,
                &a.summary,
                &a.description,
                &a.tags,
                &a.external_docs,
            ) != (
                &b.title,
                &b.summary,
                &b.description,
                &b.tags,
                &b.external_docs,
            ) {
                self.doc_change(
                    "server.documentation-changed",
                    format!("{name}: title, summary, description, tags or external docs changed"),
                    &a.source,
                    &b.source,
                );
            }
            let (sa, sb) = (a.security.clone(), b.security.clone());
            let (src_a, src_b) = (a.source.clone(), b.source.clone());
            self.security(&name, &sa, &sb, &src_a, &src_b);
        }
    }

    /// Security requirements: alternatives, each a scheme with scopes. A requirement is what
    /// its scheme says (type, location, flows, …) and its scopes, not the scheme's key, so a
    /// renamed scheme is no change.
    fn security(
        &mut self,
        owner: &str,
        a: &[SecurityRequirement],
        b: &[SecurityRequirement],
        sa: &Source,
        sb: &Source,
    ) {
        let req = |api: &'a Api, r: &SecurityRequirement| {
            let scheme = api.security_scheme(r.scheme);
            let mut scopes = r.scopes.clone();
            scopes.sort();
            (scheme, scheme_shape(scheme), scopes)
        };
        let ra: Vec<_> = a.iter().map(|r| req(self.old, r)).collect();
        let rb: Vec<_> = b.iter().map(|r| req(self.new, r)).collect();
        if ra.is_empty() && !rb.is_empty() {
            self.change(
                "security.added",
                Class::Breaking,
                Side::Both,
                format!("{owner}: security required where none was"),
                sa,
                sb,
            );
            return;
        }
        if !ra.is_empty() && rb.is_empty() {
            self.push(
                "security.removed",
                Class::NonBreaking,
                None,
                format!("{owner}: security no longer required"),
                None,
                Some(sa),
                Some(sb),
            );
            return;
        }
        let (_, removed, added) = pair(&ra, &rb, &[&|x, y| x.1 == y.1 && x.2 == y.2]);
        let mut added_left = added;
        for i in removed {
            let (scheme, shape, scopes) = &ra[i];
            // The same scheme with other scopes, or the scheme of the same key changed.
            let same_scheme = added_left
                .iter()
                .position(|&j| rb[j].1 == *shape)
                .map(|k| ("security.scopes-changed", k));
            let same_key = added_left
                .iter()
                .position(|&j| rb[j].0.key == scheme.key)
                .map(|k| ("security.scheme-changed", k));
            match same_scheme.or(same_key) {
                Some((code, k)) => {
                    let j = added_left.remove(k);
                    let (nscheme, _, nscopes) = &rb[j];
                    self.change(
                        code,
                        Class::Breaking,
                        Side::Both,
                        format!(
                            "{owner}: security `{}` {scopes:?} → `{}` {nscopes:?}",
                            scheme.key, nscheme.key
                        ),
                        &scheme.source,
                        &nscheme.source,
                    );
                }
                None => self.change(
                    "security.alternative-removed",
                    Class::Breaking,
                    Side::Both,
                    format!(
                        "{owner}: security `{}` {scopes:?} no longer accepted",
                        scheme.key
                    ),
                    sa,
                    sb,
                ),
            }
        }
        for j in added_left {
            self.push(
                "security.alternative-added",
                Class::NonBreaking,
                None,
                format!("{owner}: security `{}` also accepted", rb[j].0.key),
                None,
                Some(sa),
                Some(sb),
            );
        }
    }

    /// Directions in which a channel is used by operations of `api`.
    fn actions_on(api: &Api, ch: ChannelId) -> Vec<Action> {
        let mut v: Vec<Action> = Vec::new();
        for op in &api.operations {
            if op.channel == ch && !v.contains(&op.action) {
                v.push(op.action);
            }
        }
        v
    }

    fn channels(&mut self) {
        let (o, n) = (&self.old.channels, &self.new.channels);
        let (pairs, removed, added) = pair(
            o,
            n,
            &[
                &|a, b| a.address.is_some() && a.address == b.address,
                &|a, b| a.key == b.key,
            ],
        );
        for i in removed {
            let c = &o[i];
            self.push(
                "channel.removed",
                Class::Breaking,
                Some(Side::Both),
                format!(
                    "channel `{}` removed",
                    c.address.as_deref().unwrap_or(&c.key)
                ),
                None,
                Some(&c.source),
                None,
            );
        }
        for j in added {
            let c = &n[j];
            self.push(
                "channel.added",
                Class::NonBreaking,
                None,
                format!("channel `{}` added", c.address.as_deref().unwrap_or(&c.key)),
                None,
                None,
                Some(&c.source),
            );
        }
        for (i, j) in pairs {
            self.channels
                .push((ChannelId(i as u32), ChannelId(j as u32)));
            let (a, b) = (&o[i], &n[j]);
            let name = format!("channel `{}`", b.address.as_deref().unwrap_or(&b.key));
            if a.address != b.address {
                self.change(
                    "channel.address-changed",
                    Class::Breaking,
                    Side::Both,
                    format!(
                        "channel `{}`: address {} → {}",
                        b.key,
                        shown(&a.address),
                        shown(&b.address)
                    ),
                    &a.source,
                    &b.source,
                );
            }
            // Servers: empty means every server.
            let keys = |api: &Api, c: &crate::ir::Channel| -> Option<Vec<String>> {
                if c.servers.is_empty() {
                    return None;
                }
                let mut k: Vec<String> = c
                    .servers
                    .iter()
                    .map(|s| api.server(*s).key.clone())
                    .collect();
                k.sort();
                Some(k)
            };
            let (sa, sb) = (keys(self.old, a), keys(self.new, b));
            if sa != sb {
                let narrowed = match (&sa, &sb) {
                    (None, Some(_)) => true,
                    (Some(x), Some(y)) => x.iter().any(|k| !y.contains(k)),
                    _ => false,
                };
                self.push(
                    "channel.servers-changed",
                    if narrowed {
                        Class::Breaking
                    } else {
                        Class::NonBreaking
                    },
                    narrowed.then_some(Side::Both),
                    format!(
                        "{name}: servers {} → {}",
                        sa.as_ref().map_or("all".to_owned(), |k| k.join(", ")),
                        sb.as_ref().map_or("all".to_owned(), |k| k.join(", "))
                    ),
                    None,
                    Some(&a.source),
                    Some(&b.source),
                );
            }
            let (ca, cb) = (a.bindings.clone(), b.bindings.clone());
            let channel_binding = |api: &Api, x: &crate::ir::ChannelBindings| {
                (
                    serde_json::to_value(&x.kafka).ok(),
                    x.ws.as_ref().map(|w| {
                        (
                            w.method.clone(),
                            w.query.map(|s| crate::ir::view::schema_json(api, s)),
                            w.headers.map(|s| crate::ir::view::schema_json(api, s)),
                        )
                    }),
                    x.other.clone(),
                )
            };
            if channel_binding(self.old, &ca) != channel_binding(self.new, &cb) {
                self.change(
                    "channel.bindings-changed",
                    Class::Unclassified,
                    Side::Both,
                    format!("{name}: bindings changed"),
                    &a.source,
                    &b.source,
                );
            }
            if (
                &a.title,
                &a.summary,
                &a.description,
                &a.tags,
                &a.external_docs,
            ) != (
                &b.title,
                &b.summary,
                &b.description,
                &b.tags,
                &b.external_docs,
            ) {
                self.doc_change(
                    "channel.documentation-changed",
                    format!("{name}: title, summary, description, tags or external docs changed"),
                    &a.source,
                    &b.source,
                );
            }
            self.parameters(ChannelId(i as u32), ChannelId(j as u32), &name);
        }
    }

    fn parameters(&mut self, ci: ChannelId, cj: ChannelId, name: &str) {
        let (a, b) = (self.old.channel(ci), self.new.channel(cj));
        let mut actions = Self::actions_on(self.old, ci);
        for x in Self::actions_on(self.new, cj) {
            if !actions.contains(&x) {
                actions.push(x);
            }
        }
        let (pairs, removed, added) =
            pair(&a.parameters, &b.parameters, &[&|x, y| x.name == y.name]);
        for i in removed {
            let p = &a.parameters[i];
            self.change(
                "parameter.removed",
                Class::Unclassified,
                Side::Both,
                format!("{name}: parameter `{}` removed", p.name),
                &p.source,
                &b.source,
            );
        }
        for j in added {
            let p = &b.parameters[j];
            self.change(
                "parameter.added",
                Class::Unclassified,
                Side::Both,
                format!("{name}: parameter `{}` added", p.name),
                &a.source,
                &p.source,
            );
        }
        for (i, j) in pairs {
            let (p, q) = (&a.parameters[i], &b.parameters[j]);
            let pname = format!("{name}: parameter `{}`", p.name);
            let effect = match (p.allowed.is_empty(), q.allowed.is_empty()) {
                (true, true) => Effect::None,
                (true, false) => Effect::Narrowed,
                (false, true) => Effect::Widened,
                (false, false) => {
                    let w = q.allowed.iter().any(|v| !p.allowed.contains(v));
                    let n = p.allowed.iter().any(|v| !q.allowed.contains(v));
                    match (w, n) {
                        (false, false) => Effect::None,
                        (true, false) => Effect::Widened,
                        (false, true) => Effect::Narrowed,
                        (true, true) => Effect::Changed,
                    }
                }
            };
            if effect != Effect::None {
                let (class, side) = classify_all(effect, &actions);
                let code = match effect {
                    Effect::Widened => "parameter.enum-widened",
                    Effect::Narrowed => "parameter.enum-narrowed",
                    _ => "parameter.enum-changed",
                };
                self.push(
                    code,
                    class,
                    side,
                    format!("{pname}: allowed values {:?} → {:?}", p.allowed, q.allowed),
                    None,
                    Some(&p.source),
                    Some(&q.source),
                );
            }
            if p.location != q.location {
                self.change(
                    "parameter.location-changed",
                    Class::Breaking,
                    Side::Both,
                    format!(
                        "{pname}: location {} → {}",
                        shown(&p.location),
                        shown(&q.location)
                    ),
                    &p.source,
                    &q.source,
                );
            }
            if (&p.description, &p.default, &p.examples)
                != (&q.description, &q.default, &q.examples)
            {
                self.doc_change(
                    "parameter.documentation-changed",
                    format!("{pname}: description, default or examples changed"),
                    &p.source,
                    &q.source,
                );
            }
            let (ps, qs) = (p.source.clone(), q.source.clone());
            let (pa, qa) = (p.schema, q.schema);
            // A 3.x parameter has no schema: only what both versions can say is compared.
            if pa.is_some() && qa.is_some() {
                let findings = schema::compare_parameter(self.old, pa, &ps, self.new, qa, &qs);
                for f in findings {
                    let (class, side) = classify_all(f.effect, &actions);
                    self.finding("parameter", &pname, f, class, side);
                }
            }
        }
    }

    fn finding(&mut self, part: &str, owner: &str, f: Finding, class: Class, side: Option<Side>) {
        self.out.push(Change {
            code: format!("{part}.{}", f.code),
            class,
            breaks: side,
            message: format!(
                "{owner} {part}{}: {}",
                if f.path.is_empty() {
                    String::new()
                } else {
                    format!(" at {}", f.path)
                },
                f.detail
            ),
            path: Some(if f.path.is_empty() {
                "/".into()
            } else {
                f.path.clone()
            }),
            old: Some(place(self.old, &f.old)),
            new: Some(place(self.new, &f.new)),
        });
    }

    fn operations(&mut self) {
        let (old, new) = (self.old, self.new);
        let (o, n) = (&old.operations, &new.operations);
        let channels = self.channels.clone();
        let chan = |c: ChannelId| channels.iter().find(|(x, _)| *x == c).map(|p| p.1);
        let overlap = |a: &Operation, b: &Operation| {
            a.messages.iter().any(|m| {
                let m = old.message(*m);
                b.messages.iter().any(|x| same_message(m, new.message(*x)))
            })
        };
        let same_chan = |a: &Operation, b: &Operation| chan(a.channel) == Some(b.channel);
        let (pairs, removed, added) = pair(
            o,
            n,
            &[
                &|a, b| same_chan(a, b) && a.action == b.action && a.key == b.key,
                &|a, b| same_chan(a, b) && a.action == b.action && overlap(a, b),
                &|a, b| same_chan(a, b) && a.action == b.action,
            ],
        );
        // What is left on a matched channel with the other action is the same operation turned
        // around.
        let mut removed_left = Vec::new();
        let mut added_left: Vec<usize> = added.clone();
        for i in removed {
            let a = &o[i];
            let turned = added_left.iter().position(|&j| {
                let b = &n[j];
                same_chan(a, b) && (a.key == b.key || overlap(a, b))
            });
            match turned {
                Some(k) => {
                    let j = added_left.remove(k);
                    let b = &n[j];
                    self.change(
                        "operation.action-changed",
                        Class::Breaking,
                        Side::Both,
                        format!(
                            "operation `{}`: action {} → {}",
                            b.key,
                            action_word(a.action),
                            action_word(b.action)
                        ),
                        &a.source,
                        &b.source,
                    );
                }
                None => removed_left.push(i),
            }
        }
        for i in removed_left {
            let a = &o[i];
            let (_, side) = classify(Effect::Changed, a.action);
            self.push(
                "operation.removed",
                Class::Breaking,
                side,
                format!(
                    "operation `{}` ({} on `{}`) removed",
                    a.key,
                    action_word(a.action),
                    channel_name(self.old, a.channel)
                ),
                None,
                Some(&a.source),
                None,
            );
        }
        for j in added_left {
            let b = &n[j];
            self.push(
                "operation.added",
                Class::NonBreaking,
                None,
                format!(
                    "operation `{}` ({} on `{}`) added",
                    b.key,
                    action_word(b.action),
                    channel_name(self.new, b.channel)
                ),
                None,
                None,
                Some(&b.source),
            );
        }
        for (i, j) in pairs {
            self.operation(OperationId(i as u32), OperationId(j as u32));
        }
    }

    fn operation(&mut self, i: OperationId, j: OperationId) {
        let (a, b) = (self.old.operation(i), self.new.operation(j));
        let name = format!("operation `{}`", b.key);
        if (
            &a.title,
            &a.summary,
            &a.description,
            &a.tags,
            &a.external_docs,
        ) != (
            &b.title,
            &b.summary,
            &b.description,
            &b.tags,
            &b.external_docs,
        ) {
            self.doc_change(
                "operation.documentation-changed",
                format!("{name}: title, summary, description, tags or external docs changed"),
                &a.source,
                &b.source,
            );
        }
        let binding = |api: &Api, x: &Operation| {
            let s = |id: Option<SchemaId>| id.map(|s| crate::ir::view::schema_json(api, s));
            (
                x.bindings
                    .kafka
                    .as_ref()
                    .map(|k| (s(k.group_id), s(k.client_id), k.binding_version.clone())),
                serde_json::to_value(&x.bindings.mqtt).ok(),
                x.bindings
                    .http
                    .as_ref()
                    // 2.x `type` says what the direction already says; 3.x has none.
                    .map(|h| (h.method.clone(), s(h.query))),
                x.bindings.other.clone(),
            )
        };
        if binding(self.old, a) != binding(self.new, b) {
            self.change(
                "operation.bindings-changed",
                Class::Unclassified,
                Side::Both,
                format!("{name}: bindings changed"),
                &a.source,
                &b.source,
            );
        }
        let (sa, sb, srca, srcb) = (
            a.security.clone(),
            b.security.clone(),
            a.source.clone(),
            b.source.clone(),
        );
        self.security(&name, &sa, &sb, &srca, &srcb);
        let (ma, mb) = (a.messages.clone(), b.messages.clone());
        self.messages(&name, a.action, &ma, &mb, &srca, &srcb);
        match (&a.reply, &b.reply) {
            (None, None) => {}
            (Some(_), None) | (None, Some(_)) => {
                let added = a.reply.is_none();
                self.change(
                    if added {
                        "operation.reply-added"
                    } else {
                        "operation.reply-removed"
                    },
                    Class::Breaking,
                    Side::Both,
                    format!("{name}: reply {}", if added { "added" } else { "removed" }),
                    &srca,
                    &srcb,
                );
            }
            (Some(ra), Some(rb)) => {
                let reply_chan = |api: &Api, c: Option<ChannelId>| {
                    c.and_then(|c| api.channel(c).address.clone())
                };
                if reply_chan(self.old, ra.channel) != reply_chan(self.new, rb.channel)
                    || ra.address != rb.address
                {
                    self.change(
                        "operation.reply-address-changed",
                        Class::Breaking,
                        Side::Both,
                        format!("{name}: where the reply goes changed"),
                        &srca,
                        &srcb,
                    );
                }
                // The reply flows the other way.
                let back = match a.action {
                    Action::Send => Action::Receive,
                    Action::Receive => Action::Send,
                };
                let (rma, rmb) = (ra.messages.clone(), rb.messages.clone());
                self.messages(&format!("{name} reply"), back, &rma, &rmb, &srca, &srcb);
            }
        }
    }

    fn messages(
        &mut self,
        owner: &str,
        action: Action,
        a: &[MessageId],
        b: &[MessageId],
        sa: &Source,
        sb: &Source,
    ) {
        let (old, new) = (self.old, self.new);
        let ma: Vec<&Message> = a.iter().map(|m| old.message(*m)).collect();
        let mb: Vec<&Message> = b.iter().map(|m| new.message(*m)).collect();
        let same_payload = |x: &&Message, y: &&Message| match (x.payload, y.payload) {
            (Some(p), Some(q)) => schema::equivalent(old, p, new, q),
            _ => false,
        };
        let (pairs, removed, added) = pair(
            &ma,
            &mb,
            &[&|x, y| same_message(x, y), &same_payload, &|_, _| {
                ma.len() == 1 && mb.len() == 1
            }],
        );
        for i in removed {
            let (class, side) = classify(Effect::Narrowed, action);
            self.push(
                "message.removed",
                class,
                side,
                format!("{owner}: message `{}` removed", ma[i].key),
                None,
                Some(&ma[i].source),
                Some(sb),
            );
        }
        for j in added {
            let (class, side) = classify(Effect::Widened, action);
            self.push(
                "message.added",
                class,
                side,
                format!("{owner}: message `{}` added", mb[j].key),
                None,
                Some(sa),
                Some(&mb[j].source),
            );
        }
        for (i, j) in pairs {
            self.message(owner, action, a[i], b[j]);
        }
    }

    fn message(&mut self, owner: &str, action: Action, i: MessageId, j: MessageId) {
        let (old, new) = (self.old, self.new);
        let (a, b) = (old.message(i), new.message(j));
        let name = format!("{owner} message `{}`", b.key);
        for (part, x, y) in [
            ("payload", a.payload, b.payload),
            ("headers", a.headers, b.headers),
            (
                "kafka-key",
                a.bindings.kafka.as_ref().and_then(|k| k.key),
                b.bindings.kafka.as_ref().and_then(|k| k.key),
            ),
            (
                "http-headers",
                a.bindings.http.as_ref().and_then(|k| k.headers),
                b.bindings.http.as_ref().and_then(|k| k.headers),
            ),
        ] {
            if x.is_none() && y.is_none() {
                continue;
            }
            for f in schema::compare_opt(old, x, &a.source, new, y, &b.source) {
                let (class, side) = classify(f.effect, action);
                self.finding(part, &name, f, class, side);
            }
        }
        // The message's own fields are reported once, however many operations carry it.
        if !self.seen_messages.insert((i, j)) {
            return;
        }
        let name = format!("message `{}`", b.key);
        if a.content_type != b.content_type {
            self.change(
                "message.content-type-changed",
                Class::Breaking,
                Side::Both,
                format!(
                    "{name}: content type {} → {}",
                    shown(&a.content_type),
                    shown(&b.content_type)
                ),
                &a.source,
                &b.source,
            );
        }
        if a.correlation_id.as_ref().map(|c| &c.location)
            != b.correlation_id.as_ref().map(|c| &c.location)
        {
            self.change(
                "message.correlation-id-changed",
                Class::Breaking,
                Side::Both,
                format!("{name}: where the correlation id is changed"),
                &a.source,
                &b.source,
            );
        }
        let binding = |m: &Message| {
            (
                m.bindings.kafka.as_ref().map(|k| {
                    (
                        k.schema_id_location.clone(),
                        k.schema_id_payload_encoding.clone(),
                        k.schema_lookup_strategy.clone(),
                    )
                }),
                serde_json::to_value(&m.bindings.mqtt).ok(),
                m.bindings.http.as_ref().map(|h| h.status_code),
                m.bindings.other.clone(),
            )
        };
        if binding(a) != binding(b) {
            self.change(
                "message.bindings-changed",
                Class::Unclassified,
                Side::Both,
                format!("{name}: bindings changed"),
                &a.source,
                &b.source,
            );
        }
        if a.deprecated != b.deprecated {
            self.doc_change(
                "message.deprecated-changed",
                format!("{name}: deprecated {} → {}", a.deprecated, b.deprecated),
                &a.source,
                &b.source,
            );
        }
        if (
            &a.name,
            &a.title,
            &a.summary,
            &a.description,
            &a.tags,
            &a.external_docs,
        ) != (
            &b.name,
            &b.title,
            &b.summary,
            &b.description,
            &b.tags,
            &b.external_docs,
        ) {
            self.doc_change(
                "message.documentation-changed",
                format!("{name}: name, title, summary, description, tags or external docs changed"),
                &a.source,
                &b.source,
            );
        }
        if a.examples != b.examples {
            self.doc_change(
                "message.examples-changed",
                format!("{name}: examples changed"),
                &a.source,
                &b.source,
            );
        }
    }
}

/// What a security scheme asks for, without its key and description.
type SchemeShape = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Vec<crate::ir::OAuthFlow>,
);

fn scheme_shape(s: &crate::ir::SecurityScheme) -> SchemeShape {
    (
        s.kind.clone(),
        s.name.clone(),
        s.location.clone(),
        s.http_scheme.clone(),
        s.bearer_format.clone(),
        s.open_id_connect_url.clone(),
        s.flows.clone(),
    )
}

/// Two messages are the same one when their keys or their `name`s agree.
fn same_message(a: &Message, b: &Message) -> bool {
    a.key == b.key || (a.name.is_some() && a.name == b.name)
}

/// An optional value in a message: `x` or "none".
fn shown(v: &Option<String>) -> String {
    v.as_ref().map_or("none".to_owned(), |x| format!("`{x}`"))
}

fn action_word(a: Action) -> &'static str {
    match a {
        Action::Send => "send",
        Action::Receive => "receive",
    }
}

fn channel_name(api: &Api, c: ChannelId) -> String {
    let ch = api.channel(c);
    ch.address.clone().unwrap_or_else(|| ch.key.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direction_decides_the_class() {
        use Action::{Receive, Send};
        assert_eq!(
            classify(Effect::Widened, Send),
            (Class::Breaking, Some(Side::Receivers))
        );
        assert_eq!(
            classify(Effect::Widened, Receive),
            (Class::NonBreaking, None)
        );
        assert_eq!(
            classify(Effect::Narrowed, Receive),
            (Class::Breaking, Some(Side::Senders))
        );
        assert_eq!(classify(Effect::Narrowed, Send), (Class::NonBreaking, None));
        assert_eq!(
            classify(Effect::Changed, Send),
            (Class::Breaking, Some(Side::Receivers))
        );
        assert_eq!(
            classify(Effect::Unknown, Receive),
            (Class::Unclassified, Some(Side::Senders))
        );
        assert_eq!(classify(Effect::None, Send), (Class::NonBreaking, None));
        assert_eq!(
            classify_all(Effect::Widened, &[Send, Receive]),
            (Class::Breaking, Some(Side::Receivers))
        );
        assert_eq!(
            classify_all(Effect::Changed, &[Send, Receive]),
            (Class::Breaking, Some(Side::Both))
        );
        assert_eq!(
            classify_all(Effect::Widened, &[]),
            (Class::Unclassified, None)
        );
        assert_eq!(
            classify_all(Effect::Unknown, &[Send, Receive]),
            (Class::Unclassified, Some(Side::Both))
        );
    }
}
