//! What HTTP endpoints serve: a channel with `x-asyncforge-resource` is a resource; otherwise
//! its webhook operations (`x-asyncforge-webhook` on the operation or channel, or an `http`
//! operation binding with `method: POST`). What cannot be generated is dropped with a warning.

use asyncforge_spec::ir::{Action, Api, OperationId, ResourceExtension, WebhookExtension};

use super::common::Protocol;
use super::endpoints::{Endpoint, Op};
use crate::types::Warning;

/// The resource extension of an endpoint, if one of its channels has it.
pub(crate) fn resource_of<'a>(api: &'a Api, e: &Endpoint) -> Option<&'a ResourceExtension> {
    e.channels
        .iter()
        .find_map(|c| api.channel(*c).resource.as_ref())
}

/// The webhook settings of an operation (its own over its channel's), when it is a webhook.
pub(crate) fn webhook_of(api: &Api, id: OperationId) -> Option<WebhookExtension> {
    let op = api.operation(id);
    let channel = api.channel(op.channel);
    match (&op.webhook, &channel.webhook) {
        (Some(o), c) => Some(o.over(c.as_ref())),
        (None, Some(c)) => Some(c.clone()),
        (None, None) => op
            .bindings
            .http
            .as_ref()
            .and_then(|b| b.method.as_deref())
            .filter(|m| m.eq_ignore_ascii_case("POST"))
            .map(|_| WebhookExtension::default()),
    }
}

/// Drops from HTTP endpoints what cannot be generated, with located warnings.
pub(super) fn refine(api: &Api, endpoints: &mut Vec<Endpoint>, warnings: &mut Vec<Warning>) {
    let mut drop = Vec::new();
    for (i, e) in endpoints.iter_mut().enumerate() {
        if e.protocol != Protocol::Http {
            continue;
        }
        for c in &e.channels {
            let ch = api.channel(*c);
            let problems = ch
                .webhook
                .iter()
                .flat_map(|w| &w.problems)
                .map(|p| ("x-asyncforge-webhook", p))
                .chain(
                    ch.resource
                        .iter()
                        .flat_map(|r| &r.problems)
                        .map(|p| ("x-asyncforge-resource", p)),
                );
            for (ext, p) in problems {
                warnings.push(Warning {
                    message: format!("channel `{}`: `{ext}`: {p}; the default is used", ch.key),
                    source: ch.source.clone(),
                });
            }
        }
        if resource_of(api, e).is_some() {
            let mut messages = Vec::new();
            for c in &e.channels {
                for m in &api.channel(*c).messages {
                    if !messages.contains(m) {
                        messages.push(*m);
                    }
                }
            }
            let ch = api.channel(e.channels[0]);
            if messages.len() != 1 {
                warnings.push(Warning {
                    message: format!(
                        "channel `{}` has no generated resource: a resource channel carries exactly one message (its representation), it has {}",
                        ch.key,
                        messages.len()
                    ),
                    source: ch.source.clone(),
                });
                drop.push(i);
            }
            continue;
        }
        let ops: Vec<Op> = e.receive.drain(..).chain(e.send.drain(..)).collect();
        for mut op in ops {
            let o = api.operation(op.id);
            let Some(hook) = webhook_of(api, op.id) else {
                warnings.push(Warning {
                    message: format!(
                        "operation `{}` on an http server has no generated code: mark it a webhook (`x-asyncforge-webhook`, or an http binding with `method: POST`) or its channel a resource (`x-asyncforge-resource`)",
                        o.key
                    ),
                    source: o.source.clone(),
                });
                continue;
            };
            for p in o.webhook.iter().flat_map(|w| &w.problems) {
                warnings.push(Warning {
                    message: format!(
                        "operation `{}`: `x-asyncforge-webhook`: {p}; the default is used",
                        o.key
                    ),
                    source: o.source.clone(),
                });
            }
            if op.reply.take().is_some() {
                warnings.push(Warning {
                    message: format!(
                        "operation `{}`: a webhook is acknowledged with a status, not a reply; the reply is not generated",
                        o.key
                    ),
                    source: o.source.clone(),
                });
            }
            match o.action {
                Action::Receive => {
                    if !e.params.is_empty() {
                        warnings.push(Warning {
                            message: format!(
                                "operation `{}` has no generated webhook endpoint: a webhook endpoint's address cannot have parameters",
                                o.key
                            ),
                            source: o.source.clone(),
                        });
                        continue;
                    }
                    // Several operations (or messages) share the endpoint: it dispatches by
                    // `webhook-event`, else by the payload; a message two of them claim
                    // could not be dispatched.
                    if let Some((other, m)) = e.receive.iter().find_map(|other| {
                        op.messages
                            .iter()
                            .find(|m| other.messages.contains(m))
                            .map(|m| (other, m))
                    }) {
                        warnings.push(Warning {
                            message: format!(
                                "operation `{}` has no generated webhook endpoint: its message `{}` is already received on this path by operation `{}`",
                                o.key,
                                api.message(*m).key,
                                api.operation(other.id).key
                            ),
                            source: o.source.clone(),
                        });
                        continue;
                    }
                    if let Some(first) = e.receive.first() {
                        let theirs = webhook_of(api, first.id).unwrap_or_default();
                        if theirs.signature.unwrap_or_default()
                            != hook.signature.unwrap_or_default()
                            || theirs.tolerance_seconds != hook.tolerance_seconds
                        {
                            warnings.push(Warning {
                                message: format!(
                                    "operation `{}` shares its webhook endpoint with operation `{}` but not its signature settings; the endpoint verifies as `{}` says",
                                    o.key,
                                    api.operation(first.id).key,
                                    api.operation(first.id).key
                                ),
                                source: o.source.clone(),
                            });
                        }
                    }
                    e.receive.push(op);
                }
                Action::Send => e.send.push(op),
            }
        }
    }
    for i in drop.into_iter().rev() {
        endpoints.remove(i);
    }
}
