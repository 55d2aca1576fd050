//! Resource-like channels over HTTP: a versioned in-memory store with conditional requests
//! (optimistic locking), lock tokens (pessimistic locking) and long polling, and the axum
//! routes that serve it.
//!
//! - `GET` answers with a strong `ETag` and `Last-Modified`; `If-None-Match` (weak
//!   comparison) or, without it, `If-Modified-Since` → `304`.
//! - `GET` with `If-None-Match` and `Prefer: wait=N` (RFC 7240) holds the request until the
//!   resource changes or N seconds pass (capped by [`ResourceConfig::max_wait`]), then answers
//!   `200` or `304`, with `Preference-Applied: wait=N`.
//! - `PUT`/`DELETE` with `If-Match` (strong comparison; `*` = "exists") → `412` on mismatch;
//!   `If-None-Match: *` → create only; `If-Unmodified-Since` (only without `If-Match`) → `412`
//!   when modified after the date. `Last-Modified` has a resolution of **one second**: two
//!   writes within the same second look alike to `If-Unmodified-Since`, so a lost update is
//!   still possible with it — `If-Match` with the `ETag` is the strong option.
//! - [`ResourceConfig::require_precondition`] → `428` for writes with no precondition.
//! - A locked resource (see `lock`) takes writes only with its `Lock-Token`; others
//!   get `423 Locked` with `{"error", "holder", "until"}`. `POST <path>/lock` acquires
//!   (`201` with the token, or `409` with holder and until-when), `DELETE <path>/lock`
//!   releases.
//!
//! - A `PUT` body is checked against the store's schema ([`ResourceStore::with_schema`], the
//!   representation's JSON Schema in generated servers) before it is decoded: a violation is
//!   `422` with the path of each, a body that is not JSON `400`; an optional validator runs on
//!   the decoded value (`422`). Nothing refused is stored.
//!
//! Preconditions are evaluated and the write performed under one lock, so concurrent writers
//! with `If-Match` never lose an update.
//!
//! Keys: [`ResourceStore::router`] keys a request by its route filled with the request's
//! path parameters (decoded, then encoded as [`crate::endpoint::encode_path`] does), so every
//! spelling of a path (`%C3%BC` or `%c3%bc`, `~` or `%7E`) names one resource, and an
//! application that keys its own reads and writes with `encode_path` (as generated servers
//! do) sees what HTTP clients see.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, RawPathParams, Request};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::sync::{Semaphore, watch};

use super::lock::{self, Grant, Held, LockConfig, LockError, LockManager};
#[cfg(feature = "postgres")]
pub use super::postgres_resource::PostgresResources;
#[cfg(feature = "postgres")]
use super::postgres_resource::{LockRefusal, Stored};
use crate::codec::CodecError;
use crate::endpoint::{Incoming, is_json};
use crate::etag::{self, Condition, EntityTag, Outcome};
use crate::message::Message;
use crate::validate::SchemaCheck;

/// Limits and policy of a resource store.
#[derive(Debug, Clone)]
pub struct ResourceConfig {
    /// Answer `428 Precondition Required` to writes without `If-Match`, `If-None-Match` or
    /// `If-Unmodified-Since`.
    pub require_precondition: bool,
    /// Longest `Prefer: wait` honoured.
    pub max_wait: Duration,
    /// Requests waiting at once; beyond, requests are answered without waiting.
    pub max_waiters: usize,
    /// Most resources held in this process (a shared backend holds as many as its database).
    pub max_resources: usize,
    /// Largest body accepted on writes, in bytes.
    pub max_body: usize,
    /// Lock limits.
    pub locks: LockConfig,
}

impl Default for ResourceConfig {
    fn default() -> Self {
        ResourceConfig {
            require_precondition: false,
            max_wait: Duration::from_secs(60),
            max_waiters: 10_000,
            max_resources: 100_000,
            max_body: 1 << 20,
            locks: LockConfig::default(),
        }
    }
}

/// One version of a resource.
#[derive(Debug)]
pub struct Versioned<M> {
    /// The value.
    pub value: Arc<M>,
    /// Its encoded representation.
    pub body: Bytes,
    /// The strong entity tag of this version.
    pub etag: EntityTag,
    /// When it was written.
    pub last_modified: SystemTime,
}

impl<M> Clone for Versioned<M> {
    fn clone(&self) -> Self {
        Versioned {
            value: self.value.clone(),
            body: self.body.clone(),
            etag: self.etag.clone(),
            last_modified: self.last_modified,
        }
    }
}

/// Preconditions of a request (RFC 9110 §13.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preconditions {
    /// `If-Match`.
    pub if_match: Option<Condition>,
    /// `If-None-Match`.
    pub if_none_match: Option<Condition>,
    /// `If-Modified-Since` (ignored when `If-None-Match` is present).
    pub if_modified_since: Option<SystemTime>,
    /// `If-Unmodified-Since` (ignored when `If-Match` is present).
    pub if_unmodified_since: Option<SystemTime>,
}

