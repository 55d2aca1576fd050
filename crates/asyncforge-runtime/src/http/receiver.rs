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
//! | payload does not decode (or is not JSON where the message must be told by it) | `400` |
//! | payload or headers fail validation, the message cannot be told, or the handler rejects it | `422` (the sender does not retry) |
//! | handler failed | `500` (the sender retries) |
//! | idempotency store unavailable | `503`, `Retry-After: 1` |
//!
//! Errors carry a JSON body `{"error": "..."}`. A failed handler releases the id's claim, so
//! the retry is processed.
//!
//! What a verified request goes to is a [`Dispatch`] of [`VerifiedRequest`]s:
//! [`Receiver::new`] wraps one message type and its handler, a `Dispatch` of [`Webhook`]s
//! (closures are ones); generated servers implement it per endpoint, with [`select`]
//! (which of several messages: the `webhook-event` header, else the one schema the payload
//! fits), [`decode_checked`] and [`typed_headers`]. Secrets are read once
//! ([`ReceiverConfig::check`]), so a receiver that exists can verify.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;

use crate::received::Received;

use super::idempotency::{Claim, IdempotencyStore, MemoryStore};
use super::signature::{DEFAULT_TOLERANCE, Scheme, SecretError, Signer, headers, unix_now};
use crate::endpoint::{Scalar, error_response, reject_response, scalar, typed_part};
use crate::message::Message;
use crate::outcome::{Dispatch, Reject};
use crate::validate::SchemaCheck;

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

/// What a verified webhook request says beside its message: the `meta` of a [`Webhook`].
#[derive(Debug, Clone)]
pub struct Inbound {
    /// The message id, when the request carried one.
    pub id: Option<String>,
    /// The signed timestamp (Unix seconds), when the scheme has one.
    pub timestamp: Option<i64>,
    /// The request's headers.
    pub headers: HeaderMap,
}

/// A verified, decoded webhook: the message, no channel parameters (a webhook endpoint's
/// address has none), and the request's id, timestamp and headers.
pub type Webhook<M> = Received<M, (), Inbound>;

/// Closures `Fn(Webhook<M>) -> impl Future<Output = Result<(), Reject>>` handle webhooks.
impl<M, F, Fut> Dispatch<Webhook<M>> for F
where
    F: Fn(Webhook<M>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), Reject>> + Send,
{
    fn dispatch(&self, hook: Webhook<M>) -> impl Future<Output = Result<(), Reject>> + Send {
        self(hook)
    }
}

type Validator<M> = Arc<dyn Fn(&M) -> Result<(), String> + Send + Sync>;

/// A [`ReceiverConfig`] whose secrets were read: a receiver built from it cannot fail. Made by
/// [`ReceiverConfig::check`], which a server calls when it is built, so a missing or malformed
/// secret is reported at start-up rather than on every request.
#[derive(Clone)]
pub struct CheckedConfig {
    config: ReceiverConfig,
    signer: Signer,
}

impl std::fmt::Debug for CheckedConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckedConfig")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl CheckedConfig {
    /// The configuration.
    pub fn config(&self) -> &ReceiverConfig {
        &self.config
    }
}

impl ReceiverConfig {
    /// Reads the secrets for the scheme (Standard Webhooks: `whsec_<base64>` of 24 to 64
    /// bytes; GitHub and Stripe: any non-empty text). `Err` is a configuration mistake.
    pub fn check(&self) -> Result<CheckedConfig, SecretError> {
        let signer = Signer::new(self.scheme, &self.secrets)?.with_tolerance(self.tolerance);
        Ok(CheckedConfig {
            config: self.clone(),
            signer,
        })
    }
}

/// Why a verified request was not handled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The body does not decode as the message (`400`).
    #[error("{0}")]
    Undecodable(String),
    /// The message breaks its schema, its headers are missing or wrong, or it cannot be told
    /// which message it is (`422`).
    #[error("{0}")]
    Invalid(String),
    /// The handler did not handle it (`422` for [`Reject::invalid`], `500` to retry for
    /// [`Reject::failed`]).
    #[error(transparent)]
    Handler(Reject),
}

