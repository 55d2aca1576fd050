//! The sender's outbox: every delivery is written here before its first attempt and marked
//! done after it succeeded or was dead-lettered, so a sender that stops — crash, deploy,
//! dropped task — resumes the pending deliveries when it starts again ([`Sender::resume`]).
//!
//! [`FileOutbox`] is an append-only log of JSON lines, each written and `fsync`ed before the
//! call returns: `put` (the delivery), `attempt` (attempts so far and the earliest next
//! attempt), `done`. Opening replays the log; a torn last line (a crash in the middle of a
//! write) is cut off — it was never acknowledged. When done records dominate, the log is
//! compacted: the pending deliveries are written to a temporary file, `fsync`ed, renamed over
//! the log, and the directory is `fsync`ed. The file holds the subscribers' secrets (to sign
//! retries with a fresh timestamp), so it is created with mode 0600 on Unix.
//!
//! [`Sender::resume`]: super::sender::Sender::resume

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use super::sender::Subscriber;

/// One webhook delivery: what to send, to whom, and how far it got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// The webhook id (`webhook-id`), the same on every attempt: receivers deduplicate by it.
    pub id: String,
    /// The destination.
    pub subscriber: Subscriber,
    /// The message name (the event type).
    pub event: String,
    /// The payload's content type.
    pub content_type: String,
    /// The message's own headers (its `headers` schema), sent with every attempt. Records
    /// written before deliveries had headers read as none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
    /// The encoded payload.
    #[serde(with = "b64")]
    pub body: Vec<u8>,
    /// When the delivery was created, Unix milliseconds.
    pub created_ms: i64,
    /// Attempts made so far.
    #[serde(default)]
    pub attempts: u32,
    /// Earliest time of the next attempt, Unix milliseconds.
    #[serde(default)]
    pub not_before_ms: Option<i64>,
}

