//! The webhook receiver: an axum endpoint that verifies, deduplicates, decodes, validates and
//! then calls the typed handler — and acknowledges only after the handler succeeded.
//!
//! | situation | answer |
//! |---|---|
//! | handled | `204` |
//! | id seen before (handled) | `204` with `Idempotent-Replayed: true`; the handler is not called |
//! | same id being handled right now | `503`, `Retry-After: 1` (retried by every sender) |
//! | body larger than `max_body` | `413` |
//! | signature missing, wrong, or timestamp outside the tolerance | `401` |
//! | payload does not decode | `400` |
//! | payload fails validation, or the handler rejects it | `422` (the sender does not retry) |
//! | handler failed | `500` (the sender retries) |
//! | idempotency store unavailable | `503`, `Retry-After: 1` |
//!
//! Errors carry a JSON body `{"error": "..."}`. A failed handler releases the id's claim, so
//! the retry is processed.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;

use super::idempotency::{Claim, IdempotencyStore, MemoryStore};
use super::signature::{DEFAULT_TOLERANCE, Scheme, SecretError, Signer, headers, unix_now};
use crate::message::Message;

/// How a receiver checks requests.
#[derive(Clone)]
pub struct ReceiverConfig {
    /// The signature scheme.
    pub scheme: Scheme,
    /// Accepted secrets (during a rotation: old and new).
    pub secrets: Vec<String>,
    /// Timestamp tolerance, either direction.
    pub tolerance: Duration,
    /// Largest body accepted, in bytes.
    pub max_body: usize,
    /// How long a claim on an id lasts while the handler runs (a receiver that dies while
    /// handling frees the id after this).
    pub lease: Duration,
    /// How long a handled id is remembered (longer than the senders' retry horizon).
    pub remember: Duration,
}

impl std::fmt::Debug for ReceiverConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiverConfig")
            .field("scheme", &self.scheme)
            .field("secrets", &format_args!("[{} hidden]", self.secrets.len()))
            .field("tolerance", &self.tolerance)
            .field("max_body", &self.max_body)
            .field("lease", &self.lease)
            .field("remember", &self.remember)
            .finish()
    }
}

impl ReceiverConfig {
    /// Standard Webhooks with one secret and the defaults: five minutes' tolerance, 1 MiB
    /// bodies, a 60 s lease, ids remembered for three days.
    pub fn new(secret: impl Into<String>) -> Self {
        ReceiverConfig {
            scheme: Scheme::StandardWebhooks,
            secrets: vec![secret.into()],
            tolerance: DEFAULT_TOLERANCE,
            max_body: 1 << 20,
            lease: Duration::from_secs(60),
            remember: Duration::from_secs(3 * 24 * 3600),
        }
    }
}

/// A verified, decoded webhook.
#[derive(Debug, Clone)]
pub struct Webhook<M> {
    /// The message id, when the request carried one.
    pub id: Option<String>,
    /// The signed timestamp (Unix seconds), when the scheme has one.
    pub timestamp: Option<i64>,
    /// The message.
    pub message: M,
    /// The request's headers.
    pub headers: HeaderMap,
}

/// Why a handler did not handle a webhook.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    /// A transient failure: answered 500, the sender retries.
    #[error("{0}")]
    Retry(String),
    /// The message is unacceptable: answered 422, the sender does not retry.
    #[error("{0}")]
    Reject(String),
}

/// What handles a verified webhook. Closures `Fn(Webhook<M>) -> impl Future<Output =
/// Result<(), HandlerError>>` implement it.
pub trait WebhookHandler<M>: Send + Sync + 'static {
    /// Handles one webhook.
    fn handle(&self, hook: Webhook<M>) -> impl Future<Output = Result<(), HandlerError>> + Send;
}

