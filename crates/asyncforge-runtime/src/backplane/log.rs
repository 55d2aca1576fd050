//! The SSE event log replicas share (feature `sse` with `redis` or `nats`): what makes an SSE
//! topic's replay window (`Last-Event-ID`) the same on every replica and across restarts.
//!
//! Each topic (one concrete channel address) is a log in the engine: a Redis stream
//! (`{prefix}.sse.{address}`, `XADD` with an exact `MAXLEN` and a `MINID` age bound) or the
//! subject `{prefix}.sse.{address}` of the JetStream stream `{prefix}_sse` (with '.' → '_';
//! `max_messages_per_subject` and `max_age`). A publish is done when the engine has appended
//! it; its id is the engine's (a stream id `ms-seq`, a stream sequence), so any replica
//! resumes from it. Every event also records the id of the topic's previous event (`prev`),
//! written atomically with it (in a Lua script; with JetStream's expected last subject
//! sequence): a resuming client whose id is not the `prev` of the oldest event after it
//! missed events the window no longer holds, and is told so.
//!
//! Every replica follows the log live on one subscription (a Redis pub/sub channel the append
//! script publishes to, a JetStream ordered consumer), in the log's order, and hands each event
//! to its topic's subscribers. When that subscription is lost, the replica ends its SSE
//! streams (their clients resume, from the log, wherever they reconnect) and reconnects with
//! backoff; meanwhile subscribing and publishing fail.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use tokio::sync::watch;

use super::{Backplane, BackplaneError, BoxFuture, Failure, State};

/// An event id of the log, ordered as the log orders them: a Redis stream id (`ms-seq`) or a
/// JetStream stream sequence (`seq`, as `(seq, 0)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct LogId(pub(crate) u64, pub(crate) u64);

impl LogId {
    /// Reads `ms-seq` or `seq`; `None` for anything else.
    pub(crate) fn parse(text: &str) -> Option<LogId> {
        let text = text.trim();
        match text.split_once('-') {
            Some((a, b)) => Some(LogId(a.parse().ok()?, b.parse().ok()?)),
            None => Some(LogId(text.parse().ok()?, 0)),
        }
    }
}

/// One event as the log holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Logged {
    /// Its id.
    pub(crate) id: LogId,
    /// The id of the topic's event before it (`None`: the first the log knows of).
    pub(crate) prev: Option<LogId>,
    /// The event's name.
    pub(crate) name: String,
    /// The event's data.
    pub(crate) data: String,
}

/// What the log holds of a topic after an id.
#[derive(Debug, Default)]
pub(crate) struct History {
    /// The events after the id, oldest first.
    pub(crate) events: Vec<Logged>,
    /// The id of the topic's newest event, as far as the log knows (read before the events).
    pub(crate) last: Option<LogId>,
}

/// What a client resuming after an id gets.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Resume {
    /// Everything it missed.
    Events(Vec<Logged>),
    /// It missed events the window no longer holds: a gap, then what is still there.
    Gap {
        /// The oldest id still held (of these events).
        oldest: Option<LogId>,
        /// The events still held after the client's id.
        events: Vec<Logged>,
    },
}

/// Decides whether a client whose last event is `after` missed events the log dropped: it did
/// not when the oldest event after `after` follows an event at or before `after`, or (nothing
/// after it) when the topic's newest event is at or before it.
pub(crate) fn resume(after: LogId, history: History) -> Resume {
    let complete = match history.events.first() {
        Some(first) => first.prev.is_some_and(|prev| prev <= after),
        None => history.last.is_some_and(|last| last <= after),
    };
    if complete {
        Resume::Events(history.events)
    } else {
        Resume::Gap {
            oldest: history.events.first().map(|e| e.id),
            events: history.events,
        }
    }
}

/// The bounds of every topic's window, in process and in the engines.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    /// Most events held per topic.
    pub(crate) count: usize,
    /// Oldest event held.
    pub(crate) age: Duration,
}

/// One engine's log.
pub(crate) trait EventLog: Send + Sync + 'static {
    /// Appends an event to `topic`; `Ok` with its id once the engine has it.
    fn append<'a>(
        &'a self,
        topic: &'a str,
        name: &'a str,
        data: &'a str,
    ) -> BoxFuture<'a, Result<LogId, BackplaneError>>;

    /// What the log holds of `topic` after `after` (everything held when `None`).
    fn read<'a>(
        &'a self,
        topic: &'a str,
        after: Option<LogId>,
    ) -> BoxFuture<'a, Result<History, BackplaneError>>;

    /// Follows every topic's new events, in the log's order: `Ok` once the subscription is in
    /// place, with `(topic, event)`s; the stream ends when the connection is lost.
    fn follow(&self)
    -> BoxFuture<'_, Result<BoxStream<'static, (String, Logged)>, BackplaneError>>;

    /// An id as the engine writes it (the SSE `id:`).
    fn text(&self, id: LogId) -> String;
}

