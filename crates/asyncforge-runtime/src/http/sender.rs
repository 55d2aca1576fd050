//! The webhook sender: typed deliveries, signed per attempt, retried with backoff, kept in a
//! durable [`Outbox`] until they succeed or are dead-lettered.
//!
//! Every attempt is made under a claim on the delivery (see [`outbox`](super::outbox)), so
//! senders sharing one outbox — replicas of a service — never attempt a delivery at once, and
//! [`Sender::work`] on each of them picks up what a stopped sender left.
//!
//! Retried: timeouts, connection errors, `5xx`, `408` and `429` (a `Retry-After` in seconds or
//! as an HTTP date is honoured, capped by [`SenderConfig::max_retry_after`]); otherwise the
//! delay comes from [`Backoff`] (exponential, full jitter). Not retried: other `4xx`, `3xx`
//! (redirects are never followed), destinations the SSRF guard refuses. After the last
//! attempt — or at the first permanent failure — the delivery goes to the dead-letter hook and
//! is marked done. The webhook id stays the same across attempts (receivers deduplicate by
//! it); the timestamp and signature are those of each attempt, so a retry an hour later still
//! passes the receiver's tolerance window.
//!
//! A message's typed headers (`…_with_headers`) go out as HTTP headers with every attempt and
//! are kept in the outbox with the delivery; headers the sender writes itself (content type,
//! signature headers, `webhook-event`) cannot be set by a message.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use super::outbox::{Delivery, Lease, Outbox, OutboxError, now_ms};
use super::signature::{self, Scheme, Signer, unix_now};
use super::ssrf::{self, AddressPolicy, GuardedResolver, Refused};
use crate::backoff::Backoff;
use crate::codec::CodecError;
use crate::message::Message;

/// Where a webhook goes: URL, signing secrets (newest first) and scheme. Debug output hides
/// the secrets.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscriber {
    /// The subscriber's id (a subscription id, or any name).
    pub id: String,
    /// The endpoint.
    pub url: String,
    /// Signing secrets, newest first; with several, every one signs (secret rotation).
    pub secrets: Vec<String>,
    /// The signature scheme.
    #[serde(default)]
    pub scheme: Scheme,
}

impl fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscriber")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("secrets", &format_args!("[{} hidden]", self.secrets.len()))
            .field("scheme", &self.scheme)
            .finish()
    }
}

impl Subscriber {
    /// A Standard Webhooks subscriber with one secret.
    pub fn new(id: impl Into<String>, url: impl Into<String>, secret: impl Into<String>) -> Self {
        Subscriber {
            id: id.into(),
            url: url.into(),
            secrets: vec![secret.into()],
            scheme: Scheme::StandardWebhooks,
        }
    }
}

/// Timing, retries and destinations of a sender.
#[derive(Debug, Clone)]
pub struct SenderConfig {
    /// Delays between attempts; `max_attempts` is the number of retries after the first
    /// attempt (default 8 retries, 1 s growing to at most 1 h).
    pub backoff: Backoff,
    /// Time for one attempt, response headers included.
    pub timeout: Duration,
    /// Time to establish a connection.
    pub connect_timeout: Duration,
    /// Longest `Retry-After` honoured (longer ones are cut to this).
    pub max_retry_after: Duration,
    /// Which non-public addresses may be reached (none by default).
    pub addresses: AddressPolicy,
    /// Deliveries in flight at once (attempts, not queued deliveries).
    pub max_in_flight: usize,
    /// `User-Agent` of requests.
    pub user_agent: String,
    /// How long this sender's claim on a delivery holds: another sender sharing the outbox
    /// takes a delivery over only after it expired. At least `timeout` plus 2 s (a shorter one
    /// is raised to that), so an attempt ends before its claim does.
    pub lease: Duration,
}

impl Default for SenderConfig {
    fn default() -> Self {
        SenderConfig {
            backoff: Backoff {
                base: Duration::from_secs(1),
                max: Duration::from_secs(3600),
                factor: 2.0,
                max_attempts: Some(8),
                jitter: true,
            },
            timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(3600),
            addresses: AddressPolicy::public_only(),
            max_in_flight: 64,
            user_agent: concat!("asyncforge-webhooks/", env!("CARGO_PKG_VERSION")).to_owned(),
            lease: Duration::from_secs(60),
        }
    }
}

