//! The WebSocket hub over real loopback sockets, with tokio-tungstenite as the peer.

use std::sync::Arc;
use std::time::Duration;

use asyncforge_runtime::Dispatch;
use asyncforge_runtime::ws::{self, Event, Frame, Hub, Refusal, Reject, WsConfig, close};
use axum::Router;
use axum::extract::{State, WebSocketUpgrade};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Echoes text back, subscribes each connection to its path, refuses frames saying "bad".
struct Echo;

impl<'a> Dispatch<Event<'a>, Refusal> for Echo {
    async fn dispatch(&self, event: Event<'a>) -> Result<(), Refusal> {
        match event {
            Event::Opened(ctx) => ctx.hub.subscribe(ctx.conn, ctx.path.clone()),
            Event::Frame(_, Frame::Text(t)) if t == "bad" => {
                return Err(Reject::invalid("`bad` is not a valid message").into());
            }
            Event::Frame(ctx, other) => {
                let _ = ctx.hub.send(ctx.conn, other).await;
            }
            Event::Closed(_) => {}
        }
        Ok(())
    }
}

async fn serve(config: WsConfig) -> (String, Hub) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let (addr, hub, _task) = serve_on(listener, config);
    (addr, hub)
}

fn serve_on(
    listener: tokio::net::TcpListener,
    config: WsConfig,
) -> (String, Hub, tokio::task::JoinHandle<()>) {
    let hub = Hub::new(config);
    let handler = Arc::new(Echo);
    let app = Router::new()
        .route(
            "/rooms/{id}",
            get(
                move |State(hub): State<Hub>,
                      upgrade: WebSocketUpgrade,
                      headers: HeaderMap,
                      uri: Uri| {
                    let handler = handler.clone();
                    async move {
                        let response: Response = ws::accept(
                            hub,
                            handler,
                            upgrade,
                            headers,
                            uri.path().to_owned(),
                            uri.query().map(str::to_owned),
                        );
                        response
                    }
                },
            ),
        )
        .with_state(hub.clone());
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("ws://{addr}"), hub, task)
}

