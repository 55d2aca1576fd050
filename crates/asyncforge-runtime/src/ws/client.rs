//! WebSocket client side (feature `ws-client`): a connection that reconnects by itself.
//!
//! [`WsClient::connect`] starts a task that connects, pumps frames both ways, and on any
//! failure reconnects after a [`Backoff`] delay (exponential with jitter, bounded). Frames
//! sent while disconnected wait in a bounded queue and go out after the reconnect; received
//! frames come out of [`WsClient::recv`] in order. [`WsClient::state`] tells whether the
//! connection is up and how many times it reconnected.
//!
//! Generated clients use [`WsClient::connect_with`] instead: their [`Decode`] decodes each
//! received frame where it was read (no copy of the frame), completes waiting requests (with
//! their replies, or with the server's refusals) and gives typed events for the application's
//! queue. When that queue is full, [`ClientConfig::overflow`] drops the event (counted) and
//! reads on, or stops reading until the application takes one ([`State::Stalled`]).
//!
//! ## Who reads a frame
//!
//! The connection task, except while a request waits for its reply and no other request of
//! the connection does: then [`WsSender::wait_reply`] reads on the waiting task itself, so the
//! reply wakes the task that wants it and no other. Frames are handled in the order they
//! arrived whoever reads them (see the `reader` module).
//!
//! ## Who writes a frame
//!
//! [`WsSender::send`] writes the frame to the socket itself, on the caller's task, when it can
//! do so at once: the connection is up, nothing sent earlier is still queued, no other task is
//! using the socket at that instant, and the socket takes the bytes without waiting. Otherwise
//! the frame goes to the bounded queue and the connection task writes it. A request thus
//! reaches the wire without waking another task (on a multi-threaded runtime that task tends
//! to run on the other worker, which costs more than the write), and frames of one sender
//! still go out in the order they were sent: a frame is written directly only when every
//! frame queued before it has been flushed to the socket. When the socket could take only part
//! of a directly written frame, the connection task finishes it, and senders queue until it
//! has: while the connection task waits for room in the socket, nobody else polls it (the
//! socket has one write waker; a sender's poll would take the connection task's wake-up).

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Sink;
use tokio::sync::{Notify, mpsc, watch};
use tokio_tungstenite::tungstenite::Message;

use crate::backoff::Backoff;
use crate::frame::Frame;
use crate::rpc::{RequestError, Waiter};

mod reader;

use reader::{Decoder, Frames, Handle, Reader, ReplyRead, Step, Turn};

pub use crate::connection::State;

/// The socket of a connected client.
type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// What the senders and the connection task share.
struct Shared {
    /// The connected socket (`None` while connecting). A plain mutex, held only while the
    /// socket is polled, never across an `.await`: senders only try it, the connection task
    /// waits for it (at most one write).
    socket: Mutex<Option<Socket>>,
    /// Writes the connection task owes: frames given to the queue and not yet flushed to the
    /// socket (the queue, the frame the connection task is writing, the frame a failed write
    /// keeps for the next connection), plus a direct write the socket took only in part. A
    /// sender touches the socket only while this is zero: it keeps frames in order, and it
    /// keeps senders from polling the socket while the connection task waits for room in it
    /// (tungstenite keeps one write waker per socket, so a sender's poll would take the
    /// connection task's wake-up away and stall it).
    queued: AtomicUsize,
    /// Tells the connection task that a directly written frame waits to be flushed (the
    /// socket took part of it).
    flush: Notify,
    /// Requests waiting in [`WsSender::wait_reply`]; a waiting task reads the socket itself
    /// only while it is the only one.
    waiting: AtomicUsize,
    /// Numbers the waits (which one holds the socket).
    tokens: AtomicU64,
    /// Received events dropped because the application's queue was full ([`Overflow::Drop`]).
    dropped: AtomicU64,
}

impl Shared {
    fn new() -> Arc<Shared> {
        Arc::new(Shared {
            socket: Mutex::new(None),
            queued: AtomicUsize::new(0),
            flush: Notify::new(),
            waiting: AtomicUsize::new(0),
            tokens: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        })
    }

