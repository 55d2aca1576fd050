//! SSE topics over real loopback sockets: live events, resuming with `Last-Event-ID`, the gap
//! event for a client that fell out of the replay window, heartbeats.

use std::time::Duration;

use asyncforge_runtime::sse::GAP_EVENT;
use asyncforge_runtime::sse::server::{SseConfig, Topic};
use asyncforge_runtime::sse::{Event, Parser};
use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Publishes in process (which cannot fail); the id, a number.
async fn publish(topic: &Topic, name: &str, data: &str) -> u64 {
    topic
        .publish(name, data)
        .await
        .expect("in process")
        .parse()
        .expect("a number")
}

async fn serve(topic: Topic) -> String {
    let app = Router::new()
        .route(
            "/events",
            get(
                |State(topic): State<Topic>, headers: HeaderMap| async move {
                    let r: Response = topic.response(&headers).await;
                    r
                },
            ),
        )
        .with_state(topic);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr.to_string()
}

/// A minimal HTTP/1.1 client reading a chunked event stream.
struct Client {
    stream: TcpStream,
    raw: Vec<u8>,
    body_started: bool,
    parser: Parser,
    events: Vec<Event>,
    body: Vec<u8>,
}

impl Client {
    async fn connect(addr: &str, last_event_id: Option<&str>) -> Client {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let extra = last_event_id
            .map(|l| format!("Last-Event-ID: {l}\r\n"))
            .unwrap_or_default();
        let req = format!(
            "GET /events HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n{extra}\r\n"
        );
        stream.write_all(req.as_bytes()).await.expect("write");
        Client {
            stream,
            raw: Vec::new(),
            body_started: false,
            parser: Parser::new(1 << 20),
            events: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Reads until `n` events arrived (or 5 s passed).
    async fn events(&mut self, n: usize) -> Vec<Event> {
        self.read_until(n, Duration::from_secs(5)).await
    }

    async fn read_until(&mut self, n: usize, limit: Duration) -> Vec<Event> {
        let deadline = tokio::time::Instant::now() + limit;
        while self.events.len() < n && tokio::time::Instant::now() < deadline {
            let mut buf = [0u8; 4096];
            let read =
                tokio::time::timeout(Duration::from_millis(200), self.stream.read(&mut buf)).await;
            let Ok(Ok(k)) = read else { continue };
            if k == 0 {
                break;
            }
            self.raw.extend_from_slice(&buf[..k]);
            self.decode();
        }
        self.events.clone()
    }

    fn decode(&mut self) {
        if !self.body_started {
            let Some(i) = self.raw.windows(4).position(|w| w == b"\r\n\r\n") else {
                return;
            };
            let head = String::from_utf8_lossy(&self.raw[..i]).to_ascii_lowercase();
            assert!(head.starts_with("http/1.1 200"), "{head}");
            assert!(head.contains("content-type: text/event-stream"), "{head}");
            self.raw.drain(..i + 4);
            self.body_started = true;
        }
        // Chunked transfer coding: size line, data, CRLF.
        loop {
            let Some(eol) = self.raw.windows(2).position(|w| w == b"\r\n") else {
                return;
            };
            let size = usize::from_str_radix(String::from_utf8_lossy(&self.raw[..eol]).trim(), 16)
                .unwrap_or(0);
            if self.raw.len() < eol + 2 + size + 2 {
                return;
            }
            let chunk: Vec<u8> = self.raw[eol + 2..eol + 2 + size].to_vec();
            self.raw.drain(..eol + 2 + size + 2);
            self.body.extend_from_slice(&chunk);
            let new = self.parser.feed(&chunk).expect("parse");
            self.events.extend(new);
        }
    }
}

fn config() -> SseConfig {
    SseConfig {
        replay: 3,
        replay_age: Duration::from_secs(600),
        retry: Duration::from_millis(1500),
        heartbeat: Duration::from_millis(100),
        subscriber_queue: 64,
    }
}

async fn wait_for_subscribers(topic: &Topic, n: usize) {
    for _ in 0..100 {
        if topic.subscribers() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn live_events_with_ids_names_retry_and_heartbeats() {
    let topic = Topic::new(config());
    let addr = serve(topic.clone()).await;
    let mut c = Client::connect(&addr, None).await;
    let _ = c.events(0).await;
    wait_for_subscribers(&topic, 1).await;
    let first = publish(&topic, "tick", "{\"n\":1}").await;
    let second = publish(&topic, "message", "two\nlines").await;
    assert_eq!(second, first + 1);
    let (first, second) = (first.to_string(), second.to_string());
    let got = c.events(2).await;
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(
        (
            got[0].name.as_str(),
            got[0].data.as_str(),
            got[0].id.as_deref()
        ),
        ("tick", "{\"n\":1}", Some(first.as_str()))
    );
    assert_eq!(
        (
            got[1].name.as_str(),
            got[1].data.as_str(),
            got[1].id.as_deref()
        ),
        ("message", "two\nlines", Some(second.as_str()))
    );
    assert_eq!(c.parser.retry(), Some(1500));
    let _ = c.read_until(3, Duration::from_millis(400)).await;
    assert!(
        String::from_utf8_lossy(&c.body).contains(": heartbeat\n\n"),
        "heartbeat comments keep the stream alive"
    );
}

#[tokio::test]
async fn resuming_replays_missed_events_without_gap_or_duplicate() {
    let topic = Topic::new(config());
    let addr = serve(topic.clone()).await;
    let mut ids: Vec<String> = Vec::new();
    for i in 1..=4 {
        ids.push(publish(&topic, "tick", &i.to_string()).await.to_string());
    }
    let mut c = Client::connect(&addr, Some(&ids[1])).await;
    let got = c.events(2).await;
    let data: Vec<&str> = got.iter().map(|e| e.data.as_str()).collect();
    assert_eq!(data, vec!["3", "4"]);
    wait_for_subscribers(&topic, 1).await;
    ids.push(publish(&topic, "tick", "5").await.to_string());
    let got = c.events(3).await;
    let seen: Vec<Option<&str>> = got.iter().map(|e| e.id.as_deref()).collect();
    let expected: Vec<Option<&str>> = ids[2..].iter().map(|i| Some(i.as_str())).collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn a_client_beyond_the_window_is_told_about_the_gap() {
    let topic = Topic::new(config());
    let addr = serve(topic.clone()).await;
    let mut ids: Vec<u64> = Vec::new();
    for i in 1..=6 {
        ids.push(publish(&topic, "tick", &i.to_string()).await);
    }
    let mut c = Client::connect(&addr, Some(&ids[0].to_string())).await;
    let got = c.events(4).await;
    assert_eq!(got[0].name, GAP_EVENT);
    assert_eq!(
        got[0].data,
        format!("{{\"lastEventId\":\"{}\",\"oldest\":{}}}", ids[0], ids[3])
    );
    let data: Vec<&str> = got[1..].iter().map(|e| e.data.as_str()).collect();
    assert_eq!(data, vec!["4", "5", "6"]);
}