async fn next_text(
    ws: &mut (impl StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin),
) -> Option<Message> {
    tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(m) = ws.next().await {
            match m {
                Ok(Message::Ping(_)) | Ok(Message::Pong(_)) => continue,
                Ok(other) => return Some(other),
                Err(_) => return None,
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
}

#[tokio::test]
async fn echo_publish_and_rejections() {
    let (base, hub) = serve(WsConfig::default()).await;
    let (mut a, _) = tokio_tungstenite::connect_async(format!("{base}/rooms/1"))
        .await
        .expect("connect a");
    let (mut b, _) = tokio_tungstenite::connect_async(format!("{base}/rooms/2"))
        .await
        .expect("connect b");
    a.send(Message::text("hello")).await.expect("send");
    assert_eq!(next_text(&mut a).await, Some(Message::text("hello")));
    // Publish to a concrete address reaches its subscribers only.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(hub.connections(), 2);
    assert_eq!(
        hub.publish("/rooms/2", Frame::Text("for room 2".into()))
            .await,
        Ok(1)
    );
    assert_eq!(next_text(&mut b).await, Some(Message::text("for room 2")));
    // A rejected message gets an error frame; the connection stays usable.
    a.send(Message::text("bad")).await.expect("send");
    let err = next_text(&mut a).await.expect("error frame");
    assert_eq!(
        err.to_text().expect("text"),
        "{\"error\":\"`bad` is not a valid message\"}"
    );
    a.send(Message::text("still here")).await.expect("send");
    assert_eq!(next_text(&mut a).await, Some(Message::text("still here")));
}

#[tokio::test]
async fn oversized_messages_close_with_1009() {
    let (base, _hub) = serve(WsConfig {
        max_message_size: 1024,
        ..WsConfig::default()
    })
    .await;
    let (mut c, _) = tokio_tungstenite::connect_async(format!("{base}/rooms/1"))
        .await
        .expect("connect");
    c.send(Message::text("x".repeat(4096))).await.expect("send");
    match next_text(&mut c).await {
        Some(Message::Close(Some(frame))) => assert_eq!(u16::from(frame.code), close::TOO_BIG),
        other => panic!("expected close 1009, got {other:?}"),
    }
}

#[tokio::test]
async fn forbidden_origin_is_refused_at_the_upgrade() {
    let (base, hub) = serve(WsConfig {
        allowed_origins: Some(vec!["https://app.example.com".into()]),
        ..WsConfig::default()
    })
    .await;
    let mut req = format!("{base}/rooms/1")
        .into_client_request()
        .expect("request");
    req.headers_mut().insert(
        "Origin",
        "https://evil.example.net".parse().expect("header"),
    );
    let err = tokio_tungstenite::connect_async(req)
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("403"), "{err}");
    let mut ok = format!("{base}/rooms/1")
        .into_client_request()
        .expect("request");
    ok.headers_mut()
        .insert("Origin", "https://app.example.com".parse().expect("header"));
    assert!(tokio_tungstenite::connect_async(ok).await.is_ok());
    assert!(hub.connections() <= 1);
}

#[tokio::test]
async fn silent_peers_are_closed() {
    let (base, hub) = serve(WsConfig {
        ping_interval: Duration::from_millis(50),
        idle_timeout: Duration::from_millis(200),
        ..WsConfig::default()
    })
    .await;
    // A peer that never reads never answers pings.
    let (c, _) = tokio_tungstenite::connect_async(format!("{base}/rooms/1"))
        .await
        .expect("connect");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(hub.connections(), 1);
    let start = std::time::Instant::now();
    while hub.connections() > 0 && start.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(hub.connections(), 0, "dead peer dropped");
    drop(c);
}

#[tokio::test]
async fn client_reconnects_after_a_server_restart() {
    use asyncforge_runtime::backoff::Backoff;
    use asyncforge_runtime::ws::client::{ClientConfig, State, WsClient};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (base, hub, task) = serve_on(listener, WsConfig::default());
    let config = ClientConfig {
        backoff: Backoff {
            base: Duration::from_millis(20),
            max: Duration::from_millis(200),
            ..Backoff::default()
        },
        ..ClientConfig::default()
    };
    let mut client = WsClient::connect(format!("{base}/rooms/1"), config);
    let wait = |s: &State, g: u64| matches!(s, State::Connected { generation } if *generation == g);
    tokio::time::timeout(Duration::from_secs(5), client.wait_for(|s| wait(s, 1)))
        .await
        .expect("connected");
    client.send(Frame::Text("one".into())).expect("queue");
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(5), client.recv())
            .await
            .expect("reply"),
        Some(Frame::Text("one".into()))
    );

    // The server goes away: connections closed, listener gone.
    hub.close_all(close::GOING_AWAY, "restarting");
    task.abort();
    tokio::time::timeout(
        Duration::from_secs(5),
        client.wait_for(|s| matches!(s, State::Connecting { .. })),
    )
    .await
    .expect("client notices");
    // Frames sent meanwhile wait for the next connection.
    client
        .send(Frame::Text("while down".into()))
        .expect("queue");

    // The server comes back on the same address.
    let mut listener = None;
    for _ in 0..50 {
        if let Ok(l) = tokio::net::TcpListener::bind(addr).await {
            listener = Some(l);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_base, _hub2, _task2) = serve_on(listener.expect("rebind"), WsConfig::default());
    tokio::time::timeout(Duration::from_secs(5), client.wait_for(|s| wait(s, 2)))
        .await
        .expect("reconnected");
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(5), client.recv())
            .await
            .expect("queued frame echoed"),
        Some(Frame::Text("while down".into()))
    );
    client.send(Frame::Text("two".into())).expect("queue");
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(5), client.recv())
            .await
            .expect("reply"),
        Some(Frame::Text("two".into()))
    );
    client.close();
}

/// A plain tokio-tungstenite peer on a fresh loopback port: its address, and the accept of
/// the one connection it takes.
async fn raw_peer() -> (
    std::net::SocketAddr,
    impl std::future::Future<Output = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accept = async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        tokio_tungstenite::accept_async(tcp).await.expect("upgrade")
    };
    (addr, accept)
}

/// A `WsClient` of `addr` with a send queue of `queue` frames, once it is connected.
async fn connected_client(
    addr: std::net::SocketAddr,
    queue: usize,
) -> asyncforge_runtime::ws::client::WsClient {
    use asyncforge_runtime::ws::client::{ClientConfig, State, WsClient};
    let config = ClientConfig {
        queue,
        ..ClientConfig::default()
    };
    let client = WsClient::connect(format!("ws://{addr}/"), config);
    tokio::time::timeout(
        Duration::from_secs(5),
        client.wait_for(|s| matches!(s, State::Connected { .. })),
    )
    .await
    .expect("connected");
    client
}

