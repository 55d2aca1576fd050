//! Server-Sent Events over axum (feature `sse`): a [`Topic`] keeps the last events in a
//! bounded replay window and fans new ones out; [`Topic::response`] turns a request into an
//! event stream that starts with a `retry:` hint, replays what the client missed since its
//! `Last-Event-ID`, sends heartbeat comments, and tells a client that fell out of the replay
//! window so with an `asyncforge-gap` event instead of silently skipping events.
//!
//! In process ([`Topics::new`], [`Topic::new`]), event ids are numbers that increase per topic,
//! starting above the topic's epoch: the time it was created, in microseconds since 1970. A
//! topic of a later process (a restarted server) therefore issues ids above every id of an
//! earlier one, and a client resuming with an id of the earlier process gets the gap event
//! rather than a silent skip of the events it never saw. (Ids of two processes could only meet
//! if the clock went back between them, or an earlier process published more than one event
//! per microsecond on a topic over its whole life.)
//!
//! With a backplane ([`Topics::with_backplane`]: Redis Streams or NATS JetStream, see
//! `backplane::log`), the window is one log in the engine that every replica shares: a publish
//! is done when the engine has it, every replica streams it to its subscribers of the topic,
//! and its id is the engine's (opaque to clients), so a client resumes on any replica, also
//! after every replica restarted. A resuming subscriber is registered for live events before
//! the log is read, and live events at or before the last one replayed are dropped: nothing is
//! missed between the two, nothing is sent twice.

use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream, StreamExt};
use tokio::sync::mpsc;

use super::{GAP_EVENT, Replay, ReplayBuffer};
use crate::backplane::log::{Live, LogId, LogLink, Resume, Window, resume};
pub use crate::backplane::{Backplane, BackplaneError, Failure, State};
use crate::error::{Error, ErrorKind};

/// Sizes and timing of a topic.
#[derive(Debug, Clone)]
pub struct SseConfig {
    /// Events kept for clients that resume (per topic).
    pub replay: usize,
    /// Oldest event kept for clients that resume.
    pub replay_age: Duration,
    /// `retry:` hint sent to clients.
    pub retry: Duration,
    /// Interval of heartbeat comments.
    pub heartbeat: Duration,
    /// Events queued per subscriber; a subscriber that falls further behind is dropped (it
    /// reconnects and resumes from the replay window).
    pub subscriber_queue: usize,
}

impl Default for SseConfig {
    fn default() -> Self {
        SseConfig {
            replay: 1000,
            replay_age: Duration::from_secs(3600),
            retry: Duration::from_secs(3),
            heartbeat: Duration::from_secs(15),
            subscriber_queue: 256,
        }
    }
}

/// A published event as subscribers receive it (shared by all of them): its id in the order
/// of the topic, name and data.
struct Ev {
    key: LogId,
    name: String,
    data: String,
}

type Item = Arc<Ev>;

struct Inner {
    buffer: ReplayBuffer<(Instant, String, String)>,
    subscribers: Vec<mpsc::Sender<Item>>,
}

/// The shared log a topic's events live in, and the topic's address in it.
#[derive(Clone)]
struct Shared {
    link: Arc<LogLink>,
    address: Arc<str>,
}

/// One event stream (for example one SSE channel address). Cheap to clone.
#[derive(Clone)]
pub struct Topic {
    config: SseConfig,
    window: Window,
    inner: Arc<Mutex<Inner>>,
    shared: Option<Shared>,
}

impl Topic {
    /// A topic of this process.
    pub fn new(config: SseConfig) -> Self {
        Topic::with_shared(config, None)
    }

