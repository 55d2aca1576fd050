//! Edge behaviours of the generated WebSocket and SSE code (issue 18): refused requests fail
//! fast, replies never wait behind unread events, SSE ids stay unique across server restarts,
//! typed SSE events give their ids, and `format: uuid` errors name their field.

use std::time::Duration;

use asyncforge_runtime::rpc::RequestError;
use asyncforge_runtime::ws::client::{Overflow, State};
use futures_util::SinkExt;
use snapshot_pulse_rooms::ErrorKind;
use snapshot_pulse_rooms::channels::LobbyParams;
use snapshot_pulse_rooms::client::{ClientOptions, LobbyClient, LobbyEvent};
use snapshot_pulse_rooms::messages::{Ping, WhoAreYou};
use snapshot_pulse_rooms::server::Config;
use snapshot_pulse_rooms::types::*;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::{Running, WAIT, fast_options, fixed_port_listener, next_json, start, start_on};
use asyncforge_runtime::backoff::Backoff;
use asyncforge_runtime::codegen::{DateTime, Uuid};
use asyncforge_runtime::sse::client::SseClientConfig;
use snapshot_pulse_rooms::channels::PricesParams;
use snapshot_pulse_rooms::client::{PricesClient, PricesEvent, PricesStream};
use snapshot_pulse_rooms::messages::Tick;

/// A ping with `id`; the test server's handler refuses it when `refuse` is given.
fn ping(id: Option<Uuid>, refuse: Option<&str>) -> Ping {
    let mut extra = std::collections::BTreeMap::new();
    if let Some(why) = refuse {
        extra.insert("refuse".to_owned(), serde_json::Value::from(why));
    }
    Ping::new(PingPayload {
        event: PingPayloadEvent::Ping,
        request_id: id,
        extra,
    })
}

/// `f` within [`WAIT`]: a guard against a hang (a refused request would otherwise wait out its
/// whole `request_timeout`).
async fn fast<F: std::future::Future>(f: F) -> Result<F::Output, tokio::time::error::Elapsed> {
    tokio::time::timeout(WAIT, f).await
}

