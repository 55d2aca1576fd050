//! WebSocket client side (feature `ws-client`): a connection that reconnects by itself.
//!
//! [`WsClient::connect`] starts a task that connects, pumps frames both ways, and on any
//! failure reconnects after a [`Backoff`] delay (exponential with jitter, bounded). Frames
//! sent while disconnected wait in a bounded queue and go out after the reconnect; received
//! frames come out of [`WsClient::recv`] in order. [`WsClient::state`] tells whether the
//! connection is up and how many times it reconnected.
//!
//! Generated clients use [`WsClient::connect_with`] instead: their [`Dispatch`] decodes each
//! received frame inside the connection task (no copy of the frame, no hand-over to another
//! task), completes waiting requests and queues typed events for the application.

use std::future::Future;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;

use super::backoff::Backoff;
use super::frame::Frame;

/// The state of a client's connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Not connected yet, or reconnecting; `attempt` counts failed attempts since the last
    /// success.
    Connecting {
        /// Failed attempts so far.
        attempt: u32,
    },
    /// Connected; `generation` counts successful connections (1 for the first).
    Connected {
        /// Successful connections so far.
        generation: u64,
    },
    /// Gave up (the backoff's attempt limit) or was closed.
    Closed,
    /// The server refused the upgrade with a 4xx status (not retried).
    Refused {
        /// HTTP status.
        status: u16,
        /// The response body (the server's reason).
        reason: String,
    },
}

/// The sending half of a [`WsClient`] (see [`WsClient::split`]). Cheap to clone.
#[derive(Clone)]
pub struct WsSender {
    out: mpsc::Sender<Frame>,
    state: watch::Receiver<State>,
}

impl WsSender {
    /// Queues a frame; it is sent as soon as the connection is up.
    pub fn send(&self, frame: Frame) -> Result<(), ClientError> {
        queue(&self.out, frame)
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state.borrow().clone()
    }

    /// Waits until the state satisfies `f`.
    pub async fn wait_for(&self, f: impl Fn(&State) -> bool) -> State {
        let mut state = self.state.clone();
        match state.wait_for(|s| f(s)).await {
            Ok(s) => s.clone(),
            Err(_) => State::Closed,
        }
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

fn queue(out: &mpsc::Sender<Frame>, frame: Frame) -> Result<(), ClientError> {
    out.try_send(frame).map_err(|e| match e {
        mpsc::error::TrySendError::Full(_) => ClientError::QueueFull,
        mpsc::error::TrySendError::Closed(_) => ClientError::Closed,
    })
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
        }
    }
}

/// What a client does with each frame it receives, run inside the connection task (see
/// [`WsClient::connect_with`]). While `dispatch` waits (for room in the application's event
/// queue, say), the connection reads nothing more: backpressure reaches the server.
pub trait Dispatch: Send + 'static {
    /// Handles one received frame (a text frame's UTF-8 bytes, or a binary frame's bytes).
    /// Returns `false` to stop the client (its application side is gone).
    fn dispatch(&mut self, data: &[u8]) -> impl Future<Output = bool> + Send;
}

/// The dispatch of [`WsClient::connect`]: received frames go to a bounded queue.
struct Queue(mpsc::Sender<Frame>);

impl Queue {
    async fn push(&mut self, frame: Frame) -> bool {
        self.0.send(frame).await.is_ok()
    }
}

