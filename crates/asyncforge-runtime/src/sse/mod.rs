//! Server-Sent Events, the protocol part: parsing a stream incrementally (the WHATWG rules:
//! `event`, `data`, `id`, `retry`, comments, CR/LF/CRLF line ends), the gap event, and the
//! bounded replay buffer that lets a client resume with `Last-Event-ID` — or be told that it
//! fell out of the window instead of silently missing events.

#[cfg(feature = "sse-client")]
pub mod client;
#[cfg(feature = "sse-client")]
pub mod post;
#[cfg(feature = "sse")]
pub mod server;

/// Name of the event a server sends a resuming client when it cannot replay everything the
/// client missed (its data: the oldest id it still has, or nothing); the client yields it as a
/// gap notice.
pub const GAP_EVENT: &str = "asyncforge-gap";

/// One event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// `event:` name (`message` when the stream gave none).
    pub name: String,
    /// `data:` lines joined with `\n`.
    pub data: String,
    /// `id:` (the last one seen on the stream, as browsers keep it).
    pub id: Option<String>,
}

/// Incremental parser: feed bytes as they arrive, take the complete events.
#[derive(Debug, Default)]
pub struct Parser {
    buf: Vec<u8>,
    started: bool,
    /// A CR ended the previous chunk: an LF at the start of the next one belongs to it.
    pending_cr: bool,
    name: String,
    data: String,
    has_data: bool,
    last_id: Option<String>,
    retry: Option<u64>,
    max_event: usize,
}

/// Why a stream was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// One event grew beyond the limit without ending.
    #[error("an event is larger than {0} bytes")]
    TooLarge(usize),
}

impl Parser {
    /// A parser accepting events up to `max_event` bytes.
    pub fn new(max_event: usize) -> Self {
        Parser {
            max_event,
            ..Default::default()
        }
    }

    /// The last `id:` seen (what to send as `Last-Event-ID` when reconnecting).
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_id.as_deref()
    }

    /// The last `retry:` hint, in milliseconds.
    pub fn retry(&self) -> Option<u64> {
        self.retry
    }

    /// Feeds bytes; returns the events they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<Event>, ParseError> {
        let mut bytes = bytes;
        if self.pending_cr && bytes.first() == Some(&b'\n') {
            bytes = &bytes[1..];
        }
        self.pending_cr = false;
        self.buf.extend_from_slice(bytes);
        if !self.started && self.buf.len() >= 3 {
            if self.buf.starts_with(&[0xEF, 0xBB, 0xBF]) {
                self.buf.drain(..3);
            }
            self.started = true;
        }
        let mut events = Vec::new();
        while let Some(end) = self.buf.iter().position(|&b| b == b'\n' || b == b'\r') {
            let mut next = end + 1;
            if self.buf[end] == b'\r' {
                match self.buf.get(end + 1) {
                    Some(b'\n') => next = end + 2,
                    Some(_) => {}
                    None => self.pending_cr = true,
                }
            }
            let line = String::from_utf8_lossy(&self.buf[..end]).into_owned();
            self.buf.drain(..next);
            if let Some(e) = self.line(&line) {
                events.push(e);
            }
        }
        if self.buf.len() + self.data.len() > self.max_event && self.max_event > 0 {
            return Err(ParseError::TooLarge(self.max_event));
        }
        Ok(events)
    }

    fn line(&mut self, line: &str) -> Option<Event> {
        if line.is_empty() {
            let name = std::mem::take(&mut self.name);
            if !self.has_data {
                return None;
            }
            self.has_data = false;
            let mut data = std::mem::take(&mut self.data);
            if data.ends_with('\n') {
                data.pop();
            }
            return Some(Event {
                name: if name.is_empty() {
                    "message".into()
                } else {
                    name
                },
                data,
                id: self.last_id.clone(),
            });
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => self.name = value.to_owned(),
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
                self.has_data = true;
            }
            "id" if !value.contains('\0') => self.last_id = Some(value.to_owned()),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                self.retry = value.parse().ok();
            }
            _ => {}
        }
        None
    }
}

/// What a resuming client gets.
#[cfg(feature = "sse")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Replay<T> {
    /// The events after the client's last one (possibly none).
    Events(Vec<(u64, T)>),
    /// The client's last event is older than the window: events were lost for it. `oldest` is
    /// the first id still available.
    Gap {
        /// First id still held.
        oldest: u64,
    },
    /// The id was never issued by this buffer: one issued after its newest (another server
    /// instance that started later), or not a number.
    Unknown,
}