    fn socket(&self) -> MutexGuard<'_, Option<Socket>> {
        self.socket.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes `message` to the socket now if that needs no waiting; gives it back otherwise
    /// (not connected, frames still queued, the socket busy or full, a write error).
    fn try_write(&self, message: Message) -> Result<(), Message> {
        let Ok(mut socket) = self.socket.try_lock() else {
            return Err(message);
        };
        let Some(ws) = socket.as_mut() else {
            return Err(message);
        };
        // Checked while holding the socket: the connection task hands queued frames over
        // under the same lock, so zero means every earlier frame is ahead of this one.
        if self.queued.load(Ordering::Acquire) != 0 {
            return Err(message);
        }
        // Nobody is woken by this context: a flush that cannot finish now is handed to the
        // connection task, which polls with its own.
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut ws = Pin::new(ws);
        if !matches!(ws.as_mut().poll_ready(&mut cx), Poll::Ready(Ok(()))) {
            return Err(message);
        }
        if ws.as_mut().start_send(message.clone()).is_err() {
            return Err(message);
        }
        match ws.as_mut().poll_flush(&mut cx) {
            Poll::Ready(Ok(())) => Ok(()),
            Poll::Pending => {
                // Owed until the connection task has flushed it (see `flush`).
                self.queued.fetch_add(1, Ordering::AcqRel);
                self.flush.notify_one();
                Ok(())
            }
            // The connection broke with the frame in tungstenite's buffer: it is sent again
            // on the next connection, like a frame whose queued write failed.
            Poll::Ready(Err(_)) => Err(message),
        }
    }

    /// Sends `message`: directly when possible, else through the queue.
    fn send(&self, out: &mpsc::Sender<Message>, message: Message) -> Result<(), ClientError> {
        match self.try_write(message) {
            Ok(()) => Ok(()),
            Err(message) => self.enqueue(out, message),
        }
    }

    fn enqueue(&self, out: &mpsc::Sender<Message>, message: Message) -> Result<(), ClientError> {
        self.queued.fetch_add(1, Ordering::AcqRel);
        out.try_send(message).map_err(|e| {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            match e {
                mpsc::error::TrySendError::Full(_) => ClientError::QueueFull,
                mpsc::error::TrySendError::Closed(_) => ClientError::Closed,
            }
        })
    }

    /// Writes a frame taken from the queue (or kept from a failed write) and flushes it. The
    /// frame stops counting as queued once it is flushed; after a failure it still counts
    /// (the caller keeps it for the next connection).
    async fn write_queued(&self, message: Message) -> Result<(), ()> {
        let mut message = Some(message);
        let written = std::future::poll_fn(|cx| {
            let mut socket = self.socket();
            let Some(ws) = socket.as_mut() else {
                return Poll::Ready(Err(()));
            };
            let mut ws = Pin::new(ws);
            if let Some(m) = message.take() {
                match ws.as_mut().poll_ready(cx) {
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(_)) => return Poll::Ready(Err(())),
                    Poll::Pending => {
                        message = Some(m);
                        return Poll::Pending;
                    }
                }
                if ws.as_mut().start_send(m).is_err() {
                    return Poll::Ready(Err(()));
                }
            }
            ws.as_mut().poll_flush(cx).map(|r| r.map_err(drop))
        })
        .await;
        if written.is_ok() {
            self.queued.fetch_sub(1, Ordering::AcqRel);
        }
        written
    }

    /// Flushes what a direct write left in tungstenite's buffer; the write is no longer owed
    /// afterwards, whether the flush succeeded or the connection broke (either way the
    /// connection task no longer waits on the socket for it).
    async fn flush(&self) -> Result<(), ()> {
        let flushed = std::future::poll_fn(|cx| match self.socket().as_mut() {
            Some(ws) => Pin::new(ws).poll_flush(cx).map(|r| r.map_err(drop)),
            None => Poll::Ready(Err(())),
        })
        .await;
        self.queued.fetch_sub(1, Ordering::AcqRel);
        flushed
    }

    /// Sends a close frame and takes the socket away from the senders.
    async fn close(&self) {
        let _ = std::future::poll_fn(|cx| match self.socket().as_mut() {
            Some(ws) => Pin::new(ws).poll_close(cx),
            None => Poll::Ready(Ok(())),
        })
        .await;
        self.socket().take();
    }
}

