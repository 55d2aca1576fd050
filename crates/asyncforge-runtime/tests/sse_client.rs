//! The SSE client against the real `sse::server::Topic` (and a few scripted servers) over
//! loopback: order, headers, resuming across a server restart without gap or duplicate, gap
//! notices, `204` stopping the client, oversized events, idle timeouts, the attempt limit.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use asyncforge_runtime::backoff::Backoff;
use asyncforge_runtime::sse::client::{
    HeaderMap, HeaderValue, SseClient, SseClientConfig, SseItem, State, StatusCode,
};
use asyncforge_runtime::sse::{
    self,
    server::{SseConfig, Topic},
};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State as AxumState;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::StreamExt;
use tokio::sync::watch;

/// A server that can be stopped, closing its event streams, and started again on its port.
struct Server {
    addr: String,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start(app: impl FnOnce(watch::Receiver<bool>) -> Router, addr: &str) -> Server {
        let (stop, stopped) = watch::channel(false);
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let app = app(stopped.clone());
        let mut shutdown = stopped;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = shutdown.wait_for(|s| *s).await;
                })
                .await;
        });
        Server { addr, stop, task }
    }

    fn url(&self) -> String {
        format!("http://{}/events", self.addr)
    }

    async fn stop(self) {
        self.stop.send_replace(true);
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("server stops")
            .expect("server task");
    }
}

type Seen = Arc<Mutex<Vec<HeaderMap>>>;

