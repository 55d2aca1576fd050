//! The sender's outbox: every delivery is written here before its first attempt and removed
//! after it succeeded or was dead-lettered, so a sender that stops — crash, deploy, dropped
//! task — leaves its pending deliveries for the next one ([`Sender::resume`],
//! [`Sender::work`]).
//!
//! **Claims.** A sender attempts a delivery only while it holds a claim on it: a [`Lease`]
//! with the sender's id and an expiry longer than one attempt. Storing a delivery claims it
//! for the sender that stores it; a failed attempt records the attempt and gives the claim up;
//! the next attempt claims it again. A claim that expires — its sender died or stalled — lets
//! any sender take the delivery over, so deliveries shared by several senders (one outbox in
//! Postgres, [`postgres_outbox`](super::postgres_outbox)) are retried by whichever sender is
//! alive, and never attempted by two at once.
//!
//! [`MemoryOutbox`] keeps deliveries in memory. [`FileOutbox`] is an append-only log of JSON
//! lines, each written and `fsync`ed before the call returns: `put` (the delivery), `attempt`
//! (attempts so far and the earliest next attempt), `done`. Opening replays the log; a torn
//! last line (a crash in the middle of a write) is cut off — it was never acknowledged. When
//! done records dominate, the log is compacted: the pending deliveries are written to a
//! temporary file, `fsync`ed, renamed over the log, and the directory is `fsync`ed. The file
//! holds the subscribers' secrets (to sign retries with a fresh timestamp), so it is created
//! with mode 0600 on Unix. Both serve one process: their claims live in memory.
//!
//! [`Sender::resume`]: super::sender::Sender::resume
//! [`Sender::work`]: super::sender::Sender::work

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use super::idempotency::BoxFuture;
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
    /// The database holding the outbox failed or cannot be reached.
    #[error("outbox database: {0}")]
    Database(String),
}

impl From<OutboxError> for crate::error::Error {
    fn from(e: OutboxError) -> Self {
        use crate::error::ErrorKind;
        let kind = match &e {
            OutboxError::Full(_) => ErrorKind::Busy,
            OutboxError::Serialize(_) => ErrorKind::Invalid,
            OutboxError::Io { .. } | OutboxError::Corrupt { .. } | OutboxError::Database(_) => {
                ErrorKind::Transport
            }
        };
        crate::error::Error::new(kind, e)
    }
}

/// A sender's claim on a delivery: who holds it, and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The claiming sender (one id per sender instance).
    pub owner: String,
    /// How long the claim holds; longer than one attempt takes.
    pub duration: Duration,
}

/// Durable storage of pending deliveries, shared by the senders that use it. A change is
/// durable when its future completes. Claims ([`Lease`]) decide which sender attempts a
/// delivery: a delivery is claimable when no one holds it, when its claim expired, or by the
/// sender already holding it.
pub trait Outbox: Send + Sync + 'static {
    /// Stores a new delivery, claimed for `lease`'s owner when given (the storing sender makes
    /// the first attempt), otherwise free for any sender once due.
    fn put<'a>(
        &'a self,
        delivery: &'a Delivery,
        lease: Option<&'a Lease>,
    ) -> BoxFuture<'a, Result<(), OutboxError>>;
    /// Claims the pending delivery `id` (or extends the caller's claim on it); `None` when
    /// another sender holds it or it is no longer pending. Returns the delivery as stored,
    /// attempts included.
    fn claim<'a>(
        &'a self,
        id: &'a str,
        lease: &'a Lease,
    ) -> BoxFuture<'a, Result<Option<Delivery>, OutboxError>>;
    /// Claims up to `limit` deliveries held by no one whose next attempt is due, oldest first.
    fn claim_due<'a>(
        &'a self,
        lease: &'a Lease,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<Delivery>, OutboxError>>;
    /// Records a failed attempt (attempts so far, earliest next attempt in Unix milliseconds)
    /// and gives up `owner`'s claim; `false` when `owner` no longer held it (it expired and
    /// another sender took the delivery over: nothing is recorded).
    fn attempt<'a>(
        &'a self,
        id: &'a str,
        owner: &'a str,
        attempts: u32,
        not_before_ms: i64,
    ) -> BoxFuture<'a, Result<bool, OutboxError>>;
    /// Removes a finished delivery (delivered, or dead-lettered).
    fn done<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), OutboxError>>;
    /// Every pending delivery, claimed or not, oldest first.
    fn pending(&self) -> BoxFuture<'_, Result<Vec<Delivery>, OutboxError>>;
}

