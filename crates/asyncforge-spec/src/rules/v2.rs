//! Rules for AsyncAPI 2.x documents.

use std::collections::{BTreeSet, HashMap};

use super::{At, Ctx, template_vars};
use crate::version::Version;

pub(super) fn run(cx: &mut Ctx<'_>) {
    let Some(root) = cx.root() else { return };
    servers(cx, &root);
    channels(cx, &root);
    ids(cx, &root);
}

fn servers(cx: &mut Ctx<'_>, root: &At<'_>) {
    let schemes = security_schemes(cx, root);
    let mut all = Vec::new();
    if let Some(servers) = root.child("servers") {
        all.extend(servers.entries());
    }
    if let Some(comp) = root.child("components").and_then(|c| c.child("servers")) {
        all.extend(comp.entries());
    }
    for (_, server) in all {
        let Some(server) = cx.deref(&server) else {
            continue;
        };
        if let Some(url) = server.child("url") {
            super::common::template_variables(
                cx,
                &server,
                &[url],
                "asyncapi2-server-variables",
                "URL",
            );
        }
        if let Some(sec) = server.child("security") {
            requirements(cx, &sec, &schemes, "asyncapi2-server-security", "Server");
        }
    }
}

/// `components.securitySchemes`: name → (type, all oauth2/openIdConnect scopes).
pub(super) fn security_schemes<'a>(
    cx: &Ctx<'a>,
    root: &At<'a>,
) -> HashMap<String, (String, Option<BTreeSet<String>>)> {
    let mut out = HashMap::new();
    let Some(ss) = root
        .child("components")
        .and_then(|c| c.child("securitySchemes"))
    else {
        return out;
    };
    for (name, scheme) in ss.entries() {
        let Some(scheme) = cx.deref(&scheme) else {
            continue;
        };
        let ty = scheme.str("type").unwrap_or_default().to_owned();
        out.insert(name.to_owned(), (ty, scopes_of(cx, &scheme)));
    }
    out
}

/// Scopes declared by an oauth2 scheme (`flows.*.scopes` or, in 3.x, `availableScopes`).
pub(super) fn scopes_of(cx: &Ctx<'_>, scheme: &At<'_>) -> Option<BTreeSet<String>> {
    if scheme.str("type") != Some("oauth2") {
        return None;
    }
    let mut scopes = BTreeSet::new();
    if let Some(flows) = scheme.child("flows") {
        for (_, flow) in flows.entries() {
            let Some(flow) = cx.deref(&flow) else {
                continue;
            };
            for key in ["scopes", "availableScopes"] {
                if let Some(m) = flow.v.get(key).and_then(|s| s.as_object()) {
                    scopes.extend(m.keys().cloned());
                }
            }
        }
    }
    Some(scopes)
}

fn requirements(
    cx: &mut Ctx<'_>,
    list: &At<'_>,
    schemes: &HashMap<String, (String, Option<BTreeSet<String>>)>,
    code: &'static str,
    what: &str,
) {
    for req in list.items() {
        let Some(req) = cx.deref(&req) else { continue };
        for (name, scopes) in req.entries() {
            match schemes.get(name) {
                None => {
                    let hint = crate::structure::similar(name, schemes.keys().map(String::as_str));
                    let d = cx.emit_key(
                        code,
                        &scopes,
                        format!("{what} security requirement names `{name}`, which is not defined in `components.securitySchemes`"),
                    );
                    if let Some(h) = hint {
                        d.help = Some(format!("did you mean `{h}`?"));
                    }
                }
                Some((_, Some(available))) => {
                    for s in scopes.items() {
                        let Some(scope) = s.v.as_str() else { continue };
                        if !available.contains(scope) {
                            let list: Vec<String> =
                                available.iter().map(|a| format!("`{a}`")).collect();
                            cx.emit(
                                code,
                                &s,
                                format!(
                                    "scope `{scope}` is not defined by security scheme `{name}`; available: {}",
                                    if list.is_empty() { "none".into() } else { list.join(", ") }
                                ),
                            );
                        }
                    }
                }
                Some((ty, None)) => {
                    if ty != "openIdConnect" && !scopes.items().is_empty() {
                        cx.emit(
                            code,
                            &scopes,
                            format!("security scheme `{name}` is of type `{ty}`, which has no scopes; the list must be empty"),
                        );
                    }
                }
            }
        }
    }
}