/// The last `capacity` events of a stream, with increasing ids: from 1
/// ([`ReplayBuffer::new`]) or from just above an epoch ([`ReplayBuffer::after`]), so that the
/// ids of two buffers (two server processes one after the other) do not overlap.
#[cfg(feature = "sse")]
#[derive(Debug, Clone)]
pub(crate) struct ReplayBuffer<T> {
    events: std::collections::VecDeque<(u64, T)>,
    capacity: usize,
    next_id: u64,
}

#[cfg(feature = "sse")]
impl<T: Clone> ReplayBuffer<T> {
    /// A buffer holding at most `capacity` events.
    #[cfg(test)]
    fn new(capacity: usize) -> Self {
        ReplayBuffer::after(capacity, 0)
    }

    /// A buffer holding at most `capacity` events whose first id is `epoch + 1`. Any id at or
    /// below `epoch` is older than everything this buffer issued: a client resuming from one
    /// is told about the gap ([`Replay::Gap`]).
    pub fn after(capacity: usize, epoch: u64) -> Self {
        ReplayBuffer {
            events: std::collections::VecDeque::with_capacity(capacity.min(4096)),
            capacity: capacity.max(1),
            next_id: epoch.saturating_add(1),
        }
    }

    /// No event is held.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The id of the oldest event held (the next id when none is).
    pub fn oldest(&self) -> u64 {
        self.events.front().map_or(self.next_id, |(id, _)| *id)
    }

    /// Adds an event; returns its id.
    pub fn push(&mut self, event: T) -> u64 {
        let id = self.next_id;
        self.next_id = self.next_id.saturating_add(1);
        if self.events.len() == self.capacity {
            self.events.pop_front();
        }
        self.events.push_back((id, event));
        id
    }

    /// Drops the oldest events while `keep` refuses them (the window's age bound); the ids
    /// stay as they were, so a client that missed a dropped event is told of the gap.
    pub fn expire(&mut self, keep: impl Fn(&T) -> bool) {
        while self.events.front().is_some_and(|(_, e)| !keep(e)) {
            self.events.pop_front();
        }
    }

    /// The id of the newest event (the epoch before any).
    #[cfg(test)]
    fn last_id(&self) -> u64 {
        self.next_id - 1
    }

    /// Events after `last_seen` (a `Last-Event-ID`).
    pub fn since(&self, last_seen: u64) -> Replay<T> {
        if last_seen >= self.next_id {
            return Replay::Unknown;
        }
        let oldest = self.oldest();
        if last_seen.saturating_add(1) < oldest {
            return Replay::Gap { oldest };
        }
        Replay::Events(
            self.events
                .iter()
                .filter(|(id, _)| *id > last_seen)
                .cloned()
                .collect(),
        )
    }