/// The sending half of a [`WsClient`] (see [`WsClient::split`]). Cheap to clone.
#[derive(Clone)]
pub struct WsSender {
    out: mpsc::Sender<Message>,
    shared: Arc<Shared>,
    state: watch::Receiver<State>,
    /// The client's reading side, for [`WsSender::wait_reply`] (`None`: the connection task
    /// reads everything).
    reader: Option<Arc<dyn Turn>>,
}

impl WsSender {
    /// Sends a frame: written at once when the connection is up and idle, otherwise queued
    /// and sent as soon as the connection can take it (after a reconnect, if need be).
    pub fn send(&self, frame: Frame) -> Result<(), ClientError> {
        self.shared.send(&self.out, to_message(frame))
    }

    /// Waits for the reply of a request registered as `waiter` and sent on this client, at
    /// most `timeout`. While it is the only request of the connection waiting, this task
    /// reads the socket itself (of a client made by [`WsClient::connect_with`]) and takes
    /// the reply there; otherwise the connection task hands the reply over.
    pub async fn wait_reply<T>(
        &self,
        waiter: Waiter<T>,
        timeout: Duration,
    ) -> Result<T, RequestError> {
        let Some(reader) = &self.reader else {
            return waiter.wait(timeout).await;
        };
        let read = ReplyRead::new(&self.shared, reader.as_ref(), waiter.into_receiver());
        tokio::time::timeout(timeout, read)
            .await
            .unwrap_or(Err(RequestError::Timeout(timeout)))
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state.borrow().clone()
    }

    /// Received events dropped so far because the application's queue was full (with
    /// [`Overflow::Drop`]).
    pub fn dropped_events(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Waits until the state satisfies `f`.
    pub async fn wait_for(&self, f: impl Fn(&State) -> bool) -> State {
        crate::connection::wait_for(self.state.clone(), f).await
    }
}

/// The receiving half of a [`WsClient`]; dropping it stops the connection.
pub struct WsReceiver {
    incoming: mpsc::Receiver<Frame>,
    task: tokio::task::JoinHandle<()>,
}

impl WsReceiver {
    /// The next received frame (`None` once the client is closed).
    pub async fn recv(&mut self) -> Option<Frame> {
        self.incoming.recv().await
    }
}

impl Drop for WsReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Why a frame was not queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The client was closed or gave up reconnecting.
    #[error("the connection is closed")]
    Closed,
    /// The send queue is full (the connection has been down for a while).
    #[error("the send queue is full")]
    QueueFull,
}

impl From<ClientError> for crate::error::Error {
    fn from(e: ClientError) -> Self {
        use crate::error::ErrorKind;
        let kind = match &e {
            ClientError::Closed => ErrorKind::Closed,
            ClientError::QueueFull => ErrorKind::Busy,
        };
        crate::error::Error::new(kind, e)
    }
}

/// What a client does with a received event when the application's queue of events is full
/// (the application reads it too slowly, or not at all). Replies to requests and refusals of
/// them complete their requests without going through that queue, whatever the policy.
///
/// [`ClientConfig::default`] waits: a [`WsClient::connect`] client is a stream of frames
/// that its reader takes. Generated clients, whose requests get replies on the same
/// connection, drop by default (their `ClientOptions::default`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Overflow {
    /// Keep reading and drop the event: counted ([`WsSender::dropped_events`]) and logged
    /// (a warning at the first drop and at every power of two). Replies keep coming, even to
    /// an application that never reads its events.
    Drop,
    /// Stop reading until the application takes an event: backpressure reaches the server
    /// (its send queue fills and its slow-consumer policy applies). Nothing is lost, but
    /// nothing is read either, replies included; the state is [`State::Stalled`] meanwhile.
    #[default]
    Wait,
}

