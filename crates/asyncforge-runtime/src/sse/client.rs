//! Server-Sent Events client side (feature `sse-client`): an event stream that reconnects by
//! itself, resumes where it left off, and says so when it could not.
//!
//! [`SseClient::connect`] starts a task that sends `GET <url>` with `Accept:
//! text/event-stream`, reads the body through the incremental [`Parser`] (events larger than
//! [`SseClientConfig::max_event`] are skipped, never buffered), and hands the events out in
//! order through a bounded queue ([`SseClient::next`]). When the stream ends, fails, stays
//! silent longer than [`SseClientConfig::read_idle_timeout`] (not even a heartbeat comment), or
//! the server answers with an error status, the task reconnects after a [`Backoff`] delay —
//! never shorter than the server's `retry:` hint — and sends `Last-Event-ID` with the id of the
//! last event it delivered, so that the server replays what was missed. A `204 No Content`
//! answer means "stop": the client closes, as the SSE specification says.
//!
//! Guarantees to the caller:
//! - **No duplicates.** Ids are numbers increasing per stream (see `docs/protocols.md`); an event
//!   whose numeric id is not above the last delivered one is dropped, so a server that replays
//!   too much (or ignores `Last-Event-ID`) does not deliver anything twice.
//! - **No silent gaps.** A server that could not replay everything sends an `asyncforge-gap`
//!   event (see `sse_server`); it comes out as [`SseItem::Gap`]. A skipped oversized event is
//!   reported the same way.
//!
//! [`SseClient::post`] sends a message the other way (`POST` to a channel address, for the
//! receive operations of an SSE channel) on the same HTTP client and headers.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE};
use tokio::sync::{mpsc, watch};

use super::{Event, GAP_EVENT, ParseError, Parser};
use crate::backoff::{Backoff, Delays};

pub use bytes::Bytes;
pub use reqwest::Client as HttpClient;
pub use reqwest::StatusCode;
pub use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

/// What [`SseClient::next`] yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseItem {
    /// An event, in stream order, delivered once.
    Event(Event),
    /// Events were lost between the previous item and the next one. The caller should
    /// resynchronize (for example by fetching the current state) rather than carry on.
    Gap {
        /// The last event id the client had (empty when it had none).
        last_event_id: String,
        /// The first id the server still held, from which events follow (also after a
        /// server restart: a new process's ids start above the old one's; an opaque id, as
        /// the server wrote it); `None` when the server never issued the client's id (it came
        /// from elsewhere), held no event, or when the client skipped an event larger than
        /// [`SseClientConfig::max_event`].
        oldest: Option<String>,
    },
}

pub use crate::connection::State;

/// Why [`SseClient::post`] failed.
#[derive(Debug, thiserror::Error)]
pub enum SseClientError {
    /// The request could not be built or sent, or the response could not be read (this
    /// includes an invalid content type and [`SseClientConfig::post_timeout`]).
    #[error("HTTP request failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The response body was larger than [`SseClientConfig::max_event`] bytes.
    #[error("the response body is larger than {0} bytes")]
    TooLarge(usize),
    /// The HTTP client could not be set up (see the log of [`SseClient::connect`]).
    #[error("the HTTP client could not be set up: {0}")]
    Unavailable(String),
}

impl From<SseClientError> for crate::error::Error {
    fn from(e: SseClientError) -> Self {
        use crate::error::ErrorKind;
        let kind = match &e {
            SseClientError::Http(e) if e.is_timeout() => ErrorKind::Timeout,
            SseClientError::Http(_) => ErrorKind::Transport,
            SseClientError::TooLarge(_) => ErrorKind::Invalid,
            SseClientError::Unavailable(_) => ErrorKind::Config,
        };
        crate::error::Error::new(kind, e)
    }
}