/// Milliseconds since the Unix epoch on this machine's clock.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Pending deliveries in order of arrival, with their claims: the state of the in-process
/// outboxes. Kept in arrival order, so claiming the due ones stops at the limit.
#[derive(Debug, Default)]
struct Queue {
    /// Each pending delivery's place in `order`.
    seqs: HashMap<String, u64>,
    order: BTreeMap<u64, Delivery>,
    claims: HashMap<String, (String, Instant)>,
    seq: u64,
}

impl Queue {
    fn len(&self) -> usize {
        self.seqs.len()
    }

    fn contains(&self, id: &str) -> bool {
        self.seqs.contains_key(id)
    }

    /// `Full` when `max` deliveries are pending and `id` is not one of them.
    fn check_room(&self, max: usize, id: &str) -> Result<(), OutboxError> {
        if self.len() >= max && !self.contains(id) {
            return Err(OutboxError::Full(self.len()));
        }
        Ok(())
    }

    fn insert(&mut self, delivery: Delivery, lease: Option<&Lease>) {
        if let Some(lease) = lease {
            self.hold(&delivery.id, lease);
        }
        self.seq += 1;
        if let Some(old) = self.seqs.insert(delivery.id.clone(), self.seq) {
            self.order.remove(&old);
        }
        self.order.insert(self.seq, delivery);
    }

    fn get_mut(&mut self, id: &str) -> Option<&mut Delivery> {
        self.order.get_mut(self.seqs.get(id)?)
    }

    fn hold(&mut self, id: &str, lease: &Lease) {
        self.claims.insert(
            id.to_owned(),
            (lease.owner.clone(), Instant::now() + lease.duration),
        );
    }

    fn held_by_other(&self, id: &str, owner: &str, now: Instant) -> bool {
        self.claims
            .get(id)
            .is_some_and(|(o, until)| o != owner && *until > now)
    }

    fn claim(&mut self, id: &str, lease: &Lease) -> Option<Delivery> {
        if self.held_by_other(id, &lease.owner, Instant::now()) {
            return None;
        }
        let delivery = self.get_mut(id)?.clone();
        self.hold(id, lease);
        Some(delivery)
    }

    fn claim_due(&mut self, lease: &Lease, limit: usize) -> Vec<Delivery> {
        let (now, wall) = (Instant::now(), now_ms());
        let claimed: Vec<Delivery> = self
            .order
            .values()
            .filter(|d| {
                d.not_before_ms.is_none_or(|nb| nb <= wall)
                    && self
                        .claims
                        .get(&d.id)
                        .is_none_or(|(_, until)| *until <= now)
            })
            .take(limit)
            .cloned()
            .collect();
        for d in &claimed {
            self.hold(&d.id, lease);
        }
        claimed
    }

    /// Whether `owner` may record an attempt of `id` (it holds the claim, or no one does).
    fn may_record(&self, id: &str, owner: &str) -> bool {
        self.contains(id)
            && self
                .claims
                .get(id)
                .is_none_or(|(o, until)| o == owner || *until <= Instant::now())
    }

    fn record(&mut self, id: &str, attempts: u32, not_before_ms: i64) {
        self.claims.remove(id);
        if let Some(d) = self.get_mut(id) {
            d.attempts = attempts;
            d.not_before_ms = Some(not_before_ms);
        }
    }

    fn remove(&mut self, id: &str) -> bool {
        self.claims.remove(id);
        match self.seqs.remove(id) {
            Some(seq) => self.order.remove(&seq).is_some(),
            None => false,
        }
    }

    fn list(&self) -> Vec<Delivery> {
        self.order.values().cloned().collect()
    }
}

