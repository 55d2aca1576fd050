//! The WebSocket backplane (feature `ws`): what lets a WebSocket server run as several replicas
//! behind a load balancer. Each replica's [`Hub`](crate::ws::Hub) keeps its own connections;
//! the backplane carries, between replicas, the publishes to a channel address, the broadcasts
//! and the sends to one connection that another replica owns.
//!
//! Engines: Redis pub/sub (feature `redis`, `redis://` or `rediss://`) and NATS core subjects
//! (feature `nats`, `nats://`). Without a backplane ([`Backplane::in_process`], the default) a
//! hub is what it always was: in-process only, no task, no IO.
//!
//! How it works: every replica subscribes to `{prefix}.all` (publishes and broadcasts) and to
//! `{prefix}.to.{replica}` (sends to its own connections). A replica publishes through one
//! task and one engine connection, in the order of its callers, in batches when they come
//! faster than the engine answers; a publish is done when the engine has it (Redis answered
//! the `PUBLISH`, NATS a round trip after it), then the replica delivers it to its own
//! subscribers (in the same order) and ignores its echo. Each subscriber therefore gets a
//! publish once, and one replica's publishes in that replica's order. A publish the engine did
//! not confirm fails with [`BackplaneError`], never silently (after a timeout it may still have
//! reached the engine: the NATS client sends what it holds once it reconnects).
//!
//! Like any pub/sub, the engine keeps nothing for a replica that is not connected: what is
//! published while a replica's subscription is down does not reach that replica's
//! connections. The subscription's [`State`] says so, and the replica reconnects with
//! [`Backoff`].

use std::future::Future;
use std::pin::Pin;
#[cfg(feature = "ws")]
use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "ws")]
use futures_util::StreamExt;
#[cfg(feature = "ws")]
use futures_util::stream::BoxStream;
#[cfg(feature = "ws")]
use tokio::sync::{mpsc, oneshot, watch};

use crate::backoff::Backoff;
pub use crate::connection::State;
use crate::error::{Error, ErrorKind};
#[cfg(feature = "ws")]
use crate::frame::Frame;

#[cfg(feature = "sse")]
pub(crate) mod log;
#[cfg(all(feature = "sse", feature = "nats"))]
mod log_nats;
#[cfg(all(feature = "sse", feature = "redis"))]
mod log_redis;
#[cfg(feature = "nats")]
mod nats;
#[cfg(feature = "redis")]
mod redis;

/// Where a hub's publishes go beyond its own process: nowhere ([`Backplane::in_process`], the
/// default), or a Redis or NATS server ([`Backplane::from_url`]) shared by every replica.
#[derive(Debug, Clone, PartialEq)]
pub struct Backplane {
    url: Option<String>,
    prefix: String,
    backoff: Backoff,
    publish_timeout: Duration,
    /// Publishes waiting for the engine at once, at most.
    queue: usize,
}

impl Default for Backplane {
    fn default() -> Self {
        Backplane::in_process()
    }
}

impl Backplane {
    /// No backplane: publishes reach this process's connections only.
    pub fn in_process() -> Self {
        Backplane {
            url: None,
            prefix: "asyncforge".into(),
            backoff: Backoff {
                max: Duration::from_secs(5),
                ..Backoff::default()
            },
            publish_timeout: Duration::from_secs(5),
            queue: 1024,
        }
    }

    /// The backplane of the server at `url`: `redis://` or `rediss://` (feature `redis`),
    /// `nats://` (feature `nats`). An unknown scheme, or one whose feature is not built, is an
    /// [`ErrorKind::Config`] error.
    pub fn from_url(url: &str) -> Result<Self, Error> {
        let scheme = url.split_once("://").map(|(s, _)| s);
        let built = match scheme {
            Some("redis" | "rediss") => redis_built(),
            Some("nats") => nats_built(),
            _ => {
                return Err(BackplaneError::new(
                    Failure::Config,
                    format!("`{url}` is not a redis://, rediss:// or nats:// URL"),
                )
                .into());
            }
        };
        if !built {
            return Err(BackplaneError::new(
                Failure::Config,
                format!(
                    "this build has no {} backplane (cargo feature `{}`)",
                    scheme.unwrap_or_default(),
                    if scheme == Some("nats") {
                        "nats"
                    } else {
                        "redis"
                    }
                ),
            )
            .into());
        }
        Ok(Backplane {
            url: Some(url.to_owned()),
            ..Backplane::in_process()
        })
    }

