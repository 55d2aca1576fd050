//! WebSocket hubs of several replicas sharing a backplane, over real loopback sockets: three
//! replicas (each its own axum server and backplane connection; in the fan-out and
//! killed-replica tests, child processes of this test binary, one of them killed with SIGKILL)
//! behind a round-robin TCP proxy, with the Redis on 127.0.0.1:6379 and the NATS server on
//! 127.0.0.1:4222 (skipped, with a notice, when one is not running; failing instead when
//! `ASYNCFORGE_REQUIRE_PEERS` is set, as in CI: `cargo xtask peers` starts both).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod backplane_common;
use backplane_common::{
    NATS, Proxy, REDIS, XorShift, engine, eventually, prefix, replica_process, until,
};

use asyncforge_runtime::rpc::RequestError;
use asyncforge_runtime::ws::{
    self, Backplane, ConnId, Event, Frame, Hub, Refusal, SendError, State, WsConfig,
};
use asyncforge_runtime::{Dispatch, ErrorKind};
use axum::Router;
use axum::extract::{Path, State as Extract, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::get;
use futures_util::StreamExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;

/// Subscribes a connection to its path, then tells it its id (`id:<n>`): once the client has
/// read that, it is subscribed. A frame `rep <correlation id or -> <text>` is a reply, handed
/// to the replica whose request it answers.
struct Room;

impl<'a> Dispatch<Event<'a>, Refusal> for Room {
    async fn dispatch(&self, event: Event<'a>) -> Result<(), Refusal> {
        match event {
            Event::Opened(ctx) => {
                ctx.hub.subscribe(ctx.conn, ctx.path.clone());
                let _ = ctx
                    .hub
                    .send(ctx.conn, Frame::Text(format!("id:{}", ctx.conn.0)))
                    .await;
            }
            Event::Frame(ctx, frame) => {
                if let Frame::Text(t) = &frame
                    && let Some(rest) = t.strip_prefix("rep ")
                {
                    let id = rest.split(' ').next().filter(|id| *id != "-");
                    if !ctx.hub.relay_reply(ctx.conn, id, &frame).await {
                        return Err(Refusal::new("a reply to no request"));
                    }
                }
            }
            Event::Closed(_) => {}
        }
        Ok(())
    }
}

/// One replica: a hub with its own backplane connection, served on its own port. Besides the
/// rooms, `GET /control/connections` answers how many connections the hub holds,
/// `GET /control/dropped` how many frames it dropped, and
/// `POST /control/publish/{r}/{count}` publishes `r:0` … `r:{count-1}` to `/rooms/lobby` one
/// after the other, each acknowledged by the backplane, answering the fewest and the most
/// local subscribers a publish reached (`min max`).
async fn replica(backplane: &Backplane) -> (SocketAddr, Hub) {
    let config = WsConfig {
        send_queue: 4096,
        ..WsConfig::default()
    };
    let hub = Hub::with_backplane(config, backplane);
    let handler = Arc::new(Room);
    let app = Router::new()
        .route(
            "/rooms/{id}",
            get(
                move |Extract(hub): Extract<Hub>,
                      upgrade: WebSocketUpgrade,
                      headers: HeaderMap,
                      uri: Uri| {
                    let handler = handler.clone();
                    async move {
                        ws::accept(hub, handler, upgrade, headers, uri.path().to_owned(), None)
                    }
                },
            ),
        )
        .route(
            "/control/connections",
            get(|Extract(hub): Extract<Hub>| async move { hub.connections().to_string() }),
        )
        .route(
            "/control/dropped",
            get(|Extract(hub): Extract<Hub>| async move { hub.dropped().to_string() }),
        )
        .route(
            "/control/publish/{r}/{count}",
            axum::routing::post(
                |Extract(hub): Extract<Hub>, Path((r, count)): Path<(usize, usize)>| async move {
                    let (mut min, mut max) = (usize::MAX, 0);
                    for seq in 0..count {
                        let local = hub
                            .publish("/rooms/lobby", Frame::Text(format!("{r}:{seq}")))
                            .await
                            .map_err(|e| (StatusCode::BAD_GATEWAY, e.to_string()))?;
                        (min, max) = (min.min(local), max.max(local));
                    }
                    Ok::<_, (StatusCode, String)>(format!("{min} {max}"))
                },
            ),
        )
        .with_state(hub.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, hub)
}

/// Three connected replicas on `url` behind a round-robin proxy.
async fn cluster(url: &str, test: &str) -> (SocketAddr, Vec<Hub>) {
    let backplane = Backplane::from_url(url)
        .expect("backplane URL")
        .prefix(&prefix(test))
        .expect("prefix");
    let mut addrs = Vec::new();
    let mut hubs = Vec::new();
    for _ in 0..3 {
        let (addr, hub) = replica(&backplane).await;
        let state = tokio::time::timeout(Duration::from_secs(10), hub.backplane_connected())
            .await
            .expect("the backplane connects");
        assert!(
            matches!(state, Some(State::Connected { generation: 1 })),
            "{state:?}"
        );
        addrs.push(addr);
        hubs.push(hub);
    }
    (Proxy::start(addrs).await.addr, hubs)
}

type Client = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// A client of `room` through the proxy, subscribed, with its connection id.
async fn client(proxy: SocketAddr, room: &str) -> (Client, ConnId) {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{proxy}/rooms/{room}"))
        .await
        .expect("connect");
    let id = match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
        Ok(Some(Ok(Message::Text(t)))) => t
            .strip_prefix("id:")
            .and_then(|n| n.parse().ok())
            .map(ConnId)
            .expect("an id frame"),
        other => panic!("no id frame: {other:?}"),
    };
    (ws, id)
}