/// Why the last attempt of a delivery failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttemptError {
    /// The receiver answered with a status that is not 2xx.
    #[error("HTTP {0}")]
    Status(u16),
    /// The attempt timed out.
    #[error("timed out")]
    Timeout,
    /// The connection failed.
    #[error("connection failed: {0}")]
    Connect(String),
    /// The destination is refused by the SSRF guard.
    #[error(transparent)]
    Refused(#[from] Refused),
    /// The subscriber's URL or secrets are unusable.
    #[error("invalid subscriber: {0}")]
    Invalid(String),
    /// Any other transport error.
    #[error("request failed: {0}")]
    Other(String),
}

/// A delivery given up on, handed to the dead-letter hook.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    /// The delivery (payload, subscriber, attempts).
    pub delivery: Delivery,
    /// The last error.
    pub error: AttemptError,
}

/// A successful delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// The webhook id.
    pub id: String,
    /// The receiver's status.
    pub status: u16,
    /// Attempts it took (1: first time).
    pub attempts: u32,
}

/// Why `deliver` did not deliver.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The message could not be encoded.
    #[error(transparent)]
    Encode(#[from] CodecError),
    /// The outbox failed (the delivery may not be durable).
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    /// The delivery was dead-lettered.
    #[error("delivery {} dead-lettered after {} attempt(s): {}", .0.delivery.id, .0.delivery.attempts, .0.error)]
    DeadLettered(Box<DeadLetter>),
    /// The delivery is already being worked on by this sender.
    #[error("delivery {0} is already in progress")]
    InProgress(String),
    /// Another sender sharing the outbox holds the delivery (it took it over after this
    /// sender's claim expired, or it was finished there): it goes on there.
    #[error("delivery {0} is being worked on by another sender")]
    Elsewhere(String),
    /// A message header cannot be sent (not an object, a name or value HTTP does not allow,
    /// or a header the sender sets itself).
    #[error("message header: {0}")]
    Header(String),
}

impl From<DeliveryError> for crate::error::Error {
    fn from(e: DeliveryError) -> Self {
        use crate::error::ErrorKind;
        let kind = match &e {
            DeliveryError::Encode(_) | DeliveryError::Header(_) => ErrorKind::Invalid,
            DeliveryError::Outbox(OutboxError::Full(_)) => ErrorKind::Busy,
            DeliveryError::Outbox(_) => ErrorKind::Transport,
            DeliveryError::DeadLettered(_) => ErrorKind::Refused,
            DeliveryError::InProgress(_) | DeliveryError::Elsewhere(_) => ErrorKind::Busy,
        };
        crate::error::Error::new(kind, e)
    }
}

/// Why a sender could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SenderError {
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

impl From<SenderError> for crate::error::Error {
    fn from(e: SenderError) -> Self {
        use crate::error::ErrorKind;
        let kind = match &e {
            SenderError::Client(_) => ErrorKind::Config,
        };
        crate::error::Error::new(kind, e)
    }
}

type DeadLetterHook = Arc<dyn Fn(&DeadLetter) + Send + Sync>;

struct Inner {
    client: reqwest::Client,
    config: SenderConfig,
    outbox: Arc<dyn Outbox>,
    /// This sender's claims: its id and how long they hold.
    lease: Lease,
    dead_letter: Option<DeadLetterHook>,
    in_flight: Semaphore,
    running: Mutex<HashSet<String>>,
}

/// Sends webhooks. Cheap to clone; clones share the outbox and the in-flight limit.
#[derive(Clone)]
pub struct Sender {
    inner: Arc<Inner>,
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

enum Verdict {
    Success(u16),
    Retry(AttemptError, Option<Duration>),
    Fatal(AttemptError),
}

/// Builds the HTTP client: rustls with the webpki roots (ring provider), no proxy (a proxy
/// would resolve names out of the guard's sight), no redirects, names resolved through the
/// SSRF guard.
fn client(config: &SenderConfig) -> Result<reqwest::Client, SenderError> {
    super::client_builder()
        .map_err(SenderError::Client)?
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(GuardedResolver::new(config.addresses.clone())))
        .timeout(config.timeout)
        .connect_timeout(config.connect_timeout)
        .user_agent(config.user_agent.clone())
        .build()
        .map_err(|e| SenderError::Client(e.to_string()))
}