    /// The namespace of the engine's channels (Redis) or subjects (NATS), `asyncforge` by
    /// default: replicas of one server share it, other servers on the same engine use their
    /// own. Letters, digits, `-`, `_` and `.` (not at either end).
    pub fn prefix(mut self, prefix: &str) -> Result<Self, Error> {
        let ok = !prefix.is_empty()
            && !prefix.starts_with('.')
            && !prefix.ends_with('.')
            && !prefix.contains("..")
            && prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !ok {
            return Err(BackplaneError::new(
                Failure::Config,
                format!("`{prefix}` cannot name backplane channels"),
            )
            .into());
        }
        self.prefix = prefix.to_owned();
        Ok(self)
    }

    /// How the subscription reconnects (by default up to 5 s between attempts, forever).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// How long a publish waits for the engine before it fails (5 s by default).
    pub fn publish_timeout(mut self, timeout: Duration) -> Self {
        self.publish_timeout = timeout;
        self
    }

    /// The engine's URL (`None`: in process).
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }
}

#[cfg(feature = "redis")]
fn redis_built() -> bool {
    true
}

#[cfg(not(feature = "redis"))]
fn redis_built() -> bool {
    false
}

#[cfg(feature = "nats")]
fn nats_built() -> bool {
    true
}

#[cfg(not(feature = "nats"))]
fn nats_built() -> bool {
    false
}

/// What kind of backplane failure a [`BackplaneError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The backplane setting cannot be used.
    Config,
    /// The engine is not reachable, or the connection failed.
    Unavailable,
    /// The engine did not answer in time.
    Timeout,
    /// The hub's backplane task is gone (the hub is shutting down).
    Closed,
}

/// Why the backplane did not take a publish or a send. Cloned to every caller of a batch the
/// engine refused, so it keeps the engine's error as text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("backplane: {detail}")]
pub struct BackplaneError {
    failure: Failure,
    detail: String,
}

impl BackplaneError {
    pub(crate) fn new(failure: Failure, detail: impl Into<String>) -> Self {
        BackplaneError {
            failure,
            detail: detail.into(),
        }
    }

    /// What kind of failure it is.
    pub fn failure(&self) -> Failure {
        self.failure
    }

    /// The kind of [`Error`] it is.
    pub(crate) fn kind(&self) -> ErrorKind {
        match self.failure {
            Failure::Config => ErrorKind::Config,
            Failure::Unavailable => ErrorKind::Transport,
            Failure::Timeout => ErrorKind::Timeout,
            Failure::Closed => ErrorKind::Closed,
        }
    }
}

impl From<BackplaneError> for Error {
    fn from(e: BackplaneError) -> Self {
        Error::new(e.kind(), e)
    }
}

#[cfg(feature = "ws")]
/// Something carried between replicas, as the hub hands it over and gets it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// To the subscribers of an address.
    Publish(String, Frame),
    /// To every connection.
    Broadcast(Frame),
    /// To one connection (its full id).
    Send(u64, Frame),
    /// A request to one connection (its full id) made on another replica: the connection's
    /// reply goes back as a [`Delivery::Reply`] to the ticket's replica (its high 32 bits).
    Request {
        /// The connection.
        conn: u64,
        /// The requester's ticket.
        ticket: u64,
        /// The request's correlation id, if it has one.
        correlation: Option<String>,
        /// The request.
        frame: Frame,
    },
    /// What answered a relayed request: the connection's reply, or `None` when the
    /// connection closed (or was gone) before replying.
    Reply {
        /// The requester's ticket.
        ticket: u64,
        /// The reply.
        frame: Option<Frame>,
    },
}

#[cfg(feature = "ws")]
/// What a replica's hub does with a delivery: hands it to its own connections, returning how
/// many got it queued.
pub(crate) type Deliver = Arc<dyn Fn(Delivery) -> usize + Send + Sync>;