/// A malformed precondition header (answered 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed `{0}` header")]
pub struct Malformed(pub &'static str);

impl Preconditions {
    /// Reads the precondition headers. Entity-tag lists must be well-formed; an invalid date
    /// is ignored, as RFC 9110 requires.
    pub fn from_headers(headers: &HeaderMap) -> Result<Preconditions, Malformed> {
        let cond = |name: &'static str| -> Result<Option<Condition>, Malformed> {
            let values: Vec<&str> = headers
                .get_all(name)
                .iter()
                .map(|v| v.to_str().map_err(|_| Malformed(name)))
                .collect::<Result<_, _>>()?;
            if values.is_empty() {
                return Ok(None);
            }
            Condition::parse(&values.join(", "))
                .map(Some)
                .ok_or(Malformed(name))
        };
        let date = |name: header::HeaderName| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| httpdate::parse_http_date(v).ok())
        };
        Ok(Preconditions {
            if_match: cond("if-match")?,
            if_none_match: cond("if-none-match")?,
            if_modified_since: date(header::IF_MODIFIED_SINCE),
            if_unmodified_since: date(header::IF_UNMODIFIED_SINCE),
        })
    }

    /// Whether a write states any precondition.
    pub(crate) fn guards_write(&self) -> bool {
        self.if_match.is_some()
            || self.if_none_match.is_some()
            || self.if_unmodified_since.is_some()
    }

    /// Evaluates against the current version, in the order of RFC 9110 §13.2.2.
    pub(crate) fn evaluate<M>(&self, safe: bool, current: Option<&Versioned<M>>) -> Outcome {
        let tag = current.map(|c| &c.etag);
        if self.if_match.is_none()
            && let Some(since) = self.if_unmodified_since
            && current.is_none_or(|c| secs(c.last_modified) > secs(since))
        {
            return Outcome::Failed;
        }
        let outcome = etag::evaluate(
            safe,
            tag,
            self.if_match.as_ref(),
            self.if_none_match.as_ref(),
        );
        if outcome != Outcome::Proceed {
            return outcome;
        }
        if safe
            && self.if_none_match.is_none()
            && let (Some(since), Some(c)) = (self.if_modified_since, current)
            && secs(c.last_modified) <= secs(since)
        {
            return Outcome::NotModified;
        }
        Outcome::Proceed
    }
}

/// Whole seconds since the epoch: the resolution of HTTP dates.
fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Why a write was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// `412`: a precondition failed; `current` is the resource's tag, if it exists.
    #[error("precondition failed")]
    PreconditionFailed {
        /// The current entity tag.
        current: Option<EntityTag>,
    },
    /// `428`: the store requires a precondition.
    #[error("a precondition (If-Match) is required")]
    PreconditionRequired,
    /// `423`: another holder has the resource locked.
    #[error("locked by {}", .0.holder)]
    Locked(Held),
    /// `404`: nothing to delete.
    #[error("not found")]
    NotFound,
    /// `507`: the store holds as many resources as it may.
    #[error("too many resources")]
    Full,
}

struct Slot<M> {
    current: Option<Versioned<M>>,
    changes: watch::Sender<u64>,
}

type Validator<M> = Arc<dyn Fn(&M) -> Result<(), String> + Send + Sync>;

/// Resources kept in this process.
struct Memory<M> {
    /// Distinguishes this store's tags from those of an earlier process.
    epoch: String,
    version: AtomicU64,
    slots: Mutex<HashMap<String, Slot<M>>>,
    locks: LockManager,
}

/// Where a store keeps its resources.
enum Backing<M> {
    Memory(Memory<M>),
    #[cfg(feature = "postgres")]
    Postgres {
        db: Arc<PostgresResources>,
        /// The store's name in the shared table.
        name: String,
    },
}

struct Inner<M> {
    config: ResourceConfig,
    schema: Option<&'static SchemaCheck>,
    validator: Option<Validator<M>>,
    waiters: Semaphore,
    backing: Backing<M>,
}

/// Where resource stores keep their resources, lock tokens and change notices: in this
/// process (the default), or in Postgres (feature `postgres`) so that the replicas of a
/// service share them. Cheap to clone.
#[derive(Clone, Default)]
pub struct ResourceBackend {
    #[cfg(feature = "postgres")]
    postgres: Option<Arc<PostgresResources>>,
}

impl std::fmt::Debug for ResourceBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        #[cfg(feature = "postgres")]
        if let Some(db) = &self.postgres {
            return f.debug_tuple("ResourceBackend").field(db).finish();
        }
        f.write_str("ResourceBackend(in process)")
    }
}

impl ResourceBackend {
    /// Each store keeps its resources in this process.
    pub fn in_process() -> Self {
        ResourceBackend::default()
    }

    /// Every store keeps its resources in one Postgres table (see
    /// [`PostgresResources::connect`]).
    #[cfg(feature = "postgres")]
    pub fn postgres(resources: PostgresResources) -> Self {
        ResourceBackend {
            postgres: Some(Arc::new(resources)),
        }
    }
}

#[cfg(feature = "postgres")]
impl From<PostgresResources> for ResourceBackend {
    fn from(resources: PostgresResources) -> Self {
        ResourceBackend::postgres(resources)
    }
}

/// A versioned store of resources of type `M`, keyed by path, in this process or shared
/// through a [`ResourceBackend`]. Cheap to clone.
pub struct ResourceStore<M> {
    inner: Arc<Inner<M>>,
    _m: PhantomData<fn() -> M>,
}

impl<M> Clone for ResourceStore<M> {
    fn clone(&self) -> Self {
        ResourceStore {
            inner: self.inner.clone(),
            _m: PhantomData,
        }
    }
}

fn json_error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    json(status, &serde_json::json!({ "error": message.to_string() }))
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

