//! Shared by the HTTP tests: message types as the code generator writes them, and a server on
//! a loopback port.
#![allow(dead_code)]

pub mod resources;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use asyncforge_runtime::Message;
use asyncforge_runtime::Reject;
use asyncforge_runtime::http::idempotency::{Claim, IdempotencyStore};
use asyncforge_runtime::http::outbox::{Delivery, Lease, Outbox};
use asyncforge_runtime::http::receiver::{Receiver, ReceiverConfig, Webhook};
use asyncforge_runtime::http::sender::Subscriber;
use asyncforge_runtime::http::signature::{Scheme, Signer, generate_secret, unix_now};
use axum::Router;
use serde::{Deserialize, Serialize};

/// The payload of `OrderPlaced`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: u32,
    pub item: String,
}

/// A webhook message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderPlaced(pub Order);

impl Message for OrderPlaced {
    type Payload = Order;
    const NAME: &'static str = "OrderPlaced";
    const CONTENT_TYPE: Option<&'static str> = Some("application/json");
    fn payload(&self) -> &Order {
        &self.0
    }
    fn from_payload(payload: Order) -> Self {
        OrderPlaced(payload)
    }
}

impl OrderPlaced {
    pub fn new(id: u32) -> Self {
        OrderPlaced(Order {
            id,
            item: format!("item-{id}"),
        })
    }
}

/// The payload of a counter resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterValue {
    pub value: u64,
}

/// A resource message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter(pub CounterValue);

impl Message for Counter {
    type Payload = CounterValue;
    const NAME: &'static str = "Counter";
    const CONTENT_TYPE: Option<&'static str> = None;
    fn payload(&self) -> &CounterValue {
        &self.0
    }
    fn from_payload(payload: CounterValue) -> Self {
        Counter(payload)
    }
}

impl Counter {
    pub fn new(value: u64) -> Self {
        Counter(CounterValue { value })
    }
}

/// Serves `app` on a fresh loopback port; returns `http://127.0.0.1:port`.
pub async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

/// Serves `app` on a given listener.
pub fn serve_on(listener: tokio::net::TcpListener, app: axum::Router) {
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
}

/// Polls `cond` every 20 ms for at most `secs` seconds.
pub async fn eventually(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    while tokio::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    cond()
}

/// A plain HTTP client (the runtime's TLS setup; `reqwest::Client::new()` would need a
/// process-wide crypto provider).
pub fn http() -> reqwest::Client {
    asyncforge_runtime::http::client_builder()
        .expect("tls")
        .build()
        .expect("client")
}

/// What every idempotency store does: a claim holds an id until it is completed (then the id
/// is done), released by its own token (then it can be claimed again) or its lease runs out.
pub async fn claim_complete_release_and_expiry(store: &dyn IdempotencyStore) {
    let lease = Duration::from_secs(5);
    let Claim::Claimed(t1) = store.claim("a", lease).await.expect("claim") else {
        panic!("first claim must succeed")
    };
    assert_eq!(
        store.claim("a", lease).await.expect("claim"),
        Claim::InProgress
    );
    store.release("a", "someone-else").await.expect("release");
    assert_eq!(
        store.claim("a", lease).await.expect("claim"),
        Claim::InProgress,
        "other token"
    );
    store.release("a", &t1).await.expect("release");
    let Claim::Claimed(t2) = store.claim("a", lease).await.expect("claim") else {
        panic!("claim after release must succeed")
    };
    store
        .complete("a", &t2, Duration::from_secs(60))
        .await
        .expect("complete");
    assert_eq!(store.claim("a", lease).await.expect("claim"), Claim::Done);
    // A lease runs out by itself (a receiver that died while handling).
    assert!(matches!(
        store
            .claim("b", Duration::from_millis(50))
            .await
            .expect("claim"),
        Claim::Claimed(_)
    ));
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert!(matches!(
        store.claim("b", lease).await.expect("claim"),
        Claim::Claimed(_)
    ));
}

/// Two receiver instances sharing `store`: a webhook sent twice to each is handled once, and
/// the replays say so.
pub async fn receivers_sharing_a_store_handle_each_webhook_once(store: Arc<dyn IdempotencyStore>) {
    let secret = generate_secret();
    let handled = Arc::new(AtomicUsize::new(0));
    let mut urls = Vec::new();
    for _ in 0..2 {
        let h = handled.clone();
        let rx = Receiver::new(
            ReceiverConfig::new(&secret),
            move |_: Webhook<OrderPlaced>| {
                let h = h.clone();
                async move {
                    h.fetch_add(1, Ordering::SeqCst);
                    Ok::<(), Reject>(())
                }
            },
        )
        .expect("receiver")
        .with_store(store.clone());
        urls.push(format!(
            "{}/hook",
            serve(Router::new().route("/hook", rx.endpoint())).await
        ));
    }
    let http = http();
    let signer = Signer::new(Scheme::StandardWebhooks, &[&secret]).expect("signer");
    let body = br#"{"id":1,"item":"x"}"#;
    let mut statuses = Vec::new();
    for round in 0..2 {
        for url in &urls {
            let mut req = http.post(url).body(body.to_vec());
            for (k, v) in signer.sign("msg_shared", unix_now(), body) {
                req = req.header(k, v);
            }
            let r = req.send().await.expect("send");
            statuses.push((
                round,
                r.status().as_u16(),
                r.headers().contains_key("idempotent-replayed"),
            ));
        }
    }
    assert_eq!(handled.load(Ordering::SeqCst), 1, "{statuses:?}");
    assert_eq!(
        statuses,
        vec![
            (0, 204, false),
            (0, 204, true),
            (1, 204, true),
            (1, 204, true)
        ]
    );
}

