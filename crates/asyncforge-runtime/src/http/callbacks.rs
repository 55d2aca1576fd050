//! Callback subscriptions: clients register the URL they want to be called on, the events
//! they want, and (optionally) their secret; the sender delivers each message to every
//! matching subscription ([`Sender::publish`]).
//!
//! Routes ([`Subscriptions::router`], mounted at a base path such as `/subscriptions`):
//!
//! | request | answer |
//! |---|---|
//! | `POST <base>` `{"url", "events": [..], "secret"?, "scheme"?}` | `201` with the subscription and its secret (shown once; generated when not given), `400`/`422` with `{"error"}` |
//! | `GET <base>` | `200` with the list (secrets never shown) |
//! | `GET <base>/{id}` | `200` or `404` |
//! | `DELETE <base>/{id}` | `204` or `404` |
//!
//! Registration refuses URLs the SSRF guard refuses (resolved at registration; the sender
//! checks again at every connection) and events the API does not have. Authenticating who
//! may register is the application's job (an axum layer around the router).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::{Path, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::sender::{DeliveryError, Sender, Subscriber};
use super::signature::{Scheme, Signer, generate_secret};
use super::ssrf::{self, AddressPolicy};
use crate::message::Message;

/// A registration request.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Registration {
    /// The URL to call.
    pub url: String,
    /// The events (message names) wanted; `"*"` for all.
    pub events: Vec<String>,
    /// The signing secret (`whsec_…` for Standard Webhooks); generated when absent.
    #[serde(default)]
    pub secret: Option<String>,
    /// The signature scheme (default Standard Webhooks).
    #[serde(default)]
    pub scheme: Scheme,
}

/// A registered subscription.
#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    /// Its id.
    pub id: String,
    /// The URL called.
    pub url: String,
    /// The events wanted.
    pub events: Vec<String>,
    /// The signature scheme.
    pub scheme: Scheme,
    /// When it was registered (RFC 3339).
    pub created_at: String,
    #[serde(skip)]
    secret: String,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("events", &self.events)
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
    }
}

impl Subscription {
    /// Whether this subscription wants `event`.
    pub fn wants(&self, event: &str) -> bool {
        self.events.iter().any(|e| e == "*" || e == event)
    }

    /// The sender's view of it.
    pub fn subscriber(&self) -> Subscriber {
        Subscriber {
            id: self.id.clone(),
            url: self.url.clone(),
            secrets: vec![self.secret.clone()],
            scheme: self.scheme,
        }
    }
}

/// Limits and rules of registrations.
#[derive(Debug, Clone)]
pub struct SubscriptionConfig {
    /// The events that exist (the API's message names); empty: any.
    pub events: Vec<String>,
    /// Which destinations are allowed.
    pub addresses: AddressPolicy,
    /// Most subscriptions held.
    pub max_subscriptions: usize,
    /// Most events per subscription.
    pub max_events: usize,
    /// Longest URL.
    pub max_url: usize,
}

impl Default for SubscriptionConfig {
    fn default() -> Self {
        SubscriptionConfig {
            events: Vec::new(),
            addresses: AddressPolicy::public_only(),
            max_subscriptions: 10_000,
            max_events: 64,
            max_url: 2048,
        }
    }
}

/// Why a registration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    /// The request is not valid.
    #[error("{0}")]
    Invalid(String),
    /// The destination is refused.
    #[error(transparent)]
    Refused(#[from] ssrf::Refused),
    /// Too many subscriptions.
    #[error("too many subscriptions")]
    Full,
}

/// The subscriptions of an API (in memory). Cheap to clone.
#[derive(Clone, Default)]
pub struct Subscriptions {
    config: Arc<SubscriptionConfig>,
    map: Arc<RwLock<HashMap<String, Subscription>>>,
}

impl std::fmt::Debug for Subscriptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscriptions")
            .field("config", &self.config)
            .field("count", &self.list().len())
            .finish()
    }
}

fn json(status: StatusCode, value: &serde_json::Value) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        value.to_string(),
    )
        .into_response()
}

fn json_error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    json(status, &serde_json::json!({ "error": message.to_string() }))
}

impl Subscriptions {
    /// An empty set of subscriptions.
    pub fn new(config: SubscriptionConfig) -> Self {
        Subscriptions {
            config: Arc::new(config),
            map: Arc::default(),
        }
    }