/// The connection id of the lobby's newest connection, once the server has it.
async fn lobby_conn(app: &super::App, count: usize) -> asyncforge_runtime::ws::ConnId {
    tokio::time::timeout(WAIT, async {
        loop {
            if let Some(c) = app.lobby.lock().unwrap().get(count - 1).copied() {
                return c;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the lobby connection is seen by the server")
}

/// The server asks `conn` who it is `n` times; nobody answers (the requests time out on the
/// server's side): `n` events for the client's queue.
fn ask_identity(s: &Running, conn: asyncforge_runtime::ws::ConnId, n: u128) {
    for i in 0..n {
        let sender = s.server.sender();
        tokio::spawn(async move {
            let _ = sender
                .ask_identity(
                    conn,
                    WhoAreYou::new(WhoAreYouPayload {
                        event: WhoAreYouPayloadEvent::WhoAreYou,
                        request_id: Uuid::from_u128(1000 + i),
                        extra: Default::default(),
                    }),
                )
                .await;
        });
    }
}

/// A request the server's handler refuses, or whose payload breaks the schema, completes with
/// `RequestError::Refused` and the server's reason long before `request_timeout` (30 s here):
/// the error frame names the request's operation and carries its correlation id. An error
/// frame that answers no request stays an event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_request_fails_fast() {
    let (s, app) = start(Config::default()).await;
    let url = format!("ws://{}", s.addr);
    let mut options = fast_options();
    options.request_timeout = Duration::from_secs(30);
    let mut lobby = LobbyClient::connect(&url, &LobbyParams {}, options);
    lobby.wait_connected().await;

    // A lone request (it reads its own answer from the socket) with an id.
    let id = Uuid::from_u128(0xabc);
    let refused = fast(lobby.ping(ping(Some(id), Some("not today"))))
        .await
        .expect("the refusal came before the timeout guard");
    assert_eq!(
        refused
            .err()
            .as_ref()
            .and_then(|e| e.downcast_ref::<RequestError>()),
        Some(&RequestError::Refused("ping refused: not today".into()))
    );
    // Without an id: answered in order, like a reply.
    let refused = fast(lobby.ping(ping(None, Some("no id"))))
        .await
        .expect("fast");
    assert_eq!(
        refused
            .err()
            .as_ref()
            .and_then(|e| e.downcast_ref::<RequestError>()),
        Some(&RequestError::Refused("ping refused: no id".into()))
    );
    // Concurrent requests (answers read by the connection task), refused and accepted mixed:
    // each gets its own answer.
    let ids: Vec<Uuid> = (1..=12).map(Uuid::from_u128).collect();
    let answers = fast(futures_util::future::join_all(ids.iter().map(|i| {
        let refuse = (i.as_u128() % 2 == 0).then_some("even");
        lobby.ping(ping(Some(*i), refuse))
    })))
    .await
    .expect("every answer came before the timeout guard");
    for (i, answer) in ids.iter().zip(answers) {
        if i.as_u128() % 2 == 0 {
            assert_eq!(
                answer
                    .err()
                    .as_ref()
                    .and_then(|e| e.downcast_ref::<RequestError>()),
                Some(&RequestError::Refused("ping refused: even".into()))
            );
        } else {
            assert_eq!(answer.expect("a pong").payload.request_id, Some(*i));
        }
    }
    // No refusal went to the event queue: the first event is the server's next request.
    let conn = lobby_conn(&app, 1).await;
    ask_identity(&s, conn, 1);
    match fast(lobby.next()).await.expect("an event").expect("open") {
        LobbyEvent::AskIdentity(q, _) => assert_eq!(q.payload.request_id, Uuid::from_u128(1000)),
        other => panic!("expected the server's request, got {other:?}"),
    }

    // On the wire: a request whose payload breaks the schema is answered with the id where
    // the request keeps it and the operation's name; a frame that is no request gets the
    // plain `{"error": …}`.
    let (mut raw, _) = tokio_tungstenite::connect_async(format!("{url}/ws/lobby"))
        .await
        .expect("raw connect");
    let id = "6f9619ff-8b86-d011-b42d-00cf4fc964ff";
    raw.send(WsMessage::text(format!(
        r#"{{"event":"pang","requestId":"{id}"}}"#
    )))
    .await
    .expect("send");
    let answer = next_json(&mut raw).await;
    assert_eq!(answer["requestId"], id, "{answer}");
    assert_eq!(answer["operation"], "ping", "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| e.contains("/event")),
        "{answer}"
    );
    raw.send(WsMessage::text(r#"{"event":"ping","refuse":"raw"}"#))
        .await
        .expect("send");
    let answer = next_json(&mut raw).await;
    assert_eq!(
        answer,
        serde_json::json!({"error": "ping refused: raw", "operation": "ping"})
    );
    raw.send(WsMessage::text("[1, 2]")).await.expect("send");
    let answer = next_json(&mut raw).await;
    assert_eq!(answer.as_object().map(|m| m.len()), Some(1), "{answer}");
    assert!(answer["error"].is_string(), "{answer}");
    s.task.abort();
}

/// A client that only sends requests and never reads its events keeps getting replies: a full
/// event queue drops events (counted) instead of stopping the reading, and refusals never
/// take a place in it. With `Overflow::Wait` the client stops reading instead, and its state
/// says so (`Stalled`) until the application takes an event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_never_wait_behind_unread_events() {
    let config = Config {
        request_timeout: Duration::from_millis(500),
        ..Config::default()
    };
    let (s, app) = start(config).await;
    let url = format!("ws://{}", s.addr);
    let options = ClientOptions {
        events: 4,
        ..fast_options()
    };
    let lobby = LobbyClient::connect(&url, &LobbyParams {}, options.clone());
    lobby.wait_connected().await;

    // Five refused requests, as in the report: none of them becomes an event.
    for i in 0..5 {
        let refused = fast(lobby.ping(ping(Some(Uuid::from_u128(i)), Some("full"))))
            .await
            .expect("answered");
        assert!(
            refused
                .as_ref()
                .is_err_and(|e| e.kind() == ErrorKind::Refused),
            "{refused:?}"
        );
    }
    // Ten events the application never reads: the queue holds four.
    let conn = lobby_conn(&app, 1).await;
    ask_identity(&s, conn, 10);
    tokio::time::timeout(WAIT, async {
        while lobby.dropped_events() < 6 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("six events dropped");
    // Replies keep coming, the state is the truth.
    for i in 0..5 {
        let id = Uuid::from_u128(100 + i);
        let pong = fast(lobby.ping(ping(Some(id), None)))
            .await
            .expect("answered")
            .expect("a pong, not a timeout");
        assert_eq!(pong.payload.request_id, Some(id));
    }
    assert!(matches!(lobby.state(), State::Connected { .. }));
    assert_eq!(lobby.dropped_events(), 6);

    // `Overflow::Wait`: nothing is lost, the reading stops, and the state says so.
    let mut options = options;
    options.ws.overflow = Overflow::Wait;
    options.request_timeout = Duration::from_millis(300);
    let mut waiting = LobbyClient::connect(&url, &LobbyParams {}, options);
    waiting.wait_connected().await;
    let conn = lobby_conn(&app, 2).await;
    ask_identity(&s, conn, 5);
    let stalled = fast(waiting.wait_for(|s| matches!(s, State::Stalled { .. })))
        .await
        .expect("the client says it stopped reading");
    assert_eq!(stalled, State::Stalled { generation: 1 });
    assert_eq!(
        waiting
            .ping(ping(None, None))
            .await
            .err()
            .as_ref()
            .and_then(|e| e.downcast_ref::<RequestError>()),
        Some(&RequestError::Timeout(Duration::from_millis(300)))
    );
    // The application takes its events: the client reads again.
    for _ in 0..5 {
        match fast(waiting.next()).await.expect("an event").expect("open") {
            LobbyEvent::AskIdentity(..) => {}
            other => panic!("expected the server's request, got {other:?}"),
        }
    }
    fast(waiting.wait_for(|s| matches!(s, State::Connected { .. })))
        .await
        .expect("connected again");
    let id = Uuid::from_u128(7);
    let pong = fast(waiting.ping(ping(Some(id), None)))
        .await
        .expect("answered")
        .expect("a pong");
    assert_eq!(pong.payload.request_id, Some(id));
    assert_eq!(waiting.dropped_events(), 0);
    s.task.abort();
}

fn tick(n: u32) -> Tick {
    Tick::new(TickPayload {
        symbol: "btcusd".into(),
        price: f64::from(n),
        at: DateTime::now(),
        extra: Default::default(),
    })
}

fn sse_config(last_event_id: Option<String>) -> SseClientConfig {
    SseClientConfig {
        backoff: Backoff {
            base: Duration::from_millis(20),
            max: Duration::from_millis(200),
            ..Backoff::default()
        },
        last_event_id,
        ..SseClientConfig::default()
    }
}

/// The next item of a typed stream, within [`WAIT`].
async fn next_price(stream: &mut PricesStream) -> PricesEvent {
    fast(stream.next())
        .await
        .expect("an event in time")
        .expect("the stream is open")
}

/// `curl -sN -H 'Last-Event-ID: …'` against `url` for a second: the event stream's text.
async fn curl_stream(url: String, last_event_id: String) -> String {
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new("curl")
            .args(["-sN", "--max-time", "1", "-H"])
            .arg(format!("Last-Event-ID: {last_event_id}"))
            .arg(&url)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("curl runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    })
    .await
    .expect("curl task")
}

/// The `id:` lines of an event stream, in order.
fn ids(text: &str) -> Vec<u64> {
    text.lines()
        .filter_map(|l| l.strip_prefix("id:"))
        .filter_map(|id| id.trim().parse().ok())
        .collect()
}

/// The repro of issue 18: process A publishes three events and the client has seen the third;
/// A goes away; process B (a new `Server` on the same port, nothing kept) publishes four.
/// Resuming with A's last id — from the generated client, which reconnects by itself, from one
/// started after the application's own restart with the id it kept, and from curl — gets the
/// `asyncforge-gap` event and then B's four events, never a silent skip: B's ids are all above
/// A's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_event_ids_stay_unique_across_server_restarts() {
    if std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_err()
    {
        return asyncforge_testkit::skip("curl", "apt-get install curl");
    }
    let (a, _) = start_on(Config::default(), fixed_port_listener().await).await;
    let url = format!("http://{}", a.addr);
    let btc = PricesParams {
        symbol: "btcusd".into(),
    };
    let mut stream = PricesClient::new(&url).subscribe(&btc, sse_config(None));
    fast(
        stream
            .wait_for(|st| matches!(st, asyncforge_runtime::sse::client::State::Connected { .. })),
    )
    .await
    .expect("the stream connects");
    let sender = a.server.sender();
    let mut a_ids: Vec<u64> = Vec::new();
    for n in 1..=3 {
        let id = sender
            .stream_prices(&btc, tick(n))
            .await
            .expect("published");
        a_ids.push(id.parse().expect("in process, ids are numbers"));
    }
    for n in 1..=3 {
        match next_price(&mut stream).await {
            PricesEvent::StreamPrices(t) => assert_eq!(t.payload.price, f64::from(n)),
            other => panic!("{other:?}"),
        }
    }
    // The typed stream gives the id of the event it returned last (item 4).
    let seen = stream.last_event_id().map(str::to_owned);
    assert_eq!(seen, Some(a_ids[2].to_string()));

    // Process A goes away; B starts on the same port with nothing of A's.
    a.task.abort();
    let _ = a.task.await;
    a.server.shutdown();
    drop(sender);
    let deadline = tokio::time::Instant::now() + WAIT;
    let listener = loop {
        match tokio::net::TcpListener::bind(a.addr).await {
            Ok(l) => break l,
            Err(e) if tokio::time::Instant::now() < deadline => {
                eprintln!("rebinding {}: {e}; retrying", a.addr);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("cannot rebind {}: {e}", a.addr),
        }
    };
    let (b, _) = start_on(Config::default(), listener).await;
    let sender = b.server.sender();
    let mut b_ids: Vec<u64> = Vec::new();
    for n in 4..=7 {
        let id = sender
            .stream_prices(&btc, tick(n))
            .await
            .expect("published");
        b_ids.push(id.parse().expect("in process, ids are numbers"));
    }
    assert!(
        b_ids.iter().all(|b| a_ids.iter().all(|a| b > a)),
        "B's ids {b_ids:?} are above A's {a_ids:?}"
    );

    // The client that saw A's events reconnected by itself: told about the gap, then B's.
    gap_then_b(&mut stream, a_ids[2], &b_ids).await;
    // An application restarted too, resuming from the id it kept.
    let mut resumed = PricesClient::new(&url).subscribe(&btc, sse_config(seen.clone()));
    assert_eq!(resumed.last_event_id(), seen.as_deref());
    gap_then_b(&mut resumed, a_ids[2], &b_ids).await;

    // curl, as in the report: A's last id, and the literal `3` of the repro.
    let events = format!("{url}/sse/prices/btcusd");
    for last in [a_ids[2].to_string(), "3".to_owned()] {
        let text = curl_stream(events.clone(), last.clone()).await;
        let gap = text
            .find("event: asyncforge-gap")
            .unwrap_or_else(|| panic!("no gap notice for Last-Event-ID {last}:\n{text}"));
        assert!(
            text[gap..].contains(&format!("\"lastEventId\":\"{last}\"")),
            "{text}"
        );
        assert_eq!(ids(&text), b_ids, "B's four events follow the gap:\n{text}");
    }
    b.task.abort();
}

/// What a stream resuming from A's last id gets from B: the gap notice, then B's events.
async fn gap_then_b(stream: &mut PricesStream, a_last: u64, b_ids: &[u64]) {
    match next_price(stream).await {
        PricesEvent::Gap {
            last_event_id,
            oldest,
        } => {
            assert_eq!(last_event_id, a_last.to_string());
            assert_eq!(oldest, b_ids.first().map(u64::to_string));
        }
        other => panic!("expected the gap notice, got {other:?}"),
    }
    for n in 4..=7 {
        match next_price(stream).await {
            PricesEvent::StreamPrices(t) => assert_eq!(t.payload.price, f64::from(n)),
            other => panic!("{other:?}"),
        }
    }
    let last = b_ids.last().map(u64::to_string);
    assert_eq!(stream.last_event_id(), last.as_deref());
}

/// A `format: uuid` string that is not a UUID is reported with its field path, like every
/// other schema error (the schema's validator, on draft-07, used to skip the format, and the
/// generated type's decoding error named no field).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_uuid_is_reported_with_its_field_path() {
    let (s, _app) = start(Config::default()).await;
    let (mut raw, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws/lobby", s.addr))
        .await
        .expect("raw connect");
    for bad in ["not-a-uuid", "6f9619ff8b86d011b42d00cf4fc964ff"] {
        raw.send(WsMessage::text(format!(
            r#"{{"event":"ping","requestId":"{bad}"}}"#
        )))
        .await
        .expect("send");
        let answer = next_json(&mut raw).await;
        let error = answer["error"].as_str().unwrap_or_default();
        assert!(
            error.contains("/requestId") && error.contains("uuid"),
            "{bad} → {answer}"
        );
        // It answers the request: the id is sent back where the request had it.
        assert_eq!(answer["requestId"], bad, "{answer}");
    }
    s.task.abort();
}

/// Outgoing messages are checked against their schemas before they leave (on in debug builds,
/// which tests are), with the error shape of an incoming refusal: a client's post with an
/// empty text (`minLength: 1`) and the server's relay with `seq: 0` (`minimum: 1`) fail with
/// an `Invalid` error naming the field, and neither reaches the wire; valid ones still do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outgoing_messages_are_checked_before_they_leave() {
    use snapshot_pulse_rooms::channels::{RelayMessage, RoomParams};
    use snapshot_pulse_rooms::client::{RoomClient, RoomEvent};
    use snapshot_pulse_rooms::messages::{Post, Relayed};

    let (s, _app) = start(Config::default()).await;
    let params = RoomParams {
        room_id: "checks".into(),
    };
    let mut client = RoomClient::connect(
        &format!("ws://{}", s.addr),
        &params,
        &RoomQuery::new("ada"),
        fast_options(),
    );
    client.wait_connected().await;
    // The client sees itself join first.
    let joined = fast(client.next()).await.expect("an event").expect("open");
    assert!(
        matches!(joined, RoomEvent::RelayMessage(RelayMessage::Presence(_))),
        "{joined:?}"
    );

    let err = client
        .post_message(Post::new(PostPayload::new("")))
        .expect_err("an empty post does not leave");
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    assert!(err.to_string().contains("/text"), "{err}");
    let err = s
        .server
        .sender()
        .relay_message(
            &params,
            Relayed::new(RelayedPayload::new(0, "server", "hi", DateTime::now())),
        )
        .await
        .expect_err("seq 0 does not leave");
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    assert!(err.to_string().contains("/seq"), "{err}");

    // A valid post goes out and comes back relayed (the first thing after the join: the
    // refused ones never reached the server).
    client
        .post_message(Post::new(PostPayload::new("hello")))
        .expect("a valid post leaves");
    match fast(client.next()).await.expect("an event").expect("open") {
        RoomEvent::RelayMessage(RelayMessage::Relayed(r)) => assert_eq!(r.payload.text, "hello"),
        other => panic!("{other:?}"),
    }
    s.task.abort();
}