/// A request whose signature and timestamp were verified and whose id was claimed: what a
/// [`Dispatch`] decodes and hands to the application.
#[derive(Debug, Clone, Copy)]
pub struct VerifiedRequest<'a> {
    /// The message id, when the request carried one.
    pub id: Option<&'a str>,
    /// The signed timestamp (Unix seconds), when the scheme has one.
    pub timestamp: Option<i64>,
    /// The `webhook-event` header (the message name a sender put there), when present.
    pub event: Option<&'a str>,
    /// The request's headers.
    pub headers: &'a HeaderMap,
    /// The body.
    pub body: &'a [u8],
}

impl VerifiedRequest<'_> {
    /// The webhook carrying `message`.
    pub fn webhook<M>(&self, message: M) -> Webhook<M> {
        Received {
            message,
            params: (),
            meta: Inbound {
                id: self.id.map(str::to_owned),
                timestamp: self.timestamp,
                headers: self.headers.clone(),
            },
        }
    }
}

/// One message type handled by one `Dispatch` of [`Webhook`]s, with an optional validator:
/// the [`Dispatch`] of [`Receiver::new`].
pub struct Single<M, H> {
    handler: H,
    validator: Option<Validator<M>>,
}

impl<'a, M, H> Dispatch<VerifiedRequest<'a>, Refusal> for Single<M, H>
where
    M: Message + Send + 'static,
    H: Dispatch<Webhook<M>>,
{
    async fn dispatch(&self, request: VerifiedRequest<'a>) -> Result<(), Refusal> {
        let message = M::decode(request.body).map_err(|e| Refusal::Undecodable(e.to_string()))?;
        if let Some(validate) = &self.validator {
            validate(&message).map_err(Refusal::Invalid)?;
        }
        self.handler
            .dispatch(request.webhook(message))
            .await
            .map_err(Refusal::Handler)
    }
}

/// Decodes `body` as `M` (`400` when it does not decode) and checks it against its schema
/// (`422` with the path of each violation).
pub fn decode_checked<M: Message>(body: &[u8], check: &SchemaCheck) -> Result<M, Refusal> {
    let message = M::decode(body).map_err(|e| Refusal::Undecodable(e.to_string()))?;
    let value = crate::endpoint::to_value(&message).map_err(|e| Refusal::Invalid(e.to_string()))?;
    check
        .check(&value)
        .map_err(|e| Refusal::Invalid(format!("invalid `{}` message: {e}", M::NAME)))?;
    Ok(message)
}

/// Which of an endpoint's messages (`candidates`: name and payload schema, in the order of the
/// specification) a request carries: the one its `webhook-event` header names; without the
/// header, or when it names none of them, the one message whose schema the payload fits.
/// A payload that fits none is `422` with each candidate's reasons; one that fits several is
/// `422` naming them (the sender should say which with `webhook-event`); a body that is not
/// JSON is `400`.
pub fn select(
    event: Option<&str>,
    body: &[u8],
    candidates: &[(&str, &SchemaCheck)],
) -> Result<usize, Refusal> {
    if let Some(i) = event.and_then(|e| candidates.iter().position(|(n, _)| *n == e)) {
        return Ok(i);
    }
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| Refusal::Undecodable(format!("not valid JSON: {e}")))?;
    let mut fits = Vec::new();
    let mut misses = Vec::new();
    for (i, (name, check)) in candidates.iter().enumerate() {
        match check.check(&value) {
            Ok(()) => fits.push(i),
            Err(e) => misses.push(format!("`{name}`: {e}")),
        }
    }
    let named = match event {
        Some(e) => format!("`webhook-event: {e}` names no message of this endpoint, and "),
        None => String::new(),
    };
    match fits.as_slice() {
        [one] => Ok(*one),
        [] => Err(Refusal::Invalid(format!(
            "{named}the payload matches none of its messages: {}",
            misses.join(" | ")
        ))),
        several => {
            let names: Vec<String> = several
                .iter()
                .map(|i| format!("`{}`", candidates[*i].0))
                .collect();
            Err(Refusal::Invalid(format!(
                "{named}the payload matches several messages ({}): send `webhook-event` with the message name",
                names.join(", ")
            )))
        }
    }
}