    fn with_shared(config: SseConfig, shared: Option<Shared>) -> Self {
        let window = window(&config);
        // With a shared log the events live in the engine.
        let capacity = if shared.is_some() { 1 } else { window.count };
        let buffer = ReplayBuffer::after(capacity, epoch());
        Topic {
            config,
            window,
            inner: Arc::new(Mutex::new(Inner {
                buffer,
                subscribers: Vec::new(),
            })),
            shared,
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

    /// Publishes an event (`name` is the message name); returns its id. In process it cannot
    /// fail; with a backplane it is done when the engine has the event, and fails (with
    /// [`ErrorKind::Transport`] or [`ErrorKind::Timeout`]) when the engine did not take it.
    pub async fn publish(&self, name: &str, data: &str) -> Result<String, Error> {
        match &self.shared {
            None => Ok(self.publish_here(name, data).to_string()),
            Some(shared) => {
                let id = shared.link.append(&shared.address, name, data).await?;
                Ok(shared.link.text(id))
            }
        }
    }

    /// Publishes in process; returns the id.
    fn publish_here(&self, name: &str, data: &str) -> u64 {
        let mut inner = self.lock();
        let id = inner
            .buffer
            .push((Instant::now(), name.to_owned(), data.to_owned()));
        // One allocation per event, not per subscriber.
        let item: Item = Arc::new(Ev {
            key: LogId(id, 0),
            name: name.to_owned(),
            data: data.to_owned(),
        });
        inner
            .subscribers
            .retain(|s| s.try_send(item.clone()).is_ok());
        id
    }

    /// Hands a live event of the shared log to this replica's subscribers.
    fn deliver(&self, item: Item) {
        self.lock()
            .subscribers
            .retain(|s| s.try_send(item.clone()).is_ok());
    }

    /// The events for a (re)connecting client of a topic of this process: replayed ones, then
    /// live ones. Registering and taking the replay happen under one lock, so nothing is missed
    /// or sent twice. A client whose last id is older than the window (or than this topic: an
    /// id of an earlier process) gets the gap event with the oldest id held, one whose id this
    /// topic never issued gets it with `oldest: null`; either way the events held follow.
    fn subscribe_here(&self, last_event_id: Option<&str>) -> (Vec<SseEvent>, mpsc::Receiver<Item>) {
        let (tx, rx) = mpsc::channel(self.config.subscriber_queue.max(1));
        let mut inner = self.lock();
        let floor = Instant::now().checked_sub(self.window.age);
        inner
            .buffer
            .expire(|(at, _, _)| floor.is_none_or(|floor| *at >= floor));
        let mut first = vec![SseEvent::default().retry(self.config.retry)];
        if let Some(last) = last_event_id {
            let oldest = match inner.buffer.since_header(last) {
                Replay::Events(events) => {
                    first.extend(
                        events
                            .into_iter()
                            .map(|(id, (_, n, d))| event(&id.to_string(), &n, &d)),
                    );
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
                    first.extend(
                        events
                            .into_iter()
                            .map(|(id, (_, n, d))| event(&id.to_string(), &n, &d)),
                    );
                }
            }
        }
        inner.subscribers.push(tx);
        (first, rx)
    }

    /// The same for a topic in a shared log. The subscriber is registered first (and only
    /// while the live subscription is up), then the log is read after the client's id; the
    /// returned floor is the last id the replay covers: live events up to it are duplicates.
    async fn subscribe_shared(
        &self,
        shared: &Shared,
        last_event_id: Option<&str>,
    ) -> Result<(Vec<SseEvent>, mpsc::Receiver<Item>, Option<LogId>), BackplaneError> {
        let (tx, rx) = mpsc::channel(self.config.subscriber_queue.max(1));
        self.lock().subscribers.push(tx);
        // The live subscription says it is down before it ends the streams: a subscriber
        // registered after that sees it here.
        let state = shared.link.state();
        if !matches!(state, State::Connected { .. }) {
            return Err(BackplaneError::new(
                Failure::Unavailable,
                format!("the SSE event log's subscription is {state:?}"),
            ));
        }
        let mut first = vec![SseEvent::default().retry(self.config.retry)];
        let Some(last) = last_event_id else {
            return Ok((first, rx, None));
        };
        let after = LogId::parse(last);
        let history = shared.link.read(&shared.address, after).await?;
        let newest = history.last;
        let events = match after.map(|a| resume(a, history)) {
            Some(Resume::Events(events)) => events,
            Some(Resume::Gap { oldest, events }) => {
                let oldest = oldest.map(|o| shared.link.text(o));
                let info = serde_json::json!({ "lastEventId": last, "oldest": oldest });
                first.push(SseEvent::default().event(GAP_EVENT).data(info.to_string()));
                events
            }
            None => {
                let info = serde_json::json!({ "lastEventId": last, "oldest": null });
                first.push(SseEvent::default().event(GAP_EVENT).data(info.to_string()));
                shared.link.read(&shared.address, None).await?.events
            }
        };
        let mut floor = events.last().map(|e| e.id);
        // The client's own id, when the log issued it: nothing at or before it is news.
        if let Some(a) = after.filter(|a| newest.is_some_and(|n| n >= *a)) {
            floor = floor.max(Some(a));
        }
        first.extend(
            events
                .iter()
                .map(|e| event(&shared.link.text(e.id), &e.name, &e.data)),
        );
        Ok((first, rx, floor))
    }

    /// The event-stream response for a request (reads `Last-Event-ID`). With a backplane
    /// whose engine cannot be reached, `503 Service Unavailable` (clients retry).
    pub async fn response(&self, headers: &HeaderMap) -> Response {
        let last = headers.get("last-event-id").and_then(|v| v.to_str().ok());
        let (first, rx, floor) = match &self.shared {
            None => {
                let (first, rx) = self.subscribe_here(last);
                (first, rx, None)
            }
            Some(shared) => match self.subscribe_shared(shared, last).await {
                Ok(subscribed) => subscribed,
                Err(e) => {
                    tracing::warn!(error = %e, "SSE stream refused: the event log is not reachable");
                    return error_response(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "the event log is not reachable",
                    );
                }
            },
        };
        let topic = self.clone();
        let live = stream::unfold(rx, |mut rx| async move {
            let item = rx.recv().await?;
            Some((item, rx))
        })
        .filter(move |item| std::future::ready(floor.is_none_or(|f| item.key > f)))
        .map(move |item| event(&topic.id_text(item.key), &item.name, &item.data));
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

    fn id_text(&self, key: LogId) -> String {
        match &self.shared {
            None => key.0.to_string(),
            Some(shared) => shared.link.text(key),
        }
    }

    fn is_idle(&self) -> bool {
        self.subscribers() == 0 && (self.shared.is_some() || self.lock().buffer.is_empty())
    }
}

/// The bounds of a topic's replay window.
fn window(config: &SseConfig) -> Window {
    Window {
        count: config.replay.max(1),
        age: config.replay_age,
    }
}

/// A new topic's epoch: microseconds since 1970 (0 if the clock is before it), so that its ids
/// are above those of topics created earlier, in this process or an earlier one.
fn epoch() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX / 2))
}