/// A non-durable outbox (tests, or senders that accept losing pending deliveries on restart).
#[derive(Debug)]
pub struct MemoryOutbox {
    max_pending: usize,
    queue: Mutex<Queue>,
}

impl MemoryOutbox {
    /// An outbox holding at most `max_pending` deliveries.
    pub fn new(max_pending: usize) -> Self {
        MemoryOutbox {
            max_pending,
            queue: Mutex::new(Queue::default()),
        }
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        lock(&self.queue)
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

impl Outbox for MemoryOutbox {
    fn put<'a>(
        &'a self,
        delivery: &'a Delivery,
        lease: Option<&'a Lease>,
    ) -> BoxFuture<'a, Result<(), OutboxError>> {
        Box::pin(async move {
            let mut q = self.queue();
            q.check_room(self.max_pending, &delivery.id)?;
            q.insert(delivery.clone(), lease);
            Ok(())
        })
    }

    fn claim<'a>(
        &'a self,
        id: &'a str,
        lease: &'a Lease,
    ) -> BoxFuture<'a, Result<Option<Delivery>, OutboxError>> {
        Box::pin(async move { Ok(self.queue().claim(id, lease)) })
    }

    fn claim_due<'a>(
        &'a self,
        lease: &'a Lease,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<Delivery>, OutboxError>> {
        Box::pin(async move { Ok(self.queue().claim_due(lease, limit)) })
    }

    fn attempt<'a>(
        &'a self,
        id: &'a str,
        owner: &'a str,
        attempts: u32,
        not_before_ms: i64,
    ) -> BoxFuture<'a, Result<bool, OutboxError>> {
        Box::pin(async move {
            let mut q = self.queue();
            if !q.may_record(id, owner) {
                return Ok(false);
            }
            q.record(id, attempts, not_before_ms);
            Ok(true)
        })
    }

    fn done<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), OutboxError>> {
        Box::pin(async move {
            self.queue().remove(id);
            Ok(())
        })
    }

    fn pending(&self) -> BoxFuture<'_, Result<Vec<Delivery>, OutboxError>> {
        Box::pin(async move { Ok(self.queue().list()) })
    }
}

/// One line of the log (written with a borrowed delivery, read with an owned one).
#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase")]
enum Record<D = Delivery> {
    Put {
        delivery: D,
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
    queue: Queue,
    /// Records in the log (to decide when to compact).
    records: usize,
}

struct FileInner {
    path: PathBuf,
    max_pending: usize,
    compact_after: usize,
    state: Mutex<FileState>,
}

/// A durable, append-only, file-backed outbox for one process.
pub struct FileOutbox {
    inner: Arc<FileInner>,
}

impl std::fmt::Debug for FileOutbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileOutbox")
            .field("path", &self.inner.path)
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
        let mut queue = Queue::default();
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
                            Record::Put { delivery } => queue.insert(delivery, None),
                            Record::Attempt {
                                id,
                                attempts,
                                not_before_ms,
                            } => queue.record(&id, attempts, not_before_ms),
                            Record::Done { id } => {
                                queue.remove(&id);
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
            inner: Arc::new(FileInner {
                path,
                max_pending,
                compact_after: 1024,
                state: Mutex::new(FileState {
                    file,
                    queue,
                    records,
                }),
            }),
        })
    }

    /// Compacts once the log holds more than `records` records and four times more records
    /// than pending deliveries (default 1024).
    pub fn with_compaction(mut self, records: usize) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.compact_after = records;
        }
        self
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Rewrites the log with the pending deliveries only (blocking file IO).
    pub fn compact(&self) -> Result<(), OutboxError> {
        let mut st = lock(&self.inner.state);
        self.inner.compact_locked(&mut st)
    }

    /// Runs `f` on the log under its lock, on the blocking thread pool (file writes and
    /// `fsync` must not stall the async workers).
    fn blocking<'a, T: Send + 'static>(
        &'a self,
        f: impl FnOnce(&FileInner, &mut FileState) -> Result<T, OutboxError> + Send + 'static,
    ) -> BoxFuture<'a, Result<T, OutboxError>> {
        let inner = self.inner.clone();
        Box::pin(async move {
            let path = inner.path.clone();
            tokio::task::spawn_blocking(move || {
                let mut st = lock(&inner.state);
                f(&inner, &mut st)
            })
            .await
            .unwrap_or_else(|e| {
                Err(OutboxError::Io {
                    path,
                    source: std::io::Error::other(e.to_string()),
                })
            })
        })
    }
}