/// Parses `Retry-After`: delay-seconds or an HTTP date (RFC 9110 §10.2.3).
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::from_secs(v.parse::<u64>().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

impl Sender {
    /// A sender writing to `outbox`.
    pub fn new(config: SenderConfig, outbox: Arc<dyn Outbox>) -> Result<Sender, SenderError> {
        let client = client(&config)?;
        let lease = Lease {
            owner: format!("sender-{}", uuid::Uuid::new_v4().simple()),
            duration: config.lease.max(config.timeout + Duration::from_secs(2)),
        };
        Ok(Sender {
            inner: Arc::new(Inner {
                client,
                in_flight: Semaphore::new(config.max_in_flight.max(1)),
                config,
                outbox,
                lease,
                dead_letter: None,
                running: Mutex::new(HashSet::new()),
            }),
        })
    }

    /// Sets the hook called for every dead-lettered delivery (before it is marked done).
    /// Call before cloning the sender.
    pub fn with_dead_letter(mut self, hook: impl Fn(&DeadLetter) + Send + Sync + 'static) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.dead_letter = Some(Arc::new(hook));
        } else {
            tracing::warn!("with_dead_letter called on a shared sender; hook ignored");
        }
        self
    }

    /// The configuration.
    pub fn config(&self) -> &SenderConfig {
        &self.inner.config
    }

    /// Builds the delivery of `message` to `subscriber` (nothing is stored or sent).
    pub fn prepare<M: Message>(
        &self,
        subscriber: &Subscriber,
        message: &M,
    ) -> Result<Delivery, CodecError> {
        let body = message.encode()?;
        Ok(Delivery {
            id: format!("msg_{}", uuid::Uuid::new_v4().simple()),
            subscriber: subscriber.clone(),
            event: M::NAME.to_owned(),
            content_type: M::CONTENT_TYPE.unwrap_or("application/json").to_owned(),
            headers: Vec::new(),
            body,
            created_ms: now_ms(),
            attempts: 0,
            not_before_ms: None,
        })
    }

    /// Builds the delivery of `message` with its typed `headers` (every property one HTTP
    /// header, as the other transports write them; nothing is stored or sent).
    pub(crate) fn prepare_with_headers<M: Message, H: Serialize + ?Sized>(
        &self,
        subscriber: &Subscriber,
        message: &M,
        headers: Option<&H>,
    ) -> Result<Delivery, DeliveryError> {
        let mut delivery = self.prepare(subscriber, message)?;
        if let Some(h) = headers {
            delivery.headers = header_pairs(h)?;
        }
        Ok(delivery)
    }

    /// Stores the delivery of `message` to `subscriber` in the outbox, then attempts it until
    /// it is delivered or dead-lettered.
    pub async fn deliver<M: Message>(
        &self,
        subscriber: &Subscriber,
        message: &M,
    ) -> Result<Delivered, DeliveryError> {
        let delivery = self.prepare(subscriber, message)?;
        let claimed = self.store(&delivery).await?;
        self.run(delivery, claimed).await
    }

    /// [`Sender::deliver`] with the message's typed headers, sent with every attempt and kept
    /// in the outbox with the delivery.
    pub async fn deliver_with_headers<M: Message, H: Serialize + ?Sized>(
        &self,
        subscriber: &Subscriber,
        message: &M,
        headers: Option<&H>,
    ) -> Result<Delivered, DeliveryError> {
        let delivery = self.prepare_with_headers(subscriber, message, headers)?;
        let claimed = self.store(&delivery).await?;
        self.run(delivery, claimed).await
    }

    /// Stores the delivery of `message` to `subscriber` and returns its webhook id at once;
    /// the delivery proceeds on a background task (and resumes after a restart).
    pub async fn enqueue<M: Message>(
        &self,
        subscriber: &Subscriber,
        message: &M,
    ) -> Result<String, DeliveryError> {
        let delivery = self.prepare(subscriber, message)?;
        self.spawn(delivery).await
    }

    /// [`Sender::enqueue`] with the message's typed headers.
    pub async fn enqueue_with_headers<M: Message, H: Serialize + ?Sized>(
        &self,
        subscriber: &Subscriber,
        message: &M,
        headers: Option<&H>,
    ) -> Result<String, DeliveryError> {
        let delivery = self.prepare_with_headers(subscriber, message, headers)?;
        self.spawn(delivery).await
    }

    /// Stores `delivery` and runs it on a background task; returns its id.
    pub(crate) async fn spawn(&self, delivery: Delivery) -> Result<String, DeliveryError> {
        let id = delivery.id.clone();
        let claimed = self.store(&delivery).await?;
        let me = self.clone();
        tokio::spawn(async move {
            if let Err(e) = me.run(delivery, claimed).await {
                tracing::debug!(error = %e, "background delivery ended without success");
            }
        });
        Ok(id)
    }

    /// Stores `delivery` claimed by this sender; returns when the claim was taken.
    async fn store(&self, delivery: &Delivery) -> Result<Instant, OutboxError> {
        let claimed = Instant::now();
        self.inner
            .outbox
            .put(delivery, Some(&self.inner.lease))
            .await?;
        Ok(claimed)
    }

    /// Runs the pending deliveries of the outbox that no other sender holds (after a
    /// restart) to completion; returns their results.
    pub async fn resume(&self) -> Result<Vec<Result<Delivered, DeliveryError>>, OutboxError> {
        let pending = self.inner.outbox.pending().await?;
        let mut tasks = Vec::with_capacity(pending.len());
        for d in pending {
            let claimed = Instant::now();
            if let Some(d) = self.inner.outbox.claim(&d.id, &self.inner.lease).await? {
                let me = self.clone();
                tasks.push(tokio::spawn(async move { me.run(d, claimed).await }));
            }
        }
        tracing::info!(pending = tasks.len(), "resuming webhook deliveries");
        let mut out = Vec::with_capacity(tasks.len());
        for t in tasks {
            match t.await {
                Ok(r) => out.push(r),
                Err(e) => tracing::error!(error = %e, "delivery task failed"),
            }
        }
        Ok(out)
    }

    /// Keeps the outbox moving, for as long as the returned future is polled: every `every`,
    /// claims the deliveries that are due and held by no sender — stored by another sender,
    /// left by one that stopped or whose claim expired — and runs each on a task of its own,
    /// as many as `max_in_flight` allows. Run it on every sender sharing an outbox (replicas
    /// of a service); an outbox that fails is logged and asked again at the next tick.
    pub async fn work(&self, every: Duration) {
        let mut tick = tokio::time::interval(every.max(Duration::from_millis(1)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let busy = self.running().len();
            let room = self.inner.config.max_in_flight.max(1).saturating_sub(busy);
            if room == 0 {
                continue;
            }
            let claimed = Instant::now();
            match self.inner.outbox.claim_due(&self.inner.lease, room).await {
                Ok(due) => {
                    for d in due {
                        let me = self.clone();
                        tokio::spawn(async move {
                            if let Err(e) = me.run(d, claimed).await {
                                tracing::debug!(error = %e, "delivery ended without success");
                            }
                        });
                    }
                }
                Err(e) => tracing::warn!(error = %e, "outbox: cannot claim due deliveries"),
            }
        }
    }

    /// Pending deliveries in the outbox.
    pub async fn pending(&self) -> Result<Vec<Delivery>, OutboxError> {
        self.inner.outbox.pending().await
    }

    fn running(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.inner.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Claims `d` again unless this sender's claim (taken at `claimed`, if any) holds long
    /// enough for one more attempt; `false` when another sender holds the delivery now or it
    /// is no longer pending. A new claim brings the stored state (attempts) into `d`.
    async fn hold(
        &self,
        d: &mut Delivery,
        claimed: &mut Option<Instant>,
    ) -> Result<bool, OutboxError> {
        let lease = &self.inner.lease;
        let needed = self.inner.config.timeout + Duration::from_secs(1);
        if claimed.is_some_and(|at| at.elapsed() + needed < lease.duration) {
            return Ok(true);
        }
        let at = Instant::now();
        match self.inner.outbox.claim(&d.id, lease).await? {
            Some(stored) => {
                *d = stored;
                *claimed = Some(at);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Attempts a stored delivery, claimed by this sender at `claimed`, until it is
    /// delivered or dead-lettered, or another sender holds it. Every attempt is made under a
    /// claim: a failed attempt gives the claim up, the next one claims the delivery again.
    async fn run(&self, mut d: Delivery, claimed: Instant) -> Result<Delivered, DeliveryError> {
        let mut claimed = Some(claimed);
        if !self.running().insert(d.id.clone()) {
            return Err(DeliveryError::InProgress(d.id));
        }
        struct Unmark<'a>(&'a Sender, String);
        impl Drop for Unmark<'_> {
            fn drop(&mut self) {
                self.0.running().remove(&self.1);
            }
        }
        let _unmark = Unmark(self, d.id.clone());
        let cfg = &self.inner.config;
        loop {
            if let Some(nb) = d.not_before_ms {
                let wait = nb.saturating_sub(now_ms());
                if wait > 0 {
                    tokio::time::sleep(Duration::from_millis(wait as u64)).await;
                }
            }
            let verdict = {
                let _permit = self.inner.in_flight.acquire().await;
                if !self.hold(&mut d, &mut claimed).await? {
                    return Err(DeliveryError::Elsewhere(d.id));
                }
                self.attempt(&d).await
            };
            d.attempts += 1;
            match verdict {
                Verdict::Success(status) => {
                    tracing::info!(id = %d.id, subscriber = %d.subscriber.id, status,
                        attempts = d.attempts, "webhook delivered");
                    self.inner.outbox.done(&d.id).await?;
                    return Ok(Delivered {
                        id: d.id,
                        status,
                        attempts: d.attempts,
                    });
                }
                Verdict::Retry(error, retry_after) => {
                    // Retries left: `max_attempts` retries after the first attempt.
                    let retry = d.attempts - 1;
                    let delay = cfg.backoff.delays().nth(retry as usize);
                    let Some(delay) = delay else {
                        return Err(self.dead_letter(d, error).await);
                    };
                    let delay = match retry_after {
                        Some(ra) => ra.min(cfg.max_retry_after),
                        None => delay,
                    };
                    tracing::warn!(id = %d.id, subscriber = %d.subscriber.id, %error,
                        attempts = d.attempts, delay_ms = delay.as_millis() as u64,
                        "webhook attempt failed; retrying");
                    let not_before = now_ms().saturating_add(delay.as_millis() as i64);
                    d.not_before_ms = Some(not_before);
                    let owner = &self.inner.lease.owner;
                    if !self
                        .inner
                        .outbox
                        .attempt(&d.id, owner, d.attempts, not_before)
                        .await?
                    {
                        return Err(DeliveryError::Elsewhere(d.id));
                    }
                    // The claim is given up: the next attempt must take it again.
                    claimed = None;
                }
                Verdict::Fatal(error) => return Err(self.dead_letter(d, error).await),
            }
        }
    }

    async fn dead_letter(&self, delivery: Delivery, error: AttemptError) -> DeliveryError {
        tracing::error!(id = %delivery.id, subscriber = %delivery.subscriber.id, %error,
            attempts = delivery.attempts, "webhook dead-lettered");
        let dl = DeadLetter { delivery, error };
        if let Some(hook) = &self.inner.dead_letter {
            hook(&dl);
        }
        if let Err(e) = self.inner.outbox.done(&dl.delivery.id).await {
            return DeliveryError::Outbox(e);
        }
        DeliveryError::DeadLettered(Box::new(dl))
    }

    async fn attempt(&self, d: &Delivery) -> Verdict {
        let url = match reqwest::Url::parse(&d.subscriber.url) {
            Ok(u) => u,
            Err(e) => return Verdict::Fatal(AttemptError::Invalid(format!("URL: {e}"))),
        };
        if let Err(r) = ssrf::check_url_host(&url, &self.inner.config.addresses) {
            return Verdict::Fatal(AttemptError::Refused(r));
        }
        let signer = match Signer::new(d.subscriber.scheme, &d.subscriber.secrets) {
            Ok(s) => s,
            Err(e) => return Verdict::Fatal(AttemptError::Invalid(e.to_string())),
        };
        let mut headers = HeaderMap::new();
        for (name, value) in signer.sign(&d.id, unix_now(), &d.body) {
            headers.insert(name, value);
        }
        // The message's own headers (checked when the delivery was made; a record edited
        // since is checked again). An `Idempotency-Key` of the message's wins over the one
        // GitHub and Stripe styles derive from the webhook id.
        for (name, value) in &d.headers {
            match (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                (Ok(n), Ok(v)) if !RESERVED.contains(&n.as_str()) => {
                    headers.insert(n, v);
                }
                _ => {
                    return Verdict::Fatal(AttemptError::Invalid(format!(
                        "message header `{name}` cannot be sent"
                    )));
                }
            }
        }
        let request = self
            .inner
            .client
            .post(url)
            .headers(headers)
            .header(axum::http::header::CONTENT_TYPE, d.content_type.as_str())
            .header(signature::headers::WEBHOOK_EVENT, d.event.as_str())
            .body(d.body.clone());
        match request.send().await {
            Ok(resp) => {
                let status = resp.status();
                let retry_after = resp
                    .headers()
                    .get(axum::http::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, SystemTime::now()));
                classify_status(status, retry_after)
            }
            Err(e) => classify_error(&e),
        }
    }
}

/// Headers the sender writes itself: a message cannot set them.
const RESERVED: &[&str] = &[
    "content-type",
    "content-length",
    "host",
    "connection",
    "transfer-encoding",
    "user-agent",
    signature::headers::WEBHOOK_ID,
    signature::headers::WEBHOOK_TIMESTAMP,
    signature::headers::WEBHOOK_SIGNATURE,
    signature::headers::WEBHOOK_EVENT,
    signature::headers::HUB_SIGNATURE_256,
    signature::headers::GITHUB_DELIVERY,
    signature::headers::STRIPE_SIGNATURE,
];

/// A message's typed headers as HTTP header pairs, each checked to be sendable.
fn header_pairs<H: Serialize + ?Sized>(
    headers: &H,
) -> Result<Vec<(String, String)>, DeliveryError> {
    let pairs =
        crate::headers::to_pairs(headers).map_err(|e| DeliveryError::Header(e.to_string()))?;
    for (name, value) in &pairs {
        let parsed = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| DeliveryError::Header(format!("`{name}` is not a valid header name")))?;
        if RESERVED.contains(&parsed.as_str()) {
            return Err(DeliveryError::Header(format!(
                "`{name}` is set by the webhook sender"
            )));
        }
        HeaderValue::from_str(value).map_err(|_| {
            DeliveryError::Header(format!(
                "the value of `{name}` has characters a header cannot carry"
            ))
        })?;
    }
    Ok(pairs)
}

fn classify_status(status: StatusCode, retry_after: Option<Duration>) -> Verdict {
    let code = status.as_u16();
    if status.is_success() {
        Verdict::Success(code)
    } else if status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
    {
        Verdict::Retry(AttemptError::Status(code), retry_after)
    } else {
        Verdict::Fatal(AttemptError::Status(code))
    }
}

fn classify_error(e: &reqwest::Error) -> Verdict {
    if let Some(r) = ssrf::find_refusal(e) {
        return Verdict::Fatal(AttemptError::Refused(r.clone()));
    }
    if e.is_timeout() {
        Verdict::Retry(AttemptError::Timeout, None)
    } else if e.is_connect() {
        Verdict::Retry(AttemptError::Connect(chain(e)), None)
    } else if e.is_builder() {
        Verdict::Fatal(AttemptError::Invalid(chain(e)))
    } else {
        // Connection reset, incomplete response, …: transient.
        Verdict::Retry(AttemptError::Other(chain(e)), None)
    }
}

fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    let mut depth = 0;
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
        depth += 1;
        if depth > 8 {
            break;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }

    #[test]
    fn message_headers_are_checked_when_the_delivery_is_made() {
        let ok = header_pairs(&serde_json::json!({"Idempotency-Key": "k-1", "X-Attempt": 2}))
            .expect("pairs");
        assert_eq!(
            ok,
            vec![
                ("Idempotency-Key".to_owned(), "k-1".to_owned()),
                ("X-Attempt".to_owned(), "2".to_owned())
            ]
        );
        for bad in [
            serde_json::json!({"Webhook-Signature": "v1,forged"}),
            serde_json::json!({"content-type": "text/plain"}),
            serde_json::json!({"bad name": "x"}),
            serde_json::json!({"X-Line": "a\nb"}),
            serde_json::json!(["not", "an", "object"]),
        ] {
            assert!(
                matches!(header_pairs(&bad), Err(DeliveryError::Header(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn statuses() {
        let retry = |s: u16| {
            matches!(
                classify_status(StatusCode::from_u16(s).expect("status"), None),
                Verdict::Retry(..)
            )
        };
        let fatal = |s: u16| {
            matches!(
                classify_status(StatusCode::from_u16(s).expect("status"), None),
                Verdict::Fatal(..)
            )
        };
        for s in [500, 502, 503, 504, 408, 429] {
            assert!(retry(s), "{s}");
        }
        for s in [400, 401, 403, 404, 409, 410, 422, 301, 302] {
            assert!(fatal(s), "{s}");
        }
        assert!(matches!(
            classify_status(StatusCode::NO_CONTENT, None),
            Verdict::Success(204)
        ));
    }
}