fn event(id: &str, name: &str, data: &str) -> SseEvent {
    let e = SseEvent::default().id(id).data(data);
    if name.is_empty() || name == "message" {
        e
    } else {
        e.event(name)
    }
}

type TopicMap = Arc<Mutex<std::collections::HashMap<String, Topic>>>;

fn lock_map(map: &TopicMap) -> MutexGuard<'_, std::collections::HashMap<String, Topic>> {
    map.lock().unwrap_or_else(|e| e.into_inner())
}

/// The topics of an SSE endpoint, one per concrete channel address, created on first use.
/// At most `max` topics exist: a server cannot be made to hold unbounded state by clients
/// inventing addresses (topics without subscribers and events are dropped first).
#[derive(Clone)]
pub struct Topics {
    config: SseConfig,
    max: usize,
    map: TopicMap,
    link: Option<Arc<LogLink>>,
}

impl Topics {
    /// A registry of at most `max` topics of this process.
    pub fn new(config: SseConfig, max: usize) -> Self {
        Topics::with_backplane(config, max, &Backplane::in_process())
    }

    /// A registry of at most `max` topics whose events live in the log of `backplane`
    /// (Redis Streams or NATS JetStream), shared with the other replicas using it; in process
    /// for [`Backplane::in_process`]. With an engine, call it inside a Tokio runtime: it
    /// starts the task that follows the log.
    pub fn with_backplane(config: SseConfig, max: usize, backplane: &Backplane) -> Self {
        let map: TopicMap = Arc::default();
        let weak = Arc::downgrade(&map);
        let on: crate::backplane::log::OnLive = Arc::new(move |live| {
            let Some(map) = weak.upgrade() else { return };
            match live {
                Live::Event(address, e) => {
                    let topic = lock_map(&map).get(&address).cloned();
                    if let Some(topic) = topic {
                        topic.deliver(Arc::new(Ev {
                            key: e.id,
                            name: e.name,
                            data: e.data,
                        }));
                    }
                }
                Live::Lost => {
                    let topics: Vec<Topic> = lock_map(&map).values().cloned().collect();
                    for t in topics {
                        t.close_subscribers();
                    }
                }
            }
        });
        let link = LogLink::start(backplane, window(&config), on).map(Arc::new);
        Topics {
            config,
            max,
            map,
            link,
        }
    }

