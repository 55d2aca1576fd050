//! WebSocket client side (feature `ws-client`): a connection that reconnects by itself.
//!
//! [`WsClient::connect`] starts a task that connects, pumps frames both ways, and on any
//! failure reconnects after a [`Backoff`] delay (exponential with jitter, bounded). Frames
//! sent while disconnected wait in a bounded queue and go out after the reconnect; received
//! frames come out of [`WsClient::recv`] in order. [`WsClient::state`] tells whether the
//! connection is up and how many times it reconnected.

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
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            backoff: Backoff::default(),
            queue: 1024,
            connect_timeout: Duration::from_secs(10),
        }
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
        let task = tokio::spawn(run(url, config, out_rx, in_tx, state_tx));
        WsClient {
            out: out_tx,
            incoming: in_rx,
            state: state_rx,
            task,
        }
    }

    /// Queues a frame; it is sent as soon as the connection is up.
    pub fn send(&self, frame: Frame) -> Result<(), ClientError> {
        self.out.try_send(frame).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => ClientError::QueueFull,
            mpsc::error::TrySendError::Closed(_) => ClientError::Closed,
        })
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

async fn run(
    url: String,
    config: ClientConfig,
    mut out: mpsc::Receiver<Frame>,
    incoming: mpsc::Sender<Frame>,
    state: watch::Sender<State>,
) {
    let mut delays = config.backoff.delays();
    let mut generation = 0u64;
    let mut pending: Option<Frame> = None;
    loop {
        let attempt = delays.attempts();
        let _ = state.send(State::Connecting { attempt });
        let connected = tokio::time::timeout(
            config.connect_timeout,
            tokio_tungstenite::connect_async(url.as_str()),
        )
        .await;
        let socket = match connected {
            Ok(Ok((socket, _))) => socket,
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
        if let Some(f) = pending.take()
            && sink.send(to_message(&f)).await.is_err()
        {
            pending = Some(f);
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
                    if sink.send(to_message(&frame)).await.is_err() {
                        pending = Some(frame);
                        break;
                    }
                }
                msg = stream.next() => match msg {
                    Some(Ok(Message::Text(t))) => {
                        if incoming.send(Frame::Text(t.as_str().to_owned())).await.is_err() {
                            let _ = state.send(State::Closed);
                            return;
                        }
                    }
                    Some(Ok(Message::Binary(b))) => {
                        if incoming.send(Frame::Binary(b.to_vec())).await.is_err() {
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

fn to_message(f: &Frame) -> Message {
    match f {
        Frame::Text(t) => Message::text(t.clone()),
        Frame::Binary(b) => Message::binary(b.clone()),
    }
}
