//! The code generated from `specs/pulse-rooms.yaml` over real loopback sockets: generated
//! clients against the generated server, for every operation, plus invalid payloads, upgrade
//! checks, limits, and restarts. `interop` runs the same server against peers no one here
//! wrote (headless Chromium, Python `websockets`).

#[path = "wire/interop.rs"]
mod interop;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use asyncforge_runtime::Received;
use asyncforge_runtime::axum::http::HeaderMap;
use asyncforge_runtime::backoff::Backoff;
use asyncforge_runtime::codegen::{DateTime, Uuid};
use asyncforge_runtime::endpoint::Reject;
use asyncforge_runtime::sse::client::SseClientConfig;
use asyncforge_runtime::ws::client::State;
use asyncforge_runtime::ws::{ConnId, SlowConsumer, WsConfig};
use futures_util::{SinkExt, StreamExt};
use snapshot_pulse_rooms::channels::{LobbyParams, PricesParams, QuotesParams, RoomParams};
use snapshot_pulse_rooms::client::{
    ClientOptions, LobbyClient, LobbyEvent, PricesClient, PricesEvent, QuotesClient, RoomClient,
    RoomEvent,
};
use snapshot_pulse_rooms::messages::{
    IAm, Ping, Pong, Post, Presence, Quote, QuoteAck, Relayed, Tick, WhoAreYou,
};
use snapshot_pulse_rooms::server::{Config, Handler, LobbySession, RoomSession, Sender, Server};
use snapshot_pulse_rooms::types::*;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message as WsMessage;

#[path = "wire/official.rs"]
mod official;

#[path = "wire/webhooks.rs"]
mod webhooks;

#[path = "wire/edges.rs"]
mod edges;

const WAIT: Duration = Duration::from_secs(10);

struct App {
    out: Sender,
    seq: AtomicU64,
    lobby: Mutex<Vec<ConnId>>,
    quotes: AtomicU64,
}

impl Handler for App {
    async fn room_opened(&self, session: &RoomSession) {
        let joined = Presence::new(PresencePayload {
            nick: session.query.nick.clone(),
            state: PresencePayloadState::Joined,
            extra: Default::default(),
        });
        self.out
            .relay_message(&session.params, joined)
            .await
            .expect("presence relayed");
    }

    async fn post_message(
        &self,
        received: Received<Post, &RoomParams, &RoomSession>,
    ) -> Result<(), Reject> {
        let Received {
            message,
            meta: session,
            ..
        } = received;
        if message.payload.text == "forbidden" {
            return Err(Reject::invalid("this room does not take that word"));
        }
        let seq = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
        let relayed = Relayed::new(RelayedPayload {
            seq,
            from: session.query.nick.clone(),
            text: message.payload.text,
            at: DateTime::now(),
            extra: Default::default(),
        });
        self.out
            .relay_message(&session.params, relayed)
            .await
            .map(|_| ())
            .map_err(Reject::failed)
    }

    async fn lobby_opened(&self, session: &LobbySession) {
        self.lobby.lock().unwrap().push(session.conn());
    }

    async fn ping(
        &self,
        received: Received<Ping, &LobbyParams, &LobbySession>,
    ) -> Result<Pong, Reject> {
        let message = received.message;
        if let Some(why) = message.payload.extra.get("refuse").and_then(|v| v.as_str()) {
            return Err(Reject::invalid(format!("ping refused: {why}")));
        }
        // No request id: the server copies the ping's into the reply.
        Ok(Pong::new(PongPayload {
            event: PongPayloadEvent::Pong,
            request_id: None,
            server_time: DateTime::now(),
            extra: Default::default(),
        }))
    }

    async fn submit_quote(
        &self,
        received: Received<Quote, QuotesParams, HeaderMap>,
    ) -> Result<QuoteAck, Reject> {
        let Received {
            message, params, ..
        } = received;
        if params.symbol == "solusd" && message.payload.size > 100.0 {
            return Err(Reject::invalid("size limit for solusd is 100"));
        }
        Ok(QuoteAck::new(QuoteAckPayload {
            accepted: true,
            id: self.quotes.fetch_add(1, Ordering::SeqCst) as i64 + 1,
            extra: Default::default(),
        }))
    }
}