fn held_response(status: StatusCode, error: &str, held: &Held) -> Response {
    let mut r = json(
        status,
        &serde_json::json!({
            "error": error,
            "holder": held.holder,
            "until": httpdate::fmt_http_date(held.until),
            "untilUnixMs": held.until.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0),
        }),
    );
    if let Ok(v) = HeaderValue::from_str(&held.retry_after_secs().to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// `Prefer: wait=N` (RFC 7240 §4.3), in seconds; the smallest when repeated.
pub(crate) fn prefer_wait(headers: &HeaderMap) -> Option<u64> {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|pref| {
            let first = pref.split(';').next()?.trim();
            let (name, value) = first.split_once('=')?;
            if !name.trim().eq_ignore_ascii_case("wait") {
                return None;
            }
            value.trim().trim_matches('"').parse::<u64>().ok()
        })
        .min()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LockRequest {
    holder: String,
    #[serde(default)]
    ttl_ms: Option<u64>,
}

/// How often a conditional write on a shared backend is evaluated again when the resource
/// changed between reading it and writing it.
#[cfg(feature = "postgres")]
const WRITE_ROUNDS: usize = 16;

impl<M> ResourceStore<M>
where
    M: Message + Send + Sync + 'static,
{
    /// An empty store in this process.
    pub fn new(config: ResourceConfig) -> Self {
        let epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let memory = Memory {
            locks: LockManager::new(config.locks.clone()),
            epoch: format!(
                "{:x}",
                epoch ^ u64::from(std::process::id()).rotate_left(40)
            ),
            version: AtomicU64::new(0),
            slots: Mutex::new(HashMap::new()),
        };
        Self::with_backing(config, Backing::Memory(memory))
    }

    /// A store named `name` on `backend`: in this process, a store of its own (the name is
    /// not used); in a shared backend, the resources every store of that name on every
    /// replica sees.
    pub fn with_backend(config: ResourceConfig, backend: &ResourceBackend, name: &str) -> Self {
        #[cfg(feature = "postgres")]
        if let Some(db) = &backend.postgres {
            return Self::with_backing(
                config,
                Backing::Postgres {
                    db: db.clone(),
                    name: name.to_owned(),
                },
            );
        }
        let _ = (backend, name);
        Self::new(config)
    }

    fn with_backing(config: ResourceConfig, backing: Backing<M>) -> Self {
        ResourceStore {
            inner: Arc::new(Inner {
                waiters: Semaphore::new(config.max_waiters),
                config,
                schema: None,
                validator: None,
                backing,
            }),
            _m: PhantomData,
        }
    }

    /// Checks every JSON representation a client `PUT`s against `schema` before it is decoded:
    /// a body that breaks it is answered `422` with the path of each violation (`400` when it
    /// is not JSON at all), and nothing is stored. Call before cloning the store.
    pub fn with_schema(mut self, schema: &'static SchemaCheck) -> Self {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => inner.schema = Some(schema),
            None => tracing::warn!("with_schema called on a shared resource store; ignored"),
        }
        self
    }

    /// Adds a check of every representation a client `PUT`s, after decoding (for example its
    /// JSON Schema); a failure is answered `422` with the reason and nothing is stored. Call
    /// before cloning the store.
    pub fn with_validator(
        mut self,
        validator: impl Fn(&M) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => inner.validator = Some(Arc::new(validator)),
            None => tracing::warn!("with_validator called on a shared resource store; ignored"),
        }
        self
    }

    /// The configuration.
    pub fn config(&self) -> &ResourceConfig {
        &self.inner.config
    }

    /// How many resources the store holds.
    pub async fn len(&self) -> Result<usize, ResourceError> {
        match &self.inner.backing {
            Backing::Memory(m) => Ok(m.slots().values().filter(|s| s.current.is_some()).count()),
            #[cfg(feature = "postgres")]
            Backing::Postgres { db, name } => {
                db.count(name).await.map_err(ResourceError::Unavailable)
            }
        }
    }

    /// Whether the store holds no resource.
    pub async fn is_empty(&self) -> Result<bool, ResourceError> {
        Ok(self.len().await? == 0)
    }

    /// The current version of `key`.
    pub async fn get(&self, key: &str) -> Result<Option<Versioned<M>>, ResourceError> {
        match &self.inner.backing {
            Backing::Memory(m) => Ok(m.get(key)),
            #[cfg(feature = "postgres")]
            Backing::Postgres { db, name } => {
                let snapshot = db
                    .read(name, key)
                    .await
                    .map_err(ResourceError::Unavailable)?;
                snapshot.current.map(stored).transpose()
            }
        }
    }

    /// Writes `value` at `key` if the preconditions hold and the lock (if any) is the
    /// caller's. Returns the new version and whether it was created.
    pub async fn put(
        &self,
        key: &str,
        value: M,
        pre: &Preconditions,
        lock_token: Option<&str>,
    ) -> Result<(Versioned<M>, bool), ResourceError> {
        self.write(key, value, Some((pre, lock_token))).await
    }

    /// Writes `value` at `key` unconditionally: the application's own write, past any
    /// precondition requirement and lock. Clients see a new tag; long polls return.
    pub async fn set(&self, key: &str, value: M) -> Result<Versioned<M>, ResourceError> {
        self.write(key, value, None).await.map(|(v, _)| v)
    }

    async fn write(
        &self,
        key: &str,
        value: M,
        checks: Option<(&Preconditions, Option<&str>)>,
    ) -> Result<(Versioned<M>, bool), ResourceError> {
        let body = Bytes::from(value.encode().map_err(ResourceError::Encode)?);
        match &self.inner.backing {
            Backing::Memory(m) => {
                let lock_token = checks.and_then(|(_, t)| t);
                let check = |lock: Option<&Held>, current: Option<&Versioned<M>>| match checks {
                    Some((pre, _)) => self.checks(pre, lock, current),
                    None => Ok(()),
                };
                m.write(&self.inner.config, key, value, body, lock_token, check)
            }
            #[cfg(feature = "postgres")]
            Backing::Postgres { db, name } => {
                let value = Arc::new(value);
                let versioned = |(version, last_modified): (i64, SystemTime)| Versioned {
                    value: value.clone(),
                    body: body.clone(),
                    etag: version_tag(version),
                    last_modified,
                };
                let Some((pre, lock_token)) = checks else {
                    let written = db.set(name, key, &body).await;
                    return Ok((
                        versioned(written.map_err(ResourceError::Unavailable)?),
                        false,
                    ));
                };
                for _ in 0..WRITE_ROUNDS {
                    let version = self.checked_version(db, name, key, pre, lock_token).await?;
                    // A write with no precondition on the representation takes whatever
                    // version it finds; only its lock is checked again as it writes.
                    let expected = match version {
                        None => Some(None),
                        Some(_) if !pre.guards_write() => None,
                        Some(v) => Some(Some(v)),
                    };
                    let written = db
                        .write(name, key, &body, expected, lock_token)
                        .await
                        .map_err(ResourceError::Unavailable)?;
                    if let Some(w) = written {
                        return Ok((versioned(w), version.is_none()));
                    }
                }
                Err(ResourceError::Unavailable(
                    "the resource changed too often to be written".into(),
                ))
            }
        }
    }

    /// Reads `key` from a shared backend and checks a write to it as [`Self::checks`] does;
    /// the version the write may replace (`None`: there is none).
    #[cfg(feature = "postgres")]
    async fn checked_version(
        &self,
        db: &PostgresResources,
        name: &str,
        key: &str,
        pre: &Preconditions,
        lock_token: Option<&str>,
    ) -> Result<Option<i64>, ResourceError> {
        let snapshot = db
            .read(name, key)
            .await
            .map_err(ResourceError::Unavailable)?;
        let version = snapshot.current.as_ref().map(|c| c.version);
        let current = snapshot.current.map(stored).transpose()?;
        self.checks(
            pre,
            foreign(snapshot.lock.as_ref(), lock_token),
            current.as_ref(),
        )
        .map_err(ResourceError::Write)?;
        Ok(version)
    }

    /// Whether a write may proceed: the precondition requirement, a lock the writer does not
    /// hold, and the preconditions against the current version.
    fn checks(
        &self,
        pre: &Preconditions,
        lock: Option<&Held>,
        current: Option<&Versioned<M>>,
    ) -> Result<(), WriteError> {
        if self.inner.config.require_precondition && !pre.guards_write() {
            return Err(WriteError::PreconditionRequired);
        }
        if let Some(held) = lock {
            return Err(WriteError::Locked(held.clone()));
        }
        match pre.evaluate(false, current) {
            Outcome::Proceed => Ok(()),
            Outcome::NotModified | Outcome::Failed => Err(WriteError::PreconditionFailed {
                current: current.map(|c| c.etag.clone()),
            }),
        }
    }

    /// Deletes `key` under the same rules as [`ResourceStore::put`].
    pub async fn delete(
        &self,
        key: &str,
        pre: &Preconditions,
        lock_token: Option<&str>,
    ) -> Result<(), ResourceError> {
        match &self.inner.backing {
            Backing::Memory(m) => m.delete(key, lock_token, |lock, current| {
                self.checks(pre, lock, current)
            }),
            #[cfg(feature = "postgres")]
            Backing::Postgres { db, name } => {
                for _ in 0..WRITE_ROUNDS {
                    let version = self.checked_version(db, name, key, pre, lock_token).await?;
                    if version.is_none() {
                        return Err(ResourceError::Write(WriteError::NotFound));
                    }
                    let expected = if pre.guards_write() { version } else { None };
                    let deleted = db
                        .delete(name, key, expected, lock_token)
                        .await
                        .map_err(ResourceError::Unavailable)?;
                    if deleted {
                        return Ok(());
                    }
                }
                Err(ResourceError::Unavailable(
                    "the resource changed too often to be deleted".into(),
                ))
            }
        }
    }

    /// Waits until `key` no longer has the tag `known` (changed or deleted), at most
    /// `timeout`. Returns whether it changed.
    pub(crate) async fn wait_change(
        &self,
        key: &str,
        current: &Versioned<M>,
        timeout: Duration,
    ) -> bool {
        match &self.inner.backing {
            Backing::Memory(m) => m.wait_change(key, &current.etag, timeout).await,
            #[cfg(feature = "postgres")]
            Backing::Postgres { db, name } => match tag_version(&current.etag) {
                Some(v) => db.wait_change(name, key, v, timeout).await,
                None => true,
            },
        }
    }

    /// Locks `key` for `holder` for `ttl` (the configured default when `None`, cut to the
    /// configured maximum).
    pub(crate) async fn lock(
        &self,
        key: &str,
        holder: &str,
        ttl: Option<Duration>,
    ) -> Result<Grant, LockError> {
        match &self.inner.backing {
            Backing::Memory(m) => m.locks.acquire(key, holder, ttl),
            #[cfg(feature = "postgres")]
            Backing::Postgres { db, name } => {
                let ttl = self.inner.config.locks.ttl(ttl);
                refusal(db.acquire(name, key, holder, ttl).await)
            }
        }
    }

    /// Extends the lock held with `token`.
    pub(crate) async fn refresh_lock(
        &self,
        key: &str,
        token: &str,
        ttl: Option<Duration>,
    ) -> Result<Grant, LockError> {
        match &self.inner.backing {
            Backing::Memory(m) => m.locks.refresh(key, token, ttl),
            #[cfg(feature = "postgres")]
            Backing::Postgres { db, name } => {
                let ttl = self.inner.config.locks.ttl(ttl);
                refusal(db.refresh(name, key, token, ttl).await)
            }
        }
    }

    /// Releases the lock held with `token`.
    pub(crate) async fn unlock(&self, key: &str, token: &str) -> Result<(), LockError> {
        match &self.inner.backing {
            Backing::Memory(m) => m.locks.release(key, token),
            #[cfg(feature = "postgres")]
            Backing::Postgres { db, name } => refusal(db.release(name, key, token).await),
        }
    }

    fn representation(&self, v: &Versioned<M>, status: StatusCode, with_body: bool) -> Response {
        let mut r = if with_body {
            (status, v.body.clone()).into_response()
        } else {
            status.into_response()
        };
        let h = r.headers_mut();
        if with_body {
            let ct = M::CONTENT_TYPE.unwrap_or("application/json");
            if let Ok(ct) = HeaderValue::from_str(ct) {
                h.insert(header::CONTENT_TYPE, ct);
            }
        }
        if let Ok(tag) = HeaderValue::from_str(&v.etag.to_string()) {
            h.insert(header::ETAG, tag);
        }
        if let Ok(lm) = HeaderValue::from_str(&httpdate::fmt_http_date(v.last_modified)) {
            h.insert(header::LAST_MODIFIED, lm);
        }
        r
    }

    /// Answers a `GET` (or `HEAD`) of `key`, long-polling when asked to.
    pub(crate) async fn handle_get(&self, key: &str, headers: &HeaderMap) -> Response {
        let pre = match Preconditions::from_headers(headers) {
            Ok(p) => p,
            Err(e) => return json_error(StatusCode::BAD_REQUEST, e),
        };
        let mut applied = None;
        let mut current = match self.get(key).await {
            Ok(c) => c,
            Err(e) => return self.error_response(e),
        };
        let unchanged = |current: &Option<Versioned<M>>| {
            pre.if_none_match.is_some()
                && current
                    .as_ref()
                    .is_some_and(|c| pre.evaluate(true, Some(c)) == Outcome::NotModified)
        };
        if let Some(wait) = prefer_wait(headers)
            && unchanged(&current)
        {
            let wait = Duration::from_secs(wait).min(self.inner.config.max_wait);
            let deadline = tokio::time::Instant::now() + wait;
            match self.inner.waiters.try_acquire() {
                Ok(_permit) => {
                    applied = Some(wait.as_secs());
                    // A wake-up without a change (a notice about an earlier write, a
                    // listener that reconnected) waits again for the rest of the time.
                    while let Some(cur) = current.as_ref().filter(|_| unchanged(&current)) {
                        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                        if left.is_zero() {
                            break;
                        }
                        let woke = self.wait_change(key, cur, left).await;
                        current = match self.get(key).await {
                            Ok(c) => c,
                            Err(e) => return self.error_response(e),
                        };
                        if !woke {
                            break;
                        }
                    }
                }
                Err(_) => tracing::warn!("too many long-polling requests; answering now"),
            }
        }
        let mut r = match current {
            None => json_error(StatusCode::NOT_FOUND, "not found"),
            Some(cur) => match pre.evaluate(true, Some(&cur)) {
                Outcome::NotModified => self.representation(&cur, StatusCode::NOT_MODIFIED, false),
                Outcome::Failed => {
                    json_error(StatusCode::PRECONDITION_FAILED, "precondition failed")
                }
                Outcome::Proceed => self.representation(&cur, StatusCode::OK, true),
            },
        };
        if let Some(w) = applied
            && let Ok(v) = HeaderValue::from_str(&format!("wait={w}"))
        {
            r.headers_mut().insert("preference-applied", v);
        }
        r.headers_mut()
            .insert(header::VARY, HeaderValue::from_static("prefer"));
        r
    }

    fn error_response(&self, e: ResourceError) -> Response {
        match e {
            ResourceError::Write(e) => self.write_error(e),
            ResourceError::Encode(e) => json_error(StatusCode::INTERNAL_SERVER_ERROR, e),
            ResourceError::Corrupt(e) => json_error(StatusCode::INTERNAL_SERVER_ERROR, e),
            ResourceError::Unavailable(e) => {
                tracing::warn!(error = %e, "resources: store unavailable");
                let mut r = json_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "resource store unavailable",
                );
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                r
            }
        }
    }

    fn write_error(&self, e: WriteError) -> Response {
        match e {
            WriteError::PreconditionFailed { current } => {
                let mut r = json_error(StatusCode::PRECONDITION_FAILED, "precondition failed");
                if let Some(tag) = current.and_then(|t| HeaderValue::from_str(&t.to_string()).ok())
                {
                    r.headers_mut().insert(header::ETAG, tag);
                }
                r
            }
            WriteError::PreconditionRequired => json_error(
                StatusCode::PRECONDITION_REQUIRED,
                "this resource requires If-Match (or If-Unmodified-Since) on writes",
            ),
            WriteError::Locked(h) => held_response(StatusCode::LOCKED, "locked", &h),
            WriteError::NotFound => json_error(StatusCode::NOT_FOUND, "not found"),
            WriteError::Full => json_error(StatusCode::INSUFFICIENT_STORAGE, "too many resources"),
        }
    }

    /// Answers a `PUT` of `key` with `body`: `201`/`204` with the new `ETag`, or the error.
    pub(crate) async fn handle_put(&self, key: &str, headers: &HeaderMap, body: &[u8]) -> Response {
        let pre = match Preconditions::from_headers(headers) {
            Ok(p) => p,
            Err(e) => return json_error(StatusCode::BAD_REQUEST, e),
        };
        let value = match self.inner.schema {
            Some(check) => {
                let mut incoming = Incoming::new(body);
                match incoming.try_message::<M>(check) {
                    Some(v) => v,
                    None => {
                        // Not JSON, or (another content type) not decodable: 400.
                        let status = if !is_json(M::CONTENT_TYPE) || incoming.value().is_err() {
                            StatusCode::BAD_REQUEST
                        } else {
                            StatusCode::UNPROCESSABLE_ENTITY
                        };
                        return json_error(status, incoming.rejection());
                    }
                }
            }
            None => match M::decode(body) {
                Ok(v) => v,
                Err(e) => return json_error(StatusCode::BAD_REQUEST, e),
            },
        };
        if let Some(validate) = &self.inner.validator
            && let Err(e) = validate(&value)
        {
            return json_error(StatusCode::UNPROCESSABLE_ENTITY, e);
        }
        match self.put(key, value, &pre, lock_token(headers)).await {
            Ok((v, created)) => {
                let status = if created {
                    StatusCode::CREATED
                } else {
                    StatusCode::NO_CONTENT
                };
                self.representation(&v, status, false)
            }
            Err(e) => self.error_response(e),
        }
    }

    /// Answers a `DELETE` of `key`.
    pub(crate) async fn handle_delete(&self, key: &str, headers: &HeaderMap) -> Response {
        let pre = match Preconditions::from_headers(headers) {
            Ok(p) => p,
            Err(e) => return json_error(StatusCode::BAD_REQUEST, e),
        };
        match self.delete(key, &pre, lock_token(headers)).await {
            Ok(()) => StatusCode::NO_CONTENT.into_response(),
            Err(e) => self.error_response(e),
        }
    }

    /// Answers `POST <key>/lock` with `{"holder": "...", "ttlMs": 30000}`; a request that
    /// carries the current `Lock-Token` refreshes the lock.
    pub(crate) async fn handle_lock(
        &self,
        key: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Response {
        let req: LockRequest = match serde_json::from_slice(body) {
            Ok(r) => r,
            Err(e) => return json_error(StatusCode::BAD_REQUEST, e),
        };
        if req.holder.is_empty() || req.holder.len() > 256 {
            return json_error(
                StatusCode::BAD_REQUEST,
                "holder must have 1 to 256 characters",
            );
        }
        let ttl = req.ttl_ms.map(Duration::from_millis);
        let result = match lock_token(headers) {
            Some(t) => self.refresh_lock(key, t, ttl).await,
            None => self.lock(key, &req.holder, ttl).await,
        };
        match result {
            Ok(g) => {
                let mut r = json(
                    StatusCode::CREATED,
                    &serde_json::json!({
                        "token": g.token,
                        "holder": g.holder,
                        "until": httpdate::fmt_http_date(g.until),
                        "untilUnixMs": g.until.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0),
                        "ttlMs": g.ttl.as_millis() as u64,
                    }),
                );
                if let Ok(v) = HeaderValue::from_str(&format!("<{}>", g.token)) {
                    r.headers_mut().insert(lock::LOCK_TOKEN, v);
                }
                r
            }
            Err(LockError::Held(h)) => held_response(StatusCode::CONFLICT, "locked", &h),
            Err(LockError::NotLocked) => {
                json_error(StatusCode::CONFLICT, "the lock expired or was released")
            }
            Err(LockError::Full) => json_error(StatusCode::SERVICE_UNAVAILABLE, "too many locks"),
            Err(LockError::Unavailable(e)) => self.error_response(ResourceError::Unavailable(e)),
        }
    }

    /// Answers `DELETE <key>/lock` carrying the `Lock-Token`.
    pub(crate) async fn handle_unlock(&self, key: &str, headers: &HeaderMap) -> Response {
        let Some(token) = lock_token(headers) else {
            return json_error(StatusCode::BAD_REQUEST, "missing Lock-Token header");
        };
        match self.unlock(key, token).await {
            Ok(()) => StatusCode::NO_CONTENT.into_response(),
            Err(LockError::Held(h)) => {
                held_response(StatusCode::CONFLICT, "locked by another holder", &h)
            }
            Err(LockError::Unavailable(e)) => self.error_response(ResourceError::Unavailable(e)),
            Err(e) => json_error(StatusCode::CONFLICT, e),
        }
    }

    /// Routes for `path` (an axum path such as `/things/{id}`): `GET`/`HEAD`/`PUT`/`DELETE`
    /// on the path, `POST`/`DELETE` on `<path>/lock`. The key is `path` filled with the
    /// request's parameters by [`crate::endpoint::encode_path`].
    pub fn router<S: Clone + Send + Sync + 'static>(&self, path: &str) -> Router<S> {
        let template: Arc<str> = Arc::from(path);
        let me = self.clone();
        let lock_path = format!("{}/lock", path.trim_end_matches('/'));
        let lk = self.clone();
        let lock_template = template.clone();
        Router::new()
            .route(
                path,
                axum::routing::any(move |req: Request| {
                    let me = me.clone();
                    let template = template.clone();
                    async move { me.dispatch(&template, req, false).await }
                }),
            )
            .route(
                &lock_path,
                axum::routing::any(move |req: Request| {
                    let lk = lk.clone();
                    let template = lock_template.clone();
                    async move { lk.dispatch(&template, req, true).await }
                }),
            )
    }

    async fn dispatch(&self, template: &str, req: Request, lock: bool) -> Response {
        let (mut parts, body) = req.into_parts();
        let key = match RawPathParams::from_request_parts(&mut parts, &()).await {
            Ok(params) => {
                let params: Vec<(&str, &str)> = params.iter().collect();
                crate::endpoint::encode_path(template, &params)
            }
            Err(e) => return json_error(StatusCode::BAD_REQUEST, e.body_text()),
        };
        let read_body = |body: axum::body::Body| async move {
            axum::body::to_bytes(body, self.inner.config.max_body).await
        };
        match (lock, &parts.method) {
            (false, &Method::GET) | (false, &Method::HEAD) => {
                let mut r = self.handle_get(&key, &parts.headers).await;
                if parts.method == Method::HEAD {
                    *r.body_mut() = axum::body::Body::empty();
                }
                r
            }
            (false, &Method::PUT) => match read_body(body).await {
                Ok(b) => self.handle_put(&key, &parts.headers, &b).await,
                Err(_) => json_error(StatusCode::PAYLOAD_TOO_LARGE, "body too large"),
            },
            (false, &Method::DELETE) => self.handle_delete(&key, &parts.headers).await,
            (true, &Method::POST) => match read_body(body).await {
                Ok(b) => self.handle_lock(&key, &parts.headers, &b).await,
                Err(_) => json_error(StatusCode::PAYLOAD_TOO_LARGE, "body too large"),
            },
            (true, &Method::DELETE) => self.handle_unlock(&key, &parts.headers).await,
            _ => {
                let allow = if lock {
                    "POST, DELETE"
                } else {
                    "GET, HEAD, PUT, DELETE"
                };
                let mut r = json_error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
                r.headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static(allow));
                r
            }
        }
    }
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    /// A precondition, the lock, or a limit refused the write.
    #[error(transparent)]
    Write(WriteError),
    /// The value could not be encoded.
    #[error(transparent)]
    Encode(CodecError),
    /// A stored representation no longer decodes as the store's type.
    #[error("a stored resource is corrupt: {0}")]
    Corrupt(String),
    /// The shared backend could not be reached (`503`).
    #[error("the resource store is unavailable: {0}")]
    Unavailable(String),
}