/// `GET /events` streams the topic (ending when the server stops), `POST /events` echoes.
fn topic_app(topic: Topic, seen: Seen) -> impl FnOnce(watch::Receiver<bool>) -> Router {
    move |stopped| {
        Router::new()
            .route(
                "/events",
                get(
                    move |AxumState(topic): AxumState<Topic>, headers: HeaderMap| async move {
                        seen.lock().expect("seen").push(headers.clone());
                        let (parts, body) = topic.response(&headers).await.into_parts();
                        let mut stopped = stopped.clone();
                        let body = body.into_data_stream().take_until(async move {
                            let _ = stopped.wait_for(|s| *s).await;
                        });
                        Response::from_parts(parts, Body::from_stream(body))
                    },
                )
                .post(|headers: HeaderMap, body: Bytes| async move {
                    let auth = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned();
                    let kind = headers
                        .get(CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned();
                    let text = String::from_utf8_lossy(&body).into_owned();
                    (StatusCode::ACCEPTED, format!("{auth} | {kind} | {text}"))
                }),
            )
            .with_state(topic)
    }
}

/// A server whose `k`-th request (from 0) is answered by `script(k)`; records each request's
/// time and `Last-Event-ID`.
type Requests = Arc<Mutex<Vec<(Instant, Option<String>)>>>;

fn scripted(
    script: fn(usize) -> Response,
    requests: Requests,
) -> impl FnOnce(watch::Receiver<bool>) -> Router {
    move |_| {
        let count = Arc::new(AtomicUsize::new(0));
        Router::new().route(
            "/events",
            get(move |headers: HeaderMap| async move {
                let last = headers
                    .get("last-event-id")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                requests
                    .lock()
                    .expect("requests")
                    .push((Instant::now(), last));
                script(count.fetch_add(1, Ordering::SeqCst))
            }),
        )
    }
}

fn event_stream(body: String) -> Response {
    ([(CONTENT_TYPE, "text/event-stream")], body).into_response()
}

/// Publishes in process (which cannot fail); the id, a number.
async fn publish(topic: &Topic, name: &str, data: &str) -> u64 {
    topic
        .publish(name, data)
        .await
        .expect("in process")
        .parse()
        .expect("a number")
}

fn topic_config() -> SseConfig {
    SseConfig {
        replay: 100,
        replay_age: Duration::from_secs(600),
        retry: Duration::from_millis(30),
        heartbeat: Duration::from_secs(1),
        subscriber_queue: 64,
    }
}

fn client_config() -> SseClientConfig {
    SseClientConfig {
        backoff: Backoff {
            base: Duration::from_millis(10),
            max: Duration::from_millis(100),
            ..Backoff::default()
        },
        read_idle_timeout: Some(Duration::from_secs(5)),
        ..SseClientConfig::default()
    }
}

async fn next(c: &mut SseClient) -> Option<SseItem> {
    tokio::time::timeout(Duration::from_secs(5), c.next())
        .await
        .expect("an item within 5 s")
}

/// The next item, which must be an event: (name, data, id).
async fn event(c: &mut SseClient) -> (String, String, String) {
    match next(c).await {
        Some(SseItem::Event(e)) => (e.name, e.data, e.id.unwrap_or_default()),
        other => panic!("expected an event, got {other:?}"),
    }
}

async fn nothing_more(c: &mut SseClient, within: Duration) {
    if let Ok(item) = tokio::time::timeout(within, c.next()).await {
        panic!("unexpected item {item:?}");
    }
}

async fn wait_for_subscribers(topic: &Topic, n: usize) {
    for _ in 0..500 {
        if topic.subscribers() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no subscriber");
}

fn datas(events: &[(String, String, String)]) -> Vec<&str> {
    events.iter().map(|e| e.1.as_str()).collect()
}

#[tokio::test]
async fn events_arrive_in_order_with_headers_and_post_goes_the_other_way() {
    let topic = Topic::new(topic_config());
    let seen = Seen::default();
    let server = Server::start(topic_app(topic.clone(), seen.clone()), "127.0.0.1:0").await;
    let mut headers = HeaderMap::new();
    headers.insert("authorization", HeaderValue::from_static("Bearer t0ken"));
    let mut c = SseClient::connect(
        server.url(),
        SseClientConfig {
            headers,
            ..client_config()
        },
    );
    wait_for_subscribers(&topic, 1).await;
    assert_eq!(c.state(), State::Connected { generation: 1 });
    let mut published = vec![
        publish(&topic, "tick", "{\"n\":1}").await.to_string(),
        publish(&topic, "message", "two\nlines").await.to_string(),
    ];
    for i in 3..=5 {
        published.push(publish(&topic, "tick", &i.to_string()).await.to_string());
    }
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(event(&mut c).await);
    }
    assert_eq!(
        got[0],
        ("tick".into(), "{\"n\":1}".into(), published[0].clone()),
        "{got:?}"
    );
    assert_eq!(
        got[1],
        ("message".into(), "two\nlines".into(), published[1].clone())
    );
    let ids: Vec<&str> = got.iter().map(|e| e.2.as_str()).collect();
    assert_eq!(ids, published);

    let request = seen.lock().expect("seen")[0].clone();
    assert_eq!(request["accept"], "text/event-stream");
    assert_eq!(request["cache-control"], "no-cache");
    assert_eq!(request["authorization"], "Bearer t0ken");
    assert!(request.get("last-event-id").is_none());

    let (status, body) = c
        .post(&server.url(), "application/json", "{\"x\":1}")
        .await
        .expect("post");
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(&body[..], b"Bearer t0ken | application/json | {\"x\":1}");
    let err = c
        .post(&server.url(), "bad\ncontent type", "x")
        .await
        .expect_err("an invalid content type is an error, not a panic");
    assert!(matches!(err, sse::client::SseClientError::Http(_)), "{err}");
    c.close();
    server.stop().await;
}

#[tokio::test]
async fn a_server_restart_is_resumed_without_gap_or_duplicate() {
    let topic = Topic::new(topic_config());
    let seen = Seen::default();
    let server = Server::start(topic_app(topic.clone(), seen.clone()), "127.0.0.1:0").await;
    let addr = server.addr.clone();
    let mut c = SseClient::connect(server.url(), client_config());
    wait_for_subscribers(&topic, 1).await;
    let mut ids: Vec<u64> = Vec::new();
    for i in 1..=3 {
        ids.push(publish(&topic, "tick", &i.to_string()).await);
    }
    let third = ids.last().map(u64::to_string);
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(event(&mut c).await);
    }

    server.stop().await;
    c.wait_for(|s| matches!(s, State::Connecting { .. })).await;
    // Published while no server is listening: kept in the topic's replay buffer.
    for i in 4..=6 {
        publish(&topic, "tick", &i.to_string()).await;
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    let server = Server::start(topic_app(topic.clone(), seen.clone()), &addr).await;
    c.wait_for(|s| *s == State::Connected { generation: 2 })
        .await;
    wait_for_subscribers(&topic, 1).await;
    publish(&topic, "tick", "7").await;
    for _ in 4..=7 {
        got.push(event(&mut c).await);
    }
    assert_eq!(datas(&got), ["1", "2", "3", "4", "5", "6", "7"]);
    nothing_more(&mut c, Duration::from_millis(300)).await;
    let seen = seen.lock().expect("seen").clone();
    assert_eq!(seen.len(), 2, "one request per server");
    assert_eq!(seen[1]["last-event-id"], third.unwrap_or_default());
    server.stop().await;
}

#[tokio::test]
async fn a_client_beyond_the_replay_window_is_told_about_the_gap() {
    let topic = Topic::new(SseConfig {
        replay: 3,
        ..topic_config()
    });
    let server = Server::start(topic_app(topic.clone(), Seen::default()), "127.0.0.1:0").await;
    let mut ids: Vec<u64> = Vec::new();
    for i in 1..=6 {
        ids.push(publish(&topic, "tick", &i.to_string()).await);
    }
    let mut c = SseClient::connect(
        server.url(),
        SseClientConfig {
            last_event_id: Some(ids[0].to_string()),
            ..client_config()
        },
    );
    assert_eq!(
        next(&mut c).await,
        Some(SseItem::Gap {
            last_event_id: ids[0].to_string(),
            oldest: Some(ids[3].to_string())
        })
    );
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(event(&mut c).await);
    }
    assert_eq!(datas(&got), ["4", "5", "6"]);
    server.stop().await;
}

