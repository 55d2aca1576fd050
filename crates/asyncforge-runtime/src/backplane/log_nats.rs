//! The SSE event log on NATS JetStream: one stream per backplane prefix (`{prefix}_sse`, with
//! '.' → '_'), bounded per subject by count (`max_messages_per_subject`) and for all by age
//! (`max_age`); one subject per topic, `{prefix}.sse.{address}` with the address escaped
//! (`%XX` for every byte but letters, digits, `-`, `_` and `/`; `~` for an empty address).
//! An event's payload is `name`, a line feed, `data`; its header `Asyncforge-Prev` holds the
//! sequence of the subject's previous message, which the append makes sure of with
//! JetStream's expected last subject sequence (retrying when another replica appended first).
//! Live: an ordered consumer of `{prefix}.sse.>` per replica, delivering new messages.

use std::collections::HashMap;
use std::time::Duration;

use async_nats::jetstream::{
    self, consumer, context::PublishErrorKind, stream::LastRawMessageErrorKind,
};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;

use super::log::{EventLog, History, LogId, Logged, Window};
use super::nats::{Nats, unavailable};
use super::{BackplaneError, BoxFuture, Failure};

/// The header holding the previous sequence of the subject.
const PREV: &str = "Asyncforge-Prev";

/// Appends that found another replica's append in their place, tried again, at most.
const RACES: usize = 64;

/// How long an ephemeral consumer reading a topic's history outlives its last use.
const READER_IDLE: Duration = Duration::from_secs(30);

pub(super) struct NatsLog {
    nats: Nats,
    stream_name: String,
    subjects: String,
    window: Window,
    /// The stream, once made (or found).
    stream: tokio::sync::Mutex<Option<jetstream::stream::Stream>>,
    /// The last sequence of each subject this replica appended to, or learned.
    last: std::sync::Mutex<HashMap<String, u64>>,
}

impl NatsLog {
    pub(super) fn new(url: &str, prefix: &str, window: Window) -> Self {
        NatsLog {
            nats: Nats::new(url),
            stream_name: format!("{}_sse", prefix.replace('.', "_")),
            subjects: format!("{prefix}.sse."),
            window,
            stream: tokio::sync::Mutex::new(None),
            last: std::sync::Mutex::new(HashMap::new()),
        }
    }

    fn subject(&self, topic: &str) -> String {
        let mut s = self.subjects.clone();
        if topic.is_empty() {
            s.push('~');
        }
        for b in topic.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'/') {
                s.push(char::from(b));
            } else {
                s.push_str(&format!("%{b:02X}"));
            }
        }
        s
    }

    async fn context(&self) -> Result<jetstream::Context, BackplaneError> {
        let (client, _) = self.nats.client().await?;
        Ok(jetstream::new(client))
    }

    /// The stream, made with the window's bounds if it does not exist.
    async fn stream(&self) -> Result<jetstream::stream::Stream, BackplaneError> {
        let mut slot = self.stream.lock().await;
        if let Some(s) = &*slot {
            return Ok(s.clone());
        }
        let config = jetstream::stream::Config {
            name: self.stream_name.clone(),
            subjects: vec![format!("{}>", self.subjects)],
            max_messages_per_subject: i64::try_from(self.window.count.max(1)).unwrap_or(i64::MAX),
            max_age: self.window.age,
            storage: jetstream::stream::StorageType::File,
            ..Default::default()
        };
        let stream = self
            .context()
            .await?
            .get_or_create_stream(config)
            .await
            .map_err(unavailable)?;
        Ok(slot.insert(stream).clone())
    }

    /// The sequence of the newest message on `subject` (0: none).
    async fn newest(
        &self,
        stream: &jetstream::stream::Stream,
        subject: &str,
    ) -> Result<u64, BackplaneError> {
        match stream.get_last_raw_message_by_subject(subject).await {
            Ok(m) => Ok(m.sequence),
            Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(0),
            Err(e) => Err(unavailable(e)),
        }
    }

    fn known_last(&self, subject: &str) -> Option<u64> {
        let last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        last.get(subject).copied()
    }

    fn learn_last(&self, subject: &str, sequence: Option<u64>) {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        match sequence {
            Some(s) => {
                last.insert(subject.to_owned(), s);
            }
            None => {
                last.remove(subject);
            }
        }
    }
}

/// The topic of a subject under `subjects` (`{prefix}.sse.`).
fn unescape(subjects: &str, subject: &str) -> Option<String> {
    let escaped = subject.strip_prefix(subjects)?;
    if escaped == "~" {
        return Some(String::new());
    }
    let mut bytes = Vec::with_capacity(escaped.len());
    let mut rest = escaped.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(b);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}

fn decode(message: &async_nats::Message, sequence: u64) -> Option<Logged> {
    let payload = std::str::from_utf8(&message.payload).ok()?;
    let (name, data) = payload.split_once('\n')?;
    let prev = message
        .headers
        .as_ref()
        .and_then(|h| h.get(PREV))
        .and_then(|v| v.as_str().parse::<u64>().ok())
        .filter(|p| *p > 0)
        .map(|p| LogId(p, 0));
    Some(Logged {
        id: LogId(sequence, 0),
        prev,
        name: name.to_owned(),
        data: data.to_owned(),
    })
}