impl From<ResourceError> for crate::error::Error {
    fn from(e: ResourceError) -> Self {
        use crate::error::ErrorKind;
        let kind = match &e {
            ResourceError::Write(WriteError::NotFound) => ErrorKind::NotFound,
            ResourceError::Write(WriteError::Full) => ErrorKind::Busy,
            ResourceError::Write(_) => ErrorKind::Conflict,
            ResourceError::Encode(_) | ResourceError::Corrupt(_) => ErrorKind::Invalid,
            ResourceError::Unavailable(_) => ErrorKind::Transport,
        };
        crate::error::Error::new(kind, e)
    }
}

impl<M> Memory<M> {
    fn slots(&self) -> MutexGuard<'_, HashMap<String, Slot<M>>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get(&self, key: &str) -> Option<Versioned<M>> {
        self.slots().get(key).and_then(|s| s.current.clone())
    }

    fn next_tag(&self) -> (u64, EntityTag) {
        let v = self.version.fetch_add(1, Ordering::Relaxed) + 1;
        (v, EntityTag::strong(format!("{}-{v}", self.epoch)))
    }

    /// The lock on `key`, unless `token` is its own.
    fn lock_of(&self, key: &str, token: Option<&str>) -> Option<Held> {
        match self.locks.check(key, token) {
            Err(LockError::Held(h)) => Some(h),
            _ => None,
        }
    }

    /// Preconditions are evaluated and the write made under the store's lock.
    fn write(
        &self,
        config: &ResourceConfig,
        key: &str,
        value: M,
        body: Bytes,
        lock_token: Option<&str>,
        check: impl FnOnce(Option<&Held>, Option<&Versioned<M>>) -> Result<(), WriteError>,
    ) -> Result<(Versioned<M>, bool), ResourceError> {
        let mut slots = self.slots();
        let current = slots.get(key).and_then(|s| s.current.as_ref());
        let lock = self.lock_of(key, lock_token);
        check(lock.as_ref(), current).map_err(ResourceError::Write)?;
        let created = current.is_none();
        if !slots.contains_key(key) && slots.len() >= config.max_resources {
            slots.retain(|_, s| s.current.is_some() || s.changes.receiver_count() > 0);
            if slots.len() >= config.max_resources {
                return Err(ResourceError::Write(WriteError::Full));
            }
        }
        let (version, etag) = self.next_tag();
        let v = Versioned {
            value: Arc::new(value),
            body,
            etag,
            last_modified: SystemTime::now(),
        };
        let slot = slots.entry(key.to_owned()).or_insert_with(|| Slot {
            current: None,
            changes: watch::channel(0).0,
        });
        slot.current = Some(v.clone());
        slot.changes.send_replace(version);
        Ok((v, created))
    }

    fn delete(
        &self,
        key: &str,
        lock_token: Option<&str>,
        check: impl FnOnce(Option<&Held>, Option<&Versioned<M>>) -> Result<(), WriteError>,
    ) -> Result<(), ResourceError> {
        let mut slots = self.slots();
        let current = slots.get(key).and_then(|s| s.current.as_ref());
        let lock = self.lock_of(key, lock_token);
        check(lock.as_ref(), current).map_err(ResourceError::Write)?;
        if current.is_none() {
            return Err(ResourceError::Write(WriteError::NotFound));
        }
        let (version, _) = self.next_tag();
        if let Some(slot) = slots.get_mut(key) {
            slot.current = None;
            slot.changes.send_replace(version);
            if slot.changes.receiver_count() == 0 {
                slots.remove(key);
            }
        }
        Ok(())
    }

    async fn wait_change(&self, key: &str, known: &EntityTag, timeout: Duration) -> bool {
        let mut rx = {
            let slots = self.slots();
            let Some(slot) = slots.get(key) else {
                return true;
            };
            if slot.current.as_ref().is_none_or(|c| !c.etag.weak_eq(known)) {
                return true;
            }
            slot.changes.subscribe()
        };
        matches!(
            tokio::time::timeout(timeout, rx.changed()).await,
            Ok(Ok(()) | Err(_))
        )
    }
}