impl<M, F, Fut> WebhookHandler<M> for F
where
    F: Fn(Webhook<M>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send,
{
    fn handle(&self, hook: Webhook<M>) -> impl Future<Output = Result<(), HandlerError>> + Send {
        self(hook)
    }
}

type Validator<M> = Arc<dyn Fn(&M) -> Result<(), String> + Send + Sync>;

struct Inner<M, H> {
    config: ReceiverConfig,
    signer: Signer,
    store: Arc<dyn IdempotencyStore>,
    validator: Option<Validator<M>>,
    handler: H,
}

/// A webhook endpoint for messages `M`. Cheap to clone.
pub struct Receiver<M, H> {
    inner: Arc<Inner<M, H>>,
    _m: PhantomData<fn() -> M>,
}

impl<M, H> Clone for Receiver<M, H> {
    fn clone(&self) -> Self {
        Receiver {
            inner: self.inner.clone(),
            _m: PhantomData,
        }
    }
}

fn error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    let body = serde_json::json!({ "error": message.to_string() }).to_string();
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

fn retry_later(message: impl std::fmt::Display) -> Response {
    let mut r = error(StatusCode::SERVICE_UNAVAILABLE, message);
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

impl<M, H> Receiver<M, H>
where
    M: Message + Send + 'static,
    H: WebhookHandler<M>,
{
    /// A receiver with the in-memory idempotency store.
    pub fn new(config: ReceiverConfig, handler: H) -> Result<Self, SecretError> {
        let signer = Signer::new(config.scheme, &config.secrets)?.with_tolerance(config.tolerance);
        Ok(Receiver {
            inner: Arc::new(Inner {
                config,
                signer,
                store: Arc::new(MemoryStore::default()),
                validator: None,
                handler,
            }),
            _m: PhantomData,
        })
    }

    fn inner_mut(&mut self) -> Option<&mut Inner<M, H>> {
        Arc::get_mut(&mut self.inner)
    }

    /// Uses another idempotency store (call before cloning).
    pub fn with_store(mut self, store: Arc<dyn IdempotencyStore>) -> Self {
        match self.inner_mut() {
            Some(inner) => inner.store = store,
            None => tracing::warn!("with_store called on a shared receiver; ignored"),
        }
        self
    }

    /// Adds a validation step after decoding (for example the message's JSON Schema); a
    /// failure is answered 422 (call before cloning).
    pub fn with_validator(
        mut self,
        validator: impl Fn(&M) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        match self.inner_mut() {
            Some(inner) => inner.validator = Some(Arc::new(validator)),
            None => tracing::warn!("with_validator called on a shared receiver; ignored"),
        }
        self
    }

    /// The axum `POST` route for this endpoint.
    pub fn endpoint<S: Clone + Send + Sync + 'static>(self) -> MethodRouter<S> {
        axum::routing::post(move |req: Request| {
            let me = self.clone();
            async move { me.handle_request(req).await }
        })
    }

    /// Reads the body (bounded) and handles the request.
    pub async fn handle_request(&self, req: Request) -> Response {
        let (parts, body) = req.into_parts();
        let body: Body = body;
        match axum::body::to_bytes(body, self.inner.config.max_body).await {
            Ok(bytes) => self.receive(&parts.headers, &bytes).await,
            Err(_) => error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body too large or unreadable",
            ),
        }
    }

    async fn release(&self, claim: (Option<&str>, Option<&str>), why: &'static str) {
        if let (Some(k), Some(t)) = claim
            && let Err(e) = self.inner.store.release(k, t).await
        {
            tracing::error!(error = %e, why, "cannot release idempotency claim");
        }
    }

    /// Handles one request given its headers and body.
    pub async fn receive(&self, headers: &HeaderMap, body: &[u8]) -> Response {
        let inner = &self.inner;
        if body.len() > inner.config.max_body {
            return error(StatusCode::PAYLOAD_TOO_LARGE, "body too large");
        }
        let verified = match inner.signer.verify(headers, body, unix_now()) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(message = M::NAME, error = %e, "webhook refused");
                return error(StatusCode::UNAUTHORIZED, e);
            }
        };
        let id = verified.id.clone().or_else(|| {
            headers
                .get(headers::IDEMPOTENCY_KEY)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        });
        let key = id.as_ref().map(|id| format!("{}:{id}", M::NAME));
        let token = match &key {
            None => None,
            Some(k) => match inner.store.claim(k, inner.config.lease).await {
                Ok(Claim::Claimed(t)) => Some(t),
                Ok(Claim::Done) => {
                    tracing::info!(message = M::NAME, id = ?id, "duplicate webhook acknowledged");
                    let mut r = StatusCode::NO_CONTENT.into_response();
                    r.headers_mut()
                        .insert("idempotent-replayed", HeaderValue::from_static("true"));
                    return r;
                }
                Ok(Claim::InProgress) => {
                    return retry_later("this message is being processed");
                }
                Err(e) => {
                    tracing::error!(error = %e, "idempotency store unavailable");
                    return retry_later(e);
                }
            },
        };
        let claim = (key.as_deref(), token.as_deref());
        let message = match M::decode(body) {
            Ok(m) => m,
            Err(e) => {
                self.release(claim, "decode").await;
                return error(StatusCode::BAD_REQUEST, e);
            }
        };
        if let Some(validate) = &inner.validator
            && let Err(e) = validate(&message)
        {
            self.release(claim, "validation").await;
            return error(StatusCode::UNPROCESSABLE_ENTITY, e);
        }
        let hook = Webhook {
            id: id.clone(),
            timestamp: verified.timestamp,
            message,
            headers: headers.clone(),
        };
        match inner.handler.handle(hook).await {
            Ok(()) => {
                if let (Some(k), Some(t)) = claim
                    && let Err(e) = inner.store.complete(k, t, inner.config.remember).await
                {
                    // The handler succeeded: acknowledge anyway; a retry may run it again.
                    tracing::error!(error = %e, "cannot record handled webhook");
                }
                StatusCode::NO_CONTENT.into_response()
            }
            Err(e) => {
                self.release(claim, "handler").await;
                tracing::warn!(message = M::NAME, id = ?id, error = %e, "webhook handler failed");
                match e {
                    HandlerError::Retry(m) => error(StatusCode::INTERNAL_SERVER_ERROR, m),
                    HandlerError::Reject(m) => error(StatusCode::UNPROCESSABLE_ENTITY, m),
                }
            }
        }
    }
}
