//! Rules shared by 2.x and 3.x: server variables, tags, examples, recommendations, unused
//! components.

use std::collections::{BTreeSet, HashSet};

use super::examples::{SchemaCheck, SchemaWalker, message_examples};
use super::{At, Ctx, template_vars};
use crate::source::FileId;

pub(super) fn run(cx: &mut Ctx<'_>) {
    let Some(root) = cx.root() else { return };
    tags(cx, &root);
    examples(cx, &root);
    recommendations(cx, &root);
    unused_components(cx, &root);
}

/// Variables of a server's URL template(s) against its `variables`.
pub(super) fn template_variables(
    cx: &mut Ctx<'_>,
    server: &At<'_>,
    parts: &[At<'_>],
    code: &'static str,
    label: &str,
) {
    let mut used: Vec<String> = Vec::new();
    for part in parts {
        let Some(s) = part.v.as_str() else { continue };
        let field = format!("`{}`", crate::pointer::last(&part.ptr).unwrap_or_default());
        let label_one = field.as_str();
        let vars = template_vars(s);
        if vars.iter().any(|(v, _)| v.is_empty()) {
            cx.emit(
                "asyncapi-server-no-empty-variable",
                part,
                format!("server {label_one} `{s}` contains an empty variable `{{}}`"),
            );
        }
        for (v, _) in vars {
            if v.is_empty() {
                continue;
            }
            used.push(v.to_owned());
            let declared = server
                .child("variables")
                .and_then(|vars| cx.deref(&vars))
                .is_some_and(|vars| vars.v.get(v).is_some());
            if !declared {
                let d = cx.emit(
                    code,
                    part,
                    format!(
                        "server {label_one} uses variable `{v}`, which is not declared in `variables`"
                    ),
                );
                d.help = Some(format!(
                    "declare it: `variables: {{ {v}: {{ default: … }} }}`"
                ));
            }
        }
        let trailing = if cx.version.is_v2() {
            part.ptr.ends_with("/url")
        } else {
            part.ptr.ends_with("/pathname")
        };
        if trailing && s.len() > 1 && s.ends_with('/') {
            cx.emit(
                "asyncapi-server-no-trailing-slash",
                part,
                format!("server {label_one} `{s}` ends with `/`"),
            );
        }
    }
    let Some(vars) = server.child("variables").and_then(|v| cx.deref(&v)) else {
        return;
    };
    for (name, var) in vars.entries() {
        if !used.iter().any(|u| u == name) {
            cx.emit_key(
                code,
                &var,
                format!(
                    "variable `{name}` is declared but the server's {label} does not use `{{{name}}}`"
                ),
            );
        }
        let Some(var) = cx.deref(&var) else { continue };
        let Some(allowed) = var.v.get("enum").and_then(|e| e.as_array()) else {
            continue;
        };
        if let Some(d) = var.child("default")
            && !allowed.contains(d.v)
        {
            cx.emit(
                code,
                &d,
                format!("default of variable `{name}` is not one of its `enum` values"),
            );
        }
        if let Some(ex) = var.child("examples") {
            for e in ex.items() {
                if !allowed.contains(e.v) {
                    cx.emit(
                        code,
                        &e,
                        format!("example of variable `{name}` is not one of its `enum` values"),
                    );
                }
            }
        }
    }
}

/// How a channel's parameter problems are worded and placed.
pub(super) struct ParamSite {
    pub code: &'static str,
    /// "channel `x`" / "address of channel `x`": what uses the missing parameters.
    pub subject: String,
    /// What does not use an unused parameter.
    pub unused_subject: String,
    /// "channel name" / "address", for the help text.
    pub template_word: &'static str,
    pub unused_suffix: &'static str,
    /// Whether a missing parameter is reported at the key (2.x channel names are keys).
    pub missing_on_key: bool,
}

/// Channel parameters against the `{vars}` of the channel name (2.x) or address (3.x).
/// Missing ones are an error when `parameters` exists, a warning when it does not (the
/// reference validator is silent there, and generators fall back to string parameters);
/// declared ones the template does not use are errors.
pub(super) fn channel_parameters(
    cx: &mut Ctx<'_>,
    site: ParamSite,
    vars: &[&str],
    params: Option<&At<'_>>,
    missing_at: &At<'_>,
) {
    let declared: Vec<(&str, At<'_>)> = params.map(|p| p.entries()).unwrap_or_default();
    let missing: Vec<&str> = vars
        .iter()
        .copied()
        .filter(|v| !v.is_empty() && !declared.iter().any(|(k, _)| k == v))
        .collect();
    if !missing.is_empty() {
        let list: Vec<String> = missing.iter().map(|m| format!("`{m}`")).collect();
        let sev = if params.is_some() {
            crate::diagnostic::Severity::Error
        } else {
            crate::diagnostic::Severity::Warning
        };
        let d = cx.emit_as(
            site.code,
            sev,
            missing_at,
            format!(
                "{} uses parameter{} {} not declared in `parameters`",
                site.subject,
                if missing.len() > 1 { "s" } else { "" },
                list.join(", ")
            ),
            site.missing_on_key,
        );
        d.help = Some(format!(
            "declare each `{{name}}` of the {} under the channel's `parameters`",
            site.template_word
        ));
    }
    for (k, p) in &declared {
        if !vars.contains(k) {
            cx.emit_key(
                site.code,
                p,
                format!(
                    "parameter `{k}` is declared but {} does not use `{{{k}}}`{}",
                    site.unused_subject, site.unused_suffix
                ),
            );
        }
    }
}

/// Containers that may hold a `tags` list, per version.
fn tag_holders<'a>(cx: &Ctx<'a>, root: &At<'a>) -> Vec<At<'a>> {
    let mut out = Vec::new();
    let push_traits = |node: &At<'a>, out: &mut Vec<At<'a>>| {
        out.push(node.clone());
        if let Some(traits) = node.child("traits") {
            out.extend(traits.items().into_iter().filter_map(|t| cx.deref(&t)));
        }
    };
    if cx.version.is_v2() {
        out.push(root.clone());
        for (_, _, op) in super::v2::operations(cx, root) {
            push_traits(&op, &mut out);
        }
        for m in super::v2::messages(cx, root) {
            push_traits(&m, &mut out);
        }
    } else {
        if let Some(info) = root.child("info") {
            out.push(info);
        }
        for section in ["servers", "channels", "operations"] {
            if let Some(s) = root.child(section) {
                for (_, n) in s.entries() {
                    if let Some(n) = cx.deref(&n) {
                        push_traits(&n, &mut out);
                    }
                }
            }
        }
        for m in v3_messages(cx, root) {
            push_traits(&m, &mut out);
        }
    }
    if let Some(comp) = root.child("components") {
        for section in [
            "operationTraits",
            "messageTraits",
            "messages",
            "servers",
            "channels",
            "operations",
        ] {
            if let Some(s) = comp.child(section) {
                for (_, n) in s.entries() {
                    if let Some(n) = cx.deref(&n) {
                        out.push(n);
                    }
                }
            }
        }
    }
    out
}

/// Every message of a 3.x document: channel messages and `components.messages`.
pub(super) fn v3_messages<'a>(cx: &Ctx<'a>, root: &At<'a>) -> Vec<At<'a>> {
    let mut out: Vec<At<'a>> = Vec::new();
    let mut seen: HashSet<(FileId, String)> = HashSet::new();
    let mut push = |m: At<'a>, out: &mut Vec<At<'a>>| {
        if seen.insert((m.file, m.ptr.clone())) {
            out.push(m);
        }
    };
    let mut channels = Vec::new();
    if let Some(c) = root.child("channels") {
        channels.extend(c.entries());
    }
    if let Some(c) = root.child("components").and_then(|c| c.child("channels")) {
        channels.extend(c.entries());
    }
    for (_, ch) in channels {
        let Some(ch) = cx.deref(&ch) else { continue };
        if let Some(msgs) = ch.child("messages") {
            for (_, m) in msgs.entries() {
                if let Some(m) = cx.deref(&m) {
                    push(m, &mut out);
                }
            }
        }
    }
    if let Some(msgs) = root.child("components").and_then(|c| c.child("messages")) {
        for (_, m) in msgs.entries() {
            if let Some(m) = cx.deref(&m) {
                push(m, &mut out);
            }
        }
    }
    out
}

fn tags(cx: &mut Ctx<'_>, root: &At<'_>) {
    let code = if cx.version.is_v2() {
        "asyncapi2-tags-uniqueness"
    } else {
        "asyncapi3-tags-uniqueness"
    };
    let mut done: HashSet<(FileId, String)> = HashSet::new();
    for holder in tag_holders(cx, root) {
        let Some(list) = holder.child("tags") else {
            continue;
        };
        if !done.insert((list.file, list.ptr.clone())) {
            continue;
        }
        let mut names: Vec<(String, At<'_>)> = Vec::new();
        let mut whole: Vec<&serde_json::Value> = Vec::new();
        for t in list.items() {
            // An exact repeat of an earlier tag object is already a structural error (the list
            // must hold unique items); one diagnostic per problem.
            let exact_repeat = whole.iter().any(|w| crate::structure::json_eq(w, t.v));
            whole.push(t.v);
            if exact_repeat {
                continue;
            }
            let Some(t) = cx.deref(&t) else { continue };
            let Some(name_at) = t.child("name") else {
                continue;
            };
            let Some(name) = name_at.v.as_str() else {
                continue;
            };
            if let Some((_, first)) = names.iter().find(|(n, _)| n == name) {
                let loc = cx.ws.location(first.file, &first.ptr);
                let d = cx.emit(
                    code,
                    &name_at,
                    format!("tag `{name}` appears more than once in this list"),
                );
                d.related.push(crate::diagnostic::Related {
                    location: loc,
                    message: "first listed here".into(),
                });
            } else {
                names.push((name.to_owned(), name_at));
            }
        }
    }
}

fn examples(cx: &mut Ctx<'_>, root: &At<'_>) {
    let v2 = cx.version.is_v2();
    let (msg_code, default_code, examples_code) = if v2 {
        (
            "asyncapi2-message-examples",
            "asyncapi2-schema-default",
            "asyncapi2-schema-examples",
        )
    } else {
        (
            "asyncapi3-message-examples",
            "asyncapi3-schema-default",
            "asyncapi3-schema-examples",
        )
    };
    let messages = if v2 {
        super::v2::messages(cx, root)
    } else {
        v3_messages(cx, root)
    };
    let mut schemas: Vec<(At<'_>, Option<String>)> = Vec::new();
    for m in &messages {
        let format = m.str("schemaFormat").map(str::to_owned);
        for key in ["payload", "headers"] {
            if let Some(s) = m.child(key) {
                schemas.push((
                    s,
                    if key == "payload" {
                        format.clone()
                    } else {
                        None
                    },
                ));
            }
        }
    }
    if let Some(comp) = root.child("components") {
        if let Some(s) = comp.child("schemas") {
            schemas.extend(s.entries().into_iter().map(|(_, s)| (s, None)));
        }
        if let Some(p) = comp.child("parameters") {
            for (_, p) in p.entries() {
                if let Some(s) = cx.deref(&p).and_then(|p| p.child("schema")) {
                    schemas.push((s, None));
                }
            }
        }
    }
    let has_work = messages.iter().any(|m| m.v.get("examples").is_some()) || !schemas.is_empty();
    if !has_work {
        return;
    }
    let sc = SchemaCheck::new(cx.ws);
    for m in &messages {
        message_examples(cx, &sc, m, msg_code);
    }
    let mut walker = SchemaWalker::new();
    let mut tops = Vec::new();
    for (s, format) in schemas {
        let Some(node) = cx.deref(&s) else { continue };
        // 3.x multi-format schema objects hold the schema under `schema`.
        let (node, format) =
            if !v2 && node.v.get("schemaFormat").is_some() && node.v.get("schema").is_some() {
                let f = node.str("schemaFormat").map(str::to_owned);
                match node.child("schema") {
                    Some(inner) => (inner, f),
                    None => continue,
                }
            } else {
                (node, format)
            };
        let json = format.as_deref().is_none_or(|f| {
            let f = f.to_ascii_lowercase();
            f.starts_with("application/vnd.aai.asyncapi") || f.starts_with("application/schema+")
        });
        if json {
            walker.register_top(&node);
            tops.push(node);
        }
    }
    for node in tops {
        walker.walk(cx, &sc, &node, (default_code, examples_code));
    }
}

fn recommendations(cx: &mut Ctx<'_>, root: &At<'_>) {
    if let Some(info) = root.child("info").filter(|i| i.v.is_object()) {
        let desc = info
            .str("description")
            .is_some_and(|d| !d.trim().is_empty());
        if !desc {
            cx.emit_key(
                "asyncapi-info-description",
                &info,
                "`info` has no `description`".into(),
            );
        }
        if info.v.get("contact").is_none() {
            cx.emit_key(
                "asyncapi-info-contact",
                &info,
                "`info` has no `contact`".into(),
            );
        }
        if info.v.get("license").is_none() {
            cx.emit_key(
                "asyncapi-info-license",
                &info,
                "`info` has no `license`".into(),
            );
        }
    }
    let servers_empty = root.child("servers").is_none_or(|s| s.entries().is_empty());
    if servers_empty {
        cx.emit(
            "asyncapi-servers",
            root,
            "the document declares no `servers`".into(),
        );
    }
    if root.v.get("defaultContentType").is_none() {
        cx.emit(
            "asyncapi-defaultContentType",
            root,
            "the document sets no `defaultContentType`".into(),
        );
    }
    // Channel addresses.
    let mut addresses: Vec<(String, At<'_>)> = Vec::new();
    if let Some(ch) = root.child("channels") {
        for (k, c) in ch.entries() {
            if cx.version.is_v2() {
                addresses.push((k.to_owned(), c));
            } else if let Some(a) = cx.deref(&c).and_then(|c| c.child("address"))
                && let Some(s) = a.v.as_str()
            {
                addresses.push((s.to_owned(), a));
            }
        }
    }
    for (addr, at) in addresses {
        let on_key = cx.version.is_v2();
        if addr.contains("{}") {
            let msg = format!("channel address `{addr}` contains an empty parameter `{{}}`");
            if on_key {
                cx.emit_key("asyncapi-channel-no-empty-parameter", &at, msg);
            } else {
                cx.emit("asyncapi-channel-no-empty-parameter", &at, msg);
            }
        }
        if addr.len() > 1 && addr.ends_with('/') {
            let msg = format!("channel address `{addr}` ends with `/`");
            if on_key {
                cx.emit_key("asyncapi-channel-no-trailing-slash", &at, msg);
            } else {
                cx.emit("asyncapi-channel-no-trailing-slash", &at, msg);
            }
        }
    }
    // Operations should say what they do.
    let ops: Vec<(String, At<'_>)> = if cx.version.is_v2() {
        super::v2::operations(cx, root)
            .into_iter()
            .map(|(c, a, op)| (format!("`{a}` operation of channel `{c}`"), op))
            .collect()
    } else {
        root.child("operations")
            .map(|o| {
                o.entries()
                    .into_iter()
                    .filter_map(|(k, op)| cx.deref(&op).map(|op| (format!("operation `{k}`"), op)))
                    .collect()
            })
            .unwrap_or_default()
    };
    for (what, op) in ops {
        let described = ["summary", "description"]
            .iter()
            .any(|k| op.str(k).is_some_and(|s| !s.trim().is_empty()));
        let traits_describe = op.child("traits").is_some_and(|t| {
            t.items()
                .iter()
                .filter_map(|t| cx.deref(t))
                .any(|t| t.v.get("summary").is_some() || t.v.get("description").is_some())
        });
        if !described && !traits_describe {
            cx.emit_key(
                "asyncapi-operation-description",
                &op,
                format!("{what} has no `summary` or `description`"),
            );
        }
    }
}

fn unused_components(cx: &mut Ctx<'_>, root: &At<'_>) {
    let Some(comp) = root.child("components") else {
        return;
    };
    // Everything any `$ref` reaches, one hop and after following chains, with every ancestor
    // of those places (a reference into a component uses the component).
    let mut used: HashSet<(FileId, String)> = HashSet::new();
    let mut mark = |file: FileId, ptr: &str| {
        let mut p = ptr;
        loop {
            if !used.insert((file, p.to_owned())) {
                break;
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => break,
            }
        }
    };
    for site in cx.ws.refs() {
        if let Ok(t) = cx.ws.resolve_one(site.file, &site.reference) {
            mark(t.file, &t.pointer);
        }
        if let Some(t) = &site.target {
            mark(t.file, &t.pointer);
        }
    }
    let is_used = |file: FileId, ptr: &str| used.contains(&(file, ptr.to_owned()));
    let mut security_names: BTreeSet<String> = BTreeSet::new();
    if cx.version.is_v2() {
        collect_security_names(root, &mut security_names);
    }
    for (kind, section) in comp.entries() {
        for (name, entry) in section.entries() {
            if kind == "securitySchemes" && cx.version.is_v2() {
                if !security_names.contains(name) && !is_used(entry.file, &entry.ptr) {
                    cx.emit_key(
                        "asyncapi-unused-security-scheme",
                        &entry,
                        format!("security scheme `{name}` is not used by any security requirement"),
                    );
                }
                continue;
            }
            if !is_used(entry.file, &entry.ptr) {
                cx.emit_key(
                    "asyncapi-unused-component",
                    &entry,
                    format!("component `{kind}.{name}` is not referenced anywhere"),
                );
            }
        }
    }
}

fn collect_security_names(v: &At<'_>, out: &mut BTreeSet<String>) {
    // 2.x security requirements live under `servers.*.security` and operations (and traits);
    // collecting every `security` array of name → scopes maps is precise enough here.
    let mut stack = vec![v.v];
    while let Some(v) = stack.pop() {
        match v {
            serde_json::Value::Object(m) => {
                if let Some(serde_json::Value::Array(reqs)) = m.get("security") {
                    for r in reqs {
                        if let Some(o) = r.as_object() {
                            out.extend(o.keys().cloned());
                        }
                    }
                }
                stack.extend(m.values());
            }
            serde_json::Value::Array(a) => stack.extend(a),
            _ => {}
        }
    }
}
