//! asyncforge's own specification extensions for HTTP channels (`docs/protocols.md`,
//! "Extension reference"): `x-asyncforge-webhook` on operations and channels, and
//! `x-asyncforge-resource` on channels. AsyncAPI has no field for a webhook signature or an
//! entity tag, so these say what the generated code does; what they cannot mean is kept as a
//! problem (the generator reports it as a located warning) and the default is used instead.

use serde::Serialize;
use serde_json::Value;

/// A webhook signature scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignatureScheme {
    /// Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`): the default.
    #[default]
    StandardWebhooks,
    /// GitHub (`X-Hub-Signature-256`).
    Github,
    /// Stripe (`Stripe-Signature`).
    Stripe,
}

/// `x-asyncforge-webhook`: the operation is a webhook (send: the application delivers it to
/// subscribers; receive: the application's endpoint takes it). `true` means all defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookExtension {
    /// `signature`: `standard-webhooks` (default), `github` or `stripe`.
    pub signature: Option<SignatureScheme>,
    /// `toleranceSeconds`: how old (or early) a signed timestamp may be (receive; default 300).
    pub tolerance_seconds: Option<u64>,
    /// `subscriptions`: path of the callback subscription routes (send), such as
    /// `/subscriptions`.
    pub subscriptions: Option<String>,
    /// `maxRetries`: retries after the first attempt before dead-lettering (send; default 8).
    pub max_retries: Option<u32>,
    /// `timeoutSeconds`: time for one attempt (send; default 15).
    pub timeout_seconds: Option<u64>,
    /// What could not be read, one sentence each.
    pub problems: Vec<String>,
}

/// `x-asyncforge-resource`: the channel is a resource served with conditional requests
/// (ETag, If-Match → 412, If-None-Match → 304), lock tokens and long polling. `true` means all
/// defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceExtension {
    /// `requirePrecondition`: writes without `If-Match`/`If-None-Match`/`If-Unmodified-Since`
    /// get `428` (default false).
    pub require_precondition: bool,
    /// `lockTtlSeconds`: lock lifetime when the locker asks for none (default 30).
    pub lock_ttl_seconds: Option<u64>,
    /// `maxLockTtlSeconds`: longest lock granted (default 600).
    pub max_lock_ttl_seconds: Option<u64>,
    /// `maxWaitSeconds`: longest `Prefer: wait` honoured (default 60).
    pub max_wait_seconds: Option<u64>,
    /// What could not be read, one sentence each.
    pub problems: Vec<String>,
}

fn unknown_keys(map: &serde_json::Map<String, Value>, known: &[&str], problems: &mut Vec<String>) {
    for k in map.keys() {
        if !known.contains(&k.as_str()) {
            problems.push(format!("unknown field `{k}` (known: {})", known.join(", ")));
        }
    }
}

fn uint(
    map: &serde_json::Map<String, Value>,
    key: &str,
    problems: &mut Vec<String>,
) -> Option<u64> {
    let v = map.get(key)?;
    match v.as_u64() {
        Some(n) if n > 0 => Some(n),
        _ => {
            problems.push(format!("`{key}` must be a positive integer, not {v}"));
            None
        }
    }
}

fn boolean(
    map: &serde_json::Map<String, Value>,
    key: &str,
    problems: &mut Vec<String>,
) -> Option<bool> {
    let v = map.get(key)?;
    match v.as_bool() {
        Some(b) => Some(b),
        None => {
            problems.push(format!("`{key}` must be true or false, not {v}"));
            None
        }
    }
}

