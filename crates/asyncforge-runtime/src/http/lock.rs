//! Pessimistic locking: a lock manager handing out lock tokens with an expiry.
//!
//! Acquiring returns a token and the time it expires; writes to the locked resource must
//! carry the token (`Lock-Token` header); a second locker learns who holds the lock and until
//! when. Locks expire by themselves (a crashed holder never blocks a resource for longer than
//! its TTL), can be refreshed by their holder, and released. Expiry is measured on the
//! monotonic clock; the wall-clock `until` is for people and clients.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

/// The header that carries a lock token.
pub(crate) const LOCK_TOKEN: &str = "lock-token";

/// Limits of a lock manager.
#[derive(Debug, Clone)]
pub struct LockConfig {
    /// TTL when the locker asks for none.
    pub default_ttl: Duration,
    /// Longest TTL granted (longer requests are cut).
    pub max_ttl: Duration,
    /// Most locks held at once in this process (a shared backend holds as many as its
    /// database).
    pub max_locks: usize,
}

impl LockConfig {
    /// The TTL granted for a request of `ttl`: the default when none, cut to the maximum.
    pub(crate) fn ttl(&self, ttl: Option<Duration>) -> Duration {
        ttl.unwrap_or(self.default_ttl)
            .min(self.max_ttl)
            .max(Duration::from_millis(1))
    }
}

impl Default for LockConfig {
    fn default() -> Self {
        LockConfig {
            default_ttl: Duration::from_secs(30),
            max_ttl: Duration::from_secs(600),
            max_locks: 100_000,
        }
    }
}

/// A granted lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Grant {
    /// The token writes must carry.
    pub token: String,
    /// Who holds it.
    pub holder: String,
    /// When it expires (wall clock).
    pub until: SystemTime,
    /// The TTL granted.
    pub ttl: Duration,
}

/// Who holds a lock, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// The holder's name.
    pub holder: String,
    /// When the lock expires (wall clock).
    pub until: SystemTime,
}

impl Held {
    /// Time left, rounded up to whole seconds (for `Retry-After`).
    pub fn retry_after_secs(&self) -> u64 {
        let left = self
            .until
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO);
        left.as_secs() + u64::from(left.subsec_nanos() > 0)
    }
}

/// Why a lock operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LockError {
    /// Someone else holds the lock.
    #[error("locked by {} until {}", .0.holder, httpdate::fmt_http_date(.0.until))]
    Held(Held),
    /// The resource is not locked (refresh of an expired or released lock).
    #[error("not locked")]
    NotLocked,
    /// Too many locks.
    #[error("too many locks")]
    Full,
    /// The shared backend holding the locks could not be reached.
    #[error("the lock store is unavailable: {0}")]
    Unavailable(String),
}

#[derive(Debug)]
struct Lock {
    token: String,
    holder: String,
    expires: Instant,
    until: SystemTime,
}

/// Hands out and checks locks. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub(crate) struct LockManager {
    config: LockConfig,
    locks: Arc<Mutex<HashMap<String, Lock>>>,
}

/// Strips the optional angle brackets of a `Lock-Token` value (`<token>`).
pub(crate) fn parse_token(value: &str) -> &str {
    let v = value.trim();
    v.strip_prefix('<')
        .and_then(|v| v.strip_suffix('>'))
        .unwrap_or(v)
}