/// What the live subscription hands the topics.
pub(crate) enum Live {
    /// A new event of a topic.
    Event(String, Logged),
    /// The subscription is lost (its state already says so): end every stream.
    Lost,
}

/// What receives the live subscription's output.
pub(crate) type OnLive = Arc<dyn Fn(Live) + Send + Sync>;

/// A replica's connection to the shared log: the engine, and the live subscription's task and
/// state. Dropping it ends the task.
pub(crate) struct LogLink {
    log: Result<Arc<dyn EventLog>, BackplaneError>,
    timeout: Duration,
    /// Appends waiting for the engine at once, at most (`Backplane`'s queue): callers beyond
    /// wait their turn.
    slots: tokio::sync::Semaphore,
    state: watch::Receiver<State>,
    _stop: watch::Sender<()>,
}

#[cfg(feature = "redis")]
fn redis_log(url: &str, prefix: &str, window: Window) -> Result<Arc<dyn EventLog>, BackplaneError> {
    Ok(Arc::new(super::log_redis::RedisLog::new(
        url, prefix, window,
    )?))
}

#[cfg(not(feature = "redis"))]
fn redis_log(url: &str, _: &str, _: Window) -> Result<Arc<dyn EventLog>, BackplaneError> {
    Err(BackplaneError::new(
        Failure::Config,
        format!("no redis event log in this build for `{url}`"),
    ))
}

#[cfg(feature = "nats")]
fn nats_log(url: &str, prefix: &str, window: Window) -> Result<Arc<dyn EventLog>, BackplaneError> {
    Ok(Arc::new(super::log_nats::NatsLog::new(url, prefix, window)))
}

#[cfg(not(feature = "nats"))]
fn nats_log(url: &str, _: &str, _: Window) -> Result<Arc<dyn EventLog>, BackplaneError> {
    Err(BackplaneError::new(
        Failure::Config,
        format!("no nats event log in this build for `{url}`"),
    ))
}

impl LogLink {
    /// The log of `config` (`None` in process), following it live into `on`. Must run inside
    /// a Tokio runtime; without one the link is closed and every publish fails.
    pub(crate) fn start(config: &Backplane, window: Window, on: OnLive) -> Option<LogLink> {
        let url = config.url.as_deref()?;
        let (state_tx, state) = watch::channel(State::Connecting { attempt: 0 });
        let (stop, stopped) = watch::channel(());
        let log = match url.split_once("://").map(|(s, _)| s) {
            Some("nats") => nats_log(url, &config.prefix, window),
            _ => redis_log(url, &config.prefix, window),
        };
        let link = |log| LogLink {
            log,
            timeout: config.publish_timeout,
            slots: tokio::sync::Semaphore::new(config.queue.max(1)),
            state,
            _stop: stop,
        };
        let engine = match &log {
            Ok(engine) => engine.clone(),
            Err(e) => {
                tracing::error!(error = %e, "SSE event log not started");
                state_tx.send_replace(State::Closed);
                return Some(link(log));
            }
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::error!(
                "SSE event log not started: topics with a backplane need a Tokio runtime"
            );
            state_tx.send_replace(State::Closed);
            return Some(link(Err(closed())));
        };
        runtime.spawn(follow(
            engine,
            on,
            config.backoff.clone(),
            state_tx,
            stopped,
        ));
        Some(link(log))
    }

    /// The live subscription's state.
    pub(crate) fn state(&self) -> State {
        self.state.borrow().clone()
    }

    /// Waits until the live subscription is connected, or closed for good.
    pub(crate) async fn connected(&self) -> State {
        crate::connection::wait_for(self.state.clone(), |s| {
            matches!(s, State::Connected { .. } | State::Closed)
        })
        .await
    }

    /// Appends an event; its id once the engine has it.
    pub(crate) async fn append(
        &self,
        topic: &str,
        name: &str,
        data: &str,
    ) -> Result<LogId, BackplaneError> {
        let log = self.log.as_ref().map_err(Clone::clone)?;
        let _slot = self.slots.acquire().await.map_err(|_| closed())?;
        self.within(log.append(topic, name, data)).await
    }

    /// What the log holds of `topic` after `after`.
    pub(crate) async fn read(
        &self,
        topic: &str,
        after: Option<LogId>,
    ) -> Result<History, BackplaneError> {
        let log = self.log.as_ref().map_err(Clone::clone)?;
        self.within(log.read(topic, after)).await
    }

