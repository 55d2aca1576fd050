//! The client side of resource channels: conditional reads and writes (a `412` surfaces as
//! [`ClientError::Conflict`]), read-modify-write with retries, lock tokens, and a poller that
//! polls or long-polls for changes.

use std::marker::PhantomData;
use std::time::{Duration, SystemTime};

use axum::http::{HeaderMap, StatusCode, header};

use super::lock::LOCK_TOKEN;
use crate::backoff::{Backoff, Delays};
use crate::codec::CodecError;
use crate::etag::EntityTag;
use crate::message::Message;

/// Why a resource request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// `412`: the resource changed since it was read (optimistic locking conflict).
    #[error("conflict: the resource changed (current tag {current:?})")]
    Conflict {
        /// The resource's current tag, when the server sent it.
        current: Option<EntityTag>,
    },
    /// `428`: the server requires a precondition.
    #[error("the server requires a precondition (If-Match)")]
    PreconditionRequired,
    /// `409`/`423`: someone else holds the lock.
    #[error("locked by {holder} until {until}")]
    Locked {
        /// The holder.
        holder: String,
        /// Until when (HTTP date).
        until: String,
    },
    /// `404`.
    #[error("not found")]
    NotFound,
    /// Any other non-success status.
    #[error("HTTP {status}: {body}")]
    Status {
        /// The status.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// Transport error.
    #[error("request failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The payload could not be encoded or decoded.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// The response lacked something required (an `ETag`, a lock token).
    #[error("invalid response: {0}")]
    Invalid(String),
}

impl From<ClientError> for crate::error::Error {
    fn from(e: ClientError) -> Self {
        use crate::error::ErrorKind;
        let kind = match &e {
            ClientError::Conflict { .. }
            | ClientError::PreconditionRequired
            | ClientError::Locked { .. } => ErrorKind::Conflict,
            ClientError::NotFound => ErrorKind::NotFound,
            ClientError::Status { .. } => ErrorKind::Refused,
            ClientError::Http(e) if e.is_timeout() => ErrorKind::Timeout,
            ClientError::Http(_) => ErrorKind::Transport,
            ClientError::Codec(_) | ClientError::Invalid(_) => ErrorKind::Invalid,
        };
        crate::error::Error::new(kind, e)
    }
}

/// A representation read from the server.
#[derive(Debug, Clone)]
pub struct Fetched<M> {
    /// The value.
    pub value: M,
    /// Its entity tag.
    pub etag: Option<EntityTag>,
    /// Its `Last-Modified` date.
    pub last_modified: Option<SystemTime>,
}

/// Preconditions and lock token of a write.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// `If-Match` with this tag (optimistic locking).
    pub if_match: Option<EntityTag>,
    /// `If-Match: *`: only if the resource exists.
    pub if_exists: bool,
    /// `If-None-Match: *`: only if it does not exist (create).
    pub if_absent: bool,
    /// `If-Unmodified-Since` (one-second resolution: prefer `if_match`).
    pub if_unmodified_since: Option<SystemTime>,
    /// `Lock-Token` (pessimistic locking).
    pub lock_token: Option<String>,
}

impl WriteOptions {
    /// `If-Match: <tag>`.
    pub fn if_match(tag: EntityTag) -> Self {
        WriteOptions {
            if_match: Some(tag),
            ..WriteOptions::default()
        }
    }

    /// `Lock-Token: <token>`.
    pub fn with_lock(token: impl Into<String>) -> Self {
        WriteOptions {
            lock_token: Some(token.into()),
            ..WriteOptions::default()
        }
    }
}

/// A lock granted by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockGrant {
    /// The token to send with writes.
    pub token: String,
    /// Who holds it.
    pub holder: String,
    /// Until when (HTTP date).
    pub until: String,
}

/// A client for resources of type `M`. Cheap to clone.
pub struct ResourceClient<M> {
    http: reqwest::Client,
    _m: PhantomData<fn() -> M>,
}

impl<M> Clone for ResourceClient<M> {
    fn clone(&self) -> Self {
        ResourceClient {
            http: self.http.clone(),
            _m: PhantomData,
        }
    }
}

impl<M> std::fmt::Debug for ResourceClient<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceClient").finish_non_exhaustive()
    }
}

fn etag_of(h: &HeaderMap) -> Option<EntityTag> {
    h.get(header::ETAG)
        .and_then(|v| v.to_str().ok())
        .and_then(EntityTag::parse)
}

async fn failure(resp: reqwest::Response) -> ClientError {
    let status = resp.status();
    let current = etag_of(resp.headers());
    let text = resp.text().await.unwrap_or_default();
    match status {
        StatusCode::PRECONDITION_FAILED => ClientError::Conflict { current },
        StatusCode::PRECONDITION_REQUIRED => ClientError::PreconditionRequired,
        StatusCode::NOT_FOUND => ClientError::NotFound,
        StatusCode::CONFLICT | StatusCode::LOCKED => {
            let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            match (
                v.get("holder").and_then(|h| h.as_str()),
                v.get("until").and_then(|u| u.as_str()),
            ) {
                (Some(holder), Some(until)) => ClientError::Locked {
                    holder: holder.to_owned(),
                    until: until.to_owned(),
                },
                _ => ClientError::Status {
                    status: status.as_u16(),
                    body: text.chars().take(512).collect(),
                },
            }
        }
        _ => ClientError::Status {
            status: status.as_u16(),
            body: text.chars().take(512).collect(),
        },
    }
}