/// A message's typed headers from a request: the headers its schema declares (`names`, with
/// the JSON kind of each, looked up without regard to case) as an object, checked against the
/// headers schema (`check`), then deserialized. Headers that do not fit (a required one
/// missing, a value against its schema) are `422` with the header's name.
pub fn typed_headers<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    names: &[(&str, Scalar)],
    check: &SchemaCheck,
) -> Result<T, Refusal> {
    let mut object = serde_json::Map::new();
    for (name, kind) in names {
        if let Some(v) = headers.get(*name) {
            let text = String::from_utf8_lossy(v.as_bytes());
            object.insert((*name).to_owned(), scalar(&text, *kind));
        }
    }
    typed_part("headers", serde_json::Value::Object(object), check).map_err(Refusal::Invalid)
}

struct Inner<D> {
    name: &'static str,
    config: ReceiverConfig,
    signer: Signer,
    store: Arc<dyn IdempotencyStore>,
    dispatch: D,
}

/// A webhook endpoint handing verified requests to `D` (for one message type and its
/// handler: [`Receiver::new`]). Cheap to clone.
pub struct Receiver<D> {
    inner: Arc<Inner<D>>,
}

impl<D> Clone for Receiver<D> {
    fn clone(&self) -> Self {
        Receiver {
            inner: self.inner.clone(),
        }
    }
}