/// A self-reconnecting WebSocket client.
pub struct WsClient {
    out: mpsc::Sender<Frame>,
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
        let task = tokio::spawn(run(
            url,
            config,
            out_rx,
            Inbound::<NoDispatch>::Queue(Queue(in_tx)),
            state_tx,
        ));
        WsClient {
            out: out_tx,
            incoming: in_rx,
            state: state_rx,
            task,
        }
    }

    /// Starts connecting to `url` in the background, handing every received frame to the
    /// dispatch that `make` builds (it gets the sender, to answer requests with). Returns the
    /// sender and the connection task (abort it to stop the client).
    pub fn connect_with<D: Dispatch>(
        url: impl Into<String>,
        config: ClientConfig,
        make: impl FnOnce(WsSender) -> D,
    ) -> (WsSender, tokio::task::JoinHandle<()>) {
        let (out_tx, out_rx) = mpsc::channel(config.queue.max(1));
        let (state_tx, state_rx) = watch::channel(State::Connecting { attempt: 0 });
        let sender = WsSender {
            out: out_tx,
            state: state_rx,
        };
        let dispatch = make(sender.clone());
        let task = tokio::spawn(run(
            url.into(),
            config,
            out_rx,
            Inbound::Dispatch(dispatch),
            state_tx,
        ));
        (sender, task)
    }

    /// Queues a frame; it is sent as soon as the connection is up.
    pub fn send(&self, frame: Frame) -> Result<(), ClientError> {
        queue(&self.out, frame)
    }

    /// Splits the client into a cloneable sender and the receiver (which owns the
    /// connection: dropping it stops the client).
    pub fn split(self) -> (WsSender, WsReceiver) {
        (
            WsSender {
                out: self.out,
                state: self.state,
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
    pub async fn wait_for(&mut self, f: impl Fn(&State) -> bool) -> State {
        match self.state.wait_for(|s| f(s)).await {
            Ok(s) => s.clone(),
            Err(_) => State::Closed,
        }
    }

    /// Stops the client.
    pub fn close(self) {
        self.task.abort();
    }
}

/// Where received frames go: a queue of owned frames, or a dispatch that borrows them.
enum Inbound<D> {
    Queue(Queue),
    Dispatch(D),
}

/// The dispatch type of a plain [`WsClient::connect`], which queues frames instead.
struct NoDispatch;

impl Dispatch for NoDispatch {
    async fn dispatch(&mut self, _: &[u8]) -> bool {
        false
    }
}

impl<D: Dispatch> Inbound<D> {
    async fn text(&mut self, t: &str) -> bool {
        match self {
            Inbound::Queue(q) => q.push(Frame::Text(t.to_owned())).await,
            Inbound::Dispatch(d) => d.dispatch(t.as_bytes()).await,
        }
    }

    async fn binary(&mut self, b: &[u8]) -> bool {
        match self {
            Inbound::Queue(q) => q.push(Frame::Binary(b.to_vec())).await,
            Inbound::Dispatch(d) => d.dispatch(b).await,
        }
    }
}

async fn run<D: Dispatch>(
    url: String,
    config: ClientConfig,
    mut out: mpsc::Receiver<Frame>,
    mut incoming: Inbound<D>,
    state: watch::Sender<State>,
) {
    let mut delays = config.backoff.delays();
    let mut generation = 0u64;
    // A message whose send failed, sent first on the next connection (a `Message` clones
    // without copying its payload).
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
        let _ = state.send(State::Connected { generation });
        let (mut sink, mut stream) = socket.split();
        // A frame whose send failed on the previous connection goes first.
        if let Some(m) = pending.take()
            && sink.send(m.clone()).await.is_err()
        {
            pending = Some(m);
            continue;
        }
        loop {
            tokio::select! {
                frame = out.recv() => {
                    let Some(frame) = frame else {
                        let _ = sink.close().await;
                        let _ = state.send(State::Closed);
                        return;
                    };
                    let message = to_message(frame);
                    if sink.send(message.clone()).await.is_err() {
                        pending = Some(message);
                        break;
                    }
                }
                msg = stream.next() => match msg {
                    Some(Ok(Message::Text(t))) => {
                        if !incoming.text(t.as_str()).await {
                            let _ = state.send(State::Closed);
                            return;
                        }
                    }
                    Some(Ok(Message::Binary(b))) => {
                        if !incoming.binary(&b).await {
                            let _ = state.send(State::Closed);
                            return;
                        }
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => {}
                },
            }
        }
        tracing::info!(%url, "WebSocket connection lost; reconnecting");
        if let Some(d) = delays.next() {
            tokio::time::sleep(d).await;
        } else {
            break;
        }
    }
    let _ = state.send(State::Closed);
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