impl EventLog for NatsLog {
    fn append<'a>(
        &'a self,
        topic: &'a str,
        name: &'a str,
        data: &'a str,
    ) -> BoxFuture<'a, Result<LogId, BackplaneError>> {
        Box::pin(async move {
            let stream = self.stream().await?;
            let context = self.context().await?;
            let subject = self.subject(topic);
            let mut payload = String::with_capacity(name.len() + 1 + data.len());
            payload.push_str(name);
            payload.push('\n');
            payload.push_str(data);
            for _ in 0..RACES {
                let expected = match self.known_last(&subject) {
                    Some(s) => s,
                    None => self.newest(&stream, &subject).await?,
                };
                let publish = jetstream::message::PublishMessage::build()
                    .payload(payload.clone().into())
                    .header(PREV, expected.to_string().as_str())
                    .expected_last_subject_sequence(expected);
                let ack = context
                    .send_publish(subject.clone(), publish)
                    .await
                    .map_err(unavailable)?
                    .await;
                match ack {
                    Ok(ack) => {
                        self.learn_last(&subject, Some(ack.sequence));
                        return Ok(LogId(ack.sequence, 0));
                    }
                    Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => {
                        self.learn_last(&subject, None);
                    }
                    Err(e) => {
                        self.learn_last(&subject, None);
                        if e.kind() == PublishErrorKind::StreamNotFound {
                            *self.stream.lock().await = None;
                        }
                        return Err(unavailable(e));
                    }
                }
            }
            Err(BackplaneError::new(
                Failure::Unavailable,
                format!("nats: {RACES} appends to `{subject}` in a row lost to other replicas"),
            ))
        })
    }

    fn read<'a>(
        &'a self,
        topic: &'a str,
        after: Option<LogId>,
    ) -> BoxFuture<'a, Result<History, BackplaneError>> {
        Box::pin(async move {
            let stream = self.stream().await?;
            let subject = self.subject(topic);
            // The newest first: an event appended while reading must not look dropped.
            let last = self.newest(&stream, &subject).await?;
            let deliver_policy = match after {
                Some(a) => consumer::DeliverPolicy::ByStartSequence {
                    start_sequence: a.0.saturating_add(1),
                },
                None => consumer::DeliverPolicy::All,
            };
            let reader = stream
                .create_consumer(consumer::pull::Config {
                    filter_subject: subject.clone(),
                    deliver_policy,
                    ack_policy: consumer::AckPolicy::None,
                    inactive_threshold: READER_IDLE,
                    ..Default::default()
                })
                .await
                .map_err(unavailable)?;
            let pending = usize::try_from(reader.cached_info().num_pending).unwrap_or(usize::MAX);
            let want = pending.min(self.window.count.max(1));
            let mut events = Vec::with_capacity(want);
            while events.len() < want {
                let mut batch = reader
                    .fetch()
                    .max_messages(want - events.len())
                    .messages()
                    .await
                    .map_err(unavailable)?;
                let before = events.len();
                while let Some(m) = batch.next().await {
                    let m = m.map_err(unavailable)?;
                    let sequence = m.info().map_err(unavailable)?.stream_sequence;
                    match decode(&m, sequence) {
                        Some(e) => events.push(e),
                        None => tracing::warn!(sequence, "malformed SSE log message skipped"),
                    }
                }
                if events.len() == before {
                    break;
                }
            }
            let name = reader.cached_info().name.clone();
            if let Err(e) = stream.delete_consumer(&name).await {
                tracing::debug!(error = %e, "history reader not deleted (it expires)");
            }
            Ok(History {
                events,
                last: (last > 0).then_some(LogId(last, 0)),
            })
        })
    }

    fn follow(
        &self,
    ) -> BoxFuture<'_, Result<BoxStream<'static, (String, Logged)>, BackplaneError>> {
        Box::pin(async move {
            let (_, mut up) = self.nats.client().await?;
            let stream = self.stream().await?;
            let consumer = stream
                .create_consumer(consumer::pull::OrderedConfig {
                    filter_subject: format!("{}>", self.subjects),
                    deliver_policy: consumer::DeliverPolicy::New,
                    ..Default::default()
                })
                .await
                .map_err(unavailable)?;
            let messages = consumer.messages().await.map_err(unavailable)?;
            let subjects = self.subjects.clone();
            let lost = async move {
                let _ = up.wait_for(|connected| !connected).await;
            };
            let events = messages
                .take_while(|m| {
                    if let Err(e) = m {
                        tracing::warn!(error = %e, "SSE event log consumer failed");
                    }
                    std::future::ready(m.is_ok())
                })
                .filter_map(move |m| {
                    let subjects = subjects.clone();
                    async move {
                        let m = m.ok()?;
                        let sequence = m.info().ok()?.stream_sequence;
                        let topic = unescape(&subjects, m.subject.as_str());
                        let event = decode(&m, sequence);
                        if topic.is_none() || event.is_none() {
                            tracing::warn!(sequence, "malformed SSE log message skipped");
                        }
                        Some((topic?, event?))
                    }
                })
                .take_until(lost);
            Ok(events.boxed())
        })
    }

    fn text(&self, id: LogId) -> String {
        id.0.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_become_subject_tokens_and_back() {
        let log = NatsLog::new(
            "nats://127.0.0.1:4222",
            "svc.a",
            Window {
                count: 1,
                age: Duration::from_secs(1),
            },
        );
        for topic in ["prices/AAPL", "", "a.b c*>%~", "héllo"] {
            let subject = log.subject(topic);
            let token = subject.strip_prefix("svc.a.sse.").expect("prefix");
            assert!(!token.is_empty(), "{topic:?}");
            assert!(!token.contains(['.', ' ', '*', '>']), "{subject}");
            assert_eq!(unescape("svc.a.sse.", &subject).as_deref(), Some(topic));
        }
        assert_eq!(log.stream_name, "svc_a_sse");
    }
}