/// How a client connects.
#[derive(Debug, Clone)]
pub struct SseClientConfig {
    /// Largest event accepted, in bytes (also the limit of a [`SseClient::post`] response
    /// body). A larger event is skipped without being buffered and reported as
    /// [`SseItem::Gap`].
    pub max_event: usize,
    /// Events received and not yet taken with [`SseClient::next`]. When the queue is full the
    /// client stops reading; a server that drops slow subscribers then lets it resume from its
    /// replay buffer.
    pub queue: usize,
    /// Delays between reconnect attempts. The server's `retry:` hint is the lower bound of
    /// each delay (capped at `backoff.max`); `backoff.max_attempts` bounds the failed attempts
    /// in a row before the client closes.
    pub backoff: Backoff,
    /// Time allowed for one connection attempt, until the response headers arrive.
    pub connect_timeout: Duration,
    /// Reconnect when no byte (not even a heartbeat comment) arrived for this long; `None`
    /// waits forever. Set it above the server's heartbeat interval.
    pub read_idle_timeout: Option<Duration>,
    /// Extra headers of every request (for example `Authorization`).
    pub headers: HeaderMap,
    /// Where to resume from on the first connection (an id delivered by an earlier client).
    pub last_event_id: Option<String>,
    /// Time allowed for one [`SseClient::post`], response body included.
    pub post_timeout: Duration,
}

impl Default for SseClientConfig {
    fn default() -> Self {
        SseClientConfig {
            max_event: 1 << 20,
            queue: 256,
            backoff: Backoff::default(),
            connect_timeout: Duration::from_secs(10),
            read_idle_timeout: Some(Duration::from_secs(45)),
            headers: HeaderMap::new(),
            last_event_id: None,
            post_timeout: Duration::from_secs(30),
        }
    }
}

/// A self-reconnecting Server-Sent Events client.
pub struct SseClient {
    items: mpsc::Receiver<SseItem>,
    state: watch::Receiver<State>,
    http: Result<reqwest::Client, String>,
    headers: HeaderMap,
    max_body: usize,
    post_timeout: Duration,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl SseClient {
    /// Starts reading the event stream at `url` (`http://` or `https://`, server certificates
    /// checked against the Mozilla roots) in the background. Call it within a Tokio runtime;
    /// outside one the client is closed at once.
    pub fn connect(url: impl Into<String>, config: SseClientConfig) -> SseClient {
        let http = build_http(config.connect_timeout);
        if let Err(e) = &http {
            tracing::error!(error = %e, "the SSE client's HTTP client could not be built");
        }
        SseClient::start(url.into(), config, http)
    }

    /// Like [`SseClient::connect`] on an HTTP client of the caller's (own proxies, roots or
    /// client certificates; connections are shared with its other requests).
    pub fn with_http(http: HttpClient, url: impl Into<String>, config: SseClientConfig) -> Self {
        SseClient::start(url.into(), config, Ok(http))
    }

    fn start(url: String, config: SseClientConfig, http: Result<reqwest::Client, String>) -> Self {
        let (items_tx, items_rx) = mpsc::channel(config.queue.max(1));
        let (state_tx, state_rx) = watch::channel(State::Connecting { attempt: 0 });
        let mut client = SseClient {
            items: items_rx,
            state: state_rx,
            http: http.clone(),
            headers: config.headers.clone(),
            max_body: config.max_event.max(1),
            post_timeout: config.post_timeout,
            task: None,
        };
        let Ok(http) = http else {
            state_tx.send_replace(State::Closed);
            return client;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::error!(%url, "SseClient::connect was called outside a Tokio runtime");
            state_tx.send_replace(State::Closed);
            return client;
        };
        let task = Task {
            tracker: Tracker::new(config.last_event_id.clone()),
            url,
            http,
            config,
            items: items_tx,
            state: state_tx,
            retry: None,
        };
        client.task = Some(runtime.spawn(task.run()));
        client
    }

    /// The next event or gap notice, in stream order (`None` once the client is closed and
    /// everything received was taken).
    pub async fn next(&mut self) -> Option<SseItem> {
        self.items.recv().await
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state.borrow().clone()
    }

    /// Waits until the state satisfies `f`.
    pub async fn wait_for(&self, f: impl Fn(&State) -> bool) -> State {
        crate::connection::wait_for(self.state.clone(), f).await
    }

    /// Sends `body` with `POST` to `url` (for example a channel address that accepts messages)
    /// with the configured extra headers; returns the status and the response body (at most
    /// [`SseClientConfig::max_event`] bytes).
    pub async fn post(
        &self,
        url: &str,
        content_type: &str,
        body: impl Into<Bytes>,
    ) -> Result<(StatusCode, Bytes), SseClientError> {
        let http = self
            .http
            .as_ref()
            .map_err(|e| SseClientError::Unavailable(e.clone()))?;
        let mut response = http
            .post(url)
            .headers(self.headers.clone())
            .header(CONTENT_TYPE, content_type)
            .body(body.into())
            .timeout(self.post_timeout)
            .send()
            .await?;
        let status = response.status();
        let mut out = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if out.len() + chunk.len() > self.max_body {
                return Err(SseClientError::TooLarge(self.max_body));
            }
            out.extend_from_slice(&chunk);
        }
        Ok((status, Bytes::from(out)))
    }