/// How a client connects.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Delays between reconnect attempts.
    pub backoff: Backoff,
    /// Frames queued for sending (and received frames not yet read).
    pub queue: usize,
    /// Time allowed for one connection attempt.
    pub connect_timeout: Duration,
    /// Extra headers of the upgrade request (authentication, the binding's `headers`).
    pub headers: Vec<(String, String)>,
    /// Largest message accepted from the server (bytes).
    pub max_message_size: usize,
    /// Bytes read from the socket at a time (see the server's `WsConfig::read_buffer`:
    /// tungstenite zero-fills this much before every read attempt).
    pub read_buffer: usize,
    /// What happens to a received event when the queue of received events is full.
    pub overflow: Overflow,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            backoff: Backoff::default(),
            queue: 1024,
            connect_timeout: Duration::from_secs(10),
            headers: Vec::new(),
            max_message_size: 16 << 20,
            read_buffer: 8 * 1024,
            overflow: Overflow::default(),
        }
    }
}

/// What a client does with each frame it receives (see [`WsClient::connect_with`]): run by
/// whichever task read the frame (the connection task, or a task waiting for its reply in
/// [`WsSender::wait_reply`]), one frame at a time, in the order they arrived.
pub trait Decode: Send + 'static {
    /// What the application receives.
    type Event: Send + 'static;
    /// Handles one received frame (a text frame's UTF-8 bytes, or a binary frame's bytes)
    /// without waiting: completes the request a reply (or a refusal) answers and returns
    /// `None`, or returns the event for the application's queue. When that queue is full,
    /// [`ClientConfig::overflow`] decides: drop the event and read on, or stop reading until
    /// there is room. When the queue is closed (the application side is gone) the client
    /// stops.
    fn decode(&mut self, data: &[u8]) -> Option<Self::Event>;
}

/// A self-reconnecting WebSocket client.
pub struct WsClient {
    out: mpsc::Sender<Message>,
    shared: Arc<Shared>,
    incoming: mpsc::Receiver<Frame>,
    state: watch::Receiver<State>,
    task: tokio::task::JoinHandle<()>,
}

impl WsClient {
    /// Starts connecting to `url` (`ws://` or `wss://`) in the background.
    pub fn connect(url: impl Into<String>, config: ClientConfig) -> WsClient {
        let url = url.into();
        let (out_tx, out_rx) = mpsc::channel(config.queue.max(1));
        let (in_tx, in_rx) = mpsc::channel(config.queue.max(1));
        let (state_tx, state_rx) = watch::channel(State::Connecting { attempt: 0 });
        let shared = Shared::new();
        let reader = Reader::new(Frames, in_tx, config.overflow);
        let task = tokio::spawn(run(url, config, shared.clone(), out_rx, reader, state_tx));
        WsClient {
            out: out_tx,
            shared,
            incoming: in_rx,
            state: state_rx,
            task,
        }
    }

    /// Starts connecting to `url` in the background, handing every received frame to the
    /// dispatch that `make` builds (it gets a sender, to answer requests with) and the events
    /// it returns to `events`. Returns the sender (its [`WsSender::wait_reply`] may read the
    /// socket) and the connection task (abort it to stop the client). `events` closes when
    /// the client stops.
    pub fn connect_with<D: Decode>(
        url: impl Into<String>,
        config: ClientConfig,
        events: mpsc::Sender<D::Event>,
        make: impl FnOnce(WsSender) -> D,
    ) -> (WsSender, tokio::task::JoinHandle<()>) {
        let (out_tx, out_rx) = mpsc::channel(config.queue.max(1));
        let (state_tx, state_rx) = watch::channel(State::Connecting { attempt: 0 });
        let shared = Shared::new();
        let mut sender = WsSender {
            out: out_tx,
            shared: shared.clone(),
            state: state_rx,
            reader: None,
        };
        // The dispatch's own sender reads nothing (it only answers), and holding the reader
        // from inside it would keep the reader alive forever.
        let reader = Reader::new(Decoder(make(sender.clone())), events, config.overflow);
        sender.reader = Some(reader.clone());
        let task = tokio::spawn(run(url.into(), config, shared, out_rx, reader, state_tx));
        (sender, task)
    }