fn channels(cx: &mut Ctx<'_>, root: &At<'_>) {
    let schemes = security_schemes(cx, root);
    let server_names: BTreeSet<String> = root
        .child("servers")
        .map(|s| s.entries().into_iter().map(|(k, _)| k.to_owned()).collect())
        .unwrap_or_default();
    let Some(channels) = root.child("channels") else {
        return;
    };
    for (name, item) in channels.entries() {
        if name.contains(['?', '#']) {
            cx.emit_key(
                "asyncapi2-channel-no-query-nor-fragment",
                &item,
                format!("channel name `{name}` contains a query (`?`) or fragment (`#`) delimiter"),
            );
        }
        let Some(item) = cx.deref(&item) else {
            continue;
        };
        // Parameters.
        let vars: Vec<&str> = template_vars(name).into_iter().map(|(v, _)| v).collect();
        let params = item.child("parameters");
        let declared: Vec<(&str, At<'_>)> =
            params.as_ref().map(|p| p.entries()).unwrap_or_default();
        let missing: Vec<&str> = vars
            .iter()
            .copied()
            .filter(|v| !v.is_empty() && !declared.iter().any(|(k, _)| k == v))
            .collect();
        if !missing.is_empty() {
            let at = params.clone().unwrap_or_else(|| item.clone());
            let list: Vec<String> = missing.iter().map(|m| format!("`{m}`")).collect();
            // Without any `parameters` the reference validator is silent and generators fall
            // back to string parameters: a warning. An incomplete `parameters` is an error.
            let sev = if params.is_some() {
                crate::diagnostic::Severity::Error
            } else {
                crate::diagnostic::Severity::Warning
            };
            let d = cx.emit_as(
                "asyncapi2-channel-parameters",
                sev,
                &at,
                format!(
                    "channel `{name}` uses parameter{} {} not declared in `parameters`",
                    if missing.len() > 1 { "s" } else { "" },
                    list.join(", ")
                ),
                true,
            );
            d.help = Some(
                "declare each `{name}` of the channel name under the channel's `parameters`".into(),
            );
        }
        for (k, p) in &declared {
            if !vars.contains(k) {
                cx.emit_key(
                    "asyncapi2-channel-parameters",
                    p,
                    format!(
                        "parameter `{k}` is declared but channel `{name}` does not use `{{{k}}}`"
                    ),
                );
            }
        }
        // Servers.
        if cx.version >= Version::V2_2
            && let Some(servers) = item.child("servers")
        {
            for s in servers.items() {
                if let Some(n) = s.v.as_str()
                    && !server_names.contains(n)
                {
                    let hint =
                        crate::structure::similar(n, server_names.iter().map(String::as_str));
                    let d = cx.emit(
                        "asyncapi2-channel-servers",
                        &s,
                        format!(
                            "channel `{name}` lists server `{n}`, which is not defined in `servers`"
                        ),
                    );
                    if let Some(h) = hint {
                        d.help = Some(format!("did you mean `{h}`?"));
                    }
                }
            }
        }
        for op_name in ["publish", "subscribe"] {
            let Some(op) = item.child(op_name) else {
                continue;
            };
            let Some(op) = cx.deref(&op) else { continue };
            if let Some(sec) = op.child("security") {
                requirements(
                    cx,
                    &sec,
                    &schemes,
                    "asyncapi2-operation-security",
                    "Operation",
                );
            }
        }
    }
}

/// Every operation of the document: (channel name, action, node).
pub(super) fn operations<'a>(cx: &Ctx<'a>, root: &At<'a>) -> Vec<(String, &'static str, At<'a>)> {
    let mut out = Vec::new();
    let mut items = Vec::new();
    if let Some(ch) = root.child("channels") {
        items.extend(ch.entries().into_iter().map(|(k, v)| (k.to_owned(), v)));
    }
    if let Some(ch) = root.child("components").and_then(|c| c.child("channels")) {
        items.extend(ch.entries().into_iter().map(|(k, v)| (k.to_owned(), v)));
    }
    for (name, item) in items {
        let Some(item) = cx.deref(&item) else {
            continue;
        };
        for action in ["publish", "subscribe"] {
            if let Some(op) = item.child(action).and_then(|o| cx.deref(&o)) {
                out.push((name.clone(), action, op));
            }
        }
    }
    out
}