    /// Stops the client.
    pub fn close(self) {}
}

impl Drop for SseClient {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// An HTTP client with the runtime's TLS configuration ([`crate::tls`]).
fn build_http(connect_timeout: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .tls_backend_preconfigured(crate::tls::client_config()?)
        .connect_timeout(connect_timeout)
        .build()
        .map_err(|e| e.to_string())
}

/// What to do after a connection attempt or a lost connection.
enum Next {
    Reconnect,
    Stop,
}

struct Task {
    url: String,
    http: reqwest::Client,
    config: SseClientConfig,
    items: mpsc::Sender<SseItem>,
    state: watch::Sender<State>,
    tracker: Tracker,
    /// The server's last `retry:` hint.
    retry: Option<Duration>,
}

impl Task {
    async fn run(mut self) {
        let mut delays = self.config.backoff.delays();
        let mut generation = 0u64;
        loop {
            if let Next::Stop = self.connection(&mut delays, &mut generation).await {
                break;
            }
            let Some(delay) = delays.next() else {
                tracing::warn!(url = %self.url, attempts = delays.attempts(), "SSE client gave up reconnecting");
                break;
            };
            let hint = self
                .retry
                .map_or(Duration::ZERO, |r| r.min(self.config.backoff.max));
            self.state.send_replace(State::Connecting {
                attempt: delays.attempts(),
            });
            tokio::select! {
                _ = tokio::time::sleep(delay.max(hint)) => {}
                _ = self.items.closed() => break,
            }
        }
        self.state.send_replace(State::Closed);
    }