    /// Sends a frame (see [`WsSender::send`]).
    pub fn send(&self, frame: Frame) -> Result<(), ClientError> {
        self.shared.send(&self.out, to_message(frame))
    }

    /// Splits the client into a cloneable sender and the receiver (which owns the
    /// connection: dropping it stops the client).
    pub fn split(self) -> (WsSender, WsReceiver) {
        (
            WsSender {
                out: self.out,
                shared: self.shared,
                state: self.state,
                reader: None,
            },
            WsReceiver {
                incoming: self.incoming,
                task: self.task,
            },
        )
    }

    /// The next received frame (`None` once the client is closed).
    pub async fn recv(&mut self) -> Option<Frame> {
        self.incoming.recv().await
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state.borrow().clone()
    }

    /// Waits until the state satisfies `f`.
    pub async fn wait_for(&self, f: impl Fn(&State) -> bool) -> State {
        crate::connection::wait_for(self.state.clone(), f).await
    }

    /// Received frames dropped so far because nobody took them from a full queue (with
    /// [`Overflow::Drop`]).
    pub fn dropped_events(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Stops the client.
    pub fn close(self) {
        self.task.abort();
    }
}

/// Clears the reader when the connection task ends, however it ends (the application's
/// queue closes; a caller holding the socket lets go).
struct Finish<H: Handle>(Arc<Reader<H>>);

impl<H: Handle> Drop for Finish<H> {
    fn drop(&mut self) {
        self.0.reset(true);
    }
}

async fn run<H: Handle>(
    url: String,
    config: ClientConfig,
    shared: Arc<Shared>,
    mut out: mpsc::Receiver<Message>,
    reader: Arc<Reader<H>>,
    state: watch::Sender<State>,
) {
    let _finish = Finish(reader.clone());
    // Armed while a caller holds the socket (see `reader::WATCH`).
    let watch = tokio::time::sleep(reader::WATCH);
    tokio::pin!(watch);
    let mut watching = false;
    let mut delays = config.backoff.delays();
    let mut generation = 0u64;
    // A message whose write failed, sent first on the next connection (a `Message` clones
    // without copying its payload). It still counts as queued, so no direct write overtakes it.
    let mut pending: Option<Message> = None;
    loop {
        let attempt = delays.attempts();
        let _ = state.send(State::Connecting { attempt });
        let request = match request(&url, &config.headers) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(%url, error = %e, "invalid WebSocket request; giving up");
                break;
            }
        };
        let ws_config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .max_message_size(Some(config.max_message_size))
            .max_frame_size(Some(config.max_message_size))
            .read_buffer_size(config.read_buffer.max(1024));
        let connected = tokio::time::timeout(
            config.connect_timeout,
            tokio_tungstenite::connect_async_with_config(request, Some(ws_config), false),
        )
        .await;
        let socket = match connected {
            Ok(Ok((socket, _))) => socket,
            Ok(Err(tokio_tungstenite::tungstenite::Error::Http(response)))
                if response.status().is_client_error()
                    && response.status().as_u16() != 408
                    && response.status().as_u16() != 429 =>
            {
                // The server refuses this request (bad parameters, query, headers, Origin):
                // trying again would get the same answer.
                let body = response
                    .body()
                    .as_deref()
                    .map(String::from_utf8_lossy)
                    .unwrap_or_default()
                    .into_owned();
                tracing::error!(%url, status = %response.status(), %body, "WebSocket upgrade refused; giving up");
                let _ = state.send(State::Refused {
                    status: response.status().as_u16(),
                    reason: body,
                });
                return;
            }
            Ok(Err(e)) => {
                tracing::debug!(%url, error = %e, "WebSocket connect failed");
                match delays.next() {
                    Some(d) => {
                        tokio::time::sleep(d).await;
                        continue;
                    }
                    None => break,
                }
            }
            Err(_) => match delays.next() {
                Some(d) => {
                    tokio::time::sleep(d).await;
                    continue;
                }
                None => break,
            },
        };
        delays.reset();
        generation += 1;
        *shared.socket() = Some(socket);
        let _ = state.send(State::Connected { generation });
        // A frame whose write failed on the previous connection goes first.
        let retry_failed = match pending.take() {
            Some(m) => match shared.write_queued(m.clone()).await {
                Ok(()) => false,
                Err(()) => {
                    pending = Some(m);
                    true
                }
            },
            None => false,
        };
        if !retry_failed {
            loop {
                tokio::select! {
                    message = out.recv() => {
                        let Some(message) = message else {
                            shared.close().await;
                            let _ = state.send(State::Closed);
                            return;
                        };
                        if shared.write_queued(message.clone()).await.is_err() {
                            pending = Some(message);
                            break;
                        }
                    }
                    () = shared.flush.notified() => {
                        if shared.flush().await.is_err() {
                            break;
                        }
                    }
                    () = &mut watch, if watching => {
                        watching = reader.check();
                        if watching {
                            watch.as_mut().reset(next_check());
                        }
                    }
                    step = std::future::poll_fn(|cx| reader.poll_task(&shared, cx)) => {
                        let delivered = match step {
                            Step::Handled => true,
                            Step::Watch => {
                                if !watching {
                                    watching = true;
                                    watch.as_mut().reset(next_check());
                                }
                                true
                            }
                            Step::Blocked(event) => {
                                // `Overflow::Wait`: nothing is read until the event is queued.
                                let _ = state.send(State::Stalled { generation });
                                let delivered = reader.deliver(event).await;
                                let _ = state.send(State::Connected { generation });
                                delivered
                            }
                            Step::Stop => false,
                            Step::Lost | Step::NoSocket => break,
                        };
                        if !delivered {
                            // The application side is gone.
                            shared.socket().take();
                            let _ = state.send(State::Closed);
                            return;
                        }
                    }
                }
            }
        }
        // Senders queue from now on, until the next connection; a caller reading lets go.
        shared.socket().take();
        reader.reset(false);
        tracing::info!(%url, "WebSocket connection lost; reconnecting");
        if let Some(d) = delays.next() {
            tokio::time::sleep(d).await;
        } else {
            break;
        }
    }
    shared.socket().take();
    let _ = state.send(State::Closed);
}