impl<M: Message> ResourceClient<M> {
    /// A client with its own connection pool (rustls, webpki roots).
    pub fn new() -> Result<Self, ClientError> {
        let http = super::client_builder()
            .map_err(ClientError::Invalid)?
            .build()?;
        Ok(ResourceClient::with_client(http))
    }

    /// A client on an existing `reqwest::Client` (share one pool between clients).
    pub fn with_client(http: reqwest::Client) -> Self {
        ResourceClient {
            http,
            _m: PhantomData,
        }
    }

    async fn fetched(resp: reqwest::Response) -> Result<Fetched<M>, ClientError> {
        let etag = etag_of(resp.headers());
        let last_modified = resp
            .headers()
            .get(header::LAST_MODIFIED)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok());
        let bytes = resp.bytes().await?;
        Ok(Fetched {
            value: M::decode(&bytes)?,
            etag,
            last_modified,
        })
    }

    /// Reads the resource.
    pub async fn get(&self, url: &str) -> Result<Fetched<M>, ClientError> {
        let resp = self.http.get(url).send().await?;
        if resp.status() != StatusCode::OK {
            return Err(failure(resp).await);
        }
        Self::fetched(resp).await
    }

    /// Reads the resource unless it still has tag `known` (`Ok(None)`: 304). With `wait`, asks
    /// the server to hold the request until it changes (`Prefer: wait`).
    pub async fn get_if_changed(
        &self,
        url: &str,
        known: Option<&EntityTag>,
        wait: Option<Duration>,
    ) -> Result<Option<Fetched<M>>, ClientError> {
        let mut req = self.http.get(url);
        if let Some(tag) = known {
            req = req.header(header::IF_NONE_MATCH, tag.to_string());
        }
        if let Some(w) = wait {
            // Leave the server time to answer after the wait.
            req = req
                .header("prefer", format!("wait={}", w.as_secs()))
                .timeout(w + Duration::from_secs(10));
        }
        let resp = req.send().await?;
        match resp.status() {
            StatusCode::NOT_MODIFIED => Ok(None),
            StatusCode::OK => Ok(Some(Self::fetched(resp).await?)),
            _ => Err(failure(resp).await),
        }
    }

    /// Writes `value`; returns the new tag.
    pub async fn put(
        &self,
        url: &str,
        value: &M,
        options: &WriteOptions,
    ) -> Result<Option<EntityTag>, ClientError> {
        let body = value.encode()?;
        let mut req = self
            .http
            .put(url)
            .header(
                header::CONTENT_TYPE,
                M::CONTENT_TYPE.unwrap_or("application/json"),
            )
            .body(body);
        req = apply(req, options);
        let resp = req.send().await?;
        if !resp.status().is_success() {
            return Err(failure(resp).await);
        }
        Ok(etag_of(resp.headers()))
    }

    /// Deletes the resource.
    pub async fn delete(&self, url: &str, options: &WriteOptions) -> Result<(), ClientError> {
        let resp = apply(self.http.delete(url), options).send().await?;
        if !resp.status().is_success() {
            return Err(failure(resp).await);
        }
        Ok(())
    }

    /// Read-modify-write with `If-Match`: reads, applies `f`, writes; on a conflict reads
    /// again and retries (at most `max_attempts` times, with a short jittered pause). Returns
    /// the new tag.
    pub async fn update(
        &self,
        url: &str,
        max_attempts: u32,
        mut f: impl FnMut(M) -> M,
    ) -> Result<Option<EntityTag>, ClientError> {
        let pause = Backoff {
            base: Duration::from_millis(2),
            max: Duration::from_millis(200),
            ..Backoff::default()
        };
        let mut delays = pause.delays();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let current = self.get(url).await?;
            let tag = current
                .etag
                .clone()
                .ok_or_else(|| ClientError::Invalid("no ETag on GET".into()))?;
            let next = f(current.value);
            match self.put(url, &next, &WriteOptions::if_match(tag)).await {
                Err(ClientError::Conflict { .. }) if attempt < max_attempts.max(1) => {
                    if let Some(d) = delays.next() {
                        tokio::time::sleep(d).await;
                    }
                }
                other => return other,
            }
        }
    }

    /// Acquires the lock of the resource at `url` (`POST <url>/lock`).
    pub async fn lock(
        &self,
        url: &str,
        holder: &str,
        ttl: Option<Duration>,
    ) -> Result<LockGrant, ClientError> {
        let mut body = serde_json::json!({ "holder": holder });
        if let Some(t) = ttl {
            body["ttlMs"] = serde_json::json!(t.as_millis() as u64);
        }
        let resp = self
            .http
            .post(format!("{}/lock", url.trim_end_matches('/')))
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await?;
        if resp.status() != StatusCode::CREATED {
            return Err(failure(resp).await);
        }
        let v: serde_json::Value = serde_json::from_slice(&resp.bytes().await?)
            .map_err(|e| ClientError::Invalid(e.to_string()))?;
        let field = |k: &str| {
            v.get(k)
                .and_then(|x| x.as_str())
                .map(str::to_owned)
                .ok_or_else(|| ClientError::Invalid(format!("lock response without `{k}`")))
        };
        Ok(LockGrant {
            token: field("token")?,
            holder: field("holder")?,
            until: field("until")?,
        })
    }

    /// Releases a lock (`DELETE <url>/lock`).
    pub async fn unlock(&self, url: &str, token: &str) -> Result<(), ClientError> {
        let resp = self
            .http
            .delete(format!("{}/lock", url.trim_end_matches('/')))
            .header(LOCK_TOKEN, format!("<{token}>"))
            .send()
            .await?;
        if !resp.status().is_success() {
            return Err(failure(resp).await);
        }
        Ok(())
    }

    /// A poller for the resource at `url`.
    pub fn poll(&self, url: impl Into<String>, config: PollConfig) -> Poller<M> {
        Poller {
            client: self.clone(),
            url: url.into(),
            errors: config.on_error.delays(),
            config,
            etag: None,
            first: true,
        }
    }
}

