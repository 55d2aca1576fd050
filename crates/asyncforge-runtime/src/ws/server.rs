//! WebSocket server side (feature `ws`): a [`Hub`] of live connections and the per-connection
//! loop that generated servers mount on axum.
//!
//! What every connection gets, whatever the API:
//! - an Origin allow-list checked at the upgrade (cross-site WebSocket hijacking), and a limit
//!   on concurrent connections (503 beyond it);
//! - a maximum message size (close code 1009 beyond it);
//! - a bounded send queue with an explicit slow-consumer policy: disconnect (close 1008) or
//!   drop the message, counted in [`Hub::dropped`];
//! - ping/pong keepalive with dead-peer detection (close 1001 when no pong comes back);
//! - a handler error answered with an error frame `{"error": "..."}` (with the operation and
//!   correlation id of the request it answers, see [`Refusal`]); the connection stays up.
//!
//! Messages are sent to one connection ([`Hub::send`]), to every subscriber of a concrete
//! channel address such as `rooms/42` ([`Hub::publish`]), or to all ([`Hub::broadcast`]).
//! A hub made with a [`Backplane`] ([`Hub::with_backplane`]) does the same across the replicas
//! of a server sharing the backplane: a publish reaches the subscribers of every replica, a
//! send the connection whichever replica holds it.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::future::FusedFuture;
use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::sync::mpsc;

use crate::rpc::RequestError;

/// Close codes used by the hub (RFC 6455 §7.4.1).
pub mod close {
    /// Normal closure.
    pub const NORMAL: u16 = 1000;
    /// The server is going away, or the peer stopped answering pings.
    pub const GOING_AWAY: u16 = 1001;
    /// Policy violation (here: a consumer too slow for its send queue).
    pub const POLICY: u16 = 1008;
    /// A message larger than the limit.
    pub const TOO_BIG: u16 = 1009;
}

/// What to do when a connection's send queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlowConsumer {
    /// Close the connection with 1008: the client reconnects and resynchronizes.
    Disconnect,
    /// Drop the message and count it; the connection stays.
    DropMessage,
}

/// Limits and timing of a WebSocket server.
#[derive(Debug, Clone)]
pub struct WsConfig {
    /// Largest message accepted, in bytes.
    pub max_message_size: usize,
    /// Most concurrent connections.
    pub max_connections: usize,
    /// Origins allowed to connect (`None`: any, for non-browser clients).
    pub allowed_origins: Option<Vec<String>>,
    /// Messages queued per connection before the slow-consumer policy applies.
    pub send_queue: usize,
    /// The slow-consumer policy.
    pub slow_consumer: SlowConsumer,
    /// How often to ping.
    pub ping_interval: Duration,
    /// How long without any frame from the peer before it is considered dead.
    pub idle_timeout: Duration,
    /// Bytes read from the socket at a time. tungstenite zero-fills this much before every
    /// read attempt (also the attempts that find nothing to read), so its 128 KiB default
    /// costs more than the read itself for small messages; larger messages are read in several
    /// steps, one system call each: raise it when most messages are tens of KiB or more.
    pub read_buffer: usize,
}

impl Default for WsConfig {
    fn default() -> Self {
        WsConfig {
            max_message_size: 1 << 20,
            max_connections: 10_000,
            allowed_origins: None,
            send_queue: 256,
            slow_consumer: SlowConsumer::Disconnect,
            ping_interval: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
            read_buffer: READ_BUFFER,
        }
    }
}

/// Default of [`WsConfig::read_buffer`] (and of the client's): 8 KiB.
pub(crate) const READ_BUFFER: usize = 8 * 1024;

/// A connection's id, unique across the replicas of a server: the high 32 bits are its hub's
/// replica number (random), the low 32 bits count the hub's connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

pub use crate::backplane::{Backplane, BackplaneError, Failure, State};
use crate::backplane::{Delivery, Link};
pub use crate::frame::Frame;

enum Out {
    Frame(Frame),
    Close(u16, String),
}

struct Conn {
    tx: mpsc::Sender<Out>,
    addresses: HashSet<String>,
}

struct HubInner {
    config: WsConfig,
    conns: Mutex<HashMap<ConnId, Conn>>,
    next: AtomicU64,
    dropped: AtomicU64,
    /// This hub's replica number, in the high 32 bits (the low ones are zero).
    replica: u64,
    link: Option<Link>,
    /// Requests this hub made to other replicas' connections, by ticket.
    awaiting: Mutex<HashMap<u64, tokio::sync::oneshot::Sender<Option<Frame>>>>,
    /// Requests other replicas made to this hub's connections, by connection, oldest first.
    relays: Mutex<HashMap<ConnId, Vec<Relay>>>,
}