/// When the connection task next checks on a caller holding the socket.
fn next_check() -> tokio::time::Instant {
    tokio::time::Instant::now() + reader::WATCH
}

fn request(
    url: &str,
    headers: &[(String, String)],
) -> Result<
    tokio_tungstenite::tungstenite::handshake::client::Request,
    tokio_tungstenite::tungstenite::Error,
> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
    let mut request = url.into_client_request()?;
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| tokio_tungstenite::tungstenite::Error::HttpFormat(e.into()))?;
        let value = HeaderValue::from_str(value)
            .map_err(|e| tokio_tungstenite::tungstenite::Error::HttpFormat(e.into()))?;
        request.headers_mut().append(name, value);
    }
    Ok(request)
}

fn to_message(f: Frame) -> Message {
    match f {
        Frame::Text(t) => Message::text(t),
        Frame::Binary(b) => Message::binary(b),
    }
}

/// Answers a request the server sent (a *send* operation with a reply): the reply gets the
/// request's correlation id where it has none.
pub struct Responder<T> {
    tx: WsSender,
    correlation: Option<serde_json::Value>,
    _reply: std::marker::PhantomData<fn(T)>,
}

impl<T> std::fmt::Debug for Responder<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Responder")
            .field("correlation", &self.correlation)
            .finish_non_exhaustive()
    }
}