/// The tag of a version in a shared backend.
#[cfg(feature = "postgres")]
fn version_tag(version: i64) -> EntityTag {
    EntityTag::strong(format!("v{version}"))
}

/// The version a shared backend's tag names.
#[cfg(feature = "postgres")]
fn tag_version(tag: &EntityTag) -> Option<i64> {
    tag.tag.strip_prefix('v')?.parse().ok()
}

/// A stored representation, decoded.
#[cfg(feature = "postgres")]
fn stored<M: Message>(s: Stored) -> Result<Versioned<M>, ResourceError> {
    let value = M::decode(&s.body).map_err(|e| ResourceError::Corrupt(e.to_string()))?;
    Ok(Versioned {
        value: Arc::new(value),
        body: Bytes::from(s.body),
        etag: version_tag(s.version),
        last_modified: s.modified,
    })
}

/// The lock of a shared backend's row, unless `token` is its own.
#[cfg(feature = "postgres")]
fn foreign<'a>(lock: Option<&'a (String, Held)>, token: Option<&str>) -> Option<&'a Held> {
    lock.filter(|(t, _)| token != Some(t.as_str()))
        .map(|(_, h)| h)
}

/// A shared backend's answer to a lock operation.
#[cfg(feature = "postgres")]
fn refusal<T>(r: Result<Result<T, LockRefusal>, String>) -> Result<T, LockError> {
    match r {
        Ok(Ok(t)) => Ok(t),
        Ok(Err(LockRefusal::Held(h))) => Err(LockError::Held(h)),
        Ok(Err(LockRefusal::NotLocked)) => Err(LockError::NotLocked),
        Err(e) => Err(LockError::Unavailable(e)),
    }
}