mod b64 {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

/// Why the outbox failed.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// Reading or writing the log failed.
    #[error("outbox {path}: {source}")]
    Io {
        /// The log file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A record in the middle of the log is not valid (not a torn write: corruption).
    #[error("outbox {path}: line {line} is corrupt: {message}")]
    Corrupt {
        /// The log file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The outbox holds as many pending deliveries as it may.
    #[error("outbox full: {0} pending deliveries")]
    Full(usize),
    /// The delivery could not be serialized.
    #[error("cannot serialize delivery: {0}")]
    Serialize(#[from] serde_json::Error),
}

impl From<OutboxError> for crate::error::Error {
    fn from(e: OutboxError) -> Self {
        use crate::error::ErrorKind;
        let kind = match &e {
            OutboxError::Full(_) => ErrorKind::Busy,
            OutboxError::Serialize(_) => ErrorKind::Invalid,
            OutboxError::Io { .. } | OutboxError::Corrupt { .. } => ErrorKind::Transport,
        };
        crate::error::Error::new(kind, e)
    }
}

/// Durable storage of pending deliveries. Implementations must have made a change durable
/// when the method returns. Methods block (file IO); the sender calls them from
/// `spawn_blocking`.
pub trait Outbox: Send + Sync + 'static {
    /// Stores a new delivery.
    fn put(&self, delivery: &Delivery) -> Result<(), OutboxError>;
    /// Records a failed attempt: attempts so far and the earliest next attempt.
    fn attempt(&self, id: &str, attempts: u32, not_before_ms: i64) -> Result<(), OutboxError>;
    /// Marks a delivery finished (delivered, or dead-lettered).
    fn done(&self, id: &str) -> Result<(), OutboxError>;
    /// Every pending delivery, oldest first.
    fn pending(&self) -> Result<Vec<Delivery>, OutboxError>;
}

/// A non-durable outbox (tests, or senders that accept losing pending deliveries on restart).
#[derive(Debug)]
pub struct MemoryOutbox {
    max_pending: usize,
    inner: Mutex<MemState>,
}

/// Pending deliveries with their order of arrival.
#[derive(Debug, Default)]
struct MemState {
    pending: HashMap<String, (u64, Delivery)>,
    seq: u64,
}

impl MemoryOutbox {
    /// An outbox holding at most `max_pending` deliveries.
    pub fn new(max_pending: usize) -> Self {
        MemoryOutbox {
            max_pending,
            inner: Mutex::new(MemState::default()),
        }
    }
}

impl Default for MemoryOutbox {
    fn default() -> Self {
        MemoryOutbox::new(100_000)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl MemoryOutbox {
    fn state(&self) -> MutexGuard<'_, MemState> {
        lock(&self.inner)
    }
}

impl Outbox for MemoryOutbox {
    fn put(&self, delivery: &Delivery) -> Result<(), OutboxError> {
        let mut st = self.state();
        if st.pending.len() >= self.max_pending && !st.pending.contains_key(&delivery.id) {
            return Err(OutboxError::Full(st.pending.len()));
        }
        st.seq += 1;
        let seq = st.seq;
        st.pending
            .insert(delivery.id.clone(), (seq, delivery.clone()));
        Ok(())
    }

    fn attempt(&self, id: &str, attempts: u32, not_before_ms: i64) -> Result<(), OutboxError> {
        if let Some((_, d)) = self.state().pending.get_mut(id) {
            d.attempts = attempts;
            d.not_before_ms = Some(not_before_ms);
        }
        Ok(())
    }

    fn done(&self, id: &str) -> Result<(), OutboxError> {
        self.state().pending.remove(id);
        Ok(())
    }

    fn pending(&self) -> Result<Vec<Delivery>, OutboxError> {
        let st = self.state();
        let mut v: Vec<&(u64, Delivery)> = st.pending.values().collect();
        v.sort_by_key(|(seq, _)| *seq);
        Ok(v.into_iter().map(|(_, d)| d.clone()).collect())
    }
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase")]
enum Record {
    Put {
        delivery: Delivery,
    },
    #[serde(rename_all = "camelCase")]
    Attempt {
        id: String,
        attempts: u32,
        not_before_ms: i64,
    },
    Done {
        id: String,
    },
}

struct FileState {
    file: File,
    /// Pending deliveries with their order of arrival.
    pending: HashMap<String, (u64, Delivery)>,
    seq: u64,
    /// Records in the log (to decide when to compact).
    records: usize,
}

/// A durable, append-only, file-backed outbox.
pub struct FileOutbox {
    path: PathBuf,
    max_pending: usize,
    compact_after: usize,
    state: Mutex<FileState>,
}

impl std::fmt::Debug for FileOutbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileOutbox")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Longest record accepted when replaying (a larger line is corruption, not a delivery).
const MAX_RECORD: usize = 64 << 20;

impl FileOutbox {
    /// Opens (or creates) the log at `path` and replays it. At most 100 000 pending
    /// deliveries are held.
    pub fn open(path: impl AsRef<Path>) -> Result<FileOutbox, OutboxError> {
        FileOutbox::open_with_limit(path, 100_000)
    }

    /// Like [`FileOutbox::open`], holding at most `max_pending` deliveries (`put` beyond it
    /// fails with [`OutboxError::Full`]: back-pressure instead of unbounded memory).
    pub fn open_with_limit(
        path: impl AsRef<Path>,
        max_pending: usize,
    ) -> Result<FileOutbox, OutboxError> {
        let path = path.as_ref().to_path_buf();
        let io = |source| OutboxError::Io {
            path: path.clone(),
            source,
        };
        let mut options = OpenOptions::new();
        options.read(true).append(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&path).map_err(io)?;
        let mut pending: HashMap<String, (u64, Delivery)> = HashMap::new();
        let mut seq = 0u64;
        let mut records = 0usize;
        let mut good_len: u64 = 0;
        let mut torn = false;
        {
            file.seek(SeekFrom::Start(0)).map_err(io)?;
            let mut reader = BufReader::new(&file);
            let mut line = Vec::new();
            let mut number = 0usize;
            loop {
                line.clear();
                let n = (&mut reader)
                    .take(MAX_RECORD as u64 + 1)
                    .read_until(b'\n', &mut line)
                    .map_err(io)?;
                if n == 0 {
                    break;
                }
                number += 1;
                let complete = line.last() == Some(&b'\n');
                let parsed = if complete {
                    serde_json::from_slice::<Record>(&line[..line.len() - 1])
                        .map_err(|e| e.to_string())
                } else {
                    Err("incomplete record".to_owned())
                };
                match parsed {
                    Ok(rec) => {
                        good_len += n as u64;
                        records += 1;
                        match rec {
                            Record::Put { delivery } => {
                                seq += 1;
                                pending.insert(delivery.id.clone(), (seq, delivery));
                            }
                            Record::Attempt {
                                id,
                                attempts,
                                not_before_ms,
                            } => {
                                if let Some((_, d)) = pending.get_mut(&id) {
                                    d.attempts = attempts;
                                    d.not_before_ms = Some(not_before_ms);
                                }
                            }
                            Record::Done { id } => {
                                pending.remove(&id);
                            }
                        }
                    }
                    Err(message) => {
                        // Only the last line may be torn; anything after it means corruption.
                        let mut rest = Vec::new();
                        let more = (&mut reader).take(1).read_to_end(&mut rest).map_err(io)?;
                        if more > 0 {
                            return Err(OutboxError::Corrupt {
                                path: path.clone(),
                                line: number,
                                message,
                            });
                        }
                        tracing::warn!(path = %path.display(), line = number, %message,
                            "outbox: cutting off a torn last record");
                        torn = true;
                        break;
                    }
                }
            }
        }
        if torn {
            file.set_len(good_len).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        Ok(FileOutbox {
            path,
            max_pending,
            compact_after: 1024,
            state: Mutex::new(FileState {
                file,
                pending,
                seq,
                records,
            }),
        })
    }

    /// Compacts once the log holds more than `records` records and four times more records
    /// than pending deliveries (default 1024).
    pub fn with_compaction(mut self, records: usize) -> Self {
        self.compact_after = records;
        self
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, source: std::io::Error) -> OutboxError {
        OutboxError::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn append(&self, st: &mut FileState, rec: &Record) -> Result<(), OutboxError> {
        let mut line = serde_json::to_vec(rec)?;
        line.push(b'\n');
        st.file.write_all(&line).map_err(|e| self.io(e))?;
        st.file.sync_data().map_err(|e| self.io(e))?;
        st.records += 1;
        Ok(())
    }

    /// Rewrites the log with the pending deliveries only.
    pub fn compact(&self) -> Result<(), OutboxError> {
        let mut st = lock(&self.state);
        self.compact_locked(&mut st)
    }

    fn compact_locked(&self, st: &mut FileState) -> Result<(), OutboxError> {
        let tmp = self.path.with_extension("compact");
        let mut entries: Vec<&(u64, Delivery)> = st.pending.values().collect();
        entries.sort_by_key(|(seq, _)| *seq);
        let mut buf = Vec::new();
        for (_, d) in &entries {
            serde_json::to_writer(
                &mut buf,
                &Record::Put {
                    delivery: d.clone(),
                },
            )?;
            buf.push(b'\n');
        }
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut out = options.open(&tmp).map_err(|e| self.io(e))?;
        out.write_all(&buf).map_err(|e| self.io(e))?;
        out.sync_all().map_err(|e| self.io(e))?;
        drop(out);
        std::fs::rename(&tmp, &self.path).map_err(|e| self.io(e))?;
        if let Some(dir) = self.path.parent() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            if let Ok(d) = File::open(dir) {
                // Persist the rename; not every platform can fsync a directory.
                let _ = d.sync_all();
            }
        }
        let mut options = OpenOptions::new();
        options.read(true).append(true);
        st.file = options.open(&self.path).map_err(|e| self.io(e))?;
        st.records = entries.len();
        tracing::debug!(path = %self.path.display(), pending = st.records, "outbox compacted");
        Ok(())
    }

    fn maybe_compact(&self, st: &mut FileState) -> Result<(), OutboxError> {
        if st.records > self.compact_after && st.records > 4 * st.pending.len() {
            self.compact_locked(st)?;
        }
        Ok(())
    }
}

impl Outbox for FileOutbox {
    fn put(&self, delivery: &Delivery) -> Result<(), OutboxError> {
        let mut st = lock(&self.state);
        if st.pending.len() >= self.max_pending && !st.pending.contains_key(&delivery.id) {
            return Err(OutboxError::Full(st.pending.len()));
        }
        self.append(
            &mut st,
            &Record::Put {
                delivery: delivery.clone(),
            },
        )?;
        st.seq += 1;
        let seq = st.seq;
        st.pending
            .insert(delivery.id.clone(), (seq, delivery.clone()));
        Ok(())
    }

    fn attempt(&self, id: &str, attempts: u32, not_before_ms: i64) -> Result<(), OutboxError> {
        let mut st = lock(&self.state);
        if !st.pending.contains_key(id) {
            return Ok(());
        }
        self.append(
            &mut st,
            &Record::Attempt {
                id: id.to_owned(),
                attempts,
                not_before_ms,
            },
        )?;
        if let Some((_, d)) = st.pending.get_mut(id) {
            d.attempts = attempts;
            d.not_before_ms = Some(not_before_ms);
        }
        self.maybe_compact(&mut st)
    }

    fn done(&self, id: &str) -> Result<(), OutboxError> {
        let mut st = lock(&self.state);
        if !st.pending.contains_key(id) {
            return Ok(());
        }
        self.append(&mut st, &Record::Done { id: id.to_owned() })?;
        st.pending.remove(id);
        self.maybe_compact(&mut st)
    }

    fn pending(&self) -> Result<Vec<Delivery>, OutboxError> {
        let st = lock(&self.state);
        let mut v: Vec<&(u64, Delivery)> = st.pending.values().collect();
        v.sort_by_key(|(seq, _)| *seq);
        Ok(v.into_iter().map(|(_, d)| d.clone()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::super::signature::Scheme;
    use super::*;

    fn delivery(id: &str) -> Delivery {
        Delivery {
            id: id.to_owned(),
            subscriber: Subscriber {
                id: "s".into(),
                url: "http://127.0.0.1:1/hook".into(),
                secrets: vec!["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()],
                scheme: Scheme::StandardWebhooks,
            },
            event: "Ping".into(),
            content_type: "application/json".into(),
            headers: Vec::new(),
            body: b"{\"n\":1}".to_vec(),
            created_ms: 1,
            attempts: 0,
            not_before_ms: None,
        }
    }

    #[test]
    fn replays_after_reopen_and_cuts_a_torn_tail() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("outbox.log");
        {
            let o = FileOutbox::open(&path).expect("open");
            o.put(&delivery("a")).expect("put");
            o.put(&delivery("b")).expect("put");
            o.put(&delivery("c")).expect("put");
            o.attempt("b", 3, 42).expect("attempt");
            o.done("a").expect("done");
        }
        // A crash in the middle of appending a record.
        let mut f = OpenOptions::new().append(true).open(&path).expect("open");
        f.write_all(b"{\"op\":\"done\",\"id\":\"c").expect("write");
        drop(f);
        let o = FileOutbox::open(&path).expect("reopen");
        let p = o.pending().expect("pending");
        let ids: Vec<&str> = p.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, vec!["b", "c"]);
        assert_eq!((p[0].attempts, p[0].not_before_ms), (3, Some(42)));
        // Appending after the cut works and survives another reopen.
        o.done("c").expect("done");
        drop(o);
        let o = FileOutbox::open(&path).expect("reopen");
        assert_eq!(o.pending().expect("pending").len(), 1);
    }

    #[test]
    fn message_headers_survive_a_reopen_and_old_records_without_them_load() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("outbox.log");
        // A record as outboxes wrote it before deliveries had headers.
        std::fs::write(
            &path,
            concat!(
                r#"{"op":"put","delivery":{"id":"old","subscriber":{"id":"s","url":"http://127.0.0.1:1/hook","#,
                r#""secrets":["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],"scheme":"standard-webhooks"},"#,
                r#""event":"Ping","contentType":"application/json","body":"eyJuIjoxfQ==","createdMs":1,"attempts":0}}"#,
                "\n"
            ),
        )
        .expect("write");
        {
            let o = FileOutbox::open(&path).expect("open");
            let mut with = delivery("new");
            with.headers = vec![
                ("Idempotency-Key".into(), "order-7 \"ü\"".into()),
                ("X-Trace".into(), "1".into()),
            ];
            o.put(&with).expect("put");
        }
        let o = FileOutbox::open(&path).expect("reopen");
        let p = o.pending().expect("pending");
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].id, "old");
        assert!(p[0].headers.is_empty());
        assert_eq!(p[0].body, b"{\"n\":1}");
        assert_eq!(
            p[1].headers,
            vec![
                ("Idempotency-Key".to_owned(), "order-7 \"ü\"".to_owned()),
                ("X-Trace".to_owned(), "1".to_owned())
            ]
        );
    }

    #[test]
    fn corruption_in_the_middle_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("outbox.log");
        std::fs::write(&path, "garbage\n{\"op\":\"done\",\"id\":\"x\"}\n").expect("write");
        assert!(matches!(
            FileOutbox::open(&path),
            Err(OutboxError::Corrupt { line: 1, .. })
        ));
    }

    #[test]
    fn compaction_keeps_pending_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("outbox.log");
        let o = FileOutbox::open(&path).expect("open").with_compaction(64);
        for i in 0..150 {
            let id = format!("d{i}");
            o.put(&delivery(&id)).expect("put");
            if i % 100 != 0 {
                o.done(&id).expect("done");
            }
        }
        let lines = std::fs::read_to_string(&path)
            .expect("read")
            .lines()
            .count();
        assert!(lines < 150, "compacted: {lines} lines");
        drop(o);
        let o = FileOutbox::open(&path).expect("reopen");
        let ids: Vec<String> = o
            .pending()
            .expect("pending")
            .into_iter()
            .map(|d| d.id)
            .collect();
        let want: Vec<String> = (0..150).step_by(100).map(|i| format!("d{i}")).collect();
        assert_eq!(ids, want);
        let small = FileOutbox::open_with_limit(dir.path().join("small.log"), 1).expect("open");
        small.put(&delivery("x")).expect("put");
        assert!(matches!(
            small.put(&delivery("y")),
            Err(OutboxError::Full(1))
        ));
    }
}