/// A delivery of `OrderPlaced` to `url`, as a sender stores it.
pub fn delivery(id: &str, url: &str) -> Delivery {
    Delivery {
        id: id.to_owned(),
        subscriber: Subscriber::new("s", url, generate_secret()),
        event: OrderPlaced::NAME.to_owned(),
        content_type: "application/json".to_owned(),
        headers: Vec::new(),
        body: br#"{"id":1,"item":"item-1"}"#.to_vec(),
        created_ms: 1,
        attempts: 0,
        not_before_ms: None,
    }
}

pub fn lease(owner: &str, ms: u64) -> Lease {
    Lease {
        owner: owner.to_owned(),
        duration: Duration::from_millis(ms),
    }
}

/// The claim rules every outbox keeps, seen through two handles on one outbox (`a` and `b`
/// may be the same object): a claim keeps other senders out until it is given up or expires,
/// the holder extends it, only the holder records an attempt, a done delivery is nobody's.
pub async fn outbox_claim_rules(a: &dyn Outbox, b: &dyn Outbox) {
    let (la, lb) = (lease("a", 60_000), lease("b", 60_000));
    a.put(&delivery("d", "http://127.0.0.1:1/"), Some(&la))
        .await
        .expect("put");
    assert!(
        b.claim("d", &lb).await.expect("claim").is_none(),
        "held by a"
    );
    assert!(b.claim_due(&lb, 10).await.expect("due").is_empty());
    assert!(
        a.claim("d", &la).await.expect("claim").is_some(),
        "extended"
    );
    assert!(!b.attempt("d", "b", 1, 0).await.expect("attempt"));
    assert!(a.attempt("d", "a", 1, 0).await.expect("attempt"));
    let taken = b.claim_due(&lb, 10).await.expect("due");
    assert_eq!(taken.len(), 1);
    assert_eq!((taken[0].attempts, taken[0].not_before_ms), (1, Some(0)));
    assert!(a.claim("d", &la).await.expect("claim").is_none(), "now b's");
    // An expired claim is anyone's.
    a.put(&delivery("e", "http://127.0.0.1:1/"), Some(&lease("c", 1)))
        .await
        .expect("put");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let e = b
        .claim("e", &lb)
        .await
        .expect("claim")
        .expect("expired claim");
    assert_eq!(e.body, delivery("e", "").body);
    // Not due yet: left alone by claim_due, but claimable by id.
    a.put(&delivery("f", "http://127.0.0.1:1/"), None)
        .await
        .expect("put");
    assert!(a.claim("f", &la).await.expect("claim").is_some());
    assert!(a.attempt("f", "a", 2, i64::MAX).await.expect("attempt"));
    assert!(b.claim_due(&lb, 10).await.expect("due").is_empty());
    // Done: gone for everyone.
    for id in ["d", "e", "f"] {
        a.done(id).await.expect("done");
    }
    assert!(b.claim("e", &lb).await.expect("claim").is_none());
    assert!(b.pending().await.expect("pending").is_empty());
}

/// The Postgres the tests use: the `postgres` role with a password (trust authentication
/// ignores it; password authentication, a fresh Debian cluster as `cargo xtask peers` sets it
/// up, checks it).
pub const POSTGRES: &str =
    "host=127.0.0.1 port=5432 user=postgres password=postgres dbname=postgres";

/// A fresh table name starting with `prefix` when a Postgres answers on 127.0.0.1:5432 and
/// `connect` (what the test stores in it) succeeds within five seconds; otherwise a skip (a
/// failure in CI) naming what is missing.
pub async fn on_postgres<T, E: std::fmt::Debug, F>(
    prefix: &str,
    connect: impl FnOnce(String) -> F,
) -> Option<(T, String)>
where
    F: std::future::Future<Output = Result<T, E>>,
{
    let reachable = tokio::time::timeout(
        Duration::from_secs(1),
        tokio::net::TcpStream::connect("127.0.0.1:5432"),
    )
    .await
    .is_ok_and(|r| r.is_ok());
    if !reachable {
        return asyncforge_testkit::skip_none(
            "a Postgres server on 127.0.0.1:5432",
            "apt-get install postgresql, or cargo xtask peers",
        );
    }
    let table = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    match tokio::time::timeout(Duration::from_secs(5), connect(table.clone())).await {
        Ok(Ok(t)) => Some((t, table)),
        other => asyncforge_testkit::skip_none(
            &format!(
                "a Postgres server accepting {POSTGRES} ({:?})",
                other.map(|r| r.err())
            ),
            "cargo xtask peers",
        ),
    }
}

/// Drops a test's table.
pub async fn drop_table(table: &str) {
    let (client, connection) = tokio_postgres::connect(POSTGRES, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    client
        .batch_execute(&format!("DROP TABLE IF EXISTS {table}"))
        .await
        .expect("drop the test table");
}

/// Ends the Postgres sessions whose application name is `name` (a server restart, as the
/// client sees it); returns how many.
pub async fn end_sessions(name: &str) -> u64 {
    let (admin, connection) = tokio_postgres::connect(POSTGRES, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            &[&name],
        )
        .await
        .expect("terminate")
}
