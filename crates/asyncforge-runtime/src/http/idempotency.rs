//! Idempotency for webhook receivers: a message id is *claimed* before the handler runs,
//! *completed* after it succeeded, and *released* when it failed — so a failed handler never
//! marks the id as seen, and the sender's retry is processed again.
//!
//! A claim is a lease: if the receiver dies while handling, the claim expires and a retry can
//! claim the id again. While a claim is held, a duplicate arriving at the same time gets
//! [`Claim::InProgress`] (the receiver answers 503 with `Retry-After`, which every webhook
//! sender retries). A completed id is remembered for a TTL that should exceed the sender's
//! retry horizon.
//!
//! [`MemoryStore`] is the in-process default (bounded: past its capacity the oldest ids are
//! forgotten first, which shortens the deduplication window instead of growing memory); with
//! feature `redis`, `redis_store::RedisStore`, and with feature `postgres`,
//! `postgres_store::PostgresStore` share the ids between receiver instances.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A boxed future, so that stores can be used as trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The outcome of claiming an id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The id is new: process it, then `complete` or `release` with this lease token.
    Claimed(String),
    /// The id was processed already.
    Done,
    /// Another request holds the id right now.
    InProgress,
}

/// A store failure (the receiver answers 503; the sender retries).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("idempotency store: {0}")]
pub struct StoreError(pub String);

/// Where receivers remember message ids.
pub trait IdempotencyStore: Send + Sync + 'static {
    /// Claims `key` for `lease`.
    fn claim<'a>(
        &'a self,
        key: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Claim, StoreError>>;
    /// Marks `key` processed, remembered for `ttl`.
    fn complete<'a>(
        &'a self,
        key: &'a str,
        token: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Gives up a claim (the handler failed): the id may be processed again.
    fn release<'a>(&'a self, key: &'a str, token: &'a str)
    -> BoxFuture<'a, Result<(), StoreError>>;
}

#[derive(Debug)]
enum State {
    Pending(String),
    Done,
}

#[derive(Debug)]
struct Entry {
    state: State,
    expires: Instant,
    generation: u64,
}

#[derive(Debug, Default)]
struct Mem {
    map: HashMap<String, Entry>,
    /// Keys in order of their last change, with the generation of that change.
    order: VecDeque<(String, u64)>,
    generation: u64,
}

/// The in-memory store: ids with expiry, at most `capacity` of them.
#[derive(Debug)]
pub struct MemoryStore {
    capacity: usize,
    inner: Mutex<Mem>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new(100_000)
    }
}

impl MemoryStore {
    /// A store remembering at most `capacity` ids.
    pub fn new(capacity: usize) -> Self {
        MemoryStore {
            capacity: capacity.max(1),
            inner: Mutex::new(Mem::default()),
        }
    }

    /// Ids held (pending or done, expired ones not yet swept included).
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// Whether no id is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Mem> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set(&self, m: &mut Mem, key: &str, state: State, ttl: Duration, now: Instant) {
        m.generation += 1;
        let generation = m.generation;
        m.map.insert(
            key.to_owned(),
            Entry {
                state,
                expires: now + ttl,
                generation,
            },
        );
        m.order.push_back((key.to_owned(), generation));
        self.sweep(m, now);
    }

    /// Drops stale queue items and expired entries from the front; evicts the oldest while
    /// over capacity. Amortized O(1) per change; the queue holds at most two items per key
    /// beyond what the sweep removes.
    fn sweep(&self, m: &mut Mem, now: Instant) {
        while let Some((key, generation)) = m.order.front() {
            let (live, expired) = match m.map.get(key) {
                Some(e) if e.generation == *generation => (true, e.expires <= now),
                _ => (false, false),
            };
            let over = m.map.len() > self.capacity;
            if !live {
                m.order.pop_front();
            } else if expired || over {
                if over && !expired {
                    tracing::warn!(
                        capacity = self.capacity,
                        "idempotency store full: forgetting the oldest id"
                    );
                }
                let key = key.clone();
                m.order.pop_front();
                m.map.remove(&key);
            } else {
                break;
            }
        }
        // Bound the queue even if its front stays live for long.
        if m.order.len() > 2 * self.capacity + 16 {
            let map = &m.map;
            m.order
                .retain(|(k, g)| map.get(k).is_some_and(|e| e.generation == *g));
        }
    }

    fn claim_now(&self, key: &str, lease: Duration) -> Claim {
        let now = Instant::now();
        let mut m = self.lock();
        match m.map.get(key) {
            Some(e) if e.expires > now => match e.state {
                State::Done => return Claim::Done,
                State::Pending(_) => return Claim::InProgress,
            },
            _ => {}
        }
        let token = uuid::Uuid::new_v4().simple().to_string();
        self.set(&mut m, key, State::Pending(token.clone()), lease, now);
        Claim::Claimed(token)
    }
}

impl IdempotencyStore for MemoryStore {
    fn claim<'a>(
        &'a self,
        key: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Claim, StoreError>> {
        let out = self.claim_now(key, lease);
        Box::pin(async move { Ok(out) })
    }

    fn complete<'a>(
        &'a self,
        key: &'a str,
        _token: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let now = Instant::now();
        let mut m = self.lock();
        self.set(&mut m, key, State::Done, ttl, now);
        drop(m);
        Box::pin(async { Ok(()) })
    }

    fn release<'a>(
        &'a self,
        key: &'a str,
        token: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let mut m = self.lock();
        if matches!(m.map.get(key), Some(Entry { state: State::Pending(t), .. }) if t == token) {
            m.map.remove(key);
        }
        drop(m);
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(s: &MemoryStore, k: &str, lease_ms: u64) -> Claim {
        s.claim_now(k, Duration::from_millis(lease_ms))
    }

    #[tokio::test]
    async fn claim_complete_release() {
        let s = MemoryStore::new(10);
        let Claim::Claimed(t) = claim(&s, "a", 10_000) else {
            panic!("first claim")
        };
        assert_eq!(claim(&s, "a", 10_000), Claim::InProgress);
        s.release("a", "wrong-token").await.expect("release");
        assert_eq!(
            claim(&s, "a", 10_000),
            Claim::InProgress,
            "other token: kept"
        );
        s.release("a", &t).await.expect("release");
        let Claim::Claimed(t) = claim(&s, "a", 10_000) else {
            panic!("claim after release")
        };
        s.complete("a", &t, Duration::from_secs(60))
            .await
            .expect("complete");
        assert_eq!(claim(&s, "a", 10_000), Claim::Done);
    }

    #[test]
    fn leases_and_ttls_expire() {
        let s = MemoryStore::new(10);
        assert!(matches!(claim(&s, "a", 1), Claim::Claimed(_)));
        std::thread::sleep(Duration::from_millis(5));
        assert!(
            matches!(claim(&s, "a", 1), Claim::Claimed(_)),
            "lease expired"
        );
    }

    #[tokio::test]
    async fn bounded() {
        let s = MemoryStore::new(100);
        for i in 0..1000 {
            let k = format!("k{i}");
            if let Claim::Claimed(t) = claim(&s, &k, 10_000) {
                s.complete(&k, &t, Duration::from_secs(60))
                    .await
                    .expect("complete");
            }
        }
        assert!(s.len() <= 100, "{}", s.len());
        assert_eq!(claim(&s, "k999", 10_000), Claim::Done, "newest remembered");
        assert!(
            matches!(claim(&s, "k0", 10_000), Claim::Claimed(_)),
            "oldest forgotten"
        );
        assert!(s.lock().order.len() <= 2 * 100 + 16);
    }
}
