//! Request/reply correlation shared by every transport (feature `rt`).
//!
//! A request registers in [`Pending`] under its correlation id (the value at the message's
//! `correlationId` location, see [`CorrelationKey`]) within a scope (a connection, a client). The
//! matching reply completes it. Requests without a correlation id are answered in order: the
//! first reply without one (or with an id nobody waits for) goes to the oldest of them. A
//! refusal from the peer ([`Pending::refuse`]) is placed the same way and completes the request
//! with [`RequestError::Refused`].

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::oneshot;

/// Why a request got no reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// No reply within the timeout.
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    /// The connection closed before the reply came.
    #[error("the connection closed before the reply came")]
    Closed,
    /// The request could not be sent.
    #[error("the request could not be sent: {0}")]
    Send(String),
    /// The peer refused the request: its answer was an error (`{"error": …}` naming the
    /// request's operation and carrying its correlation id), with the peer's reason.
    #[error("the peer refused the request: {0}")]
    Refused(String),
    /// Too many requests are waiting for replies.
    #[error("too many requests are waiting for replies ({0})")]
    TooMany(usize),
    /// The reply (relayed from the replica holding the connection) is not one of the
    /// request's reply messages.
    #[error("the reply is not one the request expects: {0}")]
    Invalid(String),
}

impl From<RequestError> for super::error::Error {
    fn from(e: RequestError) -> Self {
        use super::error::ErrorKind;
        let kind = match &e {
            RequestError::Timeout(_) => ErrorKind::Timeout,
            RequestError::Closed => ErrorKind::Closed,
            RequestError::Send(_) => ErrorKind::Transport,
            RequestError::Refused(_) => ErrorKind::Refused,
            RequestError::TooMany(_) => ErrorKind::Busy,
            RequestError::Invalid(_) => ErrorKind::Invalid,
        };
        super::error::Error::new(kind, e)
    }
}

pub use crate::message::CorrelationKey;

/// Requests keyed by scope and correlation id. The keys are ids this side chose for its own
/// requests (a peer's reply only looks one up), hashed with foldhash rather than SipHash.
type ById<T> = HashMap<(u64, CorrelationKey), Answer<T>, foldhash::fast::RandomState>;

/// Where a request's answer goes: its reply, or why it got none.
type Answer<T> = oneshot::Sender<Result<T, RequestError>>;

struct Inner<T> {
    by_id: ById<T>,
    fifo: HashMap<u64, VecDeque<Answer<T>>>,
    count: usize,
}

/// Requests waiting for replies. Cheap to clone.
pub struct Pending<T> {
    inner: Arc<Mutex<Inner<T>>>,
    limit: usize,
}

impl<T> Clone for Pending<T> {
    fn clone(&self) -> Self {
        Pending {
            inner: self.inner.clone(),
            limit: self.limit,
        }
    }
}

impl<T> Default for Pending<T> {
    fn default() -> Self {
        Pending::new(10_000)
    }
}

/// How a reply would find a waiting request in one [`Pending`] (see [`Pending::route`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// A request with the reply's correlation id waits.
    ById,
    /// No request has its id, but one without an id waits for the next reply.
    InOrder,
}

/// Which of several operations whose replies share a message takes a reply: the first whose
/// request has the reply's correlation id, else the first with a request waiting in order.
pub fn choose(routes: &[Option<Route>]) -> Option<usize> {
    routes
        .iter()
        .position(|r| *r == Some(Route::ById))
        .or_else(|| routes.iter().position(|r| *r == Some(Route::InOrder)))
}

/// A registered request: await [`Waiter::wait`] for its reply.
pub struct Waiter<T> {
    rx: oneshot::Receiver<Result<T, RequestError>>,
}

impl<T> Waiter<T> {
    /// The receiving end the answer arrives on (for transports that wait their own way).
    #[cfg_attr(not(feature = "ws-client"), allow(dead_code))]
    pub(crate) fn into_receiver(self) -> oneshot::Receiver<Result<T, RequestError>> {
        self.rx
    }

    /// Waits for the reply (or the peer's refusal).
    pub async fn wait(self, timeout: Duration) -> Result<T, RequestError> {
        match tokio::time::timeout(timeout, self.rx).await {
            Ok(Ok(v)) => v,
            Ok(Err(_)) => Err(RequestError::Closed),
            Err(_) => Err(RequestError::Timeout(timeout)),
        }
    }
}

