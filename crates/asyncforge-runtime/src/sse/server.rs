//! Server-Sent Events over axum (feature `sse`): a [`Topic`] keeps the last events in a
//! bounded replay buffer and fans new ones out; [`Topic::response`] turns
//! a request into an event stream that starts with a `retry:` hint, replays what the client
//! missed since its `Last-Event-ID`, sends heartbeat comments, and tells a client that fell out
//! of the replay window so with an `asyncforge-gap` event instead of silently skipping events.
//!
//! Event ids are numbers that increase per topic, starting above the topic's epoch: the time it
//! was created, in microseconds since 1970. A topic of a later process (a restarted server)
//! therefore issues ids above every id of an earlier one, and a client resuming with an id of
//! the earlier process gets the gap event rather than a silent skip of the events it never saw.
//! (Ids of two processes could only meet if the clock went back between them, or an earlier
//! process published more than one event per microsecond on a topic over its whole life.)

use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream, StreamExt};
use tokio::sync::mpsc;

use super::{GAP_EVENT, Replay, ReplayBuffer};

/// Sizes and timing of a topic.
#[derive(Debug, Clone)]
pub struct SseConfig {
    /// Events kept for clients that resume.
    pub replay: usize,
    /// `retry:` hint sent to clients.
    pub retry: Duration,
    /// Interval of heartbeat comments.
    pub heartbeat: Duration,
    /// Events queued per subscriber; a subscriber that falls further behind is dropped (it
    /// reconnects and resumes from the replay buffer).
    pub subscriber_queue: usize,
}

impl Default for SseConfig {
    fn default() -> Self {
        SseConfig {
            replay: 1000,
            retry: Duration::from_secs(3),
            heartbeat: Duration::from_secs(15),
            subscriber_queue: 256,
        }
    }
}

/// A published event as subscribers receive it: id, name, data, shared by all of them.
type Item = Arc<(u64, String, String)>;

struct Inner {
    buffer: ReplayBuffer<(String, String)>,
    subscribers: Vec<mpsc::Sender<Item>>,
}

/// One event stream (for example one SSE channel address). Cheap to clone.
#[derive(Clone)]
pub struct Topic {
    config: SseConfig,
    inner: Arc<Mutex<Inner>>,
}