    /// Like [`ReplayBuffer::since`] with the header's text; an id that is not a number is
    /// [`Replay::Unknown`].
    pub(crate) fn since_header(&self, last_event_id: &str) -> Replay<T> {
        match last_event_id.trim().parse::<u64>() {
            Ok(n) => self.since(n),
            Err(_) => Replay::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes one event in the wire format. Multi-line data becomes several `data:` lines;
    /// carriage returns in data are written as line breaks, as a parser would read them.
    fn format_event(name: Option<&str>, id: Option<&str>, data: &str) -> String {
        let mut out = String::with_capacity(data.len() + 32);
        if let Some(n) = name.filter(|n| !n.is_empty() && *n != "message") {
            out.push_str("event: ");
            out.push_str(&single_line(n));
            out.push('\n');
        }
        if let Some(id) = id {
            out.push_str("id: ");
            out.push_str(&single_line(id));
            out.push('\n');
        }
        let normalized = data.replace("\r\n", "\n").replace('\r', "\n");
        for line in normalized.split('\n') {
            out.push_str("data: ");
            out.push_str(line);
            out.push('\n');
        }
        out.push('\n');
        out
    }

    /// A `retry:` hint (milliseconds a client waits before reconnecting).
    fn format_retry(millis: u64) -> String {
        format!("retry: {millis}\n\n")
    }

    /// A comment line, used as a heartbeat that keeps proxies from closing idle streams.
    fn format_comment(text: &str) -> String {
        format!(": {}\n\n", single_line(text))
    }

    fn single_line(s: &str) -> String {
        s.replace(['\r', '\n', '\0'], " ")
    }

    #[test]
    fn formats_events() {
        assert_eq!(
            format_event(Some("tick"), Some("7"), "a\nb"),
            "event: tick\nid: 7\ndata: a\ndata: b\n\n"
        );
        assert_eq!(format_event(None, None, ""), "data: \n\n");
        assert_eq!(format_retry(1500), "retry: 1500\n\n");
        assert_eq!(format_comment("ping"), ": ping\n\n");
        assert_eq!(
            format_event(Some("x\ny"), None, "z"),
            "event: x y\ndata: z\n\n"
        );
    }

    #[test]
    fn parses_what_it_formats_in_any_chunking() {
        let stream = [
            format_retry(2000),
            format_comment("hello"),
            format_event(Some("tick"), Some("1"), "{\"n\":1}"),
            format_event(None, Some("2"), "line one\nline two"),
            "data: crlf\r\n\r\n".to_owned(),
            "data: cr\r\r".to_owned(),
        ]
        .concat();
        for chunk in [1usize, 2, 3, 7, 64, 4096] {
            let mut p = Parser::new(1 << 20);
            let mut events = Vec::new();
            for c in stream.as_bytes().chunks(chunk) {
                events.extend(p.feed(c).expect("parse"));
            }
            assert_eq!(events.len(), 4, "chunk {chunk}");
            assert_eq!(
                events[0],
                Event {
                    name: "tick".into(),
                    data: "{\"n\":1}".into(),
                    id: Some("1".into())
                }
            );
            assert_eq!(events[1].data, "line one\nline two");
            assert_eq!(events[1].name, "message");
            assert_eq!(events[2].data, "crlf");
            assert_eq!(events[3].data, "cr");
            assert_eq!(p.last_event_id(), Some("2"));
            assert_eq!(p.retry(), Some(2000));
        }
    }

    #[test]
    fn oversized_events_are_refused() {
        let mut p = Parser::new(16);
        assert_eq!(
            p.feed(b"data: 0123456789abcdef0123"),
            Err(ParseError::TooLarge(16))
        );
    }

    #[test]
    #[cfg(feature = "sse")]
    fn replay_window() {
        let mut b = ReplayBuffer::new(3);
        for i in 0..5 {
            b.push(i);
        }
        assert_eq!(b.last_id(), 5);
        assert_eq!(b.since(4), Replay::Events(vec![(5, 4)]));
        assert_eq!(b.since(2), Replay::Events(vec![(3, 2), (4, 3), (5, 4)]));
        assert_eq!(b.since(5), Replay::Events(vec![]));
        assert_eq!(b.since(1), Replay::Gap { oldest: 3 });
        assert_eq!(b.since(9), Replay::Unknown);
        assert_eq!(b.since_header("x"), Replay::Unknown);
        assert_eq!(b.since_header(" 4 "), Replay::Events(vec![(5, 4)]));
        let empty: ReplayBuffer<u8> = ReplayBuffer::new(2);
        assert_eq!(empty.since(0), Replay::Events(vec![]));
    }

    #[test]
    #[cfg(feature = "sse")]
    fn ids_after_an_epoch_tell_older_ids_apart() {
        let mut b = ReplayBuffer::after(3, 1_000);
        assert_eq!(b.since(3), Replay::Gap { oldest: 1_001 });
        assert_eq!(b.push('a'), 1_001);
        assert_eq!(b.push('b'), 1_002);
        // An id of an earlier buffer (an earlier process): a gap, not a silent skip.
        assert_eq!(b.since(3), Replay::Gap { oldest: 1_001 });
        assert_eq!(
            b.since(1_000),
            Replay::Events(vec![(1_001, 'a'), (1_002, 'b')])
        );
        // An id of a later one: unknown.
        assert_eq!(b.since(5_000), Replay::Unknown);
        let mut top = ReplayBuffer::after(1, u64::MAX - 1);
        assert_eq!(top.push(1), u64::MAX);
        assert_eq!(top.since(u64::MAX), Replay::Unknown);
        assert_eq!(top.since(0), Replay::Gap { oldest: u64::MAX });
    }
}