#[cfg(feature = "ws")]
/// The wire form of a delivery: a fixed header, then the frame's bytes.
///
/// ```text
/// 0      version (1)
/// 1      kind: 0 publish, 1 broadcast, 2 send, 3 request, 4 reply, 5 closed before a reply
/// 2..10  the publishing replica (u64, big endian)
/// 10     frame: 0 text, 1 binary
/// publish: 11..13 address length (u16, big endian), the address (UTF-8)
/// send:    11..19 connection id (u64, big endian)
/// request: 11..19 connection id, 19..27 ticket, 27..29 correlation id length (0xffff:
///          none), the correlation id (UTF-8)
/// reply, closed: 11..19 ticket
/// then the frame's payload (none for closed)
/// ```
mod envelope {
    use super::{Delivery, Frame};

    const VERSION: u8 = 1;

    pub(crate) fn encode(origin: u64, delivery: &Delivery) -> Option<Vec<u8>> {
        const NONE: &Frame = &Frame::Binary(Vec::new());
        let (kind, frame) = match delivery {
            Delivery::Publish(_, f) => (0u8, f),
            Delivery::Broadcast(f) => (1, f),
            Delivery::Send(_, f) => (2, f),
            Delivery::Request { frame, .. } => (3, frame),
            Delivery::Reply {
                frame: Some(frame), ..
            } => (4, frame),
            Delivery::Reply { frame: None, .. } => (5, NONE),
        };
        let (text, payload) = match frame {
            Frame::Text(t) => (0u8, t.as_bytes()),
            Frame::Binary(b) => (1, b.as_slice()),
        };
        let mut out = Vec::with_capacity(32 + payload.len());
        out.push(VERSION);
        out.push(kind);
        out.extend_from_slice(&origin.to_be_bytes());
        out.push(text);
        match delivery {
            Delivery::Publish(address, _) => {
                let len = u16::try_from(address.len()).ok()?;
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(address.as_bytes());
            }
            Delivery::Send(conn, _) => out.extend_from_slice(&conn.to_be_bytes()),
            Delivery::Broadcast(_) => {}
            Delivery::Request {
                conn,
                ticket,
                correlation,
                ..
            } => {
                out.extend_from_slice(&conn.to_be_bytes());
                out.extend_from_slice(&ticket.to_be_bytes());
                match correlation {
                    Some(c) => {
                        let len = u16::try_from(c.len()).ok().filter(|l| *l != u16::MAX)?;
                        out.extend_from_slice(&len.to_be_bytes());
                        out.extend_from_slice(c.as_bytes());
                    }
                    None => out.extend_from_slice(&u16::MAX.to_be_bytes()),
                }
            }
            Delivery::Reply { ticket, .. } => out.extend_from_slice(&ticket.to_be_bytes()),
        }
        out.extend_from_slice(payload);
        Some(out)
    }

    /// The publishing replica and the delivery, or why the bytes are not an envelope.
    pub(crate) fn decode(bytes: &[u8]) -> Result<(u64, Delivery), &'static str> {
        let (&version, rest) = bytes.split_first().ok_or("empty")?;
        if version != VERSION {
            return Err("unknown version");
        }
        let (&kind, rest) = rest.split_first().ok_or("truncated")?;
        let (origin, rest) = split_u64(rest)?;
        let (&text, rest) = rest.split_first().ok_or("truncated")?;
        let frame = |payload: &[u8]| match text {
            0 => std::str::from_utf8(payload)
                .map(|t| Frame::Text(t.to_owned()))
                .map_err(|_| "text frame is not UTF-8"),
            1 => Ok(Frame::Binary(payload.to_vec())),
            _ => Err("unknown frame type"),
        };
        let delivery = match kind {
            0 => {
                let (len, rest) = rest.split_at_checked(2).ok_or("truncated")?;
                let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
                let (address, payload) = rest.split_at_checked(len).ok_or("truncated")?;
                let address = std::str::from_utf8(address).map_err(|_| "address is not UTF-8")?;
                Delivery::Publish(address.to_owned(), frame(payload)?)
            }
            1 => Delivery::Broadcast(frame(rest)?),
            2 => {
                let (conn, payload) = split_u64(rest)?;
                Delivery::Send(conn, frame(payload)?)
            }
            3 => {
                let (conn, rest) = split_u64(rest)?;
                let (ticket, rest) = split_u64(rest)?;
                let (len, rest) = rest.split_at_checked(2).ok_or("truncated")?;
                let (correlation, payload) = match u16::from_be_bytes([len[0], len[1]]) {
                    u16::MAX => (None, rest),
                    len => {
                        let (c, payload) =
                            rest.split_at_checked(usize::from(len)).ok_or("truncated")?;
                        let c =
                            std::str::from_utf8(c).map_err(|_| "correlation id is not UTF-8")?;
                        (Some(c.to_owned()), payload)
                    }
                };
                Delivery::Request {
                    conn,
                    ticket,
                    correlation,
                    frame: frame(payload)?,
                }
            }
            4 => {
                let (ticket, payload) = split_u64(rest)?;
                Delivery::Reply {
                    ticket,
                    frame: Some(frame(payload)?),
                }
            }
            5 => {
                let (ticket, _) = split_u64(rest)?;
                Delivery::Reply {
                    ticket,
                    frame: None,
                }
            }
            _ => return Err("unknown kind"),
        };
        Ok((origin, delivery))
    }

    fn split_u64(bytes: &[u8]) -> Result<(u64, &[u8]), &'static str> {
        let (head, rest) = bytes.split_first_chunk::<8>().ok_or("truncated")?;
        Ok((u64::from_be_bytes(*head), rest))
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