struct Running {
    addr: SocketAddr,
    server: Server,
    task: tokio::task::JoinHandle<()>,
}

struct Shared(Arc<App>);

impl Handler for Shared {
    async fn room_opened(&self, session: &RoomSession) {
        self.0.room_opened(session).await
    }
    async fn post_message(
        &self,
        received: Received<Post, &RoomParams, &RoomSession>,
    ) -> Result<(), Reject> {
        self.0.post_message(received).await
    }
    async fn lobby_opened(&self, session: &LobbySession) {
        self.0.lobby_opened(session).await
    }
    async fn ping(
        &self,
        received: Received<Ping, &LobbyParams, &LobbySession>,
    ) -> Result<Pong, Reject> {
        self.0.ping(received).await
    }
    async fn submit_quote(
        &self,
        received: Received<Quote, QuotesParams, HeaderMap>,
    ) -> Result<QuoteAck, Reject> {
        self.0.submit_quote(received).await
    }
}

async fn serve(
    server: &Server,
    app: Arc<App>,
    listener: TcpListener,
) -> tokio::task::JoinHandle<()> {
    let router = server.router(Shared(app));
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    })
}

async fn start(config: Config) -> (Running, Arc<App>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    start_on(config, listener).await
}

/// A listener on a port below Linux's ephemeral range (32768–60999), for a test that closes
/// its port and binds it again: no other test's `127.0.0.1:0` listener or outgoing connection
/// can take the port in between (a client would then reach the wrong server).
async fn fixed_port_listener() -> TcpListener {
    let start = 20_000 + (std::process::id() % 5_000) as u16;
    for port in (start..32_000).chain(20_000..start) {
        if let Ok(l) = TcpListener::bind(("127.0.0.1", port)).await {
            return l;
        }
    }
    panic!("no free port between 20000 and 32000");
}

async fn start_on(config: Config, listener: TcpListener) -> (Running, Arc<App>) {
    let server = Server::new(config);
    let app = Arc::new(App {
        out: server.sender(),
        seq: AtomicU64::new(0),
        lobby: Mutex::new(Vec::new()),
        quotes: AtomicU64::new(0),
    });
    let addr = listener.local_addr().unwrap();
    let task = serve(&server, app.clone(), listener).await;
    (Running { addr, server, task }, app)
}

fn room(id: &str) -> RoomParams {
    RoomParams {
        room_id: id.to_owned(),
    }
}

fn nick(n: &str) -> RoomQuery {
    RoomQuery {
        nick: n.to_owned(),
        history: None,
        extra: Default::default(),
    }
}

fn fast_options() -> ClientOptions {
    let mut o = ClientOptions::default();
    o.ws.backoff = Backoff {
        base: Duration::from_millis(20),
        max: Duration::from_millis(200),
        ..Backoff::default()
    };
    o.request_timeout = Duration::from_secs(5);
    o
}

async fn next_room(c: &mut RoomClient) -> RoomEvent {
    tokio::time::timeout(WAIT, c.next())
        .await
        .expect("an event in time")
        .expect("client open")
}