fn apply(mut req: reqwest::RequestBuilder, o: &WriteOptions) -> reqwest::RequestBuilder {
    if let Some(tag) = &o.if_match {
        req = req.header(header::IF_MATCH, tag.to_string());
    } else if o.if_exists {
        req = req.header(header::IF_MATCH, "*");
    }
    if o.if_absent {
        req = req.header(header::IF_NONE_MATCH, "*");
    }
    if let Some(t) = o.if_unmodified_since {
        req = req.header(header::IF_UNMODIFIED_SINCE, httpdate::fmt_http_date(t));
    }
    if let Some(t) = &o.lock_token {
        req = req.header(LOCK_TOKEN, format!("<{t}>"));
    }
    req
}

/// How a poller waits for changes.
#[derive(Debug, Clone, PartialEq)]
pub enum PollMode {
    /// Long polling: the server holds each request up to this long (`Prefer: wait`). The
    /// default, 25 s, stays under the 30 s idle timeout common in proxies.
    Long(Duration),
    /// Plain polling: a conditional GET every interval (default 5 s).
    Interval(Duration),
}

/// Settings of a poller.
#[derive(Debug, Clone)]
pub struct PollConfig {
    /// Long or plain polling.
    pub mode: PollMode,
    /// Delays after failed requests; the poller gives up (returns the error) when it ends.
    pub on_error: Backoff,
}

impl Default for PollConfig {
    fn default() -> Self {
        PollConfig {
            mode: PollMode::Long(Duration::from_secs(25)),
            on_error: Backoff {
                base: Duration::from_millis(500),
                max: Duration::from_secs(30),
                max_attempts: Some(10),
                ..Backoff::default()
            },
        }
    }
}

impl PollConfig {
    /// Plain polling every `interval`.
    pub fn interval(interval: Duration) -> Self {
        PollConfig {
            mode: PollMode::Interval(interval),
            ..PollConfig::default()
        }
    }

    /// Long polling with `wait` per request.
    pub fn long(wait: Duration) -> Self {
        PollConfig {
            mode: PollMode::Long(wait),
            ..PollConfig::default()
        }
    }
}

/// Yields each new version of a resource: the current one first, then every change it sees
/// (changes between two requests coalesce into the latest version).
#[derive(Debug)]
pub struct Poller<M> {
    client: ResourceClient<M>,
    url: String,
    config: PollConfig,
    errors: Delays,
    etag: Option<EntityTag>,
    first: bool,
}

impl<M: Message> Poller<M> {
    /// The tag of the last version returned.
    pub fn etag(&self) -> Option<&EntityTag> {
        self.etag.as_ref()
    }

    /// Waits for the next version. Transient errors are retried with the error backoff;
    /// `NotFound` and exhausted retries are returned.
    pub async fn next(&mut self) -> Result<Fetched<M>, ClientError> {
        loop {
            if let (PollMode::Interval(i), false) = (&self.config.mode, self.first) {
                tokio::time::sleep(*i).await;
            }
            let wait = match (&self.config.mode, self.first) {
                (_, true) => None,
                (PollMode::Long(w), false) => Some(*w),
                (PollMode::Interval(_), false) => None,
            };
            let result = self
                .client
                .get_if_changed(&self.url, self.etag.as_ref(), wait)
                .await;
            match result {
                Ok(Some(f)) => {
                    self.errors.reset();
                    self.first = false;
                    self.etag = f.etag.clone();
                    return Ok(f);
                }
                Ok(None) => {
                    self.errors.reset();
                    self.first = false;
                }
                Err(e @ (ClientError::NotFound | ClientError::Codec(_))) => return Err(e),
                Err(e) => match self.errors.next() {
                    Some(d) => {
                        tracing::warn!(url = %self.url, error = %e, "poll failed; retrying");
                        tokio::time::sleep(d).await;
                    }
                    None => return Err(e),
                },
            }
        }
    }
}