#[cfg(feature = "ws")]
/// One engine (Redis, NATS) as the backplane uses it.
trait Engine: Send + Sync + 'static {
    /// Publishes `(channel, bytes)` in order; `Ok` once the engine has all of them.
    fn publish<'a>(
        &'a self,
        batch: &'a [(String, Vec<u8>)],
    ) -> BoxFuture<'a, Result<(), BackplaneError>>;

    /// Subscribes to `channels`: `Ok` once the subscription is in place, with the messages
    /// received; the stream ends when the connection is lost.
    fn subscribe<'a>(
        &'a self,
        channels: &'a [String],
    ) -> BoxFuture<'a, Result<BoxStream<'static, Vec<u8>>, BackplaneError>>;
}

#[cfg(all(feature = "ws", feature = "redis"))]
fn redis_engine(url: &str) -> Result<Arc<dyn Engine>, BackplaneError> {
    Ok(Arc::new(redis::Redis::new(url)?))
}

#[cfg(all(feature = "ws", not(feature = "redis")))]
fn redis_engine(url: &str) -> Result<Arc<dyn Engine>, BackplaneError> {
    Err(BackplaneError::new(
        Failure::Config,
        format!("no redis backplane in this build for `{url}`"),
    ))
}

#[cfg(all(feature = "ws", feature = "nats"))]
fn nats_engine(url: &str) -> Result<Arc<dyn Engine>, BackplaneError> {
    Ok(Arc::new(nats::Nats::new(url)))
}

#[cfg(all(feature = "ws", not(feature = "nats")))]
fn nats_engine(url: &str) -> Result<Arc<dyn Engine>, BackplaneError> {
    Err(BackplaneError::new(
        Failure::Config,
        format!("no nats backplane in this build for `{url}`"),
    ))
}

#[cfg(feature = "ws")]
/// A publish or send waiting for the publishing task.
struct Job {
    channel: String,
    bytes: Vec<u8>,
    /// What to deliver to this replica's own connections once the engine has it.
    local: Option<Delivery>,
    done: oneshot::Sender<Result<usize, BackplaneError>>,
}

#[cfg(feature = "ws")]
/// Most publishes sent to the engine at once.
const BATCH: usize = 128;

#[cfg(feature = "ws")]
/// A hub's connection to its backplane: the publishing task's queue and the subscription's
/// state. Dropping it ends both tasks.
pub(crate) struct Link {
    replica: u64,
    prefix: String,
    queue: mpsc::Sender<Job>,
    state: watch::Receiver<State>,
    _stop: watch::Sender<()>,
}