    /// One connection: request, then events until the stream ends.
    async fn connection(&mut self, delays: &mut Delays, generation: &mut u64) -> Next {
        let mut request = self
            .http
            .get(&self.url)
            .headers(self.config.headers.clone())
            .header(ACCEPT, "text/event-stream")
            .header(CACHE_CONTROL, "no-cache");
        if let Some(id) = self.tracker.last_id.as_deref().filter(|id| !id.is_empty()) {
            match HeaderValue::from_str(id) {
                Ok(v) => request = request.header("last-event-id", v),
                Err(_) => {
                    tracing::warn!(url = %self.url, "the last event id is not a valid header value; resuming without it")
                }
            }
        }
        let response = match tokio::time::timeout(self.config.connect_timeout, request.send()).await
        {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                tracing::debug!(url = %self.url, error = %e, "SSE connect failed");
                return Next::Reconnect;
            }
            Err(_) => {
                tracing::debug!(url = %self.url, "SSE connect timed out");
                return Next::Reconnect;
            }
        };
        let status = response.status();
        if status == StatusCode::NO_CONTENT {
            tracing::info!(url = %self.url, "SSE server answered 204 No Content; closing");
            return Next::Stop;
        }
        if !status.is_success() {
            tracing::warn!(url = %self.url, %status, "SSE server refused the stream; retrying");
            return Next::Reconnect;
        }
        if !is_event_stream(response.headers()) {
            tracing::warn!(url = %self.url, "SSE response is not text/event-stream; retrying");
            return Next::Reconnect;
        }
        delays.reset();
        *generation += 1;
        self.state.send_replace(State::Connected {
            generation: *generation,
        });
        self.tracker.begin_connection();
        let mut decoder = Decoder::new(self.config.max_event);
        let mut body = response.bytes_stream();
        let mut decoded = Vec::new();
        loop {
            let next = match self.config.read_idle_timeout {
                Some(limit) => match tokio::time::timeout(limit, body.next()).await {
                    Ok(next) => next,
                    Err(_) => {
                        tracing::info!(url = %self.url, "SSE stream idle too long; reconnecting");
                        return Next::Reconnect;
                    }
                },
                None => body.next().await,
            };
            let chunk = match next {
                Some(Ok(chunk)) => chunk,
                Some(Err(e)) => {
                    tracing::info!(url = %self.url, error = %e, "SSE stream failed; reconnecting");
                    return Next::Reconnect;
                }
                None => {
                    tracing::info!(url = %self.url, "SSE stream ended; reconnecting");
                    return Next::Reconnect;
                }
            };
            decoder.feed(&chunk, &mut decoded);
            if let Some(ms) = decoder.retry {
                self.retry = Some(Duration::from_millis(ms));
            }
            for d in decoded.drain(..) {
                let Some(item) = self.tracker.accept(d) else {
                    continue;
                };
                if self.items.send(item).await.is_err() {
                    return Next::Stop;
                }
            }
        }
    }
}

fn is_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("text/event-stream"))
}

/// What the decoder found.
#[derive(Debug, PartialEq, Eq)]
enum Decoded {
    Event(Event),
    /// An event larger than the limit was skipped.
    TooLarge(usize),
}

/// The body of one connection → events, skipping oversized ones in bounded memory.
struct Decoder {
    parser: Parser,
    max_event: usize,
    /// Set while the rest of an oversized event is being discarded.
    skipping: Option<Skip>,
    /// The last `retry:` hint (kept across a skip, which starts a new parser).
    retry: Option<u64>,
}

impl Decoder {
    fn new(max_event: usize) -> Self {
        let max_event = max_event.max(1);
        Decoder {
            parser: Parser::new(max_event),
            max_event,
            skipping: None,
            retry: None,
        }
    }

    fn feed(&mut self, mut bytes: &[u8], out: &mut Vec<Decoded>) {
        while !bytes.is_empty() {
            if let Some(skip) = &mut self.skipping {
                let Some(end) = skip.scan(bytes) else {
                    return;
                };
                bytes = &bytes[end..];
                self.skipping = None;
                self.parser = Parser::new(self.max_event);
                continue;
            }
            // One line per call: an error then never discards events completed before it.
            let cut = bytes
                .iter()
                .position(|&b| b == b'\n' || b == b'\r')
                .map_or(bytes.len(), |i| i + 1);
            let (line, rest) = bytes.split_at(cut);
            bytes = rest;
            match self.parser.feed(line) {
                Ok(events) => out.extend(events.into_iter().map(Decoded::Event)),
                Err(ParseError::TooLarge(limit)) => {
                    out.push(Decoded::TooLarge(limit));
                    self.skipping = Some(Skip::after(line));
                }
            }
            if let Some(r) = self.parser.retry() {
                self.retry = Some(r);
            }
        }
    }
}

/// Finds the blank line that ends an event, across chunks.
struct Skip {
    /// The previous byte ended a line.
    at_line_start: bool,
    /// The previous byte was a CR (a following LF belongs to it).
    after_cr: bool,
}

impl Skip {
    /// The state after `fed`, the last piece given to the parser.
    fn after(fed: &[u8]) -> Self {
        let last = fed.last().copied();
        Skip {
            at_line_start: matches!(last, Some(b'\n' | b'\r')),
            after_cr: last == Some(b'\r'),
        }
    }