    /// An id as the engine writes it.
    pub(crate) fn text(&self, id: LogId) -> String {
        match &self.log {
            Ok(log) => log.text(id),
            Err(_) => format!("{}-{}", id.0, id.1),
        }
    }

    async fn within<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, BackplaneError>>,
    ) -> Result<T, BackplaneError> {
        match tokio::time::timeout(self.timeout, work).await {
            Ok(result) => result,
            Err(_) => Err(BackplaneError::new(
                Failure::Timeout,
                format!("no answer from the engine within {:?}", self.timeout),
            )),
        }
    }
}

fn closed() -> BackplaneError {
    BackplaneError::new(Failure::Closed, "the SSE event log is not running")
}

/// The live subscription's task: follows the log, hands its events over, and when the
/// subscription is lost says so (state first, then [`Live::Lost`]) and reconnects with
/// backoff, until the link is dropped.
async fn follow(
    log: Arc<dyn EventLog>,
    on: OnLive,
    backoff: crate::backoff::Backoff,
    state: watch::Sender<State>,
    mut stopped: watch::Receiver<()>,
) {
    let run = async {
        let mut delays = backoff.delays();
        let mut generation = 0u64;
        loop {
            let attempt = delays.attempts();
            match log.follow().await {
                Ok(mut events) => {
                    delays.reset();
                    generation += 1;
                    state.send_replace(State::Connected { generation });
                    tracing::info!(generation, "SSE event log subscription connected");
                    while let Some((topic, event)) = events.next().await {
                        on(Live::Event(topic, event));
                    }
                    state.send_replace(State::Connecting { attempt: 0 });
                    on(Live::Lost);
                    tracing::warn!("SSE event log subscription lost; streams ended, reconnecting");
                }
                Err(e) => tracing::warn!(error = %e, attempt, "SSE event log subscription failed"),
            }
            let Some(delay) = delays.next() else {
                tracing::error!("SSE event log subscription given up");
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
    on(Live::Lost);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: u64, prev: Option<u64>) -> Logged {
        Logged {
            id: LogId(id, 0),
            prev: prev.map(|p| LogId(p, 0)),
            name: "message".into(),
            data: id.to_string(),
        }
    }

    #[test]
    fn ids_parse_and_order_as_the_engines_do() {
        assert_eq!(
            LogId::parse("1700000000000-3"),
            Some(LogId(1_700_000_000_000, 3))
        );
        assert_eq!(LogId::parse(" 42 "), Some(LogId(42, 0)));
        assert_eq!(LogId::parse("x"), None);
        assert_eq!(LogId::parse("1-"), None);
        assert!(LogId(5, 10) < LogId(6, 0));
        assert!(LogId(5, 2) < LogId(5, 10));
    }

    #[test]
    fn a_broken_chain_is_a_gap() {
        // 3 follows 2: a client at 2 missed nothing.
        let h = || History {
            events: vec![ev(3, Some(2)), ev(4, Some(3))],
            last: Some(LogId(4, 0)),
        };
        assert_eq!(resume(LogId(2, 0), h()), Resume::Events(h().events));
        // A client at 1 missed 2, which is gone.
        assert_eq!(
            resume(LogId(1, 0), h()),
            Resume::Gap {
                oldest: Some(LogId(3, 0)),
                events: h().events
            }
        );
        // An id between two of the topic's events (another topic's, with JetStream): nothing
        // of this topic was missed.
        let between = History {
            events: vec![ev(9, Some(5))],
            last: Some(LogId(9, 0)),
        };
        assert!(matches!(resume(LogId(7, 0), between), Resume::Events(_)));
        // The first event the log knows of: what came before it is unknown.
        let fresh = History {
            events: vec![ev(9, None)],
            last: Some(LogId(9, 0)),
        };
        assert!(matches!(resume(LogId(7, 0), fresh), Resume::Gap { .. }));
    }

    #[test]
    fn nothing_after_the_id_is_a_gap_only_when_events_were_dropped() {
        let caught_up = History {
            events: vec![],
            last: Some(LogId(4, 0)),
        };
        assert_eq!(resume(LogId(4, 0), caught_up), Resume::Events(vec![]));
        let dropped = History {
            events: vec![],
            last: Some(LogId(8, 0)),
        };
        assert_eq!(
            resume(LogId(4, 0), dropped),
            Resume::Gap {
                oldest: None,
                events: vec![]
            }
        );
        assert!(matches!(
            resume(LogId(4, 0), History::default()),
            Resume::Gap { oldest: None, .. }
        ));
    }
}