impl Topic {
    /// A topic.
    pub fn new(config: SseConfig) -> Self {
        let buffer = ReplayBuffer::after(config.replay, epoch());
        Topic {
            config,
            inner: Arc::new(Mutex::new(Inner {
                buffer,
                subscribers: Vec::new(),
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Number of connected subscribers.
    pub fn subscribers(&self) -> usize {
        let mut inner = self.lock();
        inner.subscribers.retain(|s| !s.is_closed());
        inner.subscribers.len()
    }

    /// Ends every subscriber's stream (the events stay for clients that resume).
    pub fn close_subscribers(&self) {
        self.lock().subscribers.clear();
    }

    /// Publishes an event (`name` is the message name); returns its id.
    pub fn publish(&self, name: &str, data: &str) -> u64 {
        let mut inner = self.lock();
        let id = inner.buffer.push((name.to_owned(), data.to_owned()));
        // One allocation per event, not per subscriber.
        let item: Item = Arc::new((id, name.to_owned(), data.to_owned()));
        inner
            .subscribers
            .retain(|s| s.try_send(item.clone()).is_ok());
        id
    }

    /// The events for a (re)connecting client: replayed ones, then live ones. Registering and
    /// taking the replay happen under one lock, so nothing is missed or sent twice. A client
    /// whose last id is older than the window (or than this topic: an id of an earlier
    /// process) gets the gap event with the oldest id held, one whose id this topic never
    /// issued gets it with `oldest: null`; either way the events held follow.
    fn subscribe(&self, last_event_id: Option<&str>) -> (Vec<SseEvent>, mpsc::Receiver<Item>) {
        let (tx, rx) = mpsc::channel(self.config.subscriber_queue.max(1));
        let mut inner = self.lock();
        let mut first = vec![SseEvent::default().retry(self.config.retry)];
        if let Some(last) = last_event_id {
            let oldest = match inner.buffer.since_header(last) {
                Replay::Events(events) => {
                    first.extend(events.into_iter().map(|(id, (n, d))| event(id, &n, &d)));
                    None
                }
                Replay::Gap { oldest } => Some(Some(oldest)),
                Replay::Unknown => Some(None),
            };
            if let Some(oldest) = oldest {
                let info = serde_json::json!({ "lastEventId": last, "oldest": oldest });
                first.push(SseEvent::default().event(GAP_EVENT).data(info.to_string()));
                let held = inner.buffer.oldest().saturating_sub(1);
                if let Replay::Events(events) = inner.buffer.since(held) {
                    first.extend(events.into_iter().map(|(id, (n, d))| event(id, &n, &d)));
                }
            }
        }
        inner.subscribers.push(tx);
        (first, rx)
    }

    /// The event-stream response for a request (reads `Last-Event-ID`).
    pub fn response(&self, headers: &HeaderMap) -> Response {
        let last = headers.get("last-event-id").and_then(|v| v.to_str().ok());
        let (first, rx) = self.subscribe(last);
        let live = stream::unfold(rx, |mut rx| async move {
            let item = rx.recv().await?;
            let (id, name, data) = &*item;
            Some((event(*id, name, data), rx))
        });
        let events: std::pin::Pin<Box<dyn Stream<Item = Result<SseEvent, Infallible>> + Send>> =
            Box::pin(stream::iter(first).chain(live).map(Ok));
        Sse::new(events)
            .keep_alive(
                KeepAlive::new()
                    .interval(self.config.heartbeat)
                    .text("heartbeat"),
            )
            .into_response()
    }
}

/// A new topic's epoch: microseconds since 1970 (0 if the clock is before it), so that its ids
/// are above those of topics created earlier, in this process or an earlier one.
fn epoch() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX / 2))
}

fn event(id: u64, name: &str, data: &str) -> SseEvent {
    let e = SseEvent::default().id(id.to_string()).data(data);
    if name.is_empty() || name == "message" {
        e
    } else {
        e.event(name)
    }
}

/// The topics of an SSE endpoint, one per concrete channel address, created on first use.
/// At most `max` topics exist: a server cannot be made to hold unbounded state by clients
/// inventing addresses (topics without subscribers and events are dropped first).
#[derive(Clone)]
pub struct Topics {
    config: SseConfig,
    max: usize,
    map: Arc<Mutex<std::collections::HashMap<String, Topic>>>,
}

impl Topics {
    /// A registry of at most `max` topics.
    pub fn new(config: SseConfig, max: usize) -> Self {
        Topics {
            config,
            max,
            map: Arc::new(Mutex::new(std::collections::HashMap::new())),
        }
    }

    /// The topic of an address, created if needed; `None` when the registry is full.
    pub fn topic(&self, address: &str) -> Option<Topic> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = map.get(address) {
            return Some(t.clone());
        }
        if map.len() >= self.max {
            map.retain(|_, t| t.subscribers() > 0 || !t.lock().buffer.is_empty());
            if map.len() >= self.max {
                tracing::warn!(address, max = self.max, "SSE topic limit reached");
                return None;
            }
        }
        let t = Topic::new(self.config.clone());
        map.insert(address.to_owned(), t.clone());
        Some(t)
    }

    /// The topic of an address if it exists.
    pub fn get(&self, address: &str) -> Option<Topic> {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.get(address).cloned()
    }

    /// Ends every stream of every topic (graceful shutdown: clients reconnect and resume).
    pub fn close_all(&self) {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        for t in map.values() {
            t.close_subscribers();
        }
    }

    /// Number of topics.
    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// No topic exists.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

pub use crate::endpoint::error_response;

/// `202 Accepted` with an empty body.
pub fn accepted() -> Response {
    axum::http::StatusCode::ACCEPTED.into_response()
}

/// `200 OK` with a reply message as the body (its content type; the request's correlation
/// id filled in where the reply lacks one).
pub fn reply_response<O: crate::endpoint::Outgoing + ?Sized>(
    reply: &O,
    correlation: Option<&serde_json::Value>,
) -> Response {
    match crate::endpoint::outgoing_bytes(reply, correlation) {
        Ok(bytes) => (
            axum::http::StatusCode::OK,
            [(
                axum::http::header::CONTENT_TYPE,
                reply.content_type().unwrap_or("application/json"),
            )],
            bytes,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "reply could not be encoded");
            error_response(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "the reply could not be encoded",
            )
        }
    }
}