impl FileInner {
    fn io(&self, source: std::io::Error) -> OutboxError {
        OutboxError::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn append<D: Serialize>(&self, st: &mut FileState, rec: &Record<D>) -> Result<(), OutboxError> {
        let mut line = serde_json::to_vec(rec)?;
        line.push(b'\n');
        st.file.write_all(&line).map_err(|e| self.io(e))?;
        st.file.sync_data().map_err(|e| self.io(e))?;
        st.records += 1;
        Ok(())
    }

    fn compact_locked(&self, st: &mut FileState) -> Result<(), OutboxError> {
        let tmp = self.path.with_extension("compact");
        let entries = st.queue.list();
        let mut buf = Vec::new();
        for delivery in &entries {
            serde_json::to_writer(&mut buf, &Record::Put { delivery })?;
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
        if st.records > self.compact_after && st.records > 4 * st.queue.len() {
            self.compact_locked(st)?;
        }
        Ok(())
    }
}

impl Outbox for FileOutbox {
    fn put<'a>(
        &'a self,
        delivery: &'a Delivery,
        lease: Option<&'a Lease>,
    ) -> BoxFuture<'a, Result<(), OutboxError>> {
        let (delivery, lease) = (delivery.clone(), lease.cloned());
        self.blocking(move |inner, st| {
            st.queue.check_room(inner.max_pending, &delivery.id)?;
            inner.append(
                st,
                &Record::Put {
                    delivery: &delivery,
                },
            )?;
            st.queue.insert(delivery, lease.as_ref());
            Ok(())
        })
    }