    /// The index after the blank line, if `bytes` holds it.
    fn scan(&mut self, bytes: &[u8]) -> Option<usize> {
        for (i, &b) in bytes.iter().enumerate() {
            match b {
                b'\n' if self.after_cr => self.after_cr = false,
                b'\n' | b'\r' => {
                    if self.at_line_start {
                        return Some(i + 1);
                    }
                    self.at_line_start = true;
                    self.after_cr = b == b'\r';
                }
                _ => {
                    self.at_line_start = false;
                    self.after_cr = false;
                }
            }
        }
        None
    }
}

#[derive(serde::Deserialize)]
struct GapInfo {
    #[serde(rename = "lastEventId")]
    last_event_id: String,
    /// A number (a server of this process's ids) or a string (a shared log's id).
    oldest: Option<serde_json::Value>,
}

impl GapInfo {
    fn oldest(&self) -> Option<String> {
        match self.oldest.as_ref()? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
}

/// Ids across connections: what to resume from, what was delivered already.
#[derive(Debug, Default)]
struct Tracker {
    /// Id of the last delivered event (sent as `Last-Event-ID`).
    last_id: Option<String>,
    /// The same, when it is a number: events at or below it are duplicates.
    last_number: Option<u64>,
    /// The id of the previous event on this connection (an event without an `id:` line
    /// carries its predecessor's).
    connection_id: Option<String>,
    /// The current id on this connection was delivered already: drop its events.
    stale: bool,
}

impl Tracker {
    fn new(last_id: Option<String>) -> Self {
        Tracker {
            last_number: last_id.as_deref().and_then(number),
            last_id,
            ..Tracker::default()
        }
    }

    fn begin_connection(&mut self) {
        self.connection_id = None;
        self.stale = false;
    }

    fn accept(&mut self, decoded: Decoded) -> Option<SseItem> {
        let event = match decoded {
            Decoded::Event(e) => e,
            Decoded::TooLarge(limit) => {
                tracing::warn!(limit, "skipped an SSE event larger than the limit");
                return Some(SseItem::Gap {
                    last_event_id: self.last_id.clone().unwrap_or_default(),
                    oldest: None,
                });
            }
        };
        if event.name == GAP_EVENT {
            let (last_event_id, oldest) = match serde_json::from_str::<GapInfo>(&event.data) {
                Ok(info) => {
                    let oldest = info.oldest();
                    (info.last_event_id, oldest)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "unreadable gap event data");
                    (self.last_id.clone().unwrap_or_default(), None)
                }
            };
            tracing::info!(%last_event_id, ?oldest, "SSE server reports missed events");
            // The server's ids continue from what it still holds, or start over.
            self.last_number = None;
            self.stale = false;
            self.connection_id = event.id;
            return Some(SseItem::Gap {
                last_event_id,
                oldest,
            });
        }
        if event.id != self.connection_id {
            self.connection_id = event.id.clone();
            self.stale = match (event.id.as_deref().and_then(number), self.last_number) {
                (Some(n), Some(last)) => n <= last,
                _ => false,
            };
        }
        if self.stale {
            tracing::debug!(id = ?event.id, "dropped an SSE event delivered before");
            return None;
        }
        if let Some(id) = &event.id {
            if let Some(n) = number(id) {
                self.last_number = Some(n);
            }
            self.last_id = Some(id.clone());
        }
        Some(SseItem::Event(event))
    }
}

