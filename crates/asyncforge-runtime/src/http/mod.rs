//! HTTP channels (feature `http`): webhooks, callbacks, conditional requests, locks and long
//! polling. See `docs/protocols.md` ("HTTP") for how a specification asks for each.
//!
//! Sending webhooks:
//! - [`signature`] — Standard Webhooks (default), GitHub and Stripe signatures; signing,
//!   constant-time verification, timestamp tolerance, secret rotation.
//! - [`sender`] — [`Sender::deliver`](sender::Sender::deliver) / `enqueue` / `publish`: typed
//!   deliveries with retries and backoff, `Retry-After`, a dead-letter hook;
//!   [`outbox`] keeps them durable ([`FileOutbox`](outbox::FileOutbox)); [`ssrf`] guards the
//!   destinations at connection time.
//! - [`callbacks`] — subscriptions registered over HTTP, feeding the sender.
//!
//! Receiving webhooks:
//! - [`receiver`] — an axum endpoint that verifies, deduplicates ([`idempotency`]; Redis with
//!   feature `redis`), decodes and validates (payload and typed headers), then calls the typed
//!   handler; one endpoint can take several messages (by `webhook-event`, else by schema).
//!
//! Resources:
//! - [`resource`] — a versioned store served with `ETag`/`If-Match` (412), `If-None-Match`
//!   (304), `If-Unmodified-Since`, `428`, lock tokens ([`lock`]; 409/423), long polling
//!   (`Prefer: wait`) and schema-checked writes (422), keyed by one encoding of the path
//!   ([`crate::endpoint::encode_path`]); in this process, or shared by replicas in Postgres
//!   (`postgres_resource`, feature `postgres`: version rows, lock columns, `LISTEN`/`NOTIFY`).
//! - [`client`] — the client: conditional writes surfacing 412 as a conflict, read-modify-write,
//!   locks, and a poller.

pub mod callbacks;
pub mod client;
pub mod idempotency;
pub mod lock;
pub mod outbox;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "postgres")]
pub mod postgres_outbox;
#[cfg(feature = "postgres")]
pub mod postgres_resource;
#[cfg(feature = "postgres")]
pub mod postgres_store;
pub mod receiver;
#[cfg(feature = "redis")]
pub mod redis_store;
pub mod resource;
pub mod sender;
pub mod signature;
pub mod ssrf;

/// Why a generated server with HTTP endpoints could not be built: a configuration mistake,
/// reported by `Server::new` before anything is served.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A webhook endpoint's secrets are missing or malformed.
    #[error("`Config::{field}` (the webhook endpoint `{route}`): {source}")]
    Receiver {
        /// The configuration field.
        field: &'static str,
        /// The endpoint's route.
        route: &'static str,
        /// What is wrong with the secrets.
        #[source]
        source: signature::SecretError,
    },
    /// The webhook sender's HTTP client could not be built.
    #[error(transparent)]
    Sender(#[from] sender::SenderError),
}

impl From<ConfigError> for crate::error::Error {
    fn from(e: ConfigError) -> Self {
        use crate::error::ErrorKind;
        crate::error::Error::new(ErrorKind::Config, e)
    }
}

/// TLS for outgoing requests ([`crate::tls`]).
pub(crate) fn tls_config() -> Result<rustls::ClientConfig, String> {
    crate::tls::client_config()
}

/// A `reqwest` client builder with this module's TLS configuration.
pub fn client_builder() -> Result<reqwest::ClientBuilder, String> {
    Ok(reqwest::Client::builder().tls_backend_preconfigured(tls_config()?))
}