/// Every message reachable from operations and `components.messages`, deduplicated by location.
pub(super) fn messages<'a>(cx: &Ctx<'a>, root: &At<'a>) -> Vec<At<'a>> {
    let mut out: Vec<At<'a>> = Vec::new();
    let mut push = |m: At<'a>| {
        if !out.iter().any(|o| o.file == m.file && o.ptr == m.ptr) {
            out.push(m);
        }
    };
    for (_, _, op) in operations(cx, root) {
        let Some(msg) = op.child("message").and_then(|m| cx.deref(&m)) else {
            continue;
        };
        match msg.child("oneOf") {
            Some(list) if msg.v.get("payload").is_none() => {
                for m in list.items() {
                    if let Some(m) = cx.deref(&m) {
                        push(m);
                    }
                }
            }
            _ => push(msg),
        }
    }
    if let Some(comp) = root.child("components").and_then(|c| c.child("messages")) {
        for (_, m) in comp.entries() {
            if let Some(m) = cx.deref(&m) {
                push(m);
            }
        }
    }
    out
}

fn ids(cx: &mut Ctx<'_>, root: &At<'_>) {
    let mut seen: HashMap<String, At<'_>> = HashMap::new();
    let ops = operations(cx, root);
    let mut seen_ops: Vec<(crate::source::FileId, String)> = Vec::new();
    for (channel, action, op) in &ops {
        if seen_ops.contains(&(op.file, op.ptr.clone())) {
            continue;
        }
        seen_ops.push((op.file, op.ptr.clone()));
        match op.child("operationId") {
            Some(id_at) => {
                let Some(id) = id_at.v.as_str() else { continue };
                if let Some(first) = seen.get(id) {
                    let loc = cx.ws.location(first.file, &first.ptr);
                    let d = cx.emit(
                        "asyncapi2-operation-operationId-uniqueness",
                        &id_at,
                        format!("operationId `{id}` is used by more than one operation"),
                    );
                    d.related.push(crate::diagnostic::Related {
                        location: loc,
                        message: "first used here".into(),
                    });
                } else {
                    seen.insert(id.to_owned(), id_at);
                }
            }
            None => {
                cx.emit_key(
                    "asyncapi2-operation-operationId",
                    op,
                    format!("`{action}` operation of channel `{channel}` has no `operationId`"),
                );
            }
        }
    }
    if cx.version < Version::V2_4 {
        return;
    }
    let mut seen: HashMap<String, At<'_>> = HashMap::new();
    for m in messages(cx, root) {
        match m.child("messageId") {
            Some(id_at) => {
                let Some(id) = id_at.v.as_str() else { continue };
                if let Some(first) = seen.get(id) {
                    let loc = cx.ws.location(first.file, &first.ptr);
                    let d = cx.emit(
                        "asyncapi2-message-messageId-uniqueness",
                        &id_at,
                        format!("messageId `{id}` is used by more than one message"),
                    );
                    d.related.push(crate::diagnostic::Related {
                        location: loc,
                        message: "first used here".into(),
                    });
                } else {
                    seen.insert(id.to_owned(), id_at);
                }
            }
            None => {
                cx.emit_key(
                    "asyncapi2-message-messageId",
                    &m,
                    "message has no `messageId`".into(),
                );
            }
        }
    }
}
