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
        let missing_at = params.clone().unwrap_or_else(|| item.clone());
        super::common::channel_parameters(
            cx,
            super::common::ParamSite {
                code: "asyncapi2-channel-parameters",
                subject: format!("channel `{name}`"),
                unused_subject: format!("channel `{name}`"),
                template_word: "channel name",
                unused_suffix: "",
                missing_on_key: true,
            },
            &vars,
            params.as_ref(),
            &missing_at,
        );
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

/// Ids that must be unique: duplicates are errors pointing at the first use, missing ids get
/// the recommendation rule.
struct IdRule {
    field: &'static str,
    unique_code: &'static str,
    missing_code: &'static str,
    noun: &'static str,
}

fn check_ids<'a>(cx: &mut Ctx<'a>, rule: &IdRule, items: Vec<(At<'a>, String)>) {
    let mut seen: HashMap<String, At<'_>> = HashMap::new();
    let mut visited: Vec<(crate::source::FileId, String)> = Vec::new();
    for (node, describe) in items {
        if visited.contains(&(node.file, node.ptr.clone())) {
            continue;
        }
        visited.push((node.file, node.ptr.clone()));
        let Some(id_at) = node.child(rule.field) else {
            cx.emit_key(
                rule.missing_code,
                &node,
                format!("{describe} has no `{}`", rule.field),
            );
            continue;
        };
        let Some(id) = id_at.v.as_str() else { continue };
        if let Some(first) = seen.get(id) {
            let loc = cx.ws.location(first.file, &first.ptr);
            let d = cx.emit(
                rule.unique_code,
                &id_at,
                format!(
                    "{} `{id}` is used by more than one {}",
                    rule.field, rule.noun
                ),
            );
            d.related.push(crate::diagnostic::Related {
                location: loc,
                message: "first used here".into(),
            });
        } else {
            seen.insert(id.to_owned(), id_at);
        }
    }
}

fn ids<'a>(cx: &mut Ctx<'a>, root: &At<'a>) {
    let ops = operations(cx, root)
        .into_iter()
        .map(|(channel, action, op)| (op, format!("`{action}` operation of channel `{channel}`")))
        .collect();
    check_ids(
        cx,
        &IdRule {
            field: "operationId",
            unique_code: "asyncapi2-operation-operationId-uniqueness",
            missing_code: "asyncapi2-operation-operationId",
            noun: "operation",
        },
        ops,
    );
    if cx.version < Version::V2_4 {
        return;
    }
    let msgs = messages(cx, root)
        .into_iter()
        .map(|m| (m, "message".to_owned()))
        .collect();
    check_ids(
        cx,
        &IdRule {
            field: "messageId",
            unique_code: "asyncapi2-message-messageId-uniqueness",
            missing_code: "asyncapi2-message-messageId",
            noun: "message",
        },
        msgs,
    );
}