fn lock_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(lock::LOCK_TOKEN)
        .and_then(|v| v.to_str().ok())
        .map(lock::parse_token)
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefer_wait_forms() {
        let mut h = HeaderMap::new();
        assert_eq!(prefer_wait(&h), None);
        h.append("prefer", HeaderValue::from_static("respond-async, wait=10"));
        assert_eq!(prefer_wait(&h), Some(10));
        h.append("prefer", HeaderValue::from_static("wait=\"5\"; foo=bar"));
        assert_eq!(prefer_wait(&h), Some(5));
        let mut h = HeaderMap::new();
        h.insert(
            "prefer",
            HeaderValue::from_static("wait=soon, return=minimal"),
        );
        assert_eq!(prefer_wait(&h), None);
    }

    #[test]
    fn unmodified_since_has_one_second_resolution() {
        let t = UNIX_EPOCH + Duration::from_millis(10_500);
        let v = Versioned {
            value: Arc::new(()),
            body: Bytes::new(),
            etag: EntityTag::strong("1"),
            last_modified: t,
        };
        let at = |ms: u64| Preconditions {
            if_unmodified_since: Some(UNIX_EPOCH + Duration::from_millis(ms)),
            ..Preconditions::default()
        };
        assert_eq!(
            at(10_000).evaluate(false, Some(&v)),
            Outcome::Proceed,
            "same second"
        );
        assert_eq!(at(9_999).evaluate(false, Some(&v)), Outcome::Failed);
        assert_eq!(
            at(10_000).evaluate::<()>(false, None),
            Outcome::Failed,
            "no representation"
        );
        let ims = Preconditions {
            if_modified_since: Some(UNIX_EPOCH + Duration::from_secs(10)),
            ..Preconditions::default()
        };
        assert_eq!(ims.evaluate(true, Some(&v)), Outcome::NotModified);
        // If-Match wins over If-Unmodified-Since.
        let both = Preconditions {
            if_match: Condition::parse("\"1\""),
            ..at(0)
        };
        assert_eq!(both.evaluate(false, Some(&v)), Outcome::Proceed);
    }
}