/// A request another replica made to one of this hub's connections: where its reply goes.
struct Relay {
    ticket: u64,
    correlation: Option<String>,
    until: Instant,
}

/// How long a relayed request waits for its connection's reply when the requester did not
/// say (its own timeout ends its wait anyway).
const RELAY_FOR: Duration = Duration::from_secs(300);

/// The live connections of a server. Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<HubInner>,
}

/// Why a message was not queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The connection is closed.
    #[error("connection {0:?} is closed")]
    Gone(ConnId),
    /// The connection's queue was full: it is being disconnected.
    #[error("connection {0:?} is too slow for its send queue; disconnecting it")]
    SlowConsumer(ConnId),
    /// The connection's queue was full: the message was dropped.
    #[error("the send queue of connection {0:?} is full; message dropped")]
    Dropped(ConnId),
    /// The message could not be encoded.
    #[error("the message could not be encoded: {0}")]
    Encode(String),
    /// The backplane did not confirm the message: other replicas may not have it (this
    /// replica's connections did not get it).
    #[error(transparent)]
    Backplane(#[from] BackplaneError),
    /// The connection is held by another replica, and what was sent needs one of this
    /// replica's (a request waiting for its reply: replies are not carried back).
    #[error("connection {0:?} is held by another replica")]
    Elsewhere(ConnId),
}

impl From<SendError> for crate::error::Error {
    fn from(e: SendError) -> Self {
        use crate::error::ErrorKind;
        let kind = match &e {
            SendError::Gone(_) => ErrorKind::Closed,
            SendError::SlowConsumer(_) | SendError::Dropped(_) => ErrorKind::Busy,
            SendError::Encode(_) => ErrorKind::Invalid,
            SendError::Backplane(b) => b.kind(),
            SendError::Elsewhere(_) => ErrorKind::NotFound,
        };
        crate::error::Error::new(kind, e)
    }
}

impl Hub {
    /// A hub with the given limits, for the connections of this process only.
    pub fn new(config: WsConfig) -> Self {
        Hub::with_backplane(config, &Backplane::in_process())
    }

    /// A hub with the given limits whose publishes and sends reach the other replicas sharing
    /// `backplane`. With an engine, call it inside a Tokio runtime: it starts the backplane's
    /// tasks (they end when the last clone of the hub is dropped).
    pub fn with_backplane(config: WsConfig, backplane: &Backplane) -> Self {
        let replica = replica_number() << 32;
        let inner = Arc::new_cyclic(|weak: &std::sync::Weak<HubInner>| {
            let weak = weak.clone();
            let deliver: crate::backplane::Deliver = Arc::new(move |delivery| {
                weak.upgrade()
                    .map_or(0, |inner| Hub { inner }.deliver_local(delivery))
            });
            HubInner {
                config,
                conns: Mutex::new(HashMap::new()),
                next: AtomicU64::new(1),
                dropped: AtomicU64::new(0),
                replica,
                link: Link::start(backplane, replica, deliver),
                awaiting: Mutex::default(),
                relays: Mutex::default(),
            }
        });
        Hub { inner }
    }

    /// This hub's replica number: the high 32 bits of its connections' ids (the low ones
    /// are zero).
    pub fn replica_id(&self) -> u64 {
        self.inner.replica
    }

    /// The state of the backplane's subscription (`None` without a backplane). While it is
    /// not [`State::Connected`], what other replicas publish does not reach this hub.
    pub fn backplane_state(&self) -> Option<State> {
        self.inner.link.as_ref().map(Link::state)
    }

    /// Waits until the backplane's subscription is connected (or closed for good) and returns
    /// its state; `None` at once without a backplane.
    pub async fn backplane_connected(&self) -> Option<State> {
        match &self.inner.link {
            Some(link) => Some(link.connected().await),
            None => None,
        }
    }

    /// The limits.
    pub fn config(&self) -> &WsConfig {
        &self.inner.config
    }

    fn conns(&self) -> MutexGuard<'_, HashMap<ConnId, Conn>> {
        // A panic while holding the lock cannot leave the map half-updated; keep serving.
        self.inner.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Number of open connections.
    pub fn connections(&self) -> usize {
        self.conns().len()
    }