    /// Registers a subscription; returns it and its secret.
    pub async fn register(
        &self,
        reg: Registration,
    ) -> Result<(Subscription, String), RegisterError> {
        let cfg = &self.config;
        if reg.url.len() > cfg.max_url {
            return Err(RegisterError::Invalid("url too long".into()));
        }
        let url = reqwest::Url::parse(&reg.url)
            .map_err(|e| RegisterError::Invalid(format!("url: {e}")))?;
        if reg.events.is_empty() || reg.events.len() > cfg.max_events {
            return Err(RegisterError::Invalid(format!(
                "events: give 1 to {} event names",
                cfg.max_events
            )));
        }
        if !cfg.events.is_empty()
            && let Some(unknown) = reg
                .events
                .iter()
                .find(|e| *e != "*" && !cfg.events.contains(e))
        {
            return Err(RegisterError::Invalid(format!("unknown event `{unknown}`")));
        }
        let secret = match reg.secret {
            Some(s) => s,
            None => generate_secret(),
        };
        Signer::new(reg.scheme, &[&secret])
            .map_err(|e| RegisterError::Invalid(format!("secret: {e}")))?;
        ssrf::check_url(&url, &cfg.addresses).await?;
        let sub = Subscription {
            id: format!("sub_{}", uuid::Uuid::new_v4().simple()),
            url: url.to_string(),
            events: reg.events,
            scheme: reg.scheme,
            created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            secret: secret.clone(),
        };
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        if map.len() >= cfg.max_subscriptions {
            return Err(RegisterError::Full);
        }
        map.insert(sub.id.clone(), sub.clone());
        tracing::info!(id = %sub.id, url = %sub.url, "subscription registered");
        Ok((sub, secret))
    }

    /// Every subscription, oldest first.
    pub fn list(&self) -> Vec<Subscription> {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<Subscription> = map.values().cloned().collect();
        v.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        v
    }

    /// One subscription.
    pub fn get(&self, id: &str) -> Option<Subscription> {
        self.map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }

    /// Removes a subscription; whether it existed.
    pub fn remove(&self, id: &str) -> bool {
        self.map
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id)
            .is_some()
    }

    /// The subscribers that want `event`.
    pub fn subscribers_for(&self, event: &str) -> Vec<Subscriber> {
        self.list()
            .into_iter()
            .filter(|s| s.wants(event))
            .map(|s| s.subscriber())
            .collect()
    }

    /// The routes, under `base` (for example `/subscriptions`).
    pub fn router<S: Clone + Send + Sync + 'static>(&self, base: &str) -> Router<S> {
        let base = base.trim_end_matches('/');
        let one = format!("{base}/{{id}}");
        let (a, b, c, d) = (self.clone(), self.clone(), self.clone(), self.clone());
        Router::new()
            .route(
                if base.is_empty() { "/" } else { base },
                axum::routing::post(move |req: Request| {
                    let a = a.clone();
                    async move { a.handle_register(req).await }
                })
                .get(move || {
                    let b = b.clone();
                    async move { json(StatusCode::OK, &serde_json::json!(b.list())) }
                }),
            )
            .route(
                &one,
                axum::routing::get(move |Path(id): Path<String>| {
                    let c = c.clone();
                    async move {
                        match c.get(&id) {
                            Some(s) => json(StatusCode::OK, &serde_json::json!(s)),
                            None => json_error(StatusCode::NOT_FOUND, "no such subscription"),
                        }
                    }
                })
                .delete(move |Path(id): Path<String>| {
                    let d = d.clone();
                    async move {
                        if d.remove(&id) {
                            StatusCode::NO_CONTENT.into_response()
                        } else {
                            json_error(StatusCode::NOT_FOUND, "no such subscription")
                        }
                    }
                }),
            )
    }

    async fn handle_register(&self, req: Request) -> Response {
        let bytes = match axum::body::to_bytes(req.into_body(), 64 * 1024).await {
            Ok(b) => b,
            Err(_) => return json_error(StatusCode::PAYLOAD_TOO_LARGE, "body too large"),
        };
        let reg: Registration = match serde_json::from_slice(&bytes) {
            Ok(r) => r,
            Err(e) => return json_error(StatusCode::BAD_REQUEST, e),
        };
        match self.register(reg).await {
            Ok((sub, secret)) => {
                let mut v = serde_json::json!(sub);
                v["secret"] = serde_json::Value::String(secret);
                json(StatusCode::CREATED, &v)
            }
            Err(RegisterError::Full) => {
                json_error(StatusCode::INSUFFICIENT_STORAGE, RegisterError::Full)
            }
            Err(e) => json_error(StatusCode::UNPROCESSABLE_ENTITY, e),
        }
    }
}

impl Sender {
    /// Enqueues `message` for every subscription that wants it (durably, in the outbox);
    /// returns the webhook ids.
    pub async fn publish<M: Message>(
        &self,
        subscriptions: &Subscriptions,
        message: &M,
    ) -> Result<Vec<String>, DeliveryError> {
        self.publish_with_headers(subscriptions, message, None::<&()>)
            .await
    }

    /// [`Sender::publish`] with the message's typed headers.
    pub async fn publish_with_headers<M: Message, H: serde::Serialize + ?Sized>(
        &self,
        subscriptions: &Subscriptions,
        message: &M,
        headers: Option<&H>,
    ) -> Result<Vec<String>, DeliveryError> {
        let mut ids = Vec::new();
        for sub in subscriptions.subscribers_for(M::NAME) {
            ids.push(self.enqueue_with_headers(&sub, message, headers).await?);
        }
        Ok(ids)
    }
}