#[cfg(feature = "ws")]
impl Link {
    /// Starts the backplane of the hub of `replica` (`None` for in process), handing what
    /// other replicas send to `deliver`. Must run inside a Tokio runtime; without one, the
    /// link is closed and every publish fails.
    pub(crate) fn start(config: &Backplane, replica: u64, deliver: Deliver) -> Option<Link> {
        let url = config.url.as_deref()?;
        let (queue, jobs) = mpsc::channel(config.queue.max(1));
        let (state_tx, state) = watch::channel(State::Connecting { attempt: 0 });
        let (stop, stopped) = watch::channel(());
        let link = Link {
            replica,
            prefix: config.prefix.clone(),
            queue,
            state,
            _stop: stop,
        };
        let engine = match url.split_once("://").map(|(s, _)| s) {
            Some("nats") => nats_engine(url),
            _ => redis_engine(url),
        };
        let engine = match engine {
            Ok(engine) => engine,
            Err(e) => {
                tracing::error!(error = %e, "backplane not started");
                state_tx.send_replace(State::Closed);
                return Some(link);
            }
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::error!("backplane not started: a hub with a backplane needs a Tokio runtime");
            state_tx.send_replace(State::Closed);
            return Some(link);
        };
        let channels = vec![all(&config.prefix), to(&config.prefix, replica)];
        runtime.spawn(subscribe(
            engine.clone(),
            channels,
            replica,
            deliver.clone(),
            config.backoff.clone(),
            state_tx,
            stopped,
        ));
        runtime.spawn(publish(engine, jobs, deliver, config.publish_timeout));
        Some(link)
    }

    /// The subscription's state.
    pub(crate) fn state(&self) -> State {
        self.state.borrow().clone()
    }

    /// Waits until the subscription is connected, or closed for good.
    pub(crate) async fn connected(&self) -> State {
        crate::connection::wait_for(self.state.clone(), |s| {
            matches!(s, State::Connected { .. } | State::Closed)
        })
        .await
    }

    /// Hands `delivery` to the engine: for every replica (a publish or broadcast, which this
    /// replica then delivers to its own connections, returning how many) or for the replica
    /// `owner` (a send). Done when the engine has it.
    pub(crate) async fn carry(
        &self,
        delivery: Delivery,
        owner: Option<u64>,
    ) -> Result<usize, BackplaneError> {
        let bytes = envelope::encode(self.replica, &delivery).ok_or_else(|| {
            BackplaneError::new(Failure::Config, "a channel address longer than 64 KiB")
        })?;
        let (channel, local) = match owner {
            Some(replica) => (to(&self.prefix, replica), None),
            None => (all(&self.prefix), Some(delivery)),
        };
        let (done, answer) = oneshot::channel();
        let closed = || BackplaneError::new(Failure::Closed, "the backplane task has stopped");
        self.queue
            .send(Job {
                channel,
                bytes,
                local,
                done,
            })
            .await
            .map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }
}

#[cfg(feature = "ws")]
fn all(prefix: &str) -> String {
    format!("{prefix}.all")
}

#[cfg(feature = "ws")]
fn to(prefix: &str, replica: u64) -> String {
    format!("{prefix}.to.{replica:x}")
}

#[cfg(feature = "ws")]
/// The publishing task: jobs in their callers' order, in batches of what is waiting, each
/// delivered locally (in the same order) once the engine has it.
async fn publish(
    engine: Arc<dyn Engine>,
    mut jobs: mpsc::Receiver<Job>,
    deliver: Deliver,
    timeout: Duration,
) {
    let mut batch: Vec<Job> = Vec::with_capacity(BATCH);
    while jobs.recv_many(&mut batch, BATCH).await > 0 {
        let wire: Vec<(String, Vec<u8>)> = batch
            .iter_mut()
            .map(|j| (std::mem::take(&mut j.channel), std::mem::take(&mut j.bytes)))
            .collect();
        let result = match tokio::time::timeout(timeout, engine.publish(&wire)).await {
            Ok(result) => result,
            Err(_) => Err(BackplaneError::new(
                Failure::Timeout,
                format!("no answer from the engine within {timeout:?}"),
            )),
        };
        if let Err(e) = &result {
            tracing::warn!(error = %e, publishes = batch.len(), "backplane publish failed");
        }
        for job in batch.drain(..) {
            let answer = match &result {
                Ok(()) => Ok(job.local.map_or(0, |d| deliver(d))),
                Err(e) => Err(e.clone()),
            };
            let _ = job.done.send(answer);
        }
    }
}