fn retry_later(message: impl std::fmt::Display) -> Response {
    let mut r = error_response(StatusCode::SERVICE_UNAVAILABLE, message);
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

impl<M, H> Receiver<Single<M, H>>
where
    M: Message + Send + 'static,
    H: Dispatch<Webhook<M>>,
{
    /// A receiver of messages `M` for `handler`, with the in-memory idempotency store.
    pub fn new(config: ReceiverConfig, handler: H) -> Result<Self, SecretError> {
        Ok(Receiver::with_dispatch(
            M::NAME,
            config.check()?,
            Single {
                handler,
                validator: None,
            },
        ))
    }

    /// Adds a validation step after decoding (for example the message's JSON Schema); a
    /// failure is answered 422 (call before cloning).
    pub fn with_validator(
        mut self,
        validator: impl Fn(&M) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        match self.inner_mut() {
            Some(inner) => inner.dispatch.validator = Some(Arc::new(validator)),
            None => tracing::warn!("with_validator called on a shared receiver; ignored"),
        }
        self
    }
}

impl<D: for<'a> Dispatch<VerifiedRequest<'a>, Refusal>> Receiver<D> {
    /// A receiver handing verified requests to `dispatch`, with the in-memory idempotency
    /// store. `name` is the endpoint's name in logs; it also keeps its ids apart from other
    /// endpoints' in a shared idempotency store.
    pub fn with_dispatch(name: &'static str, config: CheckedConfig, dispatch: D) -> Self {
        Receiver {
            inner: Arc::new(Inner {
                name,
                config: config.config,
                signer: config.signer,
                store: Arc::new(MemoryStore::default()),
                dispatch,
            }),
        }
    }

    fn inner_mut(&mut self) -> Option<&mut Inner<D>> {
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
            Err(_) => error_response(
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
        let name = inner.name;
        if body.len() > inner.config.max_body {
            return error_response(StatusCode::PAYLOAD_TOO_LARGE, "body too large");
        }
        let verified = match inner.signer.verify(headers, body, unix_now()) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(endpoint = name, error = %e, "webhook refused");
                return error_response(StatusCode::UNAUTHORIZED, e);
            }
        };
        let id = verified.id.clone().or_else(|| {
            headers
                .get(headers::IDEMPOTENCY_KEY)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        });
        let key = id.as_ref().map(|id| format!("{name}:{id}"));
        let token = match &key {
            None => None,
            Some(k) => match inner.store.claim(k, inner.config.lease).await {
                Ok(Claim::Claimed(t)) => Some(t),
                Ok(Claim::Done) => {
                    tracing::info!(endpoint = name, id = ?id, "duplicate webhook acknowledged");
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
        let request = VerifiedRequest {
            id: id.as_deref(),
            timestamp: verified.timestamp,
            event: headers
                .get(headers::WEBHOOK_EVENT)
                .and_then(|v| v.to_str().ok()),
            headers,
            body,
        };
        match inner.dispatch.dispatch(request).await {
            Ok(()) => {
                if let (Some(k), Some(t)) = claim
                    && let Err(e) = inner.store.complete(k, t, inner.config.remember).await
                {
                    // The handler succeeded: acknowledge anyway; a retry may run it again.
                    tracing::error!(error = %e, "cannot record handled webhook");
                }
                StatusCode::NO_CONTENT.into_response()
            }
            Err(refusal) => {
                self.release(claim, "refused").await;
                match refusal {
                    Refusal::Undecodable(m) => error_response(StatusCode::BAD_REQUEST, m),
                    Refusal::Invalid(m) => error_response(StatusCode::UNPROCESSABLE_ENTITY, m),
                    Refusal::Handler(e) => {
                        tracing::warn!(endpoint = name, id = ?id, error = %e, "webhook handler failed");
                        reject_response(&e)
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static A: SchemaCheck =
        SchemaCheck::new(r#"{"type":"object","required":["chargeId","amountCents"]}"#);
    static B: SchemaCheck =
        SchemaCheck::new(r#"{"type":"object","required":["chargeId","refundId"]}"#);

    fn invalid(r: Result<usize, Refusal>) -> String {
        match r {
            Err(Refusal::Invalid(why)) => why,
            other => panic!("expected 422, got {other:?}"),
        }
    }

    #[test]
    fn select_by_event_then_by_the_one_schema_that_fits() {
        let both = [("a", &A), ("b", &B)];
        let body = br#"{"chargeId":"c","refundId":"r","amountCents":1}"#;
        assert_eq!(select(Some("b"), body, &both), Ok(1));
        assert_eq!(
            select(None, br#"{"chargeId":"c","amountCents":1}"#, &both),
            Ok(0)
        );
        assert_eq!(
            select(Some("other"), br#"{"chargeId":"c","refundId":"r"}"#, &both),
            Ok(1)
        );
        let why = invalid(select(None, body, &both));
        assert!(why.contains("several messages (`a`, `b`)"), "{why}");
        let why = invalid(select(Some("x"), body, &both));
        assert!(
            why.starts_with("`webhook-event: x` names no message"),
            "{why}"
        );
        let why = invalid(select(None, br#"{"chargeId":"c"}"#, &both));
        assert!(why.contains("`a`: ") && why.contains("`b`: "), "{why}");
        assert!(matches!(
            select(None, b"\xff not json", &both),
            Err(Refusal::Undecodable(_))
        ));
        // A header naming a message decides without parsing the body.
        assert_eq!(select(Some("a"), b"not json", &both), Ok(0));
    }

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct H {
        #[serde(rename = "Idempotency-Key")]
        key: String,
        #[serde(rename = "X-Attempt", default)]
        attempt: Option<u32>,
    }

    static HEADERS: SchemaCheck = SchemaCheck::new(
        r#"{"type":"object","required":["Idempotency-Key"],"properties":{"Idempotency-Key":{"type":"string","minLength":4},"X-Attempt":{"type":"integer","minimum":1}}}"#,
    );

    #[test]
    fn typed_headers_follow_their_schema() {
        let names = [
            ("Idempotency-Key", Scalar::String),
            ("X-Attempt", Scalar::Integer),
        ];
        let mut h = HeaderMap::new();
        h.insert("idempotency-key", HeaderValue::from_static("1234"));
        h.insert("x-attempt", HeaderValue::from_static("2"));
        h.insert("x-other", HeaderValue::from_static("ignored"));
        let typed: H = typed_headers(&h, &names, &HEADERS).expect("typed");
        assert_eq!(
            typed,
            H {
                key: "1234".into(),
                attempt: Some(2)
            }
        );
        h.insert("x-attempt", HeaderValue::from_static("0"));
        let err = typed_headers::<H>(&h, &names, &HEADERS).expect_err("minimum");
        assert!(err.to_string().contains("/X-Attempt"), "{err}");
        h.remove("idempotency-key");
        h.remove("x-attempt");
        let err = typed_headers::<H>(&h, &names, &HEADERS).expect_err("required");
        assert!(err.to_string().contains("Idempotency-Key"), "{err}");
        // A value that is not UTF-8 is read lossily and judged by the schema, never a panic.
        h.insert(
            "idempotency-key",
            HeaderValue::from_bytes(b"ab\xffcd").expect("opaque bytes"),
        );
        let typed: H = typed_headers(&h, &names, &HEADERS).expect("lossy");
        assert_eq!(typed.key, "ab\u{fffd}cd");
    }
}
