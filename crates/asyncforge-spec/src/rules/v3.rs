//! Rules for AsyncAPI 3.x documents.

use super::{At, Ctx, template_vars};
use crate::workspace::split_ref;

pub(super) fn run(cx: &mut Ctx<'_>) {
    let Some(root) = cx.root() else { return };
    servers(cx, &root);
    channels(cx, &root);
    operations(cx, &root);
}

fn servers(cx: &mut Ctx<'_>, root: &At<'_>) {
    let mut all = Vec::new();
    if let Some(s) = root.child("servers") {
        all.extend(s.entries());
    }
    if let Some(s) = root.child("components").and_then(|c| c.child("servers")) {
        all.extend(s.entries());
    }
    for (_, server) in all {
        let Some(server) = cx.deref(&server) else {
            continue;
        };
        let parts: Vec<At<'_>> = ["host", "pathname"]
            .iter()
            .filter_map(|k| server.child(k))
            .collect();
        super::common::template_variables(
            cx,
            &server,
            &parts,
            "asyncapi3-server-variables",
            "host and pathname",
        );
        if let Some(sec) = server.child("security") {
            security_list(cx, &sec);
        }
    }
}

/// 3.x security lists hold Security Scheme Objects (usually `$ref`s); check that oauth2 scopes
/// requested exist in the scheme's flows.
fn security_list(cx: &mut Ctx<'_>, list: &At<'_>) {
    for item in list.items() {
        let Some(scheme) = cx.deref(&item) else {
            continue;
        };
        let Some(available) = super::v2::scopes_of(cx, &scheme) else {
            continue;
        };
        let Some(scopes) = scheme.child("scopes") else {
            continue;
        };
        for s in scopes.items() {
            let Some(scope) = s.v.as_str() else { continue };
            if !available.contains(scope) {
                let list: Vec<String> = available.iter().map(|a| format!("`{a}`")).collect();
                cx.emit(
                    "asyncapi3-operation-security",
                    &s,
                    format!(
                        "scope `{scope}` is not among the security scheme's available scopes: {}",
                        if list.is_empty() {
                            "none".into()
                        } else {
                            list.join(", ")
                        }
                    ),
                );
            }
        }
    }
}

fn channels(cx: &mut Ctx<'_>, root: &At<'_>) {
    let mut all = Vec::new();
    if let Some(c) = root.child("channels") {
        all.extend(c.entries().into_iter().map(|(k, v)| (k, v, true)));
    }
    if let Some(c) = root.child("components").and_then(|c| c.child("channels")) {
        all.extend(c.entries().into_iter().map(|(k, v)| (k, v, false)));
    }
    for (key, channel, in_root) in all {
        let Some(channel) = cx.deref(&channel) else {
            continue;
        };
        let address = channel.child("address");
        let addr_str = address.as_ref().and_then(|a| a.v.as_str());
        if let (Some(a), Some(addr)) = (&address, addr_str)
            && addr.contains(['?', '#'])
        {
            cx.emit(
                "asyncapi3-channel-no-query-nor-fragment",
                a,
                format!(
                    "channel address `{addr}` contains a query (`?`) or fragment (`#`) delimiter"
                ),
            );
        }
        // Parameters.
        let vars: Vec<&str> = addr_str
            .map(|a| template_vars(a).into_iter().map(|(v, _)| v).collect())
            .unwrap_or_default();
        let params = channel.child("parameters");
        let missing_at = address.clone().unwrap_or_else(|| channel.clone());
        super::common::channel_parameters(
            cx,
            super::common::ParamSite {
                code: "asyncapi3-channel-parameters",
                subject: format!("address of channel `{key}`"),
                unused_subject: format!("the address of channel `{key}`"),
                template_word: "address",
                unused_suffix: if addr_str.is_none() {
                    " (the channel has no address)"
                } else {
                    ""
                },
                missing_on_key: false,
            },
            &vars,
            params.as_ref(),
            &missing_at,
        );
        // Servers must be references to root servers.
        if in_root && let Some(servers) = channel.child("servers") {
            for s in servers.items() {
                let target = s.str("$ref");
                let ok = target.is_some_and(|r| split_ref(r).1.starts_with("/servers/"));
                if !ok {
                    cx.emit(
                        "asyncapi3-required-channel-servers-unambiguity",
                        &s,
                        format!(
                            "channel `{key}` lists a server that is not a `$ref` to `#/servers/…`{}",
                            target.map(|t| format!(" (found `{t}`)")).unwrap_or_default()
                        ),
                    );
                }
            }
        }
    }
}