impl<T: crate::endpoint::Outgoing> Responder<T> {
    /// A responder that answers on `tx`.
    pub fn new(tx: WsSender, correlation: Option<serde_json::Value>) -> Self {
        Responder {
            tx,
            correlation,
            _reply: std::marker::PhantomData,
        }
    }

    /// The request's correlation id.
    pub fn correlation(&self) -> Option<&serde_json::Value> {
        self.correlation.as_ref()
    }

    /// Sends the reply.
    pub fn reply(self, message: impl Into<T>) -> Result<(), ReplyError> {
        let message: T = message.into();
        let frame = crate::endpoint::outgoing_frame(&message, self.correlation.as_ref())
            .map_err(|e| ReplyError::Encode(e.to_string()))?;
        self.tx.send(frame).map_err(ReplyError::Send)
    }
}

/// Why a reply or a message was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// The message could not be encoded.
    #[error("the message could not be encoded: {0}")]
    Encode(String),
    /// The client could not queue it.
    #[error(transparent)]
    Send(ClientError),
}

impl From<ReplyError> for crate::error::Error {
    fn from(e: ReplyError) -> Self {
        use crate::error::ErrorKind;
        let kind = match &e {
            ReplyError::Encode(_) => ErrorKind::Invalid,
            ReplyError::Send(ClientError::Closed) => ErrorKind::Closed,
            ReplyError::Send(ClientError::QueueFull) => ErrorKind::Busy,
        };
        crate::error::Error::new(kind, e)
    }
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;

    use super::*;