#[tokio::test]
async fn a_restarted_server_that_lost_its_buffer_is_a_gap_and_its_ids_go_on_above() {
    let old = Topic::new(topic_config());
    let server = Server::start(topic_app(old.clone(), Seen::default()), "127.0.0.1:0").await;
    let addr = server.addr.clone();
    let mut c = SseClient::connect(server.url(), client_config());
    wait_for_subscribers(&old, 1).await;
    let old_1 = publish(&old, "tick", "old 1").await.to_string();
    let old_2 = publish(&old, "tick", "old 2").await.to_string();
    assert_eq!(event(&mut c).await.2, old_1);
    assert_eq!(event(&mut c).await.2, old_2);
    server.stop().await;

    // A new topic (a new process): its ids start above the old one's, so the client's last id
    // is older than anything it holds.
    let new = Topic::new(topic_config());
    let server = Server::start(topic_app(new.clone(), Seen::default()), &addr).await;
    let gap = next(&mut c).await;
    wait_for_subscribers(&new, 1).await;
    let new_1 = publish(&new, "tick", "new 1").await;
    let new_2 = publish(&new, "tick", "new 2").await;
    assert_eq!(
        gap,
        Some(SseItem::Gap {
            last_event_id: old_2,
            oldest: Some(new_1.to_string())
        })
    );
    assert_eq!(
        event(&mut c).await,
        ("tick".into(), "new 1".into(), new_1.to_string())
    );
    assert_eq!(
        event(&mut c).await,
        ("tick".into(), "new 2".into(), new_2.to_string())
    );
    server.stop().await;
}