impl WebhookExtension {
    /// Reads the extension's value; `None` for `false` (not a webhook).
    pub fn parse(value: &Value) -> Option<WebhookExtension> {
        let mut ext = WebhookExtension::default();
        let map = match value {
            Value::Bool(true) => return Some(ext),
            Value::Bool(false) => return None,
            Value::Object(m) => m,
            other => {
                ext.problems.push(format!(
                    "`x-asyncforge-webhook` must be true, false or an object, not {other}"
                ));
                return Some(ext);
            }
        };
        let p = &mut ext.problems;
        unknown_keys(
            map,
            &[
                "signature",
                "toleranceSeconds",
                "subscriptions",
                "maxRetries",
                "timeoutSeconds",
            ],
            p,
        );
        ext.signature = match map.get("signature") {
            None => None,
            Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
                "standard-webhooks" | "standardwebhooks" | "standard" => {
                    Some(SignatureScheme::StandardWebhooks)
                }
                "github" => Some(SignatureScheme::Github),
                "stripe" => Some(SignatureScheme::Stripe),
                _ => {
                    p.push(format!(
                        "unknown `signature` `{s}` (standard-webhooks, github or stripe)"
                    ));
                    None
                }
            },
            Some(other) => {
                p.push(format!("`signature` must be a string, not {other}"));
                None
            }
        };
        ext.tolerance_seconds = uint(map, "toleranceSeconds", p);
        ext.timeout_seconds = uint(map, "timeoutSeconds", p);
        ext.max_retries = match map.get("maxRetries") {
            None => None,
            Some(v) => match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
                Some(n) => Some(n),
                None => {
                    p.push(format!(
                        "`maxRetries` must be a non-negative integer, not {v}"
                    ));
                    None
                }
            },
        };
        ext.subscriptions = match map.get("subscriptions") {
            None => None,
            Some(Value::String(s))
                if s.starts_with('/') && !s.contains('{') && !s.contains(['?', '#', ' ']) =>
            {
                Some(s.clone())
            }
            Some(other) => {
                p.push(format!(
                    "`subscriptions` must be a path such as `/subscriptions` (no parameters), not {other}"
                ));
                None
            }
        };
        Some(ext)
    }

    /// This extension over `base` (a channel's): fields set here win.
    pub fn over(&self, base: Option<&WebhookExtension>) -> WebhookExtension {
        let Some(b) = base else {
            return self.clone();
        };
        WebhookExtension {
            signature: self.signature.or(b.signature),
            tolerance_seconds: self.tolerance_seconds.or(b.tolerance_seconds),
            subscriptions: self
                .subscriptions
                .clone()
                .or_else(|| b.subscriptions.clone()),
            max_retries: self.max_retries.or(b.max_retries),
            timeout_seconds: self.timeout_seconds.or(b.timeout_seconds),
            problems: self.problems.clone(),
        }
    }
}

impl ResourceExtension {
    /// Reads the extension's value; `None` for `false` (not a resource).
    pub fn parse(value: &Value) -> Option<ResourceExtension> {
        let mut ext = ResourceExtension::default();
        let map = match value {
            Value::Bool(true) => return Some(ext),
            Value::Bool(false) => return None,
            Value::Object(m) => m,
            other => {
                ext.problems.push(format!(
                    "`x-asyncforge-resource` must be true, false or an object, not {other}"
                ));
                return Some(ext);
            }
        };
        let p = &mut ext.problems;
        unknown_keys(
            map,
            &[
                "requirePrecondition",
                "lockTtlSeconds",
                "maxLockTtlSeconds",
                "maxWaitSeconds",
            ],
            p,
        );
        ext.require_precondition = boolean(map, "requirePrecondition", p).unwrap_or(false);
        ext.lock_ttl_seconds = uint(map, "lockTtlSeconds", p);
        ext.max_lock_ttl_seconds = uint(map, "maxLockTtlSeconds", p);
        ext.max_wait_seconds = uint(map, "maxWaitSeconds", p);
        Some(ext)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn webhook_forms() {
        assert_eq!(
            WebhookExtension::parse(&json!(true)),
            Some(WebhookExtension::default())
        );
        assert_eq!(WebhookExtension::parse(&json!(false)), None);
        let w = WebhookExtension::parse(&json!({
            "signature": "stripe", "toleranceSeconds": 60, "subscriptions": "/subs",
            "maxRetries": 0, "bogus": 1
        }))
        .expect("webhook");
        assert_eq!(w.signature, Some(SignatureScheme::Stripe));
        assert_eq!(w.tolerance_seconds, Some(60));
        assert_eq!(w.max_retries, Some(0));
        assert_eq!(w.subscriptions.as_deref(), Some("/subs"));
        assert_eq!(w.problems.len(), 1, "{:?}", w.problems);
        let bad = WebhookExtension::parse(&json!({"signature": "md5", "subscriptions": "subs"}))
            .expect("webhook");
        assert_eq!(bad.signature, None);
        assert_eq!(bad.problems.len(), 2);
        let channel = WebhookExtension {
            signature: Some(SignatureScheme::Github),
            tolerance_seconds: Some(10),
            ..WebhookExtension::default()
        };
        let op = WebhookExtension {
            tolerance_seconds: Some(20),
            ..WebhookExtension::default()
        };
        let merged = op.over(Some(&channel));
        assert_eq!(merged.signature, Some(SignatureScheme::Github));
        assert_eq!(merged.tolerance_seconds, Some(20));
    }

    #[test]
    fn resource_forms() {
        let r =
            ResourceExtension::parse(&json!({"requirePrecondition": true, "maxWaitSeconds": 5}))
                .expect("resource");
        assert!(r.require_precondition);
        assert_eq!(r.max_wait_seconds, Some(5));
        assert!(r.problems.is_empty());
        let r = ResourceExtension::parse(&json!({"maxWaitSeconds": -1})).expect("resource");
        assert_eq!(r.problems.len(), 1);
        assert_eq!(ResourceExtension::parse(&json!(false)), None);
    }
}