/// Frames from one sender arrive in order and none is lost or doubled while sends switch
/// between writing directly and queueing: the peer reads nothing for a while, so the socket
/// fills, direct writes stop half-way (the connection task finishes them), later frames queue
/// until the queue is full, and everything drains once the peer reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_frames_keep_their_order_through_a_full_socket() {
    use asyncforge_runtime::ws::client::ClientError;

    const FRAMES: usize = 600;
    const SIZE: usize = 32 * 1024;
    let (addr, accept) = raw_peer().await;
    let peer = tokio::spawn(async move {
        let mut ws = accept.await;
        // Let the client fill the socket and its queue first.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut seen = Vec::with_capacity(FRAMES);
        while seen.len() < FRAMES {
            match ws.next().await {
                Some(Ok(Message::Binary(b))) => {
                    assert_eq!(b.len(), SIZE, "frame {} whole", seen.len());
                    let seq = u32::from_le_bytes(b[..4].try_into().expect("4 bytes"));
                    assert!(b[4..].iter().all(|&x| x == seq as u8), "frame {seq} intact");
                    seen.push(seq as usize);
                }
                Some(Ok(_)) => {}
                other => panic!("peer read ended after {} frames: {other:?}", seen.len()),
            }
        }
        seen
    });

    let client = connected_client(addr, 64).await;
    let mut full = 0u32;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    for seq in 0..FRAMES as u32 {
        let mut frame = vec![seq as u8; SIZE];
        frame[..4].copy_from_slice(&seq.to_le_bytes());
        loop {
            match client.send(Frame::Binary(frame.clone())) {
                Ok(()) => break,
                Err(ClientError::QueueFull) => {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "frame {seq} still not queued after 20 s"
                    );
                    full += 1;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                Err(e) => panic!("send {seq}: {e}"),
            }
        }
    }
    let seen = tokio::time::timeout(Duration::from_secs(20), peer)
        .await
        .expect("peer read everything")
        .expect("peer task");
    let expected: Vec<usize> = (0..FRAMES).collect();
    assert_eq!(seen, expected, "in order, none lost or doubled");
    assert!(
        full > 0,
        "the queue filled up while the peer was not reading"
    );
    client.close();
}

/// Several senders on several threads at once, while the connection task reads replies: each
/// sender's frames arrive in its own order, none lost or doubled (direct writes, lock
/// contention and queueing interleave freely).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_senders_each_keep_their_order() {
    use asyncforge_runtime::ws::client::ClientError;

    const SENDERS: usize = 4;
    const EACH: usize = 3_000;
    let (addr, accept) = raw_peer().await;
    // The peer echoes every frame back (so the client reads while it writes) and records
    // the order it got them in.
    let peer = tokio::spawn(async move {
        let mut ws = accept.await;
        let mut next = [0usize; SENDERS];
        for _ in 0..SENDERS * EACH {
            let text = match ws.next().await {
                Some(Ok(Message::Text(t))) => t,
                other => panic!("peer read ended: {other:?}"),
            };
            let (sender, seq) = text.split_once(':').expect("sender:seq");
            let (sender, seq): (usize, usize) = (sender.parse().unwrap(), seq.parse().unwrap());
            assert_eq!(seq, next[sender], "sender {sender} in order");
            next[sender] += 1;
            ws.send(Message::Text(text)).await.expect("echo");
        }
        next
    });

    let (tx, mut rx) = connected_client(addr, 256).await.split();
    let echoes = tokio::spawn(async move {
        let mut n = 0;
        while n < SENDERS * EACH {
            match rx.recv().await {
                Some(Frame::Text(_)) => n += 1,
                other => panic!("echo: {other:?}"),
            }
        }
        n
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let senders: Vec<_> = (0..SENDERS)
        .map(|sender| {
            let tx = tx.clone();
            tokio::spawn(async move {
                for seq in 0..EACH {
                    loop {
                        match tx.send(Frame::Text(format!("{sender}:{seq}"))) {
                            Ok(()) => break,
                            Err(ClientError::QueueFull) => {
                                assert!(
                                    std::time::Instant::now() < deadline,
                                    "sender {sender}: frame {seq} still not queued after 20 s"
                                );
                                tokio::time::sleep(Duration::from_millis(1)).await;
                            }
                            Err(e) => panic!("send: {e}"),
                        }
                    }
                    if seq % 64 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    for s in senders {
        s.await.expect("sender");
    }
    let counts = tokio::time::timeout(Duration::from_secs(20), peer)
        .await
        .expect("peer got everything")
        .expect("peer task");
    assert_eq!(counts, [EACH; SENDERS]);
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(20), echoes)
            .await
            .expect("echoes")
            .expect("echo task"),
        SENDERS * EACH
    );
}