#[tokio::test]
async fn duplicates_are_dropped_errors_retried_retry_hint_honoured_and_204_stops() {
    fn script(k: usize) -> Response {
        match k {
            0 => StatusCode::SERVICE_UNAVAILABLE.into_response(),
            1 => event_stream("retry: 80\n\nid: 1\ndata: a\n\n".into()),
            // A server that ignores Last-Event-ID and replays from the start.
            2 => event_stream("id: 1\ndata: a\n\nid: 2\ndata: b\n\n".into()),
            3 => event_stream("id: 1\ndata: a\n\nid: 2\ndata: b\n\nid: 3\ndata: c\n\n".into()),
            _ => StatusCode::NO_CONTENT.into_response(),
        }
    }
    let requests = Requests::default();
    let server = Server::start(scripted(script, requests.clone()), "127.0.0.1:0").await;
    let mut c = SseClient::connect(server.url(), client_config());
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(event(&mut c).await);
    }
    assert_eq!(datas(&got), ["a", "b", "c"]);
    assert_eq!(next(&mut c).await, None, "204 closes the client");
    assert_eq!(c.state(), State::Closed);
    let requests = requests.lock().expect("requests").clone();
    let last: Vec<Option<&str>> = requests.iter().map(|r| r.1.as_deref()).collect();
    assert_eq!(last, [None, None, Some("1"), Some("2"), Some("3")]);
    // The server's retry: hint (under backoff.max) is the shortest delay once it was given.
    for pair in requests[1..].windows(2) {
        let waited = pair[1].0 - pair[0].0;
        assert!(waited >= Duration::from_millis(80), "{waited:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn an_oversized_event_is_skipped_and_reported_as_a_gap() {
    fn script(k: usize) -> Response {
        match k {
            0 => event_stream(format!(
                "id: 1\ndata: small\n\nid: 2\ndata: {}\ndata: {}\n\nid: 3\ndata: after\n\n",
                "x".repeat(50_000),
                "y".repeat(50_000)
            )),
            _ => StatusCode::NO_CONTENT.into_response(),
        }
    }
    let requests = Requests::default();
    let server = Server::start(scripted(script, requests.clone()), "127.0.0.1:0").await;
    let mut c = SseClient::connect(
        server.url(),
        SseClientConfig {
            max_event: 1024,
            ..client_config()
        },
    );
    assert_eq!(event(&mut c).await.1, "small");
    assert_eq!(
        next(&mut c).await,
        Some(SseItem::Gap {
            last_event_id: "1".into(),
            oldest: None
        })
    );
    assert_eq!(
        event(&mut c).await,
        ("message".into(), "after".into(), "3".into())
    );
    assert_eq!(next(&mut c).await, None);
    server.stop().await;
}

#[tokio::test]
async fn heartbeats_keep_a_stream_open_and_silence_reconnects_it() {
    let idle = Some(Duration::from_millis(300));
    // Heartbeats every 50 ms: the stream stays up.
    let chatty = Topic::new(SseConfig {
        heartbeat: Duration::from_millis(50),
        ..topic_config()
    });
    let server = Server::start(topic_app(chatty.clone(), Seen::default()), "127.0.0.1:0").await;
    let c = SseClient::connect(
        server.url(),
        SseClientConfig {
            read_idle_timeout: idle,
            ..client_config()
        },
    );
    wait_for_subscribers(&chatty, 1).await;
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(c.state(), State::Connected { generation: 1 });
    c.close();
    server.stop().await;

    // No heartbeat within the limit: the client reconnects and resumes.
    let silent = Topic::new(SseConfig {
        heartbeat: Duration::from_secs(60),
        ..topic_config()
    });
    let seen = Seen::default();
    let server = Server::start(topic_app(silent.clone(), seen.clone()), "127.0.0.1:0").await;
    let mut c = SseClient::connect(
        server.url(),
        SseClientConfig {
            read_idle_timeout: idle,
            ..client_config()
        },
    );
    wait_for_subscribers(&silent, 1).await;
    let first = publish(&silent, "tick", "1").await.to_string();
    assert_eq!(event(&mut c).await.1, "1");
    let state = tokio::time::timeout(
        Duration::from_secs(3),
        c.wait_for(|s| matches!(s, State::Connected { generation } if *generation >= 2)),
    )
    .await
    .expect("reconnected after the idle timeout");
    assert!(matches!(state, State::Connected { .. }), "{state:?}");
    wait_for_subscribers(&silent, 1).await;
    publish(&silent, "tick", "2").await;
    assert_eq!(event(&mut c).await.1, "2");
    nothing_more(&mut c, Duration::from_millis(700)).await;
    let seen = seen.lock().expect("seen").clone();
    assert!(seen.len() >= 2);
    assert_eq!(seen[1]["last-event-id"], first);
    server.stop().await;
}

#[tokio::test]
async fn the_client_gives_up_after_the_attempt_limit() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let mut c = SseClient::connect(
        format!("http://{addr}/events"),
        SseClientConfig {
            backoff: Backoff {
                base: Duration::from_millis(5),
                max: Duration::from_millis(20),
                max_attempts: Some(2),
                ..Backoff::default()
            },
            ..client_config()
        },
    );
    assert_eq!(next(&mut c).await, None);
    assert_eq!(c.state(), State::Closed);
}