    /// The state of the shared log's live subscription (`None` in process). While it is not
    /// connected, event streams are refused (`503`) and publishes fail.
    pub fn backplane_state(&self) -> Option<State> {
        self.link.as_ref().map(|l| l.state())
    }

    /// Waits until the shared log's live subscription is connected (or closed for good) and
    /// returns its state; `None` at once in process.
    pub async fn backplane_connected(&self) -> Option<State> {
        match &self.link {
            Some(link) => Some(link.connected().await),
            None => None,
        }
    }

    /// The topic of an address, created if needed; `None` when the registry is full.
    pub fn topic(&self, address: &str) -> Option<Topic> {
        let mut map = lock_map(&self.map);
        if let Some(t) = map.get(address) {
            return Some(t.clone());
        }
        if map.len() >= self.max {
            map.retain(|_, t| !t.is_idle());
            if map.len() >= self.max {
                tracing::warn!(address, max = self.max, "SSE topic limit reached");
                return None;
            }
        }
        let shared = self.link.as_ref().map(|link| Shared {
            link: link.clone(),
            address: Arc::from(address),
        });
        let t = Topic::with_shared(self.config.clone(), shared);
        map.insert(address.to_owned(), t.clone());
        Some(t)
    }

    /// Publishes an event to the topic of `address`; returns its id. With a backplane no
    /// topic is held here for it (the log holds it); in process the topic is created, and a
    /// full registry refuses the event ([`ErrorKind::Busy`]).
    pub async fn publish(&self, address: &str, name: &str, data: &str) -> Result<String, Error> {
        if let Some(link) = &self.link {
            let id = link.append(address, name, data).await?;
            return Ok(link.text(id));
        }
        match self.topic(address) {
            Some(topic) => topic.publish(name, data).await,
            None => Err(Error::new(
                ErrorKind::Busy,
                format!("no room for the SSE topic `{address}`"),
            )),
        }
    }

    /// The topic of an address if it exists.
    pub fn get(&self, address: &str) -> Option<Topic> {
        lock_map(&self.map).get(address).cloned()
    }

    /// Ends every stream of every topic (graceful shutdown: clients reconnect and resume).
    pub fn close_all(&self) {
        let map = lock_map(&self.map);
        for t in map.values() {
            t.close_subscribers();
        }
    }

    /// Number of topics.
    pub fn len(&self) -> usize {
        lock_map(&self.map).len()
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