/// The next relayed post (presence events are skipped).
async fn next_post(c: &mut RoomClient) -> RelayedPayload {
    loop {
        match next_room(c).await {
            RoomEvent::RelayMessage(snapshot_pulse_rooms::channels::RelayMessage::Relayed(r)) => {
                return r.payload;
            }
            RoomEvent::RelayMessage(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn post(text: &str) -> Post {
    Post::new(PostPayload {
        text: text.to_owned(),
        reply_to: None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_relay_posts_to_their_members_only() {
    let (s, _app) = start(Config::default()).await;
    let url = format!("ws://{}", s.addr);
    let mut ann = RoomClient::connect(&url, &room("general"), &nick("ann"), fast_options());
    assert!(matches!(
        ann.wait_connected().await,
        State::Connected { .. }
    ));
    // Ann sees herself join.
    match next_room(&mut ann).await {
        RoomEvent::RelayMessage(snapshot_pulse_rooms::channels::RelayMessage::Presence(p)) => {
            assert_eq!(p.payload.nick, "ann");
            assert_eq!(p.payload.state, PresencePayloadState::Joined);
        }
        other => panic!("expected presence, got {other:?}"),
    }
    let mut bob = RoomClient::connect(&url, &room("general"), &nick("bob"), fast_options());
    bob.wait_connected().await;
    let mut cat = RoomClient::connect(&url, &room("rust-42"), &nick("cat"), fast_options());
    cat.wait_connected().await;
    // Ann is told that Bob joined.
    match next_room(&mut ann).await {
        RoomEvent::RelayMessage(snapshot_pulse_rooms::channels::RelayMessage::Presence(p)) => {
            assert_eq!(p.payload.nick, "bob")
        }
        other => panic!("expected presence, got {other:?}"),
    }
    ann.post_message(post("hello general")).unwrap();
    let at_bob = next_post(&mut bob).await;
    assert_eq!(
        (at_bob.from.as_str(), at_bob.text.as_str()),
        ("ann", "hello general")
    );
    let at_ann = next_post(&mut ann).await;
    assert_eq!(at_ann.seq, at_bob.seq);
    cat.post_message(post("hello rust")).unwrap();
    let at_cat = next_post(&mut cat).await;
    assert_eq!(at_cat.text, "hello rust");
    // Nothing of room rust-42 reached general.
    ann.post_message(post("second")).unwrap();
    assert_eq!(next_post(&mut bob).await.text, "second");
    // Broadcast reaches every room.
    let sent = s
        .server
        .sender()
        .relay_message_broadcast(Presence::new(PresencePayload {
            nick: "system".into(),
            state: PresencePayloadState::Left,
            extra: Default::default(),
        }))
        .await
        .unwrap();
    assert_eq!(sent, 3);
    for c in [&mut ann, &mut bob, &mut cat] {
        loop {
            if let RoomEvent::RelayMessage(snapshot_pulse_rooms::channels::RelayMessage::Presence(
                p,
            )) = next_room(c).await
                && p.payload.nick == "system"
            {
                break;
            }
        }
    }
    s.task.abort();
}

type Raw =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next text frame, parsed.
async fn next_json(ws: &mut Raw) -> serde_json::Value {
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let WsMessage::Text(t) = msg {
            return serde_json::from_str(t.as_str()).unwrap();
        }
    }
}

async fn read_error(ws: &mut Raw) -> String {
    loop {
        if let Some(e) = next_json(ws).await.get("error") {
            return e.as_str().unwrap().to_owned();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_payloads_get_an_error_and_the_connection_stays() {
    let (s, _app) = start(Config::default()).await;
    let url = format!("ws://{}/ws/rooms/general?nick=raw", s.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();

    for (bad, expect) in [
        (r#"{"text": ""}"#, "/text"),
        (r#"{"text": "hi", "extra": 1}"#, "Additional properties"),
        (r#"{"text": "hi", "replyTo": 0}"#, "/replyTo"),
        (r#"{"text": 5}"#, "/text"),
        ("not json at all", "not valid JSON"),
        (r#"{"text": "forbidden"}"#, "does not take that word"),
    ] {
        ws.send(WsMessage::text(bad)).await.unwrap();
        let e = read_error(&mut ws).await;
        assert!(e.contains(expect), "{bad} → {e}");
    }
    // The same connection still works.
    ws.send(WsMessage::text(r#"{"text": "fine"}"#))
        .await
        .unwrap();
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let WsMessage::Text(t) = msg
            && t.as_str().contains("\"fine\"")
        {
            break;
        }
    }
    // The generated client surfaces a refusal as an event.
    let mut c = RoomClient::connect(
        &format!("ws://{}", s.addr),
        &room("general"),
        &nick("eve"),
        fast_options(),
    );
    c.wait_connected().await;
    c.post_message(post("forbidden")).unwrap();
    loop {
        match next_room(&mut c).await {
            RoomEvent::Refused(why) => {
                assert!(why.contains("does not take that word"), "{why}");
                break;
            }
            RoomEvent::RelayMessage(_) => continue,
        }
    }
    s.task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrades_are_checked_against_the_binding() {
    let (s, _app) = start(Config::default()).await;
    let base = format!("ws://{}/ws/rooms/general", s.addr);
    let refused = |url: String, headers: Vec<(&'static str, &'static str)>| async move {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut req = url.into_client_request().unwrap();
        for (k, v) in headers {
            req.headers_mut().insert(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        match tokio_tungstenite::connect_async(req).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
                let body =
                    String::from_utf8_lossy(r.body().as_deref().unwrap_or_default()).into_owned();
                (r.status().as_u16(), body)
            }
            Ok(_) => (101, String::new()),
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(refused(format!("{base}?nick=ok"), vec![]).await.0, 101);
    let (status, body) = refused(base.clone(), vec![]).await;
    assert_eq!(status, 400);
    assert!(body.contains("nick"), "{body}");
    let (status, body) = refused(format!("{base}?nick=bad%20nick"), vec![]).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = refused(format!("{base}?nick=ok&history=500"), vec![]).await;
    assert_eq!(status, 400);
    assert!(body.contains("history"), "{body}");
    assert_eq!(
        refused(format!("{base}?nick=ok&history=5"), vec![]).await.0,
        101
    );
    let (status, body) =
        refused(format!("{base}?nick=ok"), vec![("x-client-version", "one")]).await;
    assert_eq!(status, 400);
    assert!(body.contains("X-Client-Version"), "{body}");
    assert_eq!(
        refused(format!("{base}?nick=ok"), vec![("x-client-version", "2.1")])
            .await
            .0,
        101
    );
    // The generated client does not retry a refused upgrade.
    let c = RoomClient::connect(
        &format!("ws://{}", s.addr),
        &room("general"),
        &nick("not valid!"),
        fast_options(),
    );
    match c.wait_connected().await {
        State::Refused { status, reason } => {
            assert_eq!(status, 400);
            assert!(reason.contains("nick"), "{reason}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    s.task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_reply_works_in_both_directions() {
    let (s, app) = start(Config::default()).await;
    let url = format!("ws://{}", s.addr);
    let mut lobby = LobbyClient::connect(&url, &LobbyParams {}, fast_options());
    lobby.wait_connected().await;
    // Client → server, correlated by requestId (the server's reply leaves it out).
    let id = Uuid::from_u128(7);
    let ping = |id: Option<Uuid>| {
        Ping::new(PingPayload {
            event: PingPayloadEvent::Ping,
            request_id: id,
            extra: Default::default(),
        })
    };
    let pong = lobby.ping(ping(Some(id))).await.unwrap();
    assert_eq!(pong.payload.request_id, Some(id));
    // Concurrent requests each get their own reply.
    let ids: Vec<Uuid> = (100..120).map(Uuid::from_u128).collect();
    let replies =
        futures_util::future::join_all(ids.iter().map(|i| lobby.ping(ping(Some(*i))))).await;
    for (i, r) in ids.iter().zip(replies) {
        assert_eq!(r.unwrap().payload.request_id, Some(*i));
    }
    // Without an id, replies are matched in order.
    let pong = lobby.ping(ping(None)).await.unwrap();
    assert_eq!(pong.payload.request_id, None);
    // Server → client: the client answers through the responder.
    let conn = loop {
        if let Some(c) = app.lobby.lock().unwrap().first().copied() {
            break c;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let me = ask_identity(s.server.sender(), conn, &mut lobby, 99, "wire-test/1")
        .await
        .unwrap();
    assert_eq!(me.payload.agent, "wire-test/1");
    s.task.abort();
}

/// `sender` asks connection `conn` who it is (request id `id`); the lobby client answers
/// `agent`. The reply the sender got.
async fn ask_identity(
    sender: Sender,
    conn: ConnId,
    lobby: &mut LobbyClient,
    id: u128,
    agent: &str,
) -> Result<IAm, snapshot_pulse_rooms::Error> {
    let ask = tokio::spawn(async move {
        sender
            .ask_identity(
                conn,
                WhoAreYou::new(WhoAreYouPayload {
                    event: WhoAreYouPayloadEvent::WhoAreYou,
                    request_id: Uuid::from_u128(id),
                    extra: Default::default(),
                }),
            )
            .await
    });
    match tokio::time::timeout(WAIT, lobby.next())
        .await
        .unwrap()
        .unwrap()
    {
        LobbyEvent::AskIdentity(q, responder) => {
            assert_eq!(q.payload.request_id, Uuid::from_u128(id));
            responder
                .reply(IAm::new(IAmPayload {
                    event: IAmPayloadEvent::IAm,
                    request_id: q.payload.request_id,
                    agent: agent.into(),
                    extra: Default::default(),
                }))
                .unwrap();
        }
        other => panic!("expected a request, got {other:?}"),
    }
    ask.await.unwrap()
}

/// Two replicas on the Redis backplane: the generated `ask_identity` of one replica reaches a
/// connection the other holds, and the client's answer comes back to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_reach_a_connection_another_replica_holds() {
    let reachable = tokio::time::timeout(
        Duration::from_secs(1),
        tokio::net::TcpStream::connect("127.0.0.1:6379"),
    )
    .await
    .is_ok_and(|r| r.is_ok());
    if !reachable {
        return asyncforge_testkit::skip(
            "a Redis server on 127.0.0.1:6379",
            "apt-get install redis-server, or cargo xtask peers",
        );
    }
    let prefix = format!("wire-request-{}", std::process::id());
    let replica = || {
        let backplane = asyncforge_runtime::ws::Backplane::from_url("redis://127.0.0.1:6379")
            .expect("url")
            .prefix(&prefix)
            .expect("prefix");
        start(Config {
            backplane,
            ..Config::default()
        })
    };
    let (a, app_a) = replica().await;
    let (b, _) = replica().await;
    for r in [&a, &b] {
        let state = r.server.sender().backplane_connected().await;
        assert!(
            matches!(state, Some(asyncforge_runtime::ws::State::Connected { .. })),
            "{state:?}"
        );
    }
    let mut lobby =
        LobbyClient::connect(&format!("ws://{}", a.addr), &LobbyParams {}, fast_options());
    lobby.wait_connected().await;
    let conn = loop {
        if let Some(c) = app_a.lobby.lock().unwrap().first().copied() {
            break c;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let me = ask_identity(b.server.sender(), conn, &mut lobby, 42, "on-replica-a/1")
        .await
        .expect("the reply came back through the backplane");
    assert_eq!(me.payload.agent, "on-replica-a/1");
    assert_eq!(me.payload.request_id, Uuid::from_u128(42));
    a.task.abort();
    b.task.abort();
}

/// Correlation ids typed as UUIDs: the generated code keys requests and replies by the
/// decoded UUID (so the case of a peer's hex digits does not matter), and a reply that leaves
/// its id out gets the request's id exactly as the peer wrote it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uuid_correlation_ids_match_whatever_their_case() {
    const UPPER: &str = "6F9619FF-8B86-D011-B42D-00CF4FC964FF";
    // A raw peer's ping with an uppercase id: the generated server's pong carries it back
    // unchanged (the handler leaves the id out; the server fills in the request's).
    let (s, _app) = start(Config::default()).await;
    let (mut raw, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws/lobby", s.addr))
        .await
        .unwrap();
    raw.send(WsMessage::text(format!(
        r#"{{"event":"ping","requestId":"{UPPER}"}}"#
    )))
    .await
    .unwrap();
    let pong = next_json(&mut raw).await;
    assert_eq!(pong["event"], "pong", "{pong}");
    assert_eq!(pong["requestId"], UPPER, "{pong}");
    s.task.abort();

    // A raw server that answers the generated client's pings with the id in uppercase: the
    // client matches each reply to its request by the UUID.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        while let Some(Ok(msg)) = ws.next().await {
            let WsMessage::Text(t) = msg else { continue };
            let ping: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
            let id = ping["requestId"].as_str().unwrap().to_uppercase();
            let pong = serde_json::json!({
                "event": "pong",
                "requestId": id,
                "serverTime": "2026-12-03T12:00:00Z",
            });
            if ws.send(WsMessage::text(pong.to_string())).await.is_err() {
                break;
            }
        }
    });
    let lobby = LobbyClient::connect(&format!("ws://{addr}"), &LobbyParams {}, fast_options());
    lobby.wait_connected().await;
    let ids: Vec<Uuid> = (0xabc0..0xabc8).map(Uuid::from_u128).collect();
    let replies = futures_util::future::join_all(ids.iter().map(|id| {
        lobby.ping(Ping::new(PingPayload {
            event: PingPayloadEvent::Ping,
            request_id: Some(*id),
            extra: Default::default(),
        }))
    }))
    .await;
    for (id, reply) in ids.iter().zip(replies) {
        assert_eq!(reply.unwrap().payload.request_id, Some(*id));
    }
    drop(lobby);
    peer.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_streams_events_and_takes_posts() {
    let (s, _app) = start(Config::default()).await;
    let url = format!("http://{}", s.addr);
    let prices = PricesClient::new(&url);
    let btc = PricesParams {
        symbol: "btcusd".into(),
    };
    let mut stream = prices.subscribe(&btc, SseClientConfig::default());
    stream
        .wait_for(|st| matches!(st, asyncforge_runtime::sse::client::State::Connected { .. }))
        .await;
    let sender = s.server.sender();
    for i in 1..=5 {
        sender
            .stream_prices(
                &btc,
                Tick::new(TickPayload {
                    symbol: "btcusd".into(),
                    price: 100.0 + f64::from(i),
                    at: DateTime::now(),
                    extra: Default::default(),
                }),
            )
            .await
            .unwrap();
    }
    for i in 1..=5 {
        match tokio::time::timeout(WAIT, stream.next())
            .await
            .unwrap()
            .unwrap()
        {
            PricesEvent::StreamPrices(t) => assert_eq!(t.payload.price, 100.0 + f64::from(i)),
            other => panic!("{other:?}"),
        }
    }
    // Receive operations are POSTs; the reply comes back in the response.
    let quotes = QuotesClient::new(&url);
    let eth = QuotesParams {
        symbol: "ethusd".into(),
    };
    let quote = |price: f64, size: f64| {
        Quote::new(QuotePayload {
            side: QuotePayloadSide::Bid,
            price,
            size,
        })
    };
    let ack = quotes.submit_quote(&eth, quote(2500.0, 1.5)).await.unwrap();
    assert!(ack.payload.accepted);
    assert_eq!(ack.payload.id, 1);
    // A quote that breaks the schema does not leave the generated client (outgoing checks are
    // on in debug builds) ...
    let err = quotes
        .submit_quote(&eth, quote(-1.0, 1.0))
        .await
        .expect_err("invalid");
    assert_eq!(
        err.kind(),
        snapshot_pulse_rooms::ErrorKind::Invalid,
        "{err}"
    );
    assert!(err.to_string().contains("/price"), "{err}");
    // ... and a peer that posts it anyway is refused by the server.
    let raw = webhooks::http()
        .post(quotes.url(&eth))
        .header("content-type", "application/json")
        .body(r#"{"side":"bid","price":-1.0,"size":1.0}"#)
        .send()
        .await
        .expect("post");
    assert_eq!(raw.status(), 400);
    let why = raw.text().await.expect("body");
    assert!(why.contains("/price"), "{why}");
    let sol = QuotesParams {
        symbol: "solusd".into(),
    };
    match quotes.submit_quote(&sol, quote(20.0, 500.0)).await {
        Err(ref e)
            if let Some(asyncforge_runtime::sse::post::PostError::Refused { status, reason }) =
                e.downcast_ref() =>
        {
            assert_eq!(*status, 422);
            assert!(reason.contains("size limit"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // A parameter outside the spec's enum is not an address of the API.
    let doge = QuotesParams {
        symbol: "dogeusd".into(),
    };
    match quotes.submit_quote(&doge, quote(1.0, 1.0)).await {
        Err(ref e)
            if let Some(asyncforge_runtime::sse::post::PostError::Refused { status, .. }) =
                e.downcast_ref() =>
        {
            assert_eq!(*status, 404)
        }
        other => panic!("{other:?}"),
    }
    s.task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_come_back_after_a_server_restart() {
    let (s, app) = start_on(Config::default(), fixed_port_listener().await).await;
    let ws_url = format!("ws://{}", s.addr);
    let http_url = format!("http://{}", s.addr);
    let mut ann = RoomClient::connect(&ws_url, &room("r"), &nick("ann"), fast_options());
    tokio::time::timeout(WAIT, ann.wait_connected())
        .await
        .expect("the room client connects");
    let eth = PricesParams {
        symbol: "ethusd".into(),
    };
    let config = SseClientConfig {
        backoff: Backoff {
            base: Duration::from_millis(20),
            max: Duration::from_millis(200),
            ..Backoff::default()
        },
        ..SseClientConfig::default()
    };
    let mut prices = PricesClient::new(&http_url).subscribe(&eth, config);
    tokio::time::timeout(
        WAIT,
        prices
            .wait_for(|st| matches!(st, asyncforge_runtime::sse::client::State::Connected { .. })),
    )
    .await
    .expect("the price stream connects");
    let sender = s.server.sender();
    let tick = |n: u32| {
        Tick::new(TickPayload {
            symbol: "ethusd".into(),
            price: f64::from(n),
            at: DateTime::now(),
            extra: Default::default(),
        })
    };
    for n in 1..=3 {
        sender.stream_prices(&eth, tick(n)).await.unwrap();
    }
    let mut seen = Vec::new();
    while seen.len() < 3 {
        if let PricesEvent::StreamPrices(t) = tokio::time::timeout(WAIT, prices.next())
            .await
            .unwrap()
            .unwrap()
        {
            seen.push(t.payload.price as u32);
        }
    }
    // The HTTP server goes away (the application state stays) and comes back on the same port.
    s.task.abort();
    let _ = s.task.await;
    s.server.shutdown();
    for n in 4..=6 {
        sender.stream_prices(&eth, tick(n)).await.unwrap();
    }
    // The old server's connections are still closing (on other tasks): until the last of
    // them is gone the port may be refused, as it would be to a restarted process.
    let deadline = tokio::time::Instant::now() + WAIT;
    let listener = loop {
        match TcpListener::bind(s.addr).await {
            Ok(l) => break l,
            Err(e) if tokio::time::Instant::now() < deadline => {
                eprintln!("rebinding {}: {e}; retrying", s.addr);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("cannot rebind {}: {e}", s.addr),
        }
    };
    let task = serve(&s.server, app.clone(), listener).await;
    for n in 7..=8 {
        // Published while the client may still be reconnecting: the replay covers it.
        sender.stream_prices(&eth, tick(n)).await.unwrap();
    }
    while seen.len() < 8 {
        match tokio::time::timeout(WAIT, prices.next())
            .await
            .unwrap()
            .unwrap()
        {
            PricesEvent::StreamPrices(t) => seen.push(t.payload.price as u32),
            PricesEvent::Gap { .. } => panic!("a gap inside the replay window"),
        }
    }
    assert_eq!(seen, (1..=8).collect::<Vec<_>>(), "no gap, no duplicate");
    // The WebSocket client reconnected by itself.
    let st = tokio::time::timeout(
        WAIT,
        ann.wait_for(|st| {
            matches!(st, State::Connected { generation } if *generation >= 2)
                || matches!(st, State::Refused { .. })
        }),
    )
    .await
    .unwrap_or_else(|_| panic!("the room client did not reconnect: {:?}", ann.state()));
    assert!(matches!(st, State::Connected { .. }), "{st:?}");
    ann.post_message(post("back")).unwrap();
    assert_eq!(next_post(&mut ann).await.text, "back");
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_oversized_messages_origins_and_slow_consumers() {
    let config = Config {
        ws: WsConfig {
            max_message_size: 4096,
            allowed_origins: Some(vec!["https://rooms.example".into()]),
            send_queue: 8,
            slow_consumer: SlowConsumer::Disconnect,
            ..WsConfig::default()
        },
        ..Config::default()
    };
    let (s, _app) = start(config).await;
    let url = format!("ws://{}/ws/rooms/limits?nick=raw", s.addr);
    let connect = |origin: &'static str| {
        let url = url.clone();
        async move {
            use tokio_tungstenite::tungstenite::client::IntoClientRequest;
            let mut req = url.into_client_request().unwrap();
            req.headers_mut().insert("origin", origin.parse().unwrap());
            tokio_tungstenite::connect_async(req).await
        }
    };
    // A forbidden Origin is refused at the upgrade.
    match connect("https://evil.example").await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 403),
        other => panic!("expected 403, got {:?}", other.map(|_| ())),
    }
    // An oversized message closes the connection with 1009.
    let (mut ws, _) = connect("https://rooms.example").await.unwrap();
    let big = format!(r#"{{"text": "{}"}}"#, "x".repeat(10_000));
    let _ = ws.send(WsMessage::text(big)).await;
    let code = loop {
        match tokio::time::timeout(WAIT, ws.next()).await.unwrap() {
            Some(Ok(WsMessage::Close(Some(f)))) => break u16::from(f.code),
            Some(Ok(WsMessage::Close(None))) => break 1005,
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => break 0,
        }
    };
    assert_eq!(code, 1009);
    // A member that does not read is disconnected (1008) instead of slowing the room down:
    // publishing never blocks, and once its queue is full the member is dropped.
    let (mut slow, _) = connect("https://rooms.example").await.unwrap();

    let payload = "y".repeat(1500);
    let mut disconnected = false;
    for _ in 0..20_000 {
        let sent = s
            .server
            .sender()
            .relay_message(
                &room("limits"),
                Relayed::new(RelayedPayload {
                    seq: 1,
                    from: "flood".into(),
                    text: payload.clone(),
                    at: DateTime::now(),
                    extra: Default::default(),
                }),
            )
            .await
            .unwrap();
        if sent == 0 {
            disconnected = true;
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(disconnected, "the slow member was never dropped");
    let code = loop {
        match tokio::time::timeout(WAIT, slow.next()).await.unwrap() {
            Some(Ok(WsMessage::Close(Some(f)))) => break u16::from(f.code),
            Some(Ok(_)) => continue,
            _ => break 0,
        }
    };
    assert_eq!(code, 1008);
    s.task.abort();
}

/// Browsers give a host about six HTTP/1.1 connections, and each open event stream holds one.
/// Over HTTP/2 (here h2c with prior knowledge; with TLS, ALPN `h2`) the generated server
/// multiplexes many streams and POSTs on one connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_streams_share_one_http2_connection() {
    let (s, _app) = start(Config::default()).await;
    let http = asyncforge_runtime::http::client_builder()
        .unwrap()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let base = format!("http://{}", s.addr);
    let symbols = ["btcusd", "ethusd", "solusd"];
    let mut streams = Vec::new();
    for i in 0..12 {
        let symbol = symbols[i % 3];
        let response = http
            .get(format!("{base}/sse/prices/{symbol}"))
            .header("accept", "text/event-stream")
            .send()
            .await
            .unwrap();
        assert_eq!(response.version(), reqwest::Version::HTTP_2);
        assert_eq!(response.status(), 200);
        streams.push((symbol, response.bytes_stream()));
    }
    let sender = s.server.sender();
    let mut ids = Vec::new();
    for symbol in symbols {
        let params = PricesParams {
            symbol: symbol.into(),
        };
        let tick = Tick::new(TickPayload {
            symbol: symbol.into(),
            price: 1.5,
            at: DateTime::now(),
            extra: Default::default(),
        });
        let id = sender.stream_prices(&params, tick).await.unwrap();
        ids.push(id);
    }
    for (symbol, stream) in &mut streams {
        let id = symbols
            .iter()
            .position(|s| s == symbol)
            .map(|i| ids[i].clone())
            .expect("a symbol of the test");
        let mut text = String::new();
        while !text.contains("\n\n") || !text.contains("event: tick") {
            let chunk = tokio::time::timeout(WAIT, stream.next())
                .await
                .expect("an event within the wait")
                .expect("the stream is open")
                .unwrap();
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
        let data = text
            .lines()
            .find_map(|l| l.strip_prefix("data: "))
            .expect("a data line");
        assert!(data.contains(&format!("\"symbol\":\"{symbol}\"")), "{text}");
        assert!(text.contains(&format!("id: {id}\n")), "{text}");
    }
    // A POST goes over the same connection while the streams stay open.
    let response = http
        .post(format!("{base}/sse/quotes/btcusd"))
        .header("content-type", "application/json")
        .body(r#"{"side":"bid","price":10.5,"size":2}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.text().await.unwrap(),
        r#"{"accepted":true,"id":1}"#
    );
    s.task.abort();
}