impl<T> Pending<T> {
    /// At most `limit` requests wait at once.
    pub fn new(limit: usize) -> Self {
        Pending {
            inner: Arc::new(Mutex::new(Inner {
                by_id: ById::default(),
                fifo: HashMap::new(),
                count: 0,
            })),
            limit,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<T>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Requests waiting now.
    pub fn len(&self) -> usize {
        self.lock().count
    }

    /// No request waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Registers a request of `scope` with its correlation id (if any).
    pub fn register(
        &self,
        scope: u64,
        id: Option<CorrelationKey>,
    ) -> Result<Waiter<T>, RequestError> {
        let mut inner = self.lock();
        // Forget requests whose waiters gave up (timed out or dropped).
        if inner.count >= self.limit {
            inner.by_id.retain(|_, tx| !tx.is_closed());
            for q in inner.fifo.values_mut() {
                q.retain(|tx| !tx.is_closed());
            }
            inner.fifo.retain(|_, q| !q.is_empty());
            inner.count = inner.by_id.len() + inner.fifo.values().map(VecDeque::len).sum::<usize>();
            if inner.count >= self.limit {
                return Err(RequestError::TooMany(self.limit));
            }
        }
        let (tx, rx) = oneshot::channel();
        match id {
            Some(id) => {
                if let Some(old) = inner.by_id.insert((scope, id), tx) {
                    drop(old);
                } else {
                    inner.count += 1;
                }
            }
            None => {
                inner.fifo.entry(scope).or_default().push_back(tx);
                inner.count += 1;
            }
        }
        Ok(Waiter { rx })
    }

    /// How [`Pending::complete`] would place a reply with this id, if any request of `scope`
    /// waits for it (requests whose waiters gave up do not count).
    pub fn route(&self, scope: u64, id: Option<&CorrelationKey>) -> Option<Route> {
        let inner = self.lock();
        if let Some(id) = id
            && inner
                .by_id
                .get(&(scope, id.clone()))
                .is_some_and(|tx| !tx.is_closed())
        {
            return Some(Route::ById);
        }
        inner
            .fifo
            .get(&scope)
            .is_some_and(|q| q.iter().any(|tx| !tx.is_closed()))
            .then_some(Route::InOrder)
    }

    /// Completes the request a reply answers; gives the reply back when nobody waits for it.
    pub fn complete(&self, scope: u64, id: Option<CorrelationKey>, reply: T) -> Result<(), T> {
        match self.answer(scope, id, Ok(reply)) {
            Err(Ok(reply)) => Err(reply),
            // `answer` gives back what it was given: only the arm above is an `Err`.
            Ok(()) | Err(Err(_)) => Ok(()),
        }
    }

    /// Completes the request a refusal answers (placed as [`Pending::complete`] places a
    /// reply) with [`RequestError::Refused`]; gives the reason back when nobody waits for it.
    pub fn refuse(
        &self,
        scope: u64,
        id: Option<CorrelationKey>,
        reason: String,
    ) -> Result<(), String> {
        match self.answer(scope, id, Err(RequestError::Refused(reason))) {
            Err(Err(RequestError::Refused(reason))) => Err(reason),
            // `answer` gives back what it was given: only the arm above is an `Err`.
            _ => Ok(()),
        }
    }

    fn answer(
        &self,
        scope: u64,
        id: Option<CorrelationKey>,
        answer: Result<T, RequestError>,
    ) -> Result<(), Result<T, RequestError>> {
        let mut inner = self.lock();
        if let Some(id) = id
            && let Some(tx) = inner.by_id.remove(&(scope, id))
        {
            inner.count -= 1;
            return tx.send(answer);
        }
        let mut answer = answer;
        loop {
            let Some(q) = inner.fifo.get_mut(&scope) else {
                return Err(answer);
            };
            let Some(tx) = q.pop_front() else {
                inner.fifo.remove(&scope);
                return Err(answer);
            };
            inner.count -= 1;
            match tx.send(answer) {
                Ok(()) => return Ok(()),
                // That waiter gave up: try the next one.
                Err(a) => answer = a,
            }
        }
    }

    /// Fails every request of a scope (its connection closed).
    pub fn close_scope(&self, scope: u64) {
        let mut inner = self.lock();
        let before = inner.by_id.len();
        inner.by_id.retain(|(s, _), _| *s != scope);
        let removed = before - inner.by_id.len();
        let fifo = inner.fifo.remove(&scope).map_or(0, |q| q.len());
        inner.count -= removed + fifo;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(id: serde_json::Value) -> Option<CorrelationKey> {
        Some(CorrelationKey::of_value(&id))
    }

    #[tokio::test]
    async fn replies_find_their_requests() {
        let p: Pending<&str> = Pending::new(10);
        let a = p.register(1, key(json!("a"))).unwrap();
        let b = p.register(1, key(json!(7))).unwrap();
        let c = p.register(1, None).unwrap();
        assert_eq!(p.len(), 3);
        // The string "7" is not the number 7: it goes to the request waiting in order.
        let d = p.register(1, key(json!("7"))).unwrap();
        assert!(p.complete(1, key(json!(7)), "seven").is_ok());
        assert!(p.complete(1, key(json!("7")), "string seven").is_ok());
        assert_eq!(
            d.wait(Duration::from_secs(1)).await.unwrap(),
            "string seven"
        );
        assert_eq!(
            p.complete(2, key(json!("a")), "other scope"),
            Err("other scope")
        );
        assert!(p.complete(1, key(json!("a")), "a").is_ok());
        assert!(p.complete(1, None, "fifo").is_ok());
        let t = Duration::from_secs(1);
        assert_eq!(a.wait(t).await.unwrap(), "a");
        assert_eq!(b.wait(t).await.unwrap(), "seven");
        assert_eq!(c.wait(t).await.unwrap(), "fifo");
        assert!(p.is_empty());
    }

    #[tokio::test]
    async fn a_reply_shared_by_two_operations_goes_where_it_is_awaited() {
        let subscribe: Pending<&str> = Pending::new(10);
        let unsubscribe: Pending<&str> = Pending::new(10);
        let s = subscribe.register(1, key(json!(1))).unwrap();
        let u = unsubscribe.register(1, key(json!(2))).unwrap();
        let fifo = unsubscribe.register(1, None).unwrap();
        let routes = |id: serde_json::Value| {
            let id = key(id);
            [
                subscribe.route(1, id.as_ref()),
                unsubscribe.route(1, id.as_ref()),
            ]
        };
        assert_eq!(routes(json!(2)), [None, Some(Route::ById)]);
        assert_eq!(choose(&routes(json!(2))), Some(1));
        assert_eq!(choose(&routes(json!(1))), Some(0));
        // An id nobody waits for goes to the request waiting in order.
        assert_eq!(routes(json!(9)), [None, Some(Route::InOrder)]);
        assert_eq!(choose(&routes(json!(9))), Some(1));
        assert!(unsubscribe.complete(1, key(json!(2)), "two").is_ok());
        assert!(unsubscribe.complete(1, key(json!(9)), "nine").is_ok());
        assert!(subscribe.complete(1, key(json!(1)), "one").is_ok());
        let t = Duration::from_secs(1);
        assert_eq!(s.wait(t).await.unwrap(), "one");
        assert_eq!(u.wait(t).await.unwrap(), "two");
        assert_eq!(fifo.wait(t).await.unwrap(), "nine");
        assert_eq!(choose(&routes(json!(1))), None);
        // Another scope's requests are not this scope's.
        let _other = subscribe.register(2, None).unwrap();
        assert_eq!(subscribe.route(1, None), None);
        assert_eq!(subscribe.route(2, None), Some(Route::InOrder));
    }

    #[tokio::test]
    async fn refusals_complete_the_request_they_answer() {
        let p: Pending<&str> = Pending::new(10);
        let a = p.register(1, key(json!("a"))).unwrap();
        let fifo = p.register(1, None).unwrap();
        assert!(p.refuse(1, key(json!("a")), "no".into()).is_ok());
        // An id nobody waits for goes to the request waiting in order, as a reply would.
        assert!(p.refuse(1, key(json!("gone")), "later".into()).is_ok());
        assert_eq!(p.refuse(1, None, "nobody".into()), Err("nobody".to_owned()));
        let t = Duration::from_secs(1);
        assert_eq!(a.wait(t).await, Err(RequestError::Refused("no".into())));
        assert_eq!(
            fifo.wait(t).await,
            Err(RequestError::Refused("later".into()))
        );
        assert!(p.is_empty());
    }

    #[tokio::test]
    async fn timeouts_limits_and_closed_scopes() {
        let p: Pending<u8> = Pending::new(2);
        let a = p.register(1, None).unwrap();
        let _b = p.register(2, key(json!(1))).unwrap();
        assert_eq!(p.register(3, None).err(), Some(RequestError::TooMany(2)));
        assert_eq!(
            a.wait(Duration::from_millis(10)).await,
            Err(RequestError::Timeout(Duration::from_millis(10)))
        );
        // The timed-out waiter's slot is reclaimed.
        let c = p.register(3, None).unwrap();
        p.close_scope(3);
        assert_eq!(
            c.wait(Duration::from_secs(1)).await,
            Err(RequestError::Closed)
        );
        assert_eq!(p.len(), 1);
    }
}