    /// Messages dropped by the `DropMessage` policy so far.
    pub fn dropped(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed)
    }

    fn register(&self, tx: mpsc::Sender<Out>) -> ConnId {
        let n = self.inner.next.fetch_add(1, Ordering::Relaxed) & 0xffff_ffff;
        let id = ConnId(self.inner.replica | n);
        self.conns().insert(
            id,
            Conn {
                tx,
                addresses: HashSet::new(),
            },
        );
        id
    }

    fn unregister(&self, id: ConnId) {
        self.conns().remove(&id);
        let relays = lock(&self.inner.relays).remove(&id).unwrap_or_default();
        for relay in relays {
            self.answer(relay.ticket, None);
        }
    }

    /// Whether connection `id` is this hub's (and not another replica's).
    pub fn holds(&self, id: ConnId) -> bool {
        self.inner.link.is_none() || id.0 & !0xffff_ffff == self.inner.replica
    }

    /// Sends a request to a connection another replica holds, through the backplane, and
    /// waits at most `timeout` for the frame the connection answers with, which that
    /// replica's dispatcher hands back with [`Hub::relay_reply`]. `correlation` is the
    /// request's correlation id (replies are matched in order without one). The connection
    /// closing first is [`RequestError::Closed`]; a replica that is gone, or a connection
    /// that never answers, [`RequestError::Timeout`].
    pub async fn request_elsewhere(
        &self,
        id: ConnId,
        frame: Frame,
        correlation: Option<&str>,
        timeout: Duration,
    ) -> Result<Frame, RequestError> {
        let Some(link) = &self.inner.link else {
            return Err(RequestError::Send(SendError::Gone(id).to_string()));
        };
        let ticket =
            self.inner.replica | (self.inner.next.fetch_add(1, Ordering::Relaxed) & 0xffff_ffff);
        let (tx, rx) = tokio::sync::oneshot::channel();
        lock(&self.inner.awaiting).insert(ticket, tx);
        let request = Delivery::Request {
            conn: id.0,
            ticket,
            correlation: correlation.map(str::to_owned),
            frame,
        };
        let owner = id.0 & !0xffff_ffff;
        let outcome = match link.carry(request, Some(owner)).await {
            Ok(_) => match tokio::time::timeout(timeout, rx).await {
                Ok(Ok(Some(reply))) => Ok(reply),
                Ok(Ok(None)) => Err(RequestError::Closed),
                Ok(Err(_)) | Err(_) => Err(RequestError::Timeout(timeout)),
            },
            Err(e) => Err(RequestError::Send(e.to_string())),
        };
        lock(&self.inner.awaiting).remove(&ticket);
        outcome
    }

    /// Hands `frame`, which connection `id` of this hub sent and no request of this replica
    /// awaits, to the replica whose request it answers: the oldest relayed request with the
    /// same correlation id (or, without one, the oldest without one). Whether there was one.
    pub async fn relay_reply(&self, id: ConnId, correlation: Option<&str>, frame: &Frame) -> bool {
        let ticket = {
            let mut relays = lock(&self.inner.relays);
            let Some(list) = relays.get_mut(&id) else {
                return false;
            };
            let now = Instant::now();
            list.retain(|r| r.until > now);
            let found = list
                .iter()
                .position(|r| r.correlation.as_deref() == correlation)
                .map(|i| list.remove(i).ticket);
            if list.is_empty() {
                relays.remove(&id);
            }
            found
        };
        match ticket {
            Some(ticket) => {
                self.answer(ticket, Some(frame.clone()));
                true
            }
            None => false,
        }
    }

    /// Sends the answer of a relayed request back to the replica that made it.
    fn answer(&self, ticket: u64, frame: Option<Frame>) {
        if self.inner.link.is_none() {
            return;
        }
        let hub = self.clone();
        let requester = ticket & !0xffff_ffff;
        tokio::spawn(async move {
            if let Some(link) = &hub.inner.link
                && let Err(e) = link
                    .carry(Delivery::Reply { ticket, frame }, Some(requester))
                    .await
            {
                tracing::warn!(error = %e, "a relayed reply was not carried back");
            }
        });
    }

    fn enqueue(&self, id: ConnId, out: Out) -> Result<(), SendError> {
        let mut conns = self.conns();
        let Some(conn) = conns.get(&id) else {
            return Err(SendError::Gone(id));
        };
        // From the connection's own handler: queued beside the channel (see `OwnQueue`).
        let out = match OwnQueue::push(
            Arc::as_ptr(&self.inner) as usize,
            id,
            out,
            self.inner.config.send_queue.max(1),
        ) {
            None => return Ok(()),
            Some(Ok(out)) => out,
            Some(Err(_)) => return self.full(&mut conns, id),
        };
        match conn.tx.try_send(out) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Closed(_)) => {
                conns.remove(&id);
                Err(SendError::Gone(id))
            }
            Err(mpsc::error::TrySendError::Full(_)) => self.full(&mut conns, id),
        }
    }

    /// Applies the slow-consumer policy to a connection whose queue is full.
    fn full(&self, conns: &mut HashMap<ConnId, Conn>, id: ConnId) -> Result<(), SendError> {
        match self.inner.config.slow_consumer {
            SlowConsumer::DropMessage => {
                self.inner.dropped.fetch_add(1, Ordering::Relaxed);
                Err(SendError::Dropped(id))
            }
            SlowConsumer::Disconnect => {
                // Dropping the sender ends the writer, which closes the socket.
                conns.remove(&id);
                tracing::warn!(conn = id.0, "slow consumer disconnected");
                Err(SendError::SlowConsumer(id))
            }
        }
    }

    /// Sends a frame to one connection. A connection of another replica is reached through
    /// the backplane: done when the engine has the frame (whether that replica still has the
    /// connection is not known here).
    pub async fn send(&self, id: ConnId, frame: Frame) -> Result<(), SendError> {
        let owner = id.0 & !0xffff_ffff;
        match &self.inner.link {
            Some(link) if owner != self.inner.replica => {
                link.carry(Delivery::Send(id.0, frame), Some(owner)).await?;
                Ok(())
            }
            _ => self.send_local(id, frame),
        }
    }

    /// Sends a frame to one connection of this hub, at once: what a request waiting for its
    /// reply is sent with (the reply comes back to the replica holding the connection).
    pub fn send_local(&self, id: ConnId, frame: Frame) -> Result<(), SendError> {
        if self.inner.link.is_some() && id.0 & !0xffff_ffff != self.inner.replica {
            return Err(SendError::Elsewhere(id));
        }
        self.enqueue(id, Out::Frame(frame))
    }

    /// Closes a connection of this hub with a code and a reason.
    pub fn close(&self, id: ConnId, code: u16, reason: impl Into<String>) {
        let _ = self.enqueue(id, Out::Close(code, reason.into()));
    }

    /// Closes every connection (graceful shutdown: clients see the close code and reconnect
    /// elsewhere or later).
    pub fn close_all(&self, code: u16, reason: &str) {
        for id in self.ids(None) {
            self.close(id, code, reason);
        }
    }

    /// Subscribes a connection to a concrete channel address (`rooms/42`).
    pub fn subscribe(&self, id: ConnId, address: impl Into<String>) {
        if let Some(c) = self.conns().get_mut(&id) {
            c.addresses.insert(address.into());
        }
    }

    /// Removes a subscription.
    pub fn unsubscribe(&self, id: ConnId, address: &str) {
        if let Some(c) = self.conns().get_mut(&id) {
            c.addresses.remove(address);
        }
    }

    fn ids(&self, address: Option<&str>) -> Vec<ConnId> {
        self.conns()
            .iter()
            .filter(|(_, c)| address.is_none_or(|a| c.addresses.contains(a)))
            .map(|(id, _)| *id)
            .collect()
    }

    /// Sends a frame to every subscriber of `address`; returns how many of this hub's
    /// connections got it queued. With a backplane, done when the engine has it (then the
    /// other replicas deliver it to theirs); after an error this replica's connections did not
    /// get it, and the others may not have.
    pub async fn publish(&self, address: &str, frame: Frame) -> Result<usize, SendError> {
        match &self.inner.link {
            Some(link) => Ok(link
                .carry(Delivery::Publish(address.to_owned(), frame), None)
                .await?),
            None => Ok(self.fan_out(Some(address), frame)),
        }
    }

    /// Sends a frame to every connection, as [`Hub::publish`] does to subscribers.
    pub async fn broadcast(&self, frame: Frame) -> Result<usize, SendError> {
        match &self.inner.link {
            Some(link) => Ok(link.carry(Delivery::Broadcast(frame), None).await?),
            None => Ok(self.fan_out(None, frame)),
        }
    }

    fn fan_out(&self, address: Option<&str>, frame: Frame) -> usize {
        self.ids(address)
            .into_iter()
            .filter(|id| self.send_local(*id, frame.clone()).is_ok())
            .count()
    }

    /// Hands what the backplane carried to this hub's connections.
    fn deliver_local(&self, delivery: Delivery) -> usize {
        match delivery {
            Delivery::Publish(address, frame) => self.fan_out(Some(&address), frame),
            Delivery::Broadcast(frame) => self.fan_out(None, frame),
            Delivery::Send(id, frame) => match self.send_local(ConnId(id), frame) {
                Ok(()) => 1,
                Err(e) => {
                    tracing::debug!(conn = id, error = %e, "backplane send not delivered");
                    0
                }
            },
            Delivery::Request {
                conn,
                ticket,
                correlation,
                frame,
            } => {
                let conn = ConnId(conn);
                // Recorded before the request leaves, so a quick reply finds it.
                lock(&self.inner.relays)
                    .entry(conn)
                    .or_default()
                    .push(Relay {
                        ticket,
                        correlation,
                        until: Instant::now() + RELAY_FOR,
                    });
                match self.send_local(conn, frame) {
                    Ok(()) => 1,
                    Err(e) => {
                        tracing::debug!(conn = conn.0, error = %e, "relayed request not delivered");
                        let mut relays = lock(&self.inner.relays);
                        if let Some(list) = relays.get_mut(&conn) {
                            list.retain(|r| r.ticket != ticket);
                            if list.is_empty() {
                                relays.remove(&conn);
                            }
                        }
                        drop(relays);
                        self.answer(ticket, None);
                        0
                    }
                }
            }
            Delivery::Reply { ticket, frame } => match lock(&self.inner.awaiting).remove(&ticket) {
                Some(tx) => usize::from(tx.send(frame).is_ok()),
                None => 0,
            },
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A random number for a hub's connection ids (32 bits, not zero): the standard library's
/// randomly keyed hasher over the time and the process id.
fn replica_number() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static HUBS: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    h.write_u64(HUBS.fetch_add(1, Ordering::Relaxed));
    let n = h.finish();
    ((n ^ (n >> 32)) & 0xffff_ffff).max(1)
}

/// The connection a frame came from.
#[derive(Clone)]
pub struct Ctx {
    /// Connection id.
    pub conn: ConnId,
    /// Request path of the upgrade (the concrete channel address).
    pub path: String,
    /// Query string of the upgrade, if any.
    pub query: Option<String>,
    /// Headers of the upgrade request.
    pub headers: HeaderMap,
    /// The hub, to answer or publish.
    pub hub: Hub,
}

/// A connection of a generated endpoint: the runtime context with the typed channel
/// parameters and the typed query of the upgrade.
#[derive(Clone)]
pub struct Session<P, Q = ()> {
    /// Connection, path, headers and hub.
    pub ctx: Ctx,
    /// Channel parameters from the path.
    pub params: P,
    /// The upgrade's query, typed from the WebSocket binding's `query` schema.
    pub query: Q,
}

impl<P, Q> Session<P, Q> {
    /// The connection id.
    pub fn conn(&self) -> ConnId {
        self.ctx.conn
    }

    /// Headers of the upgrade request.
    pub fn headers(&self) -> &HeaderMap {
        &self.ctx.headers
    }
}

pub use crate::endpoint::{Refusal, Reject};
use crate::outcome::Dispatch;

/// What a connection hands the server's [`Dispatch`]: that it opened, each frame it received
/// (one at a time, in order), and that it closed. A refusal of a frame is sent back as its
/// error frame ([`Refusal::to_frame`]); a [`Reject`] converts into one that answers no
/// request. A refusal of `Opened` or `Closed` is only logged.
pub enum Event<'a> {
    /// The connection opened.
    Opened(&'a Ctx),
    /// A frame arrived on it.
    Frame(&'a Ctx, Frame),
    /// The connection closed.
    Closed(&'a Ctx),
}

async fn lifecycle<H: for<'a> Dispatch<Event<'a>, Refusal>>(handler: &H, event: Event<'_>) {
    if let Err(refusal) = handler.dispatch(event).await {
        tracing::debug!(?refusal, "connection event refused");
    }
}

/// Accepts (or refuses) a WebSocket upgrade and runs the connection on the hub.
pub fn accept<H: for<'a> Dispatch<Event<'a>, Refusal>>(
    hub: Hub,
    handler: Arc<H>,
    upgrade: WebSocketUpgrade,
    headers: HeaderMap,
    path: String,
    query: Option<String>,
) -> Response {
    let cfg = hub.config().clone();
    if let Some(allowed) = &cfg.allowed_origins {
        let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
        if !origin.is_some_and(|o| allowed.iter().any(|a| a == o)) {
            tracing::warn!(?origin, "WebSocket upgrade refused: origin not allowed");
            return (StatusCode::FORBIDDEN, "origin not allowed").into_response();
        }
    }
    if hub.connections() >= cfg.max_connections {
        return (StatusCode::SERVICE_UNAVAILABLE, "too many connections").into_response();
    }
    // Registered before the 101 goes out: once a client sees itself connected, whatever the hub
    // sends or closes reaches it (`close_all` right after a connect used to miss a connection
    // whose upgrade task had not run yet).
    let registered = Registered::new(hub);
    upgrade
        .max_message_size(cfg.max_message_size)
        .max_frame_size(cfg.max_message_size)
        .read_buffer_size(cfg.read_buffer.max(1024))
        .on_upgrade(move |socket| run(registered, handler, socket, path, query, headers))
}

thread_local! {
    /// The connection whose handler this thread is polling, and what it queued for itself.
    static OWN: std::cell::RefCell<Option<OwnQueue>> = const { std::cell::RefCell::new(None) };
}

/// Frames a handler sends to its own connection (a reply, mostly) while its connection's task
/// polls it. They skip the connection's channel: a channel send would wake the task that is
/// running anyway, and tokio then reschedules it as a yielded task and wakes another worker,
/// which costs more than writing the reply. The task writes them as soon as the handler's poll
/// returns.
struct OwnQueue {
    /// The hub (its address) and the connection.
    hub: usize,
    conn: ConnId,
    queued: Vec<Out>,
}

impl OwnQueue {
    /// Queues `out` when `conn` of `hub` is the connection being handled on this thread
    /// (`None`: queued; `Some(Err)`: the queue is full); otherwise gives it back.
    fn push(hub: usize, conn: ConnId, out: Out, limit: usize) -> Option<Result<Out, ()>> {
        OWN.with(|own| {
            let mut own = own.borrow_mut();
            match own.as_mut() {
                Some(q) if q.hub == hub && q.conn == conn => {
                    if q.queued.len() >= limit {
                        Some(Err(()))
                    } else {
                        q.queued.push(out);
                        None
                    }
                }
                _ => Some(Ok(out)),
            }
        })
    }

    /// Polls a connection's handler future with its own queue in place; returns what it
    /// queued, and its output once it is done.
    fn poll<F: Future>(
        hub: usize,
        conn: ConnId,
        handling: std::pin::Pin<&mut F>,
        cx: &mut std::task::Context<'_>,
    ) -> (std::task::Poll<F::Output>, Vec<Out>) {
        /// Clears the thread's queue even if the handler panics.
        struct Reset;
        impl Drop for Reset {
            fn drop(&mut self) {
                OWN.with(|own| own.borrow_mut().take());
            }
        }
        OWN.with(|own| {
            *own.borrow_mut() = Some(OwnQueue {
                hub,
                conn,
                queued: Vec::new(),
            })
        });
        let reset = Reset;
        let poll = handling.poll(cx);
        let queued = OWN.with(|own| own.borrow_mut().take().map(|q| q.queued));
        drop(reset);
        (poll, queued.unwrap_or_default())
    }
}

/// What polling a connection's handler gave.
enum Step<T> {
    /// Still running, with frames it queued for its connection.
    Queued(Vec<Out>),
    /// Done, with its result and the frames it queued.
    Done(T, Vec<Out>),
}

/// Why a connection's loop ended.
enum End {
    /// The peer closed, the read failed, or the message was too large: flush what is queued
    /// and send a close frame.
    Read,
    /// A close frame went out (requested, slow consumer, dead peer) or a write failed.
    Written,
}

/// One task per connection reads frames, runs the handler on them one at a time, and writes
/// what is queued for the connection, all in one `select!`: a reply written by the handler goes
/// out without waking another task (which, on a multi-threaded runtime, tends to run on the
/// other worker and costs more than the write itself). Writes keep flowing while a handler
/// runs; reading waits for it, so frames of a connection are handled in order.
/// A connection registered in its hub at the upgrade; unregistered when dropped (also when the
/// upgrade fails and the connection never runs).
struct Registered {
    hub: Hub,
    id: ConnId,
    rx: Option<mpsc::Receiver<Out>>,
}

impl Registered {
    fn new(hub: Hub) -> Self {
        let (tx, rx) = mpsc::channel::<Out>(hub.config().send_queue.max(1));
        let id = hub.register(tx);
        Registered {
            hub,
            id,
            rx: Some(rx),
        }
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.hub.unregister(self.id);
    }
}

async fn run<H: for<'a> Dispatch<Event<'a>, Refusal>>(
    mut registered: Registered,
    handler: Arc<H>,
    socket: WebSocket,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
) {
    let hub = registered.hub.clone();
    let id = registered.id;
    let cfg = hub.config().clone();
    let Some(mut rx) = registered.rx.take() else {
        return;
    };
    let ctx = Ctx {
        conn: id,
        path,
        query,
        headers,
        hub: hub.clone(),
    };
    lifecycle(&*handler, Event::Opened(&ctx)).await;
    let (mut sink, mut stream) = socket.split();
    let mut ping = tokio::time::interval(cfg.ping_interval);
    ping.tick().await;
    let mut last_seen = Instant::now();
    let mut oversized = false;
    // The handler's future for the frame being handled (terminated when none is).
    let mut handling = std::pin::pin!(futures_util::future::Fuse::terminated());
    let hub_key = Arc::as_ptr(&hub.inner) as usize;
    let end = 'conn: loop {
        let idle = handling.is_terminated();
        // Branches are polled in random order, so a steady stream of outgoing frames cannot
        // starve reading (and with it the pongs that keep the connection alive), nor the reverse.
        tokio::select! {
            step = std::future::poll_fn(|cx| match OwnQueue::poll(hub_key, id, handling.as_mut(), cx) {
                (std::task::Poll::Ready(result), queued) => std::task::Poll::Ready(Step::Done(result, queued)),
                (std::task::Poll::Pending, queued) if !queued.is_empty() => std::task::Poll::Ready(Step::Queued(queued)),
                (std::task::Poll::Pending, _) => std::task::Poll::Pending,
            }), if !idle => {
                let (result, queued) = match step {
                    Step::Done(result, queued) => (Some(result), queued),
                    Step::Queued(queued) => (None, queued),
                };
                for out in queued {
                    match out {
                        Out::Frame(frame) => {
                            let message = match frame {
                                Frame::Text(t) => WsMessage::Text(t.into()),
                                Frame::Binary(b) => WsMessage::Binary(b.into()),
                            };
                            if sink.send(message).await.is_err() {
                                break 'conn End::Written;
                            }
                        }
                        Out::Close(code, reason) => {
                            let _ = sink.send(WsMessage::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
                            break 'conn End::Written;
                        }
                    }
                }
                if let Some(Err::<(), Refusal>(refusal)) = result {
                    tracing::info!(conn = id.0, message = %refusal.reason(), operation = ?refusal.operation(), "message rejected");
                    let _ = hub.send_local(id, refusal.to_frame());
                }
            }
            out = rx.recv() => match out {
                Some(Out::Frame(frame)) => {
                    let message = match frame {
                        Frame::Text(t) => WsMessage::Text(t.into()),
                        Frame::Binary(b) => WsMessage::Binary(b.into()),
                    };
                    if sink.send(message).await.is_err() {
                        break End::Written;
                    }
                }
                Some(Out::Close(code, reason)) => {
                    let _ = sink.send(WsMessage::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
                    break End::Written;
                }
                None => {
                    // Unregistered: the hub dropped the connection as a slow consumer.
                    let _ = sink.send(WsMessage::Close(Some(CloseFrame { code: close::POLICY, reason: "slow consumer".into() }))).await;
                    break End::Written;
                }
            },
            msg = stream.next(), if idle => {
                let Some(msg) = msg else { break End::Read };
                last_seen = Instant::now();
                let frame = match msg {
                    Ok(WsMessage::Text(t)) => Frame::Text(t.as_str().to_owned()),
                    Ok(WsMessage::Binary(b)) => Frame::Binary(b.to_vec()),
                    Ok(WsMessage::Ping(_)) | Ok(WsMessage::Pong(_)) => continue,
                    Ok(WsMessage::Close(_)) => break End::Read,
                    Err(e) => {
                        let text = e.to_string();
                        if text.contains("too long")
                            || text.contains("Space limit")
                            || text.contains("size")
                        {
                            hub.close(id, close::TOO_BIG, "message too large");
                            oversized = true;
                        }
                        tracing::debug!(conn = id.0, error = %text, "WebSocket read ended");
                        break End::Read;
                    }
                };
                handling.set(handler.dispatch(Event::Frame(&ctx, frame)).fuse());
            }
            _ = ping.tick() => {
                if last_seen.elapsed() > cfg.idle_timeout {
                    let _ = sink.send(WsMessage::Close(Some(CloseFrame { code: close::GOING_AWAY, reason: "no answer to pings".into() }))).await;
                    break End::Written;
                }
                if sink.send(WsMessage::Ping(Vec::new().into())).await.is_err() {
                    break End::Written;
                }
            }
        }
    };
    // A frame being handled is handled to the end (its reply may no longer go out).
    if !handling.is_terminated() {
        let _ = (&mut handling).await;
    }
    if matches!(end, End::Read) {
        // Flush what is queued, then the close frame (the 1009 of an oversized message was
        // queued first); give up after a second.
        hub.close(id, close::NORMAL, "");
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            while let Some(out) = rx.recv().await {
                match out {
                    Out::Frame(Frame::Text(t)) => {
                        if sink.send(WsMessage::Text(t.into())).await.is_err() {
                            return;
                        }
                    }
                    Out::Frame(Frame::Binary(b)) => {
                        if sink.send(WsMessage::Binary(b.into())).await.is_err() {
                            return;
                        }
                    }
                    Out::Close(code, reason) => {
                        let _ = sink
                            .send(WsMessage::Close(Some(CloseFrame {
                                code,
                                reason: reason.into(),
                            })))
                            .await;
                        return;
                    }
                }
            }
        })
        .await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), sink.close()).await;
    drop(registered);
    lifecycle(&*handler, Event::Closed(&ctx)).await;
    if oversized {
        // The rest of the oversized message is still unread: closing the socket now makes the
        // kernel answer with a TCP reset, which can reach the peer before it has read the
        // 1009 close frame (browsers then report 1006). Keep the socket a moment longer.
        tokio::time::sleep(CLOSE_LINGER).await;
    }
    drop(stream);
}

/// How long the socket of a peer closed for an oversized message stays open after the close
/// frame, so that the peer reads the frame before the connection is torn down.
const CLOSE_LINGER: Duration = Duration::from_millis(500);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_consumer_policies() {
        let hub = Hub::new(WsConfig {
            send_queue: 1,
            ..WsConfig::default()
        });
        let (tx, _rx) = mpsc::channel(1);
        let id = hub.register(tx);
        assert_eq!(hub.send_local(id, Frame::Text("a".into())), Ok(()));
        assert_eq!(
            hub.send_local(id, Frame::Text("b".into())),
            Err(SendError::SlowConsumer(id))
        );
        assert_eq!(hub.connections(), 0, "disconnected");
        assert_eq!(
            hub.send_local(id, Frame::Text("c".into())),
            Err(SendError::Gone(id))
        );

        let hub = Hub::new(WsConfig {
            send_queue: 1,
            slow_consumer: SlowConsumer::DropMessage,
            ..WsConfig::default()
        });
        let (tx, _rx) = mpsc::channel(1);
        let id = hub.register(tx);
        assert_eq!(hub.send_local(id, Frame::Text("a".into())), Ok(()));
        assert_eq!(
            hub.send_local(id, Frame::Text("b".into())),
            Err(SendError::Dropped(id))
        );
        assert_eq!(hub.connections(), 1);
        assert_eq!(hub.dropped(), 1);
    }

    #[test]
    fn frames_a_handler_sends_to_its_own_connection_skip_the_channel() {
        let hub = Hub::new(WsConfig {
            send_queue: 2,
            ..WsConfig::default()
        });
        let (tx, mut rx) = mpsc::channel(8);
        let own = hub.register(tx);
        let (tx, mut rx_other) = mpsc::channel(8);
        let other = hub.register(tx);
        let h = hub.clone();
        let mut handler = std::pin::pin!(async move {
            h.send(own, Frame::Text("a".into())).await.unwrap();
            h.send(other, Frame::Text("to the other".into()))
                .await
                .unwrap();
            h.send(own, Frame::Text("b".into())).await.unwrap();
            h.send(own, Frame::Text("one too many".into())).await
        });
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let key = Arc::as_ptr(&hub.inner) as usize;
        let (poll, queued) = OwnQueue::poll(key, own, handler.as_mut(), &mut cx);
        assert_eq!(
            poll,
            std::task::Poll::Ready(Err(SendError::SlowConsumer(own)))
        );
        let texts: Vec<String> = queued
            .into_iter()
            .map(|o| match o {
                Out::Frame(Frame::Text(t)) => t,
                _ => String::new(),
            })
            .collect();
        assert_eq!(texts, ["a", "b"]);
        assert!(rx.try_recv().is_err(), "nothing went through the channel");
        assert!(
            matches!(rx_other.try_recv(), Ok(Out::Frame(Frame::Text(t))) if t == "to the other")
        );
        // Outside the handler's poll, sends take the channel again.
        assert_eq!(hub.send_local(other, Frame::Text("later".into())), Ok(()));
        assert!(matches!(rx_other.try_recv(), Ok(Out::Frame(Frame::Text(t))) if t == "later"));
        assert_eq!(hub.connections(), 1, "the slow consumer was disconnected");
    }

    #[test]
    fn publish_reaches_subscribers_only() {
        let hub = Hub::new(WsConfig::default());
        let (tx1, mut rx1) = mpsc::channel(8);
        let (tx2, mut rx2) = mpsc::channel(8);
        let a = hub.register(tx1);
        let b = hub.register(tx2);
        hub.subscribe(a, "rooms/1");
        hub.subscribe(b, "rooms/2");
        let now = |f: std::pin::Pin<&mut dyn Future<Output = Result<usize, SendError>>>| {
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            match f.poll(&mut cx) {
                std::task::Poll::Ready(r) => r,
                std::task::Poll::Pending => panic!("an in-process publish waits for nothing"),
            }
        };
        let publish = std::pin::pin!(hub.publish("rooms/1", Frame::Text("hi".into())));
        assert_eq!(now(publish), Ok(1));
        assert!(matches!(rx1.try_recv(), Ok(Out::Frame(Frame::Text(t))) if t == "hi"));
        assert!(rx2.try_recv().is_err());
        assert_eq!(
            now(std::pin::pin!(hub.broadcast(Frame::Binary(vec![1])))),
            Ok(2)
        );
        hub.unsubscribe(a, "rooms/1");
        let again = std::pin::pin!(hub.publish("rooms/1", Frame::Text("again".into())));
        assert_eq!(now(again), Ok(0));
        assert_ne!(a.0 >> 32, 0, "ids carry the hub's replica number");
        assert_eq!(a.0 >> 32, b.0 >> 32);
        assert_ne!(
            a.0 >> 32,
            Hub::new(WsConfig::default()).register(mpsc::channel(1).0).0 >> 32,
            "another hub, another replica number"
        );
    }
}