/// The next data frame, if one comes within `wait`.
async fn next_frame(ws: &mut Client, wait: Duration) -> Option<Message> {
    tokio::time::timeout(wait, async {
        while let Some(m) = ws.next().await {
            match m {
                Ok(Message::Ping(_) | Message::Pong(_)) => continue,
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

/// 300 clients spread over three replicas by the proxy; 1,000 publishes from randomly chosen
/// replicas, each replica publishing its own numbered sequence while the others publish too:
/// every client gets every message once, and each replica's in its order.
async fn fan_out(url: &str, test: &str) {
    const CLIENTS: usize = 300;
    const PUBLISHES: usize = 1000;
    let prefix = prefix(test);
    let mut replicas = Replicas(
        (0..3)
            .map(|_| {
                replica_process(
                    "ws_replica_process",
                    REPLICA_VAR,
                    &format!("{url} {prefix}"),
                )
            })
            .collect(),
    );
    let addrs: Vec<SocketAddr> = replicas.0.iter().map(|(_, a)| *a).collect();
    let proxy = Proxy::start(addrs.clone()).await.addr;
    let mut clients = Vec::with_capacity(CLIENTS);
    for _ in 0..CLIENTS {
        clients.push(client(proxy, "lobby").await);
    }
    let mut per_replica = Vec::new();
    for addr in &addrs {
        per_replica.push(control(*addr, "GET", "/control/connections").await);
    }
    assert_eq!(
        per_replica,
        ["100", "100", "100"],
        "the proxy spreads clients evenly"
    );

    let mut pick = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut plan = [0usize; 3];
    for _ in 0..PUBLISHES {
        plan[pick.below(3)] += 1;
    }
    let started = Instant::now();
    let publishers: Vec<_> = addrs
        .iter()
        .enumerate()
        .map(|(r, addr)| {
            let (addr, count) = (*addr, plan[r]);
            tokio::spawn(async move {
                control(addr, "POST", &format!("/control/publish/{r}/{count}")).await
            })
        })
        .collect();
    for p in publishers {
        let local = p.await.expect("publisher");
        assert_eq!(
            local, "100 100",
            "each publish reached its replica's subscribers"
        );
    }
    let published = started.elapsed();

    let readers: Vec<_> = clients
        .into_iter()
        .map(|(mut ws, _)| {
            tokio::spawn(async move {
                let mut next = [0usize; 3];
                let mut got = 0;
                while got < PUBLISHES {
                    let Some(Message::Text(t)) = next_frame(&mut ws, Duration::from_secs(20)).await
                    else {
                        break;
                    };
                    let (r, seq) = t.split_once(':').expect("r:seq");
                    let (r, seq): (usize, usize) =
                        (r.parse().expect("replica"), seq.parse().expect("seq"));
                    assert_eq!(seq, next[r], "replica {r}'s publishes once each, in order");
                    next[r] += 1;
                    got += 1;
                }
                // Nothing more: no duplicates after the last one.
                let extra = next_frame(&mut ws, Duration::from_millis(200)).await;
                (next, extra)
            })
        })
        .collect();
    for reader in readers {
        let (next, extra) = reader.await.expect("reader");
        assert_eq!(next, plan, "every message arrived");
        assert!(extra.is_none(), "and nothing else: {extra:?}");
    }
    eprintln!(
        "{test}: {PUBLISHES} publishes to {CLIENTS} clients on 3 replica processes: published in {published:?}, all delivered in {:?}",
        started.elapsed()
    );
    for addr in &addrs {
        assert_eq!(control(*addr, "GET", "/control/dropped").await, "0");
    }
    replicas.stop();
}

/// Replica processes, killed when the test ends (or fails).
struct Replicas(Vec<(std::process::Child, SocketAddr)>);

impl Replicas {
    fn stop(&mut self) {
        for (child, _) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Replicas {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One HTTP/1.1 request without a body to a replica's control routes; the answer's body,
/// which must come with `200`.
async fn control(addr: SocketAddr, method: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(addr)
        .await
        .expect("connect to a replica");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: replica\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send a control request");
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(60), stream.read_to_string(&mut answer))
        .await
        .expect("the replica answers in time")
        .expect("read the answer");
    let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(
        head.starts_with("HTTP/1.1 200"),
        "{method} {path}: {answer}"
    );
    body.to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_every_client_gets_every_publish_once_in_order() {
    if let Some(url) = engine(REDIS).await {
        fan_out(url, "redis-fan-out").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_every_client_gets_every_publish_once_in_order() {
    if let Some(url) = engine(NATS).await {
        fan_out(url, "nats-fan-out").await;
    }
}

/// The next frame, which must be text.
async fn read(ws: &mut Client, wait: Duration) -> String {
    match next_frame(ws, wait).await {
        Some(Message::Text(t)) => t.to_string(),
        other => panic!("expected a text frame, got {other:?}"),
    }
}

/// Requests from other replicas to one connection: replies answered out of order reach their
/// requesters by correlation id, replies without one in order; a connection that closes
/// fails the request waiting for it at once; a connection that is gone, at once; a replica
/// that does not exist, after the timeout.
async fn request_reply(url: &str, test: &str) {
    let (proxy, hubs) = cluster(url, test).await;
    let (mut ws, conn) = client(proxy, "asked").await;
    let others: Vec<Hub> = hubs.iter().filter(|h| !h.holds(conn)).cloned().collect();
    assert_eq!(others.len(), 2);
    let wait = Duration::from_secs(10);
    let ask = |hub: &Hub, id: Option<&str>, text: &str| {
        let (hub, id, text) = (hub.clone(), id.map(str::to_owned), text.to_owned());
        let tag = id.clone().unwrap_or_else(|| "-".into());
        tokio::spawn(async move {
            hub.request_elsewhere(
                conn,
                Frame::Text(format!("req {tag} {text}")),
                id.as_deref(),
                wait,
            )
            .await
        })
    };
    let answer = |text: String| Message::Text(text.into());

    // Two replicas ask with correlation ids; the connection answers the second first.
    let a = ask(&others[0], Some("a"), "first");
    assert_eq!(read(&mut ws, wait).await, "req a first");
    let b = ask(&others[1], Some("b"), "second");
    assert_eq!(read(&mut ws, wait).await, "req b second");
    futures_util::SinkExt::send(&mut ws, answer("rep b two".into()))
        .await
        .expect("reply");
    futures_util::SinkExt::send(&mut ws, answer("rep a one".into()))
        .await
        .expect("reply");
    assert_eq!(
        b.await.expect("task").expect("reply"),
        Frame::Text("rep b two".into())
    );
    assert_eq!(
        a.await.expect("task").expect("reply"),
        Frame::Text("rep a one".into())
    );

    // Without correlation ids, replies answer requests in order.
    let first = ask(&others[0], None, "x");
    assert_eq!(read(&mut ws, wait).await, "req - x");
    let second = ask(&others[0], None, "y");
    assert_eq!(read(&mut ws, wait).await, "req - y");
    for r in ["rep - 1", "rep - 2"] {
        futures_util::SinkExt::send(&mut ws, answer(r.into()))
            .await
            .expect("reply");
    }
    assert_eq!(
        first.await.expect("task").expect("reply"),
        Frame::Text("rep - 1".into())
    );
    assert_eq!(
        second.await.expect("task").expect("reply"),
        Frame::Text("rep - 2".into())
    );

    // The connection closes before answering: the request fails at once, not at its timeout.
    let pending = ask(&others[1], Some("c"), "never answered");
    assert_eq!(read(&mut ws, wait).await, "req c never answered");
    let started = Instant::now();
    drop(ws);
    let err = pending.await.expect("task").expect_err("closed");
    assert!(matches!(err, RequestError::Closed), "{err}");
    assert!(started.elapsed() < wait, "failed before the timeout");
    // Now the connection is gone: at once again.
    let err = ask(&others[0], Some("d"), "gone")
        .await
        .expect("task")
        .expect_err("gone");
    assert!(matches!(err, RequestError::Closed), "{err}");
    // A replica nobody runs: the timeout.
    let nobody = ConnId((u64::from(u32::MAX) << 32) | 1);
    let err = others[0]
        .request_elsewhere(
            nobody,
            Frame::Text("hello?".into()),
            None,
            Duration::from_millis(300),
        )
        .await
        .expect_err("no replica");
    assert!(matches!(err, RequestError::Timeout(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_requests_reach_a_connection_on_another_replica() {
    if let Some(url) = engine(REDIS).await {
        request_reply(url, "redis-request").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_requests_reach_a_connection_on_another_replica() {
    if let Some(url) = engine(NATS).await {
        request_reply(url, "nats-request").await;
    }
}

/// A send to a connection held by another replica reaches that connection only; a send to an
/// id no replica holds goes nowhere; text and binary frames arrive as they were sent.
async fn send_to_one(url: &str, test: &str) {
    let (proxy, hubs) = cluster(url, test).await;
    let mut clients = Vec::new();
    for n in 0..3 {
        clients.push(client(proxy, &format!("own-{n}")).await);
    }
    let mut owners: Vec<usize> = clients
        .iter()
        .filter_map(|(_, id)| {
            hubs.iter()
                .position(|h| h.replica_id() == id.0 & !0xffff_ffff)
        })
        .collect();
    owners.sort_unstable();
    assert_eq!(
        owners,
        [0, 1, 2],
        "one client per replica, ids tell their replica"
    );
    for (i, (_, id)) in clients.iter().enumerate() {
        // From each replica in turn, whichever holds the connection.
        let from = &hubs[(i + 1) % 3];
        from.send(*id, Frame::Text(format!("for {}", id.0)))
            .await
            .expect("sent");
        from.send(*id, Frame::Binary(vec![0, 159, 146, 150, i as u8]))
            .await
            .expect("sent");
    }
    // An id of a remote replica that has no such connection: the engine takes it, nobody
    // gets it. An unknown id of this replica: gone.
    let remote = clients
        .iter()
        .map(|(_, id)| *id)
        .find(|id| id.0 & !0xffff_ffff != hubs[0].replica_id())
        .expect("a client on another replica");
    hubs[0]
        .send(ConnId(remote.0 + 1000), Frame::Text("nobody".into()))
        .await
        .expect("the engine takes it");
    // A request waiting for its reply must go to this replica's connection.
    assert_eq!(
        hubs[0].send_local(remote, Frame::Text("a request".into())),
        Err(SendError::Elsewhere(remote))
    );
    let local_unknown = ConnId(hubs[0].replica_id() | 0xfff_fff0);
    assert_eq!(
        hubs[0].send(local_unknown, Frame::Text("x".into())).await,
        Err(SendError::Gone(local_unknown))
    );
    for (i, (ws, id)) in clients.iter_mut().enumerate() {
        let text = next_frame(ws, Duration::from_secs(5)).await;
        assert_eq!(text, Some(Message::Text(format!("for {}", id.0).into())));
        let binary = next_frame(ws, Duration::from_secs(5)).await;
        assert_eq!(
            binary,
            Some(Message::Binary(vec![0, 159, 146, 150, i as u8].into()))
        );
        let extra = next_frame(ws, Duration::from_millis(300)).await;
        assert!(extra.is_none(), "only its own frames: {extra:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_sends_reach_a_connection_on_another_replica() {
    if let Some(url) = engine(REDIS).await {
        send_to_one(url, "redis-send").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_sends_reach_a_connection_on_another_replica() {
    if let Some(url) = engine(NATS).await {
        send_to_one(url, "nats-send").await;
    }
}

/// What another program publishes on the backplane's channel that is not an envelope is
/// logged and dropped; the subscription stays up and the next publish arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_message_on_the_backplane_is_dropped() {
    let Some(url) = engine(REDIS).await else {
        return;
    };
    let prefix = prefix("malformed");
    let backplane = Backplane::from_url(url)
        .expect("url")
        .prefix(&prefix)
        .expect("prefix");
    let (addr, hub) = replica(&backplane).await;
    tokio::time::timeout(Duration::from_secs(10), hub.backplane_connected())
        .await
        .expect("connects");
    let (mut ws, _) = client(addr, "junk").await;
    let redis = redis::Client::open(url).expect("client");
    let mut conn = redis
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    for junk in [
        &b""[..],
        b"\x01",
        b"\x01\x00\x00\x00\x00\x00\x00\x00\x00\x07\x00\xff\xff",
    ] {
        let _: i64 = redis::cmd("PUBLISH")
            .arg(format!("{prefix}.all"))
            .arg(junk)
            .query_async(&mut conn)
            .await
            .expect("publish");
    }
    // From a second replica, so that this hub takes it from the engine.
    let (_, other) = replica(&backplane).await;
    tokio::time::timeout(Duration::from_secs(10), other.backplane_connected())
        .await
        .expect("connects");
    other
        .publish("/rooms/junk", Frame::Text("after the junk".into()))
        .await
        .expect("published");
    assert_eq!(
        next_frame(&mut ws, Duration::from_secs(5)).await,
        Some(Message::Text("after the junk".into()))
    );
    assert!(matches!(
        hub.backplane_state(),
        Some(State::Connected { generation: 1 })
    ));
}

/// A backplane whose engine is not reachable: the hub reports it is not connected, and a
/// publish or a send to another replica fails with a transport error instead of vanishing.
/// Its own connections still work.
async fn outage(url: &str) {
    let backplane = Backplane::from_url(url)
        .expect("url")
        .prefix(&prefix("outage"))
        .expect("prefix")
        .publish_timeout(Duration::from_secs(3));
    let (addr, hub) = replica(&backplane).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let state = hub.backplane_state();
    assert!(matches!(state, Some(State::Connecting { .. })), "{state:?}");
    let err = hub
        .publish("/rooms/a", Frame::Text("lost?".into()))
        .await
        .expect_err("no engine, no publish");
    let SendError::Backplane(why) = &err else {
        panic!("{err:?}");
    };
    assert_eq!(why.failure(), ws::Failure::Unavailable, "{why}");
    assert_eq!(
        asyncforge_runtime::Error::from(err).kind(),
        ErrorKind::Transport
    );
    let elsewhere = ConnId(hub.replica_id() ^ (1 << 40) | 1);
    assert!(matches!(
        hub.send(elsewhere, Frame::Text("x".into())).await,
        Err(SendError::Backplane(_))
    ));
    // The replica's own connection is served directly.
    let (mut ws, id) = client(addr, "a").await;
    hub.send(id, Frame::Text("local".into()))
        .await
        .expect("local send");
    assert_eq!(
        next_frame(&mut ws, Duration::from_secs(5)).await,
        Some(Message::Text("local".into()))
    );
}

#[tokio::test]
async fn redis_outage_is_reported_and_publishes_fail() {
    outage("redis://127.0.0.1:1").await;
}

#[tokio::test]
async fn nats_outage_is_reported_and_publishes_fail() {
    outage("nats://127.0.0.1:1").await;
}

#[tokio::test]
async fn without_a_backplane_nothing_changes() {
    let hub = Hub::new(WsConfig::default());
    assert_eq!(hub.backplane_state(), None);
    assert_eq!(hub.backplane_connected().await, None);
    assert_eq!(
        hub.publish("/rooms/none", Frame::Text("x".into())).await,
        Ok(0)
    );
    let elsewhere = ConnId(hub.replica_id() ^ (1 << 40) | 1);
    assert_eq!(
        hub.send(elsewhere, Frame::Text("x".into())).await,
        Err(SendError::Gone(elsewhere))
    );
}

/// An engine of the test's own on a free port, started from the installed binary, so that
/// stopping it disturbs no other test.
struct Private {
    child: std::process::Child,
    port: u16,
    program: &'static str,
}

impl Private {
    /// `None` (a skip, or a failure where peers are required) when the binary is not
    /// installed.
    fn start(program: &'static str) -> Option<Private> {
        if !std::path::Path::new(program).exists() {
            return asyncforge_testkit::skip_none(program, "cargo xtask peers");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Private::spawn(program, port);
        Some(Private {
            child,
            port,
            program,
        })
    }

    fn spawn(program: &str, port: u16) -> std::process::Child {
        let port_arg = port.to_string();
        let args: Vec<&str> = if program.ends_with("redis-server") {
            vec![
                "--bind",
                "127.0.0.1",
                "--port",
                &port_arg,
                "--save",
                "",
                "--appendonly",
                "no",
            ]
        } else {
            vec!["-a", "127.0.0.1", "-p", &port_arg]
        };
        std::process::Command::new(program)
            .args(&args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the engine starts")
    }

    async fn listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).await.is_err() {
            assert!(Instant::now() < deadline, "{} listens", self.program);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn restart(&mut self) {
        self.stop();
        self.child = Private::spawn(self.program, self.port);
    }
}

impl Drop for Private {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The engine goes away and comes back: the subscription reports it is down, publishes fail
/// meanwhile, and once the engine is back the subscription is made again (a new generation)
/// and publishes flow again.
async fn restart(program: &'static str, scheme: &str) {
    let Some(mut engine) = Private::start(program) else {
        return;
    };
    engine.listening().await;
    let backplane = Backplane::from_url(&format!("{scheme}://127.0.0.1:{}", engine.port))
        .expect("url")
        .prefix(&prefix("restart"))
        .expect("prefix")
        .publish_timeout(Duration::from_secs(2))
        .backoff(asyncforge_runtime::backoff::Backoff {
            max: Duration::from_millis(300),
            ..Default::default()
        });
    let (addr, hub) = replica(&backplane).await;
    let (_, other) = replica(&backplane).await;
    for h in [&hub, &other] {
        let state = tokio::time::timeout(Duration::from_secs(10), h.backplane_connected()).await;
        assert!(matches!(
            state,
            Ok(Some(State::Connected { generation: 1 }))
        ));
    }
    let (mut ws, _) = client(addr, "r").await;
    other
        .publish("/rooms/r", Frame::Text("before".into()))
        .await
        .expect("published");
    assert_eq!(
        next_frame(&mut ws, Duration::from_secs(5)).await,
        Some(Message::Text("before".into()))
    );

    engine.stop();
    eventually(
        Duration::from_secs(10),
        "the hub sees the engine go",
        || matches!(hub.backplane_state(), Some(State::Connecting { .. })),
    )
    .await;
    let failed = other.publish("/rooms/r", Frame::Text("lost".into())).await;
    assert!(matches!(failed, Err(SendError::Backplane(_))), "{failed:?}");

    engine.restart();
    engine.listening().await;
    let state = tokio::time::timeout(Duration::from_secs(15), hub.backplane_connected())
        .await
        .expect("the subscription comes back");
    assert_eq!(state, Some(State::Connected { generation: 2 }));
    // The other replica's publishing connection comes back on its own too.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match other.publish("/rooms/r", Frame::Text("after".into())).await {
            Ok(_) => break,
            Err(e) => assert!(Instant::now() < deadline, "publishing again: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        next_frame(&mut ws, Duration::from_secs(5)).await,
        Some(Message::Text("after".into())),
        "nothing published while the engine was down arrives, what follows does"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_subscription_comes_back_after_the_engine_restarts() {
    restart("/usr/bin/redis-server", "redis").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_subscription_comes_back_after_the_engine_restarts() {
    restart("/usr/sbin/nats-server", "nats").await;
}

/// What a replica process reads its engine URL and prefix from.
const REPLICA_VAR: &str = "ASYNCFORGE_WS_REPLICA";

/// A replica process (a child of the fan-out and `…_a_killed_replica_s_clients_reconnect_and_miss_nothing`
/// tests; does nothing on its own): serves a hub on the backplane and prints its port until
/// killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a child process of the fan-out and killed-replica tests"]
async fn ws_replica_process() {
    let Ok(spec) = std::env::var(REPLICA_VAR) else {
        return;
    };
    let (url, prefix) = spec.split_once(' ').expect("url and prefix");
    let backplane = Backplane::from_url(url)
        .expect("backplane URL")
        .prefix(prefix)
        .expect("prefix");
    let (addr, hub) = replica(&backplane).await;
    hub.backplane_connected().await;
    println!("replica-port:{}", addr.port());
    std::future::pending::<()>().await;
}

/// What one reconnecting client received, and whether it is connected now.
#[derive(Default)]
struct Received {
    got: std::sync::Mutex<Vec<u64>>,
    subscribed: std::sync::atomic::AtomicUsize,
}

/// A client that reconnects through `proxy` whenever its connection ends, recording every
/// number it receives.
async fn reconnecting_client(
    proxy: SocketAddr,
    seen: Arc<Received>,
    live: Arc<std::sync::atomic::AtomicUsize>,
) {
    use std::sync::atomic::Ordering;
    loop {
        let Ok((mut ws, _)) =
            tokio_tungstenite::connect_async(format!("ws://{proxy}/rooms/lobby")).await
        else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let mut subscribed = false;
        while let Some(Ok(m)) = ws.next().await {
            let Message::Text(t) = m else { continue };
            if t.as_str().starts_with("id:") {
                subscribed = true;
                seen.subscribed.fetch_add(1, Ordering::SeqCst);
                live.fetch_add(1, Ordering::SeqCst);
            } else if let Ok(n) = t.as_str().parse() {
                seen.got.lock().expect("lock").push(n);
            }
        }
        if subscribed {
            live.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_a_killed_replica_s_clients_reconnect_and_miss_nothing() {
    if let Some(url) = engine(REDIS).await {
        killed_replica(url).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_a_killed_replica_s_clients_reconnect_and_miss_nothing() {
    if let Some(url) = engine(NATS).await {
        killed_replica(url).await;
    }
}

/// Three replica processes behind the round-robin proxy, 60 clients that reconnect; one
/// replica is killed with SIGKILL: its clients reconnect to the others, and every publish
/// acknowledged once they are back reaches every client once, in order.
async fn killed_replica(url: &str) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    const CLIENTS: usize = 60;
    let prefix = prefix("killed");
    let (mut children, addrs): (Vec<_>, Vec<_>) = (0..3)
        .map(|_| {
            replica_process(
                "ws_replica_process",
                REPLICA_VAR,
                &format!("{url} {prefix}"),
            )
        })
        .unzip();
    let proxy = Proxy::start(addrs).await.addr;
    // The publisher: a hub of this process on the same backplane, with no connections.
    let backplane = Backplane::from_url(url)
        .expect("backplane URL")
        .prefix(&prefix)
        .expect("prefix");
    let publisher = Hub::with_backplane(WsConfig::default(), &backplane);
    publisher.backplane_connected().await;

    let live = Arc::new(AtomicUsize::new(0));
    let clients: Vec<Arc<Received>> = (0..CLIENTS).map(|_| Arc::default()).collect();
    let tasks: Vec<_> = clients
        .iter()
        .map(|c| tokio::spawn(reconnecting_client(proxy, c.clone(), live.clone())))
        .collect();
    until("every client subscribed", || {
        live.load(Ordering::SeqCst) == CLIENTS
    })
    .await;

    let publish = |range: std::ops::Range<u64>| {
        let publisher = publisher.clone();
        async move {
            for n in range {
                publisher
                    .publish("/rooms/lobby", Frame::Text(n.to_string()))
                    .await
                    .expect("the backplane has it");
            }
        }
    };
    let got = |c: &Received| c.got.lock().expect("lock").clone();
    publish(0..100).await;
    until("the first 100 everywhere", || {
        clients.iter().all(|c| got(c).len() >= 100)
    })
    .await;

    children[0].kill().expect("SIGKILL");
    children[0].wait().expect("reap");
    until("the killed replica's clients back", || {
        live.load(Ordering::SeqCst) == CLIENTS
            && clients
                .iter()
                .map(|c| c.subscribed.load(Ordering::SeqCst))
                .sum::<usize>()
                > CLIENTS
    })
    .await;
    let moved = clients
        .iter()
        .filter(|c| c.subscribed.load(Ordering::SeqCst) > 1)
        .count();
    assert!(moved >= CLIENTS / 6, "{moved} clients reconnected");

    publish(100..200).await;
    until("the next 100 everywhere", || {
        clients.iter().all(|c| got(c).len() >= 200)
    })
    .await;
    let want: Vec<u64> = (0..200).collect();
    for c in &clients {
        assert_eq!(got(c), want, "once each, in order");
    }
    for t in tasks {
        t.abort();
    }
    for c in &mut children[1..] {
        c.kill().expect("kill");
        c.wait().expect("reap");
    }
}