#[cfg(feature = "ws")]
/// The subscription task: subscribes, delivers what other replicas publish, and reconnects
/// with backoff when the connection is lost, until the hub is dropped.
async fn subscribe(
    engine: Arc<dyn Engine>,
    channels: Vec<String>,
    replica: u64,
    deliver: Deliver,
    backoff: Backoff,
    state: watch::Sender<State>,
    mut stopped: watch::Receiver<()>,
) {
    let run = async {
        let mut delays = backoff.delays();
        let mut generation = 0u64;
        loop {
            let attempt = delays.attempts();
            state.send_replace(State::Connecting { attempt });
            match engine.subscribe(&channels).await {
                Ok(mut messages) => {
                    delays.reset();
                    generation += 1;
                    state.send_replace(State::Connected { generation });
                    tracing::info!(generation, "backplane subscription connected");
                    while let Some(bytes) = messages.next().await {
                        match envelope::decode(&bytes) {
                            Ok((origin, _)) if origin == replica => {}
                            Ok((_, delivery)) => {
                                deliver(delivery);
                            }
                            Err(why) => {
                                tracing::warn!(
                                    why,
                                    len = bytes.len(),
                                    "malformed backplane message dropped"
                                )
                            }
                        }
                    }
                    tracing::warn!("backplane subscription lost; reconnecting");
                }
                Err(e) => tracing::warn!(error = %e, attempt, "backplane subscription failed"),
            }
            let Some(delay) = delays.next() else {
                tracing::error!("backplane subscription given up");
                return;
            };
            state.send_replace(State::Connecting {
                attempt: delays.attempts(),
            });
            tokio::time::sleep(delay).await;
        }
    };
    tokio::select! {
        () = run => {}
        _ = stopped.changed() => {}
    }
    state.send_replace(State::Closed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(feature = "ws")]
    fn envelopes_round_trip_and_hostile_bytes_are_refused() {
        let cases = [
            Delivery::Publish("rooms/1".into(), Frame::Text("héllo".into())),
            Delivery::Broadcast(Frame::Binary(vec![0, 255, 1])),
            Delivery::Send(u64::MAX - 3, Frame::Text(String::new())),
            Delivery::Publish(String::new(), Frame::Binary(Vec::new())),
            Delivery::Request {
                conn: 7,
                ticket: 9 << 32 | 1,
                correlation: Some("\"r-1\"".into()),
                frame: Frame::Text("{\"id\":\"r-1\"}".into()),
            },
            Delivery::Request {
                conn: 7,
                ticket: 2,
                correlation: None,
                frame: Frame::Binary(vec![1]),
            },
            Delivery::Reply {
                ticket: 3,
                frame: Some(Frame::Text("ok".into())),
            },
            Delivery::Reply {
                ticket: 4,
                frame: None,
            },
        ];
        for d in cases {
            let bytes = envelope::encode(42, &d).expect("encodes");
            assert_eq!(envelope::decode(&bytes), Ok((42, d.clone())));
            for cut in 0..bytes.len().min(20) {
                // A prefix either fails or decodes to something shorter; it never panics.
                if let Ok((_, got)) = envelope::decode(&bytes[..cut]) {
                    assert_ne!(got, d);
                }
            }
        }
        assert!(envelope::decode(&[]).is_err());
        assert!(envelope::decode(&[2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]).is_err());
        let mut bad_text =
            envelope::encode(1, &Delivery::Broadcast(Frame::Text("a".into()))).expect("encodes");
        if let Some(last) = bad_text.last_mut() {
            *last = 0xff;
        }
        assert_eq!(envelope::decode(&bad_text), Err("text frame is not UTF-8"));
        let long = Delivery::Publish("a".repeat(70_000), Frame::Text(String::new()));
        assert!(envelope::encode(1, &long).is_none());
    }

    #[test]
    fn urls_and_prefixes_are_checked() {
        assert!(Backplane::default().url().is_none());
        let e = Backplane::from_url("amqp://x").expect_err("unknown scheme");
        assert_eq!(e.kind(), ErrorKind::Config);
        assert_eq!(
            Backplane::from_url("redis://127.0.0.1").is_ok(),
            cfg!(feature = "redis")
        );
        assert_eq!(
            Backplane::from_url("nats://127.0.0.1").is_ok(),
            cfg!(feature = "nats")
        );
        let b = Backplane::in_process();
        assert!(b.clone().prefix("chat-1.prod").is_ok());
        for bad in ["", "a b", "a.*", ".a", "a.", "a..b", "a>"] {
            assert!(b.clone().prefix(bad).is_err(), "{bad}");
        }
    }
}