    /// A connected socket pair over loopback: the client side in a fresh `Shared`, the
    /// server side for reading.
    async fn connected() -> (
        Arc<Shared>,
        mpsc::Sender<Message>,
        mpsc::Receiver<Message>,
        Socket,
    ) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let accept = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.expect("accept");
            tokio_tungstenite::accept_async(tokio_tungstenite::MaybeTlsStream::Plain(tcp))
                .await
                .expect("upgrade")
        });
        let (client, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/"))
            .await
            .expect("connect");
        let peer = accept.await.expect("accept task");
        let shared = Shared::new();
        *shared.socket() = Some(client);
        let (tx, rx) = mpsc::channel(8);
        (shared, tx, rx, peer)
    }

    async fn next_text(peer: &mut Socket) -> String {
        match tokio::time::timeout(Duration::from_secs(5), peer.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => t.as_str().to_owned(),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn an_idle_connection_is_written_directly_and_a_queue_keeps_later_frames_behind() {
        let (shared, tx, mut rx, mut peer) = connected().await;

        // Idle and connected: the frame goes straight to the socket, the queue stays empty.
        shared.send(&tx, Message::text("direct")).expect("sent");
        assert_eq!(next_text(&mut peer).await, "direct");
        assert!(rx.try_recv().is_err(), "nothing was queued");

        // From a thread outside the runtime, too.
        let (s2, tx2) = (shared.clone(), tx.clone());
        std::thread::spawn(move || s2.send(&tx2, Message::text("from a thread")))
            .join()
            .expect("thread")
            .expect("sent");
        assert_eq!(next_text(&mut peer).await, "from a thread");
        assert!(rx.try_recv().is_err(), "nothing was queued");

        // A frame waits in the queue: later frames queue behind it, in order.
        shared.enqueue(&tx, Message::text("first")).expect("queued");
        shared.send(&tx, Message::text("second")).expect("queued");
        assert_eq!(shared.queued.load(Ordering::Acquire), 2);
        for expected in ["first", "second"] {
            let m = rx.try_recv().expect("queued frame");
            shared.write_queued(m).await.expect("written");
            assert_eq!(next_text(&mut peer).await, expected);
        }
        assert_eq!(shared.queued.load(Ordering::Acquire), 0);

        // Drained: direct again.
        shared.send(&tx, Message::text("third")).expect("sent");
        assert_eq!(next_text(&mut peer).await, "third");
        assert!(rx.try_recv().is_err(), "nothing was queued");

        // The socket in use by another task (the lock taken): the frame queues.
        let held = shared.socket();
        shared.send(&tx, Message::text("busy")).expect("queued");
        drop(held);
        assert_eq!(rx.try_recv().expect("queued").to_text().ok(), Some("busy"));

        // Not connected: queued.
        shared.socket().take();
        let (tx2, mut rx2) = mpsc::channel(8);
        shared.queued.store(0, Ordering::Release);
        shared.send(&tx2, Message::text("offline")).expect("queued");
        assert_eq!(
            rx2.try_recv().expect("queued").to_text().ok(),
            Some("offline")
        );
    }

    /// While `write` (the connection task's side of a write larger than the socket's
    /// buffers) waits for room, a sender's frame goes to the queue and the socket is left
    /// alone; once the peer reads, `write` finishes. Gives back the peer and the sizes of the
    /// frames it read.
    async fn a_sender_queues_while(
        write: tokio::task::JoinHandle<Result<(), ()>>,
        (shared, tx, rx): (
            &Shared,
            &mpsc::Sender<Message>,
            &mut mpsc::Receiver<Message>,
        ),
        mut peer: Socket,
    ) -> (Socket, Vec<usize>) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!write.is_finished(), "the socket took 12 MiB at once");
        shared
            .send(tx, Message::binary(vec![2u8; 10]))
            .expect("queued");
        assert!(rx.try_recv().is_ok(), "the frame went to the queue");
        let reader = tokio::spawn(async move {
            loop {
                match peer.next().await {
                    Some(Ok(Message::Binary(b))) => return (peer, vec![b.len()]),
                    Some(Ok(_)) => {}
                    other => panic!("peer read ended: {other:?}"),
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(20), write)
            .await
            .expect("the write finished once the peer read")
            .expect("write task")
            .expect("written");
        reader.await.expect("reader")
    }

    /// The connection task waiting for a full socket to take a queued frame, or to finish a
    /// direct write, is woken through the waker it gave the socket; tungstenite keeps one
    /// write waker per socket, so a sender that polled the socket then (with its no-op waker)
    /// would take that wake-up away and the connection would stall. Senders stay off the
    /// socket until the write in progress is flushed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn senders_keep_off_the_socket_while_a_write_waits_for_room() {
        const BIG: usize = 12 << 20;
        let (shared, tx, mut rx, peer) = connected().await;

        // A queued frame larger than the socket's buffers: the connection task's write waits.
        shared
            .enqueue(&tx, Message::binary(vec![1u8; BIG]))
            .expect("queued");
        let m = rx.try_recv().expect("queued frame");
        let writer = {
            let shared = shared.clone();
            tokio::spawn(async move { shared.write_queued(m).await })
        };
        let (peer, _) = a_sender_queues_while(writer, (&shared, &tx, &mut rx), peer).await;

        // The same for a direct write the socket took only in part, finished by the
        // connection task.
        assert_eq!(shared.queued.load(Ordering::Acquire), 1, "the small frame");
        shared.queued.store(0, Ordering::Release);
        shared
            .send(&tx, Message::binary(vec![3u8; BIG]))
            .expect("written directly, in part");
        assert!(rx.try_recv().is_err(), "nothing was queued");
        let flusher = {
            let shared = shared.clone();
            tokio::spawn(async move {
                shared.flush.notified().await;
                shared.flush().await
            })
        };
        let (_, sizes) = a_sender_queues_while(flusher, (&shared, &tx, &mut rx), peer).await;
        assert_eq!(sizes, [BIG]);
        assert_eq!(shared.queued.load(Ordering::Acquire), 1, "the small frame");
    }

    #[tokio::test]
    async fn a_failed_queued_write_keeps_counting_its_frame() {
        let (shared, tx, mut rx, _peer) = connected().await;
        shared.enqueue(&tx, Message::text("kept")).expect("queued");
        let m = rx.try_recv().expect("queued");
        // The connection is gone before the frame is written: it stays counted, so no direct
        // write overtakes it before the next connection sends it.
        shared.socket().take();
        assert!(shared.write_queued(m).await.is_err());
        assert_eq!(shared.queued.load(Ordering::Acquire), 1);
    }
}