fn number(id: &str) -> Option<u64> {
    id.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(d: &[Decoded]) -> Vec<(&str, &str)> {
        d.iter()
            .map(|d| match d {
                Decoded::Event(e) => (e.data.as_str(), e.id.as_deref().unwrap_or("")),
                Decoded::TooLarge(_) => ("<too large>", ""),
            })
            .collect()
    }

    #[test]
    fn oversized_events_are_skipped_in_any_chunking() {
        let big = "x".repeat(100);
        for ending in ["\n", "\r\n", "\r"] {
            let stream = [
                "retry: 250",
                ending,
                ending,
                "id: 1",
                ending,
                "data: a",
                ending,
                ending,
                "id: 2",
                ending,
                "data: ",
                &big,
                ending,
                "data: more",
                ending,
                ending,
                "id: 3",
                ending,
                "data: b",
                ending,
                ending,
                "data: ",
                &big,
                ending,
                ending,
                "id: 4",
                ending,
                "data: c",
                ending,
                ending,
            ]
            .concat();
            for chunk in [1usize, 2, 3, 5, 17, 64, 4096] {
                let mut d = Decoder::new(32);
                let mut out = Vec::new();
                for c in stream.as_bytes().chunks(chunk) {
                    d.feed(c, &mut out);
                }
                assert_eq!(
                    events(&out),
                    vec![
                        ("a", "1"),
                        ("<too large>", ""),
                        ("b", "3"),
                        ("<too large>", ""),
                        ("c", "4")
                    ],
                    "chunk {chunk}, ending {ending:?}"
                );
                assert_eq!(d.retry, Some(250));
            }
        }
    }

    fn event(id: Option<&str>, data: &str) -> Decoded {
        Decoded::Event(Event {
            name: "message".into(),
            data: data.into(),
            id: id.map(str::to_owned),
        })
    }

    fn delivered(t: &mut Tracker, input: Vec<Decoded>) -> Vec<String> {
        input
            .into_iter()
            .filter_map(|d| t.accept(d))
            .map(|i| match i {
                SseItem::Event(e) => e.data,
                SseItem::Gap {
                    last_event_id,
                    oldest,
                } => format!("gap {last_event_id} {oldest:?}"),
            })
            .collect()
    }

    #[test]
    fn duplicates_are_dropped_and_gaps_reset_the_ids() {
        let mut t = Tracker::new(None);
        t.begin_connection();
        let got = delivered(
            &mut t,
            vec![
                event(None, "before ids"),
                event(Some("1"), "a"),
                event(Some("1"), "a, no id line"),
                event(Some("2"), "b"),
            ],
        );
        assert_eq!(got, ["before ids", "a", "a, no id line", "b"]);
        assert_eq!(t.last_id.as_deref(), Some("2"));
        // A server that replays too much.
        t.begin_connection();
        let got = delivered(
            &mut t,
            vec![
                event(Some("1"), "a"),
                event(Some("1"), "a, no id line"),
                event(Some("2"), "b"),
                event(Some("3"), "c"),
                event(Some("3"), "c, no id line"),
            ],
        );
        assert_eq!(got, ["c", "c, no id line"]);
        // A restarted server: gap, then ids from 1 again.
        t.begin_connection();
        let gap = Decoded::Event(Event {
            name: GAP_EVENT.into(),
            data: "{\"lastEventId\":\"3\",\"oldest\":null}".into(),
            id: None,
        });
        let got = delivered(&mut t, vec![gap, event(Some("1"), "new a")]);
        assert_eq!(got, ["gap 3 None", "new a"]);
        // Ids that are not numbers are passed through.
        let got = delivered(
            &mut t,
            vec![
                event(Some("x"), "x"),
                event(Some("y"), "y"),
                event(Some("1"), "dup"),
            ],
        );
        assert_eq!(got, ["x", "y"]);
        assert_eq!(t.last_id.as_deref(), Some("y"));
        // A skipped event is a gap.
        let got = delivered(&mut t, vec![Decoded::TooLarge(9)]);
        assert_eq!(got, ["gap y None"]);
    }

    #[test]
    fn resumes_from_a_configured_id() {
        let mut t = Tracker::new(Some("5".into()));
        t.begin_connection();
        let got = delivered(
            &mut t,
            vec![event(Some("5"), "old"), event(Some("6"), "new")],
        );
        assert_eq!(got, ["new"]);
    }

    #[test]
    fn content_type_check() {
        let mut h = HeaderMap::new();
        assert!(!is_event_stream(&h));
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("Text/Event-Stream; charset=utf-8"),
        );
        assert!(is_event_stream(&h));
        h.insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
        assert!(!is_event_stream(&h));
    }
}