/// One-hop target of a `$ref` held by `at` (not following chains): (file, pointer).
fn one_hop(cx: &Ctx<'_>, at: &At<'_>) -> Option<(crate::source::FileId, String)> {
    let r = at.str("$ref")?;
    let t = cx.ws.resolve_one(at.file, r).ok()?;
    Some((t.file, t.pointer))
}

fn operations(cx: &mut Ctx<'_>, root: &At<'_>) {
    let mut all = Vec::new();
    if let Some(o) = root.child("operations") {
        all.extend(o.entries().into_iter().map(|(k, v)| (k, v, true)));
    }
    if let Some(o) = root.child("components").and_then(|c| c.child("operations")) {
        all.extend(o.entries().into_iter().map(|(k, v)| (k, v, false)));
    }
    for (name, op, in_root) in all {
        let Some(op) = cx.deref(&op) else { continue };
        let channel = op.child("channel");
        if in_root && let Some(ch) = &channel {
            let r = ch.str("$ref");
            if !r.is_some_and(|r| split_ref(r).1.starts_with("/channels/")) {
                cx.emit(
                    "asyncapi3-required-operation-channel-unambiguity",
                    ch,
                    format!(
                        "`channel` of operation `{name}` must be a `$ref` to `#/channels/…`{}",
                        r.map(|t| format!(" (found `{t}`)")).unwrap_or_default()
                    ),
                );
            }
        }
        if let Some(ch) = &channel
            && let Some(messages) = op.child("messages")
        {
            check_messages_belong(
                cx,
                ch,
                &messages,
                &format!("operation `{name}`"),
                "asyncapi3-operation-messages-from-referred-channel",
            );
        }
        if let Some(reply) = op.child("reply").and_then(|r| cx.deref(&r)) {
            // The specification requires this only of operation messages; for replies it is a
            // warning, and only when the reply names its own channel.
            if let (Some(ch), Some(messages)) = (reply.child("channel"), reply.child("messages")) {
                check_messages_belong(
                    cx,
                    &ch,
                    &messages,
                    &format!("reply of operation `{name}`"),
                    "asyncapi3-reply-messages-from-referred-channel",
                );
            }
        }
        if let Some(sec) = op.child("security") {
            security_list(cx, &sec);
        }
    }
}

fn check_messages_belong(
    cx: &mut Ctx<'_>,
    channel_ref: &At<'_>,
    messages: &At<'_>,
    what: &str,
    code: &'static str,
) {
    // The channel object the reference points to (one hop, then any chain).
    let Some(channel) = cx.deref(channel_ref) else {
        return;
    };
    let mut allowed: Vec<(crate::source::FileId, String)> = Vec::new();
    let mut channel_locations = vec![(channel.file, channel.ptr.clone())];
    if let Some(hop) = one_hop(cx, channel_ref) {
        channel_locations.push(hop);
    }
    if let Some(ch_msgs) = channel.child("messages") {
        for (_, m) in ch_msgs.entries() {
            allowed.push((m.file, m.ptr.clone()));
            if let Some(t) = cx.deref(&m) {
                allowed.push((t.file, t.ptr));
            }
        }
    }
    for m in messages.items() {
        let Some(hop) = one_hop(cx, &m) else { continue };
        let under_channel = channel_locations
            .iter()
            .any(|(f, p)| *f == hop.0 && hop.1.starts_with(&format!("{p}/messages/")));
        if under_channel {
            continue;
        }
        let r = m.str("$ref").unwrap_or_default();
        let resolves_to_channel_message = cx
            .deref(&m)
            .is_some_and(|t| allowed.iter().any(|(f, p)| *f == t.file && *p == t.ptr));
        let d = cx.emit(
            code,
            &m,
            format!("message `{r}` of {what} is not one of the messages of its channel"),
        );
        d.help = Some(if resolves_to_channel_message {
            "the channel has this message, but the operation must reference it through the channel: `$ref: '#/channels/<channel>/messages/<message>'`".into()
        } else {
            "add the message to the channel's `messages` and reference it as `#/channels/<channel>/messages/<message>`".into()
        });
    }
}