impl LockManager {
    /// A manager with these limits.
    pub fn new(config: LockConfig) -> Self {
        LockManager {
            config,
            locks: Arc::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Lock>> {
        self.locks.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn ttl(&self, ttl: Option<Duration>) -> Duration {
        self.config.ttl(ttl)
    }

    /// Locks `key` for `holder`.
    pub(crate) fn acquire(
        &self,
        key: &str,
        holder: &str,
        ttl: Option<Duration>,
    ) -> Result<Grant, LockError> {
        let ttl = self.ttl(ttl);
        let now = Instant::now();
        let mut locks = self.lock();
        if let Some(l) = locks.get(key)
            && l.expires > now
        {
            return Err(LockError::Held(Held {
                holder: l.holder.clone(),
                until: l.until,
            }));
        }
        if locks.len() >= self.config.max_locks {
            locks.retain(|_, l| l.expires > now);
            if locks.len() >= self.config.max_locks {
                return Err(LockError::Full);
            }
        }
        let grant = Grant {
            token: format!("urn:uuid:{}", uuid::Uuid::new_v4()),
            holder: holder.to_owned(),
            until: SystemTime::now() + ttl,
            ttl,
        };
        locks.insert(
            key.to_owned(),
            Lock {
                token: grant.token.clone(),
                holder: grant.holder.clone(),
                expires: now + ttl,
                until: grant.until,
            },
        );
        tracing::debug!(
            key,
            holder,
            ttl_ms = ttl.as_millis() as u64,
            "lock acquired"
        );
        Ok(grant)
    }

    /// Extends a lock its holder still holds.
    pub fn refresh(
        &self,
        key: &str,
        token: &str,
        ttl: Option<Duration>,
    ) -> Result<Grant, LockError> {
        let ttl = self.ttl(ttl);
        let now = Instant::now();
        let mut locks = self.lock();
        match locks.get_mut(key) {
            Some(l) if l.expires > now && l.token == token => {
                l.expires = now + ttl;
                l.until = SystemTime::now() + ttl;
                Ok(Grant {
                    token: l.token.clone(),
                    holder: l.holder.clone(),
                    until: l.until,
                    ttl,
                })
            }
            Some(l) if l.expires > now => Err(LockError::Held(Held {
                holder: l.holder.clone(),
                until: l.until,
            })),
            _ => Err(LockError::NotLocked),
        }
    }

    /// Releases a lock. Releasing a lock that expired or was never taken succeeds; releasing
    /// someone else's fails with [`LockError::Held`].
    pub fn release(&self, key: &str, token: &str) -> Result<(), LockError> {
        let now = Instant::now();
        let mut locks = self.lock();
        match locks.get(key) {
            Some(l) if l.expires > now && l.token != token => Err(LockError::Held(Held {
                holder: l.holder.clone(),
                until: l.until,
            })),
            Some(_) => {
                locks.remove(key);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// May a write carrying `token` (or none) proceed? Yes when `key` is not locked or the
    /// token is the lock's.
    pub fn check(&self, key: &str, token: Option<&str>) -> Result<(), LockError> {
        let now = Instant::now();
        let locks = self.lock();
        match locks.get(key) {
            Some(l) if l.expires > now && token != Some(l.token.as_str()) => {
                Err(LockError::Held(Held {
                    holder: l.holder.clone(),
                    until: l.until,
                }))
            }
            _ => Ok(()),
        }
    }

    /// The current holder of `key`, if locked.
    #[cfg(test)]
    fn holder(&self, key: &str) -> Option<Held> {
        let now = Instant::now();
        self.lock()
            .get(key)
            .filter(|l| l.expires > now)
            .map(|l| Held {
                holder: l.holder.clone(),
                until: l.until,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contention_release_and_expiry() {
        let m = LockManager::default();
        let a = m
            .acquire("r", "alice", Some(Duration::from_millis(50)))
            .expect("acquire");
        match m.acquire("r", "bob", None) {
            Err(LockError::Held(h)) => {
                assert_eq!(h.holder, "alice");
                assert_eq!(h.until, a.until);
            }
            other => panic!("expected Held, got {other:?}"),
        }
        assert!(m.check("r", None).is_err());
        assert!(m.check("r", Some("nope")).is_err());
        assert!(m.check("r", Some(&a.token)).is_ok());
        assert!(m.release("r", "nope").is_err());
        std::thread::sleep(Duration::from_millis(60));
        assert!(m.check("r", None).is_ok(), "expired");
        assert_eq!(m.refresh("r", &a.token, None), Err(LockError::NotLocked));
        let b = m.acquire("r", "bob", None).expect("acquire after expiry");
        assert_eq!(m.holder("r").map(|h| h.holder), Some("bob".into()));
        let b2 = m
            .refresh("r", &b.token, Some(Duration::from_secs(5)))
            .expect("refresh");
        assert_eq!(b2.token, b.token);
        m.release("r", &b.token).expect("release");
        assert_eq!(m.holder("r"), None);
        assert_eq!(parse_token(" <urn:uuid:x> "), "urn:uuid:x");
    }

    #[test]
    fn ttl_is_capped_and_locks_are_bounded() {
        let m = LockManager::new(LockConfig {
            max_ttl: Duration::from_secs(1),
            max_locks: 2,
            ..LockConfig::default()
        });
        let g = m
            .acquire("a", "x", Some(Duration::from_secs(3600)))
            .expect("a");
        assert_eq!(g.ttl, Duration::from_secs(1));
        m.acquire("b", "x", None).expect("b");
        assert_eq!(m.acquire("c", "x", None), Err(LockError::Full));
    }
}