    fn claim<'a>(
        &'a self,
        id: &'a str,
        lease: &'a Lease,
    ) -> BoxFuture<'a, Result<Option<Delivery>, OutboxError>> {
        // Claims are not logged: after a restart no attempt of this process is in flight.
        Box::pin(async move { Ok(lock(&self.inner.state).queue.claim(id, lease)) })
    }

    fn claim_due<'a>(
        &'a self,
        lease: &'a Lease,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<Delivery>, OutboxError>> {
        Box::pin(async move { Ok(lock(&self.inner.state).queue.claim_due(lease, limit)) })
    }

    fn attempt<'a>(
        &'a self,
        id: &'a str,
        owner: &'a str,
        attempts: u32,
        not_before_ms: i64,
    ) -> BoxFuture<'a, Result<bool, OutboxError>> {
        let (id, owner) = (id.to_owned(), owner.to_owned());
        self.blocking(move |inner, st| {
            if !st.queue.may_record(&id, &owner) {
                return Ok(false);
            }
            inner.append(
                st,
                &Record::<Delivery>::Attempt {
                    id: id.clone(),
                    attempts,
                    not_before_ms,
                },
            )?;
            st.queue.record(&id, attempts, not_before_ms);
            inner.maybe_compact(st)?;
            Ok(true)
        })
    }

    fn done<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), OutboxError>> {
        let id = id.to_owned();
        self.blocking(move |inner, st| {
            if !st.queue.contains(&id) {
                return Ok(());
            }
            inner.append(st, &Record::<Delivery>::Done { id: id.clone() })?;
            st.queue.remove(&id);
            inner.maybe_compact(st)
        })
    }

    fn pending(&self) -> BoxFuture<'_, Result<Vec<Delivery>, OutboxError>> {
        Box::pin(async move { Ok(lock(&self.inner.state).queue.list()) })
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

    #[tokio::test]
    async fn replays_after_reopen_and_cuts_a_torn_tail() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("outbox.log");
        {
            let o = FileOutbox::open(&path).expect("open");
            o.put(&delivery("a"), None).await.expect("put");
            o.put(&delivery("b"), None).await.expect("put");
            o.put(&delivery("c"), None).await.expect("put");
            o.attempt("b", "me", 3, 42).await.expect("attempt");
            o.done("a").await.expect("done");
        }
        // A crash in the middle of appending a record.
        let mut f = OpenOptions::new().append(true).open(&path).expect("open");
        f.write_all(b"{\"op\":\"done\",\"id\":\"c").expect("write");
        drop(f);
        let o = FileOutbox::open(&path).expect("reopen");
        let p = o.pending().await.expect("pending");
        let ids: Vec<&str> = p.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, vec!["b", "c"]);
        assert_eq!((p[0].attempts, p[0].not_before_ms), (3, Some(42)));
        // Appending after the cut works and survives another reopen.
        o.done("c").await.expect("done");
        drop(o);
        let o = FileOutbox::open(&path).expect("reopen");
        assert_eq!(o.pending().await.expect("pending").len(), 1);
    }

    #[tokio::test]
    async fn message_headers_survive_a_reopen_and_old_records_without_them_load() {
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
            o.put(&with, None).await.expect("put");
        }
        let o = FileOutbox::open(&path).expect("reopen");
        let p = o.pending().await.expect("pending");
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

    #[tokio::test]
    async fn corruption_in_the_middle_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("outbox.log");
        std::fs::write(&path, "garbage\n{\"op\":\"done\",\"id\":\"x\"}\n").expect("write");
        assert!(matches!(
            FileOutbox::open(&path),
            Err(OutboxError::Corrupt { line: 1, .. })
        ));
    }

    #[tokio::test]
    async fn compaction_keeps_pending_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("outbox.log");
        let o = FileOutbox::open(&path).expect("open").with_compaction(64);
        for i in 0..150 {
            let id = format!("d{i}");
            o.put(&delivery(&id), None).await.expect("put");
            if i % 100 != 0 {
                o.done(&id).await.expect("done");
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
            .await
            .expect("pending")
            .into_iter()
            .map(|d| d.id)
            .collect();
        let want: Vec<String> = (0..150).step_by(100).map(|i| format!("d{i}")).collect();
        assert_eq!(ids, want);
        let small = FileOutbox::open_with_limit(dir.path().join("small.log"), 1).expect("open");
        small.put(&delivery("x"), None).await.expect("put");
        assert!(matches!(
            small.put(&delivery("y"), None).await,
            Err(OutboxError::Full(1))
        ));
    }

    fn lease(owner: &str, ms: u64) -> Lease {
        Lease {
            owner: owner.to_owned(),
            duration: Duration::from_millis(ms),
        }
    }

    #[tokio::test]
    async fn only_due_deliveries_are_claimed_oldest_first_up_to_the_limit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let o = FileOutbox::open(dir.path().join("outbox.log")).expect("open");
        let w = lease("w", 60_000);
        for id in ["1", "2", "3", "4"] {
            o.put(&delivery(id), None).await.expect("put");
        }
        let me = lease("me", 60_000);
        assert!(o.claim("3", &me).await.expect("claim").is_some());
        assert!(
            o.attempt("3", "me", 1, now_ms() + 60_000)
                .await
                .expect("attempt")
        );
        let first: Vec<String> = o
            .claim_due(&w, 2)
            .await
            .expect("due")
            .into_iter()
            .map(|d| d.id)
            .collect();
        assert_eq!(first, ["1", "2"]);
        let rest: Vec<String> = o
            .claim_due(&w, 10)
            .await
            .expect("due")
            .into_iter()
            .map(|d| d.id)
            .collect();
        assert_eq!(rest, ["4"], "3 is not due yet");
        // The attempt survives a reopen; claims do not (no attempt of a stopped process is in flight).
        drop(o);
        let o = FileOutbox::open(dir.path().join("outbox.log")).expect("reopen");
        let all = o.claim_due(&me, 10).await.expect("due");
        assert_eq!(all.len(), 3);
        assert_eq!(o.pending().await.expect("pending")[2].attempts, 1);
    }
}
