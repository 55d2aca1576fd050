//! Shared by the HTTP tests: message types as the code generator writes them, and a server on
//! a loopback port.
#![allow(dead_code)]

use asyncforge_runtime::Message;
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
